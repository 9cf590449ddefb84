# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge cases of k8s_rbac_audit that a live API server does not produce easily: paging, a
missing jmespath package, an unavailable SelfSubjectReview, report files. The behaviour against
a real cluster is in tests/integration/test_rbac_audit.py."""


import json

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, K8sService, ResourceNotFoundError
from ansible_collections.gitops.bootstrap.plugins.modules import k8s_rbac_audit as mod

RBAC = "rbac.authorization.k8s.io"


def defaults(**params):
    """Module parameters with the argument spec's defaults, like AnsibleModule fills them."""

    def fill(spec, given):
        out = {}
        for key, opt in spec.items():
            value = given.get(key, opt.get("default"))
            if value is not None and opt.get("options"):
                if opt.get("type") == "list":
                    value = [fill(opt["options"], v) for v in value]
                else:
                    value = fill(opt["options"], value)
            out[key] = value
        return out

    return fill(mod.build_argument_spec(), params)


class FakeResponse(object):
    def __init__(self, data):
        self.data = json.dumps(data).encode("utf-8")


class FakeResource(object):
    def __init__(self, pages):
        self.pages = pages
        self.calls = []

    def get(self, **params):
        self.calls.append(params)
        index = int(params.get("_continue") or 0)
        items = self.pages[index]
        meta = {"continue": str(index + 1)} if index + 1 < len(self.pages) else {}
        return FakeResponse({"items": items, "metadata": meta})


class FakeApiError(Exception):
    """An API error as the client raises it (status and body)."""

    def __init__(self, status, message):
        super(FakeApiError, self).__init__(message)
        self.status = status
        self.body = json.dumps({"message": message})


GATE_ON = 'kubernetes_feature_enabled{name="AuthorizePodWebsocketUpgradeCreatePermission",stage="BETA"} 1\n'
GATE_OFF = 'kubernetes_feature_enabled{name="AuthorizePodWebsocketUpgradeCreatePermission",stage="BETA"} 0\n'
VERSION_136 = {"major": "1", "minor": "36", "gitVersion": "v1.36.3"}


class FakeDynamicClient(object):
    """Answers GETs of non-resource paths (/version, /metrics) from a table; a value that is an exception is raised."""

    def __init__(self, paths):
        self.paths = paths
        self.requests = []

    def request(self, method, path, serialize=True):
        self.requests.append((method, path, serialize))
        value = self.paths.get(path, FakeApiError(404, "the server could not find the requested resource"))
        if isinstance(value, Exception):
            raise value
        return FakeResponse(value) if not isinstance(value, str) else type("R", (), {"data": value.encode("utf-8")})()


class FakeClient(object):
    def __init__(self, paths, served):
        # /apis lists the groups of the served resources, as the API server does.
        paths = dict(paths)
        paths.setdefault("/apis", {"groups": [{"name": group} for group in sorted({av.rpartition("/")[0] for _k, av in served})]})
        self.client = FakeDynamicClient(paths)
        self.served = served

    def resource(self, kind, api_version):
        if (kind, api_version) not in self.served:
            raise ResourceNotFoundError("No matches found for {'api_version': '%s', 'kind': '%s'}" % (api_version, kind))
        return object()


class FakeAnsibleModule(object):
    def __init__(self):
        self.moved = []

    def atomic_move(self, src, dest):
        import shutil

        shutil.move(src, dest)
        self.moved.append(dest)


