# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bootstrap of a cluster through a pull request, against a real Gitea (tests/integration/forge.py).

A bot user proposes (``infra_repo`` with ``pull_request: true``), the platform team reviews and
merges, a developer cannot push around the review: the branch protection comes from
``forge_repository``. Every claim is read back from the forge's API or its git repository,
never from the module's own report alone.

The tests of the life cycle (``test_cycle_*``) run in file order on one repository and build on
each other's state; the others each take their own repository.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.parse

import pytest

from conftest import ROOT, run_playbook
from forge import BOT_SCOPES, FORGE_REPOSITORY_PLAY as FORGE_PLAY

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: infra repo
      gitops.bootstrap.infra_repo: "{{ infra_args }}"
"""
HEAD = "gitops/bootstrap"
CHECK = "validate"


def free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Infra:
    """One repository on the forge, its bot, and the runs of infra_repo against it."""

    def __init__(self, forge, org: str, name: str, bot):
        self.forge, self.org, self.name, self.bot = forge, org, name, bot
        self.repo = f"{org}/{name}"

    def args(self, **extra) -> dict:
        args = {"repo": self.forge.git_url(self.repo), "cluster": "dev", "pipeline": "gitea", "owners": ["@platform"],
                "https_username": self.bot.name, "https_token": self.bot.token, "timeout": 60,
                "pull_request": True, "forge": "gitea", "api_url": self.forge.base_url, "token": self.bot.token,
                "forge_timeout": 10, "pull_request_labels": ["gitops"]}
        args.update(extra)
        return args

    def run(self, check: bool = False, **extra):
        res = run_playbook(PLAY, extra_vars={"infra_args": self.args(**extra)}, check=check, diff=True, timeout=300)
        # the tokens (the forge's and git's, here the same one) appear nowhere in what ansible printed
        for secret in (self.bot.token, urllib.parse.quote(self.bot.token)):
            assert secret not in res.stdout and secret not in res.stderr
        return res

    # -- the forge, as its API reports it --------------------------------------------------------
    def api(self, path: str, **kw):
        return self.forge.admin.client.get(f"/repos/{self.repo}{path}", **kw)

    def pulls(self, state: str = "all") -> list[dict]:
        return self.api("/pulls", query={"state": state, "limit": 50})

    def branches(self) -> dict[str, str]:
        return {b["name"]: b["commit"]["id"] for b in self.api("/branches", query={"limit": 50})}

    def file(self, path: str, ref: str) -> str | None:
        resp = self.forge.admin.client.request("GET", f"/repos/{self.repo}/raw/{urllib.parse.quote(path)}",
                                               query={"ref": ref}, expect=(200, 404))
        return resp.data if resp.status == 200 else None

    def ancestor(self, older: str, newer: str) -> bool:
        """OLDER is an ancestor of NEWER (read from the forge's own compare of the two commits)."""
        data = self.api(f"/compare/{newer}...{older}")
        return data.get("total_commits", len(data.get("commits") or [])) == 0


def result_of(res) -> dict:
    return res.task_result("infra repo")


def new_infra(forge, auto_init: bool = True, protect: bool = True) -> Infra:
    org = forge.create_org()
    repo = forge.create_repo(org, "infra", auto_init=auto_init)
    bot = forge.create_user(forge.unique("bot"), scopes=BOT_SCOPES)
    forge.add_collaborator(repo, bot.name, "write")
    forge.add_collaborator(repo, forge.developer.name, "write")
    if protect:
        res = run_playbook(FORGE_PLAY, extra_vars={"forge_args": {
            "forge": "gitea", "api_url": forge.base_url, "token": forge.platform.token, "owner": org, "name": "infra",
            "required_status_checks": [CHECK], "timeout": 10}})
        assert res.failures() == 0, res
    return Infra(forge, org, "infra", bot)


# ------------------------------------------------------------------------------------ life cycle

@pytest.fixture(scope="module")
def cycle(forge):
    infra = new_infra(forge)
    infra.main_at_start = infra.branches()["main"]
    return infra


def test_cycle_bootstrap_opens_a_pull_request_and_main_is_unchanged(cycle):
    res = cycle.run()
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["changed"] is True and out["pushed"] is True and out["branch"] == HEAD

    (pr,) = cycle.pulls()
    assert pr["state"] == "open" and pr["head"]["ref"] == HEAD and pr["base"]["ref"] == "main"
    assert pr["title"] == "gitops.bootstrap: bootstrap cluster dev"
    assert [lb["name"] for lb in pr["labels"]] == ["gitops"]
    for path in ("clusters/dev/kustomization.yaml", "clusters/dev/argocd/kustomization.yaml", ".gitea/CODEOWNERS",
                 ".gitea/workflows/validate.yaml", ".gitops/managed.yaml"):
        assert f"`{path}`" in pr["body"]
    assert "Cluster **dev** (environment `dev`): bootstrap" in pr["body"]
    assert out["pull_request"]["number"] == pr["number"] and out["pull_request"]["url"] == pr["html_url"]
    assert out["pull_request"]["created"] is True and out["pull_request"]["state"] == "open"

    branches = cycle.branches()
    assert branches["main"] == cycle.main_at_start  # main is unchanged
    assert branches[HEAD] == pr["head"]["sha"] == out["commit"]
    assert cycle.file("clusters/dev/kustomization.yaml", HEAD) is not None
    assert cycle.file("clusters/dev/kustomization.yaml", "main") is None
    # Gitea reads the code owners from .gitea/CODEOWNERS, as regular expressions
    owners = cycle.file(".gitea/CODEOWNERS", HEAD)
    assert "@platform" in owners and ".github/CODEOWNERS" not in cycle.file("README.md", HEAD)
    cycle.pr = pr


def test_cycle_rerun_changes_nothing_and_opens_no_second_pull_request(cycle):
    before = cycle.branches()
    res = cycle.run()
    assert res.failures() == 0, res
    assert res.changed() == 0, result_of(res)
    out = result_of(res)
    assert out["pull_request"]["number"] == cycle.pr["number"]
    assert out["pull_request"]["created"] is False and out["pull_request"]["updated"] is False
    assert len(cycle.pulls()) == 1
    assert cycle.branches() == before
    assert cycle.pulls()[0]["updated_at"] == cycle.pr["updated_at"]


def test_cycle_developer_cannot_push_straight_to_main(cycle, forge_tmp):
    wc = cycle.forge.clone(cycle.repo, os.path.join(forge_tmp, "wc"), cycle.forge.developer)
    with open(os.path.join(wc, "hotfix.yaml"), "w", encoding="utf-8") as fh:
        fh.write("kind: Nothing\n")
    cycle.forge.git(cycle.forge.developer, "add", "hotfix.yaml", cwd=wc)
    cycle.forge.git(cycle.forge.developer, "commit", "-qm", "around the review", cwd=wc)
    pushed = cycle.forge.git(cycle.forge.developer, "push", "origin", "HEAD:main", cwd=wc, check=False)
    assert pushed.returncode != 0 and "protected" in pushed.stderr.lower()
    assert cycle.branches()["main"] == cycle.main_at_start


def test_cycle_new_setting_updates_the_same_pull_request(cycle):
    before = cycle.branches()[HEAD]
    res = cycle.run(apps=[{"name": "web"}])
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["changed"] is True and out["pull_request"]["updated"] is True and out["pull_request"]["created"] is False
    (pr,) = cycle.pulls()
    assert pr["number"] == cycle.pr["number"]
    after = cycle.branches()[HEAD]
    assert after != before and cycle.ancestor(before, after)  # a new commit on the same branch
    assert "`apps/web/base/deployment.yaml`" in pr["body"] and "`apps/web/base/deployment.yaml`" not in cycle.pr["body"]
    assert cycle.file("apps/web/overlays/dev/kustomization.yaml", HEAD) is not None
    assert cycle.branches()["main"] == cycle.main_at_start
    # and that is steady: the same setting again changes nothing
    again = cycle.run(apps=[{"name": "web"}])
    assert again.failures() == 0 and again.changed() == 0, result_of(again)
    cycle.pr = pr


def test_cycle_merge_refused_while_the_required_status_is_missing_or_failing(cycle):
    forge, number = cycle.forge, cycle.pr["number"]
    forge.approve_pull(cycle.repo, number, as_user=forge.platform)
    missing = forge.merge_pull(cycle.repo, number, as_user=forge.platform, check=False)
    assert missing.status in (405, 409), missing
    sha = cycle.branches()[HEAD]
    forge.set_commit_status(cycle.repo, sha, "failure", CHECK, as_user=forge.platform)
    failing = forge.merge_pull(cycle.repo, number, as_user=forge.platform, check=False)
    assert failing.status in (405, 409), failing
    assert cycle.branches()["main"] == cycle.main_at_start
    assert cycle.api(f"/pulls/{number}")["merged"] is False


def test_cycle_approval_and_merge_land_it_on_main(cycle):
    forge, number = cycle.forge, cycle.pr["number"]
    forge.set_commit_status(cycle.repo, cycle.branches()[HEAD], "success", CHECK, as_user=forge.platform)
    merged = forge.merge_pull(cycle.repo, number, as_user=forge.platform, check=False)
    assert merged.status in (200, 204), merged
    assert cycle.api(f"/pulls/{number}")["merged"] is True
    assert cycle.file("clusters/dev/kustomization.yaml", "main") is not None
    assert cycle.file("apps/web/base/deployment.yaml", "main") is not None


def test_cycle_after_the_merge_the_next_run_is_a_noop(cycle):
    before = cycle.branches()
    res = cycle.run(apps=[{"name": "web"}])
    assert res.failures() == 0, res
    assert res.changed() == 0, result_of(res)
    out = result_of(res)
    assert out["pushed"] is False
    assert out["pull_request"]["number"] == cycle.pr["number"] and out["pull_request"]["state"] == "merged"
    assert len(cycle.pulls()) == 1 and cycle.branches() == before


def test_cycle_after_the_merge_a_new_cluster_gets_a_new_pull_request_from_main(cycle):
    res = cycle.run(cluster="prod", cluster_environment="prod", apps=[{"name": "web"}])
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["pull_request"]["created"] is True and out["pull_request"]["number"] != cycle.pr["number"]
    opened = cycle.pulls("open")
    assert [p["number"] for p in opened] == [out["pull_request"]["number"]]
    assert opened[0]["title"] == "gitops.bootstrap: bootstrap cluster prod"
    assert "`clusters/prod/kustomization.yaml`" in opened[0]["body"]
    assert "`clusters/dev/kustomization.yaml`" not in opened[0]["body"]  # dev is on main already
    branches = cycle.branches()
    assert cycle.ancestor(branches["main"], branches[HEAD])
    # main now holds .gitea/CODEOWNERS: Gitea asks its owners for a review
    deadline = time.time() + 20
    while True:
        reviewers = [u["login"] for u in cycle.api(f"/pulls/{opened[0]['number']}").get("requested_reviewers") or []]
        if "platform" in reviewers or time.time() > deadline:
            break
        time.sleep(0.5)
    assert "platform" in reviewers
    cycle.pr = opened[0]


def test_cycle_closed_pull_request_branch_is_started_again_from_main(cycle):
    number = cycle.pr["number"]
    cycle.forge.platform.client.patch(f"/repos/{cycle.repo}/pulls/{number}", {"state": "closed"})
    closed_head = cycle.branches()[HEAD]
    res = cycle.run(cluster="staging", cluster_environment="staging")
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["pull_request"]["created"] is True and out["pull_request"]["number"] > number
    branches = cycle.branches()
    assert cycle.ancestor(branches["main"], branches[HEAD])
    assert not cycle.ancestor(closed_head, branches[HEAD])  # the rejected commit is not carried along
    assert cycle.file("clusters/staging/kustomization.yaml", HEAD) is not None
    assert cycle.file("clusters/prod/kustomization.yaml", HEAD) is None


# ------------------------------------------------------------------------------------ check mode

def test_check_mode_changes_nothing_on_the_forge(forge):
    infra = new_infra(forge)
    before = infra.branches()
    res = infra.run(check=True)
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["changed"] is True and out["pushed"] is False
    assert out["pull_request"]["created"] is True and out["pull_request"]["number"] is None
    assert "clusters/dev/kustomization.yaml" in out["created"]
    assert any(d["after_header"].startswith("new pull request: gitops.bootstrap: bootstrap cluster dev")
               and "`clusters/dev/kustomization.yaml`" in d["after"] for d in out["diff"])
    assert infra.pulls() == [] and infra.branches() == before
    assert infra.api("/labels") == []


def test_empty_repository_gets_an_empty_first_commit_then_the_pull_request(forge, forge_tmp):
    infra = new_infra(forge, auto_init=False, protect=False)
    res = infra.run()
    assert res.failures() == 0, res
    out = result_of(res)
    branches = infra.branches()
    assert set(branches) == {"main", HEAD}
    wc = forge.clone(infra.repo, os.path.join(forge_tmp, "wc"), forge.admin)
    assert forge.git(forge.admin, "ls-tree", "-r", "origin/main", cwd=wc).stdout == ""  # main's first commit is empty
    assert forge.git(forge.admin, "rev-list", "--count", "origin/main", cwd=wc).stdout.strip() == "1"
    (pr,) = infra.pulls()
    assert pr["number"] == out["pull_request"]["number"] and "`clusters/dev/kustomization.yaml`" in pr["body"]
    assert infra.run().changed() == 0


# ------------------------------------------------------------------------------------ bad input

def test_bad_forge_input_is_one_clear_message_and_nothing_is_pushed(forge):
    infra = new_infra(forge, protect=False)
    before = infra.branches()
    cases = [
        (dict(token="0" * 40), "rejected the token (HTTP 401"),
        (dict(forge_owner="no-such-owner-hp"), "owner 'no-such-owner-hp' does not exist on Gitea"),
        # the organisation is private and the bot no member: it is not named as if it existed
        (dict(forge_repository="missing"), f"owner '{infra.org}' does not exist on Gitea, or '{infra.bot.name}' "
                                           "cannot see it"),
        (dict(forge_owner=infra.bot.name, forge_repository="missing"),
         f"there is no repository {infra.bot.name}/missing on Gitea that '{infra.bot.name}' can see"),
        (dict(api_url=f"http://127.0.0.1:{free_closed_port()}"), "cannot reach Gitea"),
    ]
    cases.append((dict(repo="/tmp/hp-local-infra"), "pull_request=true needs a remote repo URL"))
    for extra, expected in cases:
        res = infra.run(**extra)
        assert res.failures() == 1, (extra, res)
        (msg,) = res.failed_msgs()
        assert expected in msg, msg
        assert "before anything is pushed" in msg or "remote repo URL" in msg, msg
        assert result_of(res)["pushed"] is False
        assert infra.branches() == before and infra.pulls() == []


# ------------------------------------------------------------------------------------ bootstrap.yml

def test_bootstrap_playbook_ensures_the_repository_then_proposes_then_protects(forge, tmp_path):
    org = forge.create_org()
    repo = f"{org}/infra"
    key = tmp_path / "argocd_deploy_key"
    user = forge.platform
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"hp-dev": {
        "ansible_connection": "local",
        "gitops_environment": "dev",
        "gitops_infra_repo_url": forge.git_url(repo),
        "gitops_infra_repo_https_username": user.name,
        "gitops_infra_repo_https_token": user.token,
        "gitops_infra_repo_pull_request": True,
        "gitops_forge": "gitea",
        "gitops_forge_api_url": forge.base_url,
        "gitops_forge_token": user.token,
        "gitops_forge_required_status_checks": [CHECK],
        "gitops_forge_deploy_key_path": str(key),
        "gitops_skip_argocd": True,
        "gitops_skip_rbac_lockdown": True,
    }}}}))

    def bootstrap(check: bool = False):
        res = run_playbook(os.path.join(ROOT, "playbooks", "bootstrap.yml"), inventory=str(inventory), check=check,
                           env={"ANSIBLE_RUN_TAGS": "infra_repo"}, timeout=600)
        assert user.token not in res.stdout and user.token not in res.stderr
        return res

    # check mode first: the repository would be created, the layout is planned after that; nothing is made
    planned = bootstrap(check=True)
    assert planned.failures("hp-dev") == 0, planned
    assert forge.admin.client.request("GET", f"/repos/{repo}", expect=(200, 404)).status == 404
    assert not key.exists()

    res = bootstrap()
    assert res.failures("hp-dev") == 0, res
    infra = Infra(forge, org, "infra", user)
    data = forge.get_repo(repo)
    assert data["private"] is True
    (pr,) = infra.pulls()
    assert pr["state"] == "open" and pr["title"] == "gitops.bootstrap: bootstrap cluster hp-dev"
    assert "`clusters/hp-dev/kustomization.yaml`" in pr["body"] and "`.gitea/CODEOWNERS`" in pr["body"]
    # main was started with an empty commit (the base of the pull request), then protected
    assert infra.file("clusters/hp-dev/kustomization.yaml", "main") is None
    (rule,) = forge.admin.client.get(f"/repos/{repo}/branch_protections")
    assert rule["rule_name"] == "main" and rule["enable_push"] is False and rule["status_check_contexts"] == [CHECK]
    (deploy_key,) = forge.admin.client.get(f"/repos/{repo}/keys")
    assert deploy_key["read_only"] is True and key.exists()
    assert key.read_text().split("\n")[1] not in res.stdout

    again = bootstrap()
    assert again.failures("hp-dev") == 0 and again.changed("hp-dev") == 0, again
    assert len(infra.pulls()) == 1
