# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider interface, normalised forge objects and the desired-state engine.

The provider interface (:class:`ForgeProvider`; ``runner.build_provider`` makes the one of a
forge: ``GiteaProvider``, ``GitHubProvider``, ``GitLabProvider``). Every method raises a
``ForgeError`` subclass of ``http`` on failure (``ForgeInputError`` before any call for input
that cannot work, ``ForgeNotFoundError``, ``ForgeAuthError``, ``ForgePermissionError``,
``ForgeUnreachableError``, ``ForgeAPIError``); every call has the provider's bounded timeout,
and messages never hold the token.

Repository settings (``forge_repository``)::

    whoami() -> Identity
    get_repo(owner, name) -> RepoInfo | None
    check_can_create(owner, me) ; create_repo(owner, name, *, private, default_branch, description, me) -> RepoInfo
    check_identities(repo, owner, users, teams) ; protection_blocker(repo, branch) -> str | None
    get_protection(repo, branch) -> Protection | None ; constrain(target) -> Protection
    put_protection(repo, branch, target, live)
    list_deploy_keys(repo) ; add_deploy_key(repo, title, key) ; delete_deploy_key(repo, key)
    list_hooks(repo) ; create_hook(repo, spec) ; update_hook(repo, hook, spec) ; delete_hook(repo, hook)
    test_hook(repo, hook, wait) -> Delivery

Pull requests, for a plan pipeline (GitLab: merge requests and their notes; ``repo`` is the
``RepoInfo`` of ``get_repo``; the objects are defined in ``pulls``)::

    get_pull_request(repo, number: int) -> PullRequest
        number, url, state (open | merged | closed), head (branch), head_sha, base (branch),
        base_sha; ForgeNotFoundError naming the repository and number when there is none.
    upsert_comment(repo, number: int, marker: str, body: str) -> Comment
        The ONE comment of MARKER: its text is the hidden line ``<!-- MARKER -->`` then BODY.
        Created when the token's user has no comment holding that line on the pull request,
        else the oldest such comment is updated in place, or left alone when its text is BODY
        already. Comment.action is created | updated | unchanged; id, url, body, author.
    set_commit_status(repo, sha: str, state: str, context: str, description: str = "",
                      target_url: str = "") -> CommitStatus
        state: pending | success | failure | error; sha: a full commit id; description cut to
        140 characters; written only when the latest status of CONTEXT differs
        (CommitStatus.changed). A branch protection requires CONTEXT by this name
        (``forge_repository`` option ``required_status_checks``).

``pull_requests()`` gives the provider's ``pulls.PullRequests`` (find, create, update, as
``infra_repo`` uses them).

The engine (``merge_protection``, ``plan_deploy_key``, ``plan_webhook``) is pure: it takes the
normalised live objects and the wanted state and returns what to write, the conflicts and the
diff. :class:`ForgeRepository` runs it against a provider in two phases: read and plan
everything first (every refusal and permission problem is raised there, before the first
change), then apply, then read back what the forge kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable
from urllib.parse import quote

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeConflictError,
    ForgeDeliveryError,
    ForgeError,
    ForgeInputError,
    ForgePermissionError,
)


class _CreatedMeanwhile(Exception):
    """The repository this run was creating was created by another run after this run read the forge."""


# ---------------------------------------------------------------------------- objects

@dataclass
class Identity:
    login: str
    is_admin: bool = False


@dataclass
class RepoInfo:
    owner: str
    name: str
    full_name: str
    private: bool
    default_branch: str
    empty: bool
    admin: bool
    push: bool = False
    html_url: str = ""
    clone_url: str = ""
    ssh_url: str = ""
    id: Any = None
    raw: dict = field(default_factory=dict, repr=False)

    def public(self, created: bool) -> dict:
        return {
            "owner": self.owner, "name": self.name, "full_name": self.full_name,
            "private": self.private, "default_branch": self.default_branch, "empty": self.empty,
            "html_url": self.html_url, "clone_url": self.clone_url, "ssh_url": self.ssh_url,
            "created": created,
        }


# How direct pushes to the protected branch are governed.
PUSH_NOBODY = "nobody"          # only merges of pull requests reach the branch
PUSH_ALLOWLIST = "allowlist"    # listed users/teams (and deploy keys, if set) may push directly
PUSH_EVERYONE = "everyone"      # everyone with write access may push directly


