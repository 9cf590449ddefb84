# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitHub provider (REST API, version 2022-11-28), written from GitHub's REST documentation.

Tested with recorded request and response pairs only; no live GitHub is used by the tests.

What the module's settings become on GitHub (``PUT /repos/{owner}/{repo}/branches/{branch}/protection``):

- no direct pushes: ``required_pull_request_reviews`` set (pull requests required) and
  ``enforce_admins: true`` (administrators too); the allowlist is
  ``required_pull_request_reviews.bypass_pull_request_allowances`` (users, teams), which GitHub
  offers on repositories of organisations only. A rule with ``enforce_admins: false`` lets
  administrators push directly: that is reported as a grant to "repository administrators".
- N approvals: ``required_approving_review_count`` (1 to 6); new commits dismiss them:
  ``dismiss_stale_reviews``.
- required checks: ``required_status_checks.checks`` (contexts; the ``app_id`` of a live check
  and ``strict`` are kept).
- code owners' review: ``require_code_owner_reviews``.

The PUT replaces the whole protection, so every setting the module does not manage is copied
from the live protection (restrictions, linear history, force pushes, deletions, conversation
resolution, last-push approval, dismissal restrictions, lock).

GitHub protects only branches that exist: a repository the module creates is empty, and its
protection is deferred (reported) until the first push. Webhooks are tested with a ``ping``
event (which Argo CD accepts and verifies); the outcome is read from the hook's deliveries.
The secret's fingerprint is kept in the query parameter ``gitops_secret`` of the delivery URL.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import (
    PUSH_ALLOWLIST, PUSH_EVERYONE, PUSH_NOBODY, Delivery, Hook, HookSpec, Identity,
    Protection, RepoInfo, ReposProvider, find_fingerprint)
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeAPIError, ForgeInputError, ForgeNotFoundError, ForgePermissionError, JsonClient, Masker)

FP_PARAM = "gitops_secret"
ADMINS = "repository administrators"


