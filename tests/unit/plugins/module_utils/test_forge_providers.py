# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three providers against recorded request/response pairs (fixtures/forge/*.json).

Gitea's pairs were recorded from the real Gitea 1.26 of the integration tests
(``fixtures/forge/record_gitea.py``); GitHub's and GitLab's are written from their REST
documentation. Every request, its order and its body must be what the fixture holds.
"""

from __future__ import annotations

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import ForgeRepository
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeAuthError, ForgeDeliveryError, ForgeInputError, ForgeNotFoundError, ForgePermissionError)

from forge_replay import SECRET, TOKEN, provider, settings as base_settings

GITEA_HOOK = "http://argocd.test:8080/api/webhook"


def settings(owner, name, **kw):
    if owner == "platform-org":  # the Gitea recordings deliver to the recorder's receiver
        kw.setdefault("webhook", GITEA_HOOK)
    return base_settings(owner, name, **kw)


def run(forge, fixture, s, check_mode=False, **kw):
    prov, replay, web = provider(forge, fixture, **kw)
    warnings: list[str] = []
    engine = ForgeRepository(prov, s, check_mode=check_mode, warn=warnings.append, sleep=lambda _: None)
    return engine.run(), warnings, replay


def writes(replay) -> list[str]:
    return [f"{c['method']} {c['path']}" for c in replay.sent if c["method"] != "GET"]


def assert_no_secret(replay):
    """The token travels only in the auth header; the secret only in the webhook body."""
    for call in replay.sent:
        text = repr({k: v for k, v in call.items() if k != "headers"})
        assert TOKEN not in text
        if SECRET in text:
            assert "/hooks" in call["path"] and call["method"] in ("POST", "PATCH", "PUT")


# ------------------------------------------------------------------------------------ Gitea

def test_gitea_check_mode_reads_only():
    result, _warnings, replay = run("gitea", "gitea_create_check", settings("platform-org", "infra"), check_mode=True)
    replay.done()
    assert writes(replay) == []
    assert result["changed"] is True
    assert result["actions"][0] == "create private repository platform-org/infra"


def test_gitea_create_writes_exactly_the_recorded_calls():
    result, warnings, replay = run("gitea", "gitea_create", settings("platform-org", "infra"))
    replay.done()
    assert writes(replay) == [
        "POST /api/v1/orgs/platform-org/repos",
        "POST /api/v1/repos/platform-org/infra/branch_protections",
        "POST /api/v1/repos/platform-org/infra/keys",
        "POST /api/v1/repos/platform-org/infra/hooks",
    ]
    body = next(c["body"] for c in replay.sent if c["method"] == "POST" and c["path"].endswith("/branch_protections"))
    assert body["enable_push"] is False and body["required_approvals"] == 1
    assert body["block_on_official_review_requests"] is True and body["status_check_contexts"] == ["validate"]
    assert result["webhook"]["delivery"]["status"] == "skipped"  # empty repository, no web password
    assert any("empty repository" in w for w in warnings)
    assert result["argocd_secret_key"] == "webhook.gogs.secret"
    assert_no_secret(replay)


def test_gitea_rerun_is_a_noop():
    result, warnings, replay = run("gitea", "gitea_rerun", settings("platform-org", "infra"))
    replay.done()
    assert writes(replay) == [] and result["changed"] is False and warnings == []
    assert result["diff"]["before"] == result["diff"]["after"]


def test_gitea_conflict_kept_stricter_settings_kept():
    result, warnings, replay = run("gitea", "gitea_adopt_conflict", settings("platform-org", "adopted"))
    replay.done()
    patch = next(c for c in replay.sent if c["method"] == "PATCH")
    assert patch["path"].endswith("/branch_protections/main")
    assert patch["body"]["enable_push"] is True  # everyone may still push: reported, not replaced
    assert patch["body"]["required_approvals"] == 2  # stricter live value kept
    assert "block_on_rejected_reviews" not in patch["body"]  # unmanaged settings untouched
    assert [c["action"] for c in result["conflicts"]] == ["kept"]
    assert any("protection_conflict=replace" in w for w in warnings)


def test_gitea_not_admin_fails_before_any_change():
    with pytest.raises(ForgePermissionError) as err:
        run("gitea", "gitea_not_admin", settings("platform-org", "adopted"))
    assert "lacks the admin permission" in err.value.msg and "Nothing was changed" in err.value.msg


def test_gitea_failed_delivery_read_from_the_web_ui_and_hook_removed():
    prov, replay, web = provider("gitea", "gitea_delivery_failed", web_fixture="gitea_delivery_failed_web",
                                 web_password="unit-test-password")
    engine = ForgeRepository(prov, settings("platform-org", "gone", webhook="http://argocd-gone.test:9/api/webhook"),
                             check_mode=False, warn=lambda m: None,
                             sleep=lambda _: None)
    with pytest.raises(ForgeDeliveryError) as err:
        engine.run()
    replay.done()
    web.done()
    assert "connection refused" in err.value.msg and "removed again" in err.value.msg
    assert err.value.details["delivery"]["status"] == "failed"
    assert writes(replay)[-1].startswith("DELETE /api/v1/repos/platform-org/gone/hooks/")
    login = web.sent[0]
    assert login["path"] == "/user/login" and login["body"] == {"user_name": "platform", "password": "unit-test-password"}
    assert "unit-test-password" not in err.value.msg


# ------------------------------------------------------------------------------------ GitHub

def test_github_adopt_protects_keys_hooks_and_pings():
    result, warnings, replay = run("github", "github_adopt", settings("example-org", "infra"))
    replay.done()
    assert result["changed"] is True and warnings == []
    assert result["webhook"]["delivery"] == {"status": "ok", "status_code": 200, "message": "OK", "event": "ping",
                                             "delivery_id": 12345678901}
    assert result["argocd_secret_key"] == "webhook.github.secret"
    hook = next(c for c in replay.sent if c["method"] == "POST" and c["path"].endswith("/hooks"))
    assert "gitops_secret=fp1." in hook["body"]["config"]["url"]
    assert replay.sent[0]["headers"]["X-GitHub-Api-Version"] == "2022-11-28"
    assert replay.sent[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert_no_secret(replay)


def test_github_rerun_is_a_noop():
    result, _warnings, replay = run("github", "github_rerun", settings("example-org", "infra"))
    replay.done()
    assert writes(replay) == [] and result["changed"] is False


def test_github_stricter_rule_merged_and_admin_push_reported():
    s = settings("example-org", "infra", key=False, webhook=None)
    result, warnings, replay = run("github", "github_merge_existing", s)
    replay.done()
    assert result["branch_protection"]["required_approvals"] == 2
    assert result["branch_protection"]["required_status_checks"] == ["lint", "validate"]
    (conflict,) = result["conflicts"]
    assert "repository administrators" in conflict["live"] and conflict["action"] == "kept"


def test_github_failed_ping_fails_and_removes_the_new_hook():
    s = settings("example-org", "infra", key=False, protection=False)
    with pytest.raises(ForgeDeliveryError) as err:
        run("github", "github_delivery_failed", s)
    assert "HTTP 502" in err.value.msg and "Invalid HTTP Response: 502" in err.value.msg


def test_github_not_admin():
    with pytest.raises(ForgePermissionError) as err:
        run("github", "github_not_admin", settings("example-org", "infra"))
    assert "lacks the admin permission on example-org/infra" in err.value.msg


def test_github_new_repository_protection_deferred_until_first_push():
    s = settings("example-org", "infra", webhook=None)
    result, warnings, replay = run("github", "github_new_repo", s)
    replay.done()
    assert writes(replay) == ["POST /orgs/example-org/repos", "POST /repos/example-org/infra/keys"]
    assert "deferred" in result["branch_protection"]
    assert any("first push" in w for w in warnings)


def test_github_bad_token():
    with pytest.raises(ForgeAuthError) as err:
        run("github", "github_bad_token", settings("example-org", "infra"))
    assert "Bad credentials" in err.value.msg and TOKEN not in err.value.msg


# ------------------------------------------------------------------------------------ GitLab

def test_gitlab_adopt_protects_with_approval_rule_and_pipeline():
    result, warnings, replay = run("gitlab", "gitlab_adopt", settings("platform", "infra"))
    replay.done()
    assert warnings == []
    assert result["branch_protection"]["required_status_checks"] == ["pipeline"]
    assert result["webhook"]["delivery"]["status"] == "ok"
    assert result["argocd_secret_key"] == "webhook.gitlab.secret"
    assert replay.sent[0]["headers"]["PRIVATE-TOKEN"] == TOKEN
    assert_no_secret(replay)


def test_gitlab_rerun_is_a_noop():
    result, _warnings, replay = run("gitlab", "gitlab_rerun", settings("platform", "infra"))
    replay.done()
    assert writes(replay) == [] and result["changed"] is False


def test_gitlab_open_branch_replaced_on_request():
    s = settings("platform", "infra", key=False, webhook=None, conflict="replace")
    result, _warnings, replay = run("gitlab", "gitlab_replace_open_branch", s)
    replay.done()
    assert result["conflicts"][0]["action"] == "replaced"
    assert result["branch_protection"]["direct_push"] == "nobody"


def test_gitlab_free_tier_refused_before_any_change():
    with pytest.raises(ForgeInputError) as err:
        run("gitlab", "gitlab_free_tier", settings("platform", "infra"))
    assert "Premium" in err.value.msg and "Nothing was changed" in err.value.msg


def test_gitlab_missing_group_is_named():
    with pytest.raises(ForgeNotFoundError) as err:
        run("gitlab", "gitlab_missing_group", settings("no-such-group", "infra"))
    assert "owner 'no-such-group' does not exist on GitLab" in err.value.msg
