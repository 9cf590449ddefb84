# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab provider (REST API v4), written from GitLab's REST documentation.

Tested with recorded request and response pairs only; no live GitLab is used by the tests.

What the module's settings become on GitLab:

- no direct pushes: the protected branch's ``push_access_levels`` hold only "No one"
  (``access_level: 0``); with an allowlist, ``{user_id}`` and ``{group_id}`` entries (GitLab
  Premium). Live entries for Developers (30) mean everyone with write access may push; entries
  for Maintainers (40), administrators (60) or deploy keys are grants beyond the allowlist.
- N approvals: a project approval rule named ``gitops.bootstrap`` scoped to the protected
  branch (``approvals_required``, GitLab Premium); approvals are reset by new commits with the
  project setting ``reset_approvals_on_push``.
- required checks: GitLab cannot require checks by name; any entry turns on the project
  setting ``only_allow_merge_if_pipeline_succeeds`` and is reported as ``pipeline``.
- code owners' review: ``code_owner_approval_required`` of the protected branch (Premium).

Merges stay with Maintainers (GitLab's default ``merge_access_level`` 40) on a branch the
module protects. The secret's fingerprint is kept in the webhook's description; a test
delivery is a ``push_events`` test, read back from the webhook's events (GitLab 17.3+).
"""

from __future__ import annotations

import time
from urllib.parse import quote

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import (
    PUSH_ALLOWLIST, PUSH_EVERYONE, PUSH_NOBODY, Delivery, DeployKey, ForgeProvider, Hook, HookSpec, Identity,
    Protection, RepoInfo, find_fingerprint)
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeAPIError, ForgeConflictError, ForgeInputError, ForgeNotFoundError, ForgePermissionError, JsonClient,
    Masker)

RULE_NAME = "gitops.bootstrap"
PIPELINE = "pipeline"
MAINTAINER = 40
DEVELOPER = 30


def split_api_url(api_url: str) -> str:
    base = api_url.rstrip("/")
    return base if base.endswith("/api/v4") else base + "/api/v4"


def _pid(owner: str, name: str) -> str:
    return quote(f"{owner}/{name}", safe="")


class GitLabProvider(ForgeProvider):
    forge = "gitlab"
    label = "GitLab"
    argocd_secret_key = "webhook.gitlab.secret"
    admin_permission = "Maintainer role"
    protection_mapping = {
        "direct_push": "protected branch push_access_levels (No one; users and groups need Premium)",
        "required_approvals": f"project approval rule '{RULE_NAME}' approvals_required (Premium)",
        "dismiss_stale_approvals": "project approvals setting reset_approvals_on_push",
        "required_status_checks": "project setting only_allow_merge_if_pipeline_succeeds (checks are not "
                                  "required by name on GitLab)",
        "code_owner_review": "protected branch code_owner_approval_required (Premium)",
    }

    def __init__(self, api_url: str, token: str, *, timeout: float, masker: Masker, validate_certs: bool = True,
                 ca_path: str | None = None, transport=None, sleep=time.sleep):
        self.api = JsonClient(split_api_url(api_url), headers={"PRIVATE-TOKEN": token}, timeout=timeout,
                              masker=masker, transport=transport, validate_certs=validate_certs, ca_path=ca_path,
                              what="GitLab")
        self.sleep = sleep
        self._me: dict = {}
        self._names: dict[tuple[str, int], str] = {}
        self._rules: list[dict] = []

    # -- identity and repository ----------------------------------------------------

    def whoami(self) -> Identity:
        self._me = self.api.request("GET", "/user").data or {}
        return Identity(self._me.get("username") or "", bool(self._me.get("is_admin")))

    def _repo(self, data: dict) -> RepoInfo:
        perms = data.get("permissions") or {}
        levels = [(perms.get(k) or {}).get("access_level") or 0 for k in ("project_access", "group_access")]
        level = max(levels)
        return RepoInfo(
            owner=(data.get("namespace") or {}).get("full_path") or "", name=data.get("path") or "",
            full_name=data.get("path_with_namespace") or "", private=data.get("visibility") == "private",
            default_branch=data.get("default_branch") or "main", empty=bool(data.get("empty_repo")),
            admin=level >= MAINTAINER or bool(self._me.get("is_admin")), push=level >= DEVELOPER,
            html_url=data.get("web_url") or "", clone_url=data.get("http_url_to_repo") or "",
            ssh_url=data.get("ssh_url_to_repo") or "", id=data.get("id"), raw=data)

    def get_repo(self, owner: str, name: str) -> RepoInfo | None:
        resp = self.api.request("GET", f"/projects/{_pid(owner, name)}", allow=(404,))
        return None if resp.status == 404 else self._repo(resp.data or {})

    def _namespace(self, owner: str) -> dict | None:
        resp = self.api.request("GET", f"/namespaces/{quote(owner, safe='')}", allow=(404,))
        return None if resp.status == 404 else resp.data or {}

    def check_can_create(self, owner: str, me: Identity) -> None:
        ns = self._namespace(owner)
        if ns is None:
            raise ForgeNotFoundError(
                f"owner '{owner}' does not exist on GitLab: there is no user or group namespace with that path. "
                "Create the group first, or fix the owner option. Nothing was changed.")
        if ns.get("kind") == "user":
            if owner.lower() == me.login.lower():
                if self._me.get("can_create_project") is False:
                    raise ForgePermissionError(f"'{me.login}' may not create projects (project limit reached). "
                                               "Nothing was changed.")
                return
            if not me.is_admin:
                raise ForgePermissionError(f"'{owner}' is another user's namespace: only a GitLab administrator may "
                                           "create projects there. Nothing was changed.")
            return
        group = self.api.request("GET", f"/groups/{ns.get('id')}").data or {}
        need = {"noone": 10 ** 6, "owner": 50, "maintainer": MAINTAINER, "developer": DEVELOPER}.get(
            group.get("project_creation_level") or "maintainer", MAINTAINER)
        member = self.api.request("GET", f"/groups/{ns.get('id')}/members/all/{self._me.get('id')}", allow=(404,))
        level = ((member.data or {}).get("access_level") or 0) if member.status == 200 else 0
        if not me.is_admin and level < need:
            raise ForgePermissionError(
                f"'{me.login}' may not create projects in the group '{owner}' (its role there is "
                f"{level or 'none'}; the group allows project creation from role {need}). Nothing was changed.")

    def create_repo(self, owner, name, *, private, default_branch, description, me) -> RepoInfo:
        ns = self._namespace(owner) or {}
        body = {"name": name, "path": name, "visibility": "private" if private else "public",
                "default_branch": default_branch, "description": description or "",
                "initialize_with_readme": False}
        if ns.get("kind") == "user" and owner.lower() != me.login.lower():
            user = self.api.request("GET", "/users", query={"username": owner}).data or []
            path = f"/projects/user/{user[0]['id']}" if user else "/projects"
        else:
            body["namespace_id"] = ns.get("id")
            path = "/projects"
        return self._repo(self.api.request("POST", path, body=body).data or {})

    # -- identities -----------------------------------------------------------------------

    def _user_id(self, username: str) -> int:
        found = self.api.request("GET", "/users", query={"username": username}).data or []
        if not found:
            raise ForgeInputError(f"push_allowlist_users: there is no GitLab user '{username}'. Nothing was changed.")
        return found[0]["id"]

    def _group_id(self, path: str) -> int:
        resp = self.api.request("GET", f"/groups/{quote(path, safe='')}", allow=(404,))
        if resp.status == 404:
            raise ForgeInputError(f"push_allowlist_teams: there is no GitLab group '{path}'. Nothing was changed.")
        return (resp.data or {})["id"]

    def check_identities(self, repo, owner, users, teams) -> None:
        for user in users:
            self._user_id(user)
        for team in teams:
            self._group_id(team)

    def _name_of(self, kind: str, ident: int) -> str:
        key = (kind, ident)
        if key not in self._names:
            if kind == "user":
                self._names[key] = (self.api.request("GET", f"/users/{ident}").data or {}).get("username") or str(ident)
            else:
                self._names[key] = (self.api.request("GET", f"/groups/{ident}").data or {}).get("full_path") or str(ident)
        return self._names[key]

    # -- branch protection ------------------------------------------------------------

    def _approval_rules(self, repo: RepoInfo) -> list[dict]:
        try:
            return self.api.get_pages(f"/projects/{repo.id}/approval_rules")
        except (ForgePermissionError, ForgeNotFoundError) as exc:
            raise ForgeInputError(
                f"GitLab did not give the approval rules of {repo.full_name} ({exc.msg}); required approvals need "
                "GitLab Premium or Ultimate (merge request approval rules). Nothing was changed.") from exc

    def get_protection(self, repo: RepoInfo, branch: str) -> Protection | None:
        resp = self.api.request("GET", f"/projects/{repo.id}/protected_branches/{quote(branch, safe='')}",
                                allow=(404,))
        rules = self._approval_rules(repo)
        self._rules = rules
        if resp.status == 404:
            return None
        pb = resp.data or {}
        users, teams, other, push = [], [], [], PUSH_NOBODY
        for level in pb.get("push_access_levels") or []:
            if level.get("user_id"):
                users.append(self._name_of("user", level["user_id"]))
            elif level.get("group_id"):
                teams.append(self._name_of("group", level["group_id"]))
            elif level.get("deploy_key_id"):
                other.append(f"deploy key {level['deploy_key_id']}")
            elif (level.get("access_level") or 0) == DEVELOPER:
                push = PUSH_EVERYONE
            elif (level.get("access_level") or 0) >= MAINTAINER:
                other.append("maintainers" if level["access_level"] == MAINTAINER else "administrators")
        if push != PUSH_EVERYONE and (users or teams or other):
            push = PUSH_ALLOWLIST
        if push == PUSH_EVERYONE:
            users, teams, other = [], [], []
        approvals = 0
        for rule in rules:
            branches = [b.get("name") for b in rule.get("protected_branches") or []]
            if rule.get("applies_to_all_protected_branches") or not branches or branch in branches:
                approvals = max(approvals, int(rule.get("approvals_required") or 0))
        settings = self.api.request("GET", f"/projects/{repo.id}/approvals").data or {}
        project = self.api.request("GET", f"/projects/{repo.id}").data or {}
        return Protection(
            rule=pb.get("name") or branch, direct_push=push, push_users=users, push_teams=teams, push_other=other,
            required_approvals=approvals, dismiss_stale_approvals=bool(settings.get("reset_approvals_on_push")),
            status_checks=[PIPELINE] if project.get("only_allow_merge_if_pipeline_succeeds") else [],
            code_owner_review=bool(pb.get("code_owner_approval_required")), exact=True,
            ref={"protected_branch": pb, "rules": rules})

    def constrain(self, target: Protection) -> Protection:
        target.status_checks = [PIPELINE] if target.status_checks else []
        return target

    def _push_entries(self, target: Protection) -> list[dict]:
        if target.direct_push == PUSH_EVERYONE:
            return [{"access_level": DEVELOPER}]
        entries = [{"user_id": self._user_id(u)} for u in target.push_users]
        entries += [{"group_id": self._group_id(t)} for t in target.push_teams]
        for grant in target.push_other:
            if grant == "maintainers":
                entries.append({"access_level": MAINTAINER})
            elif grant == "administrators":
                entries.append({"access_level": 60})
            elif grant.startswith("deploy key "):
                entries.append({"deploy_key_id": int(grant.split()[-1])})
        return entries or [{"access_level": 0}]

    def put_protection(self, repo: RepoInfo, branch: str, target: Protection, live: Protection | None) -> None:
        base = f"/projects/{repo.id}/protected_branches"
        wanted = self._push_entries(target)
        if live is None:
            body = {"name": branch, "merge_access_level": MAINTAINER, "allow_force_push": False,
                    "code_owner_approval_required": target.code_owner_review}
            if wanted == [{"access_level": 0}]:
                body["push_access_level"] = 0
            else:
                body["allowed_to_push"] = wanted
            pb = self.api.request("POST", base, body=body).data or {}
            rules = self._rules
        else:
            pb = (live.ref or {}).get("protected_branch") or {}
            rules = (live.ref or {}).get("rules") or []
            current = pb.get("push_access_levels") or []

            def key(entry: dict) -> tuple:
                for field in ("user_id", "group_id", "deploy_key_id"):
                    if entry.get(field):
                        return (field, entry[field])
                return ("access_level", entry.get("access_level") or 0)

            have = {key(e): e for e in current}
            want_keys = {key(e) for e in wanted}
            changes = [{"id": e["id"], "_destroy": True} for k, e in have.items() if k not in want_keys]
            changes += [e for e in wanted if key(e) not in have]
            body = {"code_owner_approval_required": target.code_owner_review}
            if changes:
                body["allowed_to_push"] = changes
            pb = self.api.request("PATCH", f"{base}/{quote(branch, safe='')}", body=body).data or pb
        ours = next((r for r in rules if r.get("name") == RULE_NAME), None)
        rule = {"name": RULE_NAME, "approvals_required": target.required_approvals,
                "protected_branch_ids": [pb.get("id")] if pb.get("id") else []}
        if ours is None:
            self.api.request("POST", f"/projects/{repo.id}/approval_rules", body=rule)
        elif int(ours.get("approvals_required") or 0) != target.required_approvals:
            self.api.request("PUT", f"/projects/{repo.id}/approval_rules/{ours['id']}", body=rule)
        if target.dismiss_stale_approvals and not (live and live.dismiss_stale_approvals):
            self.api.request("POST", f"/projects/{repo.id}/approvals", body={"reset_approvals_on_push": True})
        if target.status_checks and not (live and live.status_checks):
            self.api.request("PUT", f"/projects/{repo.id}", body={"only_allow_merge_if_pipeline_succeeds": True})

    # -- deploy keys --------------------------------------------------------------------

    def list_deploy_keys(self, repo: RepoInfo) -> list[DeployKey]:
        items = self.api.get_pages(f"/projects/{repo.id}/deploy_keys")
        return [DeployKey(k.get("id"), k.get("title") or "", k.get("key") or "", not k.get("can_push")) for k in items]

    def add_deploy_key(self, repo: RepoInfo, title: str, key: str) -> DeployKey:
        data = self.api.request("POST", f"/projects/{repo.id}/deploy_keys",
                                body={"title": title, "key": key, "can_push": False}).data or {}
        return DeployKey(data.get("id"), data.get("title") or title, data.get("key") or key, not data.get("can_push"))

    def delete_deploy_key(self, repo: RepoInfo, key: DeployKey) -> None:
        self.api.request("DELETE", f"/projects/{repo.id}/deploy_keys/{key.id}", allow=(404,))

    # -- webhooks -----------------------------------------------------------------------

    def _hook(self, data: dict) -> Hook:
        alert = data.get("alert_status")
        return Hook(id=data.get("id"), url=data.get("url") or "", active=alert in (None, "executable"),
                    events=["push"] if data.get("push_events") else [], content_type="json",
                    fingerprint=find_fingerprint(data.get("description")),
                    ssl_verify=bool(data.get("enable_ssl_verification", True)), raw=data)

    def list_hooks(self, repo: RepoInfo) -> list[Hook]:
        return [self._hook(h) for h in self.api.get_pages(f"/projects/{repo.id}/hooks")]

    def _body(self, spec: HookSpec) -> dict:
        description = f"Argo CD (secret {spec.fingerprint})" if spec.fingerprint else "Argo CD (secret not verified)"
        return {"url": spec.url, "token": spec.secret, "push_events": True, "tag_push_events": True,
                "enable_ssl_verification": spec.ssl_verify, "name": "Argo CD", "description": description}

    def create_hook(self, repo: RepoInfo, spec: HookSpec) -> Hook:
        return self._hook(self.api.request("POST", f"/projects/{repo.id}/hooks", body=self._body(spec)).data or {})

    def update_hook(self, repo: RepoInfo, hook: Hook, spec: HookSpec) -> Hook:
        return self._hook(self.api.request("PUT", f"/projects/{repo.id}/hooks/{hook.id}",
                                           body=self._body(spec)).data or {})

    def delete_hook(self, repo: RepoInfo, hook: Hook) -> None:
        self.api.request("DELETE", f"/projects/{repo.id}/hooks/{hook.id}", allow=(404,))

    def test_hook(self, repo: RepoInfo, hook: Hook, wait: float) -> Delivery:
        events_path = f"/projects/{repo.id}/hooks/{hook.id}/events"
        seen = {e.get("id") for e in self.api.request("GET", events_path, allow=(404,)).data or []
                if isinstance(e, dict)}
        try:
            self.api.request("POST", f"/projects/{repo.id}/hooks/{hook.id}/test/push_events")
        except ForgeConflictError as exc:
            if "commit" in exc.msg.lower():
                return Delivery("skipped", event="push", message=(
                    "the project has no commit yet, so GitLab sends no test push; the first push will be delivered"))
            return Delivery("failed", None, exc.msg, "push")
        except ForgeAPIError as exc:
            if exc.status == 429:
                return Delivery("unknown", event="push", message="GitLab rate-limited the test delivery; try later")
            raise
        deadline = time.monotonic() + wait
        while True:
            resp = self.api.request("GET", events_path, allow=(404,))
            if resp.status == 404:
                return Delivery("ok", event="push", message="GitLab accepted the test; it keeps no event log "
                                "before 17.3")
            new = [e for e in resp.data or [] if isinstance(e, dict) and e.get("id") not in seen]
            if new:
                event = max(new, key=lambda e: e.get("id") or 0)
                raw = str(event.get("response_status") or "")
                code = int(raw) if raw.isdigit() else None
                ok = code is not None and 200 <= code < 300
                return Delivery("ok" if ok else "failed", code, raw if not ok else "", "push", event.get("id"))
            if time.monotonic() >= deadline:
                return Delivery("ok", event="push", message=(
                    f"GitLab accepted the test, and had not logged the event after {wait:g} s"))
            self.sleep(1.0)
