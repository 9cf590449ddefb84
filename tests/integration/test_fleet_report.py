# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report that bootstrap.yml and drift.yml write, against two local clusters.

The clusters are real control planes (hack/localcluster.py); the root applications point at a
bare repository over file:// whose layout is not written (gitops_skip_infra_repo). The tests run in order and share the clusters: a bootstrap writes the
report (both clusters locked down), a second changes nothing (and, turned off, writes no report), then one cluster drifts, an Application of the other is
Degraded and a third inventory host cannot be reached; the drift run's report is checked against
the live state, and its HTML page is opened in headless Chromium (rendered DOM, screenshot,
console). Secret values of the inventory (a repository password, an SSH key) are in none of the
three files.

This suite runs no Argo CD controller: the Degraded status is written to the Application as the
application controller would write it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ARGOCD_MANIFESTS, ROOT, kubectl, run_playbook, start_local_cluster, stop_local_cluster

DEV = os.environ.get("GITOPS_TEST_FLEET_DEV_CLUSTER", "rep-dev")
PROD = os.environ.get("GITOPS_TEST_FLEET_PROD_CLUSTER", "rep-prod")
DOWN = "unreachable-cluster"
CLUSTERS = {DEV: "dev", PROD: "prod"}
BOOTSTRAP = os.path.join(ROOT, "playbooks", "bootstrap.yml")
DRIFT = os.path.join(ROOT, "playbooks", "drift.yml")
REPO_PASSWORD = "fl33t-repo-token-value-8910"
PART_OF = "app.kubernetes.io/part-of=argocd"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")),
    reason="the fleet report tests start their own local clusters",
)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet")
    kubeconfigs = {name: start_local_cluster(name) for name in CLUSTERS}
    repo = base / "infra.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
    key = base / "deploy_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet-test", "-f", str(key)], check=True)
    inventory = base / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    hosts = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {"clusters": {"children": {
            # No controller applies the repository here: DEV, whose Argo CD configuration the drift test
            # changes out of band, runs in inventory mode, where the role reports and repairs it.
            envname: {"hosts": {name: dict({"gitops_kubeconfig": kubeconfigs[name], "gitops_environment": envname},
                                           **({"argocd_config_source": "inventory"} if name == DEV else {}))}}
            for name, envname in CLUSTERS.items()
        }}},
    }}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inventory / "group_vars" / "clusters.yml").write_text(yaml.safe_dump({
        "gitops_infra_repo_url": f"file://{repo}",
        "gitops_infra_repo_branch": "main",
        # The repository layout is not what the report is about (test_bootstrap.py covers it).
        "gitops_skip_infra_repo": True,
        # The deploy key Argo CD reads the repository with (its SSH key goes into a repository Secret).
        "gitops_forge_deploy_key_path": str(key),
        "gitops_argocd_repo_url": "ssh://git@git.example.invalid/platform/infra.git",
        "argocd_version": "v3.5.1",
        "argocd_manifest_source": os.path.join(ARGOCD_MANIFESTS, "v3.5.1"),
        "argocd_reconciliation_timeout": "30s",
        "argocd_repositories": [
            {"name": "apps-repo", "url": "https://git.example.invalid/platform/apps.git", "username": "argocd", "password": REPO_PASSWORD},
        ],
        "rbac_lockdown_mode": "enforce",
        "rbac_lockdown_developer_groups": [{"name": "developers", "argocd_projects": ["default"]}],
        "rbac_lockdown_break_glass_groups": ["platform-oncall"],
    }))
    secrets = [REPO_PASSWORD] + [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]
    yield {"inventory": str(inventory), "kubeconfigs": kubeconfigs, "repo": str(repo), "base": base, "key": str(key), "secrets": secrets}
    for name in CLUSTERS:
        stop_local_cluster(name)


def read_report(base) -> tuple[dict, str, str]:
    return (json.loads((base.parent / (base.name + ".json")).read_text()), (base.parent / (base.name + ".md")).read_text(),
            (base.parent / (base.name + ".html")).read_text())


