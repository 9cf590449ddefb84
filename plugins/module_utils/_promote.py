# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Promotion of one application from one environment to the next (module gitops_promote).

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

The pure part of the promotion, tested without a cluster or a forge:

- ``Layout``: what a revision of the infra repository says: the environments in promotion order
  (``.gitops/validate.yaml``), the environment of every cluster (``.gitops/clusters/<c>.yaml``),
  and the Argo CD Applications of each cluster folder (``clusters/<c>/apps/``), which say which
  overlay a cluster runs (their ``source.path`` or ``sources[].path``; never a guess from names).
- pins: what an overlay pins of its application: ``images`` (by name: newName, newTag, digest)
  and ``helmCharts`` (by name: version, repo, valuesInline, valuesFile). ``carry_pins`` writes the
  source overlay's pins into the target overlay and leaves what is the target's own (namespace,
  labels, replicas, patches, resources) as it is.
- ``overlay_differences``: every key in which two overlays differ, pins first.
- ``application_problem``: why an Application is not a sound source of a promotion (not Synced,
  not Healthy, or synced at a revision that does not contain the change), in Argo CD's words.
- ``commit_file``: a commit of one changed file on top of a revision, made with git plumbing (no
  working tree is touched), its dates those of the parent so that the same promotion makes the
  same commit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - the module reports it
    HAS_YAML = False

from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold_argocd
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import summarise_application
from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError
from ansible_collections.gitops.bootstrap.plugins.module_utils._git import GitTimeout, isolated_environ, run_process

VALIDATE_CONFIG = ".gitops/validate.yaml"
CLUSTERS_DIR = ".gitops/clusters"
APPLICATION_API = "argoproj.io/v1alpha1"
PIN_KEYS = ("images", "helmCharts")
IMAGE_FIELDS = ("newName", "newTag", "digest")
CHART_FIELDS = ("repo", "version", "valuesInline", "valuesFile", "releaseName")
BODY_MARK = "<!-- gitops.bootstrap:promotion -->"


class PromoteError(GitopsInputError):
    """A promotion that cannot be made: the message says what is wrong and what to do."""


class PromotionRefused(PromoteError):
    """The source environment is not a sound source: its Application's own reason is in the message."""


