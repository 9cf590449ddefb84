# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pull requests (GitLab: merge requests) of a repository's own branches, on each forge.

What ``infra_repo`` needs to propose its commits for review: find the pull request of a head
branch into a base branch (the open one, or else the latest merged or closed one), open one,
change its title and body, add labels. Every forge's answer is normalised to
:class:`PullRequest`; the state is ``open``, ``merged`` or ``closed`` everywhere.

What a plan pipeline needs to report on a pull request (see the interface in ``base``): read
one pull request by its number, keep ONE comment of its own up to date (found again by a
hidden marker), and set a commit status on the head commit. The validation and the
read-compare-write logic of these live in :class:`PullRequests`; each forge only maps the
calls and the answers.

Only pull requests whose head is a branch of the repository itself are considered (never a
fork's branch of the same name). Each implementation uses the provider's JSON client, so the
bounded timeouts, error translation and secret masking of ``http`` apply to every call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import RepoInfo
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeAPIError, ForgeConflictError, ForgeInputError, ForgeNotFoundError, ForgePermissionError, JsonClient)

OPEN, MERGED, CLOSED = "open", "merged", "closed"
# Colour of the labels created on Gitea (GitHub and GitLab create missing labels themselves).
LABEL_COLOR = "#0e8a16"
MAX_PAGES = 20
# Commit status states of the interface (each forge maps them to its own words).
STATUS_STATES = ("pending", "success", "failure", "error")
# The longest status description every forge keeps (GitHub's limit); longer ones are cut.
STATUS_DESCRIPTION_MAX = 140
_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_MARKER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,99}")


@dataclass
class PullRequest:
    number: int
    url: str
    state: str                      # open | merged | closed
    title: str = ""
    body: str = ""
    head: str = ""
    base: str = ""
    head_sha: str = ""
    base_sha: str = ""
    labels: list[str] = field(default_factory=list)
    mergeable: bool | None = None   # None: not known (yet)
    raw: dict = field(default_factory=dict, repr=False)

    def public(self, *, created: bool, updated: bool) -> dict:
        return {"number": self.number, "url": self.url, "state": self.state, "title": self.title,
                "head": self.head, "base": self.base, "labels": list(self.labels),
                "mergeable": self.mergeable, "created": created, "updated": updated}


@dataclass
class Found:
    """The pull requests of a head branch: the open one, and the latest of any state."""

    open: PullRequest | None = None
    latest: PullRequest | None = None

    @classmethod
    def of(cls, items: list[PullRequest]) -> "Found":
        """From the pull requests of one head branch, any order."""
        return cls(open=next((pr for pr in items if pr.state == OPEN), None),
                   latest=max(items, key=lambda pr: pr.number) if items else None)


@dataclass
class Comment:
    """A comment of a pull request; ``action`` says what ``upsert_comment`` did to it."""

    id: Any
    url: str
    body: str
    author: str = ""
    action: str = "unchanged"       # created | updated | unchanged
    author_type: str = field(default="", repr=False)   # GitHub: User or Bot

    def view(self) -> dict:
        return {"id": self.id, "url": self.url, "author": self.author, "action": self.action}


@dataclass
class CommitStatus:
    """The latest status of one context on one commit, in the interface's words."""

    sha: str
    context: str
    state: str                      # pending | success | failure | error
    description: str = ""
    target_url: str = ""
    changed: bool = False           # set_commit_status wrote it (False: the forge had it already)

    def view(self) -> dict:
        return {"sha": self.sha, "context": self.context, "state": self.state, "description": self.description,
                "target_url": self.target_url, "changed": self.changed}


def marker_line(marker: str) -> str:
    """The hidden first line that identifies a comment (an HTML comment: not rendered)."""
    if not isinstance(marker, str) or not _MARKER_RE.fullmatch(marker):
        raise ForgeInputError(
            f"comment marker {marker!r} is not usable: give 1 to 100 characters of letters, digits and . _ : / @ + = - "
            "(starting with a letter or digit), e.g. 'gitops-plan:dev'; it identifies the one comment to update")
    return f"<!-- {marker} -->"


def _same_text(a: str | None, b: str | None) -> bool:
    """Bodies compare without the forge's line-ending and trailing-space changes."""
    def norm(text):
        return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n")).strip()
    return norm(a) == norm(b)


