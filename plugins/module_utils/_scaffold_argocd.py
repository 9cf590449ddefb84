# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD's own configuration as files of the infra repository, and how Git's edits of them compare.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

``validate_argocd_config(config)`` checks the ``argocd_config`` input of infra_repo (the
ConfigMap keys, AppProjects and other objects the argocd role would otherwise apply itself)
and returns it normalised; ``cluster_files(s)`` renders them under ``clusters/<c>/argocd/`` and
``clusters/<c>/projects/``. ``equivalent`` and ``disagreements`` compare a file as Git has it
with the file the inventory renders, as parsed YAML: key order, quoting and comments do not count.
"""

import json
import re
from typing import Any

from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L
from ansible_collections.gitops.bootstrap.plugins.module_utils import _sync_identity as I
from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import IN_CLUSTER_SERVER

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - the module reports it when argocd_config is used
    yaml = None
    HAS_YAML = False

CONFIG_MAPS = ("argocd-cm", "argocd-cmd-params-cm", "argocd-rbac-cm")
# The keys the scaffold always sets in argocd-cm, with the comment each one carries.
SCAFFOLD_CM = {
    "application.resourceTrackingMethod": ("annotation", "Resources belong to the Application whose annotation they carry."),
    "users.anonymous.enabled": ("false", "Changes go through git: no anonymous access, no web terminal into pods."),
    "exec.enabled": ("false", None),
}
_CM_HEADERS = {
    "argocd-cm": "Our configuration of Argo CD; the upstream ConfigMap is patched with these keys.",
    "argocd-cmd-params-cm": "Parameters of Argo CD's components; the upstream ConfigMap is patched with these keys.",
    "argocd-rbac-cm": "Who may do what in Argo CD; the upstream ConfigMap is patched with these keys.",
}
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
_PLAIN_KEY = re.compile(r"[A-Za-z_][-A-Za-z0-9_./]*")
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
# The folder of the access the RBAC lock-down wants to exist, and the Application that applies it.
ACCESS_DIR = "access"
ACCESS_APPLICATION = "access"
ACCESS_FILE = "access.yaml"
# The folder of the identities Argo CD syncs team projects as (and the controller's right to impersonate them).
IDENTITIES_DIR = "sync-identities"
IDENTITIES_APPLICATION = "sync-identities"
IDENTITIES_FILE = "identities.yaml"
# argocd_config entries rendered as a folder of their own: (folder, Application, file, what the Application
# applies, the file's comment).
FOLDERS = {
    "access": (ACCESS_DIR, ACCESS_APPLICATION, ACCESS_FILE, "the access the RBAC lock-down wants to exist",
               "The access the RBAC lock-down wants to exist (read-only role, break-glass and developer bindings),\n"
               "rendered from the inventory (the RBAC lock-down role); change it here, through review."),
    "identities": (IDENTITIES_DIR, IDENTITIES_APPLICATION, IDENTITIES_FILE, "the identities Argo CD syncs team projects as",
                   "The identities Argo CD syncs each team project's Applications as (sync impersonation) and the\n"
                   "application controller's right to impersonate them, rendered from the inventory (the Argo CD\n"
                   "role's projects); change it here, through review."),
}
CONFIG_ENTRIES = ("config_maps", "projects", "objects", "patches", "access", "identities")


class ArgoConfigError(L.LayoutError):
    """argocd_config that cannot be rendered; the message names the bad entry."""


# ------------------------------------------------------------------ input
def _need_yaml():
    if not HAS_YAML:
        raise ArgoConfigError("argocd_config needs the Python library PyYAML on the host that runs infra_repo; install it (pip install pyyaml)")


def _check_value(where: str, value: Any) -> str:
    if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)):
        shown = json.dumps(value) if isinstance(value, (bool, type(None))) else type(value).__name__
        raise ArgoConfigError(
            f"argocd_config {where} must be a string (a ConfigMap holds strings), got {shown}; quote it, e.g. \"false\"")
    value = value if isinstance(value, str) else str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ArgoConfigError(f"argocd_config {where} is not valid text (it holds a lone surrogate); give it as UTF-8 text") from None
    return value


def _check_object(where: str, obj: Any, kind: "str | None" = None) -> dict:
    if not isinstance(obj, dict):
        raise ArgoConfigError(f"argocd_config {where} must be a Kubernetes object (a mapping), got {type(obj).__name__}")
    api, obj_kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api, str) or not api or not isinstance(obj_kind, str) or not _KIND.fullmatch(obj_kind):
        raise ArgoConfigError(f"argocd_config {where} needs apiVersion and kind (got apiVersion {api!r}, kind {obj_kind!r})")
    if kind and obj_kind != kind:
        raise ArgoConfigError(f"argocd_config {where} must be a {kind}, got kind {obj_kind}")
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not _SUBDOMAIN.fullmatch(name):
        raise ArgoConfigError(
            f"argocd_config {where} needs metadata.name, a DNS-1123 name (lower case letters, digits, '-' and '.'), got {name!r}")
    try:  # a plain copy; refuses what JSON or UTF-8 cannot hold
        return json.loads(json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError) as e:
        raise ArgoConfigError(f"argocd_config {where} ({name}) holds a value that is not plain text, numbers, lists and mappings: {e}") from None


def validate_argocd_config(config: Any, namespace: str) -> "dict | None":
    """The checked, normalised argocd_config ({config_maps, projects, objects, patches, access, identities}); None when
    absent or empty."""
    if not config:
        return None
    if not isinstance(config, dict):
        raise ArgoConfigError(f"argocd_config must be a mapping with config_maps, projects and objects, got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_ENTRIES))
    if unknown:
        raise ArgoConfigError(f"argocd_config has unknown entries {', '.join(unknown)}; it takes {', '.join(CONFIG_ENTRIES)}")
    _need_yaml()
    maps = config.get("config_maps") or {}
    if not isinstance(maps, dict):
        raise ArgoConfigError(f"argocd_config config_maps must map ConfigMap names to their data, got {type(maps).__name__}")
    out_maps = {}
    for name, data in maps.items():
        if name not in CONFIG_MAPS:
            raise ArgoConfigError(f"argocd_config config_maps has {name!r}; only {', '.join(CONFIG_MAPS)} are rendered")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ArgoConfigError(f"argocd_config config_maps.{name} must map keys to string values, got {type(data).__name__}")
        clean = {}
        for key, value in data.items():
            if not isinstance(key, str) or not _CONFIG_KEY.fullmatch(key):
                raise ArgoConfigError(
                    f"argocd_config config_maps.{name} has the key {key!r}: a ConfigMap key is letters, digits, '-', '_' and '.'")
            clean[key] = _check_value(f"config_maps.{name}.{key}", value)
        out_maps[name] = clean
    projects = config.get("projects") or []
    if not isinstance(projects, list):
        raise ArgoConfigError(f"argocd_config projects must be a list of AppProject objects, got {type(projects).__name__}")
    out_projects = []
    seen = set()
    for index, project in enumerate(projects):
        obj = _check_object(f"projects[{index}]", project, "AppProject")
        name = obj["metadata"]["name"]
        if name == "kustomization":
            raise ArgoConfigError(f"argocd_config projects[{index}]: the name kustomization is taken by the folder's kustomization.yaml")
        if name in seen:
            raise ArgoConfigError(f"argocd_config projects lists the AppProject {name} twice")
        seen.add(name)
        ns = obj["metadata"].get("namespace")
        if ns not in (None, namespace):
            raise ArgoConfigError(
                f"argocd_config projects[{index}] ({name}) is in namespace {ns!r}; the AppProjects of the repository live in {namespace}")
        obj["metadata"]["namespace"] = namespace
        out_projects.append(obj)
    objects = config.get("objects") or []
    if not isinstance(objects, list):
        raise ArgoConfigError(f"argocd_config objects must be a list of Kubernetes objects, got {type(objects).__name__}")
    out_objects = [_check_object(f"objects[{index}]", obj) for index, obj in enumerate(objects)]
    patches = config.get("patches") or []
    if not isinstance(patches, list):
        raise ArgoConfigError(f"argocd_config patches must be a list of Kubernetes objects, got {type(patches).__name__}")
    out_patches = [_check_object(f"patches[{index}]", obj) for index, obj in enumerate(patches)]
    _object_file_names(out_objects + out_patches)  # refuses two objects that would share a file
    out = {"config_maps": out_maps, "projects": out_projects, "objects": out_objects, "patches": out_patches}
    # Given (even empty), a folder is rendered: what the inventory no longer wants leaves Git.
    for entry in FOLDERS:
        items = config.get(entry)
        if items is not None and not isinstance(items, list):
            raise ArgoConfigError(f"argocd_config {entry} must be a list of Kubernetes objects, got {type(items).__name__}")
        out[entry] = None if items is None else [_check_object(f"{entry}[{index}]", obj) for index, obj in enumerate(items)]
        _check_unique(entry, out[entry] or [])
    if not (any(out_maps.values()) or out_projects or out_objects or out_patches
            or any(out[entry] is not None for entry in FOLDERS)):
        return None  # nothing beyond the scaffold: its files exactly
    return out


# ------------------------------------------------------------------ YAML output
class _Dumper(yaml.SafeDumper if HAS_YAML else object):
    """Block style, sequences indented under their key, multi-line strings as literal blocks."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def choose_scalar_style(self):
        style = super().choose_scalar_style()
        return '"' if style == "'" else style  # the scaffold's quoting


