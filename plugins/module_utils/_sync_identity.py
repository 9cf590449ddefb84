# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identities Argo CD syncs as (sync impersonation), built once.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Pure: the argocd role's filters (the role's projects) and the scaffold of the infra repository (its
``apps`` project) build the same objects from here. Per project and destination namespace: a
ServiceAccount in the Argo CD namespace (where no team Application deploys), a Role in the
destination namespace with the verbs a sync needs (never escalate, bind or impersonate), its
RoleBinding, and the namespace itself, which Argo CD never prunes. For the application controller
with least privilege: per namespace of the accounts, a Role allowing ``impersonate`` on those
accounts alone, bound to the controller, applied in an earlier sync wave than the rest.
"""

from __future__ import annotations

MANAGED_LABELS = {"app.kubernetes.io/managed-by": "gitops.bootstrap", "app.kubernetes.io/part-of": "argocd",
                  "app.kubernetes.io/component": "sync-identity"}
# What Argo CD does to a resource while it syncs and prunes; never escalate, bind or impersonate.
SYNC_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
EVERY_NAMESPACED_RESOURCE = [{"apiGroups": ["*"], "resources": ["*"], "verbs": list(SYNC_VERBS)}]
CONTROLLER_NAME = "argocd-application-controller"
IMPERSONATE_ROLE = "argocd-application-controller-sync-identities"
# Once out of Git, an object that Argo CD does not prune must not keep its Application OutOfSync.
_EXTRANEOUS_IS_SYNCED = {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}
# Applied by Argo CD before the reduced ClusterRole of the same sync: once that lands, every write of the sync
# (the Role's own among them) needs the Role's impersonate right. Turned off, they stay (the self-management
# Application does not prune, and deleting them before upstream's ClusterRole is back would leave the controller
# unable to sync it back); upstream's ClusterRole holds impersonate anyway.
EARLIER_WAVE = {"argocd.argoproj.io/sync-wave": "-1", **_EXTRANEOUS_IS_SYNCED}
# A namespace leaves the identities when its project goes; what runs in it must not go with it.
NEVER_PRUNE = {"argocd.argoproj.io/sync-options": "Prune=false", **_EXTRANEOUS_IS_SYNCED}
_RBAC = "rbac.authorization.k8s.io/v1"
# The argocd-cm keys of sync impersonation: the role writes them, the scaffold reads whether syncs are enforced.
IMPERSONATION_KEY = "application.sync.impersonation.enabled"
ENFORCED_KEY = "application.sync.impersonation.enforced"


def account_name(project: str, namespace: str) -> str:
    return f"argocd-sync-{project}-{namespace}"


def platform_account_name(project: str) -> str:
    return f"argocd-sync-{project}"


def meta(name: str, namespace: "str | None" = None, annotations: "dict | None" = None) -> dict:
    out: dict = {"name": name, "labels": dict(MANAGED_LABELS)}
    if namespace:
        out["namespace"] = namespace
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def namespace_object(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, annotations=NEVER_PRUNE)}


def team_identity(project: str, namespace: str, rules: list, argocd_namespace: str) -> list[dict]:
    """The ServiceAccount, Role and RoleBinding a project's Applications of ``namespace`` sync as."""
    account = account_name(project, namespace)
    role = f"argocd-sync-{project}"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(account, argocd_namespace)},
        {"apiVersion": _RBAC, "kind": "Role", "metadata": meta(role, namespace), "rules": [dict(r) for r in rules]},
        {"apiVersion": _RBAC, "kind": "RoleBinding", "metadata": meta(role, namespace),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": argocd_namespace}]},
    ]


def impersonation(namespace: str, accounts: list[str], controller_namespace: str, role: str = IMPERSONATE_ROLE) -> list[dict]:
    """A Role allowing the application controller to impersonate ``accounts`` of ``namespace`` alone, and its binding."""
    return [
        {"apiVersion": _RBAC, "kind": "Role", "metadata": meta(role, namespace, EARLIER_WAVE),
         "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"], "resourceNames": sorted(accounts)}]},
        {"apiVersion": _RBAC, "kind": "RoleBinding", "metadata": meta(role, namespace, EARLIER_WAVE),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_NAME, "namespace": controller_namespace}]},
    ]


def destination_account(server: str, namespace: str, account: str, argocd_namespace: str) -> dict:
    """One destinationServiceAccounts entry as the AppProject spells it."""
    return {"server": server, "namespace": namespace, "defaultServiceAccount": f"{argocd_namespace}:{account}"}