def assert_no_secret(env, *texts):
    for text in texts:
        for secret in env["secrets"]:
            assert secret not in text, f"a secret value of the inventory is in the report: {secret[:6]}..."
        assert "PRIVATE KEY" not in text


def live_components(kc) -> list[str]:
    out = kubectl(kc, "-n", "argocd", "get", "deployments,statefulsets", "-l", PART_OF, "-o", "json").stdout
    return sorted(o["metadata"]["name"] for o in json.loads(out)["items"])


def live_applications(kc) -> dict:
    items = json.loads(kubectl(kc, "-n", "argocd", "get", "applications", "-o", "json").stdout)["items"]
    return {a["metadata"]["name"]: ((a.get("status") or {}).get("sync", {}).get("status", "Unknown"),
                                    (a.get("status") or {}).get("health", {}).get("status", "Unknown")) for a in items}


def test_bootstrap_writes_the_fleet_report_of_locked_down_clusters(env):
    report = env["base"] / "boot" / "fleet-report"
    res = run_playbook(BOOTSTRAP, inventory=env["inventory"], extra_vars={"gitops_fleet_report_path": str(report)})
    assert res.rc == 0, res.failed_msgs()
    data, markdown, page = read_report(report)
    assert {c["name"] for c in data["clusters"]} == set(CLUSTERS)
    assert data["fleet"]["clusters"] == 2 and data["fleet"]["failing"] == 0
    for cluster in data["clusters"]:
        kc = env["kubeconfigs"][cluster["name"]]
        assert cluster["environment"] == CLUSTERS[cluster["name"]]
        assert cluster["argocd"]["version"] == "v3.5.1" and cluster["argocd"]["flavour"] == "cluster"
        assert sorted(c["name"] for c in cluster["argocd"]["components"]) == live_components(kc)
        assert all(c["ready"] for c in cluster["argocd"]["components"])
        assert {a["name"]: (a["sync"], a["health"]) for a in cluster["applications"]} == live_applications(kc)
        assert cluster["root_application"]["name"] == "root"
        assert cluster["drift"] == {"recorded": False, "objects": []}
        rbac = cluster["rbac"]
        assert rbac["state"] == "locked down", rbac
        assert rbac["people_with_write"] == [] and rbac["break_glass_with_write"] == ["Group:platform-oncall"]
        # Argo CD's and the control plane's service accounts are counted apart, not as findings to act on.
        assert rbac["system_components_total"] > 0
        assert rbac["need_action"]["critical"] == 0, rbac["findings"]
        assert [c["kind"] for c in cluster["credentials"]] == ["deploy key"]
        assert cluster["credentials"][0]["age_days"] is not None and cluster["credentials"][0]["age_days"] < 1
    # The console speaks the report's words.
    summary = res.task_result("Summary is printed", DEV)["msg"]
    assert {line["cluster"] for line in summary} == set(CLUSTERS)
    for line in summary:
        assert line["rbac"].startswith("locked down; break-glass: Group:platform-oncall; findings that need action: ")
        assert "allowlisted system components: " in line["rbac"]
        assert line["rbac_findings"]["critical"] == 0
        assert line["status"] == next(c["status"] for c in data["clusters"] if c["name"] == line["cluster"])
    assert "locked down" in markdown and "locked down" in page
    assert_no_secret(env, json.dumps(data), markdown, page, res.stdout)


def test_second_run_changes_nothing_and_report_off_writes_nothing(env, tmp_path):
    report = tmp_path / "off" / "fleet-report"
    res = run_playbook(BOOTSTRAP, inventory=env["inventory"],
                       extra_vars={"gitops_fleet_report_path": str(report), "gitops_fleet_report": False})
    assert res.rc == 0, res.failed_msgs()
    for name in CLUSTERS:
        assert res.changed(name) == 0
    assert not (tmp_path / "off").exists()
    # The console summary is printed all the same.
    assert {line["cluster"] for line in res.task_result("Summary is printed", DEV)["msg"]} == set(CLUSTERS)


