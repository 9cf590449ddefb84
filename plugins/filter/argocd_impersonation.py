# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sync impersonation of the argocd role: the identity Argo CD syncs each project's Applications as.

Pure functions, no cluster access. With impersonation on, every team project gets, per destination
namespace, a ServiceAccount in the Argo CD namespace bound (RoleBinding in that destination namespace)
to a Role that holds what the project's namespaced allow list allows; the platform project gets one
ServiceAccount bound cluster-wide (ClusterRoleBinding to cluster-admin), because the root and
self-management Applications apply Argo CD's own ClusterRoles, which only an identity that holds
every permission may create. Each project's ``destination_service_accounts`` names its accounts.
"""

from __future__ import annotations

import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.module_utils import _names
from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import IN_CLUSTER_SERVER

MANAGED_LABELS = {"app.kubernetes.io/managed-by": "gitops.bootstrap", "app.kubernetes.io/part-of": "argocd",
                  "app.kubernetes.io/component": "sync-identity"}
# What Argo CD does to a resource while it syncs and prunes; never escalate, bind or impersonate.
SYNC_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
PLATFORM_CLUSTER_ROLE = "cluster-admin"
IMPERSONATION_KEY = "application.sync.impersonation.enabled"
ENFORCED_KEY = "application.sync.impersonation.enforced"
_GLOB = re.compile(r"[*?\[\]{}!]")
_IN_CLUSTER_NAME = "in-cluster"


def _plain(value):
    return json.loads(json.dumps(value))


def guess_resource(kind: str) -> str:
    """The resource (plural) of a kind, as the Kubernetes REST mapper guesses it; '*' stays '*'."""
    if kind == "*":
        return "*"
    lower = kind.lower()
    irregular = {"endpoints": "endpoints"}
    if lower in irregular:
        return irregular[lower]
    if lower.endswith("s") or lower.endswith("x") or lower.endswith("ch") or lower.endswith("sh"):
        return lower + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def role_rules(project: dict) -> list[dict]:
    """Rules of a team project's namespace Role: its namespaced allow list, or every namespaced resource.

    RBAC grants only, so a deny list (namespace_resource_blacklist) cannot be expressed: Argo CD keeps
    enforcing it; the Role then allows what Argo CD's default allows (every namespaced resource).
    """
    whitelist = project.get("namespace_resource_whitelist")
    if not whitelist:
        return [{"apiGroups": ["*"], "resources": ["*"], "verbs": list(SYNC_VERBS)}]
    by_group: dict[str, list[str]] = {}
    for entry in whitelist:
        group = entry.get("group") or ""
        resource = guess_resource(entry.get("kind") or "*")
        resources = by_group.setdefault(group, [])
        if resource not in resources:
            resources.append(resource)
    return [{"apiGroups": [group], "resources": sorted(resources), "verbs": list(SYNC_VERBS)} for group, resources in sorted(by_group.items())]


def account_name(project: str, namespace: str) -> str:
    return f"argocd-sync-{project}-{namespace}"


def platform_account_name(project: str) -> str:
    return f"argocd-sync-{project}"


def _in_cluster(dest: dict, server: str) -> bool:
    if dest.get("server"):
        return dest["server"] == server
    return dest.get("name") == _IN_CLUSTER_NAME


def _team_destinations(project: dict, server: str):
    """(namespace, problem) per destination of a team project on this cluster: the problem is None when the role can
    create its identity. A destination on another cluster (a spoke) gets no identity: Argo CD syncs there with the
    cluster Secret's credential, whose own rights (argocd_spoke's least-privilege account) are the limit."""
    for dest in project.get("destinations") or []:
        namespace = dest.get("namespace") or ""
        if not _in_cluster(dest, server):
            continue
        if not namespace or _GLOB.search(namespace):
            yield namespace, f"destination namespace {namespace!r} is a pattern; a Role is bound in named namespaces only"
        else:
            yield namespace, None


def _team_projects(projects: list, s: dict) -> list:
    """The team projects the role gives sync identities: none in repository mode, where the infra repository
    would have to hold them (it cannot yet); their Applications sync as the application controller there."""
    if s.get("config_source") == "repository":
        return []
    platform = (s.get("platform_project") or {})
    reserved = {"default"}
    if platform.get("enabled", True):
        reserved.add(platform.get("name") or "platform")
    return [p for p in projects if p.get("name") not in reserved]


def sync_identity_errors(s: dict) -> list[str]:
    """What keeps the role from giving every team project its sync identities (empty when impersonation is off)."""
    s = _plain(s)
    if not s.get("sync_impersonation"):
        return []
    errors = []
    if s.get("flavour") == "namespace":
        errors.append("argocd_sync_impersonation is on with argocd_flavour namespace: that install holds no cluster-wide rights, "
                      "so the sync identities the role would bind (one cluster-wide for the platform project) would give Argo CD "
                      "more than it has; set argocd_sync_impersonation: false, or choose the cluster, ha or core flavour.")
        return errors
    server = s.get("in_cluster_server") or IN_CLUSTER_SERVER
    seen: dict[str, str] = {}
    for project in _team_projects(s.get("projects") or [], s):
        name = project.get("name")
        if project.get("destination_service_accounts"):
            continue
        for namespace, problem in _team_destinations(project, server):
            if problem:
                errors.append(
                    f"argocd_projects: project {name}: {problem}. With argocd_sync_impersonation on, list the project's "
                    "namespaces of this cluster one by one, give the project its own destination_service_accounts "
                    "(accounts that exist where it deploys), or set argocd_sync_impersonation: false.")
                continue
            account = account_name(name, namespace)
            if not _names.is_valid(account, "dns1123_subdomain"):
                errors.append(f"argocd_projects: project {name}: the sync account {account} for namespace {namespace} is longer "
                              "than 253 characters; shorten the project name.")
            other = seen.get(account)
            if other and other != f"{name}/{namespace}":
                errors.append(f"argocd_projects: project {name} namespace {namespace} and {other} would share the sync account "
                              f"{account}; rename one of the projects.")
            seen[account] = f"{name}/{namespace}"
    return errors


def _meta(name: str, namespace: str | None = None) -> dict:
    meta = {"name": name, "labels": dict(MANAGED_LABELS)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def sync_identity_projects(projects: list, s: dict) -> list:
    """The role's projects (argocd_project options), each with the destination_service_accounts Argo CD impersonates."""
    projects = _plain(projects or [])
    s = _plain(s)
    if not s.get("sync_impersonation"):
        return projects
    ns = s.get("namespace") or "argocd"
    server = s.get("in_cluster_server") or IN_CLUSTER_SERVER
    platform = s.get("platform_project") or {}
    platform_name = platform.get("name") or "platform"
    teams = {p.get("name") for p in _team_projects(projects, s)}
    for project in projects:
        name = project.get("name")
        if project.get("destination_service_accounts"):
            continue
        if name == platform_name and platform.get("enabled", True):
            project["destination_service_accounts"] = [
                {"server": dest.get("server") or server, "namespace": dest.get("namespace") or "*",
                 "default_service_account": f"{ns}:{platform_account_name(name)}"}
                for dest in project.get("destinations") or [] if _in_cluster(dest, server)]
        elif name in teams:
            project["destination_service_accounts"] = [
                {"server": server, "namespace": namespace, "default_service_account": f"{ns}:{account_name(name, namespace)}"}
                for namespace, problem in _team_destinations(project, server) if problem is None]
    return projects