# ------------------------------------------------------------------------------ the repository
class Repo:
    """A checkout of the infra repository; every git command bounded by ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float = 60.0, runner: Callable[..., Any] = run_process):
        if not os.path.isdir(path):
            raise PromoteError(f"repository {path} does not exist: give the path of a checkout of the infra repository")
        self.path = path
        self.timeout = timeout
        self._run = runner
        self.env = isolated_environ(dict(os.environ), {"GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"})
        if self.git("rev-parse", "--git-dir")[0] != 0:
            raise PromoteError(f"{path} is not a git repository: give the path of a checkout of the infra repository")

    def git(self, *args: str, env: dict | None = None, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        kwargs = {"cwd": self.path, "env": env or self.env, "timeout": self.timeout}
        if stdin is not None:
            kwargs["data"] = stdin
        try:
            return self._run(["git", "-c", "core.quotePath=false", *args], **kwargs)
        except GitTimeout:
            raise PromoteError(f"git {args[0]} in {self.path} did not finish within {self.timeout:g} s; raise the option timeout") from None

    def out(self, *args: str, doing: str, env: dict | None = None, stdin: bytes | None = None) -> str:
        rc, out, err = self.git(*args, env=env, stdin=stdin)
        if rc != 0:
            raise PromoteError(f"{doing} failed in {self.path}: {err.decode(errors='replace').strip()}")
        return out.decode().strip()

    def resolve(self, revision: str) -> str:
        if not isinstance(revision, str) or not revision.strip() or revision.startswith("-"):
            raise PromoteError(f"revision must be a branch, tag or commit SHA, got {revision!r}")
        rc, out, _err = self.git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        if rc != 0:
            raise PromoteError(f"revision {revision!r} does not exist in {self.path}: fetch it first "
                               f"(git fetch origin) or give a commit SHA the checkout has")
        return out.decode().strip()

    def has_commit(self, sha: str) -> bool:
        return self.git("cat-file", "-e", f"{sha}^{{commit}}")[0] == 0

    def read(self, revision: str, path: str) -> str | None:
        rc, out, _err = self.git("show", f"{revision}:{path}")
        return out.decode("utf-8") if rc == 0 else None

    def list_dir(self, revision: str, path: str) -> list[str]:
        rc, out, _err = self.git("ls-tree", "--name-only", "-z", f"{revision}:{path}")
        return sorted(p for p in out.decode("utf-8", "replace").split("\0") if p) if rc == 0 else []

    def last_change(self, revision: str, path: str) -> str | None:
        """The last commit up to REVISION that changed PATH (a file or folder)."""
        sha = self.out("log", "-1", "--format=%H", revision, "--", path, doing=f"git log of {path}")
        return sha or None

    def contains(self, revision: str, commit: str) -> bool:
        """Whether REVISION has COMMIT in its history (or is it)."""
        return self.git("merge-base", "--is-ancestor", commit, revision)[0] == 0


def _load(text: str | None, origin: str) -> dict | None:
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PromoteError(f"{origin} is not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise PromoteError(f"{origin} must be a mapping, got {type(data).__name__}")
    return data or {}


class Layout:
    """The environments, clusters and Applications of the infra repository at one revision."""

    def __init__(self, repo: Repo, revision: str):
        self.repo = repo
        self.revision = revision
        config = _load(repo.read(revision, VALIDATE_CONFIG), VALIDATE_CONFIG)
        if config is None:
            raise PromoteError(f"{VALIDATE_CONFIG} is missing at {revision[:12]}: the promotion order is the "
                               "'environments' list of that file (infra_repo writes it)")
        envs = config.get("environments")
        if not isinstance(envs, list) or not envs or not all(isinstance(e, str) and e for e in envs):
            raise PromoteError(f"{VALIDATE_CONFIG}: 'environments' must be a non-empty list of names, in promotion order")
        self.environments: list[str] = envs
        self.clusters: dict[str, str] = {}
        for name in repo.list_dir(revision, CLUSTERS_DIR):
            if not name.endswith((".yaml", ".yml")):
                continue
            path = f"{CLUSTERS_DIR}/{name}"
            data = _load(repo.read(revision, path), path) or {}
            cluster = data.get("name") or name.rsplit(".", 1)[0]
            if data.get("environment"):
                self.clusters[str(cluster)] = str(data["environment"])

    def check_application(self, app: str) -> None:
        if not isinstance(app, str) or not app.strip():
            raise PromoteError("application is empty: give the name of a folder under apps/")
        apps = self.repo.list_dir(self.revision, "apps")
        if app not in apps:
            raise PromoteError(f"unknown application {app!r}: the repository has {', '.join(apps) or 'no application'} under apps/")

    def check_environment(self, what: str, env: str) -> None:
        if env not in self.environments:
            raise PromoteError(f"unknown {what} environment {env!r}: the promotion order of {VALIDATE_CONFIG} is "
                               f"{' -> '.join(self.environments)}")

    def next_environment(self, source: str) -> str:
        self.check_environment("source", source)
        i = self.environments.index(source)
        if i == len(self.environments) - 1:
            raise PromoteError(f"{source} is the last environment of the promotion order ({' -> '.join(self.environments)}): "
                               "there is nothing to promote it to")
        return self.environments[i + 1]

    def clusters_of(self, env: str) -> list[str]:
        return sorted(c for c, e in self.clusters.items() if e == env)

    def overlay_path(self, app: str, env: str) -> str:
        return L.app_overlay_path(app, env)

    def overlay(self, app: str, env: str) -> tuple[str, dict]:
        """The kustomization file of APP's overlay for ENV and what it holds."""
        folder = self.overlay_path(app, env)
        for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            path = f"{folder}/{name}"
            text = self.repo.read(self.revision, path)
            if text is not None:
                return path, _load(text, path) or {}
        raise PromoteError(f"application {app!r} has no overlay for environment {env!r}: {folder}/kustomization.yaml "
                           "does not exist; create it (infra_repo writes one per environment)")

    def applications(self, cluster: str, path: str) -> list[tuple[str, str]]:
        """(name, namespace) of the Applications of CLUSTER's folder whose source is PATH."""
        found = []
        folder = L.cluster_apps_path(cluster)
        for name in self.repo.list_dir(self.revision, folder):
            if not name.endswith((".yaml", ".yml")):
                continue
            text = self.repo.read(self.revision, f"{folder}/{name}") or ""
            try:
                docs = list(yaml.safe_load_all(text))
            except yaml.YAMLError as exc:
                raise PromoteError(f"{folder}/{name} is not valid YAML: {exc}") from None
            for doc in docs:
                if not isinstance(doc, dict) or doc.get("kind") != "Application":
                    continue
                spec = doc.get("spec") or {}
                sources = [spec.get("source") or {}] + list(spec.get("sources") or [])
                if any(isinstance(s, dict) and str(s.get("path") or "").strip("/") == path for s in sources):
                    meta = doc.get("metadata") or {}
                    found.append((str(meta.get("name")), str(meta.get("namespace") or L.DEFAULT_ARGOCD_NAMESPACE)))
        return found