def test_drift_run_report_shows_drift_degraded_and_unreachable_against_live_state(env, tmp_path):
    dev, prod = env["kubeconfigs"][DEV], env["kubeconfigs"][PROD]
    kubectl(dev, "-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge", "-p", '{"data":{"timeout.reconciliation":"999s"}}')
    guestbook = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "guestbook", "namespace": "argocd"},
        "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
                 "source": {"repoURL": "https://git.example.invalid/platform/apps.git", "path": "guestbook", "targetRevision": "HEAD"}},
    }
    kubectl(prod, "apply", "-f", "-", input_text=json.dumps(guestbook))
    status = {"status": {"sync": {"status": "Synced", "revision": "0" * 40}, "health": {"status": "Degraded"},
                         "resources": [{"kind": "Deployment", "namespace": "guestbook", "name": "guestbook-ui", "status": "Synced",
                                        "health": {"status": "Degraded", "message": "Deployment \"guestbook-ui\" exceeded its progress deadline"}}]}}
    kubectl(prod, "-n", "argocd", "patch", "application", "guestbook", "--type", "merge", "-p", json.dumps(status))

    inventory = tmp_path / "inventory"
    shutil.copytree(env["inventory"], inventory)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    broken = tmp_path / "unreachable.kubeconfig"
    cfg = yaml.safe_load(open(dev).read())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"   # nothing listens there
    broken.write_text(yaml.safe_dump(cfg))
    hosts["all"]["children"]["clusters"]["children"]["prod"]["hosts"][DOWN] = {"gitops_kubeconfig": str(broken), "gitops_environment": "prod"}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))

    report = tmp_path / "reports" / "fleet-report"
    res = run_playbook(DRIFT, inventory=str(inventory), check=True, diff=True,
                       extra_vars={"gitops_fleet_report_path": str(report)},
                       env={"ANSIBLE_CALLBACKS_ENABLED": "gitops.bootstrap.drift_report", "GITOPS_DRIFT_REPORT": str(tmp_path / "drift")})
    assert res.rc != 0
    data, markdown, page = read_report(report)
    by_name = {c["name"]: c for c in data["clusters"]}
    assert set(by_name) == {DEV, PROD, DOWN}
    assert data["fleet"] == {"clusters": 3, "healthy": 0, "drifted": 1, "failing": 2, "pending": 0}
    assert data["run"] == {"playbook": "bootstrap.yml", "check_mode": True}

    # dev: the drift of this run, object and fields, as the drift callback recorded it.
    assert by_name[DEV]["status"] == "drifted"
    drift = {o["object"]: o for o in by_name[DEV]["drift"]["objects"]}
    assert "data.timeout.reconciliation" in drift["ConfigMap argocd/argocd-cm"]["fields"]
    callback = json.loads((tmp_path / "drift.json").read_text())["clusters"]
    assert [o["object"] for o in by_name[DEV]["drift"]["objects"]] == [c["object"] for c in callback[DEV]["changes"]]
    # prod runs in repository mode: its drift is Argo CD's own comparison, the Degraded application.
    prod_drift = [o["object"] for o in by_name[PROD]["drift"]["objects"]]
    assert len(prod_drift) == 1 and "Application argocd/guestbook" in prod_drift[0], prod_drift
    assert [o["object"] for o in by_name[PROD]["drift"]["objects"]] == [c["object"] for c in callback[PROD]["changes"]]

    # prod: the Degraded application first, with its reason; every live Application listed with its status.
    apps = by_name[PROD]["applications"]
    assert apps[0]["name"] == "guestbook" and apps[0]["health"] == "Degraded"
    assert "guestbook-ui" in apps[0]["reason"]
    assert {a["name"]: (a["sync"], a["health"]) for a in apps} == live_applications(prod)
    assert by_name[PROD]["status"] == "failing"
    assert any(r.startswith("application guestbook is Degraded") for r in by_name[PROD]["reasons"])
    assert sorted(c["name"] for c in by_name[PROD]["argocd"]["components"]) == live_components(prod)

    # The cluster that cannot be reached is failing, with its error.
    down = by_name[DOWN]
    assert down["status"] == "failing"
    assert "Connection refused" in down["error"] or "could not be reached" in down["error"], down["error"]
    assert res.failures(DEV) >= 1 and res.stats[PROD]["ok"] > 0
    # The console names the fleet and the cluster the run could not finish on, in the report's words.
    fleet_lines = res.task_result("Fleet status is printed, with the clusters the run could not finish on", DEV)["msg"]
    assert fleet_lines[0] == "fleet: 3 clusters, 0 healthy, 1 drifted, 2 failing"
    assert any(line.startswith(f"{DOWN}: failing: the run did not finish on this cluster") for line in fleet_lines), fleet_lines
    assert fleet_lines[-1] == f"report: {report}.html"

    assert_no_secret(env, json.dumps(data), markdown, page)
    assert "guestbook" in markdown and DOWN in markdown
    env["drift_report"] = report
    env["drift_data"] = data