def _represent_str(dumper, value):
    style = "|" if _literal_ok(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


if HAS_YAML:
    _Dumper.add_representer(str, _represent_str)


def _literal_ok(value: str) -> bool:
    """Whether a literal block keeps the string exactly and passes a linter (no trailing spaces, tabs, control characters)."""
    if "\n" not in value or not value.rstrip("\n"):
        return False
    body = value[:-1] if value.endswith("\n") else value
    if value.endswith("\n\n") or value.startswith((" ", "\n")):
        return False
    if any(ch in value for ch in "\x85\u2028\u2029\ufeff"):
        return False
    return not any(line != line.rstrip() or any(ord(ch) < 32 or 126 < ord(ch) < 160 for ch in line) for line in body.split("\n"))


def _scalar(value: str, indent: int) -> str:
    """A string value after ``key:``: a literal block when it has lines (and reads back the same), else double-quoted."""
    if _literal_ok(value):
        pad = " " * indent
        chomp = "" if value.endswith("\n") else "-"
        body = value[:-1] if value.endswith("\n") else value
        block = f"|{chomp}\n" + "\n".join(pad + line if line else "" for line in body.split("\n"))
        try:
            if yaml.safe_load(f"k: {block}\n") == {"k": value}:
                return block
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(value, default_style='"', width=float("inf"), allow_unicode=True).rstrip("\n")


def _key(key: str) -> str:
    if _PLAIN_KEY.fullmatch(key) and yaml.safe_load(key) == key:
        return key
    return json.dumps(key)


def dump_object(obj: dict, comment: str = "") -> str:
    """One Kubernetes object as a YAML document, with an optional leading comment."""
    body = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=float("inf"), allow_unicode=True)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in comment.split("\n")) if comment else ""
    return "---\n" + lines + body


