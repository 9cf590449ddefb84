# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pull loop, end to end, with the real Argo CD controllers.

A local cluster is bootstrapped by the collection (infra_repo scaffolds and pushes the infra
repository over SSH; Argo CD is installed with a short reconciliation timeout; argocd_repository,
argocd_project and argocd_application write the deploy key, the bootstrap project and the root
application). Redis, argocd-repo-server and argocd-application-controller then run as host
processes (hack/argocd_controllers.py) with the configuration the collection wrote. From there
on every change reaches the cluster by a git push only, as in production.

The tests run in file order and build on each other's state (one bootstrap for all of them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pullloop_env import (APP, ARGOCD_MANIFESTS, ARGOCD_NAMESPACE, BOOTSTRAP_REPO_AND_ARGOCD, SHARED_CLUSTER, _seconds,  # noqa: E402
                          acd, shared_pull_loop)
from pullloop_servers import new_keypair  # noqa: E402

CLUSTER = SHARED_CLUSTER
OVERLAY = f"apps/{APP}/overlays/dev"
# The loop (cluster, git servers, controllers) is shared with test_webhook.py (pullloop_env.shared_pull_loop).
SHARED_PULL_LOOP = True

pytestmark = pytest.mark.skipif(
    not os.path.exists(acd.argocd_bin()),
    reason=f"the Argo CD binaries are not built ({acd.argocd_bin()}); run `make test-pull-loop`, which builds them",
)


@pytest.fixture(scope="module")
def loop(request):
    return shared_pull_loop(request)


def deployment(loop, name=APP, namespace=APP):
    return loop.get("deployment", name, namespace)


def replicas(loop):
    dep = deployment(loop)
    return dep and dep["spec"]["replicas"]


def commit_and_push(loop, message, files=None, remove=()):
    loop.wc.pull()
    for rel, content in (files or {}).items():
        loop.wc.write(rel, textwrap.dedent(content).lstrip())
    for rel in remove:
        loop.wc.remove(rel)
    sha = loop.wc.commit(message)
    loop.wc.push()
    return sha


def reason_with(loop, app, *needles):
    """argocd_info's reason for the app when it contains every needle (a tuple: any of them), else None."""
    reason = loop.app_reason(app)
    for needle in needles:
        options = needle if isinstance(needle, tuple) else (needle,)
        if not any(o in reason for o in options):
            return None
    return reason


def operation_started(loop, name):
    """When the application's last sync operation started (None before the first)."""
    return ((loop.app(name) or {}).get("status", {}).get("operationState") or {}).get("startedAt")


def overlay_with(loop, replicas_count=None, extra_resources=()):
    """The dev overlay's kustomization with a replica count and extra resources."""
    text = loop.wc.read(f"{OVERLAY}/kustomization.yaml")
    if replicas_count is not None:
        text = re.sub(r"(- name: %s\n\s+count: )\d+" % APP, r"\g<1>%d" % replicas_count, text)
    for res in extra_resources:
        text = text.replace("resources:\n  - ../../base\n", f"resources:\n  - ../../base\n  - {res}\n")
    return text


# --------------------------------------------------------------------------- the loop itself
def test_root_application_is_synced_and_healthy(loop):
    # argocd_application waited for the root application the role declared, without changing it.
    waited = loop.root_result.task_result("The root application becomes Synced and Healthy")
    assert waited["changed"] is False, "the wait re-applied the role's root application unchanged"
    assert waited["status"]["sync"] == "Synced" and waited["status"]["health"] == "Healthy"
    app = loop.app("root")
    assert app["status"]["sync"]["status"] == "Synced"
    assert app["status"]["health"]["status"] == "Healthy"
    head = loop.wc.head()
    assert app["status"]["sync"]["revision"] == head, "the root application compared the commit infra_repo pushed"
    # The root app created the projects and child Applications from clusters/<cluster>/.
    for name in ("platform", "apps"):
        assert loop.get("appprojects.argoproj.io", name, ARGOCD_NAMESPACE), f"AppProject {name} from the repo"
    for name in (APP, "platform-namespaces", "argocd"):
        assert loop.app(name), f"Application {name} from clusters/{CLUSTER}/apps"
    report = {a["name"]: a for a in loop.info(["root"])["applications"]}
    assert report["root"]["reason"] == "Synced and Healthy"


