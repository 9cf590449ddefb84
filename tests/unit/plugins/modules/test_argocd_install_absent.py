# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline tests of argocd_install state=absent with and without cascade.

A fake API server holds the objects; a fake application controller acts between every request as
Argo CD's would: it deletes what an Application being deleted with the resources finalizer manages
(only while its AppProject, ServiceAccount and ClusterRoleBinding exist, else the Application gets
a DeletionError), and the root application re-creates a child Application that disappears while the
root itself is not being deleted (self-heal). tests/integration/test_pull_loop_uninstall.py proves
the same against the real controller.
"""


import copy
import json

import pytest

from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, UnprocessibleEntityError

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install import absent
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.inventory import INVENTORY_NAME
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.report import Report
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError
from ansible_collections.gitops.bootstrap.tests.unit.utils.fake_k8s import FakeApiServer, api_error, fake_service

from test_argocd_install import module_params  # the module's parameters with their defaults, offline

NS = "argocd"
FINALIZER = "resources-finalizer.argocd.argoproj.io"
APPS = "argoproj.io/v1alpha1"
NAMESPACED = {"Deployment", "StatefulSet", "Service", "ServiceAccount", "ConfigMap", "Secret", "Application",
              "ApplicationSet", "AppProject"}
ARGOCD_OWN = [("apps/v1", "StatefulSet", NS, "argocd-application-controller"),
              ("v1", "ServiceAccount", NS, "argocd-application-controller"),
              ("rbac.authorization.k8s.io/v1", "ClusterRole", "", "argocd-application-controller"),
              ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "argocd-application-controller")]


class FakeCluster(FakeApiServer):
    """The API server (the shared fake, with what argocd_install uses) and Argo CD's application controller."""

    def __init__(self):
        super().__init__()
        self.log = []  # ("module"|"controller", verb, kind, namespace, name)
        self.controller_running = True
        self.forbidden = set()  # kinds the controller may not delete
        self.conflicts = 0  # the next patches that fail with 409
        self.desired_children = {}  # root app name -> child Applications it re-creates (self-heal)

    # -- storage
    def _remove(self, obj):
        meta = obj["metadata"]
        self.objs.pop(self._key(obj["kind"], meta.get("namespace", ""), meta["name"]), None)
        if obj["kind"] == "Namespace":
            for key in [k for k in self.objs if k[1] == meta["name"]]:
                self.objs.pop(key)

    def _delete(self, who, obj):
        meta = obj["metadata"]
        self.log.append((who, "delete", obj["kind"], meta.get("namespace", ""), meta["name"]))
        if meta.get("finalizers") or obj["kind"] == "Namespace":
            # A namespace terminates: Kubernetes' namespace controller empties and removes it in the next step.
            meta.setdefault("deletionTimestamp", "2026-01-01T00:00:00Z")
        else:
            self._remove(obj)

    # -- the dynamic client
    def get(self, resource, name=None, namespace=None, label_selector=None, serializer=None):
        if resource.kind not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding") \
                and resource.kind not in NAMESPACED:
            return {"items": []}
        return super().get(resource, name=name, namespace=namespace, label_selector=label_selector, serializer=serializer)

    def delete(self, resource, name=None, namespace=None, serializer=None, propagation_policy=None, dry_run=None):
        self.calls.append(("delete", resource.kind, namespace or "", name,
                           {"propagation_policy": propagation_policy, "dry_run": dry_run}))
        obj = self.find(resource.kind, name, namespace if resource.namespaced else "")
        if obj is None:
            raise api_error(NotFoundError, 404, "Not Found")
        if not dry_run:
            self._delete("module", obj)
            self.step()

    def patch(self, resource, body=None, name=None, namespace=None, serializer=None, content_type=None, **params):
        self.calls.append(("patch", resource.kind, namespace or "", name, dict(params, content_type=content_type)))
        obj = self.find(resource.kind, name, namespace if resource.namespaced else "")
        if obj is None:
            raise api_error(NotFoundError, 404, "Not Found")
        meta, patch = obj["metadata"], body["metadata"]
        if self.conflicts or (patch.get("resourceVersion") and patch["resourceVersion"] != meta["resourceVersion"]):
            self.conflicts = max(0, self.conflicts - 1)
            raise api_error(ConflictError, 409, "Conflict")
        if "finalizers" in patch:
            new = patch["finalizers"] or []
            if meta.get("deletionTimestamp") and set(new) - set(meta.get("finalizers") or []):
                raise api_error(UnprocessibleEntityError, 422, "no new finalizers can be added if the object is being deleted")
            meta["finalizers"] = new
            self.log.append(("module", "finalizers", obj["kind"], meta.get("namespace", ""), meta["name"], tuple(new)))
        if "annotations" in patch:
            meta.setdefault("annotations", {}).update(patch["annotations"])
            self.log.append(("module", "annotate", obj["kind"], meta.get("namespace", ""), meta["name"]))
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(obj)
        out = copy.deepcopy(obj)
        self.step()
        return out

    # -- Argo CD's application controller
    def step(self):
        if self.controller_running:
            self._controller_step()
        for ns in [o for k, o in list(self.objs.items()) if k[0] == "Namespace" and o["metadata"].get("deletionTimestamp")]:
            self._remove(ns)

    def _controller_step(self):
        for app in [o for k, o in sorted(self.objs.items()) if k[0] == "Application"]:
            meta = app["metadata"]
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)  # the controller writes the status all the time
            if not meta.get("deletionTimestamp"):
                for child in self.desired_children.get(meta["name"], []):
                    if self.find("Application", child["metadata"]["name"], NS) is None:
                        self.log.append(("controller", "recreate", "Application", NS, child["metadata"]["name"]))
                        self.add(child)
                continue
            if not any(f.startswith(FINALIZER) for f in meta.get("finalizers") or []):
                continue
            error = self._deletion_error(app)
            if error:
                app.setdefault("status", {})["conditions"] = [{"type": "DeletionError", "message": error}]
                continue
            for res in app.get("status", {}).get("resources", []):
                live = self.find(res["kind"], res["name"], res.get("namespace", ""))
                if live is None or live["kind"] == "CustomResourceDefinition":
                    continue
                if "Delete=false" in (live["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-options", ""):
                    continue
                self._delete("controller", live)
            meta["finalizers"] = [f for f in meta["finalizers"] if not f.startswith(FINALIZER)]
            if not meta["finalizers"]:
                self._remove(app)

    def _deletion_error(self, app):
        if self.find("ServiceAccount", "argocd-application-controller", NS) is None or \
                self.find("ClusterRoleBinding", "argocd-application-controller") is None:
            return "Unauthorized"
        if self.find("AppProject", app["spec"]["project"], NS) is None:
            return "AppProject.argoproj.io \"%s\" not found" % app["spec"]["project"]
        for res in app.get("status", {}).get("resources", []):
            if res["kind"] in self.forbidden:
                return "%s \"%s\" is forbidden" % (res["kind"].lower(), res["name"])
        return None

    def deleted_by(self, who):
        return [e[2:5] for e in self.log if e[0] == who and e[1] == "delete"]


def res(kind, name, namespace=None, group="", version="v1"):
    out = {"group": group, "version": version, "kind": kind, "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


def application(name, project, dest_ns, resources, finalizers=None):
    meta = {"name": name, "namespace": NS}
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"apiVersion": APPS, "kind": "Application", "metadata": meta,
            "spec": {"project": project, "destination": {"server": "https://kubernetes.default.svc", "namespace": dest_ns}},
            "status": {"resources": resources}}


def bootstrapped(web_finalizers=None, ready=1):
    """Argo CD as the role and the scaffold leave it: root (app of apps, with the finalizer the role sets), Argo CD's
    self-management, platform-namespaces (Namespace web), web (Deployment and Service) and cache (a Deployment in
    namespace default), all three without finalizer."""
    cluster = FakeCluster()
    cluster.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    cluster.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": INVENTORY_NAME, "namespace": NS},
                 "data": {"version": "v3.5.1", "flavour": "cluster", "objects": json.dumps([list(e) for e in ARGOCD_OWN])}})
    cluster.add({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "argocd-application-controller", "namespace": NS},
                 "status": {"readyReplicas": ready}})
    cluster.add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "argocd-application-controller", "namespace": NS}})
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        cluster.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "argocd-application-controller"}})
    for plural in ("applications", "applicationsets", "appprojects"):
        cluster.add({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                     "metadata": {"name": "%s.argoproj.io" % plural},
                     "status": {"conditions": [{"type": "Established", "status": "True"}]}})
    for project in ("platform", "apps"):
        cluster.add({"apiVersion": APPS, "kind": "AppProject", "metadata": {"name": project, "namespace": NS}})
    cluster.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}})
    cluster.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "web"}})
    cluster.add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "web"}})
    cluster.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cache", "namespace": "default"}})
    children = [
        application("cache", "apps", "default", [res("Deployment", "cache", "default", "apps")]),
        application("argocd", "platform", NS, [res("Namespace", NS), res("ConfigMap", "argocd-cm", NS),
                                               res("ClusterRoleBinding", "argocd-application-controller", group="rbac.authorization.k8s.io"),
                                               res("CustomResourceDefinition", "applications.argoproj.io", group="apiextensions.k8s.io")]),
        application("platform-namespaces", "platform", "default", [res("Namespace", "web")]),
        application("web", "apps", "web", [res("Deployment", "web", "web", "apps"), res("Service", "web", "web")],
                    finalizers=web_finalizers),
    ]
    root = application("root", "platform", NS,
                       [res("AppProject", p, NS, "argoproj.io", "v1alpha1") for p in ("apps", "platform")]
                       + [res("Application", c["metadata"]["name"], NS, "argoproj.io", "v1alpha1") for c in children],
                       finalizers=[FINALIZER])
    for app in [root] + children:
        cluster.add(app)
    cluster.desired_children["root"] = children
    return cluster


