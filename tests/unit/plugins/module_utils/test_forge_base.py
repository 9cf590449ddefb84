# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The forge engine offline: protection merge, deploy key and webhook plans, fingerprints, runner.

The runner tests use an in-memory provider for the edge cases a live forge cannot easily be
made to produce (a forge that silently drops part of a rule, a delivery that fails after an
update); the behaviour against real Gitea is in tests/integration/test_forge_repository.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge import base
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import (
    PUSH_ALLOWLIST, PUSH_EVERYONE, PUSH_NOBODY, Delivery, DeployKey, ForgeProvider, ForgeRepository, Hook, Identity,
    Protection, RepoInfo, WantedProtection, branch_matches, fingerprint_matches, key_fingerprint, merge_protection,
    normalise_public_key, plan_deploy_key, plan_webhook, secret_fingerprint)
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeConflictError, ForgeDeliveryError, ForgeInputError, ForgePermissionError)

from forge_replay import PUBLIC_KEY, SECRET, settings

OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl other"


def want(**kw) -> WantedProtection:
    values = dict(branch="main", push_users=[], push_teams=[], required_approvals=1, status_checks=["validate"],
                  code_owner_review=True, conflict="report")
    values.update(kw)
    return WantedProtection(**values)


# ------------------------------------------------------------------------------------ protection merge

def test_new_rule_is_the_wanted_policy():
    target, conflicts = merge_protection(None, want(push_users=["Bot"]))
    assert conflicts == []
    assert target.direct_push == PUSH_ALLOWLIST and target.push_users == ["bot"]
    assert (target.required_approvals, target.dismiss_stale_approvals, target.code_owner_review) == (1, True, True)


def test_stricter_live_settings_are_kept():
    live = Protection(rule="main", required_approvals=3, status_checks=["lint"], code_owner_review=True)
    target, conflicts = merge_protection(live, want(code_owner_review=False))
    assert conflicts == []
    assert target.required_approvals == 3
    assert target.status_checks == ["lint", "validate"]
    assert target.code_owner_review is True
    assert target.dismiss_stale_approvals is True


def test_direct_push_for_everyone_is_a_conflict_kept_or_replaced():
    live = Protection(rule="main", direct_push=PUSH_EVERYONE)
    kept, conflicts = merge_protection(live, want())
    assert kept.direct_push == PUSH_EVERYONE and conflicts[0]["action"] == "kept"
    replaced, conflicts = merge_protection(live, want(conflict="replace"))
    assert replaced.direct_push == PUSH_NOBODY and conflicts[0]["action"] == "replaced"


def test_allowlist_beyond_the_wanted_one_is_a_conflict():
    live = Protection(rule="main", direct_push=PUSH_ALLOWLIST, push_users=["alice", "Bot"], push_other=["deploy keys"])
    target, conflicts = merge_protection(live, want(push_users=["bot"]))
    (c,) = conflicts
    assert "user alice" in c["live"] and "deploy keys" in c["live"]
    assert target.push_users == ["alice", "bot"] and target.push_other == ["deploy keys"]
    target = merge_protection(live, want(push_users=["bot"], conflict="replace"))[0]
    assert target.push_users == ["bot"] and target.push_other == []


def test_same_allowlist_in_other_case_is_no_conflict_and_no_change():
    live = Protection(rule="main", direct_push=PUSH_ALLOWLIST, push_users=["Release-Bot"], required_approvals=1,
                      dismiss_stale_approvals=True, status_checks=["validate"], code_owner_review=True)
    target, conflicts = merge_protection(live, want(push_users=["release-bot"]))
    assert conflicts == [] and live.same_policy(target)


def test_no_code_owners_where_the_forge_has_none():
    target = merge_protection(None, want(), supports_code_owners=False)[0]
    assert target.code_owner_review is False


@pytest.mark.parametrize("pattern,branch,matches", [
    ("main", "main", True), ("*", "main", True), ("*", "release/1", False), ("**", "release/1", True),
    ("release/*", "release/1", True), ("ma?n", "main", True), ("{main,master}", "master", True),
    ("[mx]ain", "main", True), ("mai", "main", False), ("main*", "main-x", True),
])
def test_branch_patterns(pattern, branch, matches):
    assert branch_matches(pattern, branch) is matches


# ------------------------------------------------------------------------------------ deploy key

