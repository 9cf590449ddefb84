# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a change of the infra repository: what it does to each cluster.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Sections:

- revisions: the two trees of a change (base, head), exported from git into a scratch folder;
- rendering: kustomize, with the build options Argo CD uses (``kustomize.buildOptions`` of the
  cluster's argocd-cm, none by default);
- clusters: which clusters a change reaches, following the Applications each cluster's root
  renders (their ``source.path``) and the local files their kustomizations load;
- diff: objects created, changed (fields before and after) and deleted; Secret values masked;
- report: the plan as a dict (JSON) and as Markdown.

Everything here is pure but for the git and kustomize processes (each bounded by a timeout);
the server-side dry run is the module's, through the service layer.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shlex
import shutil
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L
from ansible_collections.gitops.bootstrap.plugins.module_utils._git import GitTimeout, isolated_environ, run_process

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    yaml = None
    HAS_YAML = False

MASK = "(masked)"
MASK_CHANGED = "(masked, changed)"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILD_OPTIONS_KEY = "kustomize.buildOptions"
STATUS_CONTEXT = "gitops/plan"
# Clusters planned at the same time (each runs kustomize processes).
RENDER_WORKERS = 4

# Kinds that have no namespace (the destination namespace of an Application is not put on them).
CLUSTER_SCOPED = frozenset((
    "Namespace", "Node", "PersistentVolume", "StorageClass", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleBinding", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "APIService", "IngressClass", "RuntimeClass", "CSIDriver",
    "VolumeSnapshotClass", "ClusterIssuer", "FlowSchema", "PriorityLevelConfiguration",
))
# Fields of the server and of kustomize's own bookkeeping: never a difference.
_VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")


class PlanError(Exception):
    """Bad input (a revision, a cluster, a tool): the message says what is wrong and what to do."""


class ManifestError(Exception):
    """A manifest that cannot be rendered; names the file (or folder) and the error."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# ------------------------------------------------------------------------------ revisions
class Repo:
    """The git repository of the plan; every git command bounded by ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float = 60.0, runner: Callable[..., Any] = run_process):
        if not os.path.isdir(path):
            raise PlanError(f"repository {path} does not exist: give the path of a checkout of the infra repository")
        self.path = path
        self.timeout = timeout
        self._run = runner
        self._env = isolated_environ(dict(os.environ), {"GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"})
        rc, _out, _err = self._git("rev-parse", "--git-dir")
        if rc != 0:
            raise PlanError(f"{path} is not a git repository: give the path of a checkout of the infra repository")

    def _git(self, *args: str) -> tuple[int, bytes, bytes]:
        try:
            return self._run(["git", "-c", "core.quotePath=false", *args], cwd=self.path, env=self._env, timeout=self.timeout)
        except GitTimeout:
            raise PlanError(f"git {args[0]} in {self.path} did not finish within {self.timeout:g} s; raise the option timeout") from None

    def resolve(self, what: str, revision: str) -> str:
        """The commit SHA of ``revision`` (a branch, tag or SHA), or a PlanError naming it."""
        if not isinstance(revision, str) or not revision.strip() or revision.startswith("-"):
            raise PlanError(f"{what} revision must be a branch, tag or commit SHA, got {revision!r}")
        rc, out, _err = self._git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        if rc != 0:
            raise PlanError(f"{what} revision {revision!r} does not exist in {self.path}: fetch it first "
                            f"(git fetch origin {revision}) or give a commit SHA the checkout has")
        return out.decode().strip()

    def merge_base(self, base: str, head: str) -> str:
        rc, out, err = self._git("merge-base", base, head)
        if rc != 0:
            raise PlanError(f"revisions {base[:12]} and {head[:12]} have no common ancestor: {err.decode(errors='replace').strip()}")
        return out.decode().strip()

    def changed_files(self, base: str, head: str) -> list[str]:
        rc, out, err = self._git("diff", "--name-only", "--no-renames", "-z", base, head)
        if rc != 0:
            raise PlanError(f"git diff {base[:12]} {head[:12]} failed: {err.decode(errors='replace').strip()}")
        return sorted(p for p in out.decode("utf-8", "replace").split("\0") if p)

    def export(self, revision: str, dest: str) -> str:
        """Write the tree of ``revision`` into ``dest`` (nothing outside it: tar's data filter)."""
        rc, out, err = self._git("archive", "--format=tar", revision)
        if rc != 0:
            raise PlanError(f"git archive {revision[:12]} failed: {err.decode(errors='replace').strip()}")
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(out)) as tar:
            tar.extractall(dest, filter="data")
        return dest


