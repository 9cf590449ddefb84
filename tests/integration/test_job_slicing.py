# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/bootstrap.yml run as concurrent job slices of one inventory, as AWX runs a sliced job.

AWX splits the hosts of a sliced job template's inventory into N slices (host i goes to slice
i mod N) and runs the same playbook for every slice at the same time, each limited to its own
hosts. Here: three local clusters (hack/localcluster.py), one infra repository behind a real git
server (git http-backend with a token, tests/integration/gitservers.py), two slices started
together (one of two clusters, one of one). Every slice writes its clusters' folders into the same branch, so the slices' pushes
race: the server holds the first fetch of each slice until all of them have read the branch, so
every slice but one meets a branch that moved on and has to plan again on top of it. Then the
infra repository play alone, as two slices whose forge steps (gitops.bootstrap.forge_repository)
run at the same time against the test Gitea (tests/integration/forge.py): one creates the
repository, the other adopts it.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys
import time

import pytest
import yaml

from conftest import ARGOCD_MANIFESTS, ROOT, kubectl, run_playbook, start_local_cluster, stop_local_cluster
from gitservers import BareRepo, HttpGitServer, git

# Cluster names (and inventory host names); settable so that concurrent suites do not share clusters.
CLUSTERS = os.environ.get("GITOPS_TEST_SLICING_CLUSTERS", "slice-1,slice-2,slice-3").split(",")
SLICES = 2
BOOTSTRAP = os.path.join(ROOT, "playbooks", "bootstrap.yml")
LAYOUT_TASK = "gitops.bootstrap.infra_repo : Infra repository holds the layout for cluster "

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")),
    reason="the job slicing test starts its own local clusters",
)


