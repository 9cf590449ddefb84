# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rbac_audit and k8s_access_review against a real API server.

Every claim of the audit is checked against the API server's own authorizer with
SubjectAccessReview: the risks it reports (and the ones it does not), and its answer to
thousands of (identity, request) pairs over every subject of the cluster.
"""

from __future__ import annotations

import json
import subprocess
import time

import kubernetes
import pytest

from conftest import external_kubeconfig, kubectl, kubectl_binary, run_playbook
from rbac_helpers import (
    TEST_LABEL,
    Authorizer,
    _meta,
    api_client,
    apply,
    bad_bindings,
    cleanup,
    seed,
    cluster_role,
    crb,
    edge_cases,
    group,
    rb,
    rbac,
    read_objects,
    read_snapshot,
    role,
    sa,
    user,
    wait_for_aggregation,
)

EXTERNAL = bool(external_kubeconfig())
# Namespaces of the risk-class seeds: workloads (a pod to exec into, a privileged ServiceAccount) and a
# stand-in for Argo CD's namespace (given to the audit as argocd_namespaces).
WORKLOADS_NS = "rbac-t-d"
ARGOCD_NS = "rbac-t-argocd"
ARGO = "argoproj.io"


def risk_classes():
    """One subject per risk class whose classification depends on more than a rule: what the API server enforces
    for exec, status subresources, namespaces, pods run as a namespace's ServiceAccounts, Argo CD's objects and Secrets."""
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)} for ns in (WORKLOADS_NS, ARGOCD_NS)]
    pods_get = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    objs += [
        # exec with get only (refused by the API server from 1.35), and with create
        role(WORKLOADS_NS, "exec-get", [pods_get, {"apiGroups": [""], "resources": ["pods/exec", "pods/attach"], "verbs": ["get"]}]),
        rb(WORKLOADS_NS, "hank-exec-get", "Role", "exec-get", [user("rbac-t-hank")]),
        role(WORKLOADS_NS, "exec-create", [pods_get, {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]),
        rb(WORKLOADS_NS, "ines-exec-create", "Role", "exec-create", [user("rbac-t-ines")]),
        # node status, pod and Service status
        cluster_role(
            "rbac-t-node-status",
            [
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["get", "patch", "update"]},
            ],
        ),
        crb("rbac-t-jack-node-status", "rbac-t-node-status", [user("rbac-t-jack")]),
        role(WORKLOADS_NS, "status-writer", [pods_get, {"apiGroups": [""], "resources": ["pods/status", "services/status"], "verbs": ["get", "patch"]}]),
        rb(WORKLOADS_NS, "netops-status", "Role", "status-writer", [group("rbac-t-netops")]),
        # its own namespace's labels, through a RoleBinding
        role(WORKLOADS_NS, "namespace-labeller", [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]}]),
        rb(WORKLOADS_NS, "kim-labels", "Role", "namespace-labeller", [user("rbac-t-kim")]),
        # pods in a namespace whose ServiceAccount is cluster-admin
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("ci-admin", WORKLOADS_NS)},
        crb("rbac-t-ci-admin", "cluster-admin", [sa("ci-admin", WORKLOADS_NS)]),
        role(WORKLOADS_NS, "pod-creator", [dict(pods_get, verbs=["get", "list", "create"])]),
        rb(WORKLOADS_NS, "lena-pods", "Role", "pod-creator", [user("rbac-t-lena")]),
        # Argo CD: its objects in its namespace, its Secrets, and ApplicationSets cluster-wide
        role(ARGOCD_NS, "app-writer", [{"apiGroups": [ARGO], "resources": ["applications", "appprojects"], "verbs": ["get", "create", "patch"]}]),
        rb(ARGOCD_NS, "milo-apps", "Role", "app-writer", [user("rbac-t-milo")]),
        role(ARGOCD_NS, "secret-patcher", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["patch"]}]),
        rb(ARGOCD_NS, "nora-secrets", "Role", "secret-patcher", [user("rbac-t-nora")]),
        cluster_role("rbac-t-appsets", [{"apiGroups": [ARGO], "resources": ["applicationsets"], "verbs": ["create", "update"]}]),
        crb("rbac-t-platform-appsets", "rbac-t-appsets", [group("rbac-t-platform")]),
        # objects the requests below act on
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta("web", WORKLOADS_NS),
            "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta("cluster-prod", ARGOCD_NS, labels={"argocd.argoproj.io/secret-type": "cluster"}),
            "stringData": {"name": "prod", "server": "https://prod.invalid:6443"},
        },
    ]
    return objs


@pytest.fixture(scope="module")
def seeded(kubeconfig):
    cleanup(kubeconfig)
    seed(kubeconfig, bad_bindings() + edge_cases() + risk_classes())
    wait_for_aggregation(kubeconfig, "rbac-t-ops")
    yield kubeconfig
    cleanup(kubeconfig)
    kubectl(kubeconfig, "delete", "namespaces", WORKLOADS_NS, ARGOCD_NS, "--ignore-not-found", "--wait=false")


def run_tasks(kubeconfig, tasks, **auth):
    """Run module tasks in one ansible-playbook run (starting Ansible is the slow part)."""
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/gitops.bootstrap.gitops": dict(kubeconfig=kubeconfig, **auth)},
            "tasks": tasks,
        }
    ]
    return run_playbook(json.dumps(play) + "\n")


def audit_task(name, check=False, ignore_errors=False, **options):
    task = {"name": name, "gitops.bootstrap.k8s_rbac_audit": options}
    if check:
        task["check_mode"] = True
    if ignore_errors:
        task["ignore_errors"] = True
    return task


CHECKS = [
    {"user": "rbac-t-dave", "verb": "get", "resource": "deployments", "api_group": "apps", "namespace": "rbac-t-c", "expect": True},
    {"groups": ["rbac-t-ops"], "verb": "create", "resource": "pods", "subresource": "exec", "namespace": "x", "expect": True},
    {"service_account": "rbac-t-b/deployer", "verb": "*", "resource": "*", "api_group": "*", "namespace": "rbac-t-b", "expect": True},
    {"user": "rbac-t-dave", "verb": "get", "non_resource_url": "/healthz", "expect": True},
]


def review_task(name, checks, ignore_errors=False, **auth):
    task = {"name": name, "gitops.bootstrap.k8s_access_review": dict(checks=checks, **auth)}
    if ignore_errors:
        task["ignore_errors"] = True
    return task


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def run(seeded, reports):
    """Every module task of this suite in one ansible-playbook run (starting Ansible is the slow part)."""
    md, js = str(reports / "report.md"), str(reports / "report.json")
    tasks = [
        audit_task("audit", include_rules=False, argocd_namespaces=[ARGOCD_NS]),
        # Argo CD's namespaces by default: argocd when its API is served, none otherwise
        audit_task("argocd default", query="argocd_namespaces"),
        audit_task("argocd bad namespace", ignore_errors=True, argocd_namespaces=["argocd\n"], query="summary"),
        # query
        audit_task("query", query="findings[?name=='rbac-t-alice'].risk"),
        audit_task("bad query", ignore_errors=True, query="findings[?severity=='critical'"),
        # access questions answered from the RBAC objects
        audit_task(
            "questions",
            access_checks=[
                {"user": "rbac-t-dave", "verb": "list", "resource": "deployments", "api_group": "apps", "namespace": "rbac-t-c"},
                {"user": "rbac-t-dave", "verb": "list", "resource": "deployments", "api_group": "apps", "namespace": "rbac-t-a"},
                {"service_account": "rbac-t-b/deployer", "verb": "delete", "resource": "secrets", "namespace": "rbac-t-b"},
            ],
            who_can=[{"verb": "escalate", "resource": "clusterroles", "api_group": "rbac.authorization.k8s.io"}],
            query="{checks: access_checks, who: who_can}",
        ),
        # reports
        audit_task("report in check mode", check=True, report_path=md, query="summary"),
        {"name": "nothing written", "ansible.builtin.stat": {"path": md}},
        audit_task("report", report_path=md, query="summary"),
        audit_task("report again", report_path=md, query="summary"),
        audit_task("json report", report_path=js, report_format="json", query="summary.findings"),
        # the identity lacks the permissions to read RBAC
        audit_task("forbidden", ignore_errors=True, impersonate_user="rbac-t-nobody", query="summary"),
        # the API server's own answers
        review_task("expected", CHECKS),
        review_task("wrong expectation", [dict(CHECKS[0], verb="delete", expect=True)], ignore_errors=True),
        # self checks follow impersonation (kubernetes.core's impersonate_user)
        review_task(
            "self",
            [
                {"self": True, "verb": "get", "resource": "pods", "namespace": "rbac-t-c", "expect": True},
                {"self": True, "verb": "get", "resource": "secrets", "namespace": "rbac-t-c", "expect": False},
            ],
            impersonate_user="rbac-t-dave",
        ),
        review_task("bad input", [{"self": True, "user": "x", "verb": "get", "resource": "pods"}], ignore_errors=True),
    ]
    return run_tasks(seeded, tasks)


@pytest.fixture(scope="module")
def audited(run):
    """The full audit of the seeded cluster."""
    result = run.task_result("audit")
    assert not result.get("failed"), run
    return result


def ours(subject_id):
    return "rbac-t-" in subject_id


# ------------------------------------------------------------------------------ the listing
EXPECTED = {
    "User:rbac-t-alice": {"cluster": {"cluster_admin", "wildcard"}},
    "Group:rbac-t-team-a": {"rbac-t-a": {"secrets_read", "pod_create", "pod_exec", "workload_write"}},
    "User:rbac-t-bob": {"cluster": {"escalate"}},
    "Group:rbac-t-team-b": {"rbac-t-b": {"cluster_admin", "wildcard"}},
    "User:rbac-t-carol": {"rbac-t-b": {"cluster_admin", "wildcard"}},
    "ServiceAccount:rbac-t-b/deployer": {"rbac-t-b": {"cluster_admin", "wildcard"}},
    "Group:rbac-t-ops": {"cluster": {"secrets_read", "pod_exec", "argocd_secrets"}},
    "User:rbac-t-dave": {},
    # edge cases
    "User:rbac-t-erin": {"cluster": {"wildcard"}},
    "ServiceAccount:rbac-t-c/robot": {"cluster": {"wildcard"}},
    "ServiceAccount:rbac-t-c/builder": {"rbac-t-c": {"wildcard"}},
    "Group:rbac-t-team-c": {"rbac-t-c": {"wildcard"}},
    "ServiceAccount:rbac-t-a/reader": {},
    "Group:rbac-t-proxies": {},
    "User:rbac-t-frank": {"rbac-t-c": {"token_create"}},
    "User:rbac-t-gina": {"cluster": {"nodes_proxy", "token_create"}},
    # risk classes
    "User:rbac-t-hank": {},  # get on pods/exec: no exec on an API server that asks for create (see below)
    "User:rbac-t-ines": {WORKLOADS_NS: {"pod_exec"}},
    "User:rbac-t-jack": {"cluster": {"node_write"}},
    "Group:rbac-t-netops": {WORKLOADS_NS: {"status_write"}},
    "User:rbac-t-kim": {WORKLOADS_NS: {"namespace_write"}},
    "User:rbac-t-lena": {WORKLOADS_NS: {"pod_create", "workload_write"}},
    "ServiceAccount:rbac-t-d/ci-admin": {"cluster": {"cluster_admin", "wildcard"}},
    "User:rbac-t-milo": {ARGOCD_NS: {"argocd_write"}},
    "User:rbac-t-nora": {ARGOCD_NS: {"argocd_secrets"}},
    "Group:rbac-t-platform": {"cluster": {"argocd_write"}},
}


def expected(result):
    """EXPECTED on the audited server: where the server lets get open an exec, get on pods/exec is an exec risk."""
    want = dict(EXPECTED)
    if not result["server"]["exec_needs_create"]:
        want["User:rbac-t-hank"] = {WORKLOADS_NS: {"pod_exec"}}
    return want


def test_audit_lists_exactly_the_seeded_problems(audited):
    result = audited
    listed = [s for s in result["subjects"] if not s["system"]]
    if EXTERNAL:
        listed = [s for s in listed if ours(s["id"])]
    want_all = expected(result)
    assert sorted(s["id"] for s in listed) == sorted(want_all)
    for subj in listed:
        got = {}
        for finding in result["findings"]:
            if finding["subject"] == subj["id"]:
                got.setdefault(finding["namespace"] or "cluster", set()).add(finding["risk"])
        want = want_all[subj["id"]]
        for scope, ids in want.items():
            assert ids <= got.get(scope, set()), (subj["id"], scope, got)
        assert set(got) == set(want), (subj["id"], got)
    # Only a few system subjects appear (those named by non-default bindings), each flagged as system.
    system = [s for s in result["subjects"] if s["system"]]
    assert all(s["id"].split(":", 1)[1].startswith("system:") or s["namespace"] in ("kube-system", "kube-public", "kube-node-lease") for s in system)
    # The people who can write are named in the summary, the read-only ones are not.
    people = result["summary"]["people_with_write"]
    for who in ("User:rbac-t-alice", "Group:rbac-t-team-a", "User:rbac-t-bob", "Group:rbac-t-team-b", "User:rbac-t-carol", "Group:rbac-t-ops"):
        assert who in people
    assert "User:rbac-t-dave" not in people
    # What it cannot see is stated, and the local admin is recognised as a system:masters member.
    assert any("system:masters" in t for t in result["limitations"])
    assert any("Node, Webhook" in t for t in result["limitations"])
    if not EXTERNAL:
        assert result["caller"]["bypasses_rbac"] is True
    roles = dict(((r["kind"], r["namespace"], r["name"]), r) for r in result["roles"])
    assert roles[("ClusterRole", None, "rbac-t-ops")]["aggregated"] is True
    assert roles[("ClusterRole", None, "rbac-t-ops")]["aggregation_pending"] is False
    assert roles[("ClusterRole", None, "rbac-t-escalator")]["risk_ids"] == ["escalate"]
    assert roles[("Role", "rbac-t-b", "wildcard")]["risk_ids"] == ["cluster_admin", "wildcard"]


# ------------------------------------------------------- findings versus the API server
def probe_requests(risk, namespace, server):
    """Concrete requests for each probe of a risk (the API server cannot be asked about patterns), on the
    audited server (``server``: exec needs create there or not). Argo CD risks exist in Argo CD's namespace."""
    out = []
    if risk.get("argocd_only") and namespace != ARGOCD_NS:
        return out
    for groups, resources, verbs in rbac.risk_probes(risk, server):
        for g in groups:
            for res in resources:
                if namespace and res in risk.get("cluster_only", ()):
                    continue
                res = res.replace("/*", "/scopes")
                base, _sep, sub = res.partition("/")
                for verb in verbs:
                    out.append(rbac.Request(verb, base, api_group=g, subresource=sub, namespace=namespace))
    if risk["id"] == "cluster_admin":
        out.append(rbac.Request("*", "*", api_group="*", namespace=namespace))
    return out


