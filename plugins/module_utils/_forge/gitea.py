# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gitea provider (REST API ``/api/v1``, written against Gitea 1.26).

What the module's settings become on Gitea (see ``GiteaProvider.protection_mapping``):

- no direct pushes: ``enable_push: false``; with an allowlist, ``enable_push: true`` +
  ``enable_push_whitelist: true`` + ``push_whitelist_usernames`` / ``push_whitelist_teams``.
  Gitea keeps only allowlisted users and teams that have write access to the repository and
  drops the others silently, so the module checks that access first and refuses otherwise.
- N approvals: ``required_approvals`` (approvals of users with write access count);
  new commits dismiss them: ``dismiss_stale_approvals``.
- required checks: ``enable_status_check`` + ``status_check_contexts``.
- code owners' review: ``block_on_official_review_requests``. Gitea requests the review of the
  code owners (file ``CODEOWNERS``, ``docs/CODEOWNERS`` or ``.gitea/CODEOWNERS`` of the default
  branch) on every pull request; this setting blocks the merge while such a request is open.

Only one rule applies to a branch in Gitea: the first match by priority, a plain branch name
before patterns. The module manages the rule named after the branch; when a pattern rule
applied before, its settings seed ours, and ours gets the pattern's priority so that it wins.

Webhooks: Gitea's API cannot change the secret of an existing webhook, so a new secret means a
new webhook (created first, then the old one deleted). The secret's fingerprint is kept in the
webhook's name. Gitea's REST API does not report deliveries: the test delivery's outcome is
read from the webhook's settings page of the web UI, which needs the password of the token's
user (option ``gitea_web_password``); without it the outcome is reported as unknown.
"""

from __future__ import annotations

import html
import http.cookiejar
import re
import time
from urllib.parse import quote, urlencode

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import (
    PUSH_ALLOWLIST, PUSH_EVERYONE, PUSH_NOBODY, Delivery, Hook, HookSpec, Identity,
    Protection, RepoInfo, ReposProvider, branch_matches, find_fingerprint)
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeAPIError, ForgeAuthError, ForgeInputError, ForgeNotFoundError, ForgePermissionError, JsonClient, Masker,
    open_url_transport)

HOOK_NAME = "Argo CD"

# fields copied from a pattern rule into the branch's own rule
_SEED = {
    "enable_force_push", "enable_force_push_allowlist", "force_push_allowlist_usernames",
    "force_push_allowlist_teams", "force_push_allowlist_deploy_keys", "enable_merge_whitelist",
    "merge_whitelist_usernames", "merge_whitelist_teams", "enable_approvals_whitelist",
    "approvals_whitelist_username", "approvals_whitelist_teams", "block_on_rejected_reviews",
    "block_on_outdated_branch", "ignore_stale_approvals", "require_signed_commits",
    "protected_file_patterns", "unprotected_file_patterns", "block_admin_merge_override",
}


def split_api_url(api_url: str) -> tuple[str, str]:
    """(web root, API base) from either the server URL or its ``/api/v1`` URL."""
    root = api_url.rstrip("/")
    if root.endswith("/api/v1"):
        root = root[: -len("/api/v1")]
    return root, root + "/api/v1"


def _rule_order(rule: dict) -> tuple:
    name = rule.get("rule_name") or rule.get("branch_name") or ""
    plain = not any(c in name for c in "*?[{")
    return (rule.get("priority") or 0, 0 if plain else 1, rule.get("created_at") or "")


def normalise_rule(rule: dict, branch: str) -> Protection:
    name = rule.get("rule_name") or rule.get("branch_name") or ""
    users = list(rule.get("push_whitelist_usernames") or [])
    teams = list(rule.get("push_whitelist_teams") or [])
    keys = bool(rule.get("push_whitelist_deploy_keys"))
    if not rule.get("enable_push"):
        push = PUSH_NOBODY
    elif rule.get("enable_push_whitelist"):
        push = PUSH_ALLOWLIST if (users or teams or keys) else PUSH_NOBODY
    else:
        push = PUSH_EVERYONE
    if push != PUSH_ALLOWLIST:
        users, teams, keys = [], [], False
    return Protection(
        rule=name, direct_push=push, push_users=users, push_teams=teams,
        push_other=["deploy keys"] if keys else [],
        required_approvals=int(rule.get("required_approvals") or 0),
        dismiss_stale_approvals=bool(rule.get("dismiss_stale_approvals")),
        status_checks=list(rule.get("status_check_contexts") or []) if rule.get("enable_status_check") else [],
        code_owner_review=bool(rule.get("block_on_official_review_requests")),
        exact=(name == branch), ref=rule)


class GiteaProvider(ReposProvider):
    forge = "gitea"
    label = "Gitea"
    argocd_secret_key = "webhook.gogs.secret"
    admin_permission = "admin"
    webhook_ssl_setting = False
    page_size = ("limit", 50)         # Gitea's maximum
    protection_mapping = {
        "direct_push": "enable_push / enable_push_whitelist / push_whitelist_usernames / push_whitelist_teams",
        "required_approvals": "required_approvals",
        "dismiss_stale_approvals": "dismiss_stale_approvals",
        "required_status_checks": "enable_status_check / status_check_contexts",
        "code_owner_review": "block_on_official_review_requests (merge blocked while the review requested "
                             "from the code owners of CODEOWNERS, docs/CODEOWNERS or .gitea/CODEOWNERS is open)",
    }

    def __init__(self, api_url: str, token: str, *, timeout: float, masker: Masker, validate_certs: bool = True,
                 ca_path: str | None = None, transport=None, web_password: str | None = None,
                 web_transport=None, sleep=time.sleep):
        self.root, base = split_api_url(api_url)
        self.api = JsonClient(base, headers={"Authorization": f"token {token}"}, timeout=timeout, masker=masker,
                              transport=transport, validate_certs=validate_certs, ca_path=ca_path, what="Gitea")
        self.masker = masker
        self.timeout = timeout
        self.web_password = web_password
        self._web_transport = web_transport
        self._validate_certs, self._ca_path = validate_certs, ca_path
        self._me: Identity | None = None
        self._org_cache: dict[str, bool] = {}
        self.sleep = sleep

    # -- identity and repository ----------------------------------------------------

    def whoami(self) -> Identity:
        data = self.api.request("GET", "/user").data or {}
        self._me = Identity(data.get("login") or "", bool(data.get("is_admin")))
        return self._me

    def _is_empty(self, data: dict) -> bool:
        return bool(data.get("empty"))

    def _is_org(self, owner: str) -> bool | None:
        """True for an organisation, False for a user, None when neither exists."""
        if owner not in self._org_cache:
            resp = self.api.request("GET", f"/orgs/{quote(owner, safe='')}", allow=(404,))
            if resp.status == 200:
                self._org_cache[owner] = True
            else:
                resp = self.api.request("GET", f"/users/{quote(owner, safe='')}", allow=(404,))
                if resp.status == 404:
                    return None
                self._org_cache[owner] = False
        return self._org_cache[owner]

    def check_can_create(self, owner: str, me: Identity) -> None:
        if owner.lower() == me.login.lower():
            return
        kind = self._is_org(owner)
        if kind is None:
            raise ForgeNotFoundError(
                f"owner '{owner}' does not exist on Gitea at {self.root}: there is no user or organisation of "
                "that name. Create the organisation first, or fix the owner option. Nothing was changed.")
        if kind:
            perms = self.api.request(
                "GET", f"/users/{quote(me.login, safe='')}/orgs/{quote(owner, safe='')}/permissions").data or {}
            if not perms.get("can_create_repository"):
                raise ForgePermissionError(
                    f"'{me.login}' may not create repositories in the organisation '{owner}' (Gitea: not an owner, "
                    "and in no team with 'create repositories'). Create the repository first, or use a token of an "
                    "owner of the organisation. Nothing was changed.")
            return
        if not me.is_admin:
            raise ForgePermissionError(
                f"'{owner}' is another user: only a Gitea site administrator may create repositories for them, and "
                f"'{me.login}' is not one. Nothing was changed.")

    def create_repo(self, owner, name, *, private, default_branch, description, me) -> RepoInfo:
        body = {"name": name, "private": private, "default_branch": default_branch,
                "description": description or "", "auto_init": False}
        if owner.lower() == me.login.lower():
            path = "/user/repos"
        elif self._is_org(owner):
            path = f"/orgs/{quote(owner, safe='')}/repos"
        else:
            path = f"/admin/users/{quote(owner, safe='')}/repos"
        try:
            return self._repo(self.api.request("POST", path, body=body).data or {})
        except ForgeAPIError as exc:
            if exc.status == 409:
                raise ForgeAPIError(
                    f"{owner}/{name} already exists on Gitea but the token's user cannot see it; give "
                    f"'{me.login}' admin access to it (it is never recreated)", status=409) from exc
            raise

    # -- branch protection ------------------------------------------------------------

    def check_identities(self, repo, owner, users, teams) -> None:
        for user in users:
            if self.api.request("GET", f"/users/{quote(user, safe='')}", allow=(404,)).status == 404:
                raise ForgeInputError(f"push_allowlist_users: there is no Gitea user '{user}'. Nothing was changed.")
            if repo is None:
                continue
            perm = self.api.request(
                "GET", f"{self._repo_path(repo)}/collaborators/{quote(user, safe='')}/permission"
            ).data or {}
            if perm.get("permission") not in ("write", "admin", "owner"):
                raise ForgeInputError(
                    f"push_allowlist_users: '{user}' has {perm.get('permission') or 'no'} access to {repo.full_name}; "
                    "Gitea keeps only users with write access in a push allowlist (and drops others silently). "
                    f"Give '{user}' write access or remove it from the allowlist. Nothing was changed.")
        if not teams:
            return
        if not self._is_org(owner):
            raise ForgeInputError(
                f"push_allowlist_teams: '{owner}' is not an organisation; teams exist only in organisations")
        for team in teams:
            found = self.api.request("GET", f"/orgs/{quote(owner, safe='')}/teams/search",
                                     query={"q": team, "limit": 50}).data or {}
            names = [t.get("name", "").lower() for t in (found.get("data") or [])]
            if team.lower() not in names:
                raise ForgeInputError(f"push_allowlist_teams: organisation '{owner}' has no team '{team}'. "
                                      "Nothing was changed.")
            if repo is None:
                continue
            resp = self.api.request("GET", f"{self._repo_path(repo)}/teams/{quote(team, safe='')}",
                                    allow=(404,))
            team_data = (resp.data or {}) if resp.status == 200 else {}
            units = team_data.get("units_map") or {}
            perm = team_data.get("permission")
            if resp.status == 404 or not (perm in ("write", "admin", "owner")
                                          or units.get("repo.code") in ("write", "admin")):
                raise ForgeInputError(
                    f"push_allowlist_teams: team '{team}' has no write access to {repo.full_name}; Gitea keeps only "
                    "teams with write access in a push allowlist. Add the repository to the team with write access, "
                    "or remove the team from the allowlist. Nothing was changed.")

    def _rules(self, repo: RepoInfo) -> list[dict]:
        rules = self.api.request("GET", f"{self._repo_path(repo)}/branch_protections").data or []
        return sorted(rules, key=_rule_order)

    def get_protection(self, repo: RepoInfo, branch: str) -> Protection | None:
        rules = self._rules(repo)
        for rule in rules:
            if branch_matches(rule.get("rule_name") or rule.get("branch_name") or "", branch):
                return normalise_rule(rule, branch)
        return None

    def put_protection(self, repo: RepoInfo, branch: str, target: Protection, live: Protection | None) -> None:
        base = f"{self._repo_path(repo)}/branch_protections"
        body = {
            "enable_push": target.direct_push != PUSH_NOBODY,
            "enable_push_whitelist": target.direct_push == PUSH_ALLOWLIST,
            "push_whitelist_usernames": list(target.push_users) if target.direct_push == PUSH_ALLOWLIST else [],
            "push_whitelist_teams": list(target.push_teams) if target.direct_push == PUSH_ALLOWLIST else [],
            "push_whitelist_deploy_keys": "deploy keys" in target.push_other and target.direct_push == PUSH_ALLOWLIST,
            "required_approvals": target.required_approvals,
            "dismiss_stale_approvals": target.dismiss_stale_approvals,
            "enable_status_check": bool(target.status_checks),
            "status_check_contexts": list(target.status_checks),
            "block_on_official_review_requests": target.code_owner_review,
        }
        rules = self._rules(repo)
        exact = next((r for r in rules if (r.get("rule_name") or r.get("branch_name")) == branch), None)
        ahead = []
        for rule in rules:
            if rule is exact:
                break
            if branch_matches(rule.get("rule_name") or rule.get("branch_name") or "", branch):
                ahead.append(rule)
        if exact is not None:
            if ahead:
                body["priority"] = min(int(r.get("priority") or 0) for r in ahead)
            self.api.request("PATCH", f"{base}/{quote(branch, safe='')}", body=body)
            return
        seed = {k: v for k, v in ((live.ref or {}) if live is not None and live.ref else {}).items() if k in _SEED}
        create = dict(seed, **body, rule_name=branch)
        priority = min((int(r.get("priority") or 0) for r in ahead), default=None)
        if priority:
            create["priority"] = priority
        self.api.request("POST", base, body=create)
        if priority == 0:
            # a priority of 0 on creation means "after every rule"; set it afterwards
            self.api.request("PATCH", f"{base}/{quote(branch, safe='')}", body={"priority": 0})

    # -- deploy keys --------------------------------------------------------------------

    # deploy keys: ReposProvider

    # -- webhooks -----------------------------------------------------------------------

    def _hook(self, data: dict) -> Hook:
        config = data.get("config") or {}
        return Hook(id=data.get("id"), url=config.get("url") or "", active=bool(data.get("active")),
                    events=list(data.get("events") or []), content_type=config.get("content_type") or "",
                    fingerprint=find_fingerprint(data.get("name")), ssl_verify=None, raw=data)

    def list_hooks(self, repo: RepoInfo) -> list[Hook]:
        return [self._hook(h) for h in self._pages(f"{self._repo_path(repo)}/hooks") if h.get("type") in ("gitea", "gogs")]

    def _hook_name(self, fingerprint: str | None) -> str:
        return f"{HOOK_NAME} (secret {fingerprint})" if fingerprint else f"{HOOK_NAME} (secret not verified)"

    def create_hook(self, repo: RepoInfo, spec: HookSpec) -> Hook:
        body = {"type": "gitea", "active": True, "events": ["push"], "branch_filter": "*",
                "name": self._hook_name(spec.fingerprint),
                "config": {"url": spec.url, "content_type": "json", "secret": spec.secret, "http_method": "post"}}
        return self._hook(self.api.request("POST", f"{self._repo_path(repo)}/hooks", body=body).data
                          or {})

    def update_hook(self, repo: RepoInfo, hook: Hook, spec: HookSpec) -> Hook:
        if spec.fingerprint and spec.fingerprint != hook.fingerprint:
            # the API cannot change a webhook's secret: replace the webhook
            new = self.create_hook(repo, spec)
            self.delete_hook(repo, hook)
            return new
        events = sorted(set(hook.events) | {"push"})
        body = {"active": True, "events": events, "branch_filter": hook.raw.get("branch_filter") or "*",
                "name": self._hook_name(spec.fingerprint),
                "authorization_header": hook.raw.get("authorization_header") or "",
                "config": {"url": spec.url, "content_type": "json"}}
        return self._hook(self.api.request("PATCH", f"{self._repo_path(repo)}/hooks/{hook.id}",
                                           body=body).data or {})

    def test_hook(self, repo: RepoInfo, hook: Hook, wait: float) -> Delivery:
        web = self._web() if self.web_password else None
        seen = {d["uuid"] for d in web.history(repo, hook)} if web else set()
        fresh = self.get_repo(repo.owner, repo.name) or repo
        if web is not None:
            web.trigger(repo, hook)  # the web UI also tests empty repositories (with a placeholder commit)
        elif fresh.empty:
            return Delivery("skipped", event="push", message=(
                "the repository has no commit yet and Gitea's API sends no test delivery for an empty repository; "
                "the first push will be delivered (give gitea_web_password to test now)"))
        else:
            self.api.request("POST", f"{self._repo_path(repo)}/hooks/{hook.id}/tests")
        if web is None:
            return Delivery("unknown", event="push", message=(
                "the test delivery was queued; Gitea's REST API does not report deliveries, give "
                "gitea_web_password to read the outcome from the webhook's page of the web UI"))
        deadline = time.monotonic() + wait
        while True:
            new = [d for d in web.history(repo, hook) if d["uuid"] not in seen]
            done = [d for d in new if d["state"] != "pending"]
            if done:
                d = done[0]
                return Delivery("ok" if d["state"] == "ok" else "failed", d["status_code"], d["message"], "push",
                                d["uuid"])
            if time.monotonic() >= deadline:
                return Delivery("pending", event="push", message=(
                    f"Gitea had not delivered the test event after {wait:g} s (see the webhook's page in the web UI)"))
            self.sleep(0.5)

    def _web(self) -> "GiteaWeb":
        if self._me is None:
            self.whoami()
        return GiteaWeb(self.root, self._me.login, self.web_password, timeout=self.timeout, masker=self.masker,
                        transport=self._web_transport or open_url_transport(
                            self._validate_certs, self._ca_path, cookies=http.cookiejar.CookieJar()))


class GiteaWeb:
    """Signs in to Gitea's web UI to test a webhook and read its recent deliveries."""

    def __init__(self, root: str, login: str, password: str, *, timeout: float, masker: Masker, transport):
        self.root = root
        self.login = login
        self.password = password
        self.masker = masker
        self.client = JsonClient(root, headers={}, timeout=timeout, masker=masker, transport=transport,
                                 what="Gitea's web UI")
        self._signed_in = False

    def _send(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        data = urlencode(form).encode("ascii") if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        status, hdrs, raw = self.client.send(method, self.root + path, data, headers)
        return status, hdrs, raw.decode("utf-8", "replace")

    def sign_in(self) -> None:
        if self._signed_in:
            return
        status, hdrs, _body = self._send("POST", "/user/login", {"user_name": self.login, "password": self.password})
        location = hdrs.get("location", "")
        if status not in (302, 303) or "/user/login" in location:
            raise ForgeAuthError(
                f"Gitea's web UI did not accept the password of '{self.login}' (gitea_web_password); it is needed only "
                "to read webhook deliveries")
        if "change_password" in location:
            raise ForgeAuthError(f"Gitea asks '{self.login}' to change the password before the web UI can be used")
        self._signed_in = True

    def _hook_page(self, repo: RepoInfo) -> str:
        return f"/{quote(repo.owner, safe='')}/{quote(repo.name, safe='')}/settings/hooks"

    def trigger(self, repo: RepoInfo, hook: Hook) -> None:
        self.sign_in()
        status = self._send("POST", f"{self._hook_page(repo)}/{hook.id}/test", {})[0]
        if status >= 400:
            raise ForgeAPIError(f"Gitea's web UI refused the test delivery of webhook {hook.id} (HTTP {status})")

    def history(self, repo: RepoInfo, hook: Hook) -> list[dict]:
        self.sign_in()
        status, hdrs, text = self._send("GET", f"{self._hook_page(repo)}/{hook.id}")
        if status != 200:
            raise ForgeAPIError(f"cannot read the deliveries of webhook {hook.id} from Gitea's web UI (HTTP {status}"
                                f"{', redirected to ' + hdrs['location'] if 'location' in hdrs else ''})")
        return parse_deliveries(text)


_ITEM_RE = re.compile(r'data-panel="#info-(\d+)"[^>]*>\s*([0-9a-fA-F-]{36})\s*<')
_LABEL_RE = re.compile(r'<span class="ui (green|red) label">\s*(\d+)\s*</span>')
_PRE_RE = re.compile(r'<pre class="webhook-info">(.*?)</pre>', re.S)
_TAG_RE = re.compile(r"<[^>]+>")


def parse_deliveries(page: str) -> list[dict]:
    """Recent deliveries of Gitea's webhook settings page, newest first.

    Each item: ``uuid``, ``state`` (ok, failed or pending), ``status_code`` (None without an HTTP
    answer) and ``message`` (the response body, e.g. ``Delivery: dial tcp ...: connection refused``).
    """
    deliveries = []
    matches = list(_ITEM_RE.finditer(page))
    for i, match in enumerate(matches):
        task_id, uuid = match.group(1), match.group(2)
        start = page.rfind('<div class="item">', 0, match.start())
        head = page[start if start != -1 else max(0, match.start() - 400):match.start()]
        if "tw-text-green" in head:
            state = "ok"
        elif "tw-text-orange" in head:
            state = "pending"
        else:
            state = "failed"
        end = matches[i + 1].start() if i + 1 < len(matches) else len(page)
        block = page[match.end():end]
        label = _LABEL_RE.search(block)
        code = int(label.group(2)) if label and label.group(2) != "0" else None
        message = ""
        response = block.rfind(f'data-tab="response-{task_id}"')
        if response != -1:
            pres = _PRE_RE.findall(block[response:])
            if pres:
                message = html.unescape(_TAG_RE.sub("", pres[-1])).strip()[:500]
        deliveries.append({"uuid": uuid, "state": state, "status_code": code, "message": message})
    return deliveries
