# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes RBAC evaluation for gitops.bootstrap.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

It works on plain dictionaries (the objects as the API server returns them) and needs no
client, so everything here can be tested offline. It evaluates the RBAC authorizer's rules:

* which bindings apply to a user (name and groups) in a namespace, with the API server's
  subject matching (a ServiceAccount subject without a namespace in a RoleBinding means the
  binding's namespace; in a ClusterRoleBinding it matches nobody);
* whether a rule allows a request (verb, API group, resource or ``*/subresource``,
  resource name, non-resource URL with a trailing ``*``);
* ClusterRole aggregation, resolved from the label selectors the way the aggregation
  controller does it, transitively;
* per subject (User, Group, ServiceAccount): the effective rules cluster-wide and per
  namespace, risk findings, and whether a binding grants write access;
* the lock-down plan: which bindings lose which subjects, the backup of their originals and
  the prediction of who keeps which access afterwards.

Only RBAC is evaluated. What this cannot see is listed in ``LIMITATIONS`` and returned with
every audit.
"""

from __future__ import annotations


import copy
import gzip
import hashlib
import json
import re

from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
DEFAULTS_LABEL = "kubernetes.io/bootstrapping"
DEFAULTS_LABEL_VALUE = "rbac-defaults"
SA_PREFIX = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"
# Groups and users that stand for people in general: whatever they may write, every person may write.
EVERYONE = frozenset(["system:authenticated", "system:unauthenticated", "system:anonymous"])
DEFAULT_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")

LIMITATIONS = [
    "Members of the group system:masters are allowed every request by the API server ahead of RBAC and any other "
    "authorizer; RBAC bindings cannot "
    "grant or revoke that, and who holds such credentials (client certificates) is not visible through the API. "
    "Grants to system:masters are not counted as findings.",
    "Only the RBAC authorizer is evaluated. Other authorizers configured on the API server (Node, Webhook, ABAC, "
    "AlwaysAllow) can allow more than is reported here; the Node authorizer, for one, lets kubelets "
    "(group system:nodes) read the objects of the pods on their node.",
    "Group membership is decided by the authenticator (client certificates, OIDC tokens, webhooks); the audit reports "
    "what is granted to each group name, not who is in the group.",
    "Everyone who is authenticated is in the group system:authenticated and every ServiceAccount is in "
    "system:serviceaccounts and system:serviceaccounts:<namespace>; a subject's effective rules include what those "
    "groups are granted (listed in inherited_groups and implicit_group_grants); its findings list only what is bound "
    "to the subject itself.",
    "Admission (validating webhooks and policies, Pod Security) can still refuse a request that RBAC allows.",
    "Whoever can start pods in a namespace (create pods, or write a Deployment, Job, ... whose pod template it sets) is "
    "counted as holding what every ServiceAccount of that namespace holds, since a pod may run as any of them. The "
    "ServiceAccounts are those named by bindings, taken to exist (one that does not yet is granted to whoever creates "
    "it), and default in every namespace; admission can still restrict which pods are accepted.",
]

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate", "approve", "sign")
NON_RESOURCE_WRITE_VERBS = ("post", "put", "patch", "delete")
READ_VERBS = ("get", "list", "watch")

# Objects that are never stored: creating them asks a question, it changes nothing.
REVIEW_RESOURCES = frozenset(
    [
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    ]
)

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = dict((s, i) for i, s in enumerate(SEVERITIES))

# Risk checks. Each probe is (api_groups, resources, verbs): a rule carries the risk when it grants
# any of the verbs on any of the resources in any of the groups. A resource ending in "/*" stands for
# every subresource or extra of that name. `cluster_only` lists resources that only a ClusterRoleBinding
# can grant (the requests carry no namespace), so they are ignored inside a RoleBinding. `argocd_only`
# risks exist where Argo CD runs: cluster-wide, or in a RoleBinding of one of Argo CD's namespaces.
# `websocket_get_probes` are added when the audited API server lets `get` open a WebSocket exec (see
# ServerInfo).
_WORKLOADS = [
    ("", ["pods", "replicationcontrollers"]),
    ("apps", ["deployments", "replicasets", "statefulsets", "daemonsets"]),
    ("batch", ["jobs", "cronjobs"]),
]
_MUTATE = ["create", "update", "patch", "delete", "deletecollection"]
# The cluster-scoped objects that configure admission (webhooks and admission policies).
_ADMISSION_CONFIGURATION = [
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "mutatingadmissionpolicies",
    "mutatingadmissionpolicybindings",
]
ARGOCD_GROUP = "argoproj.io"
DEFAULT_ARGOCD_NAMESPACES = ("argocd",)
# Grants that let a subject start pods with a pod spec of its choosing, and so with any ServiceAccount
# of the namespace: create pods, or write a controller object whose pod template it sets.
_RUNS_PODS_PROBES = [
    ([""], ["pods"], ["create"]),
    ([""], ["replicationcontrollers"], ["create", "update", "patch"]),
    (["apps"], ["deployments", "replicasets", "statefulsets", "daemonsets"], ["create", "update", "patch"]),
    (["batch"], ["jobs", "cronjobs"], ["create", "update", "patch"]),
]
# Findings whose severity is raised to that of the ServiceAccounts the subject can run pods as.
RUNS_PODS_RISKS = ("pod_create", "workload_write")

RISKS = [
    {
        "id": "cluster_admin",
        "severity": "critical",
        "title": "cluster-admin equivalent: every verb on every resource of every API group",
        "namespace_title": "full control of the namespace: every verb on every resource of every API group",
        "probes": [],
    },
    {
        "id": "escalate",
        "severity": "critical",
        "title": "escalate on roles: can grant itself any permission by editing a role",
        "probes": [([RBAC_GROUP], ["roles", "clusterroles"], ["escalate"])],
    },
    {
        "id": "bind",
        "severity": "critical",
        "title": "bind on roles: can bind roles with permissions it does not hold",
        "probes": [([RBAC_GROUP], ["roles", "clusterroles"], ["bind"])],
    },
    {
        "id": "impersonate",
        "severity": "critical",
        "title": "impersonate: can act as other users, groups or service accounts",
        "probes": [
            ([""], ["users", "groups", "serviceaccounts"], ["impersonate"]),
            (["authentication.k8s.io"], ["userextras/*", "uids"], ["impersonate"]),
        ],
    },
    {
        "id": "nodes_proxy",
        "severity": "critical",
        "title": "nodes/proxy: runs commands in any pod through the kubelet, bypassing audit and admission",
        "probes": [([""], ["nodes/proxy"], ["get", "create", "update", "patch", "delete"])],
        "cluster_only": ["nodes/proxy"],
    },
    {
        "id": "admission_webhooks",
        "severity": "critical",
        "title": "edits admission webhook or policy configuration: can intercept or disable admission",
        "probes": [
            (
                ["admissionregistration.k8s.io"],
                _ADMISSION_CONFIGURATION,
                _MUTATE,
            )
        ],
        "cluster_only": _ADMISSION_CONFIGURATION,
    },
    {
        "id": "argocd_write",
        "severity": "critical",
        "title": "writes Argo CD Applications, AppProjects or ApplicationSets: Argo CD's controller deploys what an Application "
        "names with its own cluster-wide permissions, an AppProject decides which repositories, clusters, namespaces and kinds "
        "Applications may use, an ApplicationSet generates Applications; cluster-admin through Argo CD (and deleting an "
        "Application can cascade to everything it manages)",
        "probes": [([ARGOCD_GROUP], ["applications", "appprojects", "applicationsets"], _MUTATE)],
        "argocd_only": True,
    },
    {
        "id": "argocd_secrets",
        "severity": "critical",
        "title": "reads or writes Secrets in Argo CD's namespace: the cluster and repository credentials Argo CD uses (label "
        "argocd.argoproj.io/secret-type) and argocd-secret. A cluster Secret's config can run a command in Argo CD's pods "
        "(execProviderConfig) and names the credentials Argo CD deploys with, a repository Secret can redirect what it fetches, "
        "argocd-secret holds the admin password and the key that signs Argo CD sessions; RBAC cannot restrict Secrets by "
        "label, so any Secret grant there covers them: cluster-admin through Argo CD",
        "probes": [([""], ["secrets"], ["create", "update", "patch", "get", "list", "watch"])],
        "argocd_only": True,
    },
    {
        "id": "token_create",
        "severity": "high",
        "title": "creates service account tokens (serviceaccounts/token): can act as those service accounts",
        "probes": [([""], ["serviceaccounts/token"], ["create"])],
    },
    {
        "id": "csr_approval",
        "severity": "high",
        "title": "approves certificate signing requests: can issue client certificates",
        "probes": [
            (["certificates.k8s.io"], ["certificatesigningrequests/approval"], ["update", "patch"]),
            (["certificates.k8s.io"], ["signers"], ["approve"]),
        ],
        "cluster_only": ["certificatesigningrequests/approval", "signers"],
    },
    {
        "id": "rbac_write",
        "severity": "high",
        "title": "writes roles or bindings",
        "probes": [([RBAC_GROUP], ["roles", "rolebindings", "clusterroles", "clusterrolebindings"], _MUTATE)],
    },
    {
        "id": "pod_exec",
        "severity": "high",
        "title": "exec, attach or ephemeral containers in pods: runs commands in running workloads",
        "probes": [
            ([""], ["pods/exec", "pods/attach"], ["create"]),
            ([""], ["pods/ephemeralcontainers"], ["update", "patch"]),
        ],
        # A WebSocket exec or attach starts as an HTTP GET, authorized as `get`. API servers from 1.35 on
        # (feature gate AuthorizePodWebsocketUpgradeCreatePermission, on by default) also require `create`;
        # older ones, or one with the gate off, let `get` alone run commands. See ServerInfo.
        "websocket_get_probes": [([""], ["pods/exec", "pods/attach"], ["get"])],
    },
    {
        "id": "pod_create",
        "severity": "high",
        "title": "creates pods: runs as any service account of the namespace and mounts its secrets",
        "probes": [([""], ["pods"], ["create"])],
    },
    {
        "id": "secrets_read",
        "severity": "high",
        "title": "reads Secrets (get, list or watch)",
        "probes": [([""], ["secrets"], list(READ_VERBS))],
    },
    {
        "id": "workload_write",
        "severity": "high",
        "title": "writes workloads (pods, deployments, statefulsets, daemonsets, jobs, ...)",
        "probes": [([g], r, _MUTATE) for g, r in _WORKLOADS],
    },
    {
        "id": "namespace_write",
        "severity": "high",
        "title": "updates or patches namespaces: the Pod Security admission level of a namespace is a label "
        "(pod-security.kubernetes.io/enforce), so it can lift the level and run privileged pods there",
        "namespace_title": "updates or patches its namespace: the Pod Security admission level is a label "
        "(pod-security.kubernetes.io/enforce), so it can lift the namespace's level and run privileged pods there",
        "probes": [([""], ["namespaces"], ["update", "patch"])],
    },
    {
        "id": "node_write",
        "severity": "high",
        "title": "writes Node objects or their status (nodes, nodes/status): labels and taints decide which pods run on a node, "
        "the status addresses are where the API server connects for exec, logs and port-forward, its conditions trigger "
        "evictions, and deleting a node deletes its pods",
        "probes": [([""], ["nodes", "nodes/status"], ["update", "patch"]), ([""], ["nodes"], ["delete"])],
        "cluster_only": ["nodes", "nodes/status"],
    },
    {
        "id": "status_write",
        "severity": "high",
        "title": "writes pod or Service status (pods/status, services/status): Service endpoints follow the pod IPs and "
        "readiness in pod status, and kube-proxy on every node captures in-cluster traffic to the load-balancer IPs in a "
        "Service's status (CVE-2020-8554): traffic goes to an address of its choosing",
        "probes": [([""], ["pods/status", "services/status"], ["update", "patch"])],
    },
    {
        "id": "persistent_volume_create",
        "severity": "medium",
        "title": "creates persistent volumes (hostPath access to nodes)",
        "probes": [([""], ["persistentvolumes"], ["create"])],
        "cluster_only": ["persistentvolumes"],
    },
    {
        "id": "wildcard",
        "severity": "medium",
        "title": "wildcard (*) in verbs, API groups, resources or non-resource URLs: also covers types added later",
        "probes": [],
    },
]
RISK_BY_ID = dict((r["id"], r) for r in RISKS)
# Findings that, bound to a person, amount to changing the cluster (besides plain write verbs).
WRITE_EQUIVALENT_RISKS = frozenset(["nodes_proxy", "pod_exec"])


class RbacInputError(GitopsInputError):
    """Input that cannot be evaluated; the message says what is wrong."""


# ------------------------------------------------------------------------------------------ rules
def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v is not None]
    return [value]


def normalize_rule(rule):
    """Return a PolicyRule as a dict with the API's camelCase keys and lists everywhere."""
    rule = rule or {}

    def pick(camel, snake):
        if camel in rule:
            return _as_list(rule.get(camel))
        return _as_list(rule.get(snake))

    return {
        "verbs": pick("verbs", "verbs"),
        "apiGroups": pick("apiGroups", "api_groups"),
        "resources": pick("resources", "resources"),
        "resourceNames": pick("resourceNames", "resource_names"),
        "nonResourceURLs": pick("nonResourceURLs", "non_resource_ur_ls"),
    }


def compact_rule(rule):
    """A rule without its empty fields, as kubectl shows it."""
    return dict((k, v) for k, v in rule.items() if v)


def rule_key(rule):
    return (
        tuple(rule["verbs"]),
        tuple(rule["apiGroups"]),
        tuple(rule["resources"]),
        tuple(rule["resourceNames"]),
        tuple(rule["nonResourceURLs"]),
    )


def verb_matches(rule, verb):
    verbs = rule["verbs"]
    return "*" in verbs or verb in verbs


def api_group_matches(rule, group):
    groups = rule["apiGroups"]
    return "*" in groups or group in groups


def resource_matches(rule, combined, subresource):
    for res in rule["resources"]:
        if res == "*" or res == combined:
            return True
        if subresource and len(res) == len(subresource) + 2 and res.startswith("*/") and res.endswith(subresource):
            return True
    return False


def resource_name_matches(rule, name):
    names = rule["resourceNames"]
    if not names:
        return True
    return name in names


def non_resource_url_matches(rule, path):
    for url in rule["nonResourceURLs"]:
        if url == "*" or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(rule, request):
    """The RBAC authorizer's test of one rule against one request (see ``Request``)."""
    if request.non_resource_url is not None:
        return verb_matches(rule, request.verb) and non_resource_url_matches(rule, request.non_resource_url)
    combined = request.resource
    if request.subresource:
        combined = "%s/%s" % (request.resource, request.subresource)
    return (
        verb_matches(rule, request.verb)
        and api_group_matches(rule, request.api_group)
        and resource_matches(rule, combined, request.subresource)
        and resource_name_matches(rule, request.name)
    )


def _probe_resource_matches(rule_resource, probe_resource):
    if rule_resource == "*" or rule_resource == probe_resource:
        return True
    if probe_resource.endswith("/*"):
        return rule_resource.startswith(probe_resource[:-1])
    if "/" in probe_resource and rule_resource.startswith("*/"):
        return probe_resource.split("/", 1)[1] == rule_resource[2:]
    return False


def rule_grants_any(rule, groups, resources, verbs):
    """True when the rule grants at least one of verbs on one of resources in one of groups."""
    if not ("*" in rule["verbs"] or any(v in rule["verbs"] for v in verbs)):
        return False
    if not ("*" in rule["apiGroups"] or any(g in rule["apiGroups"] for g in groups)):
        return False
    for res in rule["resources"]:
        for probe in resources:
            if _probe_resource_matches(res, probe):
                return True
    return False


def rule_is_wildcard(rule):
    return any("*" in rule[k] for k in ("verbs", "apiGroups", "resources", "nonResourceURLs"))


def rule_is_full_control(rule):
    return "*" in rule["verbs"] and "*" in rule["apiGroups"] and "*" in rule["resources"] and not rule["resourceNames"]


def rule_grants_write(rule):
    """True when the rule grants a verb that changes state (review objects excepted)."""
    if rule["nonResourceURLs"]:
        if "*" in rule["verbs"] or any(v in rule["verbs"] for v in NON_RESOURCE_WRITE_VERBS):
            return True
    if not rule["resources"]:
        return False
    if not ("*" in rule["verbs"] or any(v in rule["verbs"] for v in WRITE_VERBS)):
        return False
    if "*" in rule["apiGroups"] or "*" in rule["resources"]:
        return True
    for group in rule["apiGroups"]:
        for res in rule["resources"]:
            if (group, res.split("/", 1)[0]) not in REVIEW_RESOURCES:
                return True
    return False


SCOPES = ("cluster", "namespace", "argocd_namespace")


def risk_probes(risk: dict | str, server: "ServerInfo | None" = None) -> list:
    """The probes of a risk on the audited API server (``server``: a ServerInfo, None when unknown)."""
    if isinstance(risk, str):
        risk = RISK_BY_ID[risk]
    probes = list(risk["probes"])
    if risk.get("websocket_get_probes") and not (server or ServerInfo()).connect_needs_create:
        probes += risk["websocket_get_probes"]
    return probes


def risk_applies(risk: dict | str, argocd: bool) -> bool:
    """Whether a risk can exist where the grant applies; ``argocd``: Argo CD runs there (see ``classify_rules``)."""
    if isinstance(risk, str):
        risk = RISK_BY_ID[risk]
    return argocd or not risk.get("argocd_only")


_COMPILED_PROBES = {}


def _compiled_probes(namespaced: bool, server, argocd: bool, only_argocd: bool = False) -> list:
    """[(risk id, probes)] for a kind of scope, with the cluster-only resources already left out (cached)."""
    key = (namespaced, (server or ServerInfo()).connect_needs_create, argocd, only_argocd)
    if key not in _COMPILED_PROBES:
        out = []
        for risk in RISKS:
            if not risk_applies(risk, argocd) or (only_argocd and not risk.get("argocd_only")):
                continue
            probes = []
            for groups, resources, verbs in risk_probes(risk, server):
                if namespaced and risk.get("cluster_only"):
                    resources = [r for r in resources if r not in risk["cluster_only"]]
                if resources:
                    probes.append((groups, resources, verbs))
            if probes:
                out.append((risk["id"], probes))
        _COMPILED_PROBES[key] = out
    return _COMPILED_PROBES[key]


def _match_probes(rules, compiled, found=None) -> dict:
    found = {} if found is None else found
    for index, rule in enumerate(rules):
        for rid, probes in compiled:
            if any(rule_grants_any(rule, groups, resources, verbs) for groups, resources, verbs in probes):
                found.setdefault(rid, []).append(index)
    return found


def _without_implied(found: dict) -> dict:
    if "cluster_admin" in found:
        # Full control implies every other finding; listing them all would only bury it.
        return dict((k, v) for k, v in found.items() if k in ("cluster_admin", "wildcard"))
    return found


def classify_rules(rules, scope, server=None, argocd=None):
    """Risk ids carried by a list of normalized rules, with the indexes of the rules that carry them.

    ``scope`` is ``cluster`` (granted by a ClusterRoleBinding), ``namespace`` (granted by a
    RoleBinding, where cluster-scoped resources do not apply) or ``argocd_namespace`` (a
    RoleBinding in a namespace where Argo CD runs). ``argocd`` says whether Argo CD runs where
    the grant applies: by default only in ``argocd_namespace``; pass True for a cluster-wide grant
    in a cluster that runs Argo CD. ``server`` (a ServerInfo) says what the audited API server
    enforces beyond RBAC; None means unknown, which counts every way in.
    """
    if scope not in SCOPES:
        raise RbacInputError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    if argocd is None:
        argocd = scope == "argocd_namespace"
    found = {}
    for index, rule in enumerate(rules):
        if rule_is_full_control(rule):
            found.setdefault("cluster_admin", []).append(index)
        if rule_is_wildcard(rule):
            found.setdefault("wildcard", []).append(index)
    return _without_implied(_match_probes(rules, _compiled_probes(scope != "cluster", server, argocd), found))


def classify_role_scopes(rules, server=None, argocd_cluster=False) -> dict:
    """``classify_rules`` for the three scopes at once, the Argo CD namespace variant derived from the namespace one."""
    base = {}
    for index, rule in enumerate(rules):
        if rule_is_full_control(rule):
            base.setdefault("cluster_admin", []).append(index)
        if rule_is_wildcard(rule):
            base.setdefault("wildcard", []).append(index)
    cluster = _match_probes(rules, _compiled_probes(False, server, argocd_cluster), dict((k, list(v)) for k, v in base.items()))
    namespace = _match_probes(rules, _compiled_probes(True, server, False), dict((k, list(v)) for k, v in base.items()))
    in_argocd = _match_probes(rules, _compiled_probes(True, server, True, only_argocd=True), dict((k, list(v)) for k, v in namespace.items()))
    return {"cluster": _without_implied(cluster), "namespace": _without_implied(namespace), "argocd_namespace": _without_implied(in_argocd)}


def rules_run_pods(rules) -> bool:
    """Whether the rules let a subject start pods whose spec it writes (and so choose their ServiceAccount)."""
    return any(rule_is_full_control(r) or any(rule_grants_any(r, g, res, v) for g, res, v in _RUNS_PODS_PROBES) for r in rules)


def rules_depend_on_websocket_gate(rules) -> bool:
    """Whether some rule grants exec or attach through ``get`` without ``create``: only then does the answer of
    ServerInfo.connect_needs_create change the classification."""
    for rule in rules:
        for groups, resources, verbs in RISK_BY_ID["pod_exec"]["websocket_get_probes"]:
            if rule_grants_any(rule, groups, resources, verbs) and not rule_grants_any(rule, groups, resources, ["create"]):
                return True
    return False


# ----------------------------------------------------------------------------------- server
WEBSOCKET_CREATE_GATE = "AuthorizePodWebsocketUpgradeCreatePermission"
WEBSOCKET_CREATE_SINCE = (1, 35)
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_server_version(version) -> tuple[int, int] | None:
    """(major, minor) of the API server's /version answer (a dict) or of a gitVersion string; None if unreadable."""
    if isinstance(version, dict):
        match = _VERSION_RE.match(str(version.get("gitVersion") or ""))
        if match:
            return int(match.group(1)), int(match.group(2))
        major = re.match(r"^(\d+)", str(version.get("major") or ""))
        minor = re.match(r"^(\d+)", str(version.get("minor") or ""))
        if major and minor:
            return int(major.group(1)), int(minor.group(1))
        return None
    if isinstance(version, str):
        match = _VERSION_RE.match(version.strip())
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def parse_feature_gates(metrics_text: str) -> dict[str, bool]:
    """Feature gates from the API server's /metrics text (``kubernetes_feature_enabled{name="...",...} 1``)."""
    gates = {}
    for line in (metrics_text or "").splitlines():
        if not line.startswith("kubernetes_feature_enabled{"):
            continue
        labels, _sep, value = line.rpartition("}")
        match = re.search(r'(?:^|[{,])name="([^"]+)"', labels)
        if not match:
            continue
        try:
            gates[match.group(1)] = float(value.split()[0]) == 1.0
        except (ValueError, IndexError):
            continue
    return gates


class ServerInfo:
    """What the audited API server enforces beyond RBAC's rules, as far as the classification depends on it.

    ``version``: the /version answer (dict) or a gitVersion string, None when unknown.
    ``feature_gates``: gate name to state, as read from the server's /metrics (may be empty).
    ``version_error`` / ``gates_error``: why they could not be read, said in the limitations.

    Exec and attach over a WebSocket start with an HTTP GET, which RBAC sees as ``get``. From
    Kubernetes 1.35 the API server also asks for ``create`` on that upgrade (feature gate
    AuthorizePodWebsocketUpgradeCreatePermission, beta and on by default), so ``get`` alone no
    longer runs commands; before, it did. When neither the gate nor the version is known, the
    classification counts ``get`` (it errs towards reporting).
    """

    def __init__(self, version=None, feature_gates=None, version_error: str | None = None, gates_error: str | None = None):
        self.raw_version = version
        self.version = parse_server_version(version) if version is not None else None
        if isinstance(version, dict):
            self.git_version = version.get("gitVersion") or None
        else:
            self.git_version = version or None
        self.feature_gates = dict(feature_gates or {})
        self.version_error = version_error
        self.gates_error = gates_error

    @property
    def connect_needs_create(self) -> bool | None:
        """True when exec and attach need ``create`` whatever the protocol, False when ``get`` is enough, None if unknown."""
        gate = self.feature_gates.get(WEBSOCKET_CREATE_GATE)
        if gate is not None:
            return gate
        if self.version is None:
            return None
        return self.version >= WEBSOCKET_CREATE_SINCE

    @property
    def basis(self) -> str:
        if WEBSOCKET_CREATE_GATE in self.feature_gates:
            return "feature_gate"
        if self.version is not None:
            return "version"
        return "unknown"

    def describe(self) -> dict:
        return {
            "version": self.git_version,
            "exec_needs_create": self.connect_needs_create,
            "exec_needs_create_from": self.basis,
            "feature_gates": dict((k, v) for k, v in self.feature_gates.items() if k == WEBSOCKET_CREATE_GATE),
        }

    def limitations(self) -> list[str]:
        gate = WEBSOCKET_CREATE_GATE
        server = self.git_version or "version unknown"
        if self.basis == "feature_gate":
            if self.connect_needs_create:
                return [
                    f"The API server ({server}) runs with the feature gate {gate} on (read from its /metrics): exec and "
                    "attach need create on pods/exec and pods/attach, get alone is not counted as exec."
                ]
            return [
                f"The API server ({server}) runs with the feature gate {gate} off (read from its /metrics): get on "
                "pods/exec or pods/attach opens a WebSocket exec and is counted as exec."
            ]
        if self.basis == "version":
            if self.connect_needs_create:
                why = f" ({self.gates_error})" if self.gates_error else ""
                return [
                    f"The API server is {self.git_version}: from 1.35 exec and attach need create on pods/exec and "
                    f"pods/attach (feature gate {gate}, on by default), so get alone is not counted as exec. The gate's "
                    f"state could not be read from /metrics{why}; an API server started with it off lets get open a "
                    "WebSocket exec."
                ]
            return [
                f"The API server is {self.git_version}, older than 1.35: get on pods/exec or pods/attach opens a "
                "WebSocket exec and is counted as exec (from 1.35 the server also asks for create)."
            ]
        why = f" ({self.version_error})" if self.version_error else ""
        return [
            f"The API server's version is unknown{why}: get on pods/exec or pods/attach is counted as exec, as it is on "
            f"servers before 1.35 or with the feature gate {gate} off."
        ]


# ---------------------------------------------------------------------------------- requests
class Request(object):
    """The attributes of one request, as a SubjectAccessReview carries them."""

    __slots__ = ("verb", "api_group", "resource", "subresource", "name", "namespace", "non_resource_url")

    def __init__(self, verb, resource=None, api_group="", subresource="", name="", namespace="", non_resource_url=None):
        if not verb:
            raise RbacInputError("an access check needs a verb (get, list, create, ...)")
        if non_resource_url is None and not resource:
            raise RbacInputError("an access check needs either a resource (deployments, pods, ...) or a non_resource_url (/healthz, ...)")
        if non_resource_url is not None and resource:
            raise RbacInputError("an access check takes a resource or a non_resource_url, not both")
        self.verb = verb
        self.api_group = api_group or ""
        self.resource = resource or ""
        self.subresource = subresource or ""
        self.name = name or ""
        self.namespace = namespace or ""
        self.non_resource_url = non_resource_url
        if non_resource_url is not None:
            self.namespace = ""

    @classmethod
    def from_check(cls, check):
        return cls(
            verb=check.get("verb"),
            resource=check.get("resource"),
            api_group=check.get("api_group") or "",
            subresource=check.get("subresource") or "",
            name=check.get("name") or "",
            namespace=check.get("namespace") or "",
            non_resource_url=check.get("non_resource_url"),
        )

    def describe(self):
        if self.non_resource_url is not None:
            return "%s %s" % (self.verb, self.non_resource_url)
        res = self.resource
        if self.subresource:
            res += "/" + self.subresource
        if self.api_group:
            res += "." + self.api_group
        if self.name:
            res += "/" + self.name
        where = (" in namespace %s" % self.namespace) if self.namespace else " cluster-wide"
        return "%s %s%s" % (self.verb, res, where)

    def resource_attributes(self):
        if self.non_resource_url is not None:
            return None
        attrs = {"verb": self.verb, "group": self.api_group, "resource": self.resource}
        for key, value in (("subresource", self.subresource), ("name", self.name), ("namespace", self.namespace)):
            if value:
                attrs[key] = value
        return attrs


class Identity(object):
    """A user as the authorizer sees it: a name (may be empty) and groups."""

    __slots__ = ("user", "groups")

    def __init__(self, user=None, groups=None):
        self.user = user or ""
        self.groups = list(groups or [])

    @classmethod
    def from_check(cls, check):
        """Identity of an access check: ``user``, ``groups`` or ``service_account`` (``namespace/name``).

        With ``authenticated`` (default true) the groups the authenticator adds to every
        authenticated identity are added, as impersonation does.
        """
        user = check.get("user") or ""
        groups = list(check.get("groups") or [])
        sa = check.get("service_account")
        if sa:
            if user:
                raise RbacInputError("an access check names either a user or a service_account, not both")
            ns, sep, name = sa.partition("/")
            if not sep or not ns or not name:
                raise RbacInputError("service_account '%s' must be written as NAMESPACE/NAME" % sa)
            user = "%s%s:%s" % (SA_PREFIX, ns, name)
        if not user and not groups:
            raise RbacInputError("an access check needs a user, a service_account or groups")
        if check.get("authenticated", True):
            groups = implicit_groups(user) + [g for g in groups if g not in implicit_groups(user)]
        return cls(user, groups)

    def describe(self):
        parts = []
        if self.user:
            parts.append("user %s" % self.user)
        if self.groups:
            parts.append("groups %s" % ", ".join(self.groups))
        return " with ".join(parts) if parts else "nobody"


def access_review(request: Request, ident: Identity | None) -> dict:
    """The review object that asks the API server about ``request``: a SelfSubjectAccessReview
    (the identity making the call) when ``ident`` is None, else a SubjectAccessReview for it."""
    spec: dict = {}
    attrs = request.resource_attributes()
    if attrs is None:
        spec["nonResourceAttributes"] = {"verb": request.verb, "path": request.non_resource_url}
    else:
        spec["resourceAttributes"] = attrs
    kind = "SelfSubjectAccessReview"
    if ident is not None:
        kind = "SubjectAccessReview"
        if ident.user:
            spec["user"] = ident.user
        if ident.groups:
            spec["groups"] = ident.groups
    return {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec}


def sa_username(namespace, name):
    return "%s%s:%s" % (SA_PREFIX, namespace, name)


def parse_sa_username(user):
    """(namespace, name) of a service account user name, or None."""
    if not user or not user.startswith(SA_PREFIX):
        return None
    rest = user[len(SA_PREFIX) :]
    ns, sep, name = rest.partition(":")
    if not sep or not ns or not name or ":" in name:
        return None
    return ns, name


def implicit_groups(user):
    """Groups the authenticator gives every authenticated identity with this user name."""
    if user == "system:anonymous":
        return ["system:unauthenticated"]
    sa = parse_sa_username(user)
    if sa:
        return ["system:serviceaccounts", "system:serviceaccounts:%s" % sa[0], AUTHENTICATED]
    return [AUTHENTICATED]


# --------------------------------------------------------------------------- label selectors
def selector_matches(selector, labels):
    """Kubernetes LabelSelector semantics; an empty selector matches everything."""
    if selector is None:
        return False
    labels = labels or {}
    match_labels = selector.get("matchLabels") or selector.get("match_labels") or {}
    exprs = selector.get("matchExpressions") or selector.get("match_expressions") or []
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expr in exprs:
        key = expr.get("key")
        op = expr.get("operator")
        values = expr.get("values") or []
        if op == "In":
            if key not in labels or labels[key] not in values:
                return False
        elif op == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            return False
    return True


# ---------------------------------------------------------------------------------- snapshot
def _meta(obj):
    return obj.get("metadata") or {}


def binding_ref(binding):
    meta = _meta(binding)
    if binding.get("kind") == "RoleBinding":
        return "RoleBinding %s/%s" % (meta.get("namespace"), meta.get("name"))
    return "ClusterRoleBinding %s" % meta.get("name")


def is_default_object(obj):
    return (_meta(obj).get("labels") or {}).get(DEFAULTS_LABEL) == DEFAULTS_LABEL_VALUE


def subject_id(kind, name, namespace=None):
    if kind == "ServiceAccount":
        return "ServiceAccount:%s/%s" % (namespace, name)
    return "%s:%s" % (kind, name)


class _RbacObject(object):
    """What a role and a binding share: the object, its kind, name, namespace (for the namespaced
    kind only), labels, and whether it is one of the API server's default objects."""

    __slots__ = ("obj", "kind", "name", "namespace", "labels", "default")

    def __init__(self, obj, kind, namespaced_kind):
        self.obj = obj
        self.kind = kind
        meta = _meta(obj)
        self.name = meta.get("name")
        self.namespace = meta.get("namespace") if kind == namespaced_kind else None
        self.labels = meta.get("labels") or {}
        self.default = self.labels.get(DEFAULTS_LABEL) == DEFAULTS_LABEL_VALUE


class _Binding(_RbacObject):
    __slots__ = ("role_kind", "role_name", "role_key", "subjects", "ref")

    def __init__(self, obj, kind):
        super().__init__(obj, kind, "RoleBinding")
        role_ref = obj.get("roleRef") or obj.get("role_ref") or {}
        self.role_kind = role_ref.get("kind")
        self.role_name = role_ref.get("name")
        if self.role_kind == "Role":
            self.role_key = ("Role", self.namespace, self.role_name)
        else:
            self.role_key = ("ClusterRole", None, self.role_name)
        self.subjects = [dict(s) for s in (obj.get("subjects") or [])]
        self.ref = "%s %s" % (kind, self.name if kind == "ClusterRoleBinding" else "%s/%s" % (self.namespace, self.name))

    def subject_identity(self, subject):
        """The subject as (kind, name, namespace, username-or-None) the authorizer matches, or None if it never matches."""
        kind = subject.get("kind")
        name = subject.get("name")
        if not name:
            return None
        if kind == "User":
            sa = parse_sa_username(name)
            if sa:
                return ("ServiceAccount", sa[1], sa[0], name)
            return ("User", name, None, name)
        if kind == "Group":
            return ("Group", name, None, None)
        if kind == "ServiceAccount":
            ns = subject.get("namespace") or (self.namespace if self.kind == "RoleBinding" else None)
            if not ns:
                return None
            return ("ServiceAccount", name, ns, sa_username(ns, name))
        return None

    def describe(self):
        return {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "role_ref": {"kind": self.role_kind, "name": self.role_name},
        }


class _Role(_RbacObject):
    __slots__ = ("rules", "stored_rules", "aggregated", "aggregation_pending", "risks", "write", "runs_pods")

    def __init__(self, obj, kind):
        super().__init__(obj, kind, "Role")
        self.stored_rules = [normalize_rule(r) for r in (obj.get("rules") or [])]
        self.rules = self.stored_rules
        self.aggregated = bool(obj.get("aggregationRule") or obj.get("aggregation_rule"))
        self.aggregation_pending = False
        self.risks = {}
        self.write = {"cluster": False, "namespace": False}
        self.runs_pods = False

    @property
    def key(self):
        return (self.kind, self.namespace, self.name)

    @property
    def ref(self):
        if self.kind == "Role":
            return "Role %s/%s" % (self.namespace, self.name)
        return "ClusterRole %s" % self.name


class RbacSnapshot(object):
    """The RBAC objects of one cluster, indexed for evaluation.

    Arguments are lists of API objects (dicts). ``system_namespaces`` names namespaces whose
    service accounts count as system components. ``server`` (a ServerInfo) says what the API
    server enforces beyond RBAC (None: unknown). ``argocd_namespaces`` are the namespaces where
    Argo CD runs (its Applications, AppProjects and credential Secrets); empty when there is no
    Argo CD in the cluster.
    """

    def __init__(
        self,
        roles=None,
        cluster_roles=None,
        role_bindings=None,
        cluster_role_bindings=None,
        system_namespaces=DEFAULT_SYSTEM_NAMESPACES,
        server=None,
        argocd_namespaces=DEFAULT_ARGOCD_NAMESPACES,
    ):
        self.system_namespaces = frozenset(system_namespaces or ())
        self.server = server if server is not None else ServerInfo()
        self.argocd_namespaces = tuple(n for n in (argocd_namespaces or ()) if n)
        self.roles = {}
        for obj in cluster_roles or []:
            role = _Role(obj, "ClusterRole")
            self.roles[role.key] = role
        for obj in roles or []:
            role = _Role(obj, "Role")
            self.roles[role.key] = role
        self.bindings = [_Binding(obj, "ClusterRoleBinding") for obj in cluster_role_bindings or []]
        self.bindings += [_Binding(obj, "RoleBinding") for obj in role_bindings or []]
        self._resolve_aggregation()
        self._classify_roles()
        self._index()

    # -- construction ------------------------------------------------------------------------
    def _resolve_aggregation(self):
        cluster_roles = sorted((r for r in self.roles.values() if r.kind == "ClusterRole"), key=lambda r: r.name)
        resolved = {}

        def resolve(role, visiting):
            if role.name in resolved:
                return resolved[role.name]
            if not role.aggregated:
                return role.stored_rules
            if role.name in visiting:
                return role.stored_rules
            visiting = visiting | set([role.name])
            agg = role.obj.get("aggregationRule") or role.obj.get("aggregation_rule") or {}
            selectors = agg.get("clusterRoleSelectors") or agg.get("cluster_role_selectors") or []
            rules, seen = [], set()
            for other in cluster_roles:
                if other.name == role.name:
                    continue
                if not any(selector_matches(sel, other.labels) for sel in selectors):
                    continue
                for rule in resolve(other, visiting):
                    key = rule_key(rule)
                    if key not in seen:
                        seen.add(key)
                        rules.append(rule)
            resolved[role.name] = rules
            return rules

        for role in cluster_roles:
            if role.aggregated:
                role.rules = resolve(role, set())
                stored = set(rule_key(r) for r in role.stored_rules)
                role.aggregation_pending = stored != set(rule_key(r) for r in role.rules)

    def _classify_roles(self):
        for role in self.roles.values():
            role.risks = classify_role_scopes(role.rules, self.server, argocd_cluster=bool(self.argocd_namespaces))
            role.runs_pods = rules_run_pods(role.rules)
            plain = any(rule_grants_write(r) for r in role.rules)
            role.write = {
                "cluster": plain or bool(WRITE_EQUIVALENT_RISKS.intersection(role.risks["cluster"])),
                "namespace": plain or bool(WRITE_EQUIVALENT_RISKS.intersection(role.risks["namespace"])),
            }

    def _index(self):
        # The authorizer matches User and ServiceAccount subjects on the user name, Group subjects on
        # the group name. ClusterRoleBindings apply everywhere, RoleBindings in their namespace.
        self.cluster_by_user, self.cluster_by_group = {}, {}
        self.ns_by_user, self.ns_by_group = {}, {}
        self._by_group_name = {}
        for binding in self.bindings:
            for subject in binding.subjects:
                ident = binding.subject_identity(subject)
                if ident is None:
                    continue
                kind, name, _ns, username = ident
                if binding.kind == "ClusterRoleBinding":
                    table = self.cluster_by_group if kind == "Group" else self.cluster_by_user
                    key = name if kind == "Group" else username
                else:
                    table = self.ns_by_group if kind == "Group" else self.ns_by_user
                    key = (binding.namespace, name if kind == "Group" else username)
                lst = table.setdefault(key, [])
                if not lst or lst[-1] is not binding:
                    lst.append(binding)
                if kind == "Group":
                    glist = self._by_group_name.setdefault(name, [])
                    if not glist or glist[-1] is not binding:
                        glist.append(binding)
        self.groups_with_grants = frozenset(self._by_group_name)

    # -- lookups -----------------------------------------------------------------------------
    def scope_of(self, binding) -> str:
        """The classification scope of a binding: ``cluster``, ``namespace`` or ``argocd_namespace``."""
        if binding.kind == "ClusterRoleBinding":
            return "cluster"
        return "argocd_namespace" if binding.namespace in self.argocd_namespaces else "namespace"

    def risks_of(self, binding, role=None) -> dict:
        """Risk ids (with rule indexes) the binding's role carries where the binding grants it."""
        role = role if role is not None else self.role_for(binding)
        return role.risks[self.scope_of(binding)] if role is not None else {}

    def bindings_of_group(self, group):
        """Every binding (cluster-wide and namespaced) that names the group."""
        return list(self._by_group_name.get(group, ()))

    def role_for(self, binding):
        return self.roles.get(binding.role_key)

    def bindings_for(self, identity, namespace=""):
        """Bindings that apply to the identity for a request in namespace ("" = cluster-scoped), in the authorizer's order."""
        seen, out = set(), []

        def add(lst):
            for b in lst or ():
                if id(b) not in seen:
                    seen.add(id(b))
                    out.append(b)

        if identity.user:
            add(self.cluster_by_user.get(identity.user))
        for group in identity.groups:
            add(self.cluster_by_group.get(group))
        if namespace:
            if identity.user:
                add(self.ns_by_user.get((namespace, identity.user)))
            for group in identity.groups:
                add(self.ns_by_group.get((namespace, group)))
        return out

    def evaluate(self, identity, request):
        """Evaluate one request like the RBAC authorizer.

        Returns a dict: ``allowed`` and ``granted_by`` (the bindings and roles whose rules allow it).
        """
        granted = []
        for binding in self.bindings_for(identity, request.namespace):
            role = self.role_for(binding)
            if role is None:
                continue
            for rule in role.rules:
                if rule_allows(rule, request):
                    granted.append({"binding": binding.ref, "role": role.ref, "rule": compact_rule(rule)})
                    break
        return {"allowed": bool(granted), "granted_by": granted}

    def allows(self, identity, request):
        return self.evaluate(identity, request)["allowed"]

    # -- subjects ----------------------------------------------------------------------------
    def is_system_subject(self, kind, name, namespace=None):
        if kind in ("User", "Group"):
            return name.startswith("system:")
        return namespace in self.system_namespaces

    def subjects(self):
        """Every subject named by a binding, keyed by subject id, with the bindings naming it."""
        out = {}
        for binding in self.bindings:
            for subject in binding.subjects:
                ident = binding.subject_identity(subject)
                if ident is None:
                    continue
                kind, name, ns, username = ident
                sid = subject_id(kind, name, ns)
                entry = out.get(sid)
                if entry is None:
                    entry = out[sid] = {
                        "id": sid,
                        "kind": kind,
                        "name": name,
                        "namespace": ns,
                        "username": username,
                        "system": self.is_system_subject(kind, name, ns),
                        "_bindings": [],
                    }
                if not entry["_bindings"] or entry["_bindings"][-1] is not binding:
                    entry["_bindings"].append(binding)
        return out

    def unmatched_subjects(self):
        """Subjects that can never match (ServiceAccount without namespace in a ClusterRoleBinding, unknown kinds)."""
        out = []
        for binding in self.bindings:
            for subject in binding.subjects:
                if binding.subject_identity(subject) is None:
                    out.append({"binding": binding.ref, "subject": dict(subject)})
        return out


# ------------------------------------------------------------------------------------- audit
def _severity_of(risk_ids):
    best = None
    for rid in risk_ids:
        sev = RISK_BY_ID[rid]["severity"]
        if best is None or SEVERITY_RANK[sev] < SEVERITY_RANK[best]:
            best = sev
    return best or "none"


def _risk_title(rid, scope):
    risk = RISK_BY_ID[rid]
    if scope == "namespace" and risk.get("namespace_title"):
        return risk["namespace_title"]
    return risk["title"]


def _grant_entry(binding, role, rules_included):
    entry = {
        "binding": binding.ref,
        "role": role.ref if role else "%s %s" % (binding.role_kind, binding.role_name),
    }
    if rules_included and role is not None:
        entry["rules"] = [compact_rule(r) for r in role.rules]
    if role is None:
        entry["missing_role"] = True
    return entry


def _max_severity(severities) -> str:
    best = None
    for sev in severities:
        if sev in SEVERITY_RANK and (best is None or SEVERITY_RANK[sev] < SEVERITY_RANK[best]):
            best = sev
    return best or "none"


def _covers(held: set, key: tuple) -> bool:
    """Whether a set of (risk id, namespace or None) findings already includes the finding ``key``."""
    rid, where = key
    if (rid, None) in held or ("cluster_admin", None) in held:
        return True
    return where is not None and ((rid, where) in held or ("cluster_admin", where) in held)


def _reduced(keys) -> frozenset:
    """Risk keys without those another one implies: cluster-admin implies every risk where it holds, a cluster-wide
    risk the same risk in each namespace."""
    keys = set(keys)
    if ("cluster_admin", None) in keys:
        return frozenset([("cluster_admin", None)])
    cluster_wide = set(rid for rid, where in keys if where is None)
    admin_in = set(where for rid, where in keys if rid == "cluster_admin" and where is not None)
    return frozenset(
        (rid, where)
        for rid, where in keys
        if where is None or (rid not in cluster_wide and (rid == "cluster_admin" or where not in admin_in))
    )


class PodServiceAccounts:
    """What a subject that starts pods can reach through the ServiceAccounts of a namespace.

    A pod runs as any ServiceAccount of its namespace (``spec.serviceAccountName``) and gets its
    token, so whoever can create pods there, or write a Deployment, Job, ... whose pod template it
    sets, holds what those ServiceAccounts hold. The ServiceAccounts are those named by a binding
    (assumed to exist: if one does not yet, whoever creates it gets the grants) and ``default`` in
    every namespace, which holds what ``system:serviceaccounts`` and ``system:serviceaccounts:NS``
    are granted. The reach is transitive: a ServiceAccount that can start pods elsewhere holds what
    the ServiceAccounts there hold.

    Risk keys are (risk id, namespace or None), kept reduced (see ``_reduced``) so that a
    cluster-admin ServiceAccount costs one key however much it implies.
    """

    LISTED = 5  # ServiceAccounts named per finding, most severe first; the total is given beside them

    def __init__(self, snapshot: "RbacSnapshot"):
        self.snapshot = snapshot
        subjects = snapshot.subjects()
        everyone = self._keys(snapshot.bindings_of_group("system:serviceaccounts"))
        namespaces = set(b.namespace for b in snapshot.bindings if b.namespace)
        namespaces |= set(r.namespace for r in snapshot.roles.values() if r.namespace)
        sas = dict((sid, e) for sid, e in subjects.items() if e["kind"] == "ServiceAccount")
        namespaces |= set(e["namespace"] for e in sas.values())
        self.group_keys = {}
        for ns in namespaces:
            keys, runs = self._keys(snapshot.bindings_of_group(f"system:serviceaccounts:{ns}"))
            self.group_keys[ns] = (keys | everyone[0], runs | everyone[1])
        self.namespace_of = {}
        effective, runs = {}, {}
        for ns in namespaces:
            sid = subject_id("ServiceAccount", "default", ns)
            self.namespace_of[sid] = ns
            effective[sid], runs[sid] = _reduced(self.group_keys[ns][0]), set(self.group_keys[ns][1])
        for sid, entry in sas.items():
            keys, where = self._keys(entry["_bindings"])
            ns = entry["namespace"]
            self.namespace_of[sid] = ns
            effective[sid] = _reduced(keys | self.group_keys[ns][0])
            runs[sid] = where | self.group_keys[ns][1]
        self.by_namespace = {}
        for sid, ns in self.namespace_of.items():
            self.by_namespace.setdefault(ns, []).append(sid)
        # Transitive closure: what a ServiceAccount reaches by starting pods as other ServiceAccounts. What the
        # reduced sets imply only grows, so this ends.
        starters = dict((sid, where) for sid, where in runs.items() if where)
        changed = bool(starters)
        while changed:
            changed = False
            per_ns = dict((ns, _reduced(set().union(*(effective[sid] for sid in sids)))) for ns, sids in self.by_namespace.items())
            everything = _reduced(set().union(*per_ns.values())) if per_ns else frozenset()
            for sid, where_set in starters.items():
                gained = set(effective[sid])
                for where in where_set:
                    gained |= everything if where is None else per_ns.get(where, frozenset())
                gained = _reduced(gained)
                if gained != effective[sid]:
                    effective[sid] = gained
                    changed = True
        self.effective = effective
        # ServiceAccounts with the same keys are compared once: per namespace, and over the whole cluster.
        in_ns, everywhere = {}, {}
        for sid, keys in effective.items():
            if keys:
                in_ns.setdefault(self.namespace_of[sid], {}).setdefault(keys, []).append(sid)
                everywhere.setdefault(keys, []).append(sid)
        self._groups = {None: [(k, sorted(v)) for k, v in everywhere.items()]}
        for ns, groups in in_ns.items():
            self._groups[ns] = [(k, sorted(v)) for k, v in groups.items()]
        self._cache = {}

    def _keys(self, bindings) -> tuple[set, set]:
        """(risk keys, namespaces where pods can be started, None for all) that the bindings grant."""
        keys, runs = set(), set()
        for binding in bindings:
            role = self.snapshot.role_for(binding)
            if role is None:
                continue
            for rid in self.snapshot.risks_of(binding, role):
                if rid != "wildcard":
                    keys.add((rid, binding.namespace))
            if role.runs_pods:
                runs.add(binding.namespace)
        return keys, runs

    def held_by(self, entry: dict) -> frozenset:
        """The risk keys a subject holds itself (a ServiceAccount also through its groups)."""
        keys, _runs = self._keys(entry["_bindings"])
        if entry["kind"] == "ServiceAccount":
            keys |= self.group_keys.get(entry["namespace"], (set(), set()))[0]
        return frozenset(keys)

    def beyond(self, held: frozenset, where: str | None) -> tuple[list[dict], int]:
        """The ServiceAccounts in namespace ``where`` (None: every namespace) that hold more than ``held``: the
        ``LISTED`` most severe (each with the risks it adds) and how many there are in all."""
        cache_key = (held, where)
        if cache_key in self._cache:
            return self._cache[cache_key]
        candidates, total = [], 0
        if ("cluster_admin", None) in held:
            self._cache[cache_key] = ([], 0)
            return self._cache[cache_key]
        everywhere = set(rid for rid, ns in held if ns is None)
        admin_in = set(ns for rid, ns in held if rid == "cluster_admin")
        for keys, sids in self._groups.get(where, ()):
            # inline _covers(held, key) for each key: this loop runs for every subject that starts pods
            extra = [k for k in keys if not (k[0] in everywhere or (k[1] is not None and (k in held or k[1] in admin_in)))]
            if not extra:
                continue
            extra.sort(key=lambda k: (SEVERITY_RANK[RISK_BY_ID[k[0]]["severity"]], k[0], k[1] or ""))
            severity = RISK_BY_ID[extra[0][0]]["severity"]
            total += len(sids)
            candidates.extend((SEVERITY_RANK[severity], sid, severity, extra) for sid in sids[: self.LISTED])
        candidates.sort(key=lambda e: (e[0], e[1]))
        listed = [
            {"id": sid, "severity": sev, "risks": [{"risk": rid, "namespace": ns} for rid, ns in extra]}
            for _rank, sid, sev, extra in candidates[: self.LISTED]
        ]
        self._cache[cache_key] = (listed, total)
        return self._cache[cache_key]


def pod_detail(rid: str, where: str | None, service_accounts: list[dict], total: int) -> str:
    """One sentence for a pod_create or workload_write finding that reaches more privileged ServiceAccounts."""
    what = "creates pods" if rid == "pod_create" else "writes workloads that start pods"
    place = f"in namespace {where}" if where else "in every namespace"
    named = []
    for entry in service_accounts[:3]:
        risks = ", ".join(r["risk"] + (f" in {r['namespace']}" if r["namespace"] else "") for r in entry["risks"][:4])
        more = f", +{len(entry['risks']) - 4} more" if len(entry["risks"]) > 4 else ""
        named.append(f"{entry['id']} ({entry['severity']}: {risks}{more})")
    rest = f" and {total - len(named)} more" if total > len(named) else ""
    return f"{what} {place}, so it can run a pod as any ServiceAccount there and hold what it holds: {'; '.join(named)}{rest}"


def _argocd_limitation(namespaces) -> str:
    if not namespaces:
        return (
            "No Argo CD namespace was given (Argo CD's API is not served here): grants on Argo CD objects and on the Secrets "
            "of its namespace are not classified as Argo CD risks."
        )
    return (
        f"Argo CD is taken to run in namespace(s) {', '.join(namespaces)}: Secrets there and Argo CD objects are classified "
        "as Argo CD risks (Applications in other namespaces count only if listed there)."
    )


def risk_catalog():
    """Every risk id with its severity and what it means (cluster-wide and inside one namespace)."""
    return [{"id": r["id"], "severity": r["severity"], "title": r["title"], "namespace_title": r.get("namespace_title") or r["title"]} for r in RISKS]


class Audit(object):
    """Computes the audit result of a snapshot. ``result()`` returns plain data.

    ``include_default_bindings``: also list subjects, bindings and roles that only the API
    server's own defaults (label kubernetes.io/bootstrapping=rbac-defaults) involve.
    ``subject_kinds`` / ``namespaces``: restrict the listing (not the evaluation).
    """

    def __init__(self, snapshot, include_rules=False, include_default_bindings=False, subject_kinds=None, namespaces=None):
        self.snapshot = snapshot
        self.include_rules = include_rules
        self.include_default_bindings = include_default_bindings
        self.subject_kinds = set(subject_kinds) if subject_kinds else None
        self.namespaces = set(namespaces) if namespaces else None

    def _pods(self) -> PodServiceAccounts:
        if getattr(self, "_pod_reach", None) is None:
            self._pod_reach = PodServiceAccounts(self.snapshot)
        return self._pod_reach

    def _scope_wanted(self, binding):
        if self.namespaces is None or binding.kind == "ClusterRoleBinding":
            return True
        return binding.namespace in self.namespaces

    def _subject_listed(self, entry):
        if self.subject_kinds is not None and entry["kind"] not in self.subject_kinds:
            return False
        if entry["kind"] == "Group" and entry["name"] == MASTERS:
            return self.include_default_bindings
        if self.include_default_bindings:
            return True
        return any(not b.default for b in entry["_bindings"])

    def _grants(self, bindings):
        """Grants of a list of bindings: (cluster list, {namespace: list})."""
        cluster, namespaced = [], {}
        for binding in bindings:
            if not self._scope_wanted(binding):
                continue
            grant = _grant_entry(binding, self.snapshot.role_for(binding), self.include_rules)
            if binding.kind == "ClusterRoleBinding":
                cluster.append(grant)
            else:
                namespaced.setdefault(binding.namespace, []).append(grant)
        return cluster, namespaced

    def _subject_view(self, entry):
        snap = self.snapshot
        risks = {}
        write_scopes = set()
        runs_pods = set()
        bindings = []
        wanted = [b for b in entry["_bindings"] if self._scope_wanted(b)]
        for binding in wanted:
            role = snap.role_for(binding)
            bindings.append(binding.describe())
            if role is None:
                continue
            scope, where = ("cluster", None) if binding.kind == "ClusterRoleBinding" else ("namespace", binding.namespace)
            if role.write[scope]:
                write_scopes.add(where or "*")
            if role.runs_pods:
                runs_pods.add(where)
            for rid in snap.risks_of(binding, role):
                risks.setdefault((rid, where), []).append({"binding": binding.ref, "role": role.ref})
        cluster, namespaced = self._grants(wanted)
        risk_list = []
        held = None
        for (rid, where), via in risks.items():
            scope = "namespace" if where else "cluster"
            item = {"id": rid, "severity": RISK_BY_ID[rid]["severity"], "scope": scope, "namespace": where, "via": via}
            if rid in RUNS_PODS_RISKS and where in runs_pods:
                if held is None:
                    held = self._pods().held_by(entry)
                reach, total = self._pods().beyond(held, where)
                if reach:
                    item["severity"] = _max_severity([item["severity"]] + [r["severity"] for r in reach])
                    item["service_accounts"] = reach
                    item["service_accounts_total"] = total
            risk_list.append(item)
        risk_list.sort(key=lambda r: (SEVERITY_RANK[r["severity"]], r["id"], r["namespace"] or ""))
        inherited = []
        if entry["kind"] != "Group":
            inherited = [g for g in implicit_groups(entry["username"]) if g in snap.groups_with_grants]
        return {
            "id": entry["id"],
            "kind": entry["kind"],
            "name": entry["name"],
            "namespace": entry["namespace"],
            "username": entry["username"],
            "system": entry["system"],
            "bindings": bindings,
            "cluster": cluster,
            "namespaces": namespaced,
            "inherited_groups": inherited,
            "_risks": risk_list,
            "risk_ids": sorted(set(r["id"] for r in risk_list)),
            "severity": _max_severity(r["severity"] for r in risk_list),
            "can_write": bool(write_scopes),
            "write_namespaces": sorted(write_scopes),
        }

    def _implicit_group_grants(self):
        out = {}
        for group in sorted(self.snapshot.groups_with_grants):
            if not (group in (AUTHENTICATED, "system:unauthenticated", "system:serviceaccounts") or group.startswith("system:serviceaccounts:")):
                continue
            cluster, namespaced = self._grants(self.snapshot.bindings_of_group(group))
            if cluster or namespaced:
                out[group] = {"cluster": cluster, "namespaces": namespaced}
        return out

    def result(self):
        snap = self.snapshot
        subjects = []
        all_subjects = snap.subjects()
        for sid in sorted(all_subjects):
            entry = all_subjects[sid]
            if not self._subject_listed(entry):
                continue
            view = self._subject_view(entry)
            if view["bindings"]:
                subjects.append(view)
        findings = []
        for subj in subjects:
            for risk in subj.pop("_risks"):
                finding = {
                    "subject": subj["id"],
                    "kind": subj["kind"],
                    "name": subj["name"],
                    "subject_namespace": subj["namespace"],
                    "system": subj["system"],
                    "risk": risk["id"],
                    "severity": risk["severity"],
                    "scope": risk["scope"],
                    "namespace": risk["namespace"],
                    "via": risk["via"],
                }
                if risk.get("service_accounts"):
                    finding["service_accounts"] = risk["service_accounts"]
                    finding["service_accounts_total"] = risk["service_accounts_total"]
                findings.append(finding)
        findings.sort(key=lambda f: (SEVERITY_RANK[f["severity"]], f["scope"] != "cluster", f["subject"], f["risk"], f["namespace"] or ""))

        bound_roles = {}
        binding_list = []
        listed_refs = set()
        for binding in snap.bindings:
            role = snap.role_for(binding)
            bound_roles.setdefault(binding.role_key, []).append(binding.ref)
            if binding.default and not self.include_default_bindings:
                continue
            if not self._scope_wanted(binding):
                continue
            listed_refs.add(binding.ref)
            scope = "cluster" if binding.kind == "ClusterRoleBinding" else "namespace"
            binding_risks = snap.risks_of(binding, role)
            binding_list.append(
                dict(
                    binding.describe(),
                    subjects=[dict(s) for s in binding.subjects],
                    default=binding.default,
                    missing_role=role is None,
                    grants_write=bool(role and role.write[scope]),
                    risk_ids=sorted(binding_risks),
                    severity=_severity_of(binding_risks),
                )
            )
        role_list = []
        for key in sorted(snap.roles, key=lambda k: (k[0], k[1] or "", k[2])):
            role = snap.roles[key]
            refs = bound_roles.get(key, [])
            if self.namespaces is not None and role.kind == "Role" and role.namespace not in self.namespaces:
                continue
            if not self.include_default_bindings and role.default and not any(r in listed_refs for r in refs):
                continue
            scope = "cluster" if role.kind == "ClusterRole" else "namespace"
            risk_scope = "argocd_namespace" if role.kind == "Role" and role.namespace in snap.argocd_namespaces else scope
            item = {
                "kind": role.kind,
                "name": role.name,
                "namespace": role.namespace,
                "default": role.default,
                "aggregated": role.aggregated,
                "aggregation_pending": role.aggregation_pending,
                "grants_write": role.write[scope],
                "risk_ids": sorted(role.risks[risk_scope]),
                "severity": _severity_of(role.risks[risk_scope]),
                "bound_by": refs,
                "rules": [compact_rule(r) for r in role.rules],
            }
            role_list.append(item)

        missing = sorted(set("%s %s" % (b["role_ref"]["kind"], b["role_ref"]["name"]) for b in binding_list if b["missing_role"]))
        summary = {
            "roles": sum(1 for r in snap.roles.values() if r.kind == "Role"),
            "cluster_roles": sum(1 for r in snap.roles.values() if r.kind == "ClusterRole"),
            "role_bindings": sum(1 for b in snap.bindings if b.kind == "RoleBinding"),
            "cluster_role_bindings": sum(1 for b in snap.bindings if b.kind == "ClusterRoleBinding"),
            "subjects_total": len(all_subjects),
            "subjects_listed": len(subjects),
            "findings": len(findings),
            "by_severity": dict((s, sum(1 for f in findings if f["severity"] == s)) for s in SEVERITIES),
            "people_with_write": sorted(
                s["id"] for s in subjects if s["can_write"] and s["kind"] in ("User", "Group") and (not s["system"] or s["name"] in EVERYONE)
            ),
            "missing_roles": missing,
            "aggregation_pending": sorted(r.ref for r in snap.roles.values() if r.aggregation_pending),
        }
        return {
            "risk_catalog": risk_catalog(),
            "subjects": subjects,
            "findings": findings,
            "bindings": binding_list,
            "roles": role_list,
            "implicit_group_grants": self._implicit_group_grants(),
            "unmatched_subjects": snap.unmatched_subjects(),
            "summary": summary,
            "server": snap.server.describe(),
            "argocd_namespaces": list(snap.argocd_namespaces),
            "limitations": list(LIMITATIONS) + snap.server.limitations() + [_argocd_limitation(snap.argocd_namespaces)],
        }


def who_can(snapshot, request, include_inherited=True):
    """Subjects (named by some binding) the authorizer allows to make the request."""
    out = []
    subjects = snapshot.subjects()
    for sid in sorted(subjects):
        entry = subjects[sid]
        if entry["kind"] == "Group":
            ident = Identity(None, [entry["name"]])
        else:
            groups = implicit_groups(entry["username"]) if include_inherited else []
            ident = Identity(entry["username"], groups)
        res = snapshot.evaluate(ident, request)
        if res["allowed"]:
            out.append(
                {"subject": sid, "kind": entry["kind"], "name": entry["name"], "namespace": entry["namespace"], "granted_by": res["granted_by"]}
            )
    return out


# ----------------------------------------------------------------------------------- lockdown
def subject_matches(spec, subject, binding_namespace=None):
    """Whether an allowlist entry ``{kind, name, namespace}`` names a binding subject."""
    kind = spec.get("kind")
    name = spec.get("name")
    if kind != subject.get("kind") or name != subject.get("name"):
        return False
    if kind == "ServiceAccount":
        return (spec.get("namespace") or "") == (subject.get("namespace") or binding_namespace or "")
    return True


def binding_key(kind, namespace, name):
    return "%s/%s/%s" % (kind, namespace or "", name)


def binding_object_ref(kind, namespace, name):
    """The minimal object naming a binding (what a delete needs)."""
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": RBAC_API_VERSION, "kind": kind, "metadata": meta}


def backup_key(kind, name, namespace=None):
    """A ConfigMap data key for one binding: readable, valid and unique."""
    raw = "%s.%s.%s" % ("crb" if kind == "ClusterRoleBinding" else "rb", namespace or "_cluster", name)
    safe = re.sub(r"[^-._a-zA-Z0-9]", "_", raw)
    if safe != raw or len(safe) > 200:
        safe = "%s.%s" % (safe[:200], hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8])
    return safe + ".json"