class FakeClock(object):
    """time for the module: sleeping advances the clock and lets the controller act."""

    def __init__(self, cluster):
        self.now = 1000.0
        self.cluster = cluster

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.cluster.step()


def run_absent(cluster, monkeypatch, check_mode=False, **params):
    clock = FakeClock(cluster)
    monkeypatch.setattr(absent, "time", clock)
    params = module_params(dict({"state": "absent", "parallel": 1}, **params))
    report = Report(params, check_mode=check_mode, diff=True)
    installer = absent.Uninstall(fake_service(cluster, check_mode=check_mode, sleep=clock.sleep), params, report)
    installer.run()
    return installer, report.result()


def module_deleted_index(cluster, kind, name):
    return [i for i, e in enumerate(cluster.log) if e[:3] == ("module", "delete", kind) and e[4] == name][0]


# ------------------------------------------------------------------------- helpers
def test_plan_application_keeps_argocd_itself_out_of_the_cascade():
    cluster_objects = {("ClusterRoleBinding", "argocd-application-controller")}
    root = application("root", "platform", NS, [res("AppProject", "apps", NS, "argoproj.io"), res("Application", "web", NS, "argoproj.io")])
    assert absent.plan_application(root, NS, cluster_objects)[0] is False
    self_manage = application("argocd", "platform", NS, [])  # ComparisonError: no resources known, targets Argo CD's namespace
    assert absent.plan_application(self_manage, NS, cluster_objects)[0] is False
    web = application("web", "apps", "web", [res("Deployment", "web", "web", "apps")])
    assert absent.plan_application(web, NS, cluster_objects) == (True, [], [res("Deployment", "web", "web", "apps")])
    crb = res("ClusterRoleBinding", "argocd-application-controller", group="rbac.authorization.k8s.io")
    mixed = application("mixed", "platform", "default", [res("Namespace", "web"), res("Namespace", NS), crb])
    cascade, own, deployed = absent.plan_application(mixed, NS, cluster_objects)
    assert cascade is True and [r["name"] for r in deployed] == ["web"] and len(own) == 2
    # On another cluster, namespace argocd is not Argo CD's own.
    remote = application("remote", "apps", NS, [res("ConfigMap", "x", NS)])
    remote["spec"]["destination"] = {"server": "https://spoke.example:6443", "namespace": NS}
    assert absent.plan_application(remote, NS, cluster_objects)[0] is True


