# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo's script (hack/demo.py) against a local cluster, each step of the loop checked in the live state.

The demo bootstraps its clusters with playbooks/bootstrap.yml, starts the real Argo CD controllers
as host processes beside them, and shows the loop on the dev cluster. Here it runs on one dev
cluster (GITOPS_DEMO_TEST_CLUSTER, default demotest-dev), step by step as ``make demo`` runs them;
after each step the test reads the cluster, the infra repository and the process table itself,
so a step that only printed its success would fail here. The tests run in file order and build
on each other's state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "hack"))
sys.path.insert(0, HERE)

import argocd_controllers as acd  # noqa: E402
import demo as demo_script  # noqa: E402
import localcluster  # noqa: E402
from pullloop_servers import processes_referring_to  # noqa: E402

CLUSTER = os.environ.get("GITOPS_DEMO_TEST_CLUSTER", "demotest-dev")
APP = demo_script.APP

pytestmark = [
    pytest.mark.skipif(not os.path.exists(acd.argocd_bin()),
                       reason=f"the Argo CD binaries are not built ({acd.argocd_bin()}); `make argocd-binaries` builds them"),
    pytest.mark.skipif(bool(os.environ.get("KUBECONFIG") or os.environ.get("GITOPS_TEST_KUBECONFIG")),
                       reason="the demo starts local clusters; KUBECONFIG is set"),
]


@pytest.fixture(scope="module")
def demo():
    d = demo_script.Demo(tempfile.mkdtemp(prefix="demo-test-"), {"dev": CLUSTER})
    d.state = {}
    yield d
    # The last test stops the demo; whatever it left (a failed test before it) goes here.
    d.down()


def kubectl_json(demo, *args):
    proc = demo.kube(CLUSTER).run(list(args) + ["-o", "json"], check=False)
    if proc.returncode != 0:
        assert "NotFound" in proc.stderr, proc.stderr
        return None
    return json.loads(proc.stdout)