def test_controller_runs_with_the_settings_the_collection_wrote(loop):
    """The reconciliation settings went from the role's variables through argocd-cm into the controller."""
    cm = loop.get("configmap", "argocd-cm", ARGOCD_NAMESPACE)["data"]
    assert cm["timeout.reconciliation"] == loop.reconciliation
    assert cm["timeout.reconciliation.jitter"] == loop.jitter
    log = loop.host.logs("argocd-application-controller", 100000)
    assert f"appResyncPeriod={loop.reconciliation}," in log and f"appResyncJitter={loop.jitter}" in log, \
        "the controller logged other reconciliation settings than argocd-cm holds"


def test_app_deploys_its_dev_overlay(loop):
    loop.wait_for("Application web Synced and Healthy", lambda: loop.app_synced_healthy(APP), timeout=loop.reconcile_budget(), app=APP)
    app = loop.app(APP)
    assert app["spec"]["source"]["path"] == OVERLAY
    dep = deployment(loop)
    assert dep["metadata"]["labels"]["app.kubernetes.io/environment"] == "dev"
    assert dep["spec"]["replicas"] == 1, "the dev overlay's replica count"
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "nginxinc/nginx-unprivileged:1.27-alpine", "the dev overlay's image pin"
    assert dep["metadata"]["annotations"].get("argocd.argoproj.io/tracking-id", "").startswith(f"{APP}:apps/Deployment:")
    assert loop.get("service", APP, APP)
    # The namespace came from platform/namespaces through its own Application.
    ns = loop.get("namespace", APP)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_pushed_commit_goes_live_without_ansible_or_kubectl(loop):
    files = {
        f"{OVERLAY}/settings.yaml": """
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: web-settings
            data:
              greeting: hello from git
            """,
    }
    loop.wc.pull()
    files[f"{OVERLAY}/kustomization.yaml"] = overlay_with(loop, replicas_count=3, extra_resources=["settings.yaml"])
    t0 = time.time()
    sha = commit_and_push(loop, "web: settings ConfigMap and three replicas in dev", files)
    loop.pushed = sha
    cm = loop.wait_for("ConfigMap web/web-settings created from the pushed commit",
                       lambda: loop.get("configmap", "web-settings", APP), timeout=loop.reconcile_budget(), app=APP)
    assert cm["data"] == {"greeting": "hello from git"}
    loop.wait_for("Deployment web scaled to 3 by the pushed commit", lambda: replicas(loop) == 3,
                  timeout=loop.reconcile_budget(), app=APP)
    loop.wait_for("Application web at the pushed revision", lambda: loop.app_synced_healthy(APP, sha),
                  timeout=loop.reconcile_budget(), app=APP)
    print(f"push to live: {time.time() - t0:.1f}s")


def test_out_of_band_change_is_reverted_by_self_heal(loop):
    before = operation_started(loop, APP)
    loop.kubectl("-n", APP, "scale", "deployment", APP, "--replicas=7")
    loop.kubectl("-n", APP, "patch", "configmap", "web-settings", "--type=merge", "-p", '{"data":{"greeting":"changed by hand"}}')
    # No check of the changed state here: self-heal may have reverted it already (the sync that did is checked below).
    loop.wait_for("self-heal restores 3 replicas", lambda: replicas(loop) == 3, timeout=loop.reconcile_budget(), app=APP)
    loop.wait_for("self-heal restores the ConfigMap",
                  lambda: (loop.get("configmap", "web-settings", APP) or {}).get("data") == {"greeting": "hello from git"},
                  timeout=loop.reconcile_budget(), app=APP)
    ops = loop.wait_for("the self-heal sync has finished", lambda: operation_started(loop, APP) != before and (
        loop.app(APP)["status"]["operationState"]["phase"] != "Running") and loop.app(APP)["status"]["operationState"],
        timeout=60, app=APP)
    assert ops["phase"] == "Succeeded"
    assert ops["operation"]["initiatedBy"].get("automated") is True


def test_git_revert_rolls_the_cluster_back(loop):
    sha = getattr(loop, "pushed", None)
    if not sha:
        pytest.skip("needs the commit of test_pushed_commit_goes_live_without_ansible_or_kubectl")
    loop.wc.pull()
    revert = loop.wc.revert(sha)
    loop.wc.push()
    loop.wait_for("the reverted ConfigMap is pruned", lambda: loop.get("configmap", "web-settings", APP) is None,
                  timeout=loop.reconcile_budget(), app=APP)
    loop.wait_for("the reverted replica count is back to 1", lambda: replicas(loop) == 1, timeout=loop.reconcile_budget(), app=APP)
    loop.wait_for("Application web at the revert commit", lambda: loop.app_synced_healthy(APP, revert),
                  timeout=loop.reconcile_budget(), app=APP)