def test_parents_first_orders_an_app_of_apps_tree():
    leaf = application("a-leaf", "apps", "x", [])
    middle = application("m", "apps", "x", [res("Application", "a-leaf", NS, "argoproj.io")])
    top = application("z-root", "apps", NS, [res("Application", "m", NS, "argoproj.io")])
    loop = application("loop", "apps", NS, [res("Application", "loop", NS, "argoproj.io")])
    order = [a["metadata"]["name"] for a in absent.parents_first([leaf, middle, top, loop], NS)]
    assert order == ["loop", "z-root", "m", "a-leaf"]


def test_finalizer_and_sync_option_helpers():
    assert absent.with_resources_finalizer(["x"]) == ["x", FINALIZER]
    assert absent.with_resources_finalizer([FINALIZER + "/background"]) == [FINALIZER + "/background"]
    assert absent.without_argocd_finalizers(["x", FINALIZER, "post-delete-finalizer.argocd.argoproj.io"]) == ["x"]
    assert absent.with_delete_false(None) == "Delete=false"
    assert absent.with_delete_false("Prune=false, Delete=true") == "Prune=false,Delete=false"


# ------------------------------------------------------------------------- cascade
def test_cascade_lets_the_controller_delete_what_was_deployed_before_argocd_goes(monkeypatch):
    cluster = bootstrapped()
    installer, result = run_absent(cluster, monkeypatch, cascade=True)
    # (Deployment and Service web go with their namespace, whichever of the two Applications is faster.)
    assert {("Deployment", "default", "cache"), ("Namespace", "", "web")} <= set(cluster.deleted_by("controller"))
    assert cluster.find("Deployment", "web", "web") is None and cluster.find("Namespace", "web") is None
    # The controller deleted nothing of Argo CD itself, and did its work while its identity and projects existed.
    last_controller = max(i for i, e in enumerate(cluster.log) if e[0] == "controller" and e[1] == "delete")
    for kind, name in (("StatefulSet", "argocd-application-controller"), ("ServiceAccount", "argocd-application-controller"),
                       ("ClusterRoleBinding", "argocd-application-controller"), ("AppProject", "apps")):
        assert module_deleted_index(cluster, kind, name) > last_controller, kind
    assert not [a for a in cluster.objs.values() if (a.get("status") or {}).get("conditions")], "no DeletionError"
    assert not any(e[1] == "recreate" for e in cluster.log), "the root was gone before its children"
    assert cluster.objs == {}, "everything is gone"
    report = dict((a["name"], a) for a in result["applications"])
    assert report["web"] == {"name": "web", "cascade": True, "resources": ["Deployment web/web", "Service web/web"]}
    assert report["root"]["cascade"] is False and report["argocd"]["cascade"] is False
    assert result["changed"] is True
    deleted = [(o["kind"], o["name"]) for o in result["objects"] if o["action"] == "delete"]
    assert len(deleted) == len(set(deleted)), "each object reported once"


