# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admission guard and break-glass grants: pure builders, tested without a cluster.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

RBAC can only grant: a cluster-admin binding made tomorrow, or a ``system:masters`` client
certificate, writes around Git whatever the lock-down removed. A ValidatingAdmissionPolicy is
evaluated after authorization on every write, for cluster-admins and ``system:masters`` too.
This module builds

* a generic policy (``build_policy``): which writes it sees (match constraints), whose writes it
  judges (match conditions on ``request.userInfo``), and what it requires (validations);
* the human guard (``human_guard_policy``): writes by users and groups that are neither system
  components, nor on the allowlist, nor break-glass, are refused; a user holding an unexpired
  break-glass grant is let through by one more match condition (``grant_condition``);
* the dry-run-only policy (``dry_run_only_policy``): every write of one identity (a pipeline's
  credential, say) must be a dry run;
* their bindings (``build_binding``), the probe copies the lock-out check uses, and the
  break-glass grants (ClusterRoleBindings whose annotations carry user, expiry and reason).

CEL string literals are written with JSON escaping, which CEL reads the same way.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re

from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError
from ansible_collections.gitops.bootstrap.plugins.module_utils._names import name_error

ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
MANAGED_VALUE = "gitops.bootstrap"
GUARD_LABEL = "gitops.bootstrap/admission-guard"
PROBE_LABEL = "gitops.bootstrap/admission-probe"
GRANT_LABEL = "gitops.bootstrap/break-glass-grant"
ANNOTATION_USER = "gitops.bootstrap/break-glass-user"
ANNOTATION_EXPIRES = "gitops.bootstrap/break-glass-expires"
ANNOTATION_REASON = "gitops.bootstrap/break-glass-reason"
ANNOTATION_GRANTED = "gitops.bootstrap/break-glass-granted"
GRANT_CONDITION = "not-a-break-glass-grant"
GRANTS_FIELD_MANAGER = "gitops.bootstrap-breakglass"
MESSAGE_MARK = "gitops.bootstrap admission guard"

# Identities of the control plane's own components. Listed by name rather than by a prefix,
# so that a person cannot pass by calling themselves system:something.
SYSTEM_USERS = (
    "system:apiserver",
    "system:kube-controller-manager",
    "system:kube-scheduler",
    "system:kube-proxy",
)
# Kubelets (the Node authorizer confines them) and the controllers of kube-system, when the
# controller-manager runs them with their own ServiceAccounts.
SYSTEM_GROUPS = ("system:nodes", "system:serviceaccounts:kube-system")
# Groups that stand for everyone (or every certificate holder): putting one on the allowlist
# would turn the guard off, so it is refused.
EVERYONE_GROUPS = frozenset(["system:authenticated", "system:unauthenticated", "system:serviceaccounts", "system:masters"])
EVERYONE_USERS = frozenset(["system:anonymous"])

WRITE_OPERATIONS = ("CREATE", "UPDATE", "DELETE")
# Requests that are not changes of desired state: reviews (answers, never stored), events and leases.
NOT_DESIRED_STATE = (
    ("", ("events",)),
    ("events.k8s.io", ("events",)),
    ("coordination.k8s.io", ("leases",)),
    ("authentication.k8s.io", ("tokenreviews", "selfsubjectreviews")),
    ("authorization.k8s.io", ("subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews", "selfsubjectrulesreviews")),
)

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AdmissionInputError(GitopsInputError):
    """Input that cannot become a guard or a grant; the message says what to change."""


# ------------------------------------------------------------------------------ input
def cel_string(value: str) -> str:
    """A CEL string literal for value."""
    return json.dumps(value)


def cel_list(values) -> str:
    return "[" + ", ".join(cel_string(v) for v in values) + "]"


def identity_name_error(value, what: str) -> str | None:
    """Why value cannot be a user or group name (None when it can)."""
    if not isinstance(value, str) or not value:
        return f"{what} is empty; give the name as the authenticator sends it"
    if value != value.strip() or _CONTROL.search(value):
        return f"{what} {value!r} has leading or trailing spaces or control characters"
    if "*" in value:
        return f"{what} {value!r} contains '*': names are matched exactly, there are no wildcards"
    if len(value) > 1024:
        return f"{what} is longer than 1024 characters"
    return None


