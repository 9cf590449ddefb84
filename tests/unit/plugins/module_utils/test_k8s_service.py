# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service layer of _k8s (K8sService, run_manager) on the edge cases a real API server rarely shows.

The real K8sService runs over the shared fake API server (tests/unit/utils/fake_k8s.py), which logs
every request: what is sent in check mode, an object deleted between the read and the delete, a
type the server does not serve, concurrent writers of finalizers, failures among parallel requests.
The same code against a real API server is proven by tests/integration/test_argocd_modules.py and
the molecule scenarios.
"""

import json
import threading

import pytest

from kubernetes.dynamic.exceptions import ConflictError, ForbiddenError, NotFoundError

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import ManifestError
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, list_pages, run_manager, wait_until
from ansible_collections.gitops.bootstrap.tests.unit.utils.fake_k8s import Exited, FakeAnsibleModule as FakeModule, FakeApiServer, api_error, fake_service

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}, "data": {"a": "1"}}


def server_with(*objs, served=None):
    server = FakeApiServer(served)
    for obj in objs:
        server.add(obj)
    return server


def verbs(server, verb):
    return [c for c in server.calls if c[0] == verb]


# ------------------------------------------------------------------------------ check mode
def test_apply_in_check_mode_is_a_dry_run_and_tells_the_change():
    server = server_with(CM)
    svc = fake_service(server, check_mode=True)
    changed, before, after = svc.apply(dict(CM, data={"a": "2"}))
    assert changed is True
    assert before["data"] == {"a": "1"} and after["data"] == {"a": "2"}
    assert "resourceVersion" not in before["metadata"], "server-owned fields are not part of the comparison"
    (apply,) = verbs(server, "apply")
    assert apply[4]["dry_run"] == "All"
    assert server.find("ConfigMap", "cm", "ns")["data"] == {"a": "1"}, "nothing was stored"


def test_apply_outside_check_mode_stores_with_the_field_manager():
    server = server_with()
    svc = fake_service(server)
    changed, before, after = svc.apply(CM, field_manager="me", force_conflicts=False)
    assert (changed, before, after["data"]) == (True, None, {"a": "1"})
    (apply,) = verbs(server, "apply")
    assert apply[4] == {"field_manager": "me", "force_conflicts": False}
    assert svc.apply(CM, field_manager="me")[0] is False, "the second apply changes nothing"


def test_delete_sends_nothing_in_check_mode_and_delete_object_sends_a_dry_run():
    server = server_with(CM)
    svc = fake_service(server, check_mode=True)
    assert svc.delete("ConfigMap", "v1", "cm", "ns")["data"] == {"a": "1"}
    assert verbs(server, "delete") == []
    svc.delete_object(CM, "Foreground")
    (delete,) = verbs(server, "delete")
    assert delete[4] == {"propagation_policy": "Foreground", "dry_run": "All"}
    assert server.find("ConfigMap", "cm", "ns") is not None


def test_merge_patch_in_check_mode_is_a_dry_run():
    server = server_with(CM)
    svc = fake_service(server, check_mode=True)
    out = svc.merge_patch("ConfigMap", "v1", "cm", "ns", {"data": {"a": None}}, field_manager="me/x")
    assert out["data"] == {}
    (patch,) = verbs(server, "patch")
    assert patch[4]["dry_run"] == "All" and patch[4]["field_manager"] == "me/x"
    assert patch[4]["content_type"] == "application/merge-patch+json"
    assert server.find("ConfigMap", "cm", "ns")["data"] == {"a": "1"}


# ------------------------------------------------------------------------------ absent objects and types
def test_notfound_on_delete_is_no_error():
    server = server_with(CM)
    # The object disappears between the read and the delete.
    server.failures["delete"] = [api_error(NotFoundError, 404, "Not Found")]
    svc = fake_service(server)
    assert svc.delete("ConfigMap", "v1", "cm", "ns")["metadata"]["name"] == "cm"
    server.failures["delete"] = [api_error(NotFoundError, 404, "Not Found")]
    svc.delete_object(CM)
    assert len(verbs(server, "delete")) == 2


def test_delete_of_an_absent_object_sends_nothing():
    server = server_with()
    assert fake_service(server).delete("ConfigMap", "v1", "cm", "ns") is None
    assert verbs(server, "delete") == []


def test_other_delete_errors_name_the_object_and_keep_the_cause():
    server = server_with(CM)
    server.failures["delete"] = [api_error(ForbiddenError, 403, "Forbidden")]
    with pytest.raises(GitopsK8sError) as err:
        fake_service(server).delete_object(CM)
    assert err.value.msg.startswith("Deleting ConfigMap ns/cm: the API server refused the request (403 Forbidden)")
    assert isinstance(err.value.__cause__, ForbiddenError), "the cause is kept for the traceback at -vvv"


def test_unserved_type_is_an_error_unless_it_reads_as_absent():
    server = server_with(served={"ConfigMap"})
    svc = fake_service(server)
    with pytest.raises(GitopsK8sError, match="does not serve this resource type.*install its CRD first"):
        svc.get("Application", "argoproj.io/v1alpha1", "a", "argocd")
    assert svc.get("Application", "argoproj.io/v1alpha1", "a", "argocd", unserved_is_absent=True) is None
    assert svc.list("Application", "argoproj.io/v1alpha1", unserved_is_absent=True) == []
    assert svc.merge_patch("Application", "argoproj.io/v1alpha1", "a", "argocd", {}, missing_ok=True) is None
    svc.delete_object({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"}})
    assert [c for c in server.calls if c[1] == "Application"] == [], "nothing is sent for a type not served"


def test_get_of_a_missing_object_is_none_and_merge_patch_of_it_an_error():
    svc = fake_service(server_with())
    assert svc.get("ConfigMap", "v1", "cm", "ns") is None
    assert svc.merge_patch("ConfigMap", "v1", "cm", "ns", {"data": {}}, missing_ok=True) is None
    with pytest.raises(GitopsK8sError, match="^Patching ConfigMap ns/cm: "):
        svc.merge_patch("ConfigMap", "v1", "cm", "ns", {"data": {}})


def test_resource_types_are_looked_up_once_until_forgotten():
    server = server_with(CM, served={"ConfigMap"})
    svc = fake_service(server)
    for _round in range(3):
        svc.get("ConfigMap", "v1", "cm", "ns")
        svc.find_resource("Application", "argoproj.io/v1alpha1")
    assert server.lookups == [("ConfigMap", "v1"), ("Application", "argoproj.io/v1alpha1")]
    server.served.add("Application")  # its CRD was established meanwhile
    assert svc.find_resource("Application", "argoproj.io/v1alpha1") is None, "remembered as not served"
    svc.forget_resource("Application", "argoproj.io/v1alpha1")
    assert svc.find_resource("Application", "argoproj.io/v1alpha1").kind == "Application"
    assert server.resources.invalidations == 1


# ------------------------------------------------------------------------------ finalizers
APP = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
       "metadata": {"name": "web", "namespace": "argocd", "finalizers": ["resources-finalizer.argocd.argoproj.io", "x"]}}


def drop_argocd(finalizers):
    return [f for f in finalizers if "argocd" not in f]


def test_finalizer_update_carries_the_version_it_read_and_retries_a_conflict():
    server = server_with(APP)
    pauses = []
    svc = fake_service(server, sleep=pauses.append)
    server.failures["patch"] = [api_error(ConflictError, 409, "Conflict")] * 2
    out = svc.update_finalizers(APP, drop_argocd)
    assert out["metadata"]["finalizers"] == ["x"]
    patches = verbs(server, "patch")
    assert len(patches) == 3 and pauses == [0.2, 0.2]
    assert all(p[4]["body"]["metadata"]["resourceVersion"] for p in patches)
    assert len(verbs(server, "get")) == 3, "each attempt reads the object again"


def test_finalizer_update_gives_up_after_repeated_conflicts():
    server = server_with(APP)
    server.failures["patch"] = [api_error(ConflictError, 409, "Conflict")] * 6
    with pytest.raises(GitopsK8sError, match="^Adding x to Application argocd/web: conflict \\(409\\)"):
        fake_service(server).update_finalizers(APP, lambda f: f + ["y"], "Adding x to")
    assert len(verbs(server, "patch")) == 6


def test_finalizer_update_of_an_unchanged_or_gone_object_sends_no_patch():
    server = server_with(dict(APP, metadata=dict(APP["metadata"], finalizers=["x"])))
    svc = fake_service(server)
    assert svc.update_finalizers(APP, drop_argocd)["metadata"]["finalizers"] == ["x"]
    gone = dict(APP, metadata=dict(APP["metadata"], name="gone"))
    assert svc.update_finalizers(gone, drop_argocd) is None
    assert verbs(server, "patch") == []


def test_removing_every_finalizer_sends_null():
    server = server_with(dict(APP, metadata=dict(APP["metadata"], finalizers=["resources-finalizer.argocd.argoproj.io"])))
    fake_service(server).update_finalizers(APP, drop_argocd)
    (patch,) = verbs(server, "patch")
    assert patch[4]["body"]["metadata"]["finalizers"] is None


# ------------------------------------------------------------------------------ parallel requests
def test_parallel_keeps_the_order_and_raises_the_first_error_after_all_finished():
    svc = fake_service(workers=4)
    done = []
    lock = threading.Lock()

    def work(i):
        with lock:
            done.append(i)
        if i in (3, 5):
            raise GitopsK8sError("item %d failed" % i)
        return i * 10

    assert svc.parallel(lambda i: i * 10, range(7)) == [0, 10, 20, 30, 40, 50, 60]
    with pytest.raises(GitopsK8sError, match="^item 3 failed$"):
        svc.parallel(work, range(8))
    assert sorted(done) == list(range(8)), "every item ran, none was abandoned"
    assert svc.parallel(work, []) == []


def test_parallel_with_one_worker_runs_in_order_in_this_thread():
    svc = fake_service()
    threads = []
    assert svc.parallel(lambda i: threads.append(threading.current_thread()) or i, [1, 2, 3], workers=1) == [1, 2, 3]
    assert set(threads) == {threading.current_thread()}


# ------------------------------------------------------------------------------ lists in pages
class PagedResource:
    """A resource type whose list answers come in pages of raw JSON, as with serialize=False."""

    def __init__(self, pages, fail_at=None):
        self.pages = pages
        self.fail_at = fail_at
        self.calls = []

    def get(self, **params):
        self.calls.append(params)
        index = int(params.get("_continue") or 0)
        if index == self.fail_at:
            raise api_error(ForbiddenError, 403, "rolebindings is forbidden")
        meta = {"continue": str(index + 1)} if index + 1 < len(self.pages) else {}
        body = json.dumps({"items": self.pages[index], "metadata": meta}).encode("utf-8")
        return type("Response", (), {"data": body})()


def test_list_pages_follows_continue_tokens_and_names_the_kind():
    resource = PagedResource([[{"metadata": {"name": "a"}}], [], [{"metadata": {"name": "b"}}]])
    items = list_pages(resource, "RoleBinding", "Listing RoleBindings", page_size=1)
    assert [(i["kind"], i["metadata"]["name"]) for i in items] == [("RoleBinding", "a"), ("RoleBinding", "b")]
    assert [c.get("_continue") for c in resource.calls] == [None, "1", "2"]
    assert all(c["limit"] == 1 and c["serialize"] is False for c in resource.calls)
    assert list_pages(PagedResource([[]]), "Role", "Listing Roles") == []


def test_list_pages_failure_says_what_was_being_listed():
    with pytest.raises(GitopsK8sError, match="Listing RoleBindings") as err:
        list_pages(PagedResource([[], []], fail_at=1), "RoleBinding", "Listing RoleBindings")
    assert "forbidden" in err.value.msg


# ------------------------------------------------------------------------------ waits
def test_wait_until_times_out_and_returns_the_last_result():
    now = [0.0]
    calls = []

    def fetch():
        calls.append(now[0])
        return len(calls)

    def sleep(seconds):
        now[0] += seconds

    finished, last = wait_until(fetch, lambda n: n >= 100, timeout=5, interval=2, sleep=sleep, clock=lambda: now[0])
    assert finished is False and last == 4 and calls == [0.0, 2.0, 4.0, 5.0]
    now[0] = 0.0
    finished, last = wait_until(lambda: "ok", lambda r: r == "ok", timeout=0, sleep=sleep, clock=lambda: now[0])
    assert finished is True and last == "ok"


# ------------------------------------------------------------------------------ run_manager
def run(work, **kwargs):
    module = FakeModule()
    with pytest.raises(Exited):
        run_manager(module, work, "Doing it", details=lambda: {"objects": ["x"]}, **kwargs)
    return module


def test_run_manager_exits_with_the_result():
    assert run(lambda: {"changed": False}).exited == {"changed": False}


def test_run_manager_turns_each_kind_of_error_into_a_message():
    def input_error():
        raise ManifestError("bad input")

    failed = run(input_error, input_errors=(ManifestError,)).failed
    assert failed == {"msg": "bad input", "objects": ["x"]}

    def api_failure():
        try:
            raise api_error(ForbiddenError, 403, "Forbidden")
        except ForbiddenError as exc:
            raise GitopsK8sError("Reading X: refused") from exc

    failed = run(api_failure).failed
    assert failed["msg"] == "Reading X: refused" and failed["objects"] == ["x"]
    assert "ForbiddenError" in failed["exception"], "the traceback of the cause is kept for -vvv"

    def bug():
        raise KeyError("oops")

    failed = run(bug).failed
    assert failed["msg"] == "Doing it: 'oops'" and "KeyError" in failed["exception"]