# ------------------------------------------------------------------------------ rendering
def load_documents(text: str, origin: str) -> list[dict]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(origin, f"not valid YAML: {exc}") from None
    for doc in docs:
        if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
            raise ManifestError(origin, "a rendered document has no kind or apiVersion")
    return docs


def build_options(tree: str, cluster: str) -> list[str]:
    """The kustomize build options of the cluster's Argo CD (argocd-cm ``kustomize.buildOptions``).

    Read from the files of ``clusters/<cluster>/argocd/`` that define argocd-cm; Argo CD adds no
    option of its own when the key is absent.
    """
    folder = os.path.join(tree, L.cluster_argocd_path(cluster))
    if not os.path.isdir(folder):
        return []
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".yaml", ".yml")) or name in KUSTOMIZATION_NAMES:
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                docs = list(yaml.safe_load_all(f))
        except (OSError, yaml.YAMLError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and (doc.get("metadata") or {}).get("name") == "argocd-cm":
                value = (doc.get("data") or {}).get(BUILD_OPTIONS_KEY)
                if value:
                    return shlex.split(str(value))
    return []


class Renderer:
    """``kustomize build`` of a folder of an exported tree, cached per (tree, folder, options)."""

    def __init__(self, kustomize: str, timeout: float = 60.0, runner: Callable[..., Any] = run_process):
        if not kustomize or not os.access(kustomize, os.X_OK):
            raise PlanError(f"kustomize binary {kustomize!r} not found or not executable: install the kustomize version "
                            "Argo CD uses and give its path (option kustomize, or $KUSTOMIZE)")
        self.kustomize = kustomize
        self.timeout = timeout
        self._run = runner
        self._cache: dict[tuple[str, str, tuple[str, ...]], list[dict]] = {}

    def render(self, tree: str, relpath: str, options: list[str] | tuple[str, ...] = ()) -> list[dict]:
        key = (tree, relpath, tuple(options))
        if key not in self._cache:
            self._cache[key] = self._render(tree, relpath, list(options))
        return copy.deepcopy(self._cache[key])

    def _render(self, tree: str, relpath: str, options: list[str]) -> list[dict]:
        folder = os.path.join(tree, relpath)
        if not os.path.isdir(folder):
            raise ManifestError(relpath, "the folder does not exist at this revision")
        if not any(os.path.exists(os.path.join(folder, n)) for n in KUSTOMIZATION_NAMES):
            return _plain_folder(tree, relpath)
        try:
            rc, out, err = self._run([self.kustomize, "build", *options, folder], cwd=tree, timeout=self.timeout)
        except GitTimeout:
            raise ManifestError(relpath, f"kustomize build did not finish within {self.timeout:g} s") from None
        if rc != 0:
            message = err.decode("utf-8", "replace").strip().replace(tree.rstrip("/") + "/", "")
            raise ManifestError(_blamed_file(tree, message, relpath), f"kustomize build {relpath} failed: {message}")
        return load_documents(out.decode("utf-8", "replace"), relpath)


def _plain_folder(tree: str, relpath: str) -> list[dict]:
    """A folder without kustomization: Argo CD applies its YAML files as they are."""
    docs: list[dict] = []
    folder = os.path.join(tree, relpath)
    for name in sorted(os.listdir(folder)):
        if name.endswith((".yaml", ".yml", ".json")):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                docs.extend(load_documents(f.read(), f"{relpath}/{name}"))
    return docs


def _blamed_file(tree: str, message: str, relpath: str) -> str:
    """The repository file a kustomize error names (kustomize often gives only its base name), or the folder."""
    folders = sorted(p for p in local_dependencies(tree, relpath) if os.path.isdir(os.path.join(tree, p)))
    for token in message.replace("'", " ").replace('"', " ").split():
        token = token.rstrip(":,.")
        if not token.endswith((".yaml", ".yml", ".json")) or token.startswith(("http://", "https://")):
            continue
        token = token.lstrip("/")
        if os.path.isfile(os.path.join(tree, token)):
            return token
        for folder in folders:
            if os.path.isfile(os.path.join(tree, folder, token)):
                return f"{folder}/{token}"
    return relpath


def local_dependencies(tree: str, relpath: str, seen: set[str] | None = None) -> set[str]:
    """The folders and files (repository paths) a kustomization folder loads, itself included."""
    seen = set() if seen is None else seen
    relpath = os.path.normpath(relpath)
    if relpath in seen or relpath.startswith(".."):
        return seen
    seen.add(relpath)
    folder = os.path.join(tree, relpath)
    doc = None
    for name in KUSTOMIZATION_NAMES:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    doc = yaml.safe_load(f)
            except (OSError, yaml.YAMLError):
                doc = None
            break
    if not isinstance(doc, dict):
        return seen
    refs: list[str] = []
    for key in ("resources", "bases", "components", "patchesStrategicMerge", "crds", "configurations", "transformers",
                "generators", "validators"):
        refs.extend(r for r in (doc.get(key) or []) if isinstance(r, str))
    for patch in (doc.get("patches") or []) + (doc.get("patchesJson6902") or []):
        if isinstance(patch, dict) and isinstance(patch.get("path"), str):
            refs.append(patch["path"])
    for gen in (doc.get("configMapGenerator") or []) + (doc.get("secretGenerator") or []):
        if isinstance(gen, dict):
            for item in (gen.get("files") or []) + (gen.get("envs") or []) + ([gen["env"]] if gen.get("env") else []):
                if isinstance(item, str):
                    refs.append(item.split("=", 1)[-1])
    for ref in refs:
        if "://" in ref or ref.startswith(("git@", "github.com/", "gitlab.com/")):
            continue
        target = os.path.normpath(os.path.join(relpath, ref))
        if os.path.isdir(os.path.join(tree, target)):
            local_dependencies(tree, target, seen)
        else:
            seen.add(target)
    return seen


def touches(paths: set[str], changed: list[str]) -> bool:
    return any(c == p or c.startswith(p.rstrip("/") + "/") for p in paths for c in changed)


# ------------------------------------------------------------------------------ clusters
def clusters_of(tree: str) -> list[str]:
    folder = os.path.join(tree, L.CLUSTERS_DIR)
    if not os.path.isdir(folder):
        return []
    return sorted(n for n in os.listdir(folder) if os.path.isdir(os.path.join(folder, n)))


def application_sources(app: dict) -> list[dict]:
    """The git path sources of an Application (``source`` or ``sources``); charts have no path."""
    spec = app.get("spec") or {}
    sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    return [s for s in sources if isinstance(s, dict) and isinstance(s.get("path"), str) and s.get("path").strip()]


def is_application(obj: dict) -> bool:
    return obj.get("kind") == "Application" and str(obj.get("apiVersion", "")).startswith("argoproj.io/")


def key_of(obj: dict) -> tuple[str, str, str, str]:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    meta = obj.get("metadata") or {}
    return group, obj.get("kind", ""), meta.get("namespace") or "", meta.get("name") or ""


def ref_of(key: tuple[str, str, str, str]) -> str:
    group, kind, namespace, name = key
    kind_text = f"{kind}.{group}" if group else kind
    return f"{kind_text} {namespace}/{name}" if namespace else f"{kind_text} {name}"


class ClusterState:
    """What one revision wants in one cluster: its root's objects and those of its Applications."""

    def __init__(self, cluster: str, tree: str | None, renderer: Renderer, root: list[dict] | None = None):
        self.cluster = cluster
        self.tree = tree
        self.renderer = renderer
        self.exists = bool(tree) and os.path.isdir(os.path.join(tree, L.cluster_path(cluster)))
        self.options = build_options(tree, cluster) if self.exists else []
        self.root: list[dict] = []
        self.apps: dict[str, dict] = {}
        if self.exists:
            self.root = copy.deepcopy(root) if root is not None else renderer.render(tree, L.cluster_path(cluster), self.options)
            self.apps = {(a.get("metadata") or {}).get("name"): a for a in self.root if is_application(a)}

    def dependencies(self, app_name: str) -> set[str]:
        deps: set[str] = set()
        app = self.apps.get(app_name)
        if app is None:
            return deps
        for source in application_sources(app):
            local_dependencies(self.tree, source["path"].strip("/"), deps)
        return deps

    def source_paths(self, app_name: str) -> list[str]:
        app = self.apps.get(app_name)
        return [s["path"].strip("/") for s in application_sources(app)] if app else []

    def app_objects(self, app_name: str) -> list[tuple[dict, str]]:
        """(object, source path) of one Application, namespaced objects put in its destination namespace."""
        app = self.apps.get(app_name)
        if app is None:
            return []
        dest_ns = ((app.get("spec") or {}).get("destination") or {}).get("namespace") or ""
        out = []
        for path in self.source_paths(app_name):
            if not os.path.isdir(os.path.join(self.tree, path)):
                raise ManifestError(f"{L.cluster_apps_path(self.cluster)}/", f"Application {app_name} points at {path}, "
                                    "which does not exist at this revision")
            for obj in self.renderer.render(self.tree, path, self.options):
                meta = obj.setdefault("metadata", {})
                if not meta.get("namespace") and dest_ns and obj.get("kind") not in CLUSTER_SCOPED:
                    meta["namespace"] = dest_ns
                out.append((obj, path))
        return out


def cluster_reached(base: ClusterState, head: ClusterState, changed: list[str]) -> tuple[bool, list[str]]:
    """Whether a change reaches a cluster, and the Applications whose sources it changes."""
    reached = touches({L.cluster_path(head.cluster)}, changed)
    apps = []
    for name in sorted(set(base.apps) | set(head.apps), key=str):
        if base.source_paths(name) != head.source_paths(name) or (name in base.apps) != (name in head.apps):
            apps.append(name)
        elif touches(base.dependencies(name) | head.dependencies(name), changed):
            apps.append(name)
    return reached or bool(apps), apps


# ------------------------------------------------------------------------------ diff
def normalise(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    for key in _VOLATILE_METADATA:
        meta.pop(key, None)
    obj.pop("status", None)
    return obj


def is_secret(key: tuple[str, str, str, str]) -> bool:
    return key[0] == "" and key[1] == "Secret"


def _secret_value_path(path: str) -> bool:
    return path.startswith(("data.", "stringData.")) or path in ("data", "stringData")


def field_changes(before: Any, after: Any, path: str = "") -> list[dict]:
    """The leaves that differ: ``{"field": "spec.replicas", "before": 1, "after": 2}``.

    Dicts are compared key by key, lists of named items (containers, ports, env) item by item,
    other lists as one value. A field absent on one side is ``None`` there.
    """
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for k in sorted(set(before) | set(after), key=str):
            out.extend(field_changes(before.get(k), after.get(k), f"{path}.{k}" if path else str(k)))
        return out
    if _named_list(before) and _named_list(after):
        b = {i["name"]: i for i in before}
        a = {i["name"]: i for i in after}
        if len(b) == len(before) and len(a) == len(after):
            out = []
            for n in list(b) + [n for n in a if n not in b]:
                out.extend(field_changes(b.get(n), a.get(n), f"{path}[name={n}]"))
            return out
    return [{"field": path, "before": before, "after": after}]


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in value)


def mask_fields(key: tuple[str, str, str, str], fields: list[dict]) -> list[dict]:
    if not is_secret(key):
        return fields
    out = []
    for f in fields:
        if _secret_value_path(f["field"]):
            f = {"field": f["field"], "before": None if f["before"] is None else MASK,
                 "after": None if f["after"] is None else (MASK_CHANGED if f["before"] is not None else MASK)}
        out.append(f)
    return out


def diff_objects(base: dict, head: dict) -> list[dict]:
    """Object by object: ``{"object", "action": create|change|delete, "fields", ...}``, sorted by object."""
    out = []
    for key in sorted(set(base) | set(head)):
        b, h = base.get(key), head.get(key)
        entry = {"object": ref_of(key), "group": key[0], "kind": key[1], "namespace": key[2], "name": key[3]}
        if b is None:
            entry.update(action="create", fields=[], source=h["source"])
        elif h is None:
            entry.update(action="delete", fields=[], source=b["source"])
        else:
            fields = field_changes(normalise(b["object"]), normalise(h["object"]))
            if not fields:
                continue
            entry.update(action="change", fields=mask_fields(key, fields), source=h["source"])
        out.append(entry)
    return out


def collect(state: ClusterState, apps: list[str]) -> dict:
    """{key: {"object", "source"}} of the root and of the given Applications of one revision."""
    objects: dict = {}
    if not state.exists:
        return objects
    for obj in state.root:
        objects[key_of(obj)] = {"object": obj, "source": L.cluster_path(state.cluster)}
    for name in apps:
        for obj, path in state.app_objects(name):
            objects[key_of(obj)] = {"object": obj, "source": path}
    return objects


def locate(tree: str, source: str, obj: dict) -> str:
    """The file under the source's folders that defines ``obj`` (same kind and name), or the source folder."""
    kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name")
    for folder in sorted(p for p in local_dependencies(tree, source) if os.path.isdir(os.path.join(tree, p))):
        for fname in sorted(os.listdir(os.path.join(tree, folder))):
            if not fname.endswith((".yaml", ".yml")) or fname in KUSTOMIZATION_NAMES:
                continue
            try:
                with open(os.path.join(tree, folder, fname), encoding="utf-8") as f:
                    docs = list(yaml.safe_load_all(f))
            except (OSError, yaml.YAMLError):
                continue
            for doc in docs:
                if isinstance(doc, dict) and doc.get("kind") == kind and (doc.get("metadata") or {}).get("name") == name:
                    return f"{folder}/{fname}"
    return source


# ------------------------------------------------------------------------------ the plan
def default_kustomize() -> str | None:
    return os.environ.get("KUSTOMIZE") or shutil.which("kustomize")


def make_plan(repo_path: str, base: str, head: str, kustomize: str, clusters: list[str] | None = None,
              timeout: float = 60.0, runner: Callable[..., Any] = run_process) -> tuple[dict, dict]:
    """Render and diff; returns ``(plan, objects)``: the plan (JSON-able), and per cluster the head
    objects to dry-run (``{cluster: [(object, file)]}``, Secrets unmasked: never output)."""
    repo = Repo(repo_path, timeout=timeout, runner=runner)
    base_sha = repo.resolve("base", base)
    head_sha = repo.resolve("head", head)
    diff_base = repo.merge_base(base_sha, head_sha)
    renderer = Renderer(kustomize, timeout=timeout, runner=runner)
    changed = repo.changed_files(diff_base, head_sha)
    scratch = tempfile.mkdtemp(prefix="gitops-plan-")
    try:
        base_tree = repo.export(diff_base, os.path.join(scratch, "base"))
        head_tree = repo.export(head_sha, os.path.join(scratch, "head"))
        known = sorted(set(clusters_of(base_tree)) | set(clusters_of(head_tree)))
        if clusters:
            unknown = [c for c in clusters if c not in known]
            if unknown:
                raise PlanError(f"unknown cluster(s) {', '.join(map(repr, unknown))}: the repository has "
                                f"{', '.join(known) or 'no cluster folder under clusters/'} at these revisions")
        wanted = clusters or known
        plan = {"base": base, "head": head, "base_sha": diff_base, "head_sha": head_sha, "changed_files": changed,
                "known_clusters": known, "clusters": {}, "errors": [], "has_changes": False, "status": "success"}
        to_dry_run: dict = {}
        with ThreadPoolExecutor(max_workers=max(1, min(RENDER_WORKERS, len(wanted)))) as pool:
            planned = list(pool.map(lambda c: _plan_cluster(c, base_tree, head_tree, renderer, changed), wanted))
        for cluster, (entry, objs) in zip(wanted, planned):
            if entry is None:
                continue
            plan["clusters"][cluster] = entry
            to_dry_run[cluster] = objs
            plan["errors"].extend(dict(e, cluster=cluster) for e in entry["errors"])
            plan["has_changes"] = plan["has_changes"] or bool(entry["objects"])
        if plan["errors"]:
            plan["status"] = "failure"
        return plan, to_dry_run
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _plan_cluster(cluster: str, base_tree: str, head_tree: str, renderer: Renderer, changed: list[str]):
    entry = {"objects": [], "applications": [], "errors": [], "dry_run": {"ran": False, "reason": "no kubeconfig given"},
             "counts": {"create": 0, "change": 0, "delete": 0}}
    try:
        head_state = ClusterState(cluster, head_tree, renderer)
        # The root renders the same at both revisions when nothing it loads changed: render it once.
        root_files = {L.cluster_path(cluster)} | local_dependencies(base_tree, L.cluster_path(cluster)) \
            | local_dependencies(head_tree, L.cluster_path(cluster))
        same_root = head_state.exists and os.path.isdir(os.path.join(base_tree, L.cluster_path(cluster))) \
            and not touches(root_files, changed)
        base_state = ClusterState(cluster, base_tree, renderer, root=head_state.root if same_root else None)
        reached, apps = cluster_reached(base_state, head_state, changed)
        if not reached:
            return None, []
        entry["applications"] = apps
        base_objs = collect(base_state, apps)
        head_objs = collect(head_state, apps)
    except ManifestError as exc:
        entry["errors"].append({"file": exc.path, "message": exc.message, "kind": "render"})
        return entry, []
    entry["objects"] = diff_objects(base_objs, head_objs)
    for obj in entry["objects"]:
        entry["counts"][obj["action"]] += 1
    objs = []
    for item in entry["objects"]:
        if item["action"] == "delete":
            continue
        key = (item["group"], item["kind"], item["namespace"], item["name"])
        obj = head_objs[key]["object"]
        objs.append((obj, locate(head_tree, head_objs[key]["source"], obj)))
    return entry, objs


def digest(plan: dict) -> str:
    """A short fingerprint of what the plan says (not of when it ran)."""
    text = json.dumps({k: plan.get(k) for k in ("head_sha", "clusters", "errors")}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ------------------------------------------------------------------------------ report
def _value(v: Any) -> str:
    if v is None:
        return "(absent)"
    text = json.dumps(v, sort_keys=True, default=str)
    if len(text) > 120:
        text = text[:117] + "..."
    return "`" + text.replace("`", "'") + "`"


def markdown(plan: dict, marker: str = "") -> str:
    lines = []
    if marker:
        lines.append(marker)
    verdict = "failed" if plan["status"] == "failure" else ("changes" if plan["has_changes"] else "no changes")
    lines.append(f"## GitOps plan: {verdict}")
    lines.append("")
    lines.append(f"Base `{plan['base_sha'][:12]}` ({plan['base']}), head `{plan['head_sha'][:12]}` ({plan['head']}).")
    if not plan["clusters"]:
        lines += ["", "No cluster's desired state changes."]
    for cluster, entry in plan["clusters"].items():
        c = entry["counts"]
        lines += ["", f"### Cluster `{cluster}`: {c['create']} to create, {c['change']} to change, {c['delete']} to delete", ""]
        if entry["applications"]:
            lines.append("Applications whose sources change: " + ", ".join(f"`{a}`" for a in entry["applications"]))
            lines.append("")
        for e in entry["errors"]:
            lines.append(f"- :x: **{e['file']}**: {e['message']}")
        for obj in entry["objects"]:
            sign = {"create": "+", "change": "~", "delete": "-"}[obj["action"]]
            lines.append(f"- `{sign}` {obj['action']} **{obj['object']}** (from `{obj['source']}`)")
            for f in obj["fields"]:
                lines.append(f"  - `{f['field']}`: {_value(f['before'])} -> {_value(f['after'])}")
        dry = entry["dry_run"]
        lines.append("")
        if dry.get("ran"):
            if dry.get("refused"):
                lines.append("Server-side dry run: **refused**")
                for r in dry["refused"]:
                    lines.append(f"- :x: **{r['file']}** ({r['object']}): {r['message']}")
            else:
                lines.append(f"Server-side dry run: passed ({dry.get('checked', 0)} object(s)).")
            for note in dry.get("skipped") or []:
                lines.append(f"- not checked: {note}")
        else:
            lines.append(f"Server-side dry run: could not run ({dry.get('reason')}).")
    if plan["errors"]:
        lines += ["", "### Errors", ""]
        for e in plan["errors"]:
            lines.append(f"- **{e['file']}** ({e.get('cluster', '')}): {e['message']}")
    return "\n".join(lines) + "\n"