def service_account_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def subject_identity(subject, index: int) -> tuple[str, str]:
    """``("user"|"group", name)`` of an allowlist subject, or AdmissionInputError."""
    what = f"allow_subjects[{index}]"
    if not isinstance(subject, dict):
        raise AdmissionInputError(f"{what} is not a subject: give {{kind: User|Group|ServiceAccount, name: ..., namespace: ...}}.")
    kind, name, namespace = subject.get("kind"), subject.get("name"), subject.get("namespace")
    if kind not in ("User", "Group", "ServiceAccount"):
        raise AdmissionInputError(f"{what}: kind {kind!r} is not User, Group or ServiceAccount.")
    if kind == "ServiceAccount":
        problem = name_error(namespace, "dns1123_label", f"{what} namespace") or name_error(name, "dns1123_subdomain", f"{what} name")
        if problem:
            raise AdmissionInputError(f"{problem}. A ServiceAccount subject needs its namespace and name.")
        return "user", service_account_user(namespace, name)
    if namespace:
        raise AdmissionInputError(f"{what}: a {kind} has no namespace (only a ServiceAccount has one).")
    problem = identity_name_error(name, f"{what} name")
    if problem:
        raise AdmissionInputError(problem + ".")
    if kind == "Group" and name in EVERYONE_GROUPS or kind == "User" and name in EVERYONE_USERS:
        raise AdmissionInputError(
            f"{what}: {kind} {name} stands for everyone (or every holder of an admin certificate); allowing it would turn the guard off. "
            "List the people or automation that may write instead."
        )
    return kind.lower(), name


def exempt_identities(allow_subjects, break_glass_groups, system_users=SYSTEM_USERS, system_groups=SYSTEM_GROUPS,
                      require_break_glass: bool = True) -> tuple[list[str], list[str]]:
    """The users and groups the guard lets through, sorted; bad input raises AdmissionInputError."""
    users, groups = set(), set()
    for index, value in enumerate(system_users or []):
        problem = identity_name_error(value, f"system_users[{index}]")
        if problem:
            raise AdmissionInputError(problem + ".")
        users.add(value)
    for index, value in enumerate(system_groups or []):
        problem = identity_name_error(value, f"system_groups[{index}]")
        if problem or value in EVERYONE_GROUPS:
            raise AdmissionInputError((problem or f"system_groups[{index}]: {value} stands for everyone, which would turn the guard off") + ".")
        groups.add(value)
    for index, subject in enumerate(allow_subjects or []):
        kind, name = subject_identity(subject, index)
        (users if kind == "user" else groups).add(name)
    if require_break_glass and not break_glass_groups:
        raise AdmissionInputError(
            "break_glass_groups is empty: with the guard on, nobody could write in an emergency. Name at least one group "
            "(members may write; time-boxed grants go through playbooks/breakglass.yml)."
        )
    for index, value in enumerate(break_glass_groups or []):
        problem = identity_name_error(value, f"break_glass_groups[{index}]")
        if problem or value in EVERYONE_GROUPS:
            raise AdmissionInputError((problem or f"break_glass_groups[{index}]: {value} stands for everyone") + ".")
        groups.add(value)
    return sorted(users), sorted(groups)


def excluded_namespaces_error(namespaces) -> str | None:
    for index, value in enumerate(namespaces or []):
        problem = name_error(value, "dns1123_label", f"exclude_namespaces[{index}]")
        if problem:
            return problem
    return None


# ------------------------------------------------------------------------------ policies
def labels(name: str, extra: dict | None = None) -> dict:
    out = {MANAGED_LABEL: MANAGED_VALUE, GUARD_LABEL: name}
    out.update(extra or {})
    return out


def write_rules(operations=WRITE_OPERATIONS) -> dict:
    """Match constraints: every write to every resource (and the scale subresource), events, leases and reviews excepted."""
    return {
        "resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": list(operations), "resources": ["*", "*/scale"], "scope": "*"}],
        "excludeResourceRules": [
            {"apiGroups": [group], "apiVersions": ["*"], "operations": list(operations), "resources": list(resources), "scope": "*"}
            for group, resources in NOT_DESIRED_STATE
        ],
    }