def sync_identity_objects(projects: list, s: dict) -> list:
    """The ServiceAccounts, Roles, RoleBindings (and the namespaces they live in) of the projects' sync identities."""
    projects = _plain(projects or [])
    s = _plain(s)
    if not s.get("sync_impersonation"):
        return []
    ns = s.get("namespace") or "argocd"
    server = s.get("in_cluster_server") or IN_CLUSTER_SERVER
    platform = s.get("platform_project") or {}
    objects: list[dict] = []
    if platform.get("enabled", True):
        name = platform.get("name") or "platform"
        account = platform_account_name(name)
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(account, ns)})
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": _meta(f"gitops-bootstrap:argocd-sync:{ns}:{name}"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": PLATFORM_CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
        })
    namespaces: list[str] = []
    for project in _team_projects(projects, s):
        if project.get("destination_service_accounts"):
            continue
        name = project["name"]
        for namespace, problem in _team_destinations(project, server):
            if problem is not None:
                raise AnsibleFilterError(f"argocd_sync_identity_objects: project {name}: {problem}")
            account = account_name(name, namespace)
            if namespace not in namespaces and namespace != ns:
                namespaces.append(namespace)
            role = f"argocd-sync-{name}"
            objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(account, ns)})
            objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(role, namespace),
                            "rules": role_rules(project)})
            objects.append({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(role, namespace),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
            })
    # The namespaces come first: a RoleBinding needs its namespace.
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(n)} for n in namespaces] + objects


def sync_impersonation_keys(s: dict) -> dict:
    """The argocd-cm keys that switch sync impersonation on; none when it is off (Argo CD's default is off)."""
    s = _plain(s)
    if not s.get("sync_impersonation"):
        return {}
    return {IMPERSONATION_KEY: "true", ENFORCED_KEY: "true" if s.get("sync_impersonation_enforced") else "false"}


class FilterModule(object):
    """Sync impersonation filters of the argocd role."""

    def filters(self):
        return {
            "argocd_sync_identity_errors": sync_identity_errors,
            "argocd_sync_identity_projects": sync_identity_projects,
            "argocd_sync_identity_objects": sync_identity_objects,
            "argocd_sync_impersonation_keys": sync_impersonation_keys,
        }