def direct_identity(subj):
    if subj["kind"] == "Group":
        return rbac.Identity(None, [subj["name"]])
    return rbac.Identity(subj["username"], [])


def test_every_finding_and_every_absent_finding_agrees_with_the_api_server(seeded, audited):
    """For each listed subject, scope and risk: the API server allows a probe request iff the audit reports the risk."""
    result = audited
    authz = Authorizer(seeded)
    server = rbac.ServerInfo(result["server"]["version"], result["server"]["feature_gates"])
    assert server.connect_needs_create == result["server"]["exec_needs_create"]
    cases = []
    for subj in result["subjects"]:
        if not ours(subj["id"]):
            continue
        claimed = {}
        for finding in result["findings"]:
            if finding["subject"] == subj["id"]:
                claimed.setdefault(finding["namespace"] or "", set()).add(finding["risk"])
        granted_in = set(b["namespace"] for b in subj["bindings"] if b["namespace"])
        scopes = ["", "rbac-t-a", ARGOCD_NS] + sorted((granted_in | set(k for k in claimed if k)) - {"rbac-t-a", ARGOCD_NS})
        for ns in scopes:
            here = set(claimed.get("", set()))
            if ns:
                here |= claimed.get(ns, set())
            for risk in rbac.RISKS:
                if risk["id"] == "wildcard":
                    continue
                requests = probe_requests(risk, ns, server)
                if not requests:
                    continue
                expected = risk["id"] in here or "cluster_admin" in here
                cases.append((subj["id"], ns, risk["id"], expected, direct_identity(subj), requests))
    pairs = [(ident, r) for _sid, _ns, _rid, _exp, ident, reqs in cases for r in reqs]
    answers = iter(authz.many(pairs))
    mismatches = []
    for sid, ns, rid, expected, _ident, reqs in cases:
        got = [next(answers) for _req in reqs]
        if any(got) != expected:
            allowed = [r.describe() for r, a in zip(reqs, got) if a]
            mismatches.append("%s %s in %r: audit says %s, API server allows %s" % (sid, rid, ns or "cluster", expected, allowed or "none"))
    assert not mismatches, "\n".join(mismatches)
    assert len(cases) > 200