def slices_of(hosts: list[str], count: int) -> list[list[str]]:
    """The hosts of each slice, as AWX slices an inventory: host i goes to slice i mod count."""
    return [hosts[i::count] for i in range(count)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Three running clusters, an empty infra repository on a git server and one inventory for them."""
    base = tmp_path_factory.mktemp("slicing")
    with concurrent.futures.ThreadPoolExecutor(len(CLUSTERS)) as pool:
        kubeconfigs = dict(zip(CLUSTERS, pool.map(start_local_cluster, CLUSTERS)))
    root = base / "git"
    root.mkdir()
    server = HttpGitServer(root)
    bare = BareRepo(root / "infra.git")
    url = server.url("infra.git")
    inventory = base / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    hosts = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {"clusters": {"hosts": {name: {"gitops_kubeconfig": kubeconfigs[name]} for name in CLUSTERS}}},
    }}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inventory / "group_vars" / "clusters.yml").write_text(yaml.safe_dump({
        "gitops_infra_repo_url": url,
        "gitops_infra_repo_branch": "main",
        "gitops_infra_repo_https_token": server.token,
        "argocd_version": "v3.5.1",
        "argocd_manifest_source": os.path.join(ARGOCD_MANIFESTS, "v3.5.1"),
        "rbac_lockdown_mode": "enforce",
        "rbac_lockdown_break_glass_groups": ["platform-oncall"],
    }))
    yield {"inventory": str(inventory), "kubeconfigs": kubeconfigs, "server": server, "bare": bare, "url": url, "base": base}
    server.stop()
    for name in CLUSTERS:
        stop_local_cluster(name)


def run_slices(fleet, round_name: str):
    """Every slice of the inventory at the same time; returns ({slice hosts: result}, wall seconds)."""
    parts = slices_of(CLUSTERS, SLICES)

    def one(index_hosts):
        index, hosts = index_hosts
        # Each slice is its own job, with its own home: its fleet report covers its hosts only.
        state = fleet["base"] / f"state-{round_name}-{index}"
        return run_playbook(BOOTSTRAP, inventory=fleet["inventory"], limit=",".join(hosts), timeout=600,
                            env={"XDG_STATE_HOME": str(state)})

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(parts)) as pool:
        results = list(pool.map(one, enumerate(parts)))
    wall = time.monotonic() - start
    print(f"job slicing, {round_name}: {len(CLUSTERS)} clusters in {len(parts)} concurrent slices: {wall:.1f} s wall")
    return list(zip(parts, results)), wall


def changed_tasks(res, host):
    return [t["task"]["name"] for t in res.tasks() if (t["hosts"].get(host) or {}).get("changed")]


def failure_messages(res) -> list[str]:
    """The message of every failed task result, and of every failed item of a loop."""
    out = []
    for task in res.tasks():
        for result in task["hosts"].values():
            items = result.get("results") or [result]
            out.extend(f"{task['task']['name']}: {item.get('msg')}" for item in items if item.get("failed"))
    return out


def run_once_result(res, name: str) -> dict:
    """The result of a run_once task (reported for the play's first host of the inventory's order)."""
    (result,) = [r for t in res.tasks() if t["task"]["name"] == name for r in t["hosts"].values() if r]
    return result


def layout_results(res) -> list[dict]:
    return [r for t in res.tasks() if t["task"]["name"].startswith(LAYOUT_TASK) for r in t["hosts"].values()]


def history(bare) -> list[str]:
    return git("log", "--format=%P%x09%s", "main", cwd=bare.path).splitlines()


def test_concurrent_slices_bootstrap_every_cluster_and_a_second_round_changes_nothing(fleet):
    bare, server = fleet["bare"], fleet["server"]
    # The first fetch of every slice waits until all slices have read the (empty) branch: they all
    # plan on the same state, and all but one must rebase their commit on the others'.
    server.hold_first_fetches(SLICES, timeout=120)
    first, _first_seconds = run_slices(fleet, "first")
    for hosts, res in first:
        assert res.rc == 0, (hosts, res)
        for host in hosts:
            assert res.failures(host) == 0, (host, res.failed_msgs())
            assert res.changed(host) > 0, host
        # the summary of a slice is that of its own clusters
        summary = run_once_result(res, "Summary is printed")["msg"]
        assert sorted(line["cluster"] for line in summary) == sorted(hosts)
        assert all(line["argocd_ready"] is True for line in summary), summary
        assert server.token not in res.stdout + res.stderr
    layouts = [r for _slice, res in first for r in layout_results(res)]
    assert len(layouts) == len(CLUSTERS) and all(r.get("pushed") for r in layouts), layouts
    assert sum(r["rebased"] for r in layouts) >= SLICES - 1, [r["rebased"] for r in layouts]

    # Every cluster's folder is on the branch, each written by exactly one commit, in a linear history.
    files = bare.files()
    for name in CLUSTERS:
        assert f"clusters/{name}/kustomization.yaml" in files, name
        assert f".gitops/clusters/{name}.yaml" in files, name
    managed = bare.show(".gitops/managed.yaml")
    assert all(f'"clusters/{name}/kustomization.yaml": ' in managed for name in CLUSTERS), managed
    log = history(bare)
    assert [line.split("\t")[0].count(" ") for line in log] == [0] * len(log), log   # no merge commit
    assert sorted(line.split("\t")[1] for line in log) == sorted(
        f"gitops.bootstrap: scaffold infra repository for cluster {name}" for name in CLUSTERS), log
    head = bare.head()

    # Each cluster's Argo CD runs and its root application follows the cluster's folder of that repository.
    for name, kc in fleet["kubeconfigs"].items():
        root = json.loads(kubectl(kc, "-n", "argocd", "get", "application", "root", "-o", "json").stdout)
        assert root["spec"]["source"]["repoURL"] == fleet["url"], name
        assert root["spec"]["source"]["path"] == f"clusters/{name}", name
        assert root["spec"]["source"]["targetRevision"] == "main", name
        server_deploy = json.loads(kubectl(kc, "-n", "argocd", "get", "deployment", "argocd-server", "-o", "json").stdout)
        assert server_deploy["status"].get("availableReplicas") == 1, name

    # A second round of all slices at once changes nothing, in the clusters or in the repository.
    second, _second_seconds = run_slices(fleet, "second")
    for hosts, res in second:
        assert res.rc == 0, (hosts, res)
        for host in hosts:
            assert res.changed(host) == 0, (host, changed_tasks(res, host))
    assert bare.head() == head
    assert len(history(bare)) == len(CLUSTERS)


# ------------------------------------------------------------------------------------ with a forge
def forge_inventory(forge, org: str, name: str, base, hosts: list[str], **extra) -> str:
    """An inventory of HOSTS whose infra repository ORG/NAME is ensured on the test forge (Gitea)."""
    inventory = base / f"inventory-{name}"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {"clusters": {"hosts": {host: {} for host in hosts}}},
    }}))
    group_vars = {
        "gitops_infra_repo_url": forge.git_url(f"{org}/{name}"),
        "gitops_infra_repo_branch": "main",
        "gitops_infra_repo_https_username": forge.platform.name,
        "gitops_infra_repo_https_token": forge.platform.token,
        "gitops_forge": "gitea",
        "gitops_forge_api_url": forge.base_url,
        "gitops_forge_token": forge.platform.token,
        "gitops_forge_owner": org,
    }
    group_vars.update(extra)
    (inventory / "group_vars" / "clusters.yml").write_text(yaml.safe_dump(group_vars))
    return str(inventory)


def run_infra_repo_slices(inventory: str, parts: list[list[str]]):
    """The infra repository play of bootstrap.yml (tag infra_repo) for every slice at the same time."""
    def one(hosts):
        return run_playbook(BOOTSTRAP, inventory=inventory, limit=",".join(hosts), timeout=300,
                            env={"ANSIBLE_RUN_TAGS": "infra_repo"})

    with concurrent.futures.ThreadPoolExecutor(len(parts)) as pool:
        return list(zip(parts, pool.map(one, parts)))


def test_concurrent_slices_ensure_one_forge_repository(forge, forge_org, tmp_path):
    """Two slices of two clusters each, whose forge steps run at the same time: one creates the
    repository, the other adopts it; both write their folders and protect the branch."""
    hosts = ["east-1", "west-1", "north-1", "south-1"]
    parts = slices_of(hosts, 2)
    name = "infra"
    # The slices' pushes race the protection step of the first slice to finish: the bootstrap's own
    # user stays allowed to push (docs/awx.md, job slicing).
    inventory = forge_inventory(forge, forge_org, name, tmp_path, hosts, gitops_forge_push_allowlist_users=[forge.platform.name])
    first = run_infra_repo_slices(inventory, parts)
    created = []
    for part, res in first:
        assert res.rc == 0, (part, failure_messages(res), res)
        assert forge.platform.token not in res.stdout + res.stderr
        step = run_once_result(res, "Infra repository exists on the forge, with Argo CD's deploy key and webhook")
        created.extend(item["repository"]["created"] for item in step["results"])
    assert sorted(created) == [False, True], created   # created once, adopted by the other slice
    repo = f"{forge_org}/{name}"
    data = forge.get_repo(repo)
    assert data["private"] is True and data["default_branch"] == "main"
    wc = forge.clone(repo, str(tmp_path / "wc"), forge.platform)
    files = git("ls-tree", "-r", "--name-only", "HEAD", cwd=wc).splitlines()
    assert all(f"clusters/{host}/kustomization.yaml" in files for host in hosts), files
    log = git("log", "--format=%P%x09%s", "HEAD", cwd=wc).splitlines()
    assert [line.split("\t")[0].count(" ") for line in log] == [0] * len(log), log
    assert sorted(line.split("\t")[1] for line in log) == sorted(
        f"gitops.bootstrap: scaffold infra repository for cluster {host}" for host in hosts), log
    rules = forge.branch_protections(repo)
    assert [rule["rule_name"] for rule in rules] == ["main"], rules
    assert rules[0]["enable_push"] is True and rules[0]["push_whitelist_usernames"] == [forge.platform.name], rules
    assert rules[0]["required_approvals"] == 1, rules

    second = run_infra_repo_slices(inventory, parts)
    for part, res in second:
        assert res.rc == 0, (part, failure_messages(res), res)
        for host in part:
            assert res.changed(host) == 0, (host, changed_tasks(res, host))
    assert forge.branch_sha(repo) == git("rev-parse", "HEAD", cwd=wc)