# ------------------------------------------------------------------------------ pins
def _by_name(entries: Any, what: str, origin: str) -> dict[str, dict]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise PromoteError(f"{origin}: '{what}' must be a list")
    out: dict[str, dict] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise PromoteError(f"{origin}: every entry of '{what}' needs a name")
        out[str(entry["name"])] = entry
    return out


def pins(kustomization: dict, origin: str) -> dict[str, dict[str, dict]]:
    """What an overlay pins: {"images": {name: fields}, "helmCharts": {name: fields}}."""
    images = {name: {k: e[k] for k in IMAGE_FIELDS if k in e} for name, e in _by_name(kustomization.get("images"), "images", origin).items()}
    charts = {name: {k: e[k] for k in CHART_FIELDS if k in e}
              for name, e in _by_name(kustomization.get("helmCharts"), "helmCharts", origin).items()}
    return {"images": images, "helmCharts": charts}


def carry_pins(source: dict, target: dict, source_origin: str, target_origin: str) -> dict:
    """TARGET with the pins of SOURCE: every image and chart of the source, as the source pins it; the
    target's other entries and keys stay as they are."""
    result = dict(target)
    src = pins(source, source_origin)
    fields = {"images": IMAGE_FIELDS, "helmCharts": CHART_FIELDS}
    for key in PIN_KEYS:
        wanted = src[key]
        if not wanted:
            continue
        entries = [dict(e) for e in (target.get(key) or [])]
        _by_name(entries, key, target_origin)
        seen = set()
        for entry in entries:
            name = str(entry["name"])
            if name in wanted:
                seen.add(name)
                for f in fields[key]:
                    entry.pop(f, None)
                entry.update(wanted[name])
        for name, pinned in wanted.items():
            if name not in seen:
                entries.append(dict({"name": name}, **pinned))
        result[key] = entries
    return result


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=True).strip()
    return str(value)


def overlay_differences(source: dict, target: dict, source_origin: str, target_origin: str) -> list[dict]:
    """Every difference of two overlays: pins (per image and chart, per field) first, then other keys."""
    diffs = []
    src, tgt = pins(source, source_origin), pins(target, target_origin)
    labels = {"images": "image", "helmCharts": "chart"}
    for key in PIN_KEYS:
        for name in sorted(set(src[key]) | set(tgt[key])):
            a, b = src[key].get(name, {}), tgt[key].get(name, {})
            for f in sorted(set(a) | set(b)):
                if a.get(f) != b.get(f):
                    diffs.append({"key": f"{key}[{name}].{f}", "what": f"{labels[key]} {name} {f}", "pin": True,
                                  "source": a.get(f), "target": b.get(f)})
    for k in sorted((set(source) | set(target)) - set(PIN_KEYS)):
        if source.get(k) != target.get(k):
            diffs.append({"key": k, "what": k, "pin": False, "source": source.get(k), "target": target.get(k)})
    return diffs


def summary_lines(source: str, target: str, diffs: list[dict]) -> list[str]:
    """One line per difference, as the target has it -> as the source has it."""
    if not diffs:
        return [f"the overlays of {source} and {target} do not differ"]
    return [f"{d['what']}: {_show(d['target'])} -> {_show(d['source'])}{'' if d['pin'] else f' (kept: {target} sets it)'}"
            for d in diffs]


def dump_kustomization(data: dict) -> str:
    """The kustomization as the scaffold writes it (its YAML writer: lists indented, its quoting)."""
    return _scaffold_argocd.dump_object(data)


# ------------------------------------------------------------------------------ the source's state
# Kinds whose conditions say why Argo CD finds them unhealthy (its health checks read the same fields).
CONDITION_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod", "PersistentVolumeClaim")


def unhealthy_without_message(app: dict) -> list[dict]:
    """The resources of APP to read when Argo CD says the Application is not Healthy but keeps no
    resource health in its status (Argo CD 3 does not persist it there by default): every resource
    of a kind in CONDITION_KINDS."""
    summary = summarise_application(app)
    if summary["health"] == "Healthy" or any(r.get("message") for r in summary["resources_unhealthy"]):
        return []
    return [r for r in ((app.get("status") or {}).get("resources") or [])
            if isinstance(r, dict) and r.get("kind") in CONDITION_KINDS and r.get("name")]