def config_map_file(name: str, data: "dict[str, str]") -> str:
    """The patch of one upstream ConfigMap: sorted keys, values that stay strings, multi-line values line by line."""
    lines = ["---", f"# {_CM_HEADERS[name]}", "apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {name}", "data:"]
    for key in sorted(data):
        value = data[key]
        if name == "argocd-cm" and key in SCAFFOLD_CM and SCAFFOLD_CM[key][1]:
            lines.append(f"  # {SCAFFOLD_CM[key][1]}")
        lines.append(f"  {_key(key)}: {_scalar(value, 4)}")
    return "\n".join(lines) + "\n"


def _object_file_names(objects: "list[dict]") -> "list[str]":
    taken = {L.KUSTOMIZATION, "namespace.yaml"} | {f"{name}.yaml" for name in CONFIG_MAPS}
    kinds = [obj["kind"].lower() for obj in objects]
    names = []
    for obj, kind in zip(objects, kinds):
        name = f"{kind}.yaml" if kinds.count(kind) == 1 else f"{kind}-{obj['metadata']['name']}.yaml"
        if name in taken:
            name = f"{kind}-{obj['metadata']['name']}.yaml"
        if name in taken:
            raise ArgoConfigError(
                f"argocd_config objects: {obj['kind']} {obj['metadata']['name']} would be written to {name}, which another "
                "object or file of the folder already takes; give it another name")
        taken.add(name)
        names.append(name)
    return names