@dataclass
class Protection:
    """The branch rule in forge-neutral terms (only what this module manages or judges)."""

    rule: str
    direct_push: str = PUSH_NOBODY
    push_users: list[str] = field(default_factory=list)
    push_teams: list[str] = field(default_factory=list)
    push_other: list[str] = field(default_factory=list)   # other grants: deploy keys, administrators, apps
    required_approvals: int = 0
    dismiss_stale_approvals: bool = False
    status_checks: list[str] = field(default_factory=list)
    code_owner_review: bool = False
    exact: bool = True       # the rule is named after the branch itself (not a pattern)
    ref: Any = field(default=None, repr=False, compare=False)

    def view(self) -> dict:
        return {
            "rule": self.rule,
            "direct_push": self.direct_push,
            "push_allowlist_users": _names(self.push_users),
            "push_allowlist_teams": _names(self.push_teams),
            "push_allowlist_other": sorted(self.push_other),
            "required_approvals": self.required_approvals,
            "dismiss_stale_approvals": self.dismiss_stale_approvals,
            "required_status_checks": sorted(self.status_checks),
            "code_owner_review": self.code_owner_review,
        }

    def same_policy(self, other: "Protection") -> bool:
        a, b = self.view(), other.view()
        a.pop("rule")
        b.pop("rule")
        return a == b


def _names(values) -> list[str]:
    """User and team names compare case-insensitively on every forge."""
    return sorted({v.lower() for v in values or []})


@dataclass
class WantedProtection:
    branch: str
    push_users: list[str]
    push_teams: list[str]
    required_approvals: int
    status_checks: list[str]
    code_owner_review: bool
    conflict: str = "report"      # report | replace


@dataclass
class DeployKey:
    id: Any
    title: str
    key: str
    read_only: bool

    def view(self) -> dict:
        return {"title": self.title, "read_only": self.read_only, "fingerprint": key_fingerprint(self.key)}


@dataclass
class Hook:
    id: Any
    url: str                       # the delivery URL without our fingerprint parameter
    active: bool
    events: list[str]
    content_type: str = "json"
    fingerprint: str | None = None
    ssl_verify: bool | None = True       # None: the forge has no per-webhook setting
    raw: dict = field(default_factory=dict, repr=False)

    def view(self) -> dict:
        view = {"id": self.id, "url": self.url, "active": self.active, "events": sorted(self.events),
                "content_type": self.content_type}
        if self.ssl_verify is not None:
            view["ssl_verify"] = self.ssl_verify
        return view


@dataclass
class HookSpec:
    url: str
    secret: str
    fingerprint: str | None
    ssl_verify: bool = True