# --------------------------------------------------------------------------- project restrictions
def test_project_refuses_a_namespace_it_does_not_allow(loop):
    """An Application declared in git for project apps but targeting kube-system is refused."""
    app_file = f"clusters/{CLUSTER}/apps/intruder.yaml"
    loop.wc.pull()
    doc = loop.wc.read(f"clusters/{CLUSTER}/apps/{APP}.yaml").replace(f"name: {APP}\n", "name: intruder\n", 1)
    doc = re.sub(r"namespace: %s\n(\s+syncPolicy)" % APP, r"namespace: kube-system\n\1", doc)
    assert "namespace: kube-system" in doc
    kust = loop.wc.read(f"clusters/{CLUSTER}/apps/kustomization.yaml").replace("  - web.yaml\n", "  - web.yaml\n  - intruder.yaml\n")
    sha = commit_and_push(loop, "intruder: an app outside its project's namespaces",
                          {app_file: doc, f"clusters/{CLUSTER}/apps/kustomization.yaml": kust})
    reason = loop.wait_for(
        "argocd_info reports the refused destination",
        lambda: reason_with(loop, "intruder", "InvalidSpecError"),
        timeout=loop.reconcile_budget(), app="intruder")
    assert "namespace 'kube-system' do not match any of the allowed destinations in project 'apps'" in reason, reason
    assert loop.get("deployment", APP, "kube-system") is None, "nothing was deployed into kube-system"
    # Roll the intruder back out through git.
    loop.wc.pull()
    loop.wc.revert(sha)
    loop.wc.push()
    loop.wait_for("the intruder Application is pruned", lambda: loop.app("intruder") is None, timeout=loop.reconcile_budget())


def test_project_refuses_a_resource_kind_it_does_not_allow(loop):
    """Project apps allows no cluster-scoped kinds: a ClusterRole in the overlay is refused."""
    loop.wc.pull()
    files = {
        f"{OVERLAY}/clusterrole.yaml": """
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: web-reader
            rules:
              - apiGroups: [""]
                resources: [pods]
                verbs: [get]
            """,
        f"{OVERLAY}/kustomization.yaml": overlay_with(loop, extra_resources=["clusterrole.yaml"]),
    }
    sha = commit_and_push(loop, "web: a cluster-scoped object in an app", files)
    reason = loop.wait_for(
        "argocd_info reports the refused kind",
        lambda: reason_with(loop, APP, "ClusterRole", "not permitted"),
        timeout=loop.reconcile_budget(), app=APP)
    assert "apps" in reason, reason
    assert loop.get("clusterrole", "web-reader") is None, "the ClusterRole was not created"
    loop.wc.pull()
    revert = loop.wc.revert(sha)
    loop.wc.push()
    loop.wait_for("web recovers after the revert", lambda: loop.app_synced_healthy(APP, revert),
                  timeout=loop.reconcile_budget() + 60, app=APP)


# --------------------------------------------------------------------------- SSH credential
def test_repo_server_clones_with_the_deploy_key_from_argocd_repository(loop):
    """sshd saw the deploy key that argocd_repository wrote; nothing else could authenticate."""
    fingerprint = subprocess.run(["ssh-keygen", "-lf", "-"], input=loop.deploy_pub, text=True, stdout=subprocess.PIPE,
                                 check=True).stdout.split()[1]
    log = open(loop.sshd.log_path, encoding="utf-8", errors="replace").read()
    accepted = re.findall(r"Accepted publickey for \S+ from 127\.0\.0\.1 port \d+ ssh2: \S+ (\S+)", log)
    assert accepted, f"sshd accepted no public key:\n{loop.sshd.log()}"
    assert set(accepted) == {fingerprint}, f"keys used: {set(accepted)}, deploy key: {fingerprint}"
    # The credential is the one Argo CD reads: a Secret labelled as a repository, with the key.
    secret = loop.get("secret", "infra", ARGOCD_NAMESPACE)
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    assert "sshPrivateKey" in secret["data"]


SET_KEY_PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/gitops.bootstrap.gitops:
      kubeconfig: "{{ kc }}"
  tasks:
    - name: The repository credential carries the given key
      gitops.bootstrap.argocd_repository:
        name: infra
        namespace: "{{ ns }}"
        url: "{{ repo_url }}"
        ssh_private_key: "{{ key }}"
        known_hosts: "{{ known_hosts }}"
