#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: k8s_rbac_audit
short_description: Audit Kubernetes RBAC, answer access questions and plan a write lock-down
version_added: 0.1.0
description:
  - Reads every Role, ClusterRole, RoleBinding and ClusterRoleBinding of a cluster and evaluates them
    with the RBAC authorizer's own rules (subject matching, wildcards, C(*/subresource), resource names,
    non-resource URLs). ClusterRole aggregation is resolved from the label selectors, transitively.
  - For each subject (User, Group, ServiceAccount) named by a binding it returns the effective rules
    cluster-wide and per namespace, the risks they carry and whether they grant write access.
  - "Risks: C(cluster_admin) (every verb on every resource), C(escalate), C(bind), C(impersonate),
    C(nodes_proxy), C(admission_webhooks) (edits webhook or admission policy configuration),
    C(argocd_write) (writes Argo CD Applications, AppProjects or ApplicationSets), C(argocd_secrets) (reads or
    writes Secrets in Argo CD's namespace, where its cluster and repository credentials are), C(token_create)
    (C(serviceaccounts/token)), C(csr_approval), C(rbac_write), C(pod_exec), C(pod_create), C(secrets_read),
    C(workload_write), C(namespace_write) (Pod Security labels), C(node_write) (nodes and C(nodes/status)),
    C(status_write) (C(pods/status), C(services/status)), C(persistent_volume_create) and C(wildcard).
    RV(risk_catalog) says what each means and why it is rated as it is."
  - The Argo CD risks are critical. Argo CD deploys with its own cluster-wide permissions, so whoever controls
    what it deploys, or its credentials, holds cluster-admin through it. They are counted cluster-wide and in
    O(argocd_namespaces).
  - C(pod_exec) follows the API server audited. Exec and attach over a WebSocket start as an HTTP GET; from
    Kubernetes 1.35 (feature gate C(AuthorizePodWebsocketUpgradeCreatePermission), on by default) the server
    also asks for C(create), so C(get) on C(pods/exec) alone is no exec risk there, while older servers let it
    run commands. The version comes from C(/version), the gate from C(/metrics) when readable (RV(server));
    when the version is unknown, C(get) counts, and RV(limitations) says so.
  - Whoever can start pods in a namespace (C(create pods), or writing a Deployment, Job, ... whose pod template it
    sets) can run them as any ServiceAccount of that namespace. When one of those holds more than the subject,
    the C(pod_create) and C(workload_write) findings name it (C(service_accounts) in RV(findings)) and take its
    severity.
  - Answers access questions (O(access_checks), O(who_can)) from the RBAC objects, filters the result
    with a JMESPath O(query), and writes a Markdown or JSON report.
  - With O(lockdown), also plans the removal of write access from people (users and groups outside
    C(system:)), backs up what would be removed and runs the lock-out guard. The identity running the
    module and the break-glass groups must keep the access they need, checked with
    SelfSubjectAccessReview and SubjectAccessReview against the API server and with this module's
    prediction of the state after the lock-down. The module itself never changes the cluster.
  - The result states what the audit cannot see (RV(limitations)). Members of C(system:masters) pass
    every check without RBAC, and other authorizers (Node, Webhook) can allow more than RBAC does.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes
  - gitops.bootstrap.access_request.access_checks
attributes:
  check_mode:
    support: full
    details:
      - The audit only reads. In check mode the report file is not written; C(changed) tells whether it would change.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Only the report file can change; it is rewritten only when its content differs.
options:
  include_rules:
    description:
      - Copy the rules of each role into every grant of RV(subjects), so that each subject carries its effective rules
        cluster-wide and per namespace.
      - Without it, grants name their role and the rules are listed once per role in RV(roles) (a much smaller result
        on large clusters).
    type: bool
    default: false
  include_default_bindings:
    description:
      - Also list the subjects, bindings and roles that only the API server's default objects (label
        C(kubernetes.io/bootstrapping=rbac-defaults)) involve, such as the controllers in C(kube-system)
        and the group C(system:masters).
      - Evaluation always uses every object; this only changes what is listed.
    type: bool
    default: false
  subject_kinds:
    description: List only subjects of these kinds.
    type: list
    elements: str
    choices: [User, Group, ServiceAccount]
  namespaces:
    description:
      - List only grants in these namespaces (cluster-wide grants are always listed).
    type: list
    elements: str
  argocd_namespaces:
    description:
      - Namespaces where Argo CD runs (its Applications, AppProjects, ApplicationSets and credential Secrets).
        Grants there, and cluster-wide grants, on those objects and Secrets are classified as C(argocd_write)
        and C(argocd_secrets). List every namespace Argo CD reads Applications from ("apps in any namespace").
      - Default V([argocd]) when the cluster serves Argo CD's API (C(argoproj.io) Applications), none otherwise.
        V([]) says that Argo CD does not run in this cluster.
    type: list
    elements: str
  system_namespaces:
    description: Namespaces whose service accounts count as system components (RV(subjects[].system)).
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
  access_checks:
    description:
      - Questions of the form "may this identity make this request", answered from the RBAC objects
        (RV(access_checks)). Use M(gitops.bootstrap.k8s_access_review) to ask the API server itself.
    type: list
    elements: dict
    default: []
  who_can:
    description:
      - Requests for which to list every subject (named by some binding) that RBAC allows to make them,
        like C(kubectl who-can). Identity fields are ignored.
    type: list
    elements: dict
    default: []
    suboptions: &plain_request_options
      verb:
        description: API verb.
        type: str
        required: true
      resource:
        description: Resource (plural, lower case).
        type: str
      api_group:
        description: API group of the resource, V("") for the core group.
        type: str
        default: ""
      subresource:
        description: Subresource.
        type: str
      name:
        description: Object name.
        type: str
      namespace:
        description: Namespace; empty for cluster-scoped requests.
        type: str
      non_resource_url:
        description: A non-resource path.
        type: str
  query:
    description:
      - A JMESPath expression applied to the result (the keys of RV(subjects), RV(findings), RV(bindings),
        RV(roles), RV(implicit_group_grants), RV(summary), RV(access_checks), RV(who_can), RV(lockdown_plan)).
        Its value is returned as RV(query_result), and the long lists are then left out of the result.
      - Needs the C(jmespath) Python package where the module runs.
    type: str
  report_path:
    description:
      - Write a report of the full audit (not of O(query)) to this file on the host running the module.
    type: path
  report_format:
    description: Format of the report file.
    type: str
    choices: [markdown, json]
    default: markdown
  lockdown:
    description:
      - Plan the removal of write access from people and run the lock-out guard. Nothing is changed by
        this module; the plan is returned in RV(lockdown_plan) for the caller to apply (the
        C(gitops.bootstrap.rbac_lockdown) role does).
      - A binding whose role grants write access (write verbs, C(escalate), C(bind), C(impersonate),
        exec into pods or C(nodes/proxy)) loses its User and Group subjects, except C(system:) names, the
        break-glass groups and the allowlist. C(system:authenticated), C(system:unauthenticated) and
        C(system:anonymous) do count as people, since they include everyone. ServiceAccounts stay unless
        listed in O(lockdown.revoke_subjects). A binding left without subjects is deleted, otherwise patched.
    type: dict
    suboptions:
      break_glass_groups:
        description: Groups that keep cluster-admin; never removed, and checked by the guard.
        type: list
        elements: str
        default: []
      allow_subjects:
        description: Subjects that keep their write access.
        type: list
        elements: dict
        default: []
        suboptions: &subject_options
          kind:
            description: Subject kind.
            type: str
            choices: [User, Group, ServiceAccount]
            required: true
          name:
            description: Subject name.
            type: str
            required: true
          namespace:
            description: Namespace of a ServiceAccount.
            type: str
      revoke_subjects:
        description:
          - ServiceAccounts or C(system:) subjects to remove from write-granting bindings, which are otherwise left alone.
        type: list
        elements: dict
        default: []
        suboptions: *subject_options
      developer_groups:
        description:
          - Group names the caller grants read-only access; only used to warn when one of them, or an
            allowlisted group, is named by no binding other than the managed ones (often a typo).
        type: list
        elements: str
        default: []
      managed_label:
        description:
          - Label (C(key=value)) of the bindings the caller manages itself; they are never removed.
        type: str
      add_bindings:
        description:
          - RoleBindings and ClusterRoleBindings the caller will create (break-glass, read-only); the
            prediction of who keeps which access includes them.
        type: list
        elements: dict
        default: []
      backup:
        description:
          - The backup of M(gitops.bootstrap.k8s_rbac_backup) (index ConfigMap and its parts, or the single ConfigMap of
            earlier versions). The backup of a binding is merged with the earlier one, so that a restore brings back
            every subject any lock-down removed.
          - With it, RV(lockdown_backup_size) tells in advance how large the backup of this plan is, how many
            ConfigMaps it takes and whether the namespace's ResourceQuotas leave room for them.
        type: dict
        suboptions:
          namespace:
            description: Namespace of the backup ConfigMaps.
            type: str
            required: true
          name:
            description: Name of the index ConfigMap.
            type: str
            required: true
          chunk_bytes:
            description: The most compressed bytes one part ConfigMap holds (as O(gitops.bootstrap.k8s_rbac_backup#module:chunk_bytes)).
            type: int
            default: 524288
      guard:
        description: Run the lock-out guard.
        type: bool
        default: true
      fail_on_lockout:
        description: Fail when the guard finds that the plan would lock out the running identity or a break-glass group.
        type: bool
        default: true
      self_access:
        description:
          - Requests the running identity must still be allowed after the lock-down (SelfSubjectAccessReview now,
            prediction after). Identity fields are ignored.
        type: list
        elements: dict
        default: []
        suboptions: *plain_request_options
      break_glass_access:
        description:
          - Requests every break-glass group must be allowed after the lock-down (SubjectAccessReview now,
            prediction after). Defaults to everything (V(*) on V(*) in every API group), that is cluster-admin.
        type: list
        elements: dict
        suboptions: *plain_request_options
notes:
  - Needs C(list) on roles, clusterroles, rolebindings and clusterrolebindings. The guard needs C(create) on
    subjectaccessreviews; every authenticated user may create selfsubjectaccessreviews and selfsubjectreviews.
  - The module never reads Secrets or any other object than the four RBAC kinds (and the backup ConfigMaps and the
    ResourceQuotas of their namespace). It also
    reads the API server's C(/version), discovery (whether C(argoproj.io) is served) and, only on servers from 1.35
    where some role grants C(get) without C(create) on C(pods/exec) or C(pods/attach), the feature gate line of
    C(/metrics); if that is not allowed, the gate's default is assumed and RV(limitations) says so.
seealso:
  - module: gitops.bootstrap.k8s_access_review
  - name: Using RBAC Authorization
    description: The Kubernetes reference for the rules this module evaluates.
    link: https://kubernetes.io/docs/reference/access-authn-authz/rbac/
  - name: Role Based Access Control Good Practices
    description: The privilege-escalation risks the findings follow.
    link: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
"""

EXAMPLES = r"""
---
- name: Who has critical permissions (users and groups only)
  gitops.bootstrap.k8s_rbac_audit:
    include_rules: false
    query: "findings[?severity=='critical' && kind!='ServiceAccount'].{who: subject, risk: risk, via: via[].binding}"
  register: critical

- name: Markdown report for the security review
  gitops.bootstrap.k8s_rbac_audit:
    report_path: /tmp/rbac-report.md
    report_format: markdown

- name: May the CI service account create Deployments in team-a, and who can read Secrets there?
  gitops.bootstrap.k8s_rbac_audit:
    include_rules: false
    access_checks:
      - service_account: ci/deployer
        verb: create
        resource: deployments
        api_group: apps
        namespace: team-a
    who_can:
      - verb: get
        resource: secrets
        namespace: team-a
  register: answers

- name: Plan taking write access away from people, keeping the platform team as break-glass
  gitops.bootstrap.k8s_rbac_audit:
    include_rules: false
    lockdown:
      break_glass_groups: [platform-admins]
      allow_subjects:
        - {kind: User, name: ci-bot}
  register: plan
"""

RETURN = r"""
subjects:
  description:
    - One entry per subject named by a listed binding, sorted by RV(subjects[].id).
    - Left out when O(query) is set.
  returned: when query is not set
  type: list
  elements: dict
  contains:
    id:
      description: C(User:NAME), C(Group:NAME) or C(ServiceAccount:NAMESPACE/NAME).
      type: str
    kind:
      description: User, Group or ServiceAccount. A User subject named C(system:serviceaccount:NS:NAME) is that ServiceAccount.
      type: str
    name:
      description: Subject name.
      type: str
    namespace:
      description: Namespace of a ServiceAccount, otherwise null.
      type: str
    username:
      description: The user name the API server sees (null for groups).
      type: str
    system:
      description: True for C(system:) users and groups and for service accounts in O(system_namespaces).
      type: bool
    bindings:
      description: The bindings naming the subject (kind, name, namespace, role_ref).
      type: list
      elements: dict
    cluster:
      description: Grants of ClusterRoleBindings (binding, role, and rules with O(include_rules)).
      type: list
      elements: dict
    namespaces:
      description: Grants of RoleBindings, by namespace.
      type: dict
    inherited_groups:
      description: Implicit groups of the identity that have grants of their own (see RV(implicit_group_grants)).
      type: list
      elements: str
    risks:
      description: Findings of the subject (id, severity, scope, namespace, title, via).
      type: list
      elements: dict
    risk_ids:
      description: The distinct risk ids.
      type: list
      elements: str
    severity:
      description: Highest severity (critical, high, medium, low) or none.
      type: str
    can_write:
      description: Whether a binding of the subject grants write access.
      type: bool
    write_namespaces:
      description: Where it can write; C(*) means cluster-wide.
      type: list
      elements: str
findings:
  description:
    - Every risk of every listed subject, most severe and cluster-wide first.
    - The severity of a C(pod_create) or C(workload_write) finding is raised to that of the most privileged
      ServiceAccount the subject can run pods as; those are named in C(service_accounts) (C(id), C(severity),
      C(risks) it holds beyond the subject, each C(risk) and C(namespace)), the five most severe, and
      C(service_accounts_total) says how many there are; the Markdown report says it in a sentence.
  returned: when query is not set
  type: list
  elements: dict
  sample:
    - subject: "User:alice"
      kind: User
      name: alice
      risk: cluster_admin
      severity: critical
      scope: cluster
      namespace: null
      title: "cluster-admin equivalent: every verb on every resource of every API group"
      via: [{binding: "ClusterRoleBinding alice-admin", role: "ClusterRole cluster-admin"}]
bindings:
  description: Listed bindings with their subjects, role, whether the role grants write, and its risk ids.
  returned: when query is not set
  type: list
  elements: dict
roles:
  description: Listed roles with their rules (aggregation resolved), risk ids, C(aggregated), C(aggregation_pending) and C(bound_by).
  returned: when query is not set
  type: list
  elements: dict
implicit_group_grants:
  description: What C(system:authenticated), C(system:unauthenticated) and the service account groups are granted.
  returned: when query is not set
  type: dict
risk_catalog:
  description: Every risk id with its C(severity), C(title) (what it means and why) and C(namespace_title).
  returned: always
  type: list
  elements: dict
server:
  description:
    - What the audited API server enforces beyond RBAC, as far as the classification depends on it. C(version) (its
      gitVersion, null when unknown), C(exec_needs_create) (true when exec and attach need C(create), false when
      C(get) is enough, null when unknown and then counted as enough), C(exec_needs_create_from) (V(feature_gate),
      V(version) or V(unknown)) and C(feature_gates) (the gate's state when read from C(/metrics)).
  returned: always
  type: dict
  sample: {version: v1.36.3, exec_needs_create: true, exec_needs_create_from: version, feature_gates: {}}
argocd_namespaces:
  description: The namespaces the Argo CD risks were counted in (O(argocd_namespaces) or its default).
  returned: always
  type: list
  elements: str
unmatched_subjects:
  description: Binding subjects that can never match (a ServiceAccount without namespace in a ClusterRoleBinding).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts, findings by severity, people (users and groups outside C(system:)) with write access, missing roles.
  returned: always
  type: dict
limitations:
  description: What the audit cannot see.
  returned: always
  type: list
  elements: str
caller:
  description:
    - The identity the module ran as (SelfSubjectReview), with C(bypasses_rbac) true for members of C(system:masters).
    - Null when the API server does not serve SelfSubjectReview.
  returned: always
  type: dict
  sample: {username: kwok-admin, groups: [system:masters, system:authenticated], bypasses_rbac: true}
access_checks:
  description: The answers to O(access_checks), each with C(allowed) and C(granted_by).
  returned: when access_checks is set
  type: list
  elements: dict
who_can:
  description: For each O(who_can) request, C(request) and the C(subjects) allowed.
  returned: when who_can is set
  type: list
  elements: dict
query_result:
  description: The value of O(query).
  returned: when query is set
  type: raw
report:
  description: Path, format and whether the report file changed.
  returned: when report_path is set
  type: dict
lockdown_plan:
  description:
    - One item per binding to change, C(action) V(delete) or V(patch), with C(remove_subjects), C(keep_subjects),
      C(reason), C(description), C(subjects) (before), C(ref) (an object reference), C(desired) (the patched binding),
      C(backup_key), C(backup) (the original, merged with an earlier backup), C(original) (the binding as it is),
      C(uid) and C(resource_version).
  returned: when lockdown is set
  type: list
  elements: dict
lockdown_backup:
  description: ConfigMap data (key to JSON text) holding the backups of RV(lockdown_plan).
  returned: when lockdown is set
  type: dict
lockdown_backup_size:
  description:
    - The backup the lock-down would write (the earlier backup merged with this plan), before anything is written.
      C(entries), C(json_bytes), C(compressed_bytes), C(chunk_bytes), C(objects) (ConfigMaps, index included),
      C(namespace), C(name), C(fits) and C(problem) (why the namespace has no room for it, from its ResourceQuotas).
  returned: when lockdown and lockdown.backup are set
  type: dict
  sample: {entries: 1840, json_bytes: 1502311, compressed_bytes: 61244, chunk_bytes: 524288, objects: 2, fits: true, problem: null}
lockdown_guard:
  description:
    - One verdict per guarded request, with C(who), C(request), C(allowed_now) (API server), C(rbac_now), C(rbac_after),
      C(keeps) and C(why).
  returned: when lockdown is set and guard is true
  type: list
  elements: dict
lockdown_managed_bindings:
  description: The bindings carrying O(lockdown.managed_label), each with C(key) (C(KIND/NAMESPACE/NAME)) and C(ref) (an object reference).
  returned: when lockdown is set
  type: list
  elements: dict
lockdown_warnings:
  description: Warnings about the lock-down input, such as a group named by no binding.
  returned: when lockdown is set
  type: list
  elements: str
"""

import json
import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
    GitopsK8sModule,
    LIST_PAGE_SIZE,
    list_pages,
    run_module,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils import _names
from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac
from ansible_collections.gitops.bootstrap.plugins.module_utils._rbac_backup import BackupStore

try:
    import jmespath

    HAS_JMESPATH = True
except ImportError:
    HAS_JMESPATH = False

RBAC_KINDS = (
    ("Role", "roles"),
    ("ClusterRole", "cluster_roles"),
    ("RoleBinding", "role_bindings"),
    ("ClusterRoleBinding", "cluster_role_bindings"),
)
PAGE_SIZE = LIST_PAGE_SIZE
EVERYTHING = {"verb": "*", "resource": "*", "api_group": "*"}
BIG_KEYS = ("subjects", "findings", "bindings", "roles", "implicit_group_grants")


class AuditManager(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.warnings = []

    # -- input -------------------------------------------------------------------------------
    def validate(self):
        """Everything that can be checked offline, before the cluster is contacted."""
        query = self.params.get("query")
        self.compiled_query = None
        if query is not None:
            if not HAS_JMESPATH:
                raise GitopsK8sError(
                    "Option query needs the jmespath Python package, which is not installed for %s. Install it "
                    "(pip install jmespath) in the Python that runs the module (ansible_python_interpreter), or drop query." % _python()
                )
            try:
                self.compiled_query = jmespath.compile(query)
            except jmespath.exceptions.JMESPathError as exc:
                raise GitopsK8sError("Option query is not a valid JMESPath expression: %s. Query was: %s" % (_one_line(exc), query))
        for name in self.params.get("argocd_namespaces") or []:
            if not _names.is_valid(name, "dns1123_label"):
                raise GitopsK8sError(
                    "argocd_namespaces: %r is not a namespace name (lower case letters, digits and '-', at most 63 characters). "
                    "List the namespaces Argo CD runs in, or [] if it does not run in this cluster." % (name,)
                )
        self.checks = []
        for index, check in enumerate(self.params.get("access_checks") or []):
            try:
                self.checks.append((check, rbac.Identity.from_check(check), rbac.Request.from_check(check)))
            except rbac.RbacInputError as exc:
                raise GitopsK8sError("access_checks[%d]: %s." % (index, exc))
        self.who_can_requests = []
        for index, item in enumerate(self.params.get("who_can") or []):
            try:
                self.who_can_requests.append((item, rbac.Request.from_check(item)))
            except rbac.RbacInputError as exc:
                raise GitopsK8sError("who_can[%d]: %s." % (index, exc))
        lockdown = self.params.get("lockdown")
        self.guard_requests = {"self": [], "break_glass": []}
        if lockdown:
            label = lockdown.get("managed_label")
            self.managed_label = None
            if label:
                key, sep, value = label.partition("=")
                if not sep or not key:
                    raise GitopsK8sError("lockdown.managed_label must be written as KEY=VALUE, got %r." % label)
                self.managed_label = (key, value)
            for spec in (lockdown.get("allow_subjects") or []) + (lockdown.get("revoke_subjects") or []):
                if spec["kind"] == "ServiceAccount" and not spec.get("namespace"):
                    raise GitopsK8sError("ServiceAccount %r in lockdown.allow_subjects/revoke_subjects needs a namespace." % spec["name"])
            self_access = lockdown.get("self_access") or []
            bg_access = lockdown.get("break_glass_access")
            if bg_access is None:
                bg_access = [EVERYTHING]
            for where, items in (("self_access", self_access), ("break_glass_access", bg_access)):
                for index, item in enumerate(items):
                    try:
                        request = rbac.Request.from_check(item)
                    except rbac.RbacInputError as exc:
                        raise GitopsK8sError("lockdown.%s[%d]: %s." % (where, index, exc))
                    self.guard_requests["self" if where == "self_access" else "break_glass"].append(request)

    # -- reads -------------------------------------------------------------------------------
    def list_all(self, kind):
        resource = self.module.resource(kind, rbac.RBAC_API_VERSION)
        return list_pages(resource, kind, f"Listing {kind}s (needed for the RBAC audit)", PAGE_SIZE)

    def whoami(self):
        """The running identity from SelfSubjectReview, or None if the server does not serve it."""
        try:
            review = self.module.create_review({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        except GitopsK8sError as exc:
            self.caller_error = exc.msg
            return None
        info = ((review or {}).get("status") or {}).get("userInfo") or {}
        groups = info.get("groups") or []
        return {"username": info.get("username"), "groups": groups, "bypasses_rbac": rbac.MASTERS in groups}

    def read_path(self, path):
        """The body of a GET on a path of the API server (/version, /metrics), as text."""
        return self.module.service.read_path(path)

    def server_info(self, lists):
        """What the API server enforces beyond RBAC (rbac.ServerInfo): its version, and the exec gate when it matters."""
        version, version_error = None, None
        try:
            version = json.loads(self.read_path("/version"))
            if not isinstance(version, dict):
                raise ValueError("not a JSON object")
        except GitopsK8sError as exc:
            version, version_error = None, _one_line(exc.msg)
        except ValueError as exc:
            version, version_error = None, "GET /version did not answer JSON (%s)" % exc
        parsed = rbac.parse_server_version(version) if version else None
        if version and parsed is None:
            version_error = "GET /version gave no version number (%s)" % _one_line(json.dumps(version))[:200]
            version = None
        gates, gates_error = {}, None
        if parsed is not None and parsed < rbac.WEBSOCKET_CREATE_SINCE:
            gates_error = "the gate does not exist before 1.35"
        else:
            rules = [rbac.normalize_rule(r) for obj in lists["roles"] + lists["cluster_roles"] for r in obj.get("rules") or []]
            if not rbac.rules_depend_on_websocket_gate(rules):
                gates_error = "not read: no role grants get without create on pods/exec or pods/attach, so it changes nothing here"
            else:
                try:
                    gates = rbac.parse_feature_gates(self.read_path("/metrics"))
                    if rbac.WEBSOCKET_CREATE_GATE not in gates:
                        gates_error = "/metrics lists no kubernetes_feature_enabled line for it"
                except GitopsK8sError as exc:
                    gates_error = _one_line(exc.msg)
        return rbac.ServerInfo(version, gates, version_error=version_error, gates_error=gates_error)

    def argocd_namespaces(self):
        """O(argocd_namespaces), or its default: argocd when the cluster serves Argo CD's API, none otherwise."""
        given = self.params.get("argocd_namespaces")
        if given is not None:
            return list(given)
        # Asked of the server's /apis itself, not of the client's discovery cache: a cache file kept
        # for the same address may describe another cluster that served there before.
        doing = "Looking up whether the cluster serves Argo CD's API (argoproj.io)"
        try:
            groups = json.loads(self.module.service.read_path("/apis", doing)).get("groups") or []
        except ValueError as exc:
            raise GitopsK8sError(f"{doing}: the API server's /apis is not JSON ({exc})") from exc
        if not any(isinstance(group, dict) and group.get("name") == "argoproj.io" for group in groups):
            return []
        return list(rbac.DEFAULT_ARGOCD_NAMESPACES)

    def snapshot(self):
        lists = dict((arg, self.list_all(kind)) for kind, arg in RBAC_KINDS)
        return rbac.RbacSnapshot(
            system_namespaces=self.params.get("system_namespaces"),
            server=self.server_info(lists),
            argocd_namespaces=self.argocd_namespaces(),
            **lists,
        )

    # -- main --------------------------------------------------------------------------------
    def run(self):
        self.validate()
        self.caller_error = None
        snap = self.snapshot()
        result = rbac.Audit(
            snap,
            include_rules=self.params["include_rules"],
            include_default_bindings=self.params["include_default_bindings"],
            subject_kinds=self.params.get("subject_kinds"),
            namespaces=self.params.get("namespaces"),
        ).result()
        caller = self.whoami()
        result["caller"] = caller
        if caller is None and self.caller_error:
            result["limitations"].append("The running identity could not be determined (SelfSubjectReview): %s" % self.caller_error)
        elif caller and caller["bypasses_rbac"]:
            result["limitations"].append(
                "This audit ran as %s, a member of system:masters: its own access does not depend on RBAC." % caller["username"]
            )
        if self.checks:
            result["access_checks"] = [
                dict(check, identity=ident.describe(), request=request.describe(), **snap.evaluate(ident, request))
                for check, ident, request in self.checks
            ]
        if self.who_can_requests:
            result["who_can"] = [{"request": request.describe(), "subjects": rbac.who_can(snap, request)} for _item, request in self.who_can_requests]
        if self.params.get("lockdown"):
            self.lockdown(snap, caller, result)

        out = {"changed": False}
        report_path = self.params.get("report_path")
        if report_path:
            out["report"] = self.write_report(report_path, result)
            out["changed"] = out["report"]["changed"]
        if self.compiled_query is not None:
            try:
                out["query_result"] = self.compiled_query.search(result)
            except jmespath.exceptions.JMESPathError as exc:
                raise GitopsK8sError("Option query could not be evaluated on the audit result: %s" % _one_line(exc))
            for key in BIG_KEYS:
                result.pop(key, None)
        out.update(result)
        for warning in self.warnings:
            self.module.warn(warning)
        return out

    # -- lock-down ---------------------------------------------------------------------------
    def lockdown(self, snap, caller, result):
        lockdown = self.params["lockdown"]
        break_glass = lockdown.get("break_glass_groups") or []
        try:
            planner = rbac.LockdownPlanner(
                snap,
                allow_subjects=lockdown.get("allow_subjects"),
                break_glass_groups=break_glass,
                revoke_subjects=lockdown.get("revoke_subjects"),
                managed_label=self.managed_label,
                add_bindings=lockdown.get("add_bindings"),
            )
        except rbac.RbacInputError as exc:
            raise GitopsK8sError("lockdown: %s." % exc)
        previous, store, stored = {}, None, None
        backup = lockdown.get("backup")
        if backup:
            store = BackupStore(self.module, backup["namespace"], backup["name"])
            stored = store.read()
            previous = stored["entries"]
        plan = planner.plan(previous)
        result["lockdown_plan"] = plan
        result["lockdown_managed_bindings"] = planner.managed_bindings()
        result["lockdown_backup"] = dict((item["backup_key"], json.dumps(item["backup"], sort_keys=True)) for item in plan)
        if store is not None:
            result["lockdown_backup_size"] = self.backup_size(store, stored, plan, backup)
        warnings = self.group_warnings(snap, lockdown)
        result["lockdown_warnings"] = warnings
        self.warnings.extend(warnings)
        if not lockdown.get("guard", True):
            return
        after = planner.snapshot_after(plan)
        verdicts = []
        if self.guard_requests["self"]:
            if caller is None:
                raise GitopsK8sError(
                    "The lock-out guard cannot tell who is running it: SelfSubjectReview failed (%s). Use an API server that "
                    "serves authentication.k8s.io/v1 SelfSubjectReview, or set lockdown.guard to false at your own risk."
                    % (self.caller_error or "no answer")
                )
            ident = rbac.Identity(caller["username"], caller["groups"])
            who = "the running identity %s" % caller["username"]
            for request in self.guard_requests["self"]:
                allowed = self.review(request, None)
                verdicts.append(self.verdict(who, ident, request, allowed, snap, after))
        for group in break_glass:
            ident = rbac.Identity(None, [group] + rbac.implicit_groups(""))
            who = "break-glass group %s" % group
            for request in self.guard_requests["break_glass"]:
                allowed = self.review(request, ident)
                verdicts.append(self.verdict(who, ident, request, allowed, snap, after))
        result["lockdown_guard"] = verdicts
        lost = [v for v in verdicts if not v["keeps"]]
        if lost and lockdown.get("fail_on_lockout", True):
            raise GitopsK8sError(
                "Refusing the RBAC lock-down, it would lock out %s. Nothing was changed. Put the identity on the allowlist "
                "(a User or Group in allow_subjects), or grant the access through a binding the lock-down keeps, then run again."
                % describe_lockout(lost),
                lockdown_guard=verdicts,
                lockdown_plan=plan,
            )

    def backup_size(self, store, stored, plan, backup):
        """The backup the lock-down would write: size, objects, and whether the backup namespace has room."""
        try:
            layout = rbac.backup_layout(rbac.merge_backup_entries(stored["entries"], plan), backup["chunk_bytes"])
        except rbac.RbacBackupError as exc:
            raise GitopsK8sError("lockdown.backup: %s." % exc)
        # The new parts are written beside the old ones; an existing index is replaced, not added.
        problem = store.quota_problem(layout["objects"] - (1 if stored["exists"] else 0)) if plan else None
        layout.update(namespace=backup["namespace"], name=backup["name"], fits=problem is None, problem=problem)
        if problem:
            self.warnings.append(
                "The lock-down backup would not fit in namespace %s: %s. Enforcing the lock-down would stop before changing any binding; "
                "raise the quota or choose another backup namespace." % (backup["namespace"], problem)
            )
        return layout

    def verdict(self, who, ident, request, allowed_now, before, after):
        now = before.evaluate(ident, request)
        rbac_after = after.allows(ident, request)
        verdict = rbac.guard_verdict({"who": who, "request": request.describe()}, allowed_now, now["allowed"], rbac_after)
        verdict["granted_by_now"] = sorted(set(g["binding"] for g in now["granted_by"]))
        return verdict

    def review(self, request, ident):
        """The API server's answer: SelfSubjectAccessReview when ident is None, else SubjectAccessReview."""
        review = self.module.create_review(rbac.access_review(request, ident))
        return bool(((review or {}).get("status") or {}).get("allowed"))

    def group_warnings(self, snap, lockdown):
        managed = self.managed_label
        named = set()
        for binding in snap.bindings:
            if managed and binding.labels.get(managed[0]) == managed[1]:
                continue
            for subject in binding.subjects:
                if subject.get("kind") == "Group":
                    named.add(subject.get("name"))
        warnings = []
        checks = [(g, "developer_groups") for g in lockdown.get("developer_groups") or []]
        checks += [(s["name"], "allow_subjects") for s in lockdown.get("allow_subjects") or [] if s["kind"] == "Group"]
        for name, where in checks:
            if name not in named:
                warnings.append(
                    "Group %r (%s) is named by no RoleBinding or ClusterRoleBinding in the cluster. If that is unexpected, check the "
                    "spelling against the group names your identity provider sends." % (name, where)
                )
        return warnings

    # -- report ------------------------------------------------------------------------------
    def write_report(self, path, result):
        fmt = self.params["report_format"]
        if fmt == "json":
            # Compact: the indenting encoder is pure Python and several times slower on large clusters.
            text = json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n"
        else:
            text = rbac.render_markdown(result)
        data = to_bytes(text)
        current = None
        if os.path.exists(path):
            try:
                with open(path, "rb") as handle:
                    current = handle.read()
            except (IOError, OSError) as exc:
                raise GitopsK8sError("Reading the report file %s failed: %s. Check report_path." % (path, exc))
        changed = current != data
        if changed and not self.module.check_mode:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                raise GitopsK8sError("The directory of report_path %s does not exist; create it first or choose another path." % path)
            try:
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=".rbac-report-")
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                self.module.module.atomic_move(tmp, path)
            except (IOError, OSError) as exc:
                raise GitopsK8sError("Writing the report file %s failed: %s. Check that the directory is writable." % (path, exc))
        return {"path": path, "format": fmt, "changed": changed}


def describe_lockout(lost):
    """One sentence per identity: what it would lose, why, and through which bindings."""
    parts = []
    for who in sorted(set(v["who"] for v in lost)):
        items = [v for v in lost if v["who"] == who]
        whys = sorted(set(v["why"] for v in items))
        bindings = sorted(set(b for v in items for b in v.get("granted_by_now") or []))
        text = "%s: it would no longer be allowed to %s (%s" % (who, "; ".join(v["request"] for v in items), "; ".join(whys))
        if bindings:
            text += "; allowed today by %s" % ", ".join(bindings)
        parts.append(text + ")")
    return " and ".join(parts)


def _python():
    import sys

    return sys.executable


def _one_line(exc):
    return " ".join(str(exc).split())


def build_argument_spec():
    request_options = _argspec.access_request_options()
    check_options = _argspec.access_check_options()
    subject_options = dict(
        kind=dict(type="str", choices=["User", "Group", "ServiceAccount"], required=True),
        name=dict(type="str", required=True),
        namespace=dict(type="str"),
    )
    lockdown_options = dict(
        break_glass_groups=dict(type="list", elements="str", default=[]),
        allow_subjects=dict(type="list", elements="dict", default=[], options=subject_options),
        revoke_subjects=dict(type="list", elements="dict", default=[], options=subject_options),
        developer_groups=dict(type="list", elements="str", default=[]),
        managed_label=dict(type="str"),
        add_bindings=dict(type="list", elements="dict", default=[]),
        backup=dict(
            type="dict",
            options=dict(
                namespace=dict(type="str", required=True),
                name=dict(type="str", required=True),
                chunk_bytes=dict(type="int", default=rbac.BACKUP_CHUNK_DEFAULT),
            ),
        ),
        guard=dict(type="bool", default=True),
        fail_on_lockout=dict(type="bool", default=True),
        self_access=dict(type="list", elements="dict", default=[], options=request_options),
        break_glass_access=dict(type="list", elements="dict", options=request_options),
    )
    return dict(
        include_rules=dict(type="bool", default=False),
        include_default_bindings=dict(type="bool", default=False),
        argocd_namespaces=dict(type="list", elements="str"),
        subject_kinds=dict(type="list", elements="str", choices=["User", "Group", "ServiceAccount"]),
        namespaces=dict(type="list", elements="str"),
        system_namespaces=dict(type="list", elements="str", default=list(rbac.DEFAULT_SYSTEM_NAMESPACES)),
        access_checks=dict(type="list", elements="dict", default=[], options=check_options),
        who_can=dict(type="list", elements="dict", default=[], options=request_options),
        query=dict(type="str"),
        report_path=dict(type="path"),
        report_format=dict(type="str", choices=["markdown", "json"], default="markdown"),
        lockdown=dict(type="dict", options=lockdown_options),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, AuditManager, "Auditing RBAC")


if __name__ == "__main__":
    main()
