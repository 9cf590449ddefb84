# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pull requests (GitLab: merge requests) of a repository's own branches, on each forge.

What ``infra_repo`` needs to propose its commits for review: find the pull request of a head
branch into a base branch (the open one, or else the latest merged or closed one), open one,
change its title and body, add labels. Every forge's answer is normalised to
:class:`PullRequest`; the state is ``open``, ``merged`` or ``closed`` everywhere.

Only pull requests whose head is a branch of the repository itself are considered (never a
fork's branch of the same name). Each implementation uses the provider's JSON client, so the
bounded timeouts, error translation and secret masking of ``http`` apply to every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import RepoInfo
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeAPIError,
    ForgeConflictError,
    JsonClient,
)

OPEN, MERGED, CLOSED = "open", "merged", "closed"
# Colour of the labels created on Gitea (GitHub and GitLab create missing labels themselves).
LABEL_COLOR = "#0e8a16"
MAX_PAGES = 20


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


class PullRequests:
    """Interface; ``api`` is the provider's JSON client."""

    term = "pull request"

    def __init__(self, api: JsonClient):
        self.api = api

    def find(self, repo: RepoInfo, head: str, base: str) -> Found:
        raise NotImplementedError

    def create(self, repo: RepoInfo, head: str, base: str, title: str, body: str, labels: list[str]) -> PullRequest:
        raise NotImplementedError

    def update(self, repo: RepoInfo, pr: PullRequest, *, title: str | None, body: str | None,
               add_labels: list[str]) -> PullRequest:
        raise NotImplementedError


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


# ---------------------------------------------------------------------------- Gitea

class GiteaPullRequests(PullRequests):
    """Gitea 1.26 ``/repos/{owner}/{repo}/pulls``; labels are referred to by id, missing ones are created."""

    def _path(self, repo: RepoInfo) -> str:
        return f"/repos/{quote(repo.owner, safe='')}/{quote(repo.name, safe='')}"

    def _pr(self, data: dict) -> PullRequest:
        head, base = data.get("head") or {}, data.get("base") or {}
        if data.get("merged"):
            state = MERGED
        else:
            state = OPEN if data.get("state") == "open" else CLOSED
        return PullRequest(
            number=int(data.get("number") or 0), url=data.get("html_url") or "", state=state,
            title=data.get("title") or "", body=data.get("body") or "", head=head.get("ref") or "",
            base=base.get("ref") or "", head_sha=head.get("sha") or "",
            labels=[lb.get("name") for lb in data.get("labels") or [] if lb.get("name")],
            mergeable=data.get("mergeable") if state == OPEN else None, raw=data)

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
        try:
            data = self.api.request("POST", f"{self._path(repo)}/pulls", body=payload).data or {}
        except ForgeConflictError as exc:
            raise ForgeConflictError(
                f"Gitea refused to open a pull request from '{head}' into '{base}' of {repo.full_name}: {exc.msg}. "
                "Another run may have opened it at the same moment: re-run to update that one",
                status=exc.status) from exc
        return self._pr(data)

    def update(self, repo, pr, *, title, body, add_labels) -> PullRequest:
        data = pr.raw
        payload = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
        if payload:
            data = self.api.request("PATCH", f"{self._path(repo)}/pulls/{pr.number}", body=payload).data or {}
        if add_labels:
            self.api.request("POST", f"{self._path(repo)}/issues/{pr.number}/labels",
                             body={"labels": self._label_ids(repo, add_labels)})
            data = self.api.request("GET", f"{self._path(repo)}/pulls/{pr.number}").data or {}
        return self._pr(data)


# ---------------------------------------------------------------------------- GitHub