def test_cascade_keeps_argocd_objects_that_a_workload_application_also_manages(monkeypatch):
    cluster = bootstrapped()
    web = cluster.find("Application", "web", NS)
    web["status"]["resources"].append(res("ConfigMap", "argocd-cm", NS))
    cluster.add({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "argocd-cm", "namespace": NS, "annotations": {"argocd.argoproj.io/sync-options": "Prune=false"}}})
    run_absent(cluster, monkeypatch, cascade=True)
    annotated = [i for i, e in enumerate(cluster.log) if e == ("module", "annotate", "ConfigMap", NS, "argocd-cm")]
    assert annotated and annotated[0] < module_deleted_index(cluster, "Application", "web")
    assert ("ConfigMap", NS, "argocd-cm") not in cluster.deleted_by("controller")
    assert ("Namespace", "", "web") in cluster.deleted_by("controller")


def test_cascade_times_out_naming_the_stuck_applications(monkeypatch):
    cluster = bootstrapped()
    cluster.forbidden.add("Service")
    with pytest.raises(GitopsK8sError) as err:
        run_absent(cluster, monkeypatch, cascade=True, wait_timeout=30)
    msg = err.value.msg
    assert "within 30s (cascade)" in msg and "namespace argocd: web (DeletionError: service \"web\" is forbidden; " \
        "finalizers: resources-finalizer.argocd.argoproj.io)" in msg, msg
    assert "platform-namespaces" not in msg, "only the Applications still present are named"
    assert "Nothing of Argo CD itself has been removed yet" in msg
    for kind, name in (("StatefulSet", "argocd-application-controller"), ("ClusterRoleBinding", "argocd-application-controller"),
                       ("AppProject", "apps")):
        assert cluster.find(kind, name, NS if kind != "ClusterRoleBinding" else "") is not None, kind


