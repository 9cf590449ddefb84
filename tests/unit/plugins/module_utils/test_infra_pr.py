# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of infra_repo's pull request mode: names from URLs, title, body, kept state.

The flow itself (forge reads, push, open, update) is proven against the real Gitea by
tests/integration/test_forge_pull_request.py; here are the edge cases of its rendering.
"""

from __future__ import annotations

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._infra_pr import (
    MAX_LISTED,
    PullRequestError,
    PullRequestFlow,
    _same_text,
    _url_key,
    default_title,
    owner_and_name,
    read_state,
    render_body,
)


def entry(action="bootstrap", environment="dev", **notes):
    out = {"action": action, "environment": environment}
    for key in ("conflicts", "forced", "removed_by_user", "taken_over"):
        out[key] = sorted(notes.get(key, []))
    return out


# ------------------------------------------------------------------------------------ names

@pytest.mark.parametrize("url,forge,api,expected", [
    ("https://git.example.com/platform/infra.git", "gitea", "https://git.example.com", ("platform", "infra")),
    ("http://127.0.0.1:3000/org-1/infra.git", "gitea", "http://127.0.0.1:3000/api/v1", ("org-1", "infra")),
    ("https://example.com/git/platform/infra.git", "gitea", "https://example.com/git", ("platform", "infra")),
    ("ssh://git@git.example.com:2222/platform/infra.git", "gitea", "https://git.example.com", ("platform", "infra")),
    ("git@github.com:example-org/infra.git", "github", None, ("example-org", "infra")),
    ("https://gitlab.com/platform/team/infra.git", "gitlab", None, ("platform/team", "infra")),
    ("git@gitlab.com:platform/team/infra", "gitlab", None, ("platform/team", "infra")),
])
def test_owner_and_name_from_clone_urls(url, forge, api, expected):
    assert owner_and_name(url, forge, api) == expected


def test_owner_and_name_needs_two_segments():
    with pytest.raises(PullRequestError) as err:
        owner_and_name("https://git.example.com/infra.git", "gitea", None)
    assert "forge_owner" in str(err.value)


def test_url_keys_compare_https_and_ssh_forms_of_one_repository():
    assert _url_key("https://Git.example.com/platform/infra.git") == _url_key("https://git.example.com/platform/infra")
    assert _url_key("git@git.example.com:platform/infra.git") == "git.example.com/platform/infra"
    assert _url_key("https://git.example.com/platform/infra") != _url_key("https://git.example.com/platform/other")


# ------------------------------------------------------------------------------------ title

def test_default_titles():
    assert default_title({"dev": entry()}) == "gitops.bootstrap: bootstrap cluster dev"
    assert default_title({"prod": entry(), "dev": entry()}) == "gitops.bootstrap: bootstrap clusters dev, prod"
    assert default_title({"dev": entry("update"), "prod": entry()}) == (
        "gitops.bootstrap: bootstrap cluster prod; update cluster dev")


# ------------------------------------------------------------------------------------ body

def test_body_names_files_and_why_and_keeps_state():
    clusters = {"dev": entry(conflicts=["README.md"], removed_by_user=["apps/web/base/service.yaml"])}
    body = render_body(clusters=clusters, created=["clusters/dev/kustomization.yaml", "Makefile"],
                       updated=[".gitops/managed.yaml"], deleted=[], base="main", head="gitops/bootstrap")
    assert "Cluster **dev** (environment `dev`): bootstrap" in body
    assert "## Files created (2)" in body and "- `Makefile`" in body and "- `clusters/dev/kustomization.yaml`" in body
    assert "## Files updated (1)" in body and "`.gitops/managed.yaml`" in body
    assert "Files deleted" not in body
    assert "## Kept as people edited them (conflicts) (1)" in body and "- `README.md` (run for cluster dev)" in body
    assert "## Removed by people, left alone (1)" in body
    assert read_state(body) == clusters


def test_body_is_deterministic_and_lists_are_cut():
    many = [f"apps/a{i:04d}/base/deployment.yaml" for i in range(MAX_LISTED + 7)]
    kwargs = dict(clusters={"dev": entry()}, created=list(reversed(many)), updated=[], deleted=[], base="main",
                  head="h")
    body = render_body(**kwargs)
    assert body == render_body(**kwargs)
    assert f"## Files created ({MAX_LISTED + 7})" in body and "- ... and 7 more" in body
    assert body.index("a0000") < body.index("a0001")


def test_state_survives_a_path_with_double_dashes_and_rejects_garbage():
    clusters = {"dev": entry(conflicts=["docs/a--b.md"])}
    body = render_body(clusters=clusters, created=["x"], updated=[], deleted=[], base="main", head="h")
    comment = body[body.index("<!-- gitops.bootstrap:pull-request"):]
    assert "--" not in comment[4:comment.rindex("-->")]
    assert read_state(body) == clusters
    assert read_state(None) == {}
    assert read_state("<!-- gitops.bootstrap:pull-request {not json} -->") == {}
    assert read_state('<!-- gitops.bootstrap:pull-request {"clusters": {"dev": {"action": "rm -rf", '
                      '"conflicts": "x"}}} -->') == {"dev": entry("update", "")}


def test_notes_of_several_clusters_are_merged_per_path():
    clusters = {"dev": entry(conflicts=["README.md"]), "prod": entry(environment="prod", conflicts=["README.md"])}
    body = render_body(clusters=clusters, created=["clusters/prod/kustomization.yaml"], updated=[], deleted=[],
                       base="main", head="h", term="merge request")
    assert "- `README.md` (run for clusters dev, prod)" in body
    assert "This merge request was opened" in body


def test_same_text_ignores_line_endings_and_trailing_space():
    assert _same_text("a\r\nb  \n", "a\nb")
    assert not _same_text("a\nb", "a\nc")


# ------------------------------------------------------------------------------------ options

def params(**kw):
    out = {"repo": "https://git.example.com/platform/infra.git", "branch": "main", "review_branch": None,
           "forge": "gitea", "api_url": "https://git.example.com", "token": "t0ken-value", "forge_timeout": 20,
           "validate_certs": True, "ca_path": None, "forge_owner": None, "forge_repository": None,
           "pull_request_title": None, "pull_request_labels": []}
    out.update(kw)
    return out


@pytest.mark.parametrize("change,message", [
    ({"token": ""}, "needs token"),
    ({"forge": None}, "needs forge:"),
    ({"forge": None, "token": None}, "needs forge and token"),
    ({"api_url": None}, "api_url is required for forge=gitea"),
    ({"api_url": "ftp://git.example.com"}, "is not an http:// or https:// URL"),
    ({"forge_timeout": 0}, "forge_timeout must be between 1 and 600"),
    ({"forge_owner": "../etc"}, "forge_owner '../etc' is not a valid name"),
    ({"pull_request_labels": [" "]}, "must not contain empty names"),
    ({"pull_request_title": "  "}, "pull_request_title is empty"),
])
def test_bad_options_refused_offline(change, message):
    flow = PullRequestFlow(params(**change), warn=lambda m: None, check_mode=False)
    with pytest.raises(PullRequestError) as err:
        flow.check_options()
    assert message in str(err.value)
    assert "t0ken-value" not in str(err.value)


def test_owner_and_name_given_or_derived():
    flow = PullRequestFlow(params(), warn=lambda m: None, check_mode=False)
    flow.check_options()
    assert (flow.owner, flow.name, flow.head) == ("platform", "infra", "gitops/bootstrap")
    flow = PullRequestFlow(params(forge_owner="team", review_branch="x"), warn=lambda m: None, check_mode=False)
    flow.check_options()
    assert (flow.owner, flow.name, flow.head) == ("team", "infra", "x")
