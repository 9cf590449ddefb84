# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pull request mode of ``infra_repo``: propose the generated commit for review on the forge.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

``PullRequestFlow`` is used by the module in three steps:

1. ``preflight()``, before anything is fetched or pushed: the forge options are checked, the
   token's user, the repository and the pull requests of the review branch are read. Every bad
   input (wrong token, unknown owner or repository, unreachable forge) fails here, with
   nothing pushed.
2. ``starts_fresh()`` tells the module where to build: on the review branch while its pull
   request is open (or while no pull request was ever opened from it), or on the base branch
   again when its last pull request was merged or closed (the branch is then pushed with a
   lease on the head the run saw, never blindly).
3. ``ensure()``, after the push: opens the pull request, or updates the open one (title, body,
   labels) when what it proposes changed. A run that proposes nothing new changes nothing.

The title and body say what the pull request changes (the files it creates, updates and
deletes against the base branch) and why (per cluster: bootstrap or update, files kept because
people edited them, files people removed or took over that were left alone). What the body
says per cluster is also kept, as JSON, in an HTML comment at its end, so that runs for other
clusters of the same branch keep it; the module owns the title and body of its pull requests.
The rendering functions are pure and unit-tested.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable
from urllib.parse import urlsplit

from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout
from ansible_collections.gitops.bootstrap.plugins.module_utils._argspec import forge_connection_options
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import RepoInfo
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeError,
    ForgeInputError,
    ForgeNotFoundError,
    ForgePermissionError,
    Masker,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.pulls import (
    CLOSED,
    MERGED,
    OPEN,
    Found,
    pull_requests_for,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.runner import (
    _check_name,
    build_provider,
    check_connection,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._git import explain

DEFAULT_REVIEW_BRANCH = "gitops/bootstrap"
GENERATOR = "gitops.bootstrap.infra_repo"
STATE_MARK = "gitops.bootstrap:pull-request"
_STATE_RE = re.compile(r"<!-- " + re.escape(STATE_MARK) + r" (\{.*?\}) -->", re.S)
# Lists longer than this are cut in the body (forges limit a body to 64 KiB or more).
MAX_LISTED = 150
NOTE_KEYS = ("conflicts", "forced", "removed_by_user", "taken_over")

# The module options of this mode (documented in infra_repo's DOCUMENTATION).
ARG_SPEC = dict(
    pull_request=dict(type="bool", default=False),
    **forge_connection_options(required=False, timeout_option="forge_timeout"),
    forge_owner=dict(type="str"),
    forge_repository=dict(type="str"),
    pull_request_title=dict(type="str"),
    pull_request_labels=dict(type="list", elements="str", default=[]),
)


class PullRequestError(Exception):
    """The pull request mode cannot go on; the message says what is wrong and what to do."""

    def __init__(self, msg: str, exception: str | None = None):
        super().__init__(msg)
        self.exception = exception


# ---------------------------------------------------------------------------- repository names

def owner_and_name(repo_url: str, forge: str, api_url: str | None) -> tuple[str, str]:
    """The forge's owner and repository name in a clone URL (``.../owner/name.git``, ``host:owner/name``).

    A path prefix of the forge's own URL (a forge served under ``/git/``) is removed first; on
    Gitea and GitHub the owner is the one path segment before the name, on GitLab every
    segment before it (groups and subgroups).
    """
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", repo_url):
        path = urlsplit(repo_url).path
        if api_url and urlsplit(repo_url).scheme in ("http", "https"):
            prefix = urlsplit(api_url).path.rstrip("/")
            for suffix in ("/api/v1", "/api/v4", "/api/v3"):
                if prefix.endswith(suffix):
                    prefix = prefix[: -len(suffix)]
            if prefix and path.startswith(prefix + "/"):
                path = path[len(prefix):]
    else:
        path = repo_url.split(":", 1)[1] if ":" in repo_url else repo_url
    parts = [p for p in path.strip("/").split("/") if p]
    if parts and parts[-1].endswith(".git"):
        parts[-1] = parts[-1][:-4]
    if len(parts) < 2:
        raise PullRequestError(
            f"cannot tell the forge's owner and repository from the URL {repo_url!r}; set forge_owner and "
            "forge_repository")
    if forge == "gitlab":
        return "/".join(parts[:-1]), parts[-1]
    return parts[-2], parts[-1]


def _url_key(url: str) -> str:
    """host/path of a clone URL, for comparing the URL pushed to with the forge's clone URLs."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path
    else:
        host, path = url.split(":", 1) if ":" in url else (url, "")
        host = host.rsplit("@", 1)[-1].lower()
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host}/{path.lower()}"


# ---------------------------------------------------------------------------- title and body

def read_state(body: str | None) -> dict:
    """What an earlier run wrote about each cluster ({} when the body holds nothing readable)."""
    match = _STATE_RE.search(body or "")
    if not match:
        return {}
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return {}
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, dict):
        return {}
    out = {}
    for name, entry in clusters.items():
        if not isinstance(name, str) or not isinstance(entry, dict):
            continue
        clean = {"action": entry.get("action") if entry.get("action") in ("bootstrap", "update") else "update",
                 "environment": str(entry.get("environment") or "")}
        for key in NOTE_KEYS:
            value = entry.get(key)
            clean[key] = sorted({str(v) for v in value}) if isinstance(value, list) else []
        out[name] = clean
    return out


def _state_comment(clusters: dict) -> str:
    text = json.dumps({"clusters": clusters}, sort_keys=True, separators=(",", ":"))
    # "--" must not appear inside an HTML comment; JSON reads the escape back
    return f"<!-- {STATE_MARK} {text.replace('--', '-' + chr(92) + 'u002d')} -->"


def default_title(clusters: dict) -> str:
    boot = sorted(c for c, e in clusters.items() if e.get("action") == "bootstrap")
    upd = sorted(c for c, e in clusters.items() if e.get("action") != "bootstrap")

    def part(verb: str, names: list[str]) -> str:
        return f"{verb} cluster{'s' if len(names) > 1 else ''} {', '.join(names)}"

    parts = ([part("bootstrap", boot)] if boot else []) + ([part("update", upd)] if upd else [])
    return "gitops.bootstrap: " + ("; ".join(parts) or "update the infra repository")


def _listing(paths: list[str]) -> list[str]:
    shown = [f"- `{p}`" for p in paths[:MAX_LISTED]]
    if len(paths) > MAX_LISTED:
        shown.append(f"- ... and {len(paths) - MAX_LISTED} more")
    return shown


def render_body(*, clusters: dict, created: list[str], updated: list[str], deleted: list[str], base: str,
                head: str, term: str = "pull request") -> str:
    """The body: why (per cluster), what (files against the base), notes, and the state comment."""
    lines = [
        f"This {term} was opened by `{GENERATOR}` (gitops.bootstrap). It proposes the generated files of the "
        f"infra repository on `{head}` instead of pushing them to `{base}`, so that they are reviewed like any "
        f"change of the infra code: the pipeline validates them, a code owner approves, and merging is what "
        "Argo CD applies.",
        "",
        "## Why",
        "",
    ]
    for name in sorted(clusters):
        entry = clusters[name]
        env = f" (environment `{entry['environment']}`)" if entry.get("environment") else ""
        root = _layout.cluster_path(name)
        if entry.get("action") == "bootstrap":
            why = (f"bootstrap. Its folder `{root}/` is new: Argo CD in `{name}` syncs it (root Application, "
                   "Argo CD itself, AppProjects, Applications) once this is merged.")
        else:
            why = (f"update. `{root}/` exists on `{base}`; generated files whose generator output changed are "
                   "updated, files people edited are kept.")
        lines.append(f"- Cluster **{name}**{env}: {why}")
    sections = [
        ("Files created", created, ""),
        ("Files updated", updated, f"Generated files that differ from `{base}`: their generated content changed "
                                   "and nobody had edited them, or they were overwritten on request."),
        ("Files deleted", deleted, f"Files of `{base}` this {term} removes (the generator never deletes: "
                                   "a commit on the branch did)."),
    ]
    for title, paths, note in sections:
        if not paths:
            continue
        lines += ["", f"## {title} ({len(paths)})", ""]
        if note:
            lines += [note, ""]
        lines += _listing(sorted(paths))
    notes = [
        ("forced", "Overwritten although people had edited them (`force: true`)",
         "Their edits are replaced by the generated content in this change; check that nothing is lost."),
        ("conflicts", "Kept as people edited them (conflicts)",
         "The generator's new content for these files was not written, because people edited them. Compare "
         "with a run in check mode and diff mode, merge what you need by hand, or re-run with `force: true`."),
        ("removed_by_user", "Removed by people, left alone",
         "Generated files someone deleted or renamed. They are not recreated (`restore_removed: true` would)."),
        ("taken_over", "Taken over by people, left alone",
         "Their lines were removed from `.gitops/managed.yaml`: they belong to people now and are never written."),
    ]
    for key, title, note in notes:
        entries = sorted({(path, name) for name, entry in clusters.items() for path in entry.get(key) or []})
        if not entries:
            continue
        lines += ["", f"## {title} ({len(entries)})", "", note, ""]
        by_path: dict[str, list[str]] = {}
        for path, name in entries:
            by_path.setdefault(path, []).append(name)
        listed = [f"- `{p}` (run for cluster{'s' if len(c) > 1 else ''} {', '.join(c)})"
                  for p, c in sorted(by_path.items())]
        lines += listed[:MAX_LISTED]
        if len(listed) > MAX_LISTED:
            lines.append(f"- ... and {len(listed) - MAX_LISTED} more")
    lines += [
        "",
        "---",
        f"Re-running the module updates this {term} (a new commit on `{head}`, this text rewritten). Once it is "
        f"merged or closed, the next run starts again from `{base}` and opens a new one if something is left to "
        f"propose. The title and this text are written by the module: comment instead of editing them.",
        "",
        _state_comment(clusters),
    ]
    return "\n".join(lines) + "\n"


def _same_text(a: str | None, b: str | None) -> bool:
    def norm(text: str | None) -> str:
        return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").strip().split("\n"))
    return norm(a) == norm(b)


# ---------------------------------------------------------------------------- git helpers

def _diff(git, base_ref: str, head_ref: str) -> tuple[list[str], list[str], list[str]]:
    """Files added, modified and deleted from the merge base of BASE_REF and HEAD_REF to HEAD_REF."""
    merge_base = git.out(["merge-base", base_ref, head_ref], f"finding where {head_ref} left {base_ref}")
    out = git.run_bytes(["diff", "--name-status", "--no-renames", "--no-ext-diff", "--no-textconv", "-z",
                         merge_base, head_ref], "listing the files the pull request changes")[1]
    fields = out.split(b"\0")
    added, modified, deleted = [], [], []
    for status, path in zip(fields[0::2], fields[1::2]):
        name = path.decode("utf-8", "surrogateescape")
        {"A": added, "D": deleted}.get(status.decode("ascii")[:1], modified).append(name)
    return added, modified, deleted


def _has_path(git, ref: str, path: str) -> bool:
    rc = git.run(["cat-file", "-e", f"{ref}:{path}"], f"looking for {path} in {ref}", check=False)[0]
    return rc == 0


# ---------------------------------------------------------------------------- the flow

class PullRequestFlow:
    """Find, open and update the pull request of the review branch (see the module docstring)."""

    def __init__(self, params: dict, *, warn: Callable[[str], None], check_mode: bool, transport=None,
                 sleep: Callable[[float], None] = time.sleep):
        self.p = params
        self.sleep = sleep
        self.warn = warn
        self.check_mode = check_mode
        self.transport = transport
        self.masker = Masker([params.get("token")])
        self.head = params.get("review_branch") or DEFAULT_REVIEW_BRANCH
        self.base = params["branch"]
        self.owner = self.name = ""
        self.repo: RepoInfo | None = None
        self.pulls = None
        self.found = Found()
        self.seeded = False
        self.result: dict | None = None
        self.body_diff: dict | None = None

    # -- errors ------------------------------------------------------------------------------
    def _fail(self, exc: ForgeError, doing: str) -> PullRequestError:
        return PullRequestError(self.masker.mask(f"{doing}: {exc.msg}"), self.masker.mask(traceback.format_exc()))

    # -- 1. options and forge reads ----------------------------------------------------------
    def check_options(self) -> None:
        """Offline: the forge options are complete and well-formed."""
        p = self.p
        missing = [k for k in ("forge", "token") if not (p.get(k) or "").strip()]
        if missing:
            raise PullRequestError(
                f"pull_request=true needs {' and '.join(missing)}: the forge that hosts the repository and an API "
                "token of a user who may open pull requests there")
        forge = p["forge"]
        try:
            check_connection(p, "forge_timeout", "a user who may open pull requests")
            owner, name = p.get("forge_owner"), p.get("forge_repository")
            if not (owner and name):
                derived = owner_and_name(p["repo"], forge, p.get("api_url"))
                owner, name = owner or derived[0], name or derived[1]
            _check_name(owner, "forge_owner", nested=forge == "gitlab")
            _check_name(name, "forge_repository")
            for label in p.get("pull_request_labels") or []:
                if not (label or "").strip():
                    raise ForgeInputError("pull_request_labels must not contain empty names")
            if p.get("pull_request_title") is not None and not p["pull_request_title"].strip():
                raise ForgeInputError("pull_request_title is empty; leave it unset for the default title")
        except ForgeError as exc:
            raise PullRequestError(self.masker.mask(exc.msg)) from None
        self.owner, self.name = owner, name

    def preflight(self) -> None:
        """Read the forge: the token's user, the repository, the pull requests of the review branch."""
        self.check_options()
        p = self.p
        provider = build_provider(p, self.masker, transport=self.transport, timeout_option="forge_timeout")
        where = f"{self.owner}/{self.name} on {provider.label}"
        try:
            me = provider.whoami()
            repo = provider.get_repo(self.owner, self.name)
            if repo is None:
                raise self._missing(provider, me)
            self.repo = repo
            self.pulls = pull_requests_for(provider)
            self.found = self._find()
        except ForgeError as exc:
            raise self._fail(exc, f"reading {where} before anything is pushed") from None
        if repo.clone_url or repo.ssh_url:
            keys = {_url_key(u) for u in (repo.clone_url, repo.ssh_url) if u}
            if _url_key(p["repo"]) not in keys:
                self.warn(f"the repository URL {p['repo']} is neither the HTTPS nor the SSH clone URL that "
                          f"{provider.label} gives for {repo.full_name} ({', '.join(u for u in (repo.clone_url, repo.ssh_url) if u)}); "
                          "the branch is pushed to the URL and the pull request opened on the forge: check that "
                          "they are the same repository")
        if repo.default_branch != self.base:
            self.warn(f"{repo.full_name}'s default branch is '{repo.default_branch}', and the pull request goes "
                      f"into '{self.base}' (option branch)")

    def _missing(self, provider, me) -> ForgeError:
        try:
            provider.check_can_create(self.owner, me)
        except ForgeNotFoundError:
            return ForgeNotFoundError(
                f"owner '{self.owner}' does not exist on {provider.label}, or '{me.login}' cannot see it (a private "
                "organisation it is not a member of): there is no user or organisation of that name it can see. Fix "
                "forge_owner (or the repository URL), create the owner, or give the token's user access to the "
                "repository. Nothing was pushed.")
        except ForgePermissionError:
            pass
        return ForgeNotFoundError(
            f"there is no repository {self.owner}/{self.name} on {provider.label} that '{me.login}' can see. Create "
            "it first (gitops.bootstrap.forge_repository), give the token's user access to it, or fix "
            "forge_repository (or the repository URL). Nothing was pushed.")

    def _find(self) -> Found:
        if self.repo.empty:
            return Found()  # an empty repository has no pull request (Gitea answers 404 for its list)
        return self.pulls.find(self.repo, self.head, self.base)

    def refresh(self) -> None:
        """Read the pull requests again (after a push was rejected because the branch moved on)."""
        try:
            self.found = self._find()
        except ForgeError as exc:
            raise self._fail(exc, f"reading the pull requests of '{self.head}' again") from None

    # -- 2. where the run builds -------------------------------------------------------------
    def starts_fresh(self) -> bool:
        """True when the review branch's last pull request was merged or closed (none is open)."""
        latest = self.found.latest
        return self.found.open is None and latest is not None and latest.state in (MERGED, CLOSED)

    def seed_base(self, git, url: str) -> None:
        """An empty remote: push an empty first commit to the base branch, the target of the pull request."""
        if self.check_mode:
            self.seeded = True
            return
        tree = git.out(["hash-object", "-t", "tree", "-w", "--stdin"], "writing the empty tree")
        commit = git.out(["commit-tree", tree, "-m",
                          f"gitops.bootstrap: start branch {self.base}\n\nAn empty first commit, so that the "
                          f"bootstrap of the infra repository can be proposed as a pull request into {self.base}."],
                         "making the first commit of the repository")
        rc, out, err = git.run(["push", "--porcelain", "--no-verify", url, f"{commit}:refs/heads/{self.base}"],
                               f"pushing the first commit of {self.base}", check=False)
        if rc != 0:
            raise PullRequestError(
                f"the repository {url} is empty, and a pull request needs its base branch '{self.base}': pushing an "
                f"empty first commit to '{self.base}' was refused ({explain(out + err) or 'no message'}). If the "
                f"branch is protected already, let its first commit in first (bootstrap.yml sets the protection "
                f"after this step), or create '{self.base}' on the forge. Nothing else was pushed.")
        self.seeded = True
        if self.repo is not None:
            self.repo.empty = False

    # -- 3. the pull request -------------------------------------------------------------------
    def _create(self, title: str, body: str, labels: list[str]):
        """Open the pull request. A forge takes a moment to register a pushed branch (Gitea updates its
        branch list after the push, and treats a repository that was empty until then as empty); until
        then it answers 404, so that answer is retried, within the forge timeout."""
        deadline = time.monotonic() + max(5.0, float(self.p["forge_timeout"]))
        while True:
            try:
                return self.pulls.create(self.repo, self.head, self.base, title, body, labels)
            except ForgeNotFoundError:
                if time.monotonic() >= deadline:
                    raise
                self.sleep(0.5)

    def ensure(self, git, *, cluster: str, environment: str, plan: dict, base_exists: bool) -> bool:
        """Open or update the pull request after the push; returns whether the forge was (or would be) changed.

        PLAN holds the run's lists (created, updated, forced, conflicts, removed_by_user,
        taken_over). In check mode the planned files are not committed, so they are added to what
        the branch already changes against the base.
        """
        base_ref = f"refs/remotes/origin/{self.base}"
        if base_exists:
            created, updated, deleted = _diff(git, base_ref, "HEAD") if git.rev("HEAD") else ([], [], [])
        else:
            created, updated, deleted = [], [], []
        if self.check_mode:
            for path in plan.get("created", []) + plan.get("updated", []) + plan.get("forced", []):
                if path in created or path in updated:
                    continue
                exists = base_exists and _has_path(git, base_ref, path)
                (updated if exists else created).append(path)
        open_pr = self.found.open
        if not (created or updated or deleted):
            # nothing to propose: the base holds everything (typically: the pull request was merged)
            shown = open_pr or self.found.latest
            self.result = shown.public(created=False, updated=False) if shown else None
            return False

        state = read_state(open_pr.body) if open_pr else {}
        root_file = f"{_layout.cluster_path(cluster)}/{_layout.KUSTOMIZATION}"
        previous = state.get(cluster, {})
        entry = {"action": "update" if base_exists and _has_path(git, base_ref, root_file) else "bootstrap",
                 "environment": environment}
        for key in ("conflicts", "removed_by_user", "taken_over"):
            entry[key] = sorted(set(plan.get(key) or []))
        # forced is an event of the run that wrote: a later run that writes nothing keeps it
        entry["forced"] = sorted(set(plan.get("forced") or [])) if plan.get("forced") else previous.get("forced", [])
        state[cluster] = entry
        title = self.p.get("pull_request_title") or default_title(state)
        body = render_body(clusters=state, created=created, updated=updated, deleted=deleted, base=self.base,
                           head=self.head, term=self.pulls.term)
        labels = list(dict.fromkeys(self.p.get("pull_request_labels") or []))
        where = f"{self.pulls.term} of '{self.head}' into '{self.base}' on {self.repo.full_name}"
        try:
            if open_pr is None:
                self.body_diff = {"before_header": f"{self.pulls.term} (none open)", "before": "",
                                  "after_header": f"new {self.pulls.term}: {title}", "after": body}
                if self.check_mode:
                    self.result = {"number": None, "url": None, "state": OPEN, "title": title, "head": self.head,
                                   "base": self.base, "labels": labels, "mergeable": None, "created": True,
                                   "updated": False}
                    return True
                pr = self._create(title, body, labels)
                self.result = pr.public(created=True, updated=False)
                return True
            new_title = None if open_pr.title == title else title
            new_body = None if _same_text(open_pr.body, body) else body
            add = [lb for lb in labels if lb not in open_pr.labels]
            if new_title is None and new_body is None and not add:
                self.result = open_pr.public(created=False, updated=False)
                return False
            self.body_diff = {"before_header": f"{self.pulls.term} #{open_pr.number}: {open_pr.title}",
                              "before": open_pr.body, "after_header": f"{self.pulls.term} #{open_pr.number}: {title}",
                              "after": body}
            if self.check_mode:
                shown = open_pr.public(created=False, updated=True)
                shown.update(title=title, labels=sorted(set(open_pr.labels) | set(add)))
                self.result = shown
                return True
            pr = self.pulls.update(self.repo, open_pr, title=new_title, body=new_body, add_labels=add)
            self.result = pr.public(created=False, updated=True)
            return True
        except ForgeError as exc:
            doing = f"{'opening' if open_pr is None else 'updating'} the {where}"
            if not self.check_mode:
                doing = f"the branch '{self.head}' is on the forge, but {doing} failed (re-run to retry)"
            raise self._fail(exc, doing) from None
