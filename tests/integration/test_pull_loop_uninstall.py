# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The uninstall playbook against the real Argo CD controllers (both modes).

One cluster (``loop3``, so this file runs next to test_pull_loop.py's ``loop1``) is bootstrapped
with the pull-loop harness and the ``web`` application deployed by the real application
controller. Then, with the controller still running:

1. the default uninstall removes Argo CD and leaves ``web`` running: the controller, which keeps
   running as a host process whatever happens to its StatefulSet, deletes nothing;
2. Argo CD is installed again and adopts the running workload;
3. the cascade uninstall (``argocd_uninstall_cascade: true``) makes the controller delete what the
   Applications deployed, and only then removes Argo CD; a second run changes nothing.

The tests run in file order and build on each other's state.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pullloop_env import (  # noqa: E402
    APP, ARGOCD_NAMESPACE, BOOTSTRAP_REPO_AND_ARGOCD, ROOT, LoopError, PullLoop, acd,
)

CLUSTER = os.environ.get("GITOPS_PULL_LOOP_UNINSTALL_CLUSTER", "loop3")
UNINSTALL = os.path.join(ROOT, "playbooks", "argocd_uninstall.yml")
CONTROLLER = "argocd-application-controller"
# What the install leaves cluster-wide; none of it may survive an uninstall.
ARGOCD_CLUSTER_OBJECTS = [
    ("namespace", ARGOCD_NAMESPACE),
    ("customresourcedefinition", "applications.argoproj.io"),
    ("customresourcedefinition", "applicationsets.argoproj.io"),
    ("customresourcedefinition", "appprojects.argoproj.io"),
    ("clusterrole", "argocd-application-controller"),
    ("clusterrolebinding", "argocd-application-controller"),
    ("clusterrole", "argocd-server"),
]

pytestmark = pytest.mark.skipif(
    not os.path.exists(acd.argocd_bin()),
    reason=f"the Argo CD binaries are not built ({acd.argocd_bin()}); run `make test-pull-loop`, which builds them",
)


@pytest.fixture(scope="module")
def loop(request):
    env = PullLoop(CLUSTER, reconciliation="10s")
    request.addfinalizer(env.close)
    try:
        env.setup()
    except Exception:
        if env.host:
            sys.stderr.write("\n--- application controller ---\n" + env.host.logs(CONTROLLER, 40) + "\n")
        raise
    print(f"set-up: {sum(env.timings.values()):.0f}s {env.timings}")
    return env


def uninstall(loop, cascade: bool):
    t0 = time.time()
    res = loop.play(UNINSTALL, {
        "argocd_hosts": "localhost",
        "argocd_kubeconfig": loop.kubeconfig,
        "argocd_namespace": ARGOCD_NAMESPACE,
        "argocd_uninstall_cascade": cascade,
        "argocd_wait_timeout": 150,
    }, check=False)
    print(f"uninstall (cascade={cascade}): {time.time() - t0:.0f}s, changed={res.changed()}")
    if res.rc != 0:
        raise LoopError(f"the uninstall failed: {res.failed_msgs()}\n{res.stderr[-2000:]}\n"
                        f"--- application controller ---\n{loop.host.logs(CONTROLLER, 30)}")
    task = [t for t in res.tasks() if t["task"]["name"].endswith("Argo CD is removed from namespace %s" % ARGOCD_NAMESPACE)]
    return res, task[0]["hosts"]["localhost"]


def web_deployed(loop):
    loop.wait_for("Application web Synced and Healthy", lambda: loop.app_synced_healthy(APP),
                  timeout=loop.reconcile_budget(), app=APP)
    dep = loop.get("deployment", APP, APP)
    assert dep and dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].startswith(f"{APP}:apps/Deployment:")
    assert loop.get("service", APP, APP)
    return dep


def argocd_leftovers(loop):
    return [f"{kind} {name}" for kind, name in ARGOCD_CLUSTER_OBJECTS if loop.get(kind, name) is not None]


def deployed_resources(loop):
    """What the Applications deployed outside Argo CD's own namespace: (kind, namespace, name) from their status."""
    out = set()
    for name in (APP, "platform-namespaces"):
        for res in (loop.app(name) or {}).get("status", {}).get("resources", []):
            if res.get("namespace") != ARGOCD_NAMESPACE:
                out.add((res["kind"], res.get("namespace", ""), res["name"]))
    return out


