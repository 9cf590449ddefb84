# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline tests of the argocd_* modules: documentation against argument specs, option names
against the connection options, and the managers' diff and ownership logic with a fake API.

Behaviour against a real API server is in tests/integration/test_argocd_modules.py.
"""


import base64
import copy
import importlib

import pytest
import yaml

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.gitops.bootstrap.plugins.module_utils import _argocd as A
from ansible_collections.gitops.bootstrap.plugins.module_utils import _secrets as S
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sModule, K8sService
from ansible_collections.gitops.bootstrap.plugins.modules import argocd_rbac, argocd_repository, argocd_application
from ansible_collections.gitops.bootstrap.tests.unit.utils import docs

MODULES = ["argocd_application", "argocd_info", "argocd_project", "argocd_rbac", "argocd_repository"]


def load(name):
    return importlib.import_module("ansible_collections.gitops.bootstrap.plugins.modules." + name)


# ---------------------------------------------------------------------------- docs and specs
@pytest.mark.parametrize("name", MODULES)
def test_options_do_not_shadow_connection_options(name):
    spec = load(name).build_argument_spec()
    names = set(spec)
    for option in spec.values():
        names.update(option.get("aliases") or [])
    auth = set(AUTH_ARG_SPEC)
    for option in AUTH_ARG_SPEC.values():
        auth.update(option.get("aliases") or [])
    assert not names & auth, "options %s would replace kubernetes.core connection options" % sorted(names & auth)


def _compare(doc_options, spec, where):
    assert set(doc_options) == set(spec), "%s: documented %s, argument spec %s" % (where, sorted(doc_options), sorted(spec))
    for key, option in spec.items():
        doc = doc_options[key]
        assert doc.get("type", "str") == option.get("type", "str"), "%s.%s type" % (where, key)
        assert doc.get("default") == option.get("default"), "%s.%s default: doc %r, spec %r" % (where, key, doc.get("default"), option.get("default"))
        assert bool(doc.get("required", False)) == bool(option.get("required", False)), "%s.%s required" % (where, key)
        assert doc.get("choices") == option.get("choices"), "%s.%s choices" % (where, key)
        assert doc.get("elements") == option.get("elements"), "%s.%s elements" % (where, key)
        assert bool(option.get("no_log")) == bool(doc.get("no_log", option.get("no_log", False)))
        if option.get("options"):
            _compare(doc.get("suboptions") or {}, option["options"], "%s.%s" % (where, key))


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name):
    module = load(name)
    doc = docs.raw_documentation(module)
    assert doc["module"] == name
    _compare(docs.module_options(module), module.build_argument_spec(), name)
    assert yaml.safe_load(module.EXAMPLES)
    assert yaml.safe_load(module.RETURN)
    assert "kubernetes.core.k8s_auth_options" in doc["extends_documentation_fragment"]


def test_secret_options_are_no_log():
    spec = argocd_repository.build_argument_spec()
    for key in ("repo_password", "ssh_private_key", "tls_client_cert_key", "github_app_private_key"):
        assert spec[key].get("no_log") is True


# ---------------------------------------------------------------------------- fake API
class FakeInstance(object):
    def __init__(self, obj):
        self.obj = obj

    def to_dict(self):
        return copy.deepcopy(self.obj)


class FakeResource(object):
    def __init__(self, api, kind):
        self.api = api
        self.kind = kind
        self.namespaced = kind != "Namespace"

    def patch(self, body, name, namespace, **params):
        self.api.calls.append(("patch", self.kind, name, body, params))
        obj = copy.deepcopy(self.api.objects[(self.kind, namespace, name)])
        for key, value in body.get("data", {}).items():
            if value is None:
                obj["data"].pop(key, None)
            else:
                obj["data"][key] = value
        if not params.get("dry_run"):
            self.api.objects[(self.kind, namespace, name)] = obj
        return FakeInstance(obj)


class FakeClient(object):
    """The client the real K8sService talks to: resource types and the dynamic client's patch."""

    def __init__(self, api):
        self.api = api
        self.client = self

    def resource(self, kind, api_version):
        return self.api.resource(kind, api_version)

    @staticmethod
    def patch(resource, body=None, name=None, namespace=None, **params):
        return resource.patch(body, name, namespace, **params).to_dict()