def key(title="argocd", text=PUBLIC_KEY, read_only=True, ident=1):
    return DeployKey(ident, title, text, read_only)


def test_key_already_registered_read_only_is_kept():
    plan = plan_deploy_key([key(title="argocd (old title)")], "argocd", PUBLIC_KEY.replace(" argocd", " x"), "report")
    assert (plan.add, plan.delete, plan.current.id) == (False, [], 1)


def test_other_key_under_our_title_refused_or_replaced():
    with pytest.raises(ForgeConflictError, match="exists with another key"):
        plan_deploy_key([key(text=OTHER_KEY)], "argocd", PUBLIC_KEY, "report")
    plan = plan_deploy_key([key(text=OTHER_KEY)], "argocd", PUBLIC_KEY, "replace")
    assert plan.add and [k.id for k in plan.delete] == [1]


def test_our_key_with_write_access_refused_or_fixed():
    with pytest.raises(ForgeConflictError, match="with write access"):
        plan_deploy_key([key(read_only=False)], "argocd", PUBLIC_KEY, "report")
    plan = plan_deploy_key([key(read_only=False)], "argocd", PUBLIC_KEY, "replace")
    assert plan.add and [k.id for k in plan.delete] == [1]


def test_key_generated_in_this_run_with_a_title_taken():
    with pytest.raises(ForgeConflictError, match="generated in this run"):
        plan_deploy_key([key(text=OTHER_KEY)], "argocd", None, "report")
    plan = plan_deploy_key([key(text=OTHER_KEY)], "argocd", None, "replace")
    assert plan.add and plan.delete


def test_public_key_parsing():
    assert normalise_public_key(f"  {PUBLIC_KEY}\n") == " ".join(PUBLIC_KEY.split()[:2])
    assert normalise_public_key('no-pty,command="x" ' + PUBLIC_KEY).startswith("ssh-ed25519 AAAA")
    with pytest.raises(ForgeInputError):
        normalise_public_key("not a key")
    assert key_fingerprint(PUBLIC_KEY).startswith("SHA256:") and key_fingerprint(PUBLIC_KEY) != key_fingerprint(OTHER_KEY)


# ------------------------------------------------------------------------------------ webhook

def test_fingerprint_is_salted_and_verifiable():
    a, b = secret_fingerprint(SECRET), secret_fingerprint(SECRET)
    assert a != b and fingerprint_matches(SECRET, a) and fingerprint_matches(SECRET, b)
    assert not fingerprint_matches(SECRET + "x", a)
    assert SECRET not in a and not fingerprint_matches(SECRET, None) and not fingerprint_matches(SECRET, "fp1.x.y")


def hook(**kw):
    values = dict(id=7, url="https://argocd.example.com/api/webhook", active=True, events=["push"],
                  fingerprint=secret_fingerprint(SECRET))
    values.update(kw)
    return Hook(**values)


def test_webhook_plans():
    url = "https://argocd.example.com/api/webhook"
    assert plan_webhook([], url, SECRET, True).action == "create"
    assert plan_webhook([hook()], url, SECRET, True).action == "none"
    assert plan_webhook([hook()], url, "another-secret-value", True).reasons == ["secret changed"]
    assert plan_webhook([hook(fingerprint=None)], url, SECRET, True).reasons == ["secret not known to be the wanted one"]
    assert plan_webhook([hook(active=False, events=["issues"])], url, SECRET, True).reasons == [
        "inactive", "push events not sent"]
    assert plan_webhook([hook(ssl_verify=None)], url, SECRET, False).action == "none"  # no such setting
    plan = plan_webhook([hook(id=1), hook(id=2)], url, SECRET, True)
    assert plan.hook.id == 1 and [d.id for d in plan.duplicates] == [2]
    assert plan_webhook([hook(url=url + "x")], url, SECRET, True).action == "create"


# ------------------------------------------------------------------------------------ the runner