"""

AUTH_FAILED = ("unable to authenticate", "Permission denied")


def test_wrong_deploy_key_is_a_clear_repository_error(loop):
    wrong, dummy = new_keypair(loop.workdir, "wrong_key")
    loop.play(SET_KEY_PLAY, dict(loop.bootstrap_vars(), key=wrong))
    try:
        reason = loop.wait_for(
            "argocd_info reports the root application's repository error",
            lambda: reason_with(loop, "root", AUTH_FAILED),
            timeout=loop.reconcile_budget(), app="root")
        assert "ComparisonError" in reason, reason
        # argocd_application's wait says the same for an application that reads the repo over SSH.
        res, elapsed, dummy = run_probe(loop, "ssh-probe", loop.repo_url, f"apps/{APP}/base", timeout=90)
        msg = assert_readable_failure(res, elapsed, 90, "ComparisonError")
        assert any(a in msg for a in AUTH_FAILED), msg
    finally:
        loop.play(SET_KEY_PLAY, dict(loop.bootstrap_vars(), key=loop.deploy_key))
    loop.wait_for("the root application recovers with the deploy key", lambda: loop.app_synced_healthy("root"),
                  timeout=loop.reconcile_budget(), app="root")


# --------------------------------------------------------------------------- bad input
PROBE_PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/gitops.bootstrap.gitops:
      kubeconfig: "{{ kc }}"
  tasks:
    - name: The probe project allows the given repositories into namespace probe
      gitops.bootstrap.argocd_project:
        name: "{{ project }}"
        namespace: "{{ ns }}"
        source_repos: "{{ repos }}"
        destinations: "{{ destinations }}"
        cluster_resource_whitelist: []
    - name: The probe application is created and waited for
      gitops.bootstrap.argocd_application:
        name: "{{ app }}"
        namespace: "{{ ns }}"
        project: "{{ project }}"
        repo_url: "{{ repo }}"
        path: "{{ path }}"
        target_revision: main
        destination_namespace: "{{ dest_ns }}"
        finalizer: false
        sync_policy:
          sync_options: [CreateNamespace=true]
        wait: true
        wait_timeout: "{{ wait_s }}"
        # The harness's kubelet stand-in writes mounted ConfigMaps every 5 s, not every minute.
        wait_fail_grace: 15
    - name: Argo CD is read
      gitops.bootstrap.argocd_info:
        namespace: "{{ ns }}"
        app_names: ["{{ app }}"]
      when: false
"""

PROBE_CLEANUP = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/gitops.bootstrap.gitops:
      kubeconfig: "{{ kc }}"
  tasks:
    - name: The probe application is gone
      gitops.bootstrap.argocd_application:
        name: "{{ app }}"
        namespace: "{{ ns }}"
        state: absent
"""


def run_probe(loop, app, repo, path, destinations=None, dest_ns="probe", repos=None, timeout=120):
    variables = {
        "app": app, "project": f"{app}-project", "repo": repo, "path": path, "dest_ns": dest_ns, "wait_s": timeout,
        "repos": repos or [repo],
        "destinations": destinations if destinations is not None else [{"server": "https://kubernetes.default.svc", "namespace": "probe"}],
    }
    t0 = time.time()
    res = loop.play(PROBE_PLAY, variables, check=False)
    elapsed = time.time() - t0
    reason = loop.app_reason(app)
    loop.play(PROBE_CLEANUP, {"app": app}, check=False)
    return res, elapsed, reason


def assert_readable_failure(res, elapsed, timeout, *needles):
    assert res.rc != 0, "the application cannot become Synced and Healthy"
    msg = " ".join(res.failed_msgs())
    for needle in needles:
        assert needle in msg, f"{needle!r} not in the module's message: {msg}"
    assert "did not become Synced and Healthy within" not in msg, f"reported as a timeout after {elapsed:.0f}s: {msg}"
    assert elapsed < timeout, f"the module waited {elapsed:.0f}s of its {timeout}s timeout: {msg}"
    return msg


def test_unreachable_repository_is_a_readable_reason(loop):
    from pullloop_servers import free_port

    url = f"git://127.0.0.1:{free_port()}/nowhere.git"
    res, elapsed, reason = run_probe(loop, "unreachable", url, ".", timeout=90)
    assert_readable_failure(res, elapsed, 90, "ComparisonError", "connection refused")
    assert "connection refused" in reason, reason


def test_project_denying_the_root_destination_is_a_readable_reason(loop):
    res, elapsed, reason = run_probe(
        loop, "denied-root", loop.anonymous_url, f"clusters/{CLUSTER}", dest_ns=ARGOCD_NAMESPACE,
        destinations=[{"server": "https://kubernetes.default.svc", "namespace": "somewhere-else"}], timeout=90)
    msg = assert_readable_failure(res, elapsed, 90, "InvalidSpecError", "do not match any of the allowed destinations")
    assert f"namespace '{ARGOCD_NAMESPACE}'" in msg, msg
    assert "do not match any of the allowed destinations in project 'denied-root-project'" in reason, reason


def test_malformed_manifest_is_a_readable_reason(loop):
    commit_and_push(loop, "broken: a manifest that is not YAML", {
        "apps/broken/kustomization.yaml": """
            resources:
              - broken.yaml
            """,
        "apps/broken/broken.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: broken
            data: [unclosed
            """,
    })
    res, elapsed, reason = run_probe(loop, "malformed", loop.anonymous_url, "apps/broken", timeout=90)
    assert_readable_failure(res, elapsed, 90, "ComparisonError", "broken.yaml")
    assert "broken.yaml" in reason, reason