def controller_deletions(loop, message="Deleting resources"):
    """Applications whose resources the controller deleted (from its JSON log)."""
    apps = set()
    for line in loop.host.logs(CONTROLLER, 100000).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if str(entry.get("msg", "")).startswith(message):
            apps.add(entry.get("application"))
    return apps


# --------------------------------------------------------------------------- default: keep workloads
def test_web_is_deployed_by_the_controller(loop):
    loop.web_uid = web_deployed(loop)["metadata"]["uid"]


def test_default_uninstall_keeps_the_workloads_while_the_controller_runs(loop):
    res, task = uninstall(loop, cascade=False)
    assert task["changed"] is True and res.changed() > 0
    assert argocd_leftovers(loop) == [], "Argo CD's namespace, CRDs (so every Application) and cluster RBAC are gone"
    # The controller keeps running here whatever happens to its StatefulSet; give it a resync to act.
    time.sleep(12)
    dep = loop.get("deployment", APP, APP)
    assert dep is not None and dep["metadata"]["uid"] == loop.web_uid, "the web Deployment survived"
    assert not dep["metadata"].get("deletionTimestamp")
    assert loop.get("service", APP, APP) is not None
    ns = loop.get("namespace", APP)
    assert ns is not None and not ns["metadata"].get("deletionTimestamp")
    assert controller_deletions(loop) == set(), "the controller deleted no application's resources"


def test_reinstall_adopts_the_running_workload(loop):
    """The bootstrap again, on the cluster the default uninstall left: web is adopted, not re-created."""
    t0 = time.time()
    loop.host.stop()
    loop.play(BOOTSTRAP_REPO_AND_ARGOCD, loop.bootstrap_vars())
    # A fresh work directory: the old one holds tokens of the ServiceAccounts the uninstall deleted. (A short name:
    # gpg's agent socket lives below it, and a socket path has at most 107 characters.)
    loop.host = acd.ArgoCDHost(loop.kubeconfig, ARGOCD_NAMESPACE, workdir=os.path.join(loop.workdir, "acd2"))
    loop.host.start()
    loop.connect_repo_and_root_app()
    dep = web_deployed(loop)
    assert dep["metadata"]["uid"] == loop.web_uid, "the running Deployment was adopted"
    print(f"re-install: {time.time() - t0:.0f}s")


# --------------------------------------------------------------------------- cascade
def test_cascade_uninstall_lets_the_controller_delete_what_was_deployed(loop):
    deployed = deployed_resources(loop)
    assert {("Deployment", APP, APP), ("Service", APP, APP), ("Namespace", "", APP)} <= deployed, deployed
    res, task = uninstall(loop, cascade=True)
    assert task["changed"] is True and res.changed() > 0
    # The real controller deleted them (the module deletes nothing outside Argo CD's own objects); the root
    # application and Argo CD's self-management, which manage only Argo CD itself, were not cascaded.
    assert controller_deletions(loop) == {APP, "platform-namespaces"}, loop.host.logs(CONTROLLER, 40)
    assert controller_deletions(loop, "Successfully deleted") == {APP, "platform-namespaces"}, \
        "the controller finished both (its identity and the projects were still there)"
    report = {a["name"]: a for a in task["applications"]}
    assert report[APP]["cascade"] is True and f"Deployment {APP}/{APP}" in report[APP]["resources"], report
    assert report["root"]["cascade"] is False and report["argocd"]["cascade"] is False, report
    left = [r for r in sorted(deployed) if loop.get(r[0].lower(), r[2], r[1] or None) is not None]
    assert left == [], f"still deployed: {left}"
    assert argocd_leftovers(loop) == [], "Argo CD's namespace, CRDs (so every Application) and cluster RBAC are gone"
    deleted = {(o["kind"], o["name"]) for o in task["objects"] if o["action"] == "delete"}
    assert {("Application", APP), ("Application", "root"), ("Namespace", ARGOCD_NAMESPACE)} <= deleted


def test_second_cascade_uninstall_changes_nothing(loop):
    res, task = uninstall(loop, cascade=True)
    assert res.changed() == 0 and task["changed"] is False, task.get("objects")