def build_policy(name: str, match_conditions: list[dict], validations: list[dict], description: str,
                 param_kind: dict | None = None, operations=WRITE_OPERATIONS, extra_labels: dict | None = None) -> dict:
    """A ValidatingAdmissionPolicy over the writes of ``operations``: ``match_conditions`` choose whose
    requests it judges, ``validations`` what they must satisfy. A failing expression refuses (Fail)."""
    spec = {
        "failurePolicy": "Fail",
        "matchConstraints": write_rules(operations),
        "matchConditions": match_conditions,
        "validations": validations,
    }
    if param_kind:
        spec["paramKind"] = param_kind
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels(name, extra_labels), "annotations": {"gitops.bootstrap/description": description}},
        "spec": spec,
    }


def refusal_message(break_glass_groups, infra_repo: str = "") -> str:
    where = f" ({infra_repo})" if infra_repo else ""
    return (
        "changes by people are not accepted in this cluster, whatever RBAC allows. "
        f"Ship the change through the infra repository{where}: commit it, open a pull request, and Argo CD applies it once merged. "
        f"In an emergency: members of {', '.join(break_glass_groups)} may write; a time-boxed grant for one person comes from "
        "playbooks/breakglass.yml (user, reason, duration), and expires by itself."
    )


def human_guard_policy(name: str, exempt_users, exempt_groups, break_glass_groups, infra_repo: str = "") -> dict:
    """The human guard: writes by identities that are not exempt are refused. Dry runs pass (kubectl diff), except
    on probe objects. Users of unexpired break-glass grants are let through by one more match condition
    (``grant_condition``), which k8s_breakglass owns (server-side apply, a field manager of its own)."""
    advice = refusal_message(break_glass_groups, infra_repo)
    message = f"{MESSAGE_MARK}: {advice}"
    conditions = [
        {
            "name": "not-an-exempt-identity",
            "expression": (
                f"!(request.userInfo.username in {cel_list(exempt_users)}) && "
                f"!(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in {cel_list(exempt_groups)}))"
            ),
        },
        {
            "name": "not-a-dry-run",
            "expression": (
                "!(has(request.dryRun) && request.dryRun) || (object != null && has(object.metadata.labels) && "
                f"{cel_string(PROBE_LABEL)} in object.metadata.labels)"
            ),
        },
    ]
    validations = [
        {
            "expression": "false",
            "message": message,
            "messageExpression": (
                f"{cel_string(MESSAGE_MARK + ': ')} + request.operation + \" of \" + request.resource.resource + "
                f"\" by \" + request.userInfo.username + \": \" + {cel_string(advice)}"
            ),
            "reason": "Forbidden",
        }
    ]
    return build_policy(
        name, conditions, validations,
        "Refuses writes by people (users and groups neither system components nor allowlisted nor break-glass); managed by gitops.bootstrap.",
    )


def grant_condition(users) -> dict:
    """The match condition that lets the users of unexpired break-glass grants through."""
    users = sorted(set(users))
    return {"name": GRANT_CONDITION, "expression": f"!(request.userInfo.username in {cel_list(users)})" if users else "true"}


def grant_patch(policy_name: str, users) -> dict:
    """What k8s_breakglass applies to the guard's policy: its one match condition (matchConditions is a list keyed by name)."""
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy_name},
        "spec": {"matchConditions": [grant_condition(users)]},
    }


def dry_run_only_policy(name: str, users=(), groups=(), reason: str = "") -> dict:
    """Every write of these users or groups must be a dry run (a pipeline credential that may only preview)."""
    if not users and not groups:
        raise AdmissionInputError("A dry-run-only policy needs at least one user or group; an empty list would match nobody.")
    for index, value in enumerate(list(users) + list(groups)):
        problem = identity_name_error(value, f"identity[{index}]")
        if problem or value in EVERYONE_GROUPS | EVERYONE_USERS:
            raise AdmissionInputError((problem or f"identity[{index}]: {value} stands for everyone") + ".")
    message = f"{MESSAGE_MARK}: this identity may only send dry-run requests{': ' + reason if reason else ''}."
    conditions = [{
        "name": "the-identity",
        "expression": (
            f"request.userInfo.username in {cel_list(sorted(users))} || "
            f"(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in {cel_list(sorted(groups))}))"
        ),
    }]
    validations = [{"expression": "has(request.dryRun) && request.dryRun", "message": message, "reason": "Forbidden"}]
    return build_policy(name, conditions, validations, "Only dry runs for one identity; managed by gitops.bootstrap.")