class MemoryForge(ForgeProvider):
    """A forge in memory, for the runner's edge cases."""

    forge = "memory"
    label = "the memory forge"
    argocd_secret_key = "webhook.memory.secret"

    def __init__(self, repo=None, admin=True, rule=None, drop_on_write=False, delivery="ok"):
        self.repo = repo
        self.admin = admin
        self.rule = rule
        self.drop_on_write = drop_on_write
        self.delivery = delivery
        self.keys: list[DeployKey] = []
        self.hooks: list[Hook] = []
        self.writes: list[str] = []

    def whoami(self):
        return Identity("platform")

    def get_repo(self, owner, name):
        if self.repo is None:
            return None
        return RepoInfo(owner, name, f"{owner}/{name}", private=True, default_branch="main", empty=False,
                        admin=self.admin, push=True)

    def check_can_create(self, owner, me):
        pass

    def create_repo(self, owner, name, **kw):
        self.writes.append("create_repo")
        self.repo = True
        return self.get_repo(owner, name)

    def check_identities(self, repo, owner, users, teams):
        pass

    def get_protection(self, repo, branch):
        return self.rule

    def put_protection(self, repo, branch, target, live):
        self.writes.append("put_protection")
        kept = Protection(**{k: getattr(target, k) for k in ("rule", "direct_push", "push_users", "push_teams",
                                                             "push_other", "required_approvals",
                                                             "dismiss_stale_approvals", "status_checks",
                                                             "code_owner_review")})
        if self.drop_on_write:
            kept.push_users = []
        self.rule = kept

    def list_deploy_keys(self, repo):
        return list(self.keys)

    def add_deploy_key(self, repo, title, key):
        self.writes.append("add_key")
        self.keys.append(DeployKey(len(self.keys) + 1, title, key, True))
        return self.keys[-1]

    def delete_deploy_key(self, repo, key):
        self.writes.append("delete_key")
        self.keys.remove(key)

    def list_hooks(self, repo):
        return list(self.hooks)

    def create_hook(self, repo, spec):
        self.writes.append("create_hook")
        self.hooks.append(Hook(len(self.hooks) + 1, spec.url, True, ["push"], fingerprint=spec.fingerprint))
        return self.hooks[-1]

    def update_hook(self, repo, hook, spec):
        self.writes.append("update_hook")
        hook.fingerprint, hook.active = spec.fingerprint, True
        return hook

    def delete_hook(self, repo, hook):
        self.writes.append("delete_hook")
        self.hooks.remove(hook)

    def test_hook(self, repo, hook, wait):
        self.writes.append("test_hook")
        if self.delivery == "ok":
            return Delivery("ok", 200, "", "push")
        return Delivery("failed", 400, "Webhook processing failed: HMAC verification failed", "push")


def engine(provider, s=None, check_mode=False, prepare_key=None):
    warnings = []
    s = s or settings("platform", "infra")
    return ForgeRepository(provider, s, check_mode=check_mode, warn=warnings.append, prepare_key=prepare_key), warnings


def test_check_mode_writes_nothing_and_reports_everything():
    forge = MemoryForge()
    result = engine(forge, check_mode=True)[0].run()
    assert forge.writes == [] and result["changed"] is True
    assert result["diff"]["before"]["repository"] == {"exists": False}
    assert len(result["actions"]) == 4


def test_apply_then_rerun_is_a_noop():
    forge = MemoryForge()
    first = engine(forge)[0].run()
    assert forge.writes == ["create_repo", "put_protection", "add_key", "create_hook", "test_hook"]
    assert first["webhook"]["delivery"]["status"] == "ok"
    forge.writes.clear()
    second = engine(forge)[0].run()
    assert forge.writes == [] and second["changed"] is False


def test_not_admin_refused_before_any_write():
    forge = MemoryForge(repo=True, admin=False)
    with pytest.raises(ForgePermissionError, match="lacks the admin permission"):
        engine(forge)[0].run()
    assert forge.writes == []


def test_key_conflict_refused_before_any_write():
    forge = MemoryForge(repo=True)
    forge.keys.append(DeployKey(9, "argocd", OTHER_KEY, True))
    with pytest.raises(ForgeConflictError):
        engine(forge)[0].run()
    assert forge.writes == []


def test_forge_that_does_not_keep_the_rule_is_reported():
    forge = MemoryForge(repo=True, drop_on_write=True)
    s = settings("platform", "infra", key=False, webhook=None)
    s.protection.push_users = ["bot"]
    with pytest.raises(ForgeConflictError, match="did not keep the branch protection"):
        engine(forge, s)[0].run()