class GitHubPullRequests(PullRequests):
    """GitHub REST ``/repos/{owner}/{repo}/pulls``; labels by name (GitHub creates missing ones)."""

    def _path(self, repo: RepoInfo) -> str:
        return f"/repos/{quote(repo.owner, safe='')}/{quote(repo.name, safe='')}"

    def _pr(self, data: dict) -> PullRequest:
        head, base = data.get("head") or {}, data.get("base") or {}
        if data.get("merged_at") or data.get("merged"):
            state = MERGED
        else:
            state = OPEN if data.get("state") == "open" else CLOSED
        return PullRequest(
            number=int(data.get("number") or 0), url=data.get("html_url") or "", state=state,
            title=data.get("title") or "", body=data.get("body") or "", head=head.get("ref") or "",
            base=base.get("ref") or "", head_sha=head.get("sha") or "",
            labels=[lb.get("name") for lb in data.get("labels") or [] if lb.get("name")],
            mergeable=data.get("mergeable") if state == OPEN else None, raw=data)

    def find(self, repo, head, base) -> Found:
        # head=owner:branch selects the repository's own branch, never a fork's of the same name
        query = {"state": "all", "head": f"{repo.owner}:{head}", "base": base, "sort": "created",
                 "direction": "desc", "per_page": 100}
        items = [self._pr(d) for d in self.api.request("GET", f"{self._path(repo)}/pulls", query=query).data or []
                 if (d.get("head") or {}).get("ref") == head]
        return Found(open=next((pr for pr in items if pr.state == OPEN), None),
                     latest=max(items, key=lambda pr: pr.number) if items else None)

    def _add_labels(self, repo: RepoInfo, number: int, labels: list[str]) -> list[str]:
        data = self.api.request("POST", f"{self._path(repo)}/issues/{number}/labels", body={"labels": labels}).data
        return [lb.get("name") for lb in data or [] if isinstance(lb, dict) and lb.get("name")]

    def create(self, repo, head, base, title, body, labels) -> PullRequest:
        try:
            data = self.api.request("POST", f"{self._path(repo)}/pulls", body={
                "title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": False}).data or {}
        except ForgeConflictError as exc:
            raise ForgeConflictError(
                f"GitHub refused to open a pull request from '{head}' into '{base}' of {repo.full_name}: {exc.msg}. "
                "An open pull request of that branch may exist already (re-run to update it), or the branch holds "
                "no commit that is not in the base", status=exc.status) from exc
        pr = self._pr(data)
        if labels:
            pr.labels = self._add_labels(repo, pr.number, labels)
        return pr

    def update(self, repo, pr, *, title, body, add_labels) -> PullRequest:
        payload = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
        new = pr
        if payload:
            new = self._pr(self.api.request("PATCH", f"{self._path(repo)}/pulls/{pr.number}", body=payload).data or {})
        if add_labels:
            new.labels = self._add_labels(repo, pr.number, add_labels)
        return new


# ---------------------------------------------------------------------------- GitLab

class GitLabMergeRequests(PullRequests):
    """GitLab REST ``/projects/:id/merge_requests``; labels by name (GitLab creates missing ones)."""

    term = "merge request"

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
            head_sha=data.get("sha") or "", labels=list(data.get("labels") or []), mergeable=mergeable, raw=data)

    def find(self, repo, head, base) -> Found:
        query = {"source_branch": head, "target_branch": base, "state": "all", "order_by": "created_at",
                 "sort": "desc", "per_page": 100}
        items = [self._pr(d) for d in
                 self.api.request("GET", f"/projects/{repo.id}/merge_requests", query=query).data or []
                 if d.get("source_project_id") in (None, repo.id) and d.get("source_branch") == head]
        return Found(open=next((pr for pr in items if pr.state == OPEN), None),
                     latest=max(items, key=lambda pr: pr.number) if items else None)

    def create(self, repo, head, base, title, body, labels) -> PullRequest:
        payload: dict[str, Any] = {"source_branch": head, "target_branch": base, "title": title,
                                   "description": body, "remove_source_branch": False}
        if labels:
            payload["labels"] = ",".join(labels)
        try:
            data = self.api.request("POST", f"/projects/{repo.id}/merge_requests", body=payload).data or {}
        except ForgeConflictError as exc:
            raise ForgeConflictError(
                f"GitLab refused to open a merge request from '{head}' into '{base}' of {repo.full_name}: {exc.msg}. "
                "An open merge request of that branch may exist already: re-run to update it",
                status=exc.status) from exc
        return self._pr(data)

    def update(self, repo, pr, *, title, body, add_labels) -> PullRequest:
        payload: dict[str, Any] = {}
        if title is not None:
            payload["title"] = title
        if body is not None:
            payload["description"] = body
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
