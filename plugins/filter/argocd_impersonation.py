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
from ansible_collections.gitops.bootstrap.plugins.module_utils import _sync_identity as I
from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import IN_CLUSTER_SERVER

MANAGED_LABELS = I.MANAGED_LABELS
SYNC_VERBS = I.SYNC_VERBS
PLATFORM_CLUSTER_ROLE = "cluster-admin"
IMPERSONATION_KEY = I.IMPERSONATION_KEY
ENFORCED_KEY = I.ENFORCED_KEY
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
        return [dict(rule) for rule in I.EVERY_NAMESPACED_RESOURCE]
    by_group: dict[str, list[str]] = {}
    for entry in whitelist:
        group = entry.get("group") or ""
        resource = guess_resource(entry.get("kind") or "*")
        resources = by_group.setdefault(group, [])
        if resource not in resources:
            resources.append(resource)
    return [{"apiGroups": [group], "resources": sorted(resources), "verbs": list(SYNC_VERBS)} for group, resources in sorted(by_group.items())]


account_name = I.account_name
platform_account_name = I.platform_account_name


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
    """The team projects the role gives sync identities (every project but default and the platform project)."""
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


_meta = I.meta


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


def _platform_identity(s: dict) -> list[dict]:
    platform = s.get("platform_project") or {}
    if not platform.get("enabled", True):
        return []
    ns = s.get("namespace") or "argocd"
    name = platform.get("name") or "platform"
    account = platform_account_name(name)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(account, ns)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(f"gitops-bootstrap:argocd-sync:{ns}:{name}"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": PLATFORM_CLUSTER_ROLE},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}]},
    ]


def _team_identities(projects: list, s: dict) -> tuple[list[dict], list[dict]]:
    """The team projects' namespaces, and their ServiceAccounts, Roles and RoleBindings."""
    ns = s.get("namespace") or "argocd"
    server = s.get("in_cluster_server") or IN_CLUSTER_SERVER
    objects: list[dict] = []
    namespaces: list[str] = []
    for project in _team_projects(projects, s):
        if project.get("destination_service_accounts"):
            continue
        name = project["name"]
        for namespace, problem in _team_destinations(project, server):
            if problem is not None:
                raise AnsibleFilterError(f"argocd_sync_identity_objects: project {name}: {problem}")
            if namespace not in namespaces and namespace != ns:
                namespaces.append(namespace)
            objects.extend(I.team_identity(name, namespace, role_rules(project), ns))
    return [I.namespace_object(n) for n in namespaces], objects


def sync_identity_objects(projects: list, s: dict, part: str = "all") -> list:
    """The ServiceAccounts, Roles, RoleBindings (and the namespaces they live in) of the projects' sync identities.

    ``part``: ``all``; ``platform``, the platform project's identity (a bootstrap object in repository mode:
    the root application needs it before its first sync); ``teams``, the team projects' (what the infra
    repository holds in repository mode).
    """
    if part not in ("all", "platform", "teams"):
        raise AnsibleFilterError(f"argocd_sync_identity_objects: part must be all, platform or teams, got {part!r}")
    projects = _plain(projects or [])
    s = _plain(s)
    if not s.get("sync_impersonation"):
        return []
    platform = _platform_identity(s) if part in ("all", "platform") else []
    namespaces, teams = _team_identities(projects, s) if part in ("all", "teams") else ([], [])
    # The namespaces come first: a RoleBinding needs its namespace.
    return namespaces + platform + teams


# The application controller with least privilege: it reads everything (its cache watches every resource
# to compare live and desired state) and writes only as the accounts it impersonates.
CONTROLLER_NAME = I.CONTROLLER_NAME
CONTROLLER_READ_RULES = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
    {"nonResourceURLs": ["*"], "verbs": ["get"]},
]
IMPERSONATE_ROLE = I.IMPERSONATE_ROLE


def _accounts_by_namespace(projects: list, s: dict) -> dict[str, list[str]]:
    """Every account a project names in destination_service_accounts, by namespace (``ns:name``, or the destination's)."""
    ns = s.get("namespace") or "argocd"
    out: dict[str, list[str]] = {}
    for project in projects:
        for entry in project.get("destination_service_accounts") or []:
            account = entry.get("default_service_account") or ""
            if ":" in account:
                namespace, name = account.split(":", 1)
            else:
                namespace, name = entry.get("namespace") or ns, account
            if not name or _GLOB.search(namespace):
                continue
            names = out.setdefault(namespace, [])
            if name not in names:
                names.append(name)
    return {namespace: sorted(names) for namespace, names in sorted(out.items())}


def controller_least_privilege_errors(s: dict) -> list[str]:
    """What keeps the role from reducing the application controller's rights (empty when that is off)."""
    s = _plain(s)
    if not s.get("controller_least_privilege"):
        return []
    errors = []
    if not (s.get("sync_impersonation") and s.get("sync_impersonation_enforced")):
        errors.append("argocd_controller_least_privilege is on without argocd_sync_impersonation and "
                      "argocd_sync_impersonation_enforced: an Application of a project that names no account would sync "
                      "as the application controller, which then may not write; turn both on, or "
                      "argocd_controller_least_privilege off.")
    if s.get("config_source") != "repository" and s.get("self_manage"):
        errors.append("argocd_controller_least_privilege is on in inventory mode with argocd_self_manage: the "
                      "self-management application would put upstream's ClusterRole back from the repository; use "
                      "argocd_config_source: repository (the repository then holds the reduced ClusterRole), or "
                      "argocd_self_manage: false.")
    return errors


def controller_objects(projects: list, s: dict) -> dict:
    """The application controller's reduced rights: ``patches`` (upstream's ClusterRole, read-only) and ``objects``
    (per namespace of the accounts the projects name, a Role allowing ``impersonate`` on those accounts alone and
    its RoleBinding to the controller, in an earlier sync wave); both empty when argocd_controller_least_privilege
    is off. In repository mode the objects of the Argo CD namespace sit beside the patch (one Application applies
    both, in order); those of other namespaces go with the team identities."""
    projects = _plain(projects or [])
    s = _plain(s)
    if not s.get("controller_least_privilege"):
        return {"patches": [], "objects": []}
    ns = s.get("namespace") or "argocd"
    cluster_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": CONTROLLER_NAME, "labels": {"app.kubernetes.io/name": CONTROLLER_NAME,
                                                                     "app.kubernetes.io/part-of": "argocd",
                                                                     "app.kubernetes.io/component": "application-controller"}},
                    "rules": [dict(rule) for rule in CONTROLLER_READ_RULES]}
    objects: list[dict] = []
    for namespace, names in _accounts_by_namespace(projects, s).items():
        objects.extend(I.impersonation(namespace, names, ns))
    return {"patches": [cluster_role], "objects": objects}


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
            "argocd_controller_least_privilege_errors": controller_least_privilege_errors,
            "argocd_controller_objects": controller_objects,
        }