# ------------------------------------------------- every subject, a matrix of requests
REQUESTS = [
    # (verb, resource, group, subresource, name)
    ("get", "pods", "", "", ""),
    ("list", "pods", "", "", ""),
    ("create", "pods", "", "", ""),
    ("delete", "pods", "", "", ""),
    ("create", "pods", "", "exec", "web-0"),
    ("get", "pods", "", "log", ""),
    ("get", "secrets", "", "", ""),
    ("list", "secrets", "", "", ""),
    ("watch", "configmaps", "", "", ""),
    ("get", "configmaps", "", "", "app-config"),
    ("update", "configmaps", "", "", "app-config"),
    ("update", "configmaps", "", "", "other"),
    ("list", "deployments", "apps", "", ""),
    ("create", "deployments", "apps", "", ""),
    ("patch", "deployments", "apps", "", "web"),
    ("delete", "deployments", "apps", "", "web"),
    ("update", "deployments", "apps", "scale", "web"),
    ("patch", "statefulsets", "apps", "scale", ""),
    ("update", "deployments", "apps", "status", ""),
    ("create", "jobs", "batch", "", ""),
    ("list", "events", "", "", ""),
    ("list", "events", "events.k8s.io", "", ""),
    ("create", "serviceaccounts", "", "token", "default"),
    ("impersonate", "serviceaccounts", "", "", "default"),
    ("create", "rolebindings", "rbac.authorization.k8s.io", "", ""),
    ("bind", "roles", "rbac.authorization.k8s.io", "", "x"),
    ("escalate", "roles", "rbac.authorization.k8s.io", "", ""),
    ("*", "*", "*", "", ""),
    ("get", "applications", "argoproj.io", "", ""),
]
CLUSTER_REQUESTS = [
    ("get", "nodes", "", "", ""),
    ("get", "nodes", "", "proxy", "kwok-node-0"),
    ("create", "clusterroles", "rbac.authorization.k8s.io", "", ""),
    ("escalate", "clusterroles", "rbac.authorization.k8s.io", "", ""),
    ("bind", "clusterroles", "rbac.authorization.k8s.io", "", "cluster-admin"),
    ("impersonate", "users", "", "", "alice"),
    ("impersonate", "groups", "", "", "system:masters"),
    ("patch", "validatingwebhookconfigurations", "admissionregistration.k8s.io", "", ""),
    ("update", "certificatesigningrequests", "certificates.k8s.io", "approval", ""),
    ("create", "persistentvolumes", "", "", ""),
    ("list", "namespaces", "", "", ""),
    ("create", "selfsubjectaccessreviews", "authorization.k8s.io", "", ""),
]
NON_RESOURCE = [
    ("get", "/healthz"),
    ("get", "/version"),
    ("get", "/logs/kube-apiserver.log"),
    ("get", "/logs"),
    ("post", "/logs/x"),
    ("get", "/metrics"),
    ("get", "/apis/apps/v1"),
]