class FakeModule(object):
    """Enough of GitopsK8sModule for the managers: an in-memory store with apply semantics
    close to server-side apply for ConfigMap/Secret data (keys of one field manager).
    Merge patches go through the real service layer (its dry run in check mode) to FakeResource."""

    merge_patch = GitopsK8sModule.merge_patch

    @property
    def service(self):
        return K8sService(lambda: FakeClient(self), check_mode=self.check_mode)

    def __init__(self, params, objects=None, check_mode=False, diff=True):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.objects = objects or {}
        self.calls = []
        self.owners = {}

    def get(self, kind, api_version, name, namespace=None):
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def resource(self, kind, api_version):
        return FakeResource(self, kind)

    def apply(self, definition, field_manager=A.FIELD_MANAGER):
        self.calls.append(("apply", definition["kind"], definition["metadata"]["name"], copy.deepcopy(definition), field_manager))
        key = (definition["kind"], definition["metadata"].get("namespace"), definition["metadata"]["name"])
        before = copy.deepcopy(self.objects.get(key))
        after = copy.deepcopy(before) if before else {"apiVersion": definition["apiVersion"], "kind": definition["kind"], "metadata": {}}
        after["metadata"].update(copy.deepcopy(definition["metadata"]))
        data = after.setdefault("data", {})
        owned = self.owners.get((key, field_manager), set())
        for gone in owned - set(definition.get("data", {})):
            data.pop(gone, None)
        data.update(definition.get("data", {}))
        if not self.check_mode:
            self.owners[(key, field_manager)] = set(definition.get("data", {}))
            self.objects[key] = after
        return before != after, before, after

    def delete(self, kind, api_version, name, namespace=None):
        obj = self.objects.get((kind, namespace, name))
        if obj is not None and not self.check_mode:
            del self.objects[(kind, namespace, name)]
        return obj


def rbac_params(**overrides):
    params = dict(namespace="argocd", state="present", policy_name=None, policies=[], groups=[], policy_default=None, scopes=None, match_mode=None)
    params.update(overrides)
    return params


def rbac_cm(data):
    meta = {"name": "argocd-rbac-cm", "namespace": "argocd"}
    return {("ConfigMap", "argocd", "argocd-rbac-cm"): {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}}


# ---------------------------------------------------------------------------- argocd_rbac
def test_rbac_main_policy_owns_its_settings_and_keeps_other_keys():
    module = FakeModule(rbac_params(groups=[{"group": "org:a", "role": "role:readonly"}]), rbac_cm({"policy.team.csv": "p, role:x, logs, get, */*, allow\n"}))
    result = argocd_rbac.RbacManager(module).run()
    data = module.objects[("ConfigMap", "argocd", "argocd-rbac-cm")]["data"]
    assert data == {
        "policy.team.csv": "p, role:x, logs, get, */*, allow\n",
        "policy.csv": "g, org:a, role:readonly\n",
        "policy.default": "",
        "scopes": "[groups]",
        "policy.matchMode": "glob",
    }
    assert result["changed"] is True
    assert "+  g, org:a, role:readonly" not in result["diff"]["before"]
    assert "g, org:a, role:readonly" in result["diff"]["after"]
    assert module.calls[0][4] == "gitops.bootstrap/argocd-rbac-cm/policy.csv"
    again = argocd_rbac.RbacManager(module).run()
    assert again["changed"] is False


def test_rbac_named_policy_manages_only_its_key_and_sees_roles_of_other_keys():
    module = FakeModule(
        rbac_params(policy_name="auditors", groups=[{"group": "org:auditors", "role": "role:audit"}]),
        rbac_cm({"policy.csv": "p, role:audit, logs, get, */*, allow\n", "policy.default": "role:readonly"}),
    )
    result = argocd_rbac.RbacManager(module).run()
    apply_call = [c for c in module.calls if c[0] == "apply"][0]
    assert apply_call[3]["data"] == {"policy.auditors.csv": "g, org:auditors, role:audit\n"}
    assert apply_call[4] == "gitops.bootstrap/argocd-rbac-cm/policy.auditors.csv"
    assert result["key"] == "policy.auditors.csv"
    assert module.objects[("ConfigMap", "argocd", "argocd-rbac-cm")]["data"]["policy.default"] == "role:readonly"


def test_rbac_undefined_role_fails_before_writing():
    module = FakeModule(rbac_params(groups=[{"group": "org:x", "role": "role:nobody"}]), rbac_cm({}))
    with pytest.raises(A.ArgoCDValidationError) as info:
        argocd_rbac.RbacManager(module).run()
    assert "role:nobody" in info.value.msg
    assert not [c for c in module.calls if c[0] == "apply"]


