# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pull request interface of a plan pipeline on GitHub and GitLab, against recorded pairs.

The pairs (``github_review_*.json``, ``gitlab_review_*.json``) are written from the forges'
REST documentation; Gitea's side is tested against the real Gitea in
``tests/integration/test_forge_review_api.py``. Every request, its order and its body must be
what the fixture holds: a fixture without a write proves that nothing was written.
"""

from __future__ import annotations

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import RepoInfo
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import ForgeInputError, ForgeNotFoundError
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.pulls import check_status, marker_line

from forge_replay import TOKEN, provider

SHA = "1f0c3d9a8b7e6f5d4c3b2a1908f7e6d5c4b3a291"
BASE = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180f"
MARKER = "gitops-plan:dev"
CONTEXT = "gitops/plan"


def repo(forge: str) -> RepoInfo:
    if forge == "github":
        return RepoInfo("example-org", "infra", "example-org/infra", True, "main", False, True, True)
    return RepoInfo("platform", "infra", "platform/infra", True, "main", False, True, True,
                    html_url="https://gitlab.example.com/platform/infra", id=42)


def run(forge: str, fixture: str, call):
    prov, replay, _web = provider(forge, fixture)
    outcome = call(prov, repo(forge))
    replay.done()
    for sent in replay.sent:
        assert TOKEN not in repr({k: v for k, v in sent.items() if k != "headers"})
    return outcome, replay


# ------------------------------------------------------------------------------------ reading

@pytest.mark.parametrize("forge,fixture,number", [("github", "github_review_get_pull", 7),
                                                  ("gitlab", "gitlab_review_get_mr", 13)])
def test_pull_request_read_gives_both_commits_and_the_head_branch(forge, fixture, number):
    pr, _replay = run(forge, fixture, lambda p, r: p.get_pull_request(r, number))
    assert (pr.number, pr.state, pr.head, pr.base) == (number, "open", "plan/change", "main")
    assert (pr.head_sha, pr.base_sha) == (SHA, BASE)


@pytest.mark.parametrize("forge,fixture,term", [("github", "github_review_get_missing", "pull request"),
                                                ("gitlab", "gitlab_review_get_missing", "merge request")])
def test_missing_pull_request_names_the_repository_and_number(forge, fixture, term):
    prov, replay, _web = provider(forge, fixture)
    with pytest.raises(ForgeNotFoundError) as err:
        prov.get_pull_request(repo(forge), 99)
    replay.done()
    assert f"no {term} #99" in err.value.msg and repo(forge).full_name in err.value.msg
    assert TOKEN not in err.value.msg


@pytest.mark.parametrize("number", [0, -1, "7", True, None])
def test_pull_request_number_must_be_a_positive_integer(number):
    prov, replay, _web = provider("github", "github_review_get_pull")
    with pytest.raises(ForgeInputError):
        prov.get_pull_request(repo("github"), number)
    assert replay.sent == []


# ------------------------------------------------------------------------------------ comments

@pytest.mark.parametrize("forge,fixture,number,body,found,action", [
    # the developer's comment quotes the marker and another comment of ours has another one: neither is touched
    ("github", "github_review_comment_update", 7, "plan: 3 to change\n", 1002, "updated"),
    ("github", "github_review_comment_unchanged", 7, "plan: 1 to change\n", 1002, "unchanged"),
    # a token that may not read /user: the developer's comment holding the marker is not the bot's
    ("github", "github_review_comment_create_integration", 7, "plan: no changes\n", 1004, "created"),
    # system notes are never ours
    ("gitlab", "gitlab_review_note_update", 13, "plan: 2 to change\n", 302, "updated"),
    # GitLab keeps the note as "...\r\nplan: 1 to change" (no final newline): the same text
    ("gitlab", "gitlab_review_note_unchanged", 13, "plan: 1 to change\n", 302, "unchanged"),
    ("gitlab", "gitlab_review_note_create", 13, "plan: 2 to change\n", 303, "created"),
])
def test_one_comment_of_the_marker(forge, fixture, number, body, found, action):
    comment, replay = run(forge, fixture, lambda p, r: p.upsert_comment(r, number, MARKER, body))
    assert (comment.id, comment.action) == (found, action)
    writes = [c for c in replay.sent if c["method"] != "GET"]
    if action == "unchanged":
        assert writes == []
    else:
        assert [w["body"] for w in writes] == [{"body": f"<!-- {MARKER} -->\n{body}"}]
    if forge == "gitlab":
        assert comment.url == f"https://gitlab.example.com/platform/infra/-/merge_requests/13#note_{found}"


@pytest.mark.parametrize("marker", ["", " gitops", "a-->b", "a\nb", "x" * 101, None, "<!--"])
def test_unusable_marker_refused(marker):
    with pytest.raises(ForgeInputError):
        marker_line(marker)


def test_empty_comment_body_refused_before_any_call():
    prov, replay, _web = provider("github", "github_review_comment_unchanged")
    with pytest.raises(ForgeInputError):
        prov.upsert_comment(repo("github"), 7, MARKER, " \n ")
    assert replay.sent == []


# ------------------------------------------------------------------------------------ statuses

def test_github_status_written_when_it_differs():
    status, replay = run("github", "github_review_status",
                         lambda p, r: p.set_commit_status(r, SHA, "success", CONTEXT, "plan: 1 to change",
                                                          "https://ci.example.com/runs/1"))
    assert status.changed and (status.state, status.context) == ("success", CONTEXT)


def test_github_status_already_set_writes_nothing():
    status, _replay = run("github", "github_review_status_unchanged",
                          lambda p, r: p.set_commit_status(r, SHA, "pending", CONTEXT, "planning",
                                                           "https://ci.example.com/runs/1"))
    assert not status.changed and status.state == "pending"


def test_gitlab_failed_stands_for_failure_and_error_and_the_latest_counts():
    prov, replay, _web = provider("gitlab", "gitlab_review_status")
    # the latest status (id 52) is failed: error is failed on GitLab, so nothing is written
    kept = prov.set_commit_status(repo("gitlab"), SHA, "error", CONTEXT, "plan crashed")
    assert not kept.changed and kept.state == "failure" and kept.description == "plan failed"
    done = prov.set_commit_status(repo("gitlab"), SHA, "success", CONTEXT, "plan: 1 to change",
                                  "https://ci.example.com/runs/2")
    replay.done()
    assert done.changed and done.state == "success"
    assert replay.sent[-1]["body"]["state"] == "success" and replay.sent[-1]["body"]["name"] == CONTEXT


@pytest.mark.parametrize("sha,state,context,url", [
    ("main", "success", CONTEXT, ""),
    (SHA[:12], "success", CONTEXT, ""),
    (SHA, "warning", CONTEXT, ""),
    (SHA, "success", "", ""),
    (SHA, "success", "gitops/plan ", ""),
    (SHA, "success", CONTEXT, "ftp://ci.example.com/"),
    (SHA, "success", CONTEXT, "https://user:secret@ci.example.com/"),
])
def test_unusable_status_refused(sha, state, context, url):
    with pytest.raises(ForgeInputError):
        check_status(sha, state, context, "", url)


def test_long_description_is_cut_to_what_every_forge_keeps():
    sha, description, url = check_status(SHA.upper(), "success", CONTEXT, "word " * 60, None)
    assert sha == SHA and len(description) == 140 and description.endswith("\u2026") and url == ""


def test_status_without_target_url_matches_a_live_status_without_one():
    # a caller that passes None (an unset module option) asks for no URL, as "" does: nothing is written
    status, _replay = run("github", "github_review_status_unchanged",
                          lambda p, r: p.set_commit_status(r, SHA, "success", "ci/lint", "ok", None))
    assert not status.changed and status.target_url == ""
