# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/bootstrap.yml and playbooks/drift.yml over two local clusters.

The clusters are two real control planes (hack/localcluster.py); the infra repository is a
bare repository served over file://. The tests run in order and share the clusters:
bootstrap, idempotence, no drift, five kinds of drift found and repaired, then faults.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import ARGOCD_MANIFESTS, LOCALCLUSTER, ROOT, kubectl, run_playbook, start_local_cluster, stop_local_cluster

CLUSTERS = {"boot-dev": "dev", "boot-prod": "prod"}
BOOTSTRAP = os.path.join(ROOT, "playbooks", "bootstrap.yml")
DRIFT = os.path.join(ROOT, "playbooks", "drift.yml")
REPO_PASSWORD = "s3cr3t-token-value-0123"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")),
    reason="the multi-cluster tests start their own local clusters",
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Two running clusters, a bare infra repository and an inventory for them."""
    base = tmp_path_factory.mktemp("bootstrap")
    kubeconfigs = {name: start_local_cluster(name) for name in CLUSTERS}
    repo = base / "infra.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
    inventory = base / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    hosts = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {"clusters": {"children": {
            envname: {"hosts": {name: {"gitops_kubeconfig": kubeconfigs[name]}}} for name, envname in CLUSTERS.items()
        }}},
    }}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inventory / "group_vars" / "clusters.yml").write_text(yaml.safe_dump({
        "gitops_infra_repo_url": f"file://{repo}",
        "gitops_infra_repo_branch": "main",
        "argocd_version": "v3.5.1",
        "argocd_manifest_source": os.path.join(ARGOCD_MANIFESTS, "v3.5.1"),
        "argocd_reconciliation_timeout": "30s",
        "argocd_repositories": [{
            "name": "infra-repo", "url": "https://git.example.invalid/platform/infra.git",
            "username": "argocd", "password": REPO_PASSWORD,
        }],
        "rbac_lockdown_mode": "enforce",
        "rbac_lockdown_developer_groups": [{"name": "developers", "argocd_projects": ["default"]}],
        "rbac_lockdown_break_glass_groups": ["platform-oncall"],
    }))
    yield {"inventory": str(inventory), "kubeconfigs": kubeconfigs, "repo": str(repo), "base": base}
    for name in CLUSTERS:
        stop_local_cluster(name)


def bootstrap(env, **kw):
    return run_playbook(BOOTSTRAP, inventory=env["inventory"], **kw)


def drift(env, report):
    return run_playbook(DRIFT, inventory=env["inventory"], check=True, diff=True, env={
        "ANSIBLE_CALLBACKS_ENABLED": "gitops.bootstrap.drift_report", "GITOPS_DRIFT_REPORT": str(report)})


def changed_tasks(res, host):
    out = []
    for task in res.tasks():
        r = task["hosts"].get(host)
        if r and r.get("changed"):
            out.append(task["task"]["name"])
    return out


def test_first_bootstrap_of_two_clusters(env):
    res = bootstrap(env)
    assert res.rc == 0, res
    for name in CLUSTERS:
        assert res.failures(name) == 0
        assert res.changed(name) > 0
    summary = res.task_result("Summary is printed", "boot-dev")["msg"]
    assert {s["cluster"] for s in summary} == set(CLUSTERS)
    for line in summary:
        assert line["argocd_version"] == "v3.5.1"
        assert line["argocd_ready"] is True
        assert line["rbac_people_with_write"] == ["Group:platform-oncall"]
    # The repository now holds one folder per cluster.
    tree = subprocess.run(["git", "--git-dir", env["repo"], "ls-tree", "-d", "--name-only", "main", "clusters/"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    assert sorted(tree) == sorted(f"clusters/{c}" for c in CLUSTERS)
    for name, kc in env["kubeconfigs"].items():
        root = json.loads(kubectl(kc, "-n", "argocd", "get", "application", "root", "-o", "json").stdout)
        assert root["spec"]["source"]["path"] == f"clusters/{name}"
        assert root["spec"]["source"]["repoURL"] == f"file://{env['repo']}"


def test_second_run_changes_nothing(env):
    commits = subprocess.run(["git", "--git-dir", env["repo"], "rev-list", "--count", "main"], stdout=subprocess.PIPE, text=True, check=False).stdout
    res = bootstrap(env)
    assert res.rc == 0, res
    for name in CLUSTERS:
        assert res.changed(name) == 0, changed_tasks(res, name)
    assert subprocess.run(["git", "--git-dir", env["repo"], "rev-list", "--count", "main"], stdout=subprocess.PIPE, text=True, check=False).stdout == commits
    assert REPO_PASSWORD not in res.stdout


def test_drift_run_after_bootstrap_reports_no_drift(env):
    report = env["base"] / "clean"
    res = drift(env, report)
    assert res.rc == 0, res
    data = json.loads((report.with_suffix(".json")).read_text())
    assert {h: c["drifted"] for h, c in data["clusters"].items()} == {"boot-dev": False, "boot-prod": False}


def test_drift_is_reported_then_repaired(env):
    kc = env["kubeconfigs"]["boot-dev"]
    kubectl(kc, "-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge", "-p", '{"data":{"timeout.reconciliation":"999s"}}')
    kubectl(kc, "-n", "argocd", "delete", "appproject", "platform")
    kubectl(kc, "create", "clusterrolebinding", "mallory-admin", "--clusterrole=cluster-admin", "--user=mallory")
    kubectl(kc, "-n", "argocd", "scale", "deployment", "argocd-server", "--replicas=0")
    kubectl(kc, "-n", "argocd", "patch", "secret", "infra-repo", "--type", "merge", "-p", '{"stringData":{"password":"changed-out-of-band"}}')

    report = env["base"] / "drift"
    res = drift(env, report)
    assert res.rc != 0, res
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["clusters"]["boot-prod"]["drifted"] is False
    dev = data["clusters"]["boot-dev"]
    assert dev["drifted"] is True
    text = json.dumps(dev["changes"])
    assert "timeout.reconciliation" in text          # argocd-cm edited
    assert "spec.replicas" in text                   # argocd-server scaled to 0
    assert "AppProject argocd/platform" in text      # project deleted
    assert "mallory-admin" in text                   # cluster-admin binding for a user
    # repository Secret changed: reported under its task, whose results are no_log
    assert any("repository credentials" in c["task"] and c["diff"] == "(hidden: no_log task)" for c in dev["changes"]), text
    # Secret values never reach the report or the output, not even the out-of-band one.
    for secret in (REPO_PASSWORD, "changed-out-of-band"):
        assert secret not in text and secret not in res.stdout
    assert "boot-dev drifted from the desired state" in " ".join(res.failed_msgs())
    # Check mode changed nothing.
    assert kubectl(kc, "get", "clusterrolebinding", "mallory-admin", check=False).returncode == 0

    repair = bootstrap(env)
    assert repair.rc == 0, repair
    assert repair.changed("boot-prod") == 0, changed_tasks(repair, "boot-prod")
    assert repair.changed("boot-dev") > 0
    cm = json.loads(kubectl(kc, "-n", "argocd", "get", "configmap", "argocd-cm", "-o", "json").stdout)
    assert cm["data"]["timeout.reconciliation"] == "30s"
    assert kubectl(kc, "-n", "argocd", "get", "appproject", "platform", check=False).returncode == 0
    assert kubectl(kc, "get", "clusterrolebinding", "mallory-admin", check=False).returncode != 0
    deploy = json.loads(kubectl(kc, "-n", "argocd", "get", "deployment", "argocd-server", "-o", "json").stdout)
    assert deploy["spec"]["replicas"] == 1
    assert deploy["status"].get("availableReplicas") == 1
    secret = json.loads(kubectl(kc, "-n", "argocd", "get", "secret", "infra-repo", "-o", "json").stdout)
    import base64
    assert base64.b64decode(secret["data"]["password"]).decode() == REPO_PASSWORD

    again = bootstrap(env)
    assert again.rc == 0, again
    for name in CLUSTERS:
        assert again.changed(name) == 0, changed_tasks(again, name)


def test_unreachable_cluster_fails_only_its_host(env, tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(env["inventory"], inventory)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    prod = hosts["all"]["children"]["clusters"]["children"]["prod"]["hosts"]["boot-prod"]
    broken = tmp_path / "unreachable.kubeconfig"
    cfg = yaml.safe_load(open(prod["gitops_kubeconfig"]).read())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"   # nothing listens there
    broken.write_text(yaml.safe_dump(cfg))
    prod["gitops_kubeconfig"] = str(broken)
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    res = run_playbook(BOOTSTRAP, inventory=str(inventory))
    assert res.rc != 0
    assert res.failures("boot-prod") == 1
    assert res.failures("boot-dev") == 0
    assert res.stats["boot-dev"]["ok"] > 0
    assert any("could not be reached" in m or "Connection refused" in m for m in res.failed_msgs()), res.failed_msgs()


def apiserver_pid(name):
    marker = os.path.join("clusters", name, "")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"kube-apiserver") and any(marker.encode() in c for c in cmd):
            return int(pid)
    return None


def test_apiserver_restart_mid_run_then_rerun_converges(env):
    kc = env["kubeconfigs"]["boot-dev"]
    # Drift to repair, so the run has work to do against the API server when it goes away.
    kubectl(kc, "-n", "argocd", "delete", "appproject", "platform")
    script = ("import sys; sys.path.insert(0, %r); import conftest; "
              "print(conftest.run_playbook(%r, inventory=%r, limit='boot-dev').rc)" % (os.path.dirname(__file__), BOOTSTRAP, env["inventory"]))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    pid = apiserver_pid("boot-dev")
    assert pid, "kube-apiserver of boot-dev not found"
    os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=900)
    # kwokctl brings the cluster back; the re-run then converges and the next one is a no-op.
    subprocess.run([sys.executable, LOCALCLUSTER, "up", "boot-dev"], check=True, stdout=subprocess.PIPE)
    res = run_playbook(BOOTSTRAP, inventory=env["inventory"], limit="boot-dev")
    assert res.rc == 0, res
    assert kubectl(kc, "-n", "argocd", "get", "appproject", "platform", check=False).returncode == 0
    again = run_playbook(BOOTSTRAP, inventory=env["inventory"], limit="boot-dev")
    assert again.rc == 0 and again.changed("boot-dev") == 0, changed_tasks(again, "boot-dev")