@dataclass
class Delivery:
    """Outcome of a test delivery as the forge recorded it."""

    status: str                     # ok | failed | pending | unknown | skipped
    status_code: int | None = None
    message: str = ""
    event: str = ""
    delivery_id: Any = None

    def view(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- provider

class ForgeProvider:
    """What each forge implements. Every method raises a ``ForgeError`` subclass on failure."""

    forge = "forge"
    label = "the forge"
    argocd_secret_key = ""
    admin_permission = "admin"
    # what the module's protection settings turn into on this forge (returned and documented)
    protection_mapping: dict[str, str] = {}
    supports_code_owners = True
    webhook_ssl_setting = True      # the forge has a per-webhook TLS verification switch

    def whoami(self) -> Identity:
        raise NotImplementedError

    def get_repo(self, owner: str, name: str) -> RepoInfo | None:
        raise NotImplementedError

    def check_can_create(self, owner: str, me: Identity) -> None:
        """Raise if ``owner`` does not exist or ``me`` may not create repositories there."""
        raise NotImplementedError

    def create_repo(self, owner: str, name: str, *, private: bool, default_branch: str,
                    description: str, me: Identity) -> RepoInfo:
        raise NotImplementedError

    def check_identities(self, repo: RepoInfo | None, owner: str, users: list[str], teams: list[str]) -> None:
        """Raise ``ForgeInputError`` for allowlist entries the forge would reject or silently drop."""
        raise NotImplementedError

    def protection_blocker(self, repo: RepoInfo | None, branch: str) -> str | None:
        """Why branch protection cannot be written now (None when it can; repo None: to be created)."""
        return None

    def get_protection(self, repo: RepoInfo, branch: str) -> Protection | None:
        raise NotImplementedError

    def constrain(self, target: Protection) -> Protection:
        """The target as this forge can express it (default: unchanged)."""
        return target

    def put_protection(self, repo: RepoInfo, branch: str, target: Protection, live: Protection | None) -> None:
        raise NotImplementedError

    def list_deploy_keys(self, repo: RepoInfo) -> list[DeployKey]:
        raise NotImplementedError

    def add_deploy_key(self, repo: RepoInfo, title: str, key: str) -> DeployKey:
        raise NotImplementedError

    def delete_deploy_key(self, repo: RepoInfo, key: DeployKey) -> None:
        raise NotImplementedError

    def list_hooks(self, repo: RepoInfo) -> list[Hook]:
        raise NotImplementedError

    def create_hook(self, repo: RepoInfo, spec: HookSpec) -> Hook:
        raise NotImplementedError

    def update_hook(self, repo: RepoInfo, hook: Hook, spec: HookSpec) -> Hook:
        raise NotImplementedError

    def delete_hook(self, repo: RepoInfo, hook: Hook) -> None:
        raise NotImplementedError

    def test_hook(self, repo: RepoInfo, hook: Hook, wait: float) -> Delivery:
        raise NotImplementedError

    # -- pull requests (the implementations live in ``pulls``, one class per forge) ------------

    def pull_requests(self):
        """The pull request operations of this forge (``pulls.PullRequests``), on this provider's client."""
        from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.pulls import pull_requests_for
        return pull_requests_for(self)

    def get_pull_request(self, repo: RepoInfo, number: int):
        """Pull request NUMBER (``pulls.PullRequest``); ``ForgeNotFoundError`` when it does not exist."""
        return self.pull_requests().get(repo, number)

    def upsert_comment(self, repo: RepoInfo, number: int, marker: str, body: str):
        """Create or update in place the one comment of MARKER on pull request NUMBER (``pulls.Comment``)."""
        return self.pull_requests().upsert_comment(repo, number, marker, body)

    def set_commit_status(self, repo: RepoInfo, sha: str, state: str, context: str, description: str = "",
                          target_url: str = ""):
        """Set the status of CONTEXT on commit SHA (``pulls.CommitStatus``; ``changed`` False when it was set)."""
        return self.pull_requests().set_status(repo, sha, state, context, description, target_url)


class ReposProvider(ForgeProvider):
    """What Gitea and GitHub share: ``/repos/{owner}/{repo}`` paths, repository objects with
    ``permissions``, and the deploy key and webhook endpoints under them. ``self.api`` is the
    provider's ``http.JsonClient``."""

    api: Any = None
    page_size = ("per_page", 100)     # the query parameter and size of a page of this forge

    def _repo_path(self, repo_or_owner, name: str | None = None) -> str:
        if isinstance(repo_or_owner, RepoInfo):
            repo_or_owner, name = repo_or_owner.owner, repo_or_owner.name
        return f"/repos/{quote(repo_or_owner, safe='')}/{quote(name or '', safe='')}"

    def _is_empty(self, data: dict) -> bool:
        """Whether the repository has no commit yet."""
        raise NotImplementedError

    def _repo(self, data: dict) -> RepoInfo:
        perms = data.get("permissions") or {}
        return RepoInfo(
            owner=(data.get("owner") or {}).get("login") or "", name=data.get("name") or "",
            full_name=data.get("full_name") or "", private=bool(data.get("private")),
            default_branch=data.get("default_branch") or "main", empty=self._is_empty(data),
            admin=bool(perms.get("admin")), push=bool(perms.get("push")), html_url=data.get("html_url") or "",
            clone_url=data.get("clone_url") or "", ssh_url=data.get("ssh_url") or "", id=data.get("id"), raw=data)

    def get_repo(self, owner: str, name: str) -> RepoInfo | None:
        resp = self.api.request("GET", self._repo_path(owner, name), allow=(404,))
        return None if resp.status == 404 else self._repo(resp.data or {})

    def _pages(self, path: str) -> list:
        size_param, size = self.page_size
        return self.api.get_pages(path, size_param=size_param, size=size)

    def list_deploy_keys(self, repo: RepoInfo) -> list[DeployKey]:
        return [DeployKey(k.get("id"), k.get("title") or "", k.get("key") or "", bool(k.get("read_only")))
                for k in self._pages(f"{self._repo_path(repo)}/keys")]

    def add_deploy_key(self, repo: RepoInfo, title: str, key: str) -> DeployKey:
        data = self.api.request("POST", f"{self._repo_path(repo)}/keys",
                                body={"title": title, "key": key, "read_only": True}).data or {}
        return DeployKey(data.get("id"), data.get("title") or title, data.get("key") or key,
                         bool(data.get("read_only", True)))

    def delete_deploy_key(self, repo: RepoInfo, key: DeployKey) -> None:
        self.api.request("DELETE", f"{self._repo_path(repo)}/keys/{key.id}", allow=(404,))

    def delete_hook(self, repo: RepoInfo, hook: Hook) -> None:
        self.api.request("DELETE", f"{self._repo_path(repo)}/hooks/{hook.id}", allow=(404,))


# ---------------------------------------------------------------------------- fingerprints

_FP_RE = re.compile(r"fp1\.([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{16})")
_FP_ROUNDS = 100_000


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def secret_fingerprint(secret: str, salt: str | None = None) -> str:
    """A salted, slow, non-reversible fingerprint of the webhook secret: ``fp1.<salt>.<hash>``.

    Forges never return a webhook secret. The fingerprint, kept on the hook (Gitea: its name;
    GitLab: its description; GitHub: a query parameter of the delivery URL that Argo CD
    ignores), lets a later run tell whether ``webhook_secret`` changed. PBKDF2 with a random
    salt keeps a guessable secret from being confirmed cheaply by whoever can read the hook.
    """
    salt = salt or _b64(os.urandom(9))
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt.encode("ascii"), _FP_ROUNDS, dklen=12)
    return f"fp1.{salt}.{_b64(digest)}"