def test_controllers_for_a_namespace_without_argocd_is_a_clear_error(loop):
    host = acd.ArgoCDHost(loop.kubeconfig, "no-argocd-here")
    with pytest.raises(acd.LocalClusterError) as err:
        host.start()
    assert "Deployment no-argocd-here/argocd-redis does not exist" in str(err.value)
    assert "install Argo CD" in str(err.value)
    assert not host.procs, "nothing was started"


def test_engine_not_served_is_a_clear_build_error():
    """v3.4.7's in-repository gitops-engine is not served by the module proxy: one message says so."""
    with pytest.raises(acd.LocalClusterError) as err:
        acd.probe("v3.4.7")
    msg = str(err.value)
    assert "builds github.com/argoproj/argo-cd/gitops-engine from its own repository" in msg, msg
    assert "v0.7.1-0.20250908182407-97ad5b59a627" in msg and "GITOPS_ARGOCD_ENGINE" in msg, msg


# --------------------------------------------------------------------------- self-management
ROLE_CM_KEYS = ("timeout.reconciliation", "timeout.reconciliation.jitter", "admin.enabled")
SCAFFOLD_CM_KEYS = {"application.resourceTrackingMethod": "annotation", "users.anonymous.enabled": "false", "exec.enabled": "false"}
KNOWN_HOSTS_CM = "argocd-ssh-known-hosts-cm"


def known_hosts(loop):
    data = (loop.get("configmap", KNOWN_HOSTS_CM, ARGOCD_NAMESPACE) or {}).get("data") or {}
    return [" ".join(line.split()) for line in data.get("ssh_known_hosts", "").splitlines() if line.strip()]