def repo_head(demo):
    return subprocess.run(["git", "--git-dir", demo.repo, "rev-parse", "main"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip()


def repo_has(demo, path):
    out = subprocess.run(["git", "--git-dir", demo.repo, "ls-tree", "-r", "--name-only", "main"], stdout=subprocess.PIPE,
                         text=True, check=True).stdout.split()
    return any(p == path or p.startswith(path + "/") for p in out)


def component_pids(demo):
    """The demo's live processes by program name."""
    found = {}
    for pid, argv in demo.processes():
        if argv:
            found.setdefault(os.path.basename(argv[0].split()[0]), []).append(pid)
    return found


def test_inventory_uses_the_role_default_manifests_when_no_local_copy_exists(tmp_path, monkeypatch):
    """Without ../shared/argocd (or GITOPS_ARGOCD_MANIFESTS), the demo reads no such path: the role's default source."""
    monkeypatch.setenv("GITOPS_ARGOCD_MANIFESTS", str(tmp_path / "absent"))
    d = demo_script.Demo(str(tmp_path / "demo"), {"dev": "unused-dev"})
    with open(d.write_inventory(), encoding="utf-8") as fh:
        hosts = yaml.safe_load(fh)["all"]["children"]["clusters"]["children"]["dev"]["hosts"]["unused-dev"]
    assert hosts["argocd_manifest_source"] == demo_script.role_default("argocd_manifest_source")
    assert "{{ argocd_version }}" in hosts["argocd_manifest_source"], "the role's own default, templated by Ansible"
    assert not os.path.exists(tmp_path / "absent")
    # With a local copy of the version's manifests, that copy.
    local = tmp_path / "manifests" / acd.ARGOCD_VERSION
    local.mkdir(parents=True)
    (local / "install.yaml").write_text("---\n", encoding="utf-8")
    monkeypatch.setenv("GITOPS_ARGOCD_MANIFESTS", str(tmp_path / "manifests"))
    with open(d.write_inventory(), encoding="utf-8") as fh:
        hosts = yaml.safe_load(fh)["all"]["children"]["clusters"]["children"]["dev"]["hosts"]["unused-dev"]
    assert hosts["argocd_manifest_source"] == str(local)


def test_bootstrap_starts_the_real_controllers_and_the_root_application_syncs(demo):
    demo.start_clusters()
    demo.ensure_repo()
    demo.write_inventory()
    demo.bootstrap()
    assert demo.bootstrapped == [CLUSTER]
    demo.start_controllers()
    demo.wait_roots()
    demo.hand_over()
    procs = component_pids(demo)
    for name in ("argocd-application-controller", "argocd-repo-server", "redis-server"):
        assert procs.get(name), f"{name} is not among the demo's processes: {procs}"
    root = kubectl_json(demo, "-n", "argocd", "get", "applications.argoproj.io", "root")
    assert root["status"]["sync"]["status"] == "Synced" and root["status"]["health"]["status"] == "Healthy", root["status"]
    assert root["status"]["sync"]["revision"] == repo_head(demo), "the root application compared the infra repository's main"
    assert root["spec"]["source"]["repoURL"] == f"file://{demo.repo}"
    # Argo CD applied the projects from the repository (its field manager), not only the role.
    project = kubectl_json(demo, "-n", "argocd", "get", "appprojects.argoproj.io", "apps")
    assert project["metadata"]["annotations"].get("argocd.argoproj.io/tracking-id", "").startswith("root:"), project["metadata"]


def test_a_committed_sample_application_appears_without_kubectl_or_a_playbook(demo):
    runs_before = len(os.listdir(os.path.join(demo.dir, "logs")))
    sha = demo.loop_add()
    demo.state["sha"] = sha
    assert repo_head(demo) == sha and repo_has(demo, f"apps/{APP}")
    assert len(os.listdir(os.path.join(demo.dir, "logs"))) == runs_before, "no playbook ran for the step"
    dep = kubectl_json(demo, "-n", APP, "get", "deployment", APP, "--show-managed-fields")
    assert dep["status"].get("availableReplicas") == 1
    assert dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].startswith(f"{APP}:apps/Deployment:"), \
        "the Deployment was applied by Argo CD's Application"
    assert "argocd-controller" in {m["manager"] for m in dep["metadata"]["managedFields"]}, "Argo CD's server-side apply"
    cm = kubectl_json(demo, "-n", APP, "get", "configmap", APP)
    assert cm["data"] == {"greeting": demo_script.GREETING}
    app = kubectl_json(demo, "-n", "argocd", "get", "applications.argoproj.io", APP)
    assert app["status"]["sync"]["revision"] == sha and app["status"]["health"]["status"] == "Healthy"


def test_an_out_of_band_change_is_reverted_by_self_heal(demo):
    if "sha" not in demo.state:
        pytest.skip("needs the sample application of the previous test")
    demo.loop_self_heal()
    dep = kubectl_json(demo, "-n", APP, "get", "deployment", APP)
    assert dep["spec"]["replicas"] == 1
    assert kubectl_json(demo, "-n", APP, "get", "configmap", APP)["data"] == {"greeting": demo_script.GREETING}
    op = kubectl_json(demo, "-n", "argocd", "get", "applications.argoproj.io", APP)["status"]["operationState"]
    assert op["phase"] == "Succeeded" and op["operation"]["initiatedBy"].get("automated") is True, op


def test_git_revert_rolls_the_sample_application_back(demo):
    if "sha" not in demo.state:
        pytest.skip("needs the sample application")
    revert = demo.loop_revert(demo.state["sha"])
    assert repo_head(demo) == revert and not repo_has(demo, f"apps/{APP}")
    assert kubectl_json(demo, "-n", "argocd", "get", "applications.argoproj.io", APP) is None
    assert kubectl_json(demo, "get", "namespace", APP) is None
    root = kubectl_json(demo, "-n", "argocd", "get", "applications.argoproj.io", "root")
    assert root["status"]["sync"]["revision"] == revert


def test_a_drift_run_reports_nothing_and_exits_0(demo):
    proc = demo.loop_drift()
    assert proc.returncode == 0
    report = demo.drift_report()
    assert report["clusters"][CLUSTER]["drifted"] is False, report["clusters"][CLUSTER]
    assert report["clusters"][CLUSTER].get("changes") in ([], None)


def task_outcomes(log_text, task):
    """Per host, what the default callback printed for TASK (ok, changed, skipping, failed, fatal) in a playbook's log."""
    outcomes, current = {}, None
    for line in log_text.splitlines():
        header = re.match(r"^TASK \[(.+)\] \*+$", line)
        if header:
            current = header.group(1)
            continue
        if line.startswith(("PLAY [", "PLAY RECAP")):
            current = None
        hit = re.match(r"^(ok|changed|skipping|failed|fatal): \[([^\]]+)\]", line)
        if hit and current == task:
            outcomes[hit.group(2)] = hit.group(1)
    return outcomes


def fresh_rbac_audit(demo):
    """k8s_rbac_audit run once more against the cluster, as the summary of a real run runs it."""
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run(
        ["ansible", "localhost", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         "-m", "gitops.bootstrap.k8s_rbac_audit", "-a", json.dumps({"include_rules": False, "kubeconfig": demo.kubeconfig(CLUSTER)})],
        cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_the_drift_runs_summary_reads_nothing_twice_and_reports_the_live_state(demo):
    """In check mode the summary uses the reads the roles made in the same run (nothing changed since), and its fleet report
    still tells what the cluster holds: each Application's status, Argo CD's components and RBAC as a fresh audit sees them."""
    log_path = os.path.join(demo.dir, "logs", "drift.log")
    if not os.path.exists(log_path):
        pytest.skip("needs the drift run of the previous test")
    with open(log_path, encoding="utf-8") as fh:
        log = fh.read()
    # The roles read the cluster in the drift run ...
    assert task_outcomes(log, "gitops.bootstrap.argocd : Argo CD's comparison of the cluster with the repository is read").get(CLUSTER) == "ok"
    assert task_outcomes(log, "gitops.bootstrap.rbac_lockdown : RBAC is audited, the lock-down planned and the lock-out guard passed") \
        .get(CLUSTER) == "ok"
    # ... and the summary started no module for the same reads again.
    assert task_outcomes(log, "Argo CD status is read").get(CLUSTER) == "skipping"
    assert task_outcomes(log, "RBAC is audited").get(CLUSTER) == "skipping"

    with open(os.path.join(demo.dir, "fleet-report.json"), encoding="utf-8") as fh:
        report = json.load(fh)
    assert report["run"]["check_mode"] is True, "the fleet report is the drift run's"
    entry = next(c for c in report["clusters"] if c["name"] == CLUSTER)
    live_apps = {(a["metadata"]["name"], ((a.get("status") or {}).get("sync") or {}).get("status", "Unknown"),
                  ((a.get("status") or {}).get("health") or {}).get("status", "Unknown"))
                 for a in kubectl_json(demo, "-n", "argocd", "get", "applications.argoproj.io")["items"]}
    assert {(a["name"], a["sync"], a["health"]) for a in entry["applications"]} == live_apps
    assert entry["root_application"]["sync"] == "Synced" and entry["root_application"]["health"] == "Healthy"
    assert entry["root_application"]["revision"] == repo_head(demo)
    workloads = kubectl_json(demo, "-n", "argocd", "get", "deployments,statefulsets")["items"]
    assert sorted(c["name"] for c in entry["argocd"]["components"]) == sorted(w["metadata"]["name"] for w in workloads)
    assert entry["argocd"]["ready"] is True and entry["argocd"]["version"] == acd.ARGOCD_VERSION

    audit = fresh_rbac_audit(demo)
    rbac = entry["rbac"]
    assert rbac["state"] == "locked down" and rbac["people_with_write"] == []
    by_severity = {}
    for finding in audit["findings"]:
        by_severity[finding["severity"]] = by_severity.get(finding["severity"], 0) + 1
    reported = {s: rbac["need_action"][s] + rbac["system_components"][s] + rbac["break_glass"][s] for s in rbac["need_action"]}
    assert {s: n for s, n in reported.items() if n} == by_severity, (reported, by_severity)
    assert sorted(rbac["break_glass_with_write"]) == sorted(p for p in audit["summary"]["people_with_write"])


def test_a_second_run_reuses_the_bootstrap_and_the_running_controllers(demo):
    before = demo.controller_pid(CLUSTER)
    assert before
    again = demo_script.Demo(demo.dir, {"dev": CLUSTER})
    again.start_clusters()
    again.write_inventory()
    with open(again.stamp_path(), encoding="utf-8") as fh:
        stamp = json.load(fh)
    assert stamp[CLUSTER]["uid"] == again.cluster_uid(CLUSTER)
    # The same cluster and inputs need no bootstrap; a collection edited meanwhile (a shared working tree) does.
    unchanged = stamp[CLUSTER]["inputs"] == again.inputs_digest()
    assert again.needs_bootstrap() == ([] if unchanged else [CLUSTER])
    # A cluster created again under the same name (another identity) is bootstrapped again.
    with open(again.stamp_path(), "w", encoding="utf-8") as fh:
        json.dump({CLUSTER: dict(stamp[CLUSTER], uid="another-cluster")}, fh)
    assert again.needs_bootstrap() == [CLUSTER]
    with open(again.stamp_path(), "w", encoding="utf-8") as fh:
        json.dump(stamp, fh)
    again.start_controllers()
    assert again.started == [] and again.controller_pid(CLUSTER) == before, "the running controllers were reused"


def test_down_stops_every_process_it_started_and_deletes_the_cluster(demo):
    procs = component_pids(demo)
    assert procs.get("argocd-repo-server") and procs.get("redis-server")
    demo.down()
    assert demo.processes() == []
    assert processes_referring_to(demo.dir) == []
    assert CLUSTER not in localcluster.known_clusters()
    assert not os.path.exists(demo.dir)
    shutil.rmtree(demo.dir, ignore_errors=True)