def matrix_identities(snapshot):
    out = []
    for sid, entry in sorted(snapshot.subjects().items()):
        if entry["kind"] == "Group":
            if entry["name"] in ("system:masters", "system:nodes"):
                continue  # allowed before RBAC, or by the Node authorizer: not RBAC's answer
            out.append((sid, rbac.Identity(None, [entry["name"]])))
            continue
        if entry["username"].startswith("system:node:"):
            continue
        out.append((sid, rbac.Identity(entry["username"], rbac.implicit_groups(entry["username"]))))
    out.append(("nobody", rbac.Identity("rbac-t-nobody", ["system:authenticated"])))
    out.append(("anonymous", rbac.Identity("system:anonymous", ["system:unauthenticated"])))
    return out


def test_engine_agrees_with_the_api_server_for_every_subject(seeded):
    snapshot = read_snapshot(seeded)
    identities = matrix_identities(snapshot)
    requests = []
    for ns in ["rbac-t-a", "rbac-t-c", ""]:
        for verb, res, grp, sub, name in REQUESTS:
            requests.append(rbac.Request(verb, res, api_group=grp, subresource=sub, name=name, namespace=ns))
    for verb, res, grp, sub, name in CLUSTER_REQUESTS:
        requests.append(rbac.Request(verb, res, api_group=grp, subresource=sub, name=name))
    for verb, path in NON_RESOURCE:
        requests.append(rbac.Request(verb, non_resource_url=path))
    pairs = [(ident, req) for _sid, ident in identities for req in requests]
    answers = Authorizer(seeded).many(pairs)
    mismatches = []
    allowed_count = 0
    for (ident, req), api_says in zip(pairs, answers):
        engine_says = snapshot.allows(ident, req)
        allowed_count += api_says
        if engine_says != api_says:
            mismatches.append("%s: %s -> API server %s, engine %s" % (ident.describe(), req.describe(), api_says, engine_says))
    assert not mismatches, "%d mismatches:\n%s" % (len(mismatches), "\n".join(mismatches[:50]))
    # The matrix is not trivially all-denied or all-allowed.
    assert len(pairs) > 3000
    assert 0.05 * len(pairs) < allowed_count < 0.9 * len(pairs)