def failing_conditions(obj: dict) -> list[str]:
    """The conditions of a live object that say what is wrong: False ones of the readiness types, and
    any with a reason that names a failure."""
    meta = obj.get("metadata") or {}
    ref = f"{obj.get('kind')} {meta.get('namespace') + '/' if meta.get('namespace') else ''}{meta.get('name')}"
    out = []
    for c in ((obj.get("status") or {}).get("conditions") or []):
        if not isinstance(c, dict):
            continue
        bad = (c.get("type") in ("Available", "Progressing", "Ready", "Complete", "PodScheduled") and c.get("status") == "False") or \
            (c.get("type") in ("Failed", "ReplicaFailure") and c.get("status") == "True")
        if bad:
            out.append(f"{ref}: {c.get('type')} is {c.get('status')} ({c.get('reason') or 'no reason'}): {c.get('message') or ''}".rstrip(": "))
    return out


def application_problem(app: dict | None, where: str, change: str | None, contains: Callable[[str, str], bool],
                        known: Callable[[str], bool], details: list[str] | None = None) -> str | None:
    """Why APP (the live Application, None when absent) is not a sound source, or None when it is:
    Synced and Healthy, at a revision that contains CHANGE (the last commit of the source overlay).
    DETAILS: what the live resources say (failing_conditions) when the status has no resource health."""
    if app is None:
        return f"Application {where} does not exist: the source environment does not run the application"
    summary = summarise_application(app)
    sync = ((app.get("status") or {}).get("sync") or {})
    if summary["sync"] != "Synced" or summary["health"] != "Healthy":
        text = f"Application {where} is {summary['sync']} and {summary['health']}: {summary['message']}"
        if details:
            text += "; its resources say: " + "; ".join(details)
        return text
    revision = sync.get("revision") or ""
    if change:
        if not revision:
            return f"Application {where} reports no synced revision: it cannot be shown to run the change {change[:12]}"
        if not known(revision):
            return (f"Application {where} is synced at {revision[:12]}, a commit this checkout does not have: fetch it "
                    "(git fetch origin) and promote again")
        if not contains(revision, change):
            return (f"Application {where} is Synced and Healthy at {revision[:12]}, which does not contain the change being "
                    f"promoted ({change[:12]}, the last commit of the source overlay): wait for Argo CD to sync it")
    return None


# ------------------------------------------------------------------------------ the commit
def commit_file(repo: Repo, parent: str, path: str, text: str, message: str, author: tuple[str, str]) -> str:
    """A commit of PARENT's tree with PATH set to TEXT (git plumbing in a private index); its dates are
    PARENT's, so the same promotion of the same parent is the same commit."""
    date = repo.out("show", "-s", "--format=%cI", parent, doing="reading the base commit's date")
    scratch = tempfile.mkdtemp(prefix="gitops-promote-")
    try:
        env = dict(repo.env, GIT_INDEX_FILE=os.path.join(scratch, "index"), GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1],
                   GIT_COMMITTER_NAME=author[0], GIT_COMMITTER_EMAIL=author[1], GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        repo.out("read-tree", parent, doing="reading the base tree", env=env)
        blob = repo.out("hash-object", "-w", "--stdin", doing=f"writing {path}", env=env, stdin=text.encode("utf-8"))
        repo.out("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", doing=f"staging {path}", env=env)
        tree = repo.out("write-tree", doing="writing the promotion's tree", env=env)
        return repo.out("commit-tree", tree, "-p", parent, "-m", message, doing="writing the promotion's commit", env=env)
    finally:
        for name in os.listdir(scratch):
            os.remove(os.path.join(scratch, name))
        os.rmdir(scratch)


# ------------------------------------------------------------------------------ the pull request
def title(app: str, source: str, target: str) -> str:
    return f"Promote {app} from {source} to {target}"


def body(app: str, source: str, target: str, target_file: str, diffs: list[dict], sources: list[dict],
         plan_markdown: str) -> str:
    lines = [f"## {title(app, source, target)}", ""]
    lines.append(f"{source} runs it:")
    for s in sources:
        lines.append(f"- cluster `{s['cluster']}`: Application `{s['application']}` Synced and Healthy at `{s['revision'][:12]}`")
    lines += ["", f"Pins carried to `{target_file}`:", ""]
    carried = [d for d in diffs if d["pin"]]
    for d in carried:
        lines.append(f"- {d['what']}: `{_show(d['target'])}` -> `{_show(d['source'])}`")
    kept = [d for d in diffs if not d["pin"]]
    if kept:
        lines += ["", f"Kept as {target} sets them (not pins): " + ", ".join(f"`{d['key']}`" for d in kept)]
    lines += ["", f"### The plan of {target}", "", plan_markdown.strip(), "", BODY_MARK]
    return "\n".join(lines) + "\n"