def clean_binding(obj):
    """A binding as it can be re-applied: kind, apiVersion, name, namespace, labels, annotations, roleRef, subjects."""
    meta = _meta(obj)
    out_meta = {"name": meta.get("name")}
    if meta.get("namespace"):
        out_meta["namespace"] = meta["namespace"]
    labels = meta.get("labels")
    if labels:
        out_meta["labels"] = dict(labels)
    annotations = dict(meta.get("annotations") or {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if annotations:
        out_meta["annotations"] = annotations
    out = {
        "apiVersion": RBAC_API_VERSION,
        "kind": obj.get("kind"),
        "metadata": out_meta,
        "roleRef": dict(obj.get("roleRef") or obj.get("role_ref") or {}),
    }
    subjects = [dict((k, v) for k, v in s.items() if v not in (None, "")) for s in (obj.get("subjects") or [])]
    if subjects:
        out["subjects"] = subjects
    return out


def _subject_key(subject, binding_namespace):
    kind = subject.get("kind")
    ns = subject.get("namespace") or (binding_namespace if kind == "ServiceAccount" else "")
    return (kind, subject.get("name"), ns or "")


def merge_backup(previous, current):
    """Merge a new original into an earlier backup of the same binding.

    The backup keeps every subject ever seen (the union), so a restore after two lock-downs
    still brings back the subjects the first one removed.
    """
    if not previous:
        return copy.deepcopy(current)
    prev_ref = previous.get("roleRef") or {}
    cur_ref = current.get("roleRef") or {}
    if (prev_ref.get("kind"), prev_ref.get("name")) != (cur_ref.get("kind"), cur_ref.get("name")):
        # The binding was re-created with another role; the latest original wins.
        return copy.deepcopy(current)
    ns = (current.get("metadata") or {}).get("namespace")
    merged = copy.deepcopy(previous)
    keys = set(_subject_key(s, ns) for s in merged.get("subjects") or [])
    for subject in current.get("subjects") or []:
        key = _subject_key(subject, ns)
        if key not in keys:
            keys.add(key)
            merged.setdefault("subjects", []).append(copy.deepcopy(subject))
    return merged


class LockdownPlanner(object):
    """Works out which bindings must lose which subjects, and predicts access afterwards.

    Arguments:
      allow_subjects: list of ``{kind, name, namespace}`` that keep write access.
      break_glass_groups: groups that keep cluster-admin (never removed).
      revoke_subjects: ServiceAccounts or ``system:`` subjects to remove although they would be left alone.
      managed_label: ``(key, value)`` marking bindings this lock-down manages itself (never removed).
      add_bindings: binding objects the lock-down will create; included in the prediction.
    """

    PROTECTED_PREFIX = "system:"

    def __init__(self, snapshot, allow_subjects=None, break_glass_groups=None, revoke_subjects=None, managed_label=None, add_bindings=None):
        self.snapshot = snapshot
        self.allow_subjects = list(allow_subjects or [])
        self.break_glass_groups = list(break_glass_groups or [])
        self.revoke_subjects = list(revoke_subjects or [])
        self.managed_label = managed_label
        self.add_bindings = [b for b in (add_bindings or []) if b]
        for b in self.add_bindings:
            if b.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
                raise RbacInputError("add_bindings takes RoleBinding and ClusterRoleBinding objects, got kind %r" % b.get("kind"))

    def _is_managed(self, binding):
        if not self.managed_label:
            return False
        key, value = self.managed_label
        return binding.labels.get(key) == value

    def _revoke_listed(self, subject, binding):
        return any(subject_matches(spec, subject, binding.namespace) for spec in self.revoke_subjects)

    def _allowed(self, subject, binding):
        if subject.get("kind") == "Group" and subject.get("name") in self.break_glass_groups:
            return True
        return any(subject_matches(spec, subject, binding.namespace) for spec in self.allow_subjects)

    def must_remove(self, subject, binding):
        """Whether the lock-down takes this subject out of this (write-granting) binding."""
        if self._allowed(subject, binding):
            return False
        if self._revoke_listed(subject, binding):
            return True
        kind = subject.get("kind")
        if kind not in ("User", "Group"):
            return False
        name = subject.get("name") or ""
        if name in EVERYONE:
            # Write access for every authenticated (or anonymous) caller is write access for every person.
            return True
        if name.startswith(self.PROTECTED_PREFIX):
            return False
        return True

    def managed_bindings(self):
        """The bindings carrying the managed label: ``key`` (KIND/NAMESPACE/NAME) and ``ref`` (an object reference)."""
        return [
            {"key": binding_key(b.kind, b.namespace, b.name), "ref": binding_object_ref(b.kind, b.namespace, b.name)}
            for b in self.snapshot.bindings
            if self._is_managed(b)
        ]

    def plan(self, previous_backup=None):
        """The list of changes; each item says what happens to one binding and why."""
        previous_backup = previous_backup or {}
        items = []
        for binding in self.snapshot.bindings:
            if self._is_managed(binding):
                continue
            role = self.snapshot.role_for(binding)
            scope = "cluster" if binding.kind == "ClusterRoleBinding" else "namespace"
            if role is None or not role.write[scope]:
                continue
            remove = [s for s in binding.subjects if self.must_remove(s, binding)]
            if not remove:
                continue
            keep = [s for s in binding.subjects if s not in remove]
            scope = "cluster" if binding.kind == "ClusterRoleBinding" else "namespace"
            original = clean_binding(binding.obj)
            key = backup_key(binding.kind, binding.name, binding.namespace)
            prev = previous_backup.get(key)
            try:
                prev = read_backup_entry(prev)["binding"] if prev is not None else None
            except RbacBackupError:
                prev = None
            backup = merge_backup(prev, original)
            item = {
                "action": "delete" if not keep else "patch",
                "kind": binding.kind,
                "name": binding.name,
                "namespace": binding.namespace,
                "role_ref": {"kind": binding.role_kind, "name": binding.role_name},
                "subjects": [dict(s) for s in binding.subjects],
                "remove_subjects": remove,
                "keep_subjects": keep,
                "reason": "%s grants write access (%s)" % (role.ref, ", ".join(sorted(role.risks[scope])) or "write verbs"),
                "ref": binding_object_ref(binding.kind, binding.namespace, binding.name),
                "uid": _meta(binding.obj).get("uid"),
                "resource_version": _meta(binding.obj).get("resourceVersion") or _meta(binding.obj).get("resource_version"),
                "original": original,
                "backup_key": key,
                "backup": backup,
            }
            who = ", ".join(
                "%s %s"
                % (
                    x.get("kind"),
                    x.get("name") if x.get("kind") != "ServiceAccount" else "%s/%s" % (x.get("namespace") or binding.namespace, x.get("name")),
                )
                for x in remove
            )
            if keep:
                item["description"] = "patch %s: remove %s (%s)" % (binding.ref, who, item["reason"])
            else:
                item["description"] = "delete %s: its only subjects %s (%s)" % (binding.ref, who, item["reason"])
            if keep:
                desired = clean_binding(binding.obj)
                desired["subjects"] = [dict((k, v) for k, v in s.items() if v not in (None, "")) for s in keep]
                item["desired"] = desired
            items.append(item)
        items.sort(key=lambda i: (i["kind"], i["namespace"] or "", i["name"]))
        return items

    def snapshot_after(self, items):
        """A snapshot of the cluster as it will be once the plan is applied and add_bindings exist."""
        snap = self.snapshot
        by_ref = dict(((i["kind"], i["namespace"], i["name"]), i) for i in items)
        added = dict(
            ((b["kind"], _meta(b).get("namespace") if b["kind"] == "RoleBinding" else None, _meta(b).get("name")), b) for b in self.add_bindings
        )
        rbs, crbs = [], []
        for binding in snap.bindings:
            key = (binding.kind, binding.namespace, binding.name)
            if key in added:
                continue
            item = by_ref.get(key)
            obj = binding.obj
            if item is not None:
                if item["action"] == "delete":
                    continue
                obj = item["desired"]
            (crbs if binding.kind == "ClusterRoleBinding" else rbs).append(obj)
        for (kind, _ns, _name), obj in added.items():
            (crbs if kind == "ClusterRoleBinding" else rbs).append(obj)
        roles = [r.obj for r in snap.roles.values() if r.kind == "Role"]
        cluster_roles = [r.obj for r in snap.roles.values() if r.kind == "ClusterRole"]
        return RbacSnapshot(roles, cluster_roles, rbs, crbs, snap.system_namespaces)


def guard_verdict(check, authorizer_now, rbac_now, rbac_after):
    """Whether an identity keeps an access once the plan is applied.

    ``authorizer_now``: the API server's answer today (SubjectAccessReview), or None when unknown.
    ``rbac_now``/``rbac_after``: this engine's answers before and after.

    If the API server allows the request but RBAC does not, another authorizer (or
    system:masters) grants it and removing bindings cannot take it away.
    """
    if rbac_after:
        keeps = True
        why = "RBAC still allows it after the lock-down"
    elif authorizer_now and not rbac_now:
        keeps = True
        why = "allowed by the API server outside RBAC (system:masters or another authorizer); bindings do not affect it"
    else:
        keeps = False
        if authorizer_now is False and not rbac_now:
            why = "not allowed even now"
        else:
            why = "the lock-down removes the bindings that allow it"
    return dict(
        check, keeps=keeps, allowed_now=authorizer_now if authorizer_now is not None else rbac_now, rbac_now=rbac_now, rbac_after=rbac_after, why=why
    )


# ---------------------------------------------------------------------------- lockdown backup
# A backup is one JSON document, {"format", "version", "entries": {KEY: ENTRY}}, compressed
# with gzip and cut into parts that each fit in one ConfigMap (as binaryData), plus an index
# ConfigMap that names the parts with their checksums. Nothing in it grows with the number of
# bindings except the number of parts. An ENTRY is
#   binding           the binding as the lock-down found it (subjects merged over every lock-down)
#   removed_subjects  the subjects lock-downs took out of it
#   action            what the last lock-down did to it (delete or patch)
#   uid               the binding's uid then, to tell a binding re-created since from the saved one
# The single ConfigMap that earlier versions wrote (one data key per binding, the original as
# JSON text) is read as entries whose removed subjects are unknown (None): restoring one adds
# back what the saved binding has and the live one lacks.

BACKUP_FORMAT = "gitops.bootstrap/rbac-lockdown-backup"
BACKUP_VERSION = 2
BACKUP_FORMAT_KEY = "format"
BACKUP_INDEX_KEY = "index.json"
BACKUP_PART_KEY = "part"
# The API server refuses a ConfigMap or Secret whose values hold more than 1 MiB together.
OBJECT_SIZE_LIMIT = 1024 * 1024
BACKUP_CHUNK_DEFAULT = 512 * 1024
BACKUP_CHUNK_MIN = 256
# What a part may hold, leaving room for its metadata under OBJECT_SIZE_LIMIT.
BACKUP_CHUNK_MAX = OBJECT_SIZE_LIMIT - 64 * 1024
BACKUP_BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


class RbacBackupError(RbacInputError):
    """A backup that cannot be read, trusted or written; the message says which and what to do."""


def backup_format_id() -> str:
    return f"{BACKUP_FORMAT}/v{BACKUP_VERSION}"


def _binding_namespace(binding: dict) -> str | None:
    return _meta(binding).get("namespace") if binding.get("kind") == "RoleBinding" else None


def _role_ref_id(binding: dict) -> tuple:
    ref = binding.get("roleRef") or binding.get("role_ref") or {}
    return (ref.get("kind"), ref.get("name"))


def subtract_subjects(subjects: list, minus: list, namespace: str | None) -> list:
    """The subjects of ``subjects`` that ``minus`` does not hold; a subject listed twice counts twice."""
    counts: dict = {}
    for s in minus or []:
        key = _subject_key(s, namespace)
        counts[key] = counts.get(key, 0) + 1
    out = []
    for s in subjects or []:
        key = _subject_key(s, namespace)
        if counts.get(key):
            counts[key] -= 1
        else:
            out.append(copy.deepcopy(s))
    return out


def union_subjects(first: list, second: list, namespace: str | None) -> list:
    """``first``, then what of ``second`` it does not hold already."""
    return [copy.deepcopy(s) for s in first or []] + subtract_subjects(second, first, namespace)


def describe_subjects(subjects: list, namespace: str | None = None) -> str:
    parts = []
    for s in subjects or []:
        if s.get("kind") == "ServiceAccount":
            parts.append(f"ServiceAccount {s.get('namespace') or namespace or ''}/{s.get('name')}")
        else:
            parts.append(f"{s.get('kind')} {s.get('name')}")
    return ", ".join(parts) or "no subject"


def _json_value(value, what: str):
    """``value`` parsed as JSON when it is bytes or text, else ``value`` itself; ``what`` names it in the error."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise RbacBackupError(f"{what} is not valid JSON ({exc})") from exc
    return value


def _read_entries(items, label: str) -> dict:
    """Each ``(key, value)`` read as a backup entry; an error names the entry as ``label KEY``."""
    out = {}
    for key, value in items:
        try:
            out[key] = read_backup_entry(value)
        except RbacBackupError as exc:
            raise RbacBackupError(f"{label} {key}: {exc}") from exc
    return out


def read_backup_entry(value) -> dict:
    """One stored entry as ``{binding, removed_subjects, action, uid}``, from either format.

    ``value`` is an entry of this format, or what earlier versions stored: the binding itself,
    as a dict or as JSON text.
    """
    value = _json_value(value, "it")
    if not isinstance(value, dict):
        raise RbacBackupError(f"it is a {type(value).__name__}, not a binding")
    if "binding" in value:
        binding = value.get("binding")
        removed = value.get("removed_subjects")
        if removed is not None and not isinstance(removed, list):
            raise RbacBackupError("removed_subjects is not a list")
    else:
        binding, removed = value, None
    if not isinstance(binding, dict) or binding.get("kind") not in BACKUP_BINDING_KINDS:
        raise RbacBackupError("it does not hold a RoleBinding or ClusterRoleBinding")
    kind_ok = _meta(binding).get("name") and all(_role_ref_id(binding))
    if not kind_ok or (binding["kind"] == "RoleBinding" and not _meta(binding).get("namespace")):
        raise RbacBackupError("the saved binding lacks its name, namespace or roleRef")
    return {"binding": binding, "removed_subjects": removed, "action": value.get("action"), "uid": value.get("uid")}


def backup_entry_for(item: dict, previous: dict | None) -> dict:
    """The entry a lock-down plan item leaves in the backup, merged with the one already there.

    Subjects removed by an earlier lock-down stay in the entry, so a restore after several
    lock-downs brings back all of them. A binding re-created with another role since starts over.
    """
    original = item.get("original") or clean_binding(item.get("backup") or {})
    namespace = item.get("namespace")
    removed = [copy.deepcopy(s) for s in item.get("remove_subjects") or []]
    binding = copy.deepcopy(original)
    if previous and _role_ref_id(previous["binding"]) == _role_ref_id(original):
        binding = merge_backup(previous["binding"], original)
        earlier = previous.get("removed_subjects")
        if earlier is None:
            # Written by an earlier version: what it saved and the binding no longer had was removed.
            earlier = subtract_subjects(previous["binding"].get("subjects") or [], item.get("subjects") or [], namespace)
        removed = union_subjects(earlier, removed, namespace)
    return {"binding": binding, "removed_subjects": removed, "action": item.get("action"), "uid": item.get("uid")}


def merge_backup_entries(entries: dict, plan: list) -> dict:
    """The backup once the originals of ``plan`` are added to ``entries`` (normalized entries)."""
    out = dict(entries)
    for item in plan:
        key = item.get("backup_key")
        if not key:
            raise RbacBackupError("a lock-down plan item has no backup_key; pass lockdown_plan of k8s_rbac_audit unchanged")
        out[key] = backup_entry_for(item, entries.get(key))
    return out


def legacy_backup_entries(data: dict) -> dict:
    """The entries of a backup ConfigMap written by earlier versions (one data key per binding)."""
    return _read_entries(((key, value) for key, value in sorted((data or {}).items()) if key.endswith(".json")), "backup key")


def backup_document(entries: dict) -> bytes:
    """The backup as canonical JSON: the same entries always give the same bytes."""
    doc = {"format": BACKUP_FORMAT, "version": BACKUP_VERSION, "entries": entries}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


def read_backup_document(raw) -> dict:
    """The entries of a backup document (bytes, text or parsed JSON), or of a backup file.

    A file holds the document of this format, or, written by earlier versions, an object
    mapping each backup key to the binding as JSON text.
    """
    raw = _json_value(raw, "the backup")
    if not isinstance(raw, dict):
        raise RbacBackupError("the backup is not a JSON object")
    if "format" not in raw:
        return legacy_backup_entries(raw)
    if raw.get("format") != BACKUP_FORMAT:
        raise RbacBackupError(f"the backup has format {raw.get('format')!r}, expected {BACKUP_FORMAT!r}")
    if raw.get("version") != BACKUP_VERSION:
        raise RbacBackupError(
            f"the backup is version {raw.get('version')!r} of the format; this collection reads version {BACKUP_VERSION}. "
            "Use the collection version that wrote it"
        )
    entries = raw.get("entries")
    if not isinstance(entries, dict):
        raise RbacBackupError("the backup has no entries object")
    return _read_entries(entries.items(), "backup entry")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_chunk_bytes(chunk_bytes: int) -> None:
    if not BACKUP_CHUNK_MIN <= chunk_bytes <= BACKUP_CHUNK_MAX:
        raise RbacBackupError(
            f"the backup part size must be between {BACKUP_CHUNK_MIN} and {BACKUP_CHUNK_MAX} bytes (a ConfigMap holds at most "
            f"{OBJECT_SIZE_LIMIT} bytes), got {chunk_bytes}"
        )


def encode_backup(entries: dict, chunk_bytes: int = BACKUP_CHUNK_DEFAULT) -> dict:
    """The backup as compressed parts of at most ``chunk_bytes`` each, with their checksums."""
    check_chunk_bytes(chunk_bytes)
    doc = backup_document(entries)
    # mtime=0: the same document always compresses to the same bytes.
    packed = gzip.compress(doc, compresslevel=9, mtime=0)
    parts = [packed[i : i + chunk_bytes] for i in range(0, len(packed), chunk_bytes)]
    return {
        "sha256": sha256_hex(doc),
        "entries": len(entries),
        "json_bytes": len(doc),
        "compressed_bytes": len(packed),
        "chunk_bytes": chunk_bytes,
        "parts": parts,
        "part_sha256": [sha256_hex(p) for p in parts],
    }


def backup_part_name(name: str, digest: str, index: int) -> str:
    """Parts are named after the content, so a new backup never overwrites the parts the index names."""
    return f"{name}-{digest[:10]}-{index:03d}"


def backup_index(name: str, encoded: dict) -> dict:
    """The data of the index ConfigMap of an encoded backup."""
    index = {
        "version": BACKUP_VERSION,
        "encoding": "gzip",
        "sha256": encoded["sha256"],
        "entries": encoded["entries"],
        "json_bytes": encoded["json_bytes"],
        "compressed_bytes": encoded["compressed_bytes"],
        "parts": [
            {"name": backup_part_name(name, encoded["sha256"], i), "sha256": digest, "bytes": len(part)}
            for i, (part, digest) in enumerate(zip(encoded["parts"], encoded["part_sha256"]))
        ],
    }
    return {BACKUP_FORMAT_KEY: backup_format_id(), BACKUP_INDEX_KEY: json.dumps(index, sort_keys=True, separators=(",", ":"))}


def parse_backup_index(data: dict) -> dict | None:
    """The index held by the data of the backup ConfigMap, or None for a ConfigMap of earlier versions."""
    data = data or {}
    fmt = data.get(BACKUP_FORMAT_KEY)
    if fmt is None:
        return None
    if fmt != backup_format_id():
        raise RbacBackupError(
            f"its format is {fmt!r}, this collection reads {backup_format_id()!r}. Use the collection version that wrote it"
        )
    try:
        index = json.loads(data.get(BACKUP_INDEX_KEY) or "")
    except ValueError as exc:
        raise RbacBackupError(f"its {BACKUP_INDEX_KEY} is not valid JSON ({exc})")
    parts = index.get("parts") if isinstance(index, dict) else None
    if not isinstance(parts, list) or not isinstance(index.get("sha256"), str):
        raise RbacBackupError(f"its {BACKUP_INDEX_KEY} does not list the parts and the checksum")
    for part in parts:
        if not isinstance(part, dict) or not part.get("name") or not part.get("sha256"):
            raise RbacBackupError(f"its {BACKUP_INDEX_KEY} names a part without name or checksum")
    return index


def decode_backup(index: dict, parts: list) -> dict:
    """The entries of a backup from its index and the bytes of its parts, every checksum verified."""
    if len(parts) != len(index["parts"]):
        raise RbacBackupError(f"the index names {len(index['parts'])} parts, {len(parts)} were read")
    for meta, data in zip(index["parts"], parts):
        if sha256_hex(data) != meta["sha256"]:
            raise RbacBackupError(f"part {meta['name']} does not match its checksum (changed or damaged since it was written)")
    try:
        doc = gzip.decompress(b"".join(parts))
    except (OSError, EOFError, ValueError) as exc:
        raise RbacBackupError(f"the parts do not decompress ({exc})")
    if sha256_hex(doc) != index["sha256"]:
        raise RbacBackupError("the decompressed backup does not match the checksum of the index")
    return read_backup_document(doc)


def backup_layout(entries: dict, chunk_bytes: int = BACKUP_CHUNK_DEFAULT) -> dict:
    """How large the backup of ``entries`` is and how many objects it takes (index included)."""
    enc = encode_backup(entries, chunk_bytes)
    return {
        "entries": enc["entries"],
        "json_bytes": enc["json_bytes"],
        "compressed_bytes": enc["compressed_bytes"],
        "chunk_bytes": chunk_bytes,
        "objects": len(enc["parts"]) + 1,
        "sha256": enc["sha256"],
    }


def restored_subjects(current: list, add: list, saved: list, namespace: str | None) -> list:
    """The subjects after a restore: what is there now, in its order, plus what comes back.

    A subject that comes back takes its saved place: after the subject saved before it, or
    before the one saved after it. When nothing changed since, that is the saved list.
    """
    saved = saved or []
    keys = [_subject_key(s, namespace) for s in saved]
    taken: set = set()

    def saved_index(subject):
        key = _subject_key(subject, namespace)
        for i, k in enumerate(keys):
            if k == key and i not in taken:
                taken.add(i)
                return i
        return None

    result = [(copy.deepcopy(s), saved_index(s)) for s in current or []]
    for subject, index in sorted(((s, saved_index(s)) for s in add or []), key=lambda p: (p[1] is None, p[1] or 0)):
        pos = len(result)
        if index is not None:
            before = [p for p, (_s, i) in enumerate(result) if i is not None and i < index]
            after = [p for p, (_s, i) in enumerate(result) if i is not None and i > index]
            if before:
                pos = max(before, key=lambda p: result[p][1]) + 1
            elif after:
                pos = min(after, key=lambda p: result[p][1])
        result.insert(pos, (copy.deepcopy(subject), index))
    return [s for s, _i in result]


def plan_restore(entries: dict, live_bindings: list, keys=None, recreate_deleted: bool = False) -> dict:
    """What a restore changes: subjects the lock-down removed come back, what is there now stays.

    ``live_bindings``: every RoleBinding and ClusterRoleBinding of the cluster as the API server
    returns them. Returns ``changes`` (create or patch, with the subjects before and after),
    ``unchanged`` (keys whose binding holds everything already) and ``conflicts``: the binding
    changed in a way a restore must not paper over (roleRef changed, binding re-created, deleted
    after a patch, a removed subject granted the same role by another binding now). A conflict
    leaves that binding, or that subject, as it is.
    """
    live = {}
    for obj in live_bindings:
        kind = obj.get("kind")
        live[(kind, _binding_namespace(obj), _meta(obj).get("name"))] = obj
    saved_ids = set()
    for entry in entries.values():
        b = entry["binding"]
        saved_ids.add((b["kind"], _binding_namespace(b), _meta(b).get("name")))
    # Who holds which role where through bindings the backup is not about.
    grants: dict = {}
    for ident, obj in live.items():
        if ident in saved_ids:
            continue
        ns = ident[1]
        role = _role_ref_id(obj)
        for s in obj.get("subjects") or []:
            grants.setdefault((ident[0], ns) + role + (_subject_key(s, ns),), binding_ref(obj))

    def granted_elsewhere(binding: dict, subject: dict) -> str | None:
        ns = _binding_namespace(binding)
        role = _role_ref_id(binding)
        key = _subject_key(subject, ns)
        hit = grants.get((binding["kind"], ns) + role + (key,))
        if hit is None and binding["kind"] == "RoleBinding" and role[0] == "ClusterRole":
            hit = grants.get(("ClusterRoleBinding", None) + role + (key,))
        return hit

    result: dict = {"changes": [], "unchanged": [], "conflicts": []}

    def conflict(key, ref, reason, message, subjects=None):
        result["conflicts"].append({"key": key, "binding": ref, "reason": reason, "message": message, "subjects": subjects or []})

    for key in sorted(keys if keys is not None else entries):
        entry = entries[key]
        saved = entry["binding"]
        ns = _binding_namespace(saved)
        name = _meta(saved).get("name")
        ref = binding_ref(saved)
        saved_subjects = saved.get("subjects") or []
        removed = entry.get("removed_subjects")
        current = live.get((saved["kind"], ns, name))
        if current is None:
            if removed is None:
                removed = saved_subjects
            elif entry.get("action") == "patch" and not recreate_deleted:
                conflict(
                    key,
                    ref,
                    "deleted",
                    f"{ref} was deleted after the lock-down took {describe_subjects(removed, ns)} out of it; the restore does not "
                    "create again a binding someone deleted. Restore with recreate_deleted (rbac_restore_recreate_deleted) to create it "
                    "with the subjects the lock-down removed.",
                    removed,
                )
                continue
            base: list = []
            add = list(removed)
        else:
            role_now, role_saved = _role_ref_id(current), _role_ref_id(saved)
            if role_now != role_saved:
                conflict(
                    key,
                    ref,
                    "role_changed",
                    f"{ref} now refers to {role_now[0]} {role_now[1]}, the backup to {role_saved[0]} {role_saved[1]} (the binding was "
                    f"created again with another role): left as it is, {describe_subjects(removed if removed is not None else saved_subjects, ns)} "
                    "not added back. Delete the binding and run the restore again to get the saved one back, or grant the access another way.",
                    removed if removed is not None else saved_subjects,
                )
                continue
            base = current.get("subjects") or []
            if removed is None:
                removed = subtract_subjects(saved_subjects, base, ns)
            add = subtract_subjects(removed, base, ns)
            if not add:
                result["unchanged"].append(key)
                continue
            uid_now = _meta(current).get("uid")
            if entry.get("uid") and uid_now and uid_now != entry["uid"]:
                how = "deleted by the lock-down" if entry.get("action") == "delete" else "deleted"
                conflict(
                    key,
                    ref,
                    "recreated",
                    f"{ref} was {how} and created again since (it now holds {describe_subjects(base, ns)}): left as it is, "
                    f"{describe_subjects(add, ns)} not added back. Add them by hand if they should have this access again, or delete "
                    f"{ref} and run the restore again.",
                    add,
                )
                continue
        kept = []
        for s in add:
            other = granted_elsewhere(saved, s)
            if other is None:
                kept.append(s)
                continue
            role = _role_ref_id(saved)
            conflict(
                key,
                ref,
                "granted_elsewhere",
                f"{describe_subjects([s], ns)} was removed from {ref} by the lock-down and holds {role[0]} {role[1]} there again through "
                f"{other}: not added back to {ref}. Delete {other} and run the restore again if the saved binding should hold it.",
                [s],
            )
        if not kept:
            continue
        after = restored_subjects(base, kept, saved_subjects, ns)
        change = {
            "key": key,
            "action": "create" if current is None else "patch",
            "kind": saved["kind"],
            "namespace": ns,
            "name": name,
            "binding": ref,
            "added": kept,
            "subjects_before": [copy.deepcopy(s) for s in base],
            "subjects_after": after,
        }
        if current is None:
            obj = copy.deepcopy(saved)
            obj["subjects"] = after
            change["object"] = obj
        else:
            change["resource_version"] = _meta(current).get("resourceVersion")
        result["changes"].append(change)
    return result


# ------------------------------------------------------------------------------------ reports
def _md_escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_section(title: str, header: tuple, rows: list, empty: str | None = None) -> list:
    """A section of the report: its title, then a table of ``rows`` (lists of cells), or ``empty``."""
    out = [f"## {title}", ""]
    if rows:
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        out += ["| " + " | ".join(row) + " |" for row in rows]
    elif empty:
        out.append(empty)
    out.append("")
    return out


def _finding_cells(f: dict) -> list:
    scope = "namespace `%s`" % f["namespace"] if f["namespace"] else "cluster"
    via = "<br>".join("%s → %s" % (v["binding"], v["role"]) for v in f["via"])
    if f.get("service_accounts"):
        title = pod_detail(f["risk"], f["namespace"], f["service_accounts"], f.get("service_accounts_total") or 0)
    else:
        title = _risk_title(f["risk"], f["scope"])
    name = f["name"] if f["kind"] != "ServiceAccount" else "%s/%s" % (f["subject_namespace"], f["name"])
    return [f["severity"], "%s `%s`" % (f["kind"], _md_escape(name)), "%s: %s" % (f["risk"], _md_escape(title)), scope, _md_escape(via)]


def _subject_cells(s: dict) -> list:
    name = s["name"] if s["kind"] != "ServiceAccount" else "%s/%s" % (s["namespace"], s["name"])
    bnames = "<br>".join(
        "%s %s → %s %s"
        % (
            b["kind"],
            b["name"] if not b["namespace"] else "%s/%s" % (b["namespace"], b["name"]),
            b["role_ref"]["kind"],
            b["role_ref"]["name"],
        )
        for b in s["bindings"]
    )
    writes = ", ".join("all namespaces" if w == "*" else w for w in s["write_namespaces"]) if s["can_write"] else "no"
    return ["%s `%s`" % (s["kind"], _md_escape(name)), "yes" if s["system"] else "no", _md_escape(writes), s["severity"], _md_escape(bnames)]


def _role_cells(r: dict) -> list:
    name = r["name"] if not r["namespace"] else "%s/%s" % (r["namespace"], r["name"])
    agg = "yes" + (" (controller has not caught up)" if r["aggregation_pending"] else "") if r["aggregated"] else "no"
    return ["%s `%s`" % (r["kind"], _md_escape(name)), agg, ", ".join(r["risk_ids"]) or "-", _md_escape("<br>".join(r["bound_by"]) or "unbound")]


def _plan_cells(item: dict) -> list:
    ref = item["name"] if not item["namespace"] else "%s/%s" % (item["namespace"], item["name"])
    rem = ", ".join("%s %s" % (s.get("kind"), s.get("name")) for s in item["remove_subjects"])
    keep = ", ".join("%s %s" % (s.get("kind"), s.get("name")) for s in item["keep_subjects"]) or "-"
    return [item["action"], "%s `%s`" % (item["kind"], _md_escape(ref)), _md_escape(rem), _md_escape(keep), _md_escape(item["reason"])]


def render_markdown(result, title="Kubernetes RBAC audit"):
    """A Markdown report of an audit result (the dict returned by ``Audit.result`` plus extras)."""
    lines = ["# %s" % title, ""]
    summary = result.get("summary") or {}
    caller = result.get("caller")
    lines.append("## Summary")
    lines.append("")
    lines.append(
        "- Objects read: %s ClusterRoles, %s Roles, %s ClusterRoleBindings, %s RoleBindings"
        % (summary.get("cluster_roles", 0), summary.get("roles", 0), summary.get("cluster_role_bindings", 0), summary.get("role_bindings", 0))
    )
    lines.append("- Subjects: %s in bindings, %s listed" % (summary.get("subjects_total", 0), summary.get("subjects_listed", 0)))
    sev = summary.get("by_severity") or {}
    lines.append("- Findings: %s (%s)" % (summary.get("findings", 0), ", ".join("%s %s" % (sev.get(s, 0), s) for s in SEVERITIES)))
    people = summary.get("people_with_write") or []
    lines.append(
        "- People (users and groups outside `system:`) with write access: %s" % (", ".join("`%s`" % p for p in people) if people else "none")
    )
    if summary.get("missing_roles"):
        lines.append("- Bindings refer to missing roles: %s" % ", ".join("`%s`" % r for r in summary["missing_roles"]))
    if caller:
        lines.append(
            "- Audit ran as `%s` (groups: %s)%s"
            % (
                caller.get("username"),
                ", ".join(caller.get("groups") or []) or "none",
                "; member of system:masters, which bypasses RBAC" if caller.get("bypasses_rbac") else "",
            )
        )
    lines.append("")
    lines += _md_section("Findings", ("Severity", "Subject", "Risk", "Scope", "Granted by"),
                         [_finding_cells(f) for f in result.get("findings") or []], "No findings.")
    lines += _md_section("Subjects", ("Subject", "System", "Can write", "Severity", "Bindings"),
                         [_subject_cells(s) for s in result.get("subjects") or []], "No subjects listed.")
    roles = [r for r in result.get("roles") or [] if r["risk_ids"] or r["aggregated"]]
    if roles:
        lines += _md_section("Roles with findings", ("Role", "Aggregated", "Risks", "Bound by"), [_role_cells(r) for r in roles])
    plan = result.get("lockdown_plan")
    if plan is not None:
        lines += _md_section("Lock-down plan", ("Action", "Binding", "Subjects removed", "Subjects kept", "Reason"),
                             [_plan_cells(item) for item in plan], "Nothing to change.")
    lines.append("## What this audit cannot see")
    lines.append("")
    for text in result.get("limitations") or []:
        lines.append("- %s" % text)
    lines.append("")
    return "\n".join(lines)