def test_rbac_bad_line_fails_before_any_api_call():
    class NoApi(FakeModule):
        def get(self, *args, **kwargs):
            raise AssertionError("the API must not be called for invalid input")

    module = NoApi(rbac_params(policies=[{"subject": "role:a", "resource": "apps", "action": "get", "object": "*", "effect": "allow"}]))
    with pytest.raises(A.ArgoCDValidationError) as info:
        argocd_rbac.RbacManager(module).run()
    assert "'p, role:a, apps, get, *, allow'" in info.value.msg


def test_rbac_default_must_be_a_defined_role():
    module = FakeModule(rbac_params(policy_default="role:ghost"), rbac_cm({}))
    with pytest.raises(A.ArgoCDValidationError) as info:
        argocd_rbac.RbacManager(module).run()
    assert "policy_default 'role:ghost'" in info.value.msg


def test_rbac_absent_removes_only_owned_keys():
    module = FakeModule(rbac_params(state="absent", policy_name="auditors"), rbac_cm({"policy.csv": "x", "policy.auditors.csv": "y", "policy.default": ""}))
    result = argocd_rbac.RbacManager(module).run()
    assert result["changed"] is True
    assert module.objects[("ConfigMap", "argocd", "argocd-rbac-cm")]["data"] == {"policy.csv": "x", "policy.default": ""}
    assert argocd_rbac.RbacManager(module).run()["changed"] is False


def test_rbac_absent_in_check_mode_changes_nothing():
    module = FakeModule(rbac_params(state="absent"), rbac_cm({"policy.csv": "x"}), check_mode=True)
    result = argocd_rbac.RbacManager(module).run()
    assert result["changed"] is True
    assert module.objects[("ConfigMap", "argocd", "argocd-rbac-cm")]["data"] == {"policy.csv": "x"}
    assert module.calls[-1][4]["dry_run"] == "All"


# ---------------------------------------------------------------------------- argocd_repository
def repo_params(**overrides):
    spec = argocd_repository.build_argument_spec()
    params = dict((k, v.get("default")) for k, v in spec.items())
    params.update(name="repo-infra", url="https://git.example.com/infra.git")
    params.update(overrides)
    return params


KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        ({"ssh_private_key": KEY}, "ssh_private_key needs an SSH URL"),
        ({"url": "git@h:x.git", "ssh_private_key": "not a key"}, "does not look like a private key"),
        ({"url": "git@h:x.git", "repo_username": "u", "repo_password": "p"}, "is an SSH URL"),
        ({"known_hosts": ["h AAAA"]}, "at least three fields"),
        ({"repo_ca_cert": "hello"}, "does not look like a PEM certificate"),
        ({"url": None}, "url is required"),
        ({"repo_proxy": "proxy:3128"}, "must be an http:// or https:// URL"),
        ({"repo_type": "helm", "url": "git@h:x.git", "ssh_private_key": KEY}, "repo_type=helm"),
    ],
)
def test_repository_bad_input(overrides, fragment):
    module = FakeModule(repo_params(**overrides))
    with pytest.raises(A.ArgoCDValidationError) as info:
        argocd_repository.RepositoryManager(module).validate()
    assert fragment in info.value.msg
    assert "c2VjcmV0" not in info.value.msg and "secret-key" not in info.value.msg