def find_fingerprint(text: str | None) -> str | None:
    match = _FP_RE.search(text or "")
    return match.group(0) if match else None


def fingerprint_matches(secret: str, fingerprint: str | None) -> bool:
    match = _FP_RE.fullmatch(fingerprint or "")
    if not match:
        return False
    return hmac.compare_digest(secret_fingerprint(secret, match.group(1)), fingerprint)


# ---------------------------------------------------------------------------- ssh keys

def normalise_public_key(text: str) -> str:
    """``type base64`` of an OpenSSH public key line (comment and options dropped)."""
    parts = (text or "").strip().split()
    for i, part in enumerate(parts[:-1]):
        if part.startswith(("ssh-", "ecdsa-", "sk-")):
            return f"{part} {parts[i + 1]}"
    raise ForgeInputError("the deploy key is not an OpenSSH public key line (expected 'ssh-ed25519 AAAA... comment')")


def key_fingerprint(text: str) -> str:
    """``SHA256:...`` fingerprint, as ``ssh-keygen -l`` prints it."""
    try:
        blob = base64.b64decode(normalise_public_key(text).split()[1])
    except (ValueError, IndexError, ForgeInputError):
        return "unknown"
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


# ---------------------------------------------------------------------------- engine: protection

def _glob_regex(pattern: str) -> re.Pattern:
    """Branch glob as the forges use it: ``*`` stays within a path segment, ``**`` crosses them."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                out.append(pattern[i:end + 1])
                i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(re.escape(p) for p in pattern[i + 1:end].split(",")) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def branch_matches(pattern: str, branch: str) -> bool:
    return pattern == branch or bool(_glob_regex(pattern).match(branch))


def merge_protection(live: Protection | None, want: WantedProtection, supports_code_owners: bool = True):
    """Target rule and conflicts: never weaker than the live rule, never looser than asked.

    Stricter live settings are kept (more approvals, more required checks, code owners,
    settings this module does not manage). Live settings that grant more than asked (direct
    pushes for everyone, or for identities outside the allowlist, or for deploy keys) are
    conflicts: reported and kept with ``report``, replaced with ``replace``.
    """
    wanted_push = PUSH_ALLOWLIST if (want.push_users or want.push_teams) else PUSH_NOBODY
    code_owners = want.code_owner_review and supports_code_owners
    want_users, want_teams = _names(want.push_users), _names(want.push_teams)
    if live is None:
        return Protection(
            rule=want.branch, direct_push=wanted_push, push_users=want_users,
            push_teams=want_teams, required_approvals=want.required_approvals,
            dismiss_stale_approvals=True, status_checks=list(dict.fromkeys(want.status_checks)),
            code_owner_review=code_owners), []

    conflicts: list[dict] = []
    checks = list(dict.fromkeys(list(live.status_checks) + list(want.status_checks)))
    target = Protection(
        rule=want.branch,
        required_approvals=max(live.required_approvals, want.required_approvals),
        dismiss_stale_approvals=True,
        status_checks=checks,
        code_owner_review=live.code_owner_review or code_owners,
        direct_push=wanted_push,
        push_users=want_users,
        push_teams=want_teams,
        push_other=[],
        exact=True,
    )
    replace = want.conflict == "replace"
    action = "replaced" if replace else "kept"
    if live.direct_push == PUSH_EVERYONE:
        conflicts.append({
            "object": "branch_protection", "rule": live.rule, "setting": "direct_push",
            "live": "everyone with write access may push directly",
            "wanted": "nobody" if wanted_push == PUSH_NOBODY else "only the allowlist",
            "action": action})
        if not replace:
            target.direct_push = PUSH_EVERYONE
            target.push_users, target.push_teams = [], []
    elif live.direct_push == PUSH_ALLOWLIST:
        live_users, live_teams = _names(live.push_users), _names(live.push_teams)
        extra_users = sorted(set(live_users) - set(want_users))
        extra_teams = sorted(set(live_teams) - set(want_teams))
        if extra_users or extra_teams or live.push_other:
            extra = [f"user {u}" for u in extra_users] + [f"team {t}" for t in extra_teams] + list(live.push_other)
            conflicts.append({
                "object": "branch_protection", "rule": live.rule, "setting": "push_allowlist",
                "live": "direct pushes also allowed for " + ", ".join(extra),
                "wanted": "only " + (", ".join(want_users + want_teams) or "nobody"),
                "action": action})
            if not replace:
                target.direct_push = PUSH_ALLOWLIST
                target.push_users = sorted(set(live_users) | set(want_users))
                target.push_teams = sorted(set(live_teams) | set(want_teams))
                target.push_other = list(live.push_other)
    return target, conflicts


# ---------------------------------------------------------------------------- engine: deploy key

@dataclass
class KeyPlan:
    delete: list[DeployKey] = field(default_factory=list)
    add: bool = False
    current: DeployKey | None = None
    conflicts: list[dict] = field(default_factory=list)


def plan_deploy_key(keys: list[DeployKey], title: str, public_key: str | None, conflict: str) -> KeyPlan:
    """What to do so that exactly our key is registered read-only under ``title``.

    ``public_key`` None means "not known yet" (check mode before the key file exists): the key
    will be added. With ``conflict=report`` a key of ours that can write, or another key under
    our title, is refused (raised) before anything changes.
    """
    plan = KeyPlan()
    if public_key is None:
        plan.add = True
        plan.delete = [k for k in keys if k.title == title] if conflict == "replace" else []
        if plan.delete:
            plan.conflicts.append({"object": "deploy_key", "title": title, "setting": "key",
                                   "live": "another key", "wanted": "a newly generated key",
                                   "action": "replaced"})
        elif any(k.title == title for k in keys):
            raise ForgeConflictError(
                f"a deploy key titled '{title}' already exists with another key, and the key file is "
                "generated in this run; set deploy_key_conflict=replace to replace it, or choose "
                "another deploy_key_title")
        return plan
    ours = normalise_public_key(public_key)
    same = [k for k in keys if _safe_norm(k.key) == ours]
    other_titled = [k for k in keys if k.title == title and _safe_norm(k.key) != ours]
    replace = conflict == "replace"
    for key in other_titled:
        conflict_row = {"object": "deploy_key", "title": title, "setting": "key",
                        "live": key_fingerprint(key.key), "wanted": key_fingerprint(ours),
                        "action": "replaced" if replace else "refused"}
        plan.conflicts.append(conflict_row)
        if not replace:
            raise ForgeConflictError(
                f"a deploy key titled '{title}' exists with another key ({key_fingerprint(key.key)}; ours is "
                f"{key_fingerprint(ours)}); nothing was changed. Set deploy_key_conflict=replace to replace "
                "it, or choose another deploy_key_title")
        plan.delete.append(key)
    for key in same:
        if key.read_only:
            if plan.current is None:
                plan.current = key
            continue
        plan.conflicts.append({"object": "deploy_key", "title": key.title, "setting": "read_only",
                               "live": "read-write", "wanted": "read-only",
                               "action": "replaced" if replace else "refused"})
        if not replace:
            raise ForgeConflictError(
                f"the Argo CD deploy key ({key_fingerprint(ours)}) is registered with write access as "
                f"'{key.title}'; Argo CD only reads, and a writing key bypasses review. Nothing was changed. "
                "Set deploy_key_conflict=replace to register it read-only instead")
        plan.delete.append(key)
    plan.add = plan.current is None
    return plan


def _safe_norm(text: str) -> str:
    try:
        return normalise_public_key(text)
    except ForgeInputError:
        return text.strip()


# ---------------------------------------------------------------------------- engine: webhook

@dataclass
class HookPlan:
    action: str                        # create | update | none
    hook: Hook | None = None
    reasons: list[str] = field(default_factory=list)
    duplicates: list[Hook] = field(default_factory=list)
    fingerprint: str | None = None


def plan_webhook(hooks: list[Hook], url: str, secret: str, ssl_verify: bool) -> HookPlan:
    """Create or update our hook (the first one delivering to ``url``); never touch others."""
    matching = [h for h in hooks if h.url == url]
    if not matching:
        return HookPlan("create", reasons=["no webhook delivers to this URL"],
                        fingerprint=secret_fingerprint(secret))
    hook, duplicates = matching[0], matching[1:]
    reasons = []
    fingerprint = hook.fingerprint
    if not fingerprint_matches(secret, hook.fingerprint):
        reasons.append("secret changed" if hook.fingerprint else "secret not known to be the wanted one")
        fingerprint = secret_fingerprint(secret)
    if not hook.active:
        reasons.append("inactive")
    if "push" not in hook.events:
        reasons.append("push events not sent")
    if hook.content_type != "json":
        reasons.append(f"content type {hook.content_type}")
    if hook.ssl_verify is not None and hook.ssl_verify != ssl_verify:
        reasons.append("TLS verification setting")
    return HookPlan("update" if reasons else "none", hook, reasons, duplicates, fingerprint)


# ---------------------------------------------------------------------------- runner

@dataclass
class Settings:
    """The module's options in engine terms."""

    owner: str
    name: str
    private: bool = True
    description: str = ""
    default_branch: str = "main"
    protection: WantedProtection | None = None
    deploy_key_title: str = "argocd"
    deploy_key_public: str | None = None        # known public key, or None when generated in this run
    deploy_key_enabled: bool = False
    deploy_key_conflict: str = "report"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_ssl_verify: bool = True
    webhook_test: bool = False
    webhook_wait: float = 20.0


