# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a plan pipeline reports on a pull request, against a real Gitea (tests/integration/forge.py).

The provider's pull request interface (``get_pull_request``, ``upsert_comment``,
``set_commit_status``) is driven by a bot user with a collaborator's write access; every
claim is read back from Gitea's API as the site administrator sees it, never from what the
provider returned alone.
"""

from __future__ import annotations

import os
import sys

import pytest

from conftest import ROOT, run_playbook
from forge import BOT_SCOPES, FORGE_REPOSITORY_PLAY

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

_BUILD = os.path.join(ROOT, ".build", "collections")
_AnsibleCollectionFinder(paths=[_BUILD] + [p for p in sys.path if os.path.isdir(os.path.join(p, "ansible_collections"))])._install()

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.gitea import GiteaProvider  # noqa: E402
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (  # noqa: E402
    ForgeInputError,
    ForgeNotFoundError,
    Masker,
)

HEAD = "plan/change"
CONTEXT = "gitops/plan"


class Review:
    """A repository with a pull request of the developer, and the bot's provider."""

    def __init__(self, forge):
        self.forge = forge
        self.org = forge.create_org()
        self.name = "infra"
        self.repo_path = forge.create_repo(self.org, self.name)
        self.bot = forge.create_user(forge.unique("bot"), scopes=BOT_SCOPES)
        forge.add_collaborator(self.repo_path, self.bot.name, "write")
        forge.add_collaborator(self.repo_path, forge.developer.name, "write")
        self.main_sha = forge.branch_sha(self.repo_path)
        self.head_sha = forge.commit_files(self.repo_path, {"clusters/dev/app.yaml": "replicas: 2\n"},
                                           new_branch=HEAD, message="scale", as_user=forge.developer)
        self.number = forge.open_pull(self.repo_path, HEAD)["number"]
        self.provider = self.provider_of(self.bot)
        self.repo = self.provider.get_repo(self.org, self.name)

    def provider_of(self, user):
        return GiteaProvider(self.forge.base_url, user.token, timeout=10, masker=Masker([user.token]))

    def comments(self) -> list[dict]:
        return self.forge.admin.client.get(f"/repos/{self.repo_path}/issues/{self.number}/comments")

    def statuses(self, sha: str) -> list[dict]:
        """Every status ever set on SHA (not only the latest of each context)."""
        return self.forge.admin.client.get(f"/repos/{self.repo_path}/statuses/{sha}", query={"limit": 50})


@pytest.fixture
def review(forge):
    return Review(forge)


def test_pull_request_read_gives_branches_and_commits(review, forge):
    pr = review.provider.get_pull_request(review.repo, review.number)
    assert (pr.number, pr.state, pr.head, pr.base) == (review.number, "open", HEAD, "main")
    assert pr.head_sha == review.head_sha == forge.branch_sha(review.repo_path, HEAD)
    # the branch started at main's tip: that is the merge base
    assert pr.base_sha == review.main_sha
    assert pr.url.endswith(f"/{review.repo_path}/pulls/{review.number}")


def test_missing_pull_request_is_a_clear_error_without_the_token(review):
    with pytest.raises(ForgeNotFoundError) as err:
        review.provider.get_pull_request(review.repo, review.number + 50)
    msg = err.value.msg
    assert f"#{review.number + 50}" in msg and review.repo.full_name in msg
    assert review.bot.token not in msg
    with pytest.raises(ForgeInputError):
        review.provider.get_pull_request(review.repo, 0)


def test_comment_is_created_once_then_updated_in_place(review):
    first = review.provider.upsert_comment(review.repo, review.number, "gitops-plan:dev", "plan: 1 to change\n")
    assert first.action == "created"
    live = review.comments()
    assert [c["id"] for c in live] == [first.id]
    assert live[0]["user"]["login"] == review.bot.name
    assert live[0]["body"].startswith("<!-- gitops-plan:dev -->\n") and "plan: 1 to change" in live[0]["body"]

    again = review.provider.upsert_comment(review.repo, review.number, "gitops-plan:dev", "plan: 1 to change\n")
    assert (again.action, again.id) == ("unchanged", first.id)
    assert review.comments() == live        # not even its update time moved

    changed = review.provider.upsert_comment(review.repo, review.number, "gitops-plan:dev", "plan: 3 to change\n")
    assert (changed.action, changed.id) == ("updated", first.id)
    live = review.comments()
    assert [c["id"] for c in live] == [first.id] and "plan: 3 to change" in live[0]["body"]
    assert "plan: 1 to change" not in live[0]["body"]