def test_repository_secret_shape_and_masked_diff_detects_changed_secret():
    module = FakeModule(repo_params(repo_username="bot", repo_password="first-token"))
    first = argocd_repository.RepositoryManager(module).run()
    secret = module.objects[("Secret", "argocd", "repo-infra")]
    assert secret["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    assert base64.b64decode(secret["data"]["password"]).decode() == "first-token"
    assert first["repository"]["data"]["password"] == S.MASK
    assert argocd_repository.RepositoryManager(module).run()["changed"] is False

    module.params["repo_password"] = "second-token"
    second = argocd_repository.RepositoryManager(module).run()
    assert second["changed"] is True
    text = repr(second)
    for value in ("first-token", "second-token", base64.b64encode(b"first-token").decode(), base64.b64encode(b"second-token").decode()):
        assert value not in text
    diff = second["diff"][0]
    assert "password: <hidden>" in diff["before"] and "password: <hidden, changed>" in diff["after"]


def test_repository_known_hosts_only_adds_lines():
    existing = {("ConfigMap", "argocd", "argocd-ssh-known-hosts-cm"): {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": "argocd"},
        "data": {"ssh_known_hosts": "github.com ssh-ed25519 AAAA\n"}}}
    line = "git.example.com ssh-ed25519 BBBB"
    module = FakeModule(repo_params(url="git@git.example.com:infra.git", ssh_private_key=KEY, known_hosts=[line]), existing)
    result = argocd_repository.RepositoryManager(module).run()
    assert result["known_hosts_added"] == [line]
    assert module.objects[("ConfigMap", "argocd", "argocd-ssh-known-hosts-cm")]["data"]["ssh_known_hosts"] == "github.com ssh-ed25519 AAAA\n" + line + "\n"
    assert not result.get("warnings")
    module.calls = []
    again = argocd_repository.RepositoryManager(module).run()
    assert again["changed"] is False and again["known_hosts_added"] == []
    assert [c[2] for c in module.calls if c[0] == "apply"] == ["repo-infra"]


def test_repository_warns_without_host_key():
    module = FakeModule(repo_params(url="ssh://git@git.example.com:2222/infra.git", ssh_private_key=KEY))
    result = argocd_repository.RepositoryManager(module).run()
    assert "No SSH host key for [git.example.com]:2222" in result["warnings"][0]


def test_repository_refuses_to_take_over_foreign_secret():
    meta = {"name": "repo-infra", "namespace": "argocd"}
    foreign = {("Secret", "argocd", "repo-infra"): {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {}}}
    module = FakeModule(repo_params(), foreign)
    with pytest.raises(Exception) as info:
        argocd_repository.RepositoryManager(module).run()
    assert "not an Argo CD repository Secret" in str(info.value)


# ---------------------------------------------------------------------------- argocd_application
def test_sync_operation_request():
    params = dict((k, v.get("default")) for k, v in argocd_application.build_argument_spec().items())
    params.update(name="demo", sync_policy={"prune": False, "sync_options": ["ServerSideApply=true"]})
    op = argocd_application.ApplicationManager(FakeModule(params)).sync_operation()
    assert op == {
        "operation": {
            "initiatedBy": {"username": "gitops.bootstrap", "automated": False},
            "sync": {"syncStrategy": {"hook": {}}, "prune": False, "syncOptions": ["ServerSideApply=true"]},
        }
    }


def _app_with(conditions, reconciled="2026-01-01T00:00:10Z", compared_path="apps/demo"):
    source = {"repoURL": "https://git.example/infra.git", "path": "apps/demo", "targetRevision": "HEAD"}
    dest = {"server": "https://kubernetes.default.svc", "namespace": "demo"}
    return {
        "spec": {"source": source, "destination": dest},
        "status": {
            "reconciledAt": reconciled,
            "sync": {"status": "Unknown", "comparedTo": {"source": dict(source, path=compared_path), "destination": dest}},
            "health": {"status": "Unknown"},
            "conditions": conditions,
        },
    }


COMPARISON = {"type": "ComparisonError", "message": "Failed to load target state: ssh: unable to authenticate"}
INVALID = {"type": "InvalidSpecError", "message": "application destination is not permitted in project 'apps'"}
is_ready = argocd_application.ApplicationManager.is_ready


def test_wait_ends_on_a_fresh_comparison_error():
    with pytest.raises(argocd_application._StopWaiting):
        is_ready(_app_with([COMPARISON]), reconciled_before="2026-01-01T00:00:00Z")
    # A new application (nothing read before the task) has only fresh conditions.
    with pytest.raises(argocd_application._StopWaiting):
        is_ready(_app_with([COMPARISON]), reconciled_before=None)


def test_wait_goes_on_through_a_stale_comparison_error():
    # The same comparison the task saw before it began: a refresh may still fix it.
    assert is_ready(_app_with([COMPARISON]), reconciled_before="2026-01-01T00:00:10Z") is False
    # A comparison of an earlier spec does not describe the current one.
    assert is_ready(_app_with([COMPARISON], compared_path="apps/old"), reconciled_before=None) is False


def test_wait_ends_on_a_rejected_spec_even_without_a_new_comparison():
    with pytest.raises(argocd_application._StopWaiting):
        is_ready(_app_with([INVALID]), reconciled_before="2026-01-01T00:00:10Z")


def test_a_fresh_comparison_error_is_held_inside_the_grace_period():
    with pytest.raises(argocd_application._ComparisonHeld):
        is_ready(_app_with([COMPARISON]), reconciled_before=None, hold_comparison=True)
    # A rejected spec is never held back.
    with pytest.raises(argocd_application._StopWaiting):
        is_ready(_app_with([COMPARISON, INVALID]), reconciled_before=None, hold_comparison=True)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _waiting_manager(apps, clock, grace=60, timeout=300):
    """An ApplicationManager whose get() returns apps in turn, and whose time is clock."""
    params = dict((k, v.get("default")) for k, v in argocd_application.build_argument_spec().items())
    params.update(name="demo", wait_fail_grace=grace, wait_timeout=timeout, wait_sleep=5)
    module = FakeModule(params)
    patches = []
    module.merge_patch = lambda *args, **kwargs: patches.append((clock(), args[4]))
    manager = argocd_application.ApplicationManager(module)
    seq = iter(apps)

    def get():
        clock.now += 5
        return next(seq)

    manager.get = get
    return manager, patches


def test_wait_refreshes_through_a_comparison_error_that_the_next_comparison_clears(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(argocd_application, "wait_until", lambda fetch, done, timeout, interval: _drive(fetch, done))
    ready = _app_with([])
    ready["status"].update(sync={"status": "Synced", "comparedTo": ready["status"]["sync"]["comparedTo"]},
                           health={"status": "Healthy"})
    manager, patches = _waiting_manager([_app_with([COMPARISON])] * 4 + [ready], clock)
    finished, last = manager.wait_ready(reconciled_before=None, clock=clock)
    assert finished and last is ready
    # Refreshes every REFRESH_EVERY seconds while the error lasted, none after.
    assert [at for at, dummy in patches] == [10.0, 20.0]
    assert patches[0][1] == {"metadata": {"annotations": {argocd_application.REFRESH_ANNOTATION: "normal"}}}


def test_wait_ends_on_a_comparison_error_that_outlasts_the_grace(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(argocd_application, "wait_until", lambda fetch, done, timeout, interval: _drive(fetch, done))
    manager, dummy = _waiting_manager([_app_with([COMPARISON])] * 20, clock, grace=30)
    with pytest.raises(argocd_application._StopWaiting):
        manager.wait_ready(reconciled_before=None, clock=clock)
    assert 30 <= clock.now <= 40


def _drive(fetch, done):
    while True:
        obj = fetch()
        if done(obj):
            return True, obj


def test_wait_fail_on_empty_waits_for_the_timeout():
    assert is_ready(_app_with([COMPARISON, INVALID]), fail_on=[], reconciled_before=None) is False
    # Other condition types never end the wait.
    warning = {"type": "OrphanedResourceWarning", "message": "1 orphaned resource"}
    assert is_ready(_app_with([warning]), reconciled_before=None) is False


# ---------------------------------------------------------------------------- argocd_info readiness
def _deployment(replicas=1, **status):
    status.setdefault("replicas", status.get("updatedReplicas", 0))
    return {
        "kind": "Deployment",
        "metadata": {"name": "argocd-server", "generation": 2},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": "quay.io/argoproj/argocd:v3.5.1"}]}}},
        "status": dict({"observedGeneration": 2}, **status),
    }


def test_info_readiness_is_the_install_waits_rule():
    from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import workload_problems
    from ansible_collections.gitops.bootstrap.plugins.modules import argocd_info

    rolling = _deployment(replicas=1, readyReplicas=2, updatedReplicas=1, availableReplicas=2)
    rolling["status"]["replicas"] = 2
    summary = argocd_info.workload_summary(rolling)
    assert summary["ready"] is False, "an old replica still terminating is not a finished rollout"
    assert summary["problem"] == workload_problems(rolling) == "1 old replicas still terminating"

    done = _deployment(replicas=1, readyReplicas=1, updatedReplicas=1, availableReplicas=1)
    assert argocd_info.workload_summary(done)["ready"] is True and argocd_info.workload_summary(done)["problem"] is None

    stale = _deployment(replicas=1, readyReplicas=1, updatedReplicas=1, availableReplicas=1)
    stale["status"]["observedGeneration"] = 1
    assert argocd_info.workload_summary(stale)["ready"] is False


def test_an_application_that_cannot_become_ready_fails_as_a_cluster_error_with_its_state(monkeypatch):
    from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError

    class Module:
        params = {"name": "web", "namespace": "argocd", "state": "present"}

    manager = argocd_application.ApplicationManager(Module())
    app = _app_with([INVALID])

    def present():
        manager.changed = True
        raise argocd_application._StopWaiting(app)

    monkeypatch.setattr(manager, "present", present)
    with pytest.raises(GitopsK8sError) as caught:
        manager.run()
    assert caught.value.msg.startswith("Application argocd/web cannot become Synced and Healthy, and waiting does not help: ")
    assert caught.value.details["changed"] is True
    assert caught.value.details["application"] == {k: v for k, v in app.items() if k != "status"}, "the application without server-owned fields"
    assert caught.value.details["status"]["conditions"]