def test_aggregation_is_resolved_like_the_controller(seeded):
    def stored_vs_resolved():
        objs = read_objects(seeded)
        snapshot = rbac.RbacSnapshot(**objs)
        out = {}
        for obj in objs["cluster_roles"]:
            if obj.get("aggregationRule"):
                role = snapshot.roles[("ClusterRole", None, obj["metadata"]["name"])]
                stored = set(rbac.rule_key(rbac.normalize_rule(r)) for r in obj.get("rules") or [])
                out[role.name] = (stored, set(rbac.rule_key(r) for r in role.rules))
        return out

    pairs = stored_vs_resolved()
    assert {"admin", "edit", "view", "rbac-t-ops"} <= set(pairs)
    for name, (stored, resolved) in pairs.items():
        assert stored == resolved, name
    # A new component role: the controller and the engine agree again once the controller has run.
    apply(
        seeded,
        [
            cluster_role(
                "rbac-t-ops-logs", [{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}], labels={"rbac-t/aggregate-to-ops": "true"}
            )
        ],
    )
    import time

    deadline = time.time() + 60
    while time.time() < deadline:
        stored, resolved = stored_vs_resolved()["rbac-t-ops"]
        if stored == resolved:
            break
        time.sleep(0.5)
    assert stored == resolved
    assert any("pods/log" in key[2] for key in resolved)