class ForgeRepository:
    """Reads, plans and (outside check mode) applies the wanted repository state.

    ``prepare_key`` is called once, after every check passed and before the first change on the
    forge, to create the deploy key file when it is missing; it returns the public key.
    """

    def __init__(self, provider: ForgeProvider, settings: Settings, *, check_mode: bool,
                 warn: Callable[[str], None], prepare_key: Callable[[], str] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.p = provider
        self.s = settings
        self.check_mode = check_mode
        self.warn = warn
        self.prepare_key = prepare_key
        self.sleep = sleep
        self.actions: list[str] = []
        self.applied: list[str] = []      # what was really done, also when a later step fails
        self.conflicts: list[dict] = []
        self.mismatches: list[dict] = []
        self.before: dict = {}
        self.after: dict = {}
        self.result: dict = {}

    # -- read and plan ---------------------------------------------------------------

    def run(self) -> dict:
        try:
            return self._run()
        except _CreatedMeanwhile:
            # Another run (a concurrent job slice) created the repository between this run's read and
            # its create: read it again and plan against it, as against any existing repository.
            self.actions, self.conflicts, self.mismatches = [], [], []
            self.before, self.after, self.result = {}, {}, {}
            return self._run()

    def _run(self) -> dict:
        s, p = self.s, self.p
        me = p.whoami()
        repo = p.get_repo(s.owner, s.name)
        if repo is None:
            p.check_can_create(s.owner, me)
        elif not repo.admin:
            raise ForgePermissionError(
                f"the token's user '{me.login}' lacks the {p.admin_permission} permission on "
                f"{repo.full_name} (it has {'write' if repo.push else 'read'} access): branch protection, "
                "deploy keys and webhooks need it. Use a token of a repository administrator or grant "
                f"'{me.login}' {p.admin_permission} on the repository. Nothing was changed.")
        if s.protection and (s.protection.push_users or s.protection.push_teams):
            p.check_identities(repo, s.owner, s.protection.push_users, s.protection.push_teams)

        branch = repo.default_branch if repo else s.default_branch
        self.before["repository"] = self._repo_view(repo)
        self.after["repository"] = self._repo_view(repo) if repo else {
            "exists": True, "full_name": f"{s.owner}/{s.name}", "private": s.private, "default_branch": branch}
        if repo is None:
            self.actions.append(f"create {'private' if s.private else 'public'} repository {s.owner}/{s.name}")
        else:
            self._check_mismatches(repo)

        prot_plan = self._plan_protection(repo, branch)
        key_plan = self._plan_key(repo)
        hook_plan = self._plan_hook(repo)

        created, delivery = False, None
        if self.actions and not self.check_mode:
            repo, created, delivery = self._apply(me, repo, branch, prot_plan, key_plan, hook_plan)
        if (not self.check_mode and delivery is None and hook_plan is not None and s.webhook_test
                and hook_plan.hook is not None and repo is not None):
            delivery = self._test_hook(repo, hook_plan, None)
        return self._result(repo, branch, prot_plan, key_plan, hook_plan, created, delivery)

    def _repo_view(self, repo: RepoInfo | None) -> dict:
        if repo is None:
            return {"exists": False}
        return {"exists": True, "full_name": repo.full_name, "private": repo.private,
                "default_branch": repo.default_branch}

    def _check_mismatches(self, repo: RepoInfo) -> None:
        if repo.private != self.s.private:
            live, wanted = ("private", "public") if repo.private else ("public", "private")
            self.mismatches.append({"setting": "visibility", "live": live, "wanted": wanted})
            self.warn(f"{repo.full_name} is {live} but private={self.s.private} was asked; an existing "
                      "repository's visibility is never changed by this module: change it on the forge "
                      "if that is intended")
        if repo.default_branch != self.s.default_branch:
            self.mismatches.append({"setting": "default_branch", "live": repo.default_branch,
                                    "wanted": self.s.default_branch})
            self.warn(f"{repo.full_name}'s default branch is '{repo.default_branch}', not "
                      f"'{self.s.default_branch}'; the live default branch is the one protected")

    def _plan_protection(self, repo: RepoInfo | None, branch: str):
        want = self.s.protection
        if want is None:
            return None
        want.branch = branch
        blocker = self.p.protection_blocker(repo, branch)
        live = None
        if repo is not None and blocker is None:
            live = self.p.get_protection(repo, branch)
        if blocker:
            self.warn(f"branch protection of '{branch}' not set: {blocker}")
            self.before["branch_protection"] = self.after["branch_protection"] = {"deferred": blocker}
            return {"deferred": blocker}
        target, conflicts = merge_protection(live, want, self.p.supports_code_owners)
        target = self.p.constrain(target)
        for c in conflicts:
            self.conflicts.append(c)
            if c["action"] == "kept":
                self.warn(f"branch protection of '{branch}' (rule '{c['rule']}'): {c['live']}; this conflicts "
                          f"with the wanted '{c['wanted']}' and was kept (protection_conflict=report); set "
                          "protection_conflict=replace to replace it")
        self.before["branch_protection"] = live.view() if live else {}
        self.after["branch_protection"] = target.view()
        needed = live is None or not live.same_policy(target)
        if needed:
            if live is None:
                self.actions.append(f"protect branch '{branch}'")
            elif not live.exact:
                self.actions.append(f"protect branch '{branch}' with its own rule (based on rule '{live.rule}')")
            else:
                self.actions.append(f"update the protection of branch '{branch}'")
        return {"live": live, "target": target, "needed": needed}

    def _plan_key(self, repo: RepoInfo | None):
        s = self.s
        if not s.deploy_key_enabled:
            return None
        keys = self.p.list_deploy_keys(repo) if repo else []
        plan = plan_deploy_key(keys, s.deploy_key_title, s.deploy_key_public, s.deploy_key_conflict)
        self.conflicts.extend(plan.conflicts)
        titled = [k for k in keys if k.title == s.deploy_key_title]
        self.before["deploy_key"] = titled[0].view() if titled else {}
        wanted_fp = key_fingerprint(s.deploy_key_public) if s.deploy_key_public else "(generated in this run)"
        self.after["deploy_key"] = {"title": s.deploy_key_title, "read_only": True, "fingerprint": wanted_fp}
        for key in plan.delete:
            self.actions.append(f"remove deploy key '{key.title}' ({key_fingerprint(key.key)})")
        if plan.add:
            self.actions.append(f"add read-only deploy key '{s.deploy_key_title}'")
        return plan

    def _plan_hook(self, repo: RepoInfo | None):
        s = self.s
        if not s.webhook_url:
            return None
        hooks = self.p.list_hooks(repo) if repo else []
        plan = plan_webhook(hooks, s.webhook_url, s.webhook_secret or "", s.webhook_ssl_verify)
        for dup in plan.duplicates:
            self.warn(f"webhook {dup.id} also delivers to {s.webhook_url}; it is left alone (remove it if "
                      "it is a leftover, or Argo CD receives every event twice)")
        if plan.hook:
            before = plan.hook.view()
            before["secret"] = "<hidden>" if plan.hook.fingerprint else "<hidden, not known>"
            self.before["webhook"] = before
        else:
            self.before["webhook"] = {}
        secret_written = plan.action == "create" or any(r.startswith("secret") for r in plan.reasons)
        events = sorted(set(plan.hook.events) | {"push"}) if plan.hook else ["push"]
        after = {"url": s.webhook_url, "active": True, "events": events, "content_type": "json"}
        if self.p.webhook_ssl_setting:
            after["ssl_verify"] = s.webhook_ssl_verify
        after["secret"] = "<hidden, changed>" if secret_written else "<hidden>"
        if plan.hook:
            after = {"id": plan.hook.id, **after}
        self.after["webhook"] = after
        if plan.action == "create":
            self.actions.append(f"create the Argo CD webhook to {s.webhook_url}")
        elif plan.action == "update":
            self.actions.append(f"update the Argo CD webhook {plan.hook.id} ({', '.join(plan.reasons)})")
        return plan

    # -- apply -------------------------------------------------------------------------

    def _apply(self, me, repo, branch, prot_plan, key_plan, hook_plan):
        s, p = self.s, self.p
        if key_plan is not None and s.deploy_key_public is None and self.prepare_key:
            s.deploy_key_public = self.prepare_key()
            self.applied.append("generated the deploy key file")
            self.after["deploy_key"]["fingerprint"] = key_fingerprint(s.deploy_key_public)
        created = False
        if repo is None:
            try:
                repo = p.create_repo(s.owner, s.name, private=s.private, default_branch=s.default_branch,
                                     description=s.description, me=me)
            except ForgeError as exc:
                # a name already taken (GitLab 400, Gitea 409, GitHub 422): by a run that just created it?
                if exc.status in (400, 409, 422) and p.get_repo(s.owner, s.name) is not None:
                    raise _CreatedMeanwhile() from exc
                raise
            self.applied.append(f"created repository {repo.full_name}")
            created = True
            if s.protection and (s.protection.push_users or s.protection.push_teams):
                # write access to a repository that did not exist could not be checked before
                p.check_identities(repo, s.owner, s.protection.push_users, s.protection.push_teams)
            if key_plan is not None:
                key_plan = plan_deploy_key([], s.deploy_key_title, s.deploy_key_public, s.deploy_key_conflict)
        if prot_plan and prot_plan.get("needed"):
            p.put_protection(repo, branch, prot_plan["target"], prot_plan["live"])
            self.applied.append(f"wrote the protection of branch '{branch}'")
            kept = p.get_protection(repo, branch)
            if kept is None or not kept.exact or not kept.same_policy(prot_plan["target"]):
                raise ForgeConflictError(
                    f"{p.label} did not keep the branch protection of '{branch}' as written: wanted "
                    f"{prot_plan['target'].view()}, read back {kept.view() if kept else 'no rule'}")
            prot_plan["target"] = kept
        if key_plan is not None:
            for key in key_plan.delete:
                p.delete_deploy_key(repo, key)
                self.applied.append(f"removed deploy key '{key.title}'")
            if key_plan.add:
                public = normalise_public_key(s.deploy_key_public)
                key_plan.current = p.add_deploy_key(repo, s.deploy_key_title, public)
                self.applied.append(f"added read-only deploy key '{s.deploy_key_title}'")
        delivery = None
        if hook_plan is not None and hook_plan.action != "none":
            spec = HookSpec(s.webhook_url, s.webhook_secret, hook_plan.fingerprint, s.webhook_ssl_verify)
            if hook_plan.action == "create":
                hook_plan.hook = p.create_hook(repo, spec)
            else:
                hook_plan.hook = p.update_hook(repo, hook_plan.hook, spec)
            self.applied.append(f"{hook_plan.action}d the Argo CD webhook {hook_plan.hook.id}")
            self.after["webhook"]["id"] = hook_plan.hook.id
            delivery = self._test_hook(repo, hook_plan, spec)
        return repo, created, delivery

    def _test_hook(self, repo: RepoInfo, plan: HookPlan, spec: HookSpec | None) -> Delivery:
        delivery = self.p.test_hook(repo, plan.hook, self.s.webhook_wait)
        if delivery.status == "failed":
            if spec is not None and plan.action == "create":
                self.p.delete_hook(repo, plan.hook)
                self.applied.append(f"removed the webhook {plan.hook.id} again")
                undo = "the new webhook was removed again, so that the next run creates and tests it anew"
            elif spec is not None:
                self.p.update_hook(repo, plan.hook, HookSpec(spec.url, spec.secret, None, spec.ssl_verify))
                undo = "the webhook's secret fingerprint was cleared, so that the next run applies and tests it anew"
            else:
                undo = "the webhook was left as it is"
            code = f"HTTP {delivery.status_code}" if delivery.status_code else "no HTTP answer"
            raise ForgeDeliveryError(
                f"{self.p.label} could not deliver the test {delivery.event or 'event'} to {self.s.webhook_url}: "
                f"{code}: {delivery.message or 'no details'}. Check that Argo CD's API server is reachable from "
                f"the forge at that URL and that the secret under '{self.p.argocd_secret_key}' in argocd-secret "
                f"is the webhook_secret; {undo}.",
                details={"delivery": delivery.view()})
        if delivery.status in ("unknown", "pending", "skipped"):
            self.warn(f"webhook test delivery: {delivery.status}: {delivery.message}")
        return delivery

    # -- result ------------------------------------------------------------------------

    def _result(self, repo, branch, prot_plan, key_plan, hook_plan, created, delivery) -> dict:
        s = self.s
        result: dict[str, Any] = {
            "changed": bool(self.actions),
            "actions": list(self.actions),
            "conflicts": list(self.conflicts),
            "mismatches": list(self.mismatches),
            "argocd_secret_key": self.p.argocd_secret_key,
            "forge": self.p.forge,
        }
        if repo is not None:
            result["repository"] = repo.public(created)
        else:
            result["repository"] = {"owner": s.owner, "name": s.name, "full_name": f"{s.owner}/{s.name}",
                                    "private": s.private, "default_branch": branch, "created": True}
        if prot_plan is not None:
            if "deferred" in prot_plan:
                result["branch_protection"] = {"branch": branch, "deferred": prot_plan["deferred"]}
            else:
                view = prot_plan["target"].view()
                view["branch"] = branch
                view["forge_settings"] = dict(self.p.protection_mapping)
                result["branch_protection"] = view
        if key_plan is not None:
            current = key_plan.current
            result["deploy_key"] = {
                "title": s.deploy_key_title, "read_only": True,
                "id": current.id if current else None,
                "fingerprint": key_fingerprint(s.deploy_key_public) if s.deploy_key_public else None,
                "public_key": normalise_public_key(s.deploy_key_public) if s.deploy_key_public else None,
            }
        if hook_plan is not None:
            hook = hook_plan.hook
            result["webhook"] = {
                "id": hook.id if hook else None, "url": s.webhook_url, "events": ["push"], "active": True,
                "secret_fingerprint": hook_plan.fingerprint or (hook.fingerprint if hook else None),
                "delivery": delivery.view() if delivery else {"status": "not tested"},
            }
        result["diff"] = {"before": self.before, "after": self.after}
        return result