def test_html_report_renders_offline_in_headless_chromium(env, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.fail("chromium is not installed: make test-bootstrap installs it (apt-get install chromium)")
    report = env.get("drift_report")
    if report is None:
        pytest.skip("needs the report of test_drift_run_report_shows_drift_degraded_and_unreachable_against_live_state")
    page = report.parent / (report.name + ".html")
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(common + ["--dump-dom", page.as_uri()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = tmp_path / "fleet-report.png"
    snap = subprocess.run(common + [f"--screenshot={shot}", "--window-size=1280,1800", "--hide-scrollbars", page.as_uri()],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert snap.returncode == 0, snap.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10000
    if os.environ.get("GITOPS_FLEET_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["GITOPS_FLEET_SCREENSHOT"])
    # No script ran and none failed: the page has none, and the browser logged no console message.
    for log in (dom.stderr, snap.stderr):
        assert "CONSOLE" not in log, log[-2000:]
    rendered = dom.stdout
    assert "<script" not in rendered
    data = env["drift_data"]
    for cluster in data["clusters"]:
        assert f'id="cluster-{cluster["name"]}" data-status="{cluster["status"]}"' in rendered
    assert "1 drifted" in rendered and "2 failing" in rendered
    assert 'data-app="guestbook"' in rendered and "Degraded" in rendered
    assert "ConfigMap argocd/argocd-cm" in rendered
    assert_no_secret(env, rendered)


@pytest.mark.parametrize("broken", ["cluster", "repository", "summary"])
def test_report_is_written_when_every_cluster_fails(tmp_path, broken):
    """No cluster can be reached (or the infra repository cannot be read): the run fails on every host, and still
    writes all three files with every cluster failing and why. With "summary", the bootstrap skips every step and the
    first task that fails is the last play's own read of the clusters."""
    down = {"down-dev": "dev", "down-prod": "prod"}
    kubeconfig = tmp_path / "closed-port.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "closed",
        "clusters": [{"name": "closed", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "nobody", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "closed", "context": {"cluster": "closed", "user": "nobody"}}],
    }))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 # the repository does not exist: its step fails first when the run writes the layout
                 "gitops_infra_repo_url": f"file://{tmp_path}/no-such-repo.git", "gitops_skip_infra_repo": broken != "repository",
                 "gitops_skip_argocd": broken == "summary", "gitops_skip_rbac_lockdown": broken == "summary",
                 "argocd_version": "v3.5.1", "argocd_manifest_source": os.path.join(ARGOCD_MANIFESTS, "v3.5.1"),
                 "argocd_repositories": [{"name": "apps-repo", "url": "https://git.example.invalid/platform/apps.git",
                                          "username": "argocd", "password": REPO_PASSWORD}]},
        "hosts": {name: {"gitops_kubeconfig": str(kubeconfig), "gitops_environment": envname} for name, envname in down.items()},
    }}))
    report = tmp_path / "reports" / "fleet-report"
    res = run_playbook(BOOTSTRAP, inventory=str(inventory), extra_vars={"gitops_fleet_report_path": str(report)}, timeout=300)
    assert res.rc != 0
    for name in down:
        assert res.failures(name) >= 1, res
    data, markdown, page = read_report(report)
    assert data["fleet"] == {"clusters": 2, "healthy": 0, "drifted": 0, "failing": 2, "pending": 0}
    by_name = {c["name"]: c for c in data["clusters"]}
    assert set(by_name) == set(down)
    for name, cluster in by_name.items():
        assert cluster["status"] == "failing"
        assert cluster["environment"] == down[name]
        # The reason is the error of the task that failed, not a pointer to the run's output.
        if broken != "summary":
            assert cluster["error"].startswith("the run did not finish on this cluster: task "), cluster["error"]
        if broken == "repository" and name == "down-dev":
            # the first host writes every cluster's folder: the repository's error is its own
            assert "Infra repository holds the layout" in cluster["error"] and "no-such-repo.git" in cluster["error"], cluster["error"]
        else:
            assert "Connection refused" in cluster["error"] or "could not be reached" in cluster["error"], cluster["error"]
        assert cluster["reasons"][0] == cluster["error"]
        assert name in markdown and f'id="cluster-{name}" data-status="failing"' in page
    assert "2 failing" in markdown and "2 failing" in page
    # The console says the same.
    fleet_lines = res.task_result("Fleet status is printed, with the clusters the run could not finish on", "down-dev")["msg"]
    assert fleet_lines[0] == "fleet: 2 clusters, 0 healthy, 0 drifted, 2 failing"
    for name in down:
        assert any(line.startswith(f"{name}: failing: ") and by_name[name]["error"] in line for line in fleet_lines), fleet_lines
    assert fleet_lines[-1] == f"report: {report}.html"
    for text in (json.dumps(data), markdown, page):
        assert REPO_PASSWORD not in text