# ------------------------------------------------------------- options of the module
def test_query_filters_and_invalid_query_is_refused(run):
    result = run.task_result("query")
    assert result["query_result"] == ["cluster_admin", "wildcard"], run
    assert "subjects" not in result and "findings" not in result
    assert "summary" in result and "limitations" in result
    result = run.task_result("bad query")
    assert result["failed"]
    assert "not a valid JMESPath expression" in result["msg"]


def test_access_checks_and_who_can(run):
    answers = run.task_result("questions")["query_result"]
    assert [c["allowed"] for c in answers["checks"]] == [True, False, True]
    assert answers["checks"][0]["granted_by"][0]["binding"] == "RoleBinding rbac-t-c/dave-view"
    who = [s["subject"] for s in answers["who"][0]["subjects"]]
    assert "User:rbac-t-bob" in who and "User:rbac-t-alice" in who and "User:rbac-t-dave" not in who


def test_reports_are_written_once_and_not_in_check_mode(run, reports):
    assert run.task_result("report in check mode")["changed"] is True
    assert run.task_result("nothing written")["stat"]["exists"] is False
    assert run.task_result("report")["changed"] is True
    assert run.task_result("report again")["changed"] is False
    text = (reports / "report.md").read_text()
    assert "## Findings" in text and "User `rbac-t-alice`" in text and "## What this audit cannot see" in text
    data = json.loads((reports / "report.json").read_text())
    assert data["summary"]["findings"] == run.task_result("json report")["query_result"] and "subjects" in data


def test_access_review_module(run):
    result = run.task_result("expected")
    assert result["all_as_expected"] and [r["allowed"] for r in result["results"]] == [True, True, True, True], run
    # A wrong expectation fails and says which check and what the server answered.
    result = run.task_result("wrong expectation")
    assert result["failed"]
    assert "rbac-t-dave" in result["msg"] and "delete deployments.apps in namespace rbac-t-c is not allowed, expected allowed" in result["msg"]
    result = run.task_result("self")
    assert not result.get("failed") and result["all_as_expected"], result
    result = run.task_result("bad input")
    assert result["failed"] and "self: true takes no user" in result["msg"]


def test_missing_permissions_are_reported_clearly(run):
    result = run.task_result("forbidden")
    assert result["failed"]
    assert "403 Forbidden" in result["msg"] and "Listing Roles" in result["msg"]


# --------------------------------------------------- risk classes, proven with real requests
def as_user(kubeconfig, who, *args, groups=(), timeout=60):
    """kubectl as another identity (impersonation), with a bounded wait; the completed process."""
    cmd = [kubectl_binary(), "--kubeconfig", kubeconfig, "--as", who, *[f"--as-group={g}" for g in groups], "--request-timeout=20s", *args]
    return subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)


def findings_of(result, subject):
    return dict(((f["risk"], f["namespace"]), f) for f in result["findings"] if f["subject"] == subject)


def wait_running(kubeconfig, namespace, name, timeout=60):
    deadline = time.time() + timeout
    while True:
        out = kubectl(kubeconfig, "get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}", check=False).stdout
        if out == "Running":
            return
        if time.time() > deadline:
            raise AssertionError(f"pod {namespace}/{name} is {out or 'missing'} after {timeout}s, not Running")
        time.sleep(0.5)