def check_status(sha: str, state: str, context: str, description: str | None,
                 target_url: str | None) -> tuple[str, str, str]:
    """Refuse a status the forges would reject or misread; returns (sha, description, target URL) as written.

    None and "" both mean no description or no URL (a forge answers "" or null for either).
    """
    target_url = target_url or ""
    sha = (sha or "").strip().lower()
    if not _SHA_RE.fullmatch(sha):
        raise ForgeInputError(f"commit {sha!r} is not a full commit id (40 or 64 hexadecimal characters): a status "
                              "is set on one exact commit, never on a branch name or an abbreviation")
    if state not in STATUS_STATES:
        raise ForgeInputError(f"commit status state {state!r} is not one of {', '.join(STATUS_STATES)}")
    if not context or context != context.strip() or len(context) > 255 or "\n" in context:
        raise ForgeInputError(f"commit status context {context!r} must be a non-empty name of at most 255 characters "
                              "without surrounding spaces (it is the name a branch protection requires)")
    if target_url:
        parts = urlsplit(target_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ForgeInputError(f"commit status target_url {target_url!r} is not an http:// or https:// URL")
        if parts.username or parts.password:
            raise ForgeInputError("commit status target_url must not carry credentials")
    description = " ".join((description or "").split())
    if len(description) > STATUS_DESCRIPTION_MAX:
        description = description[:STATUS_DESCRIPTION_MAX - 1] + "\u2026"
    return sha, description, target_url


class PullRequests:
    """Interface; ``api`` is the provider's JSON client.

    A forge implements ``find``, ``create``, ``update`` and the small mapping methods below
    (``_get_pull``, ``_login``, ``_comments``, ``_add_comment``, ``_edit_comment``,
    ``_latest_status``, ``_status_path``); ``get``, ``upsert_comment`` and ``set_status`` are
    written once here.
    """

    term = "pull request"
    label = "the forge"
    # interface state -> the forge's word for it
    status_words = {state: state for state in STATUS_STATES}
    # False: the forge cannot change the description or URL of a status without a new state
    status_rewritable = True
    status_name_key = "context"       # the field that names a status's context

    def __init__(self, api: JsonClient):
        self.api = api

    def find(self, repo: RepoInfo, head: str, base: str) -> Found:
        raise NotImplementedError

    def create(self, repo: RepoInfo, head: str, base: str, title: str, body: str, labels: list[str]) -> PullRequest:
        raise NotImplementedError

    def update(self, repo: RepoInfo, pr: PullRequest, *, title: str | None, body: str | None,
               add_labels: list[str]) -> PullRequest:
        raise NotImplementedError

    def _open(self, repo: RepoInfo, head: str, base: str, path: str, payload: dict, hint: str) -> dict:
        """POST the new pull request; a refusal says which branches and what to do (HINT)."""
        try:
            return self.api.request("POST", path, body=payload).data or {}
        except ForgeConflictError as exc:
            raise ForgeConflictError(
                f"{self.label} refused to open a {self.term} from '{head}' into '{base}' of {repo.full_name}: "
                f"{exc.msg}. {hint}", status=exc.status) from exc

    # -- reading one pull request -----------------------------------------------------------

    def get(self, repo: RepoInfo, number: int) -> PullRequest:
        """Pull request NUMBER of REPO (any state); ``ForgeNotFoundError`` when there is none."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ForgeInputError(f"{self.term} number {number!r} is not a positive whole number")
        try:
            return self._get_pull(repo, number)
        except ForgeNotFoundError as exc:
            raise ForgeNotFoundError(
                f"{repo.full_name} has no {self.term} #{number} on {self.label} (or the token cannot see it): check "
                f"the number the pipeline was given ({exc.msg})", status=exc.status) from exc

    # -- the one comment of a marker -------------------------------------------------------

    def upsert_comment(self, repo: RepoInfo, number: int, marker: str, body: str) -> Comment:
        """Create the comment of MARKER on pull request NUMBER, or update it in place (never a second one).

        The comment found again is the oldest one written by the token's user whose text holds the
        marker's hidden line; comments of other users are never edited, even when they quote it.
        """
        line = marker_line(marker)
        if not (body or "").strip():
            raise ForgeInputError("the comment body is empty; give the text to show on the "
                                  f"{self.term} (an empty body never clears or removes the comment)")
        text = f"{line}\n{body}"
        self.get(repo, number)
        me = self._login()
        for comment in self._comments(repo, number):
            if line not in (comment.body or "") or not self._mine(comment, me):
                continue
            if _same_text(comment.body, text):
                comment.action = "unchanged"
                return comment
            try:
                edited = self._edit_comment(repo, number, comment, text)
            except ForgePermissionError as exc:
                raise ForgePermissionError(
                    f"{self.label} refused to update comment {comment.id} on {self.term} #{number} of "
                    f"{repo.full_name} ({exc.msg}); the token needs the right to write comments", status=exc.status
                ) from exc
            edited.action = "updated"
            return edited
        made = self._add_comment(repo, number, text)
        made.action = "created"
        return made

    def _mine(self, comment: Comment, me: str | None) -> bool:
        return me is not None and _same(comment.author, me)

    # -- commit statuses -------------------------------------------------------------------

    def set_status(self, repo: RepoInfo, sha: str, state: str, context: str, description: str = "",
                   target_url: str = "") -> CommitStatus:
        """Set the status of CONTEXT on commit SHA; nothing is written when the forge has it already."""
        sha, description, target_url = check_status(sha, state, context, description, target_url)
        live = self._latest_status(repo, sha, context)
        if live is not None and self.status_words[state] == self.status_words[live.state]:
            if not self.status_rewritable or (live.description == description and live.target_url == target_url):
                return live
        written = self._post_status(repo, sha, self.status_words[state], context, description, target_url)
        written.changed = True
        return written

    def _state_of(self, word: str) -> str:
        """The interface state of one of the forge's words (unknown words read as error)."""
        for state, native in self.status_words.items():
            if native == word:
                return state
        return "pending" if word in ("running", "created", "waiting_for_resource", "preparing", "scheduled") else "error"

    # -- per forge -------------------------------------------------------------------------

    def _get_pull(self, repo: RepoInfo, number: int) -> PullRequest:
        raise NotImplementedError

    def _login(self) -> str | None:
        raise NotImplementedError

    def _comments(self, repo: RepoInfo, number: int) -> list[Comment]:
        raise NotImplementedError

    def _add_comment(self, repo: RepoInfo, number: int, text: str) -> Comment:
        raise NotImplementedError

    def _edit_comment(self, repo: RepoInfo, number: int, comment: Comment, text: str) -> Comment:
        raise NotImplementedError

    def _latest_status(self, repo: RepoInfo, sha: str, context: str) -> CommitStatus | None:
        raise NotImplementedError

    def _status_path(self, repo: RepoInfo, sha: str) -> str:
        """Where a status of SHA is POSTed."""
        raise NotImplementedError

    def _status(self, data: dict, sha: str, context: str) -> CommitStatus:
        # Gitea and GitLab name the state "status" in their answers, GitHub "state"
        word = data.get("state") or data.get("status") or ""
        return CommitStatus(sha, data.get(self.status_name_key) or context, self._state_of(word),
                            data.get("description") or "", data.get("target_url") or "")

    def _post_status(self, repo: RepoInfo, sha: str, word: str, context: str, description: str,
                     target_url: str) -> CommitStatus:
        body = {"state": word, self.status_name_key: context, "description": description}
        if target_url:
            body["target_url"] = target_url
        return self._status(self.api.request("POST", self._status_path(repo, sha), body=body).data or {}, sha, context)


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


def _edits(**fields) -> dict:
    """The fields of an update that are given (None: left as it is)."""
    return {k: v for k, v in fields.items() if v is not None}


# ---------------------------------------------------------------------------- Gitea and GitHub

class ReposPullRequests(PullRequests):
    """What Gitea and GitHub share: ``/repos/{owner}/{repo}`` paths, pull request objects with
    ``head``/``base`` refs, issue comments, and commit statuses under ``/statuses/{sha}`` read
    back from the combined status of ``/commits/{sha}/status`` (latest per context)."""

    page_size = ("per_page", 100)     # the query parameter and size of a page of this forge

    def _path(self, repo: RepoInfo) -> str:
        return f"/repos/{quote(repo.owner, safe='')}/{quote(repo.name, safe='')}"

    def _pr(self, data: dict) -> PullRequest:
        head, base = data.get("head") or {}, data.get("base") or {}
        if data.get("merged") or data.get("merged_at"):
            state = MERGED
        else:
            state = OPEN if data.get("state") == "open" else CLOSED
        return PullRequest(
            number=int(data.get("number") or 0), url=data.get("html_url") or "", state=state,
            title=data.get("title") or "", body=data.get("body") or "", head=head.get("ref") or "",
            base=base.get("ref") or "", head_sha=head.get("sha") or "", base_sha=base.get("sha") or "",
            labels=[lb.get("name") for lb in data.get("labels") or [] if lb.get("name")],
            mergeable=data.get("mergeable") if state == OPEN else None, raw=data)

    def _get_pull(self, repo, number) -> PullRequest:
        return self._pr(self.api.request("GET", f"{self._path(repo)}/pulls/{number}").data or {})

    def _login(self) -> str | None:
        return (self.api.request("GET", "/user").data or {}).get("login")

    def _comment(self, data: dict) -> Comment:
        user = data.get("user") or {}
        return Comment(data.get("id"), data.get("html_url") or "", data.get("body") or "", user.get("login") or "",
                       author_type=user.get("type") or "")

    def _add_comment(self, repo, number, text) -> Comment:
        return self._comment(self.api.request("POST", f"{self._path(repo)}/issues/{number}/comments",
                                              body={"body": text}).data or {})

    def _edit_comment(self, repo, number, comment, text) -> Comment:
        return self._comment(self.api.request("PATCH", f"{self._path(repo)}/issues/comments/{comment.id}",
                                              body={"body": text}).data or {})

    def _latest_status(self, repo, sha, context) -> CommitStatus | None:
        size_param, size = self.page_size
        for page in range(1, MAX_PAGES + 1):
            data = self.api.request("GET", f"{self._path(repo)}/commits/{sha}/status",
                                    query={"page": page, size_param: size}).data or {}
            batch = (data.get("statuses") or []) if isinstance(data, dict) else []
            for item in batch:
                if item.get("context") == context:
                    return self._status(item, sha, context)
            if len(batch) < size:
                return None
        raise ForgeAPIError(f"more than {MAX_PAGES * size} status contexts on commit {sha}; refusing to read on")

    def _status_path(self, repo, sha) -> str:
        return f"{self._path(repo)}/statuses/{sha}"


class GiteaPullRequests(ReposPullRequests):
    """Gitea 1.26 ``/repos/{owner}/{repo}/pulls``; labels are referred to by id, missing ones are created.

    ``base_sha`` is the merge base Gitea computed for the pull request.
    """

    label = "Gitea"
    page_size = ("limit", 50)         # Gitea's maximum

    def _ours(self, data: dict, repo: RepoInfo, head: str) -> bool:
        ref = data.get("head") or {}
        return ref.get("ref") == head and _same(((ref.get("repo") or {}).get("full_name")), repo.full_name)

    def _first(self, repo: RepoInfo, head: str, base: str, state: str, sort: str | None) -> PullRequest | None:
        """The first pull request of HEAD in Gitea's order (pages of 50, Gitea's maximum)."""
        for page in range(1, MAX_PAGES + 1):
            query = {"state": state, "base_branch": base, "page": page, "limit": 50}
            if sort:
                query["sort"] = sort
            batch = self.api.request("GET", f"{self._path(repo)}/pulls", query=query).data or []
            for data in batch:
                if self._ours(data, repo, head):
                    return self._pr(data)
            if len(batch) < 50:
                return None
        raise ForgeAPIError(f"more than {MAX_PAGES * 50} {state} pull requests into '{base}' on Gitea; "
                            "refusing to read on")

    def find(self, repo: RepoInfo, head: str, base: str) -> Found:
        found = Found(open=self._first(repo, head, base, "open", None))
        # The latest closed one is the one Gitea closed last (merged pull requests are closed too).
        closed = self._first(repo, head, base, "closed", "recentclose")
        candidates = [pr for pr in (found.open, closed) if pr is not None]
        found.latest = max(candidates, key=lambda pr: pr.number) if candidates else None
        return found

    def _label_ids(self, repo: RepoInfo, names: list[str]) -> list[int]:
        if not names:
            return []
        live = self.api.get_pages(f"{self._path(repo)}/labels", size_param="limit", size=50)
        by_name = {lb.get("name"): lb.get("id") for lb in live}
        ids = []
        for name in names:
            if name not in by_name:
                made = self.api.request("POST", f"{self._path(repo)}/labels", body={
                    "name": name, "color": LABEL_COLOR,
                    "description": "Changes proposed by gitops.bootstrap"}).data or {}
                by_name[name] = made.get("id")
            ids.append(by_name[name])
        return ids

    def create(self, repo, head, base, title, body, labels) -> PullRequest:
        payload: dict[str, Any] = {"head": head, "base": base, "title": title, "body": body}
        ids = self._label_ids(repo, labels)
        if ids:
            payload["labels"] = ids
        data = self._open(repo, head, base, f"{self._path(repo)}/pulls", payload,
                          "Another run may have opened it at the same moment: re-run to update that one")
        return self._pr(data)

    def _comments(self, repo, number) -> list[Comment]:
        # Gitea lists every comment of an issue in one answer (the endpoint has no pages)
        items = self.api.request("GET", f"{self._path(repo)}/issues/{number}/comments").data or []
        return sorted((self._comment(c) for c in items), key=lambda c: c.id or 0)

    def update(self, repo, pr, *, title, body, add_labels) -> PullRequest:
        data = pr.raw
        payload = _edits(title=title, body=body)
        if payload:
            data = self.api.request("PATCH", f"{self._path(repo)}/pulls/{pr.number}", body=payload).data or {}
        if add_labels:
            self.api.request("POST", f"{self._path(repo)}/issues/{pr.number}/labels",
                             body={"labels": self._label_ids(repo, add_labels)})
            data = self.api.request("GET", f"{self._path(repo)}/pulls/{pr.number}").data or {}
        return self._pr(data)


class GitHubPullRequests(ReposPullRequests):
    """GitHub REST ``/repos/{owner}/{repo}/pulls``; labels by name (GitHub creates missing ones).

    Comments are the pull request's issue comments. ``base_sha`` is the base branch's commit
    GitHub recorded when the pull request was last updated. A token that may not read ``/user``
    (an integration's) finds its comment among those written by bot accounts.
    """

    label = "GitHub"

    def find(self, repo, head, base) -> Found:
        # head=owner:branch selects the repository's own branch, never a fork's of the same name
        query = {"state": "all", "head": f"{repo.owner}:{head}", "base": base, "sort": "created",
                 "direction": "desc", "per_page": 100}
        return Found.of([self._pr(d) for d in self.api.request("GET", f"{self._path(repo)}/pulls", query=query).data or []
                         if (d.get("head") or {}).get("ref") == head])

    def _add_labels(self, repo: RepoInfo, number: int, labels: list[str]) -> list[str]:
        data = self.api.request("POST", f"{self._path(repo)}/issues/{number}/labels", body={"labels": labels}).data
        return [lb.get("name") for lb in data or [] if isinstance(lb, dict) and lb.get("name")]

    def create(self, repo, head, base, title, body, labels) -> PullRequest:
        data = self._open(repo, head, base, f"{self._path(repo)}/pulls",
                          {"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": False},
                          "An open pull request of that branch may exist already (re-run to update it), or the branch "
                          "holds no commit that is not in the base")
        pr = self._pr(data)
        if labels:
            pr.labels = self._add_labels(repo, pr.number, labels)
        return pr

    def _login(self) -> str | None:
        try:
            return super()._login()
        except ForgePermissionError:
            # an integration's token (GitHub Actions, a GitHub App) may not read /user: its comments are a bot's
            return None

    def _mine(self, comment: Comment, me: str | None) -> bool:
        if me is None:
            return comment.author_type == "Bot"
        return _same(comment.author, me)

    def _comments(self, repo, number) -> list[Comment]:
        items = self.api.get_pages(f"{self._path(repo)}/issues/{number}/comments", max_pages=MAX_PAGES)
        return [self._comment(c) for c in items]

    def update(self, repo, pr, *, title, body, add_labels) -> PullRequest:
        payload = _edits(title=title, body=body)
        new = pr
        if payload:
            new = self._pr(self.api.request("PATCH", f"{self._path(repo)}/pulls/{pr.number}", body=payload).data or {})
        if add_labels:
            new.labels = self._add_labels(repo, pr.number, add_labels)
        return new


# ---------------------------------------------------------------------------- GitLab

class GitLabMergeRequests(PullRequests):
    """GitLab REST ``/projects/:id/merge_requests``; labels by name (GitLab creates missing ones).

    Comments are the merge request's notes (system notes are never ours). ``base_sha`` is
    ``diff_refs.base_sha``, the merge base (empty while GitLab is still computing it). GitLab
    says ``failed`` for both failure and error, and cannot move a status to the state it
    already has: a status in the wanted state is left as it is (its description and URL too).
    """

    term = "merge request"
    label = "GitLab"
    status_words = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed"}
    status_rewritable = False
    status_name_key = "name"

    def _pr(self, data: dict) -> PullRequest:
        raw_state = data.get("state")
        state = {"merged": MERGED, "closed": CLOSED}.get(raw_state, OPEN)   # opened, locked (being merged)
        mergeable = None
        if state == OPEN:
            if data.get("has_conflicts"):
                mergeable = False
            elif data.get("detailed_merge_status") == "mergeable":
                mergeable = True
        return PullRequest(
            number=int(data.get("iid") or 0), url=data.get("web_url") or "", state=state,
            title=data.get("title") or "", body=data.get("description") or "",
            head=data.get("source_branch") or "", base=data.get("target_branch") or "",
            head_sha=data.get("sha") or "", base_sha=(data.get("diff_refs") or {}).get("base_sha") or "",
            labels=list(data.get("labels") or []), mergeable=mergeable, raw=data)

    def find(self, repo, head, base) -> Found:
        query = {"source_branch": head, "target_branch": base, "state": "all", "order_by": "created_at",
                 "sort": "desc", "per_page": 100}
        return Found.of([self._pr(d) for d in
                         self.api.request("GET", f"/projects/{repo.id}/merge_requests", query=query).data or []
                         if d.get("source_project_id") in (None, repo.id) and d.get("source_branch") == head])

    def create(self, repo, head, base, title, body, labels) -> PullRequest:
        payload: dict[str, Any] = {"source_branch": head, "target_branch": base, "title": title,
                                   "description": body, "remove_source_branch": False}
        if labels:
            payload["labels"] = ",".join(labels)
        return self._pr(self._open(repo, head, base, f"/projects/{repo.id}/merge_requests", payload,
                                   "An open merge request of that branch may exist already: re-run to update it"))

    def _get_pull(self, repo, number) -> PullRequest:
        return self._pr(self.api.request("GET", f"/projects/{repo.id}/merge_requests/{number}").data or {})

    def _login(self) -> str | None:
        return (self.api.request("GET", "/user").data or {}).get("username")

    def _note(self, data: dict, number: int, repo: RepoInfo) -> Comment:
        url = f"{repo.html_url}/-/merge_requests/{number}#note_{data.get('id')}" if repo.html_url else ""
        return Comment(data.get("id"), url, data.get("body") or "", (data.get("author") or {}).get("username") or "")

    def _comments(self, repo, number) -> list[Comment]:
        items = self.api.get_pages(f"/projects/{repo.id}/merge_requests/{number}/notes", max_pages=MAX_PAGES,
                                   query={"sort": "asc", "order_by": "created_at"})
        return [self._note(n, number, repo) for n in items if not n.get("system")]

    def _add_comment(self, repo, number, text) -> Comment:
        return self._note(self.api.request("POST", f"/projects/{repo.id}/merge_requests/{number}/notes",
                                           body={"body": text}).data or {}, number, repo)

    def _edit_comment(self, repo, number, comment, text) -> Comment:
        return self._note(self.api.request("PUT", f"/projects/{repo.id}/merge_requests/{number}/notes/{comment.id}",
                                           body={"body": text}).data or {}, number, repo)

    def _latest_status(self, repo, sha, context) -> CommitStatus | None:
        items = self.api.request("GET", f"/projects/{repo.id}/repository/commits/{sha}/statuses",
                                 query={"name": context, "per_page": 100}).data or []
        ours = [i for i in items if i.get("name") == context]
        if not ours:
            return None
        return self._status(max(ours, key=lambda i: i.get("id") or 0), sha, context)

    def _status_path(self, repo, sha) -> str:
        return f"/projects/{repo.id}/statuses/{sha}"

    def update(self, repo, pr, *, title, body, add_labels) -> PullRequest:
        payload: dict[str, Any] = _edits(title=title, description=body)
        if add_labels:
            payload["add_labels"] = ",".join(add_labels)
        if not payload:
            return pr
        return self._pr(self.api.request("PUT", f"/projects/{repo.id}/merge_requests/{pr.number}",
                                         body=payload).data or {})


def pull_requests_for(provider) -> PullRequests:
    """The pull request operations of a provider built by ``runner.build_provider``."""
    kinds = {"gitea": GiteaPullRequests, "github": GitHubPullRequests, "gitlab": GitLabMergeRequests}
    return kinds[provider.forge](provider.api)