def test_argocd_manages_itself_without_a_tug_of_war_with_the_role(loop):
    """Argo CD syncs its own installation from git; the role's settings and SSH host keys survive, both ways.

    Offline the scaffold's URL resource cannot be rendered, so the test's repository carries a copy of
    the upstream install manifest instead (the only change to what infra_repo scaffolded).
    """
    argo = f"clusters/{CLUSTER}/argocd"
    host_line = " ".join(loop.sshd.known_hosts_line().split())
    assert host_line in known_hosts(loop), "the role wrote the SSH server's host key"
    loop.wc.pull()
    kust = loop.wc.read(f"{argo}/kustomization.yaml")
    local = re.sub(r"^(\s+- )https://\S+/install\.yaml$", r"\1install.yaml", kust, flags=re.M)
    assert local != kust, kust
    with open(os.path.join(ARGOCD_MANIFESTS, acd.ARGOCD_VERSION, "install.yaml"), encoding="utf-8") as fh:
        loop.wc.write(f"{argo}/install.yaml", fh.read())
    loop.wc.write(f"{argo}/kustomization.yaml", local)
    t0 = time.time()
    sha = loop.wc.commit("argocd: installed from a copy of the upstream manifest")
    loop.wc.push()
    loop.wait_for("Application argocd Synced and Healthy at the pushed revision",
                  lambda: loop.app_synced_healthy("argocd", sha), timeout=loop.reconcile_budget() + 240, app="argocd")
    print(f"self-management synced: {time.time() - t0:.1f}s")
    ops = loop.app("argocd")["status"]["operationState"]
    assert ops["phase"] == "Succeeded" and ops["operation"]["initiatedBy"].get("automated") is True, ops
    synced = {r["kind"] + "/" + r["name"] for r in ops["syncResult"]["resources"]}
    assert {"ConfigMap/argocd-cm", f"ConfigMap/{KNOWN_HOSTS_CM}", "StatefulSet/argocd-application-controller"} <= synced

    # argocd-cm: the scaffold's patch, the role's keys and upstream's keys side by side.
    cm = loop.get("configmap", "argocd-cm", ARGOCD_NAMESPACE)
    assert cm["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].startswith("argocd:/ConfigMap:"), cm["metadata"]
    for key, value in SCAFFOLD_CM_KEYS.items():
        assert cm["data"].get(key) == value, f"the scaffold's {key}: {cm['data'].get(key)!r}"
    missing = [k for k in ROLE_CM_KEYS if k not in cm["data"]]
    assert not missing, f"the controller's sync dropped the role's keys {missing}"
    assert cm["data"]["timeout.reconciliation"] == loop.reconciliation
    assert "resource.exclusions" in cm["data"], "upstream's keys"

    # The role's host key is still known, next to upstream's list.
    lines = known_hosts(loop)
    assert host_line in lines, f"the controller's sync dropped the role's host key from {KNOWN_HOSTS_CM}: {lines}"
    assert any(line.startswith("github.com ") for line in lines), "upstream's host keys"

    # The repo server still clones over SSH: a new commit reaches both applications.
    probe = commit_and_push(loop, "docs: a note on self-management", {
        "docs/self-management.md": "Argo CD syncs clusters/<cluster>/argocd itself.\n"})
    for name in ("root", "argocd"):
        loop.wait_for(f"Application {name} Synced and Healthy at a commit fetched after the sync",
                      lambda name=name: loop.app_synced_healthy(name, probe), timeout=loop.reconcile_budget(), app=name)

    # The role again. Argo CD now applies its own objects, so the first re-run hands over to Argo CD's
    # field manager the fields it applies too (managedFields only, no value); after that, nothing to
    # change, and nothing for the controller to sync back afterwards.
    started = operation_started(loop, "argocd")
    res = loop.play(BOOTSTRAP_REPO_AND_ARGOCD, loop.bootstrap_vars())
    install = [t["hosts"]["localhost"] for t in res.tasks() if t["task"]["name"].endswith("is installed at the pinned version and "
                                                                                          f"flavour in namespace {ARGOCD_NAMESPACE}")]
    assert install, [t["task"]["name"] for t in res.tasks()]
    acted = {o["action"] for o in install[0]["objects"]} - {"unchanged"}
    assert acted <= {"hand over"}, [o for o in install[0]["objects"] if o["action"] != "unchanged"]
    changed = [t["task"]["name"] for t in res.tasks() if any(h.get("changed") for h in t["hosts"].values())]
    assert res.changed() == (1 if acted else 0), f"the role's re-run changed more than the hand-over: {changed}"
    cm = loop.get("configmap", "argocd-cm", ARGOCD_NAMESPACE)
    assert all(k in cm["data"] for k in ROLE_CM_KEYS), "the hand-over dropped the role's keys"
    res = loop.play(BOOTSTRAP_REPO_AND_ARGOCD, loop.bootstrap_vars())
    changed = [t["task"]["name"] for t in res.tasks() if any(h.get("changed") for h in t["hosts"].values())]
    assert res.changed() == 0, f"the role's re-run changed: {changed}"
    time.sleep(2 * _resync(loop) + 5)
    loop.wait_for("Application argocd Synced and Healthy after the role's re-run",
                  lambda: loop.app_synced_healthy("argocd", probe), timeout=loop.reconcile_budget(), app="argocd")
    assert operation_started(loop, "argocd") == started, "the controller synced Argo CD again after the role's re-run"
    assert loop.app_synced_healthy("root", probe)
    assert host_line in known_hosts(loop)


def _resync(loop):
    """Seconds between two reconciliations of an application."""
    return _seconds(loop.reconciliation) + _seconds(loop.jitter or "0s")


def test_controllers_kept_running(loop):
    """No component crashed during the suite (a crash would make every check above meaningless)."""
    loop.host.check_running()
    for name in ("argocd-application-controller", "argocd-repo-server"):
        assert "panic" not in loop.host.logs(name, 100000).lower(), name