@pytest.mark.skipif(EXTERNAL, reason="the local control plane's version is known; another cluster may enforce otherwise")
def test_exec_risk_follows_what_the_api_server_enforces(seeded, audited):
    """get on pods/exec is not exec on this API server: a real kubectl exec as that user is refused by authorization,
    while create passes it. The audit says so, from the server's own /version and /metrics."""
    server = audited["server"]
    client = json.loads(kubectl(seeded, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
    assert server["version"] == client and rbac.parse_server_version(client) >= (1, 35)
    assert server["exec_needs_create"] is True and server["exec_needs_create_from"] == "feature_gate"
    assert server["feature_gates"] == {"AuthorizePodWebsocketUpgradeCreatePermission": True}
    assert any(client in t and "not counted as exec" in t for t in audited["limitations"])
    assert not findings_of(audited, "User:rbac-t-hank")
    assert ("pod_exec", WORKLOADS_NS) in findings_of(audited, "User:rbac-t-ines")

    # RBAC itself allows hank get on pods/exec (the SubjectAccessReview says yes) ...
    authz = Authorizer(seeded)
    hank, ines = rbac.Identity("rbac-t-hank", ["system:authenticated"]), rbac.Identity("rbac-t-ines", ["system:authenticated"])
    get_exec = rbac.Request("get", "pods", subresource="exec", name="web", namespace=WORKLOADS_NS)
    create_exec = rbac.Request("create", "pods", subresource="exec", name="web", namespace=WORKLOADS_NS)
    assert authz.many([(hank, get_exec), (hank, create_exec), (ines, get_exec), (ines, create_exec)]) == [True, False, False, True]
    # ... yet the API server refuses his exec: the WebSocket upgrade is authorized as create as well.
    wait_running(seeded, WORKLOADS_NS, "web")
    refused = as_user(seeded, "rbac-t-hank", "exec", "-n", WORKLOADS_NS, "web", "--", "true")
    assert refused.returncode != 0
    assert 'is forbidden: User "rbac-t-hank" cannot create resource "pods/exec"' in refused.stderr, refused.stderr
    # With create the request passes authorization; KWOK's pods have no container runtime, so it can fail after that.
    passed = as_user(seeded, "rbac-t-ines", "exec", "-n", WORKLOADS_NS, "web", "--", "true")
    assert "forbidden" not in passed.stderr.lower() and "unable to upgrade connection" not in passed.stderr, passed.stderr
    assert passed.returncode == 0 or "error executing command in container" in passed.stderr, passed.stderr


def test_status_namespace_and_argocd_grants_work_as_classified(seeded, audited):
    """Each new class, reported for its seeded subject, and the grant doing what the class says (server-side dry runs)."""
    assert set(findings_of(audited, "User:rbac-t-jack")) == {("node_write", None)}
    assert set(findings_of(audited, "Group:rbac-t-netops")) == {("status_write", WORKLOADS_NS)}
    assert set(findings_of(audited, "User:rbac-t-kim")) == {("namespace_write", WORKLOADS_NS)}
    milo, nora, platform = (findings_of(audited, s) for s in ("User:rbac-t-milo", "User:rbac-t-nora", "Group:rbac-t-platform"))
    assert set(milo) == {("argocd_write", ARGOCD_NS)} and set(nora) == {("argocd_secrets", ARGOCD_NS)}
    assert set(platform) == {("argocd_write", None)}
    assert all(f["severity"] == "critical" for f in list(milo.values()) + list(nora.values()) + list(platform.values()))
    assert audited["argocd_namespaces"] == [ARGOCD_NS]
    catalog = dict((r["id"], r) for r in audited["risk_catalog"])
    assert "cluster-admin through Argo CD" in catalog["argocd_write"]["title"] and "cluster-admin through Argo CD" in catalog["argocd_secrets"]["title"]

    dry = ["--dry-run=server", "-o", "json"]
    # A RoleBinding lets kim relabel her own namespace: the Pod Security level is hers to lift.
    label = ["label", "namespace", WORKLOADS_NS, "pod-security.kubernetes.io/enforce=privileged", "--overwrite", *dry]
    done = as_user(seeded, "rbac-t-kim", *label)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert "forbidden" in as_user(seeded, "rbac-t-hank", *label).stderr
    # jack rewrites what the control plane believes about a node; netops a pod's status.
    node = kubectl(seeded, "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout
    addresses = '{"status":{"addresses":[{"type":"InternalIP","address":"192.0.2.1"}]}}'
    patch = ["patch", "node", node, "--subresource=status", "--type=merge", "-p", addresses, *dry]
    done = as_user(seeded, "rbac-t-jack", *patch)
    assert done.returncode == 0, done.stderr
    assert {"type": "InternalIP", "address": "192.0.2.1"} in json.loads(done.stdout)["status"]["addresses"]
    assert "forbidden" in as_user(seeded, "rbac-t-kim", *patch).stderr
    wait_running(seeded, WORKLOADS_NS, "web")
    ready = '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}'
    pod_patch = ["patch", "pod", "web", "-n", WORKLOADS_NS, "--subresource=status", "--type=merge", "-p", ready, *dry]
    done = as_user(seeded, "rbac-t-someone", *pod_patch, groups=["rbac-t-netops"])
    assert done.returncode == 0, done.stderr
    # RBAC cannot restrict Secrets by label: nora, who may patch Secrets there but not even read them, may rewrite
    # Argo CD's cluster credentials (kubectl patch reads first, so the PATCH is sent directly, impersonating her).
    api = api_client(seeded)
    api.set_default_header("Impersonate-User", "rbac-t-nora")
    core = kubernetes.client.CoreV1Api(api)
    body = {"stringData": {"server": "https://attacker.invalid"}}
    patched = core.patch_namespaced_secret("cluster-prod", ARGOCD_NS, body, dry_run="All", _request_timeout=20)
    assert patched.metadata.labels["argocd.argoproj.io/secret-type"] == "cluster"
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        core.read_namespaced_secret("cluster-prod", ARGOCD_NS, _request_timeout=20)
    assert refused.value.status == 403


def test_pod_creation_takes_the_severity_of_the_namespaces_service_account(seeded, audited):
    """lena may only create pods in rbac-t-d, where ServiceAccount ci-admin is cluster-admin: the audit names it and
    rates her critical, and the API server indeed admits her pod running as ci-admin."""
    lena = findings_of(audited, "User:rbac-t-lena")
    finding = lena[("pod_create", WORKLOADS_NS)]
    assert finding["severity"] == "critical"
    assert finding["service_accounts"][0] == {
        "id": f"ServiceAccount:{WORKLOADS_NS}/ci-admin",
        "severity": "critical",
        "risks": [{"risk": "cluster_admin", "namespace": None}],
    }
    assert finding["service_accounts_total"] == 1
    assert lena[("workload_write", WORKLOADS_NS)]["severity"] == "critical"
    subject = [s for s in audited["subjects"] if s["id"] == "User:rbac-t-lena"][0]
    assert subject["severity"] == "critical"
    # The claims, asked of the API server: lena may create pods there (and nothing cluster-wide), ci-admin may do anything.
    authz = Authorizer(seeded)
    lena_id = rbac.Identity("rbac-t-lena", ["system:authenticated"])
    ci = rbac.Identity(f"system:serviceaccount:{WORKLOADS_NS}:ci-admin", rbac.implicit_groups(f"system:serviceaccount:{WORKLOADS_NS}:ci-admin"))
    everything = rbac.Request("*", "*", api_group="*")
    assert authz.many([(lena_id, rbac.Request("create", "pods", namespace=WORKLOADS_NS)), (lena_id, everything), (ci, everything)]) == [True, False, True]
    # And admission lets her pod run as that ServiceAccount (server-side dry run).
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "lena-probe", "namespace": WORKLOADS_NS, "labels": dict(TEST_LABEL)},
        "spec": {"serviceAccountName": "ci-admin", "containers": [{"name": "c", "image": "registry.invalid/tool:1"}]},
    }
    cmd = [kubectl_binary(), "--kubeconfig", seeded, "--as", "rbac-t-lena", "--request-timeout=20s", "create", "--dry-run=server", "-o", "json", "-f", "-"]
    done = subprocess.run(cmd, input=json.dumps(pod), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["spec"]["serviceAccountName"] == "ci-admin"
    # Her grant in a namespace without such a ServiceAccount would be plain high: the unit tests cover that, and
    # here the subjects with pod creation in namespaces of only ordinary ServiceAccounts stay high.
    team_a = findings_of(audited, "Group:rbac-t-team-a")[("pod_create", "rbac-t-a")]
    assert team_a["severity"] == "high" and "service_accounts" not in team_a


def test_argocd_namespaces_default_and_bad_input(run, seeded):
    # Asked of the server itself: kubectl's discovery cache may still hold an earlier cluster's answer for this port.
    groups = json.loads(kubectl(seeded, "get", "--raw", "/apis").stdout)["groups"]
    served = any(group["name"] == ARGO for group in groups)
    assert run.task_result("argocd default")["query_result"] == (["argocd"] if served else []), run
    result = run.task_result("argocd bad namespace")
    assert result["failed"] and "is not a namespace name" in result["msg"]
