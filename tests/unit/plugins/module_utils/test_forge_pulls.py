# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pull request operations of the three forges against recorded request/response pairs.

Gitea's pairs (``gitea_pulls_*.json``) were recorded from the real Gitea 1.26 of the
integration tests by ``fixtures/forge/record_gitea_pulls.py``; GitHub's and GitLab's are
written from their REST documentation. Every request, its order and its body must be what
the fixture holds.
"""

from __future__ import annotations

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import RepoInfo
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import ForgeConflictError
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.pulls import pull_requests_for

from forge_replay import TOKEN, provider

HEAD = "gitops/bootstrap"


def pulls(forge: str, fixture: str):
    prov, replay, _web = provider(forge, fixture)
    return pull_requests_for(prov), replay


def repo(forge: str) -> RepoInfo:
    if forge == "gitea":
        return RepoInfo("platform-org", "infra", "platform-org/infra", True, "main", False, True, True)
    if forge == "github":
        return RepoInfo("example-org", "infra", "example-org/infra", True, "main", False, True, True)
    return RepoInfo("platform", "infra", "platform/infra", True, "main", False, True, True, id=42)


def assert_token_only_in_headers(replay):
    for call in replay.sent:
        assert TOKEN not in repr({k: v for k, v in call.items() if k != "headers"})


# ------------------------------------------------------------------------------------ Gitea

def test_gitea_find_without_pull_requests():
    ops, replay = pulls("gitea", "gitea_pulls_find_none")
    found = ops.find(repo("gitea"), HEAD, "main")
    replay.done()
    assert found.open is None and found.latest is None
    # open ones first, then the closed ones in the order Gitea closed them (merged ones included)
    assert [c["query"].get("state") for c in replay.sent] == ["open", "closed"]
    assert replay.sent[1]["query"]["sort"] == "recentclose"
    assert all(c["query"]["limit"] == "50" and c["query"]["base_branch"] == "main" for c in replay.sent)


def test_gitea_create_makes_the_missing_label_and_opens():
    ops, replay = pulls("gitea", "gitea_pulls_create")
    pr = ops.create(repo("gitea"), HEAD, "main", "gitops.bootstrap: bootstrap cluster dev", "first body\n", ["gitops"])
    replay.done()
    label, create = replay.sent[1], replay.sent[2]
    assert label["method"] == "POST" and label["body"]["name"] == "gitops"
    assert create["body"]["head"] == HEAD and create["body"]["base"] == "main"
    assert create["body"]["labels"] and all(isinstance(i, int) for i in create["body"]["labels"])
    assert pr.number == 1 and pr.state == "open" and pr.labels == ["gitops"]
    assert pr.url == "http://gitea.test/platform-org/infra/pulls/1"
    assert pr.public(created=True, updated=False)["created"] is True
    assert_token_only_in_headers(replay)


def test_gitea_find_open():
    ops, replay = pulls("gitea", "gitea_pulls_find_open")
    found = ops.find(repo("gitea"), HEAD, "main")
    replay.done()
    assert found.open is not None and found.open.number == 1 and found.open.state == "open"
    assert found.open.body == "first body\n" and found.open.head_sha
    assert found.latest.number == 1


def test_gitea_update_title_body_and_labels():
    ops, replay = pulls("gitea", "gitea_pulls_find_open")
    current = ops.find(repo("gitea"), HEAD, "main").open
    ops, replay = pulls("gitea", "gitea_pulls_update")
    pr = ops.update(repo("gitea"), current, title="gitops.bootstrap: bootstrap clusters dev, prod",
                    body="second body\n", add_labels=["bootstrap"])
    replay.done()
    assert replay.sent[0]["body"] == {"title": "gitops.bootstrap: bootstrap clusters dev, prod", "body": "second body\n"}
    assert pr.title.endswith("dev, prod") and pr.body == "second body\n"
    assert sorted(pr.labels) == ["bootstrap", "gitops"]


def test_gitea_merged_pull_request_is_the_latest_none_open():
    ops, replay = pulls("gitea", "gitea_pulls_find_merged")
    found = ops.find(repo("gitea"), HEAD, "main")
    replay.done()
    assert found.open is None
    assert found.latest.number == 1 and found.latest.state == "merged" and found.latest.mergeable is None


def test_gitea_pull_request_of_a_fork_branch_of_the_same_name_is_not_ours():
    ops, replay = pulls("gitea", "gitea_pulls_find_open")
    for exchange in replay.exchanges:
        for item in exchange["response"]["body"] or []:
            item["head"]["repo"]["full_name"] = "someone/infra"
    found = ops.find(repo("gitea"), HEAD, "main")
    assert found.open is None and found.latest is None


# ------------------------------------------------------------------------------------ GitHub

def test_github_find_picks_the_open_one_and_the_latest():
    ops, replay = pulls("github", "github_pulls_find")
    found = ops.find(repo("github"), HEAD, "main")
    replay.done()
    assert replay.sent[0]["query"]["head"] == "example-org:gitops/bootstrap"
    assert found.open.number == 7 and found.latest.number == 7


def test_github_merged_is_told_by_merged_at():
    ops, replay = pulls("github", "github_pulls_find_merged")
    found = ops.find(repo("github"), HEAD, "main")
    replay.done()
    assert found.open is None and found.latest.number == 5 and found.latest.state == "merged"


def test_github_find_none():
    ops, replay = pulls("github", "github_pulls_find_none")
    assert ops.find(repo("github"), HEAD, "main").latest is None
    replay.done()


def test_github_create_then_labels():
    ops, replay = pulls("github", "github_pulls_create")
    pr = ops.create(repo("github"), HEAD, "main", "gitops.bootstrap: bootstrap cluster dev", "first body\n", ["gitops"])
    replay.done()
    assert pr.number == 8 and pr.labels == ["gitops"] and pr.url.endswith("/pull/8")
    assert_token_only_in_headers(replay)


def test_github_create_refused_names_the_branch_and_what_to_do():
    ops, replay = pulls("github", "github_pulls_create_exists")
    with pytest.raises(ForgeConflictError) as err:
        ops.create(repo("github"), HEAD, "main", "t", "b", [])
    assert "already exists" in err.value.msg and "re-run to update it" in err.value.msg
    assert TOKEN not in err.value.msg


def test_github_update():
    ops, replay = pulls("github", "github_pulls_create")
    current = ops.create(repo("github"), HEAD, "main", "gitops.bootstrap: bootstrap cluster dev", "first body\n",
                         ["gitops"])
    ops, replay = pulls("github", "github_pulls_update")
    pr = ops.update(repo("github"), current, title="gitops.bootstrap: bootstrap clusters dev, prod",
                    body="second body\n", add_labels=["bootstrap"])
    replay.done()
    assert pr.body == "second body\n" and pr.labels == ["gitops", "bootstrap"] and pr.mergeable is True


# ------------------------------------------------------------------------------------ GitLab

def test_gitlab_merged_merge_request_fork_ignored():
    ops, replay = pulls("gitlab", "gitlab_mrs_find_merged")
    found = ops.find(repo("gitlab"), HEAD, "main")
    replay.done()
    # !14 is opened from a fork's branch of the same name: not ours
    assert found.open is None and found.latest.number == 12 and found.latest.state == "merged"
    assert ops.term == "merge request"


def test_gitlab_open_merge_request_mergeability_not_known_while_checking():
    ops, replay = pulls("gitlab", "gitlab_mrs_find_open")
    found = ops.find(repo("gitlab"), HEAD, "main")
    replay.done()
    assert found.open.number == 13 and found.open.mergeable is None


def test_gitlab_create_and_update():
    ops, replay = pulls("gitlab", "gitlab_mrs_create")
    pr = ops.create(repo("gitlab"), HEAD, "main", "gitops.bootstrap: bootstrap cluster dev", "first body\n",
                    ["gitops", "bootstrap"])
    replay.done()
    assert pr.number == 13 and pr.labels == ["gitops", "bootstrap"]
    ops, replay = pulls("gitlab", "gitlab_mrs_update")
    pr = ops.update(repo("gitlab"), pr, title=None, body="second body\n", add_labels=["prod"])
    replay.done()
    assert pr.body == "second body\n" and pr.mergeable is False


def test_gitlab_update_with_nothing_to_change_sends_nothing():
    ops, replay = pulls("gitlab", "gitlab_mrs_find_open")
    current = ops.find(repo("gitlab"), HEAD, "main").open
    assert ops.update(repo("gitlab"), current, title=None, body=None, add_labels=[]) is current
    replay.done()