def test_failed_delivery_after_update_clears_the_fingerprint_so_the_next_run_retries():
    forge = MemoryForge(repo=True, delivery="failed")
    forge.hooks.append(Hook(1, "https://argocd.example.com/api/webhook", True, ["push"], fingerprint=None))
    s = settings("platform", "infra", key=False, protection=False)
    with pytest.raises(ForgeDeliveryError, match="HTTP 400") as err:
        engine(forge, s)[0].run()
    assert "fingerprint was cleared" in err.value.msg
    assert forge.hooks[0].fingerprint is None
    assert forge.writes == ["update_hook", "test_hook", "update_hook"]


def test_failed_delivery_of_a_new_hook_removes_it():
    forge = MemoryForge(repo=True, delivery="failed")
    with pytest.raises(ForgeDeliveryError, match="removed again"):
        engine(forge, settings("platform", "infra", key=False, protection=False))[0].run()
    assert forge.hooks == []


def test_webhook_test_on_request_even_without_change():
    forge = MemoryForge(repo=True)
    s = settings("platform", "infra", key=False, protection=False)
    engine(forge, s)[0].run()
    forge.writes.clear()
    s.webhook_test = True
    result = engine(forge, s)[0].run()
    assert forge.writes == ["test_hook"] and result["changed"] is False


def test_key_file_generated_only_when_applying():
    calls = []

    def prepare():
        calls.append(1)
        return PUBLIC_KEY

    s = settings("platform", "infra", protection=False, webhook=None)
    s.deploy_key_public = None
    result = engine(MemoryForge(), s, check_mode=True, prepare_key=prepare)[0].run()
    assert calls == [] and result["deploy_key"]["fingerprint"] is None
    forge = MemoryForge()
    result = engine(forge, s, prepare_key=prepare)[0].run()
    assert calls == [1] and forge.keys[0].key == " ".join(PUBLIC_KEY.split()[:2])
    assert result["deploy_key"]["fingerprint"] == key_fingerprint(PUBLIC_KEY)


def test_visibility_mismatch_reported_never_changed():
    class Public(MemoryForge):
        def get_repo(self, owner, name):
            repo = super().get_repo(owner, name)
            repo.private = False
            return repo

    forge = Public(repo=True)
    run, warnings = engine(forge, settings("platform", "infra", key=False, webhook=None))
    result = run.run()
    assert result["mismatches"] == [{"setting": "visibility", "live": "public", "wanted": "private"}]
    assert any("never changed" in w for w in warnings)


def test_base_provider_is_abstract():
    with pytest.raises(NotImplementedError):
        base.ForgeProvider().whoami()


class RacedForge(MemoryForge):
    """Another run (a concurrent job slice) creates the repository, with its key and webhook, between
    this run's read and its create; the forge then refuses the create as a conflict."""

    def __init__(self, status=409, visible=True):
        super().__init__()
        self.status = status
        self.visible = visible

    def create_repo(self, owner, name, **kw):
        self.writes.append("create_repo refused")
        self.repo = True
        self.keys.append(DeployKey(1, "argocd", PUBLIC_KEY, True))
        self.hooks.append(Hook(1, "https://argocd.example.com/api/webhook", True, ["push"], fingerprint=None))
        self.admin = self.visible
        raise ForgeConflictError(f"POST /orgs/{owner}/repos: the memory forge refused the request (HTTP {self.status})",
                                 status=self.status)

    def get_repo(self, owner, name):
        if self.repo is not None and not self.visible:
            return None
        return super().get_repo(owner, name)


@pytest.mark.parametrize("status", [400, 409, 422])   # GitLab, Gitea, GitHub
def test_repository_created_meanwhile_by_another_run_is_adopted_and_planned_again(status):
    forge = RacedForge(status)
    s = settings("platform", "infra", webhook=None)
    result = engine(forge, s)[0].run()
    assert result["repository"]["created"] is False
    # planned again against what the other run made: its key is kept, not added twice
    assert forge.writes == ["create_repo refused", "put_protection"], forge.writes
    assert [k.title for k in forge.keys] == ["argocd"]
    assert result["changed"] is True


def test_create_refused_for_a_repository_the_token_cannot_see_is_the_forge_error():
    forge = RacedForge(409, visible=False)
    with pytest.raises(ForgeConflictError, match="HTTP 409"):
        engine(forge)[0].run()
    assert forge.writes == ["create_repo refused"]