def test_comments_of_other_markers_and_other_users_are_left_alone(review, forge):
    quoted = forge.developer.client.post(f"/repos/{review.repo_path}/issues/{review.number}/comments",
                                         {"body": "<!-- gitops-plan:dev -->\nlooks odd to me"})
    dev = review.provider.upsert_comment(review.repo, review.number, "gitops-plan:dev", "plan for dev\n")
    prod = review.provider.upsert_comment(review.repo, review.number, "gitops-plan:prod", "plan for prod\n")
    assert dev.action == prod.action == "created" and dev.id != prod.id
    bodies = {c["id"]: c["body"] for c in review.comments()}
    assert bodies[quoted["id"]] == "<!-- gitops-plan:dev -->\nlooks odd to me"
    assert len(bodies) == 3
    assert review.provider.upsert_comment(review.repo, review.number, "gitops-plan:prod", "plan for prod\n").action \
        == "unchanged"
    with pytest.raises(ForgeInputError):
        review.provider.upsert_comment(review.repo, review.number, "bad --> marker", "x")
    with pytest.raises(ForgeInputError):
        review.provider.upsert_comment(review.repo, review.number, "gitops-plan:dev", "  \n")
    assert len(review.comments()) == 3


def test_commit_status_is_written_only_when_it_changes(review):
    sha = review.head_sha
    set1 = review.provider.set_commit_status(review.repo, sha, "pending", CONTEXT, "planning",
                                             "https://ci.example.com/runs/1")
    assert set1.changed and set1.state == "pending"
    assert len(review.statuses(sha)) == 1
    same = review.provider.set_commit_status(review.repo, sha, "pending", CONTEXT, "planning",
                                             "https://ci.example.com/runs/1")
    assert not same.changed and len(review.statuses(sha)) == 1
    for state in ("failure", "error", "success"):
        done = review.provider.set_commit_status(review.repo, sha, state, CONTEXT, f"plan: {state}",
                                                 "https://ci.example.com/runs/1")
        assert done.changed and done.state == state
    latest = review.forge.admin.client.get(f"/repos/{review.repo_path}/commits/{sha}/status")
    ours = [s for s in latest["statuses"] if s["context"] == CONTEXT]
    assert [(s["status"], s["description"], s["target_url"]) for s in ours] == \
        [("success", "plan: success", "https://ci.example.com/runs/1")]
    assert len(review.statuses(sha)) == 4


def test_bad_commit_status_input_writes_nothing(review):
    for args in ((HEAD, "success", CONTEXT), (review.head_sha[:12], "success", CONTEXT),
                 (review.head_sha, "warning", CONTEXT), (review.head_sha, "success", ""),
                 (review.head_sha, "success", " gitops/plan")):
        with pytest.raises(ForgeInputError):
            review.provider.set_commit_status(review.repo, *args)
    with pytest.raises(ForgeInputError):
        review.provider.set_commit_status(review.repo, review.head_sha, "success", CONTEXT,
                                          target_url="https://user:pw@ci.example.com/")
    assert review.statuses(review.head_sha) == []


def test_required_plan_status_blocks_the_merge_until_it_succeeds(review, forge):
    res = run_playbook(FORGE_REPOSITORY_PLAY, extra_vars={"forge_args": {
        "forge": "gitea", "api_url": forge.base_url, "token": forge.platform.token, "owner": review.org,
        "name": review.name, "required_status_checks": [CONTEXT], "timeout": 10}})
    assert res.failures() == 0, res
    rule = next(r for r in forge.branch_protections(review.repo_path) if r["rule_name"] == "main")
    assert rule["enable_status_check"] is True and rule["status_check_contexts"] == [CONTEXT]
    forge.approve_pull(review.repo_path, review.number)
    review.provider.set_commit_status(review.repo, review.head_sha, "failure", CONTEXT, "plan failed")
    refused = forge.merge_pull(review.repo_path, review.number, check=False, wait=5)
    assert refused.status not in (200, 204)
    review.provider.set_commit_status(review.repo, review.head_sha, "success", CONTEXT, "plan: 1 to change")
    assert forge.merge_pull(review.repo_path, review.number).status in (200, 204)
    assert review.provider.get_pull_request(review.repo, review.number).state == "merged"