def build_binding(name: str, policy_name: str, actions: list[str], exclude_namespaces=(), object_selector: dict | None = None) -> dict:
    """The binding of a policy, with its validation actions and the namespaces it skips."""
    spec: dict = {"policyName": policy_name, "validationActions": list(actions)}
    match: dict = {}
    if exclude_namespaces:
        match["namespaceSelector"] = {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": sorted(set(exclude_namespaces))}
        ]}
    if object_selector:
        match["objectSelector"] = object_selector
    if match:
        spec["matchResources"] = match
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels(policy_name)},
        "spec": spec,
    }


def actions_for(mode: str) -> list[str]:
    """audit: people see a warning and nothing is refused; enforce: refused."""
    if mode == "audit":
        return ["Audit", "Warn"]
    if mode == "enforce":
        return ["Deny"]
    raise AdmissionInputError(f"mode {mode!r} is not audit or enforce.")


def probe_objects(policy: dict) -> tuple[dict, dict]:
    """A copy of the policy and a Deny binding that see only objects labelled as probes: what the lock-out
    check writes (as dry runs) to learn whether the guard would refuse an identity, before the real binding
    exists. A break-glass grant, which expires, does not count as a way in."""
    name = f"{policy['metadata']['name']}-probe"
    probe = json.loads(json.dumps(policy))
    probe["metadata"]["name"] = name
    probe["metadata"]["labels"] = labels(name, {PROBE_LABEL: "true"})
    probe["spec"]["matchConditions"] = [c for c in probe["spec"]["matchConditions"] if c["name"] != GRANT_CONDITION]
    binding = build_binding(name, name, ["Deny"], object_selector={"matchLabels": {PROBE_LABEL: "true"}})
    binding["metadata"]["labels"][PROBE_LABEL] = "true"
    return probe, binding


def probe_configmap(namespace: str, token: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"gitops-admission-probe-{token}", "namespace": namespace, "labels": {PROBE_LABEL: "true"}},
        "data": {"probe": "a dry run: never stored"},
    }


# ------------------------------------------------------------------------------ break-glass
def parse_duration(value, what: str = "duration") -> int:
    """Seconds of ``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``, ``"1h30m"``; AdmissionInputError otherwise."""
    if isinstance(value, bool):
        raise AdmissionInputError(f"{what} {value!r} is not a duration.")
    if isinstance(value, int):
        seconds = value
    else:
        text = str(value or "").strip()
        if text.isdigit():
            seconds = int(text)
        else:
            match = _DURATION.fullmatch(text)
            if not text or not match or not any(match.groups()):
                raise AdmissionInputError(f"{what} {value!r} is not a duration: write it as 90s, 30m, 2h, 1d or 1h30m.")
            d, h, m, s = (int(g or 0) for g in match.groups())
            seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise AdmissionInputError(f"{what} {value!r} is not a positive duration; a grant without a time bound is not given.")
    return seconds


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def grant_name(prefix: str, user: str) -> str:
    """A binding name per user: readable, unique (a hash of the exact name), at most 253 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")[:40] or "user"
    digest = hashlib.sha256(user.encode("utf-8")).hexdigest()[:10]
    return f"{prefix}-{slug}-{digest}"


def build_grant(prefix: str, user: str, role: str, reason: str, now: datetime.datetime, seconds: int, guard: str) -> dict:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": grant_name(prefix, user),
            "labels": {MANAGED_LABEL: MANAGED_VALUE, GRANT_LABEL: guard},
            "annotations": {
                ANNOTATION_USER: user,
                ANNOTATION_REASON: reason,
                ANNOTATION_GRANTED: format_time(now),
                ANNOTATION_EXPIRES: format_time(now + datetime.timedelta(seconds=seconds)),
            },
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def describe_grant(binding: dict, now: datetime.datetime) -> dict:
    """What a grant binding says: user, reason, granted, expires, expired (a grant without a readable expiry is expired)."""
    meta = binding.get("metadata") or {}
    notes = meta.get("annotations") or {}
    expires = parse_time(notes.get(ANNOTATION_EXPIRES))
    return {
        "name": meta.get("name"),
        "user": notes.get(ANNOTATION_USER) or "",
        "reason": notes.get(ANNOTATION_REASON) or "",
        "granted": notes.get(ANNOTATION_GRANTED) or "",
        "expires": notes.get(ANNOTATION_EXPIRES) or "",
        "role": (binding.get("roleRef") or {}).get("name"),
        "expired": expires is None or expires <= now,
    }


def active_users(grants) -> list[str]:
    return sorted({g["user"] for g in grants if not g["expired"] and g["user"]})