def test_spoke_credentials_are_aged_from_the_live_secrets(env, tmp_path):
    """A spoke registered with the hub: its token Secret and the hub's cluster Secret, with their creation time."""
    spoke, dev, prod = "fleet-spoke", env["kubeconfigs"][DEV], env["kubeconfigs"][PROD]
    kubectl(prod, "create", "namespace", "fleet-apps", check=False)
    inventory = tmp_path / "inventory"
    shutil.copytree(env["inventory"], inventory)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    # The spoke is the prod cluster under a second name (its own kubeconfig path), registered with dev's Argo CD.
    spoke_kc = tmp_path / "spoke.kubeconfig"
    shutil.copyfile(prod, spoke_kc)
    hosts["all"]["children"]["spokes"] = {"hosts": {spoke: {
        "gitops_kubeconfig": str(spoke_kc), "gitops_skip_argocd": True, "gitops_skip_rbac_lockdown": True,
        "argocd_spoke_hub_host": DEV, "argocd_spoke_namespaces": ["fleet-apps"]}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    report = tmp_path / "fleet-report"
    res = run_playbook(BOOTSTRAP, inventory=str(inventory), extra_vars={"gitops_fleet_report_path": str(report), "gitops_hosts": f"{DEV}:{spoke}"})
    assert res.rc == 0, res
    data, markdown, page = read_report(report)
    creds = {c["kind"]: c for c in next(c for c in data["clusters"] if c["name"] == spoke)["credentials"]}
    token = json.loads(kubectl(prod, "-n", "argocd-spoke", "get", "secret", "argocd-spoke-token", "-o", "json").stdout)
    on_hub = json.loads(kubectl(dev, "-n", "argocd", "get", "secret", f"cluster-{spoke}", "-o", "json").stdout)
    assert creds["spoke token"]["created"] == token["metadata"]["creationTimestamp"], creds
    assert creds["spoke token on the hub"]["created"] == on_hub["metadata"]["creationTimestamp"], creds
    assert "argocd-spoke/argocd-spoke-token" in creds["spoke token"]["name"]
    assert f"argocd/cluster-{spoke}" in creds["spoke token on the hub"]["name"]
    for cred in creds.values():
        assert cred["age_days"] is not None and 0 <= cred["age_days"] < 1
        assert cred["name"] in markdown
    # The token itself is in none of the files, nor in the run's output.
    secret_token = token["data"]["token"]
    plain = base64.b64decode(secret_token).decode()
    for text in (json.dumps(data), markdown, page, res.stdout):
        assert plain not in text and secret_token not in text
    kubectl(dev, "-n", "argocd", "delete", "secret", f"cluster-{spoke}", check=False)