class FakeModule(object):
    """Stands in for GitopsK8sModule: lists from memory, answers reviews from a table."""

    def __init__(
        self,
        params,
        objects=None,
        caller=None,
        self_allowed=True,
        sar_allowed=True,
        pages=1,
        configmaps=None,
        check_mode=False,
        paths=None,
        served=(),
    ):
        self.params = params
        self.client = FakeClient({"/version": VERSION_136, "/metrics": GATE_ON} if paths is None else paths, set(served))
        self.service = K8sService(lambda: self.client)  # the real service layer over the fake client
        self.check_mode = check_mode
        self.warnings = []
        self.reviews = []
        self.module = FakeAnsibleModule()
        self.caller = caller
        self.self_allowed = self_allowed
        self.sar_allowed = sar_allowed
        self.configmaps = configmaps or {}
        objects = objects or {}
        self.resources = {}
        for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
            items = objects.get(kind, [])
            size = max(1, -(-len(items) // pages))
            chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
            self.resources[kind] = FakeResource(chunks)

    def resource(self, kind, api_version):
        return self.resources[kind]

    def warn(self, msg):
        self.warnings.append(msg)

    def get(self, kind, api_version, name, namespace=None):
        return self.configmaps.get((namespace, name))

    def list(self, kind, api_version, namespace=None, label_selector=None):
        return []  # no ResourceQuota in the backup namespace

    def create_review(self, definition):
        self.reviews.append(definition)
        if definition["kind"] == "SelfSubjectReview":
            if self.caller is None:
                raise GitopsK8sError("Creating a SelfSubjectReview: the API server does not serve this resource type")
            return {"status": {"userInfo": self.caller}}
        allowed = self.self_allowed if definition["kind"] == "SelfSubjectAccessReview" else self.sar_allowed
        if callable(allowed):
            allowed = allowed(definition)
        return {"status": {"allowed": allowed}}


def crb(name, role, subjects, labels=None):
    return {
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": labels or {}},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


ADMIN = {"kind": "ClusterRole", "metadata": {"name": "cluster-admin"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
OPERATOR = {"username": "operator", "groups": ["system:authenticated"]}


def objects(*bindings):
    return {"ClusterRole": [ADMIN], "ClusterRoleBinding": list(bindings)}


def run(params, **kw):
    module = FakeModule(defaults(**params), **kw)
    return mod.AuditManager(module).run(), module


# ------------------------------------------------------------------------------------ reading
def test_lists_every_page():
    many = [crb("b%03d" % i, "cluster-admin", [{"kind": "User", "name": "u%03d" % i}]) for i in range(7)]
    result, module = run({}, objects=objects(*many), pages=3, caller=OPERATOR)
    assert result["summary"]["cluster_role_bindings"] == 7
    calls = module.resources["ClusterRoleBinding"].calls
    assert [c.get("_continue") for c in calls] == [None, "1", "2"]
    assert all(c["limit"] == mod.PAGE_SIZE and c["serialize"] is False for c in calls)


def test_caller_in_system_masters_is_stated():
    result, _module = run({}, objects=objects(), caller={"username": "admin", "groups": ["system:masters", "system:authenticated"]})
    assert result["caller"]["bypasses_rbac"] is True
    assert any("ran as admin, a member of system:masters" in t for t in result["limitations"])


def test_unknown_caller_is_stated():
    result, _module = run({}, objects=objects(), caller=None)
    assert result["caller"] is None
    assert any("could not be determined" in t for t in result["limitations"])


# ------------------------------------------------------------------------------------- query
def test_query_keeps_the_result_small():
    result, _module = run(
        {"query": "summary.cluster_role_bindings"}, objects=objects(crb("x", "cluster-admin", [{"kind": "User", "name": "a"}])), caller=OPERATOR
    )
    assert result["query_result"] == 1
    for key in mod.BIG_KEYS:
        assert key not in result
    assert "summary" in result and "limitations" in result


@pytest.mark.parametrize("query", ["findings[?", "subjects[?name=='x'", "&&"])
def test_invalid_query(query):
    with pytest.raises(GitopsK8sError, match="not a valid JMESPath expression"):
        run({"query": query}, objects=objects(), caller=OPERATOR)


def test_query_without_jmespath(monkeypatch):
    monkeypatch.setattr(mod, "HAS_JMESPATH", False)
    with pytest.raises(GitopsK8sError) as err:
        run({"query": "summary"}, objects=objects(), caller=OPERATOR)
    assert "needs the jmespath Python package" in err.value.msg and "pip install jmespath" in err.value.msg


def test_bad_access_check_names_its_index():
    with pytest.raises(GitopsK8sError, match=r"access_checks\[1\]: an access check needs either a resource"):
        run({"access_checks": [{"user": "a", "verb": "get", "resource": "pods"}, {"user": "a", "verb": "get"}]}, objects=objects(), caller=OPERATOR)


# ------------------------------------------------------------------------------------ reports
def test_report_is_written_once_and_not_in_check_mode(tmp_path):
    path = str(tmp_path / "report.md")
    objs = objects(crb("alice", "cluster-admin", [{"kind": "User", "name": "alice"}]))
    result, _module = run({"report_path": path}, objects=objs, caller=OPERATOR, check_mode=True)
    assert result["changed"] is True and not (tmp_path / "report.md").exists()
    result, _module = run({"report_path": path}, objects=objs, caller=OPERATOR)
    assert result["changed"] is True
    assert "| critical | User `alice` | cluster_admin" in (tmp_path / "report.md").read_text()
    result, _module = run({"report_path": path}, objects=objs, caller=OPERATOR)
    assert result["changed"] is False
    json_path = tmp_path / "report.json"
    run({"report_path": str(json_path), "report_format": "json"}, objects=objs, caller=OPERATOR)
    assert json.loads(json_path.read_text())["summary"]["findings"] == 2


def test_report_directory_must_exist(tmp_path):
    with pytest.raises(GitopsK8sError, match="does not exist"):
        run({"report_path": str(tmp_path / "nope" / "r.md")}, objects=objects(), caller=OPERATOR)


# ----------------------------------------------------------------------------------- lockdown
def lockdown(**over):
    base = {"break_glass_groups": ["platform"], "self_access": [{"verb": "create", "resource": "clusterrolebindings", "api_group": RBAC}]}
    base.update(over)
    return base


def test_guard_refuses_to_remove_the_callers_binding():
    objs = objects(crb("ops", "cluster-admin", [{"kind": "User", "name": "operator"}, {"kind": "User", "name": "alice"}]))
    with pytest.raises(GitopsK8sError) as err:
        run({"lockdown": lockdown(add_bindings=[crb("bg", "cluster-admin", [{"kind": "Group", "name": "platform"}])])}, objects=objs, caller=OPERATOR)
    msg = err.value.msg
    assert msg.startswith("Refusing the RBAC lock-down, it would lock out the running identity operator")
    assert "allowed today by ClusterRoleBinding ops" in msg and "Nothing was changed" in msg
    assert err.value.details["lockdown_plan"][0]["action"] == "delete"


def test_guard_passes_with_the_caller_allowlisted_and_reports_the_plan():
    objs = objects(crb("ops", "cluster-admin", [{"kind": "User", "name": "operator"}, {"kind": "User", "name": "alice"}]))
    result, module = run(
        {
            "lockdown": lockdown(
                allow_subjects=[{"kind": "User", "name": "operator"}],
                add_bindings=[crb("bg", "cluster-admin", [{"kind": "Group", "name": "platform"}])],
            )
        },
        objects=objs,
        caller=OPERATOR,
    )
    plan = result["lockdown_plan"]
    assert [(i["action"], [s["name"] for s in i["remove_subjects"]]) for i in plan] == [("patch", ["alice"])]
    assert list(result["lockdown_backup"]) == ["crb._cluster.ops.json"]
    assert all(v["keeps"] for v in result["lockdown_guard"])
    sars = [r for r in module.reviews if r["kind"] == "SubjectAccessReview"]
    assert sars and sars[0]["spec"]["groups"] == ["platform", "system:authenticated"]
    assert sars[0]["spec"]["resourceAttributes"] == {"verb": "*", "group": "*", "resource": "*"}


def test_guard_lets_system_masters_through_and_fails_break_glass_without_binding():
    objs = objects(crb("ops", "cluster-admin", [{"kind": "User", "name": "alice"}]))
    masters = {"username": "admin", "groups": ["system:masters", "system:authenticated"]}
    # The break-glass group has no binding now and none is added: refused, naming the group.
    with pytest.raises(GitopsK8sError, match="break-glass group platform: it would no longer be allowed to"):
        run({"lockdown": lockdown()}, objects=objs, caller=masters, sar_allowed=False)
    # With fail_on_lockout false the verdicts are returned instead; the caller keeps access from outside RBAC.
    result, _module = run({"lockdown": lockdown(fail_on_lockout=False)}, objects=objs, caller=masters, sar_allowed=False)
    verdicts = dict((v["who"], v) for v in result["lockdown_guard"])
    assert verdicts["the running identity admin"]["keeps"] is True
    assert "outside RBAC" in verdicts["the running identity admin"]["why"]
    assert verdicts["break-glass group platform"]["keeps"] is False


def test_guard_needs_to_know_the_caller():
    with pytest.raises(GitopsK8sError, match="cannot tell who is running it"):
        run({"lockdown": lockdown()}, objects=objects(), caller=None)


def test_backup_merges_with_the_earlier_one():
    objs = objects(crb("ops", "cluster-admin", [{"kind": "User", "name": "bob"}]))
    earlier = {
        "apiVersion": RBAC + "/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "ops"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "alice"}],
    }
    cms = {("bk", "backup"): {"data": {"crb._cluster.ops.json": json.dumps(earlier)}}}
    result, _module = run(
        {"lockdown": lockdown(guard=False, backup={"namespace": "bk", "name": "backup"})}, objects=objs, configmaps=cms, caller=OPERATOR
    )
    saved = json.loads(result["lockdown_backup"]["crb._cluster.ops.json"])
    assert [s["name"] for s in saved["subjects"]] == ["alice", "bob"]


def test_unknown_groups_are_warned_about():
    objs = objects(
        crb("x", "cluster-admin", [{"kind": "Group", "name": "real"}]),
        crb("mine", "cluster-admin", [{"kind": "Group", "name": "devs"}], labels={"m": "y"}),
    )
    result, module = run(
        {
            "lockdown": lockdown(
                guard=False, managed_label="m=y", developer_groups=["devs", "real"], allow_subjects=[{"kind": "Group", "name": "typo"}]
            )
        },
        objects=objs,
        caller=OPERATOR,
    )
    assert len(result["lockdown_warnings"]) == 2
    assert "'devs' (developer_groups)" in result["lockdown_warnings"][0]
    assert "'typo' (allow_subjects)" in result["lockdown_warnings"][1]
    assert module.warnings == result["lockdown_warnings"]
    assert result["lockdown_managed_bindings"] == [
        {"key": "ClusterRoleBinding//mine", "ref": {"apiVersion": RBAC + "/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "mine"}}}
    ]


@pytest.mark.parametrize(
    "over,message",
    [
        ({"managed_label": "novalue"}, "KEY=VALUE"),
        ({"allow_subjects": [{"kind": "ServiceAccount", "name": "x"}]}, "needs a namespace"),
        ({"self_access": [{"verb": "get"}]}, r"lockdown.self_access\[0\]"),
        ({"add_bindings": [{"kind": "ConfigMap"}]}, "add_bindings takes RoleBinding and ClusterRoleBinding"),
    ],
)
def test_bad_lockdown_input(over, message):
    with pytest.raises(GitopsK8sError, match=message):
        run({"lockdown": lockdown(**over)}, objects=objects(), caller=OPERATOR)


# ------------------------------------------------------------- what the API server enforces
GET_EXEC = {"kind": "ClusterRole", "metadata": {"name": "exec-get"}, "rules": [{"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["get"]}]}
SUE = {
    "kind": "RoleBinding",
    "metadata": {"name": "support", "namespace": "shop"},
    "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "exec-get"},
    "subjects": [{"kind": "User", "name": "sue"}],
}


def exec_audit(paths, roles=(GET_EXEC,)):
    result, module = run({}, objects={"ClusterRole": list(roles), "RoleBinding": [SUE]}, caller=OPERATOR, paths=paths)
    risks = [(f["subject"], f["risk"]) for f in result["findings"]]
    # Raw GETs: the body is text (/metrics is not JSON), never deserialized into an object.
    assert all(method == "get" and serialize is False for method, _path, serialize in module.client.client.requests)
    # What was read to learn the server's rules (/apis, read for the Argo CD namespaces, aside).
    return result, risks, [r[1] for r in module.client.client.requests if r[1] != "/apis"]


def test_get_exec_on_a_server_that_asks_for_create():
    result, risks, asked = exec_audit({"/version": VERSION_136, "/metrics": GATE_ON})
    assert risks == []
    assert result["server"] == {
        "version": "v1.36.3",
        "exec_needs_create": True,
        "exec_needs_create_from": "feature_gate",
        "feature_gates": {"AuthorizePodWebsocketUpgradeCreatePermission": True},
    }
    assert asked == ["/version", "/metrics"]
    assert any("feature gate AuthorizePodWebsocketUpgradeCreatePermission on (read from its /metrics)" in t for t in result["limitations"])


def test_get_exec_on_a_server_with_the_gate_off_or_older():
    _result, risks, _asked = exec_audit({"/version": VERSION_136, "/metrics": GATE_OFF})
    assert risks == [("User:sue", "pod_exec")]
    result, risks, asked = exec_audit({"/version": {"gitVersion": "v1.34.1", "major": "1", "minor": "34"}})
    assert risks == [("User:sue", "pod_exec")]
    assert asked == ["/version"]  # the gate does not exist before 1.35: /metrics is not read
    assert result["server"]["exec_needs_create"] is False and result["server"]["exec_needs_create_from"] == "version"


def test_unknown_version_is_conservative_and_said():
    result, risks, _asked = exec_audit({"/version": FakeApiError(403, 'forbidden: User "x" cannot get path "/version"')})
    assert risks == [("User:sue", "pod_exec")]
    assert result["server"]["version"] is None and result["server"]["exec_needs_create"] is None
    (text,) = [t for t in result["limitations"] if "version is unknown" in t]
    assert "403 Forbidden" in text and 'cannot get path "/version"' in text
    result, risks, _asked = exec_audit({"/version": "<html>not json</html>"})
    assert risks == [("User:sue", "pod_exec")] and any("did not answer JSON" in t for t in result["limitations"])
    result, risks, _asked = exec_audit({"/version": {"gitVersion": "", "major": "", "minor": ""}})
    assert risks == [("User:sue", "pod_exec")] and any("gave no version number" in t for t in result["limitations"])


def test_unreadable_metrics_assume_the_default_and_say_so():
    result, risks, _asked = exec_audit({"/version": VERSION_136, "/metrics": FakeApiError(403, 'cannot get path "/metrics"')})
    assert risks == []
    assert result["server"]["exec_needs_create_from"] == "version"
    (text,) = [t for t in result["limitations"] if "v1.36.3" in t]
    assert "could not be read from /metrics" in text and "403 Forbidden" in text and "started with it off" in text


def test_metrics_are_read_only_when_the_gate_changes_something():
    create_exec = dict(GET_EXEC, rules=[{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]}])
    result, risks, asked = exec_audit({"/version": VERSION_136, "/metrics": GATE_OFF}, roles=(create_exec,))
    assert risks == [("User:sue", "pod_exec")] and asked == ["/version"]


# -------------------------------------------------------------------------- Argo CD namespaces
WRITER = {
    "kind": "ClusterRole",
    "metadata": {"name": "secrets-writer"},
    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "patch"]}],
}


def argocd_audit(params, served=()):
    bindings = [dict(SUE, metadata={"name": "w", "namespace": ns}, roleRef=dict(SUE["roleRef"], name="secrets-writer")) for ns in ("argocd", "gitops")]
    result, _module = run(params, objects={"ClusterRole": [WRITER], "RoleBinding": bindings}, caller=OPERATOR, served=served)
    return result["argocd_namespaces"], sorted((f["risk"], f["namespace"]) for f in result["findings"])


def test_argocd_namespaces_default_to_argocd_when_argo_cd_is_served():
    assert argocd_audit({}, served=[("Application", "argoproj.io/v1alpha1")]) == (["argocd"], [("argocd_secrets", "argocd")])
    assert argocd_audit({}) == ([], [])
    assert argocd_audit({"argocd_namespaces": ["gitops"]}) == (["gitops"], [("argocd_secrets", "gitops")])
    assert argocd_audit({"argocd_namespaces": []}, served=[("Application", "argoproj.io/v1alpha1")]) == ([], [])


@pytest.mark.parametrize("name", ["", "argocd\n", "Argo", "-argocd", "a" * 64, "argo cd"])
def test_argocd_namespaces_must_be_namespace_names(name):
    with pytest.raises(GitopsK8sError, match="argocd_namespaces: .* is not a namespace name"):
        run({"argocd_namespaces": ["argocd", name]}, objects=objects(), caller=OPERATOR)