def _check_unique(entry: str, objects: "list[dict]") -> None:
    seen = set()
    for obj in objects:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace") or "", meta["name"])
        if key in seen:
            ns = meta.get("namespace")
            raise ArgoConfigError(f"argocd_config {entry} lists {obj['kind']} {(ns + '/') if ns else ''}{meta['name']} twice; list each object once")
        seen.add(key)


def _folder_application(s: dict, name: str, path: str) -> dict:
    """The Application that applies a folder: platform project (cluster-scoped objects), pruned, self-healed."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": s["argocd_namespace"]},
        "spec": {
            "project": "platform",
            "source": {"repoURL": s["repo_url"], "targetRevision": s["target_revision"], "path": path},
            "destination": {"server": IN_CLUSTER_SERVER, "namespace": "default"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["ServerSideApply=true"]},
        },
    }


def _folder_files(s: dict, files: "dict[str, str]", entry: str, items: "list[dict]") -> None:
    """One file holds every object (a List): an object the inventory no longer wants leaves the file, and Argo CD prunes it."""
    directory, application, file_name, applies, what = FOLDERS[entry]
    c = s["cluster"]
    folder = f"{L.cluster_path(c)}/{directory}"
    files[f"{folder}/{file_name}"] = dump_object({"apiVersion": "v1", "kind": "List", "items": items}, what)
    files[f"{folder}/{L.KUSTOMIZATION}"] = (
        f"---\n# Applied by the Application apps/{application}.yaml. No namespace transformer: each object keeps its own.\n"
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {file_name}\n")
    apps = L.cluster_apps_path(c)
    files[f"{apps}/{application}.yaml"] = dump_object(
        _folder_application(s, application, folder),
        f"Applies ../{directory}: {applies}. Objects removed there are pruned.")
    kustomization = files[f"{apps}/{L.KUSTOMIZATION}"]
    entry = f"  - {application}.yaml\n"
    if entry not in kustomization:
        files[f"{apps}/{L.KUSTOMIZATION}"] = kustomization.replace("resources: []\n", "resources:\n") + entry


_PROJECT_COMMENTS = {
    "default": "The default project, locked down: no sources, no destinations, no resources.\n"
               "Rendered from the inventory (the Argo CD role's projects); change it here, through review.",
    "platform": "Cluster add-ons and Argo CD itself: may manage cluster-scoped resources. Rendered from\n"
                "the inventory (the Argo CD role's platform project); change it here, through review.",
}


def _project_file(obj: dict) -> str:
    obj = json.loads(json.dumps(obj))
    meta = obj["metadata"]
    meta["annotations"] = dict(meta.get("annotations") or {})
    meta["annotations"].setdefault(SYNC_WAVE, "-1")
    ordered = {k: obj[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in obj}
    ordered.update({k: v for k, v in obj.items() if k not in ordered})
    name = meta["name"]
    comment = _PROJECT_COMMENTS.get(name, f"AppProject {name}, rendered from the inventory (the Argo CD role's projects);\n"
                                          "change it here, through review.")
    return dump_object(ordered, comment)


APPS_PROJECT = "apps"
APPS_IMPERSONATE_ROLE = "argocd-application-controller-sync-apps"


def _apps_project_identities(s: dict, files: "dict[str, str]", config: dict) -> "list[dict]":
    """With sync impersonation enforced, the scaffold's apps project names one account per application namespace.

    Each account (ServiceAccount ``argocd-sync-apps-<app>`` in the Argo CD namespace) is bound in its
    application's namespace to a Role of every namespaced resource (the project allows nothing
    cluster-scoped), and the application controller may impersonate these accounts alone. The namespaces
    themselves stay the platform's ``namespaces`` component's when it exists (one owner per object).
    Nothing when impersonation is not enforced (its Applications then sync as the application controller),
    without applications, or when the inventory gives its own apps project.
    """
    if (config["config_maps"].get("argocd-cm") or {}).get(I.ENFORCED_KEY) != "true":
        return []
    if not s.get("apps") or any(p["metadata"]["name"] == APPS_PROJECT for p in config["projects"]):
        return []
    ns = s["argocd_namespace"]
    path = f"{L.cluster_projects_path(s['cluster'])}/{APPS_PROJECT}.yaml"
    project = yaml.safe_load(files[path])
    project["spec"]["destinationServiceAccounts"] = [
        I.destination_account(IN_CLUSTER_SERVER, app["name"], I.account_name(APPS_PROJECT, app["name"]), ns) for app in s["apps"]]
    files[path] = dump_object(project, "Applications: namespaced resources in their own namespaces only, nothing cluster-scoped.\n"
                                       "Each syncs as its own account (sync impersonation, ../sync-identities).")
    namespaces = [] if "namespaces" in (s.get("platform_components") or []) else [
        I.namespace_object(app["name"]) for app in s["apps"] if app["name"] != ns]
    objects = [obj for app in s["apps"] for obj in I.team_identity(APPS_PROJECT, app["name"], I.EVERY_NAMESPACED_RESOURCE, ns)]
    accounts = [I.account_name(APPS_PROJECT, app["name"]) for app in s["apps"]]
    return namespaces + objects + I.impersonation(ns, accounts, ns, role=APPS_IMPERSONATE_ROLE)


def cluster_files(s: dict, files: "dict[str, str]") -> None:
    """Overlay the files of ``s['argocd_config']`` on the cluster's scaffolded files (in place)."""
    config = s.get("argocd_config")
    if not config:
        return
    c = s["cluster"]
    argo = L.cluster_argocd_path(c)
    maps = config["config_maps"]
    cm = {key: value for key, (value, _comment) in SCAFFOLD_CM.items()}
    cm.update(maps.get("argocd-cm") or {})
    patches = ["argocd-cm.yaml"]
    files[f"{argo}/argocd-cm.yaml"] = config_map_file("argocd-cm", cm)
    for name in CONFIG_MAPS[1:]:
        if maps.get(name):
            patches.append(f"{name}.yaml")
            files[f"{argo}/{name}.yaml"] = config_map_file(name, maps[name])
    resources = ["namespace.yaml", L.argocd_install_url(s["argocd_version"])]
    objects, patched = config["objects"], config.get("patches") or []
    for index, (obj, name) in enumerate(zip(objects + patched, _object_file_names(objects + patched))):
        if index < len(objects):
            resources.append(name)
            what = "rendered from the inventory (the Argo CD role)"
        else:  # an object of the upstream install with our fields (strategic merge: lists without a key are replaced)
            patches.append(name)
            what = "patches upstream's; rendered from the inventory (the Argo CD role)"
        files[f"{argo}/{name}"] = dump_object(obj, f"{obj['kind']} {obj['metadata']['name']}, {what}; change it here, through review.")
    files[f"{argo}/{L.KUSTOMIZATION}"] = (
        "---\n"
        f"# Argo CD {s['argocd_version']}, installed from the upstream release manifest and managed by Argo CD\n"
        "# itself (Application apps/argocd.yaml). Upgrade by changing the version in the URL, in a\n"
        "# pull request that goes through dev first. Our configuration patches the upstream ConfigMaps.\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {s['argocd_namespace']}\n"
        "resources:\n" + "".join(f"  - {r}\n" for r in resources)
        + "patches:\n" + "".join(f"  - path: {p}\n" for p in patches))
    apps_identities = _apps_project_identities(s, files, config)
    if apps_identities:
        config = dict(config, identities=(config.get("identities") or []) + apps_identities)
    for entry in FOLDERS:
        if config.get(entry) is not None:
            _folder_files(s, files, entry, config[entry])
    proj = L.cluster_projects_path(c)
    listed = ["platform.yaml", "apps.yaml"]
    for obj in config["projects"]:
        name = f"{obj['metadata']['name']}.yaml"
        files[f"{proj}/{name}"] = _project_file(obj)
        if name not in listed:
            listed.append(name)
    files[f"{proj}/{L.KUSTOMIZATION}"] = (
        "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        + "".join(f"  - {name}\n" for name in listed))


# ------------------------------------------------------------------ Git's edits
def is_yaml_path(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


def _load(text: str):
    """The documents of a YAML file (empty documents dropped), or raise ValueError."""
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as e:
        raise ValueError(str(e).replace("\n", " ")) from None


def equivalent(path: str, a: "str | None", b: "str | None") -> bool:
    """Whether two contents of a YAML file carry the same data (key order, quoting, comments aside)."""
    if a is None or b is None or not HAS_YAML or not is_yaml_path(path):
        return a == b
    try:
        return _load(a) == _load(b)
    except ValueError:
        return False


def _walk(prefix: str, inventory: Any, repository: Any, out: list) -> None:
    if isinstance(inventory, dict) and isinstance(repository, dict):
        for key in list(inventory) + [k for k in repository if k not in inventory]:
            field = f"{prefix}.{key}" if prefix else str(key)
            _walk(field, inventory.get(key), repository.get(key), out)
        return
    if isinstance(inventory, list) and isinstance(repository, list):
        for i in range(max(len(inventory), len(repository))):
            _walk(f"{prefix}[{i}]", inventory[i] if i < len(inventory) else None,
                  repository[i] if i < len(repository) else None, out)
        return
    if inventory != repository:
        out.append((prefix, inventory, repository))


def disagreements(path: str, inventory: str, repository: str) -> "list[dict]":
    """Each field whose value differs between the inventory's rendering and Git's file: {path, field, inventory, repository}.

    A field one side lacks has null on that side. With several documents, the field starts with
    the document's index (``[1].spec.x``). A file that is not YAML, or that Git holds in a form
    that does not parse, is one entry with field null.
    """
    if not HAS_YAML or not is_yaml_path(path):
        return []
    try:
        mine = _load(inventory)
    except ValueError:  # pragma: no cover - the generator writes valid YAML
        return []
    try:
        theirs = _load(repository)
    except ValueError as e:
        return [{"path": path, "field": None, "inventory": None, "repository": f"not valid YAML: {e}"}]
    found: list = []
    if len(mine) == 1 and len(theirs) == 1:
        _walk("", mine[0], theirs[0], found)
    else:
        for i in range(max(len(mine), len(theirs))):
            _walk(f"[{i}]", mine[i] if i < len(mine) else None, theirs[i] if i < len(theirs) else None, found)
    return [{"path": path, "field": field or None, "inventory": a, "repository": b} for field, a, b in found]


def _shown(value: Any) -> str:
    if value is None:
        return "no value"
    shown = repr(value) if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return shown if len(shown) <= 300 else shown[:297] + "..."


def describe(entry: dict) -> str:
    """One disagreement in words: where it is, Git's value (kept) and the inventory's."""
    field = f" {entry['field']}" if entry["field"] else ""
    return (f"{entry['path']}{field}: Git has {_shown(entry['repository'])} (kept), "
            f"the inventory has {_shown(entry['inventory'])}")