def split_fingerprint(url: str) -> tuple[str, str | None]:
    """The delivery URL without our fingerprint parameter, and the fingerprint."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    fingerprint = None
    kept = []
    for key, value in query:
        if key == FP_PARAM:
            fingerprint = find_fingerprint(value)
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), fingerprint


def with_fingerprint(url: str, fingerprint: str | None) -> str:
    base = split_fingerprint(url)[0]
    if not fingerprint:
        return base
    parts = urlsplit(base)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(FP_PARAM, fingerprint)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _logins(items) -> list[str]:
    return [i.get("login") for i in items or [] if i.get("login")]


def _slugs(items) -> list[str]:
    return [i.get("slug") for i in items or [] if i.get("slug")]


def _enabled(data: dict, key: str) -> bool:
    value = data.get(key)
    return bool(value.get("enabled")) if isinstance(value, dict) else bool(value)


def normalise_protection(data: dict, branch: str) -> Protection:
    reviews = data.get("required_pull_request_reviews")
    restrictions = data.get("restrictions") or None
    checks = data.get("required_status_checks") or {}
    contexts = [c.get("context") for c in checks.get("checks") or []] or list(checks.get("contexts") or [])
    if reviews is None:
        if restrictions:
            push, users, teams = PUSH_ALLOWLIST, _logins(restrictions.get("users")), _slugs(restrictions.get("teams"))
            other = [f"app {a.get('slug')}" for a in restrictions.get("apps") or []]
        else:
            push, users, teams, other = PUSH_EVERYONE, [], [], []
        approvals, stale, owners = 0, False, False
    else:
        bypass = reviews.get("bypass_pull_request_allowances") or {}
        users, teams = _logins(bypass.get("users")), _slugs(bypass.get("teams"))
        other = [f"app {a.get('slug')}" for a in bypass.get("apps") or []]
        if not _enabled(data, "enforce_admins"):
            other.append(ADMINS)
        push = PUSH_ALLOWLIST if (users or teams or other) else PUSH_NOBODY
        approvals = int(reviews.get("required_approving_review_count") or 0)
        stale = bool(reviews.get("dismiss_stale_reviews"))
        owners = bool(reviews.get("require_code_owner_reviews"))
    return Protection(rule=branch, direct_push=push, push_users=users, push_teams=teams, push_other=other,
                      required_approvals=approvals, dismiss_stale_approvals=stale, status_checks=contexts,
                      code_owner_review=owners, exact=True, ref=data)


class GitHubProvider(ReposProvider):
    forge = "github"
    label = "GitHub"
    argocd_secret_key = "webhook.github.secret"
    admin_permission = "admin"
    protection_mapping = {
        "direct_push": "required_pull_request_reviews + enforce_admins; allowlist: "
                       "bypass_pull_request_allowances (organisation repositories only)",
        "required_approvals": "required_pull_request_reviews.required_approving_review_count",
        "dismiss_stale_approvals": "required_pull_request_reviews.dismiss_stale_reviews",
        "required_status_checks": "required_status_checks.checks",
        "code_owner_review": "required_pull_request_reviews.require_code_owner_reviews",
    }

    def __init__(self, api_url: str, token: str, *, timeout: float, masker: Masker, validate_certs: bool = True,
                 ca_path: str | None = None, transport=None, sleep=time.sleep):
        self.api = JsonClient(api_url, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"}, timeout=timeout, masker=masker, transport=transport,
            validate_certs=validate_certs, ca_path=ca_path, what="GitHub")
        self.sleep = sleep
        self._owner_type: dict[str, str | None] = {}

    def whoami(self) -> Identity:
        data = self.api.request("GET", "/user").data or {}
        return Identity(data.get("login") or "", bool(data.get("site_admin")))

    def _is_empty(self, data: dict) -> bool:
        return int(data.get("size") or 0) == 0

    def _type(self, owner: str) -> str | None:
        if owner not in self._owner_type:
            resp = self.api.request("GET", f"/users/{quote(owner, safe='')}", allow=(404,))
            self._owner_type[owner] = None if resp.status == 404 else (resp.data or {}).get("type")
        return self._owner_type[owner]

    def check_can_create(self, owner: str, me: Identity) -> None:
        if owner.lower() == me.login.lower():
            return
        kind = self._type(owner)
        if kind is None:
            raise ForgeNotFoundError(
                f"owner '{owner}' does not exist on GitHub: there is no user or organisation of that name. "
                "Nothing was changed.")
        if kind != "Organization":
            raise ForgePermissionError(
                f"'{owner}' is another user's account: GitHub lets nobody else create repositories there. "
                "Nothing was changed.")
        resp = self.api.request("GET", f"/user/memberships/orgs/{quote(owner, safe='')}", allow=(403, 404))
        membership = (resp.data or {}) if resp.status == 200 else {}
        if membership.get("state") != "active":
            raise ForgePermissionError(
                f"'{me.login}' is not an active member of the organisation '{owner}' (or the token lacks the "
                "read:org scope), so it cannot create the repository there. Nothing was changed.")
        if membership.get("role") == "admin":
            return
        org = self.api.request("GET", f"/orgs/{quote(owner, safe='')}").data or {}
        if org.get("members_can_create_private_repositories") is False or org.get("members_can_create_repositories") is False:
            raise ForgePermissionError(
                f"members of '{owner}' may not create private repositories and '{me.login}' is not an owner; "
                "create the repository first or use an owner's token. Nothing was changed.")

    def create_repo(self, owner, name, *, private, default_branch, description, me) -> RepoInfo:
        body = {"name": name, "private": private, "description": description or "", "auto_init": False}
        path = "/user/repos" if owner.lower() == me.login.lower() else f"/orgs/{quote(owner, safe='')}/repos"
        try:
            return self._repo(self.api.request("POST", path, body=body).data or {})
        except ForgeAPIError as exc:
            if exc.status == 422 and "already exists" in exc.msg:
                raise ForgeAPIError(
                    f"{owner}/{name} already exists on GitHub but the token cannot see it; give '{me.login}' admin "
                    "access to it (it is never recreated)", status=422) from exc
            raise

    # -- branch protection ------------------------------------------------------------

    def check_identities(self, repo, owner, users, teams) -> None:
        if (users or teams) and self._type(owner) != "Organization":
            raise ForgeInputError(
                "push_allowlist_users and push_allowlist_teams need a repository of an organisation on GitHub "
                "(bypass lists are not offered for personal repositories). Nothing was changed.")
        for user in users:
            if self.api.request("GET", f"/users/{quote(user, safe='')}", allow=(404,)).status == 404:
                raise ForgeInputError(f"push_allowlist_users: there is no GitHub user '{user}'. Nothing was changed.")
        for team in teams:
            if self.api.request("GET", f"/orgs/{quote(owner, safe='')}/teams/{quote(team, safe='')}",
                                allow=(404,)).status == 404:
                raise ForgeInputError(f"push_allowlist_teams: organisation '{owner}' has no team with the slug "
                                      f"'{team}'. Nothing was changed.")

    def protection_blocker(self, repo: RepoInfo | None, branch: str) -> str | None:
        if repo is None:
            return (f"GitHub protects only existing branches and the new repository is empty; run again after the "
                    f"first push of '{branch}'")
        resp = self.api.request("GET", f"{self._repo_path(repo)}/branches/{quote(branch, safe='')}", allow=(404,))
        if resp.status == 404:
            return f"branch '{branch}' does not exist yet on GitHub; run again after its first push"
        return None

    def get_protection(self, repo: RepoInfo, branch: str) -> Protection | None:
        resp = self.api.request("GET", f"{self._repo_path(repo)}/branches/{quote(branch, safe='')}/protection",
                                allow=(404,))
        if resp.status == 404:
            return None
        return normalise_protection(resp.data or {}, branch)

    def constrain(self, target: Protection) -> Protection:
        if target.direct_push == PUSH_EVERYONE:
            # without required pull requests GitHub has no approvals to count
            target.required_approvals, target.dismiss_stale_approvals, target.code_owner_review = 0, False, False
        elif target.required_approvals > 6:
            raise ForgeInputError("GitHub accepts at most 6 required approvals")
        return target

    def put_protection(self, repo: RepoInfo, branch: str, target: Protection, live: Protection | None) -> None:
        raw = (live.ref if live is not None else None) or {}
        live_checks = (raw.get("required_status_checks") or {})
        app_ids = {c.get("context"): c.get("app_id") for c in live_checks.get("checks") or []}
        checks = None
        if target.status_checks:
            checks = {"strict": bool(live_checks.get("strict")),
                      "checks": [{"context": c, **({"app_id": app_ids[c]} if app_ids.get(c) else {})}
                                 for c in target.status_checks]}
        reviews = None
        if target.direct_push != PUSH_EVERYONE:
            live_reviews = raw.get("required_pull_request_reviews") or {}
            reviews = {
                "dismiss_stale_reviews": target.dismiss_stale_approvals,
                "require_code_owner_reviews": target.code_owner_review,
                "required_approving_review_count": target.required_approvals,
                "require_last_push_approval": bool(live_reviews.get("require_last_push_approval")),
                "bypass_pull_request_allowances": {
                    "users": list(target.push_users), "teams": list(target.push_teams),
                    "apps": [o[4:] for o in target.push_other if o.startswith("app ")]},
            }
            dismissal = live_reviews.get("dismissal_restrictions")
            if dismissal:
                reviews["dismissal_restrictions"] = {"users": _logins(dismissal.get("users")),
                                                     "teams": _slugs(dismissal.get("teams")),
                                                     "apps": [a.get("slug") for a in dismissal.get("apps") or []]}
        restrictions = raw.get("restrictions")
        body = {
            "required_status_checks": checks,
            "enforce_admins": ADMINS not in target.push_other,
            "required_pull_request_reviews": reviews,
            "restrictions": {"users": _logins(restrictions.get("users")), "teams": _slugs(restrictions.get("teams")),
                             "apps": [a.get("slug") for a in restrictions.get("apps") or []]} if restrictions else None,
        }
        for key in ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
                    "required_conversation_resolution", "lock_branch", "allow_fork_syncing"):
            if key in raw:
                body[key] = _enabled(raw, key)
        try:
            self.api.request("PUT", f"{self._repo_path(repo)}/branches/{quote(branch, safe='')}/protection", body=body)
        except ForgePermissionError as exc:
            raise ForgePermissionError(
                f"{exc.msg}. GitHub offers branch protection on private repositories only with GitHub Pro, Team or "
                "Enterprise; on other plans make the repository public or upgrade", status=exc.status) from exc

    # -- deploy keys --------------------------------------------------------------------

    # deploy keys: ReposProvider

    # -- webhooks -----------------------------------------------------------------------

    def _hook(self, data: dict) -> Hook:
        config = data.get("config") or {}
        url, fingerprint = split_fingerprint(config.get("url") or "")
        return Hook(id=data.get("id"), url=url, active=bool(data.get("active")), events=list(data.get("events") or []),
                    content_type=config.get("content_type") or "form", fingerprint=fingerprint,
                    ssl_verify=str(config.get("insecure_ssl", "0")) == "0", raw=data)

    def list_hooks(self, repo: RepoInfo) -> list[Hook]:
        return [self._hook(h) for h in self._pages(f"{self._repo_path(repo)}/hooks") if h.get("name") == "web"]

    def _config(self, spec: HookSpec) -> dict:
        return {"url": with_fingerprint(spec.url, spec.fingerprint), "content_type": "json", "secret": spec.secret,
                "insecure_ssl": "0" if spec.ssl_verify else "1"}

    def create_hook(self, repo: RepoInfo, spec: HookSpec) -> Hook:
        body = {"name": "web", "active": True, "events": ["push"], "config": self._config(spec)}
        return self._hook(self.api.request("POST", f"{self._repo_path(repo)}/hooks", body=body).data or {})

    def update_hook(self, repo: RepoInfo, hook: Hook, spec: HookSpec) -> Hook:
        body = {"active": True, "events": sorted(set(hook.events) | {"push"}), "config": self._config(spec)}
        return self._hook(self.api.request("PATCH", f"{self._repo_path(repo)}/hooks/{hook.id}", body=body).data or {})

    def _deliveries(self, repo: RepoInfo, hook: Hook) -> list[dict]:
        return self.api.request("GET", f"{self._repo_path(repo)}/hooks/{hook.id}/deliveries",
                                query={"per_page": 30}).data or []

    def test_hook(self, repo: RepoInfo, hook: Hook, wait: float) -> Delivery:
        seen = {d.get("id") for d in self._deliveries(repo, hook)}
        self.api.request("POST", f"{self._repo_path(repo)}/hooks/{hook.id}/pings")
        deadline = time.monotonic() + wait
        while True:
            new = [d for d in self._deliveries(repo, hook) if d.get("id") not in seen and d.get("event") == "ping"]
            if new:
                d = new[0]
                code = d.get("status_code") or None
                ok = code is not None and 200 <= int(code) < 300
                return Delivery("ok" if ok else "failed", code, d.get("status") or "", "ping", d.get("id"))
            if time.monotonic() >= deadline:
                return Delivery("pending", event="ping",
                                message=f"GitHub had not recorded the ping delivery after {wait:g} s")
            self.sleep(1.0)