def test_cascade_without_a_ready_controller_changes_nothing(monkeypatch):
    cluster = bootstrapped(ready=0)
    before = copy.deepcopy(cluster.objs)
    with pytest.raises(GitopsK8sError, match="StatefulSet argocd/argocd-application-controller has no ready replica. Nothing was changed"):
        run_absent(cluster, monkeypatch, cascade=True)
    assert cluster.objs == before


def test_cascade_retries_a_conflicting_finalizer_update(monkeypatch):
    cluster = bootstrapped()
    cluster.conflicts = 2
    run_absent(cluster, monkeypatch, cascade=True)
    assert ("Deployment", "default", "cache") in cluster.deleted_by("controller")
    assert ("module", "finalizers", "Application", NS, "web", (FINALIZER,)) in cluster.log


def test_cascade_in_check_mode_changes_nothing_and_reports_what_argocd_would_delete(monkeypatch):
    cluster = bootstrapped()
    before = copy.deepcopy(cluster.objs)
    installer, result = run_absent(cluster, monkeypatch, check_mode=True, cascade=True)
    assert cluster.objs == before and cluster.log == []
    assert result["changed"] is True and result["check_mode"] is True
    deleted = set((o["kind"], o["name"]) for o in result["objects"] if o["action"] == "delete")
    assert {("Application", "web"), ("Application", "root"), ("AppProject", "apps"), ("Namespace", NS)} <= deleted
    report = dict((a["name"], a) for a in result["applications"])
    assert report["platform-namespaces"] == {"name": "platform-namespaces", "cascade": True, "resources": ["Namespace web"]}
    web_diff = [d for d in result["diff"] if d["before_header"] == "Application argocd/web"][0]
    assert web_diff["after_header"] == "Application argocd/web (absent)"


# ------------------------------------------------------------------------- default: keep the workloads
def test_default_keeps_the_workloads_although_the_controller_still_runs(monkeypatch):
    """Even with the resources finalizer on web (declared in git) and a controller that keeps running (it is not
    stopped by deleting its StatefulSet on this fake, as on the pull-loop harness), nothing is cascaded."""
    cluster = bootstrapped(web_finalizers=[FINALIZER])
    cluster.desired_children["root"][3]["metadata"]["finalizers"] = [FINALIZER]
    installer, result = run_absent(cluster, monkeypatch)
    assert cluster.deleted_by("controller") == []
    assert cluster.find("Deployment", "web", "web") and cluster.find("Namespace", "web") and cluster.find("Service", "web", "web")
    assert not any(e[1] == "recreate" for e in cluster.log), "the root was gone before its children"
    assert set(cluster.objs) == {("Namespace", "", "web"), ("Deployment", "web", "web"), ("Service", "web", "web"),
                                 ("Deployment", "default", "cache")}
    assert all(not a["cascade"] for a in result["applications"])
