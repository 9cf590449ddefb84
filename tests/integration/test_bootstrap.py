# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/bootstrap.yml and playbooks/drift.yml over two local clusters.

The clusters are two real control planes (hack/localcluster.py); the infra repository is a
bare repository served over file://. The tests run in order and share the clusters: check
mode on the fresh clusters, bootstrap, idempotence, no drift, five kinds of drift found and
repaired, an argocd-rbac-cm whose policy lines were only reordered (no drift), every drifted
object named, then faults.
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

# Cluster names (and inventory host names); settable so that concurrent runs do not share clusters.
DEV = os.environ.get("GITOPS_TEST_BOOTSTRAP_DEV_CLUSTER", "boot-dev")
PROD = os.environ.get("GITOPS_TEST_BOOTSTRAP_PROD_CLUSTER", "boot-prod")
CLUSTERS = {DEV: "dev", PROD: "prod"}
BOOTSTRAP = os.path.join(ROOT, "playbooks", "bootstrap.yml")
DRIFT = os.path.join(ROOT, "playbooks", "drift.yml")
REPO_PASSWORD = "s3cr3t-token-value-0123"
APPS_PASSWORD = "s3cr3t-apps-value-4567"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")),
    reason="the multi-cluster tests start their own local clusters",
)


# No Argo CD controller runs in this suite, so nothing applies the repository to the cluster: the drift
# tests change Argo CD's configuration out of band on DEV and expect the role to repair it, which it does
# with argocd_config_source: inventory. PROD runs in the default repository mode (Argo CD's configuration
# in the repository, the role creating only what is missing); the pull-loop suite proves that mode with
# the real controllers (test_single_source.py).
HOST_VARS = {DEV: {"argocd_config_source": "inventory"}}


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
            envname: {"hosts": {name: dict({"gitops_kubeconfig": kubeconfigs[name]}, **HOST_VARS.get(name, {}))}}
            for name, envname in CLUSTERS.items()
        }}},
    }}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inventory / "group_vars" / "clusters.yml").write_text(yaml.safe_dump({
        "gitops_infra_repo_url": f"file://{repo}",
        "gitops_infra_repo_branch": "main",
        "argocd_version": "v3.5.1",
        "argocd_manifest_source": os.path.join(ARGOCD_MANIFESTS, "v3.5.1"),
        "argocd_reconciliation_timeout": "30s",
        "argocd_repositories": [
            {"name": "infra-repo", "url": "https://git.example.invalid/platform/infra.git", "username": "argocd", "password": REPO_PASSWORD},
            {"name": "apps-repo", "url": "https://git.example.invalid/platform/apps.git", "username": "argocd", "password": APPS_PASSWORD},
        ],
        # Policy lines of the argocd role (policy.csv), besides those of the lock-down (policy.gitops-developers.csv).
        "argocd_rbac_policies": [
            {"subject": "role:auditor", "resource": "applications", "action": "get", "object": "*/*"},
            {"subject": "role:auditor", "resource": "logs", "action": "get", "object": "*/*"},
        ],
        "argocd_rbac_groups": [{"group": "auditors", "role": "role:auditor"}],
        "argocd_rbac_scopes": ["groups", "email"],
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


def test_check_mode_on_fresh_clusters_creates_nothing_and_says_what_it_would_do(env):
    res = bootstrap(env, check=True, diff=True)
    assert res.rc == 0, res
    for name, kc in env["kubeconfigs"].items():
        assert kubectl(kc, "get", "namespace", "argocd", check=False).returncode != 0, f"check mode created namespace argocd in {name}"
        install = res.task_result("gitops.bootstrap.argocd : Argo CD is installed at the pinned version and flavour in namespace argocd", name)
        create, update = install["summary"]["create"], install["summary"]["update"]
        checked = len([o for o in install["objects"] if o["validated"]])
        assert create > 0 and checked > 0
        report = res.task_result("gitops.bootstrap.argocd : Argo CD configuration that would be applied after the install is reported", name)
        assert report["msg"][1] == f"Install: {create} objects to create ({checked} checked by a server-side dry run), {update} to update"
        assert report["msg"][3] == "Secrets (repository credentials): infra-repo, apps-repo"
    assert "built-in method" not in res.stdout
    summary = res.task_result("Summary is printed", DEV)["msg"]
    assert sorted(line["cluster"] for line in summary) == sorted(CLUSTERS)
    for line in summary:
        assert {k: line[k] for k in ("argocd_version", "argocd_ready", "argocd_components", "root_app")} == {
            "argocd_version": "not installed", "argocd_ready": False, "argocd_components": "0/0 ready", "root_app": "none"}
        assert set(line["rbac_findings"]) == {"critical", "high", "medium", "low"}
        assert all(isinstance(n, int) for n in line["rbac_findings"].values())
        assert line["rbac_people_with_write"] == []
    for secret in (REPO_PASSWORD, APPS_PASSWORD):
        assert secret not in res.stdout


def test_first_bootstrap_of_two_clusters(env):
    res = bootstrap(env)
    assert res.rc == 0, res
    for name in CLUSTERS:
        assert res.failures(name) == 0
        assert res.changed(name) > 0
    summary = res.task_result("Summary is printed", DEV)["msg"]
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
    assert {h: c["drifted"] for h, c in data["clusters"].items()} == {DEV: False, PROD: False}


def test_drift_is_reported_then_repaired(env):
    kc = env["kubeconfigs"][DEV]
    kubectl(kc, "-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge", "-p", '{"data":{"timeout.reconciliation":"999s"}}')
    kubectl(kc, "-n", "argocd", "delete", "appproject", "platform")
    kubectl(kc, "create", "clusterrolebinding", "mallory-admin", "--clusterrole=cluster-admin", "--user=mallory")
    kubectl(kc, "-n", "argocd", "scale", "deployment", "argocd-server", "--replicas=0")
    kubectl(kc, "-n", "argocd", "patch", "secret", "infra-repo", "--type", "merge", "-p", '{"stringData":{"password":"changed-out-of-band"}}')

    report = env["base"] / "drift"
    res = drift(env, report)
    assert res.rc != 0, res
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["clusters"][PROD]["drifted"] is False
    dev = data["clusters"][DEV]
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
    assert f"{DEV} drifted from the desired state" in " ".join(res.failed_msgs())
    # Check mode changed nothing.
    assert kubectl(kc, "get", "clusterrolebinding", "mallory-admin", check=False).returncode == 0

    repair = bootstrap(env)
    assert repair.rc == 0, repair
    assert repair.changed(PROD) == 0, changed_tasks(repair, PROD)
    assert repair.changed(DEV) > 0
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


def rbac_data(kc):
    return json.loads(kubectl(kc, "-n", "argocd", "get", "configmap", "argocd-rbac-cm", "-o", "json").stdout)["data"]


def respelled_policy(text):
    """The same policy lines in reverse order, with a comment, a blank line and other spacing."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "# the same lines, another order\n\n" + "\n".join(
        ("  " + line.replace(", ", ",")) if i % 2 else line for i, line in enumerate(reversed(lines))) + "\n"


def test_reordered_argocd_rbac_policy_is_no_drift_and_its_text_is_kept(env):
    kc = env["kubeconfigs"][DEV]
    data = rbac_data(kc)
    assert len(data["policy.csv"].splitlines()) >= 3 and len(data["policy.gitops-developers.csv"].splitlines()) >= 3, data
    assert data["scopes"] == "[groups, email]"
    respelled = {
        "policy.csv": respelled_policy(data["policy.csv"]),                                    # the argocd role's key
        "policy.gitops-developers.csv": respelled_policy(data["policy.gitops-developers.csv"]),  # the lock-down's key
        "scopes": '["email", "groups"]',
    }
    kubectl(kc, "-n", "argocd", "patch", "configmap", "argocd-rbac-cm", "--type", "merge", "-p", json.dumps({"data": respelled}))

    report = env["base"] / "reordered"
    res = drift(env, report)
    assert res.rc == 0, (res, report.with_suffix(".md").read_text())
    data_report = json.loads(report.with_suffix(".json").read_text())
    assert {h: c["drifted"] for h, c in data_report["clusters"].items()} == {DEV: False, PROD: False}

    again = bootstrap(env)
    assert again.rc == 0, again
    for name in CLUSTERS:
        assert again.changed(name) == 0, changed_tasks(again, name)
    live = rbac_data(kc)
    assert {k: live[k] for k in respelled} == respelled   # the repair did not rewrite the order


def test_drift_entries_name_their_objects(env):
    kc = env["kubeconfigs"][DEV]
    data = rbac_data(kc)
    developers = [line for line in data["policy.gitops-developers.csv"].splitlines() if line.strip().startswith("p")]
    removed = ", ".join(field.strip() for field in developers[0].split(","))   # as the lock-down writes it
    # A real change in argocd-rbac-cm (a line removed from the lock-down's key, one added to the
    # role's key) is drift although the lines were also reordered before.
    changed_rbac = {
        "policy.gitops-developers.csv": "\n".join(line for line in data["policy.gitops-developers.csv"].splitlines() if line != developers[0]) + "\n",
        "policy.csv": data["policy.csv"] + "g, mallory, role:admin\n",
    }
    kubectl(kc, "-n", "argocd", "patch", "configmap", "argocd-rbac-cm", "--type", "merge", "-p", json.dumps({"data": changed_rbac}))
    kubectl(kc, "-n", "argocd", "delete", "deployment", "argocd-notifications-controller")
    kubectl(kc, "-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge", "-p", '{"data":{"timeout.reconciliation":"999s"}}')
    for secret in ("infra-repo", "apps-repo"):
        kubectl(kc, "-n", "argocd", "patch", "secret", secret, "--type", "merge", "-p", json.dumps({"stringData": {"password": f"oob-{secret}"}}))

    report = env["base"] / "named"
    res = drift(env, report)
    assert res.rc != 0, res
    changes = json.loads(report.with_suffix(".json").read_text())["clusters"][DEV]["changes"]
    md = report.with_suffix(".md").read_text()
    message = " ".join(res.failed_msgs())
    install = "gitops.bootstrap.argocd : Argo CD is installed at the pinned version and flavour in namespace argocd"
    by_object = {}
    for change in changes:
        by_object.setdefault((change["kind"], change["namespace"], change["name"]), []).append(change)
    expected = {
        ("Deployment", "argocd", "argocd-notifications-controller"): "create",
        ("ConfigMap", "argocd", "argocd-cm"): "update",
        ("ConfigMap", "argocd", "argocd-rbac-cm"): "update",
        ("Secret", "argocd", "infra-repo"): None,
        ("Secret", "argocd", "apps-repo"): None,
    }
    for (kind, namespace, name), action in expected.items():
        assert (kind, namespace, name) in by_object, (kind, name, [c["object"] for c in changes])
        text = f"{kind} {namespace}/{name}"
        for change in by_object[(kind, namespace, name)]:
            assert change["object"] == text
            assert change["action"] == action
        assert f"**{text}**" in md
        assert text in message
    # Every entry names its object (no "None", no list of top-level fields for a deleted object).
    assert all(c["kind"] and c["name"] for c in changes), [c["object"] for c in changes]
    assert "None" not in message and "-> None" not in md
    deployment = by_object[("Deployment", "argocd", "argocd-notifications-controller")][0]
    assert deployment["task"] == install and deployment["fields"] == []
    assert by_object[("ConfigMap", "argocd", "argocd-cm")][0]["fields"] == ["data.timeout.reconciliation"]
    rbac = by_object[("ConfigMap", "argocd", "argocd-rbac-cm")]
    lockdown = "gitops.bootstrap.rbac_lockdown : Developer groups may get and sync the applications of their projects in Argo CD"
    assert {c["task"] for c in rbac} == {install, lockdown}
    assert [c["fields"] for c in rbac if c["task"] == install] == [["data.policy.csv"]]
    assert f"`+   {removed}`" in md, md   # the line the repair puts back
    # The two repository Secrets are told apart by name; no value reaches the report or the output.
    secrets = [c for c in changes if c["kind"] == "Secret"]
    assert sorted(c["name"] for c in secrets) == ["apps-repo", "infra-repo"]
    assert all(c["diff"] == "(hidden: no_log task)" for c in secrets)
    for value in (REPO_PASSWORD, APPS_PASSWORD, "oob-infra-repo", "oob-apps-repo"):
        assert value not in md and value not in json.dumps(changes) and value not in res.stdout

    repair = bootstrap(env)
    assert repair.rc == 0, repair
    assert repair.changed(PROD) == 0, changed_tasks(repair, PROD)
    live = rbac_data(kc)
    assert "mallory" not in live["policy.csv"]
    assert removed in live["policy.gitops-developers.csv"].splitlines()
    assert kubectl(kc, "-n", "argocd", "get", "deployment", "argocd-notifications-controller", check=False).returncode == 0
    again = bootstrap(env)
    assert again.rc == 0, again
    for name in CLUSTERS:
        assert again.changed(name) == 0, changed_tasks(again, name)


def test_unreachable_cluster_fails_only_its_host(env, tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(env["inventory"], inventory)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    prod = hosts["all"]["children"]["clusters"]["children"]["prod"]["hosts"][PROD]
    broken = tmp_path / "unreachable.kubeconfig"
    cfg = yaml.safe_load(open(prod["gitops_kubeconfig"]).read())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"   # nothing listens there
    broken.write_text(yaml.safe_dump(cfg))
    prod["gitops_kubeconfig"] = str(broken)
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    res = run_playbook(BOOTSTRAP, inventory=str(inventory))
    assert res.rc != 0
    assert res.failures(PROD) == 1
    assert res.failures(DEV) == 0
    assert res.stats[DEV]["ok"] > 0
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
    kc = env["kubeconfigs"][DEV]
    # Drift to repair, so the run has work to do against the API server when it goes away.
    kubectl(kc, "-n", "argocd", "delete", "appproject", "platform")
    script = ("import sys; sys.path.insert(0, %r); import conftest; "
              "print(conftest.run_playbook(%r, inventory=%r, limit=%r).rc)" % (os.path.dirname(__file__), BOOTSTRAP, env["inventory"], DEV))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    pid = apiserver_pid(DEV)
    assert pid, f"kube-apiserver of {DEV} not found"
    os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=900)
    # kwokctl brings the cluster back; the re-run then converges and the next one is a no-op.
    subprocess.run([sys.executable, LOCALCLUSTER, "up", DEV], check=True, stdout=subprocess.PIPE)
    res = run_playbook(BOOTSTRAP, inventory=env["inventory"], limit=DEV)
    assert res.rc == 0, res
    assert kubectl(kc, "-n", "argocd", "get", "appproject", "platform", check=False).returncode == 0
    again = run_playbook(BOOTSTRAP, inventory=env["inventory"], limit=DEV)
    assert again.rc == 0 and again.changed(DEV) == 0, changed_tasks(again, DEV)
