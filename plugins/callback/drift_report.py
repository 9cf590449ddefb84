# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: drift_report
type: aggregate
short_description: Collects what a check-mode run would change into a per-cluster drift report
version_added: 0.1.0
description:
  - Records every object that a task result reports as changed, per inventory host (one host is one cluster). In a
    check-mode run (C(playbooks/drift.yml)) that is the drift; in a normal run it is what was repaired.
  - Each entry names one object by its kind, namespace and name, with what happens to it (C(create), C(update),
    C(delete)), the fields that differ and the before/after of its diff. A task that touches several objects
    (C(gitops.bootstrap.argocd_install), C(kubernetes.core.k8s) with several definitions, a loop) gives one entry per
    object. A deletion answered with a C(Status) is named after the definition the task deleted.
  - Writes the report as JSON and Markdown after every recorded change and at the end of the run, so
    a later play of the same run (the last play of C(playbooks/drift.yml)) can read it and fail the
    hosts that drifted.
  - Values of Secrets (C(data) and C(stringData)) are masked. Of a C(no_log) result nothing is recorded but the
    object it is about, named from the identifying options of the task (C(kind), C(name), C(namespace), the
    metadata of C(definition)); its diff is replaced by a note that says so.
requirements:
  - Enable it with C(ANSIBLE_CALLBACKS_ENABLED=gitops.bootstrap.drift_report) or C(callbacks_enabled) in C(ansible.cfg).
options:
  report_path:
    description:
      - Path of the report without extension; C(.json) and C(.md) are appended. Its directory is made (mode 0700)
        when missing.
      - The default does not depend on the working directory, which under ansible-runner or AWX may be C(/).
    type: path
    default: ~/.local/state/gitops-bootstrap/drift-report
    env:
      - name: GITOPS_DRIFT_REPORT
    ini:
      - section: gitops_drift_report
        key: report_path
"""

import datetime
import difflib
import json
import os
import re
from collections.abc import Mapping

from ansible.plugins.callback import CallbackBase

from ansible_collections.gitops.bootstrap.plugins.module_utils._secrets import NO_LOG_MASK, mask_secrets

MASK = NO_LOG_MASK
# Actions of an object list that change no value in the cluster.
NO_DRIFT_ACTIONS = ("unchanged", "hand over", "kept", None)
NO_LOG_DIFF = "(hidden: no_log task)"
_SERVER_OWNED = ("metadata.managedFields", "metadata.resourceVersion", "metadata.generation")
# Keys of a module result that hold the one object the result is about.
_OBJECT_KEYS = ("result", "application", "project", "repository", "cluster", "secret", "configmap", "object", "resource")
# The kind (and, where fixed, the name) of the object each module of this collection manages, for
# results that carry no object (no_log); the name is otherwise the module's option C(name).
_MODULE_OBJECTS = {
    "argocd_application": ("Application", None),
    "argocd_project": ("AppProject", None),
    "argocd_repository": ("Secret", None),
    "argocd_cluster": ("Secret", None),
    "argocd_rbac": ("ConfigMap", "argocd-rbac-cm"),
}
# A diff header that starts with an object reference: "Kind namespace/name ..." or "Kind name ...".
_HEADER_REF = re.compile(r"^([A-Z][A-Za-z0-9]*) (?:([a-z0-9][-a-z0-9.]*)/)?([A-Za-z0-9][-A-Za-z0-9.:_]*)(?: |$)")


def _mask(obj):
    """Mask Secret values anywhere in a diff side (the collection's one masker)."""
    return mask_secrets(obj, mask=MASK)


def _changed_fields(before, after, prefix=""):
    """Dotted paths of the fields that differ between two JSON-like values."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in before or key not in after:
                paths.append(path)
            else:
                paths.extend(_changed_fields(before[key], after[key], path))
        return paths
    if before != after:
        return [prefix or "(whole object)"]
    return []


# -- naming -------------------------------------------------------------------------------
def _ref(kind, namespace, name):
    return {"kind": str(kind) if kind else None, "namespace": str(namespace) if namespace else None,
            "name": str(name) if name not in (None, "") else None}


def _ref_text(ref):
    if not ref or not ref.get("name"):
        return None
    if ref.get("kind") == "File":
        return f"file {ref['name']}"
    where = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else ref["name"]
    return f"{ref['kind']} {where}" if ref.get("kind") else where


def _ref_of_object(obj):
    """The reference of a Kubernetes object (a dict with kind and metadata.name), else None."""
    if not isinstance(obj, Mapping) or not obj.get("kind") or obj.get("kind") == "Status":
        return None
    meta = obj.get("metadata") or {}
    if not isinstance(meta, Mapping) or not meta.get("name"):
        return None
    return _ref(obj["kind"], meta.get("namespace"), meta["name"])


def _definitions(res):
    """The objects a kubernetes.core-style task was given (its invocation), as a list."""
    args = (res.get("invocation") or {}).get("module_args") or {}
    defs = args.get("definition") if isinstance(args, Mapping) else None
    if isinstance(defs, Mapping):
        return [defs]
    if isinstance(defs, list):
        return [d for d in defs if isinstance(d, Mapping)]
    return []


def _plural_matches(kind, plural):
    kind = kind.lower()
    return plural in (kind + "s", kind + "es", kind[:-1] + "ies" if kind.endswith("y") else kind + "s")


def _ref_of_status(status, definitions):
    """A deletion answers with a Status naming the resource (plural) and name: find the definition it was."""
    details = status.get("details") or {}
    name, plural = details.get("name"), details.get("kind") or ""
    for obj in definitions:
        meta = obj.get("metadata") or {}
        if meta.get("name") == name and obj.get("kind") and _plural_matches(obj["kind"], plural.lower()):
            return _ref(obj["kind"], meta.get("namespace"), name)
    return _ref(plural or None, None, name)


def _ref_of_header(diff):
    """The object a diff header names: "Kind namespace/name (...)", or a file path (infra_repo)."""
    for key in ("before_header", "after_header"):
        header = diff.get(key)
        if not isinstance(header, str) or not header:
            continue
        match = _HEADER_REF.match(header)
        if match:
            return _ref(match.group(1), match.group(2), match.group(3))
    for key in ("after_header", "before_header"):
        header = diff.get(key)
        if isinstance(header, str) and header and header != "/dev/null" and not any(c.isspace() for c in header):
            return _ref("File", None, header)
    return None


def _plain_name(value):
    """A name as given, or None for an empty or untemplated value (older ansible-core passes templates)."""
    if not isinstance(value, str) or not value or "{{" in value or "{%" in value:
        return None
    return value


def _ref_of_args(args, module):
    """The object a task's options name, from the identifying options only (never a value)."""
    if not isinstance(args, Mapping):
        return []
    defs = args.get("definition")
    if isinstance(defs, Mapping):
        defs = [defs]
    if isinstance(defs, list):
        refs = [r for r in (_ref_of_object(d) for d in defs) if r and _plain_name(r["name"])]
        if refs:
            return refs
    short = (module or "").rsplit(".", 1)[-1]
    module_kind, fixed_name = _MODULE_OBJECTS.get(short, (None, None))
    name = fixed_name or _plain_name(args.get("name"))
    if not name:
        return []
    kind = _plain_name(args.get("kind")) or module_kind
    return [_ref(kind, _plain_name(args.get("namespace")), name)]


def _object_of(result):
    """A readable name of the object a result is about, or None."""
    for key in _OBJECT_KEYS:
        obj = result.get(key)
        if isinstance(obj, Mapping) and obj.get("kind") == "Status" and isinstance(obj.get("details"), Mapping):
            ref = _ref_of_status(obj, _definitions(result))
            text = _ref_text(ref)
            return f"{text} (deleted)" if text else None
        text = _ref_text(_ref_of_object(obj))
        if text:
            return text
    if result.get("path"):
        return f"file {result['path']}"
    label = result.get("_ansible_item_label", result.get("item"))
    if isinstance(label, (str, int, float)):
        return str(label)
    if isinstance(label, Mapping) and label.get("name"):
        return str(label["name"])
    return None


def _result_ref(res):
    """The reference of the one object a result is about, from its object, else its invocation."""
    for key in _OBJECT_KEYS:
        obj = res.get(key)
        if isinstance(obj, Mapping) and obj.get("kind") == "Status" and isinstance(obj.get("details"), Mapping):
            return _ref_of_status(obj, _definitions(res)), "delete"
        ref = _ref_of_object(obj)
        if ref:
            return ref, None
    defs = _definitions(res)
    if len(defs) == 1 and _ref_of_object(defs[0]):
        return _ref_of_object(defs[0]), None
    if res.get("path"):
        return _ref("File", None, res["path"]), None
    return None, None


def _changed_lines(before, after, limit=20):
    """The lines of a text diff side that were removed (-) or added (+), at most ``limit``."""
    out = [line[:200] for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:2] in ("- ", "+ ")]
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def _is_empty(side):
    return side is None or side == {} or side == ""


def _action_of(sides, method=None):
    if method == "delete":
        return "delete"
    if method == "create":
        return "create"
    for side in sides:
        before, after = side.get("before"), side.get("after")
        if _is_empty(before) and not _is_empty(after):
            return "create"
        if _is_empty(after) and not _is_empty(before):
            return "delete"
        if before != after:
            return "update"
    return "update" if method in ("apply", "update", "replace", "patch") else "change"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gitops.bootstrap.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.drift = {}
        self.hosts = set()
        self.started = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.path = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.path = self.get_option("report_path")

    # -- events -----------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        self._write()

    def v2_playbook_on_play_start(self, play):
        # Written at every play start too, so a later play of the run reads what came before it.
        self._write()

    def v2_runner_on_ok(self, result):
        host = result._host.get_name()
        self.hosts.add(host)
        res = result._result
        task = result._task
        if not res.get("changed") or "results" in res:
            # A loop's closing result repeats its items, which were recorded one by one.
            return
        entries = self._entries(task, res, getattr(result, "task_fields", None))
        if entries:
            self.drift.setdefault(host, []).extend(entries)
        self._write()

    def v2_runner_item_on_ok(self, result):
        self.v2_runner_on_ok(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.hosts.add(result._host.get_name())

    def v2_runner_on_skipped(self, result):
        self.hosts.add(result._host.get_name())

    def v2_playbook_on_stats(self, stats):
        self._write()

    # -- entries ----------------------------------------------------------------------------
    def _entries(self, task, res, task_fields=None):
        """One entry per object the result changed."""
        name = task.get_name()
        if task.no_log or res.get("_ansible_no_log"):
            return self._no_log_entries(name, task, res, task_fields)
        inner = res.get("result")
        if isinstance(inner, Mapping) and isinstance(inner.get("results"), list):
            # kubernetes.core.k8s with several definitions reports one result per object; the
            # definitions (for deletions answered with a Status) are in the task's invocation.
            parts = [dict(p, invocation=res.get("invocation")) for p in inner["results"] if isinstance(p, Mapping) and p.get("changed")]
        else:
            parts = [res]
        entries = []
        for part in parts:
            for entry in self._part_entries(name, part):
                if entry["fields"] and all(f.startswith(_SERVER_OWNED) for f in entry["fields"]):
                    # Only the API server's bookkeeping differs (a server-side apply dry run adds
                    # its field manager to managedFields): the object itself has not drifted.
                    continue
                entries.append(entry)
        return entries

    def _no_log_entries(self, task_name, task, res, task_fields):
        """A no_log result is censored; the object is named from the task's identifying options."""
        args = (task_fields or {}).get("args") if isinstance(task_fields, Mapping) else None
        if not isinstance(args, Mapping):
            args = getattr(task, "args", None)
        module = getattr(task, "resolved_action", None) or getattr(task, "action", None)
        refs = _ref_of_args(args, module)
        label = res.get("_ansible_item_label")
        if not refs and isinstance(label, (str, int)):
            return [self._make(task_name, _ref(None, None, label), None, [], NO_LOG_DIFF)]
        if len(refs) == 1:
            return [self._make(task_name, refs[0], None, [], NO_LOG_DIFF)]
        entry = self._make(task_name, None, None, [], NO_LOG_DIFF)
        if refs:
            # Several objects and a censored result: which of them changed cannot be told.
            entry["objects"] = refs
            entry["object"] = "one of " + ", ".join(_ref_text(r) for r in refs)
        return [entry]

    def _part_entries(self, task_name, res):
        diffs = res.get("diff")
        if isinstance(diffs, Mapping):
            diffs = [diffs]
        diffs = [d for d in diffs or [] if isinstance(d, Mapping)]
        objects = res.get("objects")
        if isinstance(objects, list) and objects and all(isinstance(o, Mapping) and "action" in o for o in objects):
            return self._object_list_entries(task_name, objects, diffs)
        if len(diffs) > 1:
            # A module that changes several objects in one task shows one diff per object.
            named = []
            fallback = _result_ref(res)[0]
            for diff in diffs:
                if diff.get("before") == diff.get("after"):
                    continue
                ref = _ref_of_object(diff.get("after")) or _ref_of_object(diff.get("before")) or _ref_of_header(diff) or fallback
                named.append(self._make(task_name, ref, _action_of([diff]), *self._sides([diff])))
            if named:
                return named
        if not diffs and res.get("path") is None:
            files = [(path, action) for key, action in (("created", "create"), ("updated", "update"), ("forced", "update"))
                     for path in res.get(key) or [] if isinstance(path, str)]
            if files:
                # Without --diff, gitops.bootstrap.infra_repo lists the files it writes.
                return [self._make(task_name, _ref("File", None, path), action, [], []) for path, action in files]
        ref, action = _result_ref(res)
        if ref is None:
            for diff in diffs:
                ref = _ref_of_object(diff.get("after")) or _ref_of_object(diff.get("before")) or _ref_of_header(diff)
                if ref:
                    break
        if ref is None:
            label = _object_of(res)
            ref = _ref(None, None, label) if label else None
        fields, sides = self._sides(diffs)
        return [self._make(task_name, ref, action or _action_of(diffs, res.get("method")), fields, sides)]

    def _object_list_entries(self, task_name, objects, diffs):
        """Results that list every object they handled with its action (argocd_install, k8s_kept_objects)."""
        # A hand-over (argocd_install existing=keep, k8s_kept_objects) changes who owns the fields, not a
        # value, and a kept object is left as it is: neither is drift.
        changed = [o for o in objects if o.get("action") not in NO_DRIFT_ACTIONS]
        by_ref = {}
        for diff in diffs:
            ref = _ref_of_header(diff)
            if ref:
                by_ref.setdefault(_ref_text(ref), diff)
        entries = []
        for index, obj in enumerate(changed):
            ref = _ref(obj.get("kind"), obj.get("namespace"), obj.get("name"))
            diff = by_ref.get(_ref_text(ref))
            if diff is None and len(diffs) == len(changed):
                diff = diffs[index]
            fields, sides = self._sides([diff] if diff else [])
            entries.append(self._make(task_name, ref, obj["action"], fields, sides))
        return entries

    @staticmethod
    def _sides(diffs):
        sides, fields = [], []
        for diff in diffs:
            before, after = _mask(diff.get("before")), _mask(diff.get("after"))
            if isinstance(before, dict) and isinstance(after, dict) and before and after:
                # Created or deleted objects are not listed field by field: the action says it.
                fields.extend(_changed_fields(before, after))
            sides.append({"before": before, "after": after,
                          "before_header": diff.get("before_header"), "after_header": diff.get("after_header")})
        return fields, sides

    @staticmethod
    def _make(task_name, ref, action, fields, diff):
        ref = ref or _ref(None, None, None)
        text = _ref_text(ref) or f"an object the task does not name (task: {task_name})"
        return {"task": task_name, "object": text, "kind": ref["kind"], "namespace": ref["namespace"],
                "name": ref["name"], "action": action, "fields": fields, "diff": diff}

    def _entry(self, task_name, res):
        """The first entry of one result (kept for callers that record one object per result)."""
        entries = self._part_entries(task_name, res)
        return entries[0] if entries else self._make(task_name, None, None, [], [])

    # -- report -----------------------------------------------------------------------------
    def _write(self):
        if not self.path:
            return
        report = {
            "started": self.started,
            "clusters": {h: {"drifted": bool(self.drift.get(h)), "changes": self.drift.get(h, [])}
                         for h in sorted(self.hosts | set(self.drift))},
        }
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
        tmp = self.path + ".json.tmp"
        with open(tmp, "w") as fh:
            json.dump(report, fh, indent=2, sort_keys=True, default=str)
        os.rename(tmp, self.path + ".json")
        with open(self.path + ".md", "w") as fh:
            fh.write(self._markdown(report))

    @staticmethod
    def _markdown(report):
        lines = ["# Drift report", "", f"Run started {report['started']}.", ""]
        for host, data in report["clusters"].items():
            count = len(data["changes"])
            lines.append(f"## {host}: " + (f"drift found ({count} object{'s' if count != 1 else ''})" if data["drifted"] else "no drift"))
            lines.append("")
            for change in data["changes"]:
                action = f" ({change['action']})" if change.get("action") else ""
                lines.append(f"- **{change['object']}**{action}, task: {change['task']}")
                if change["fields"]:
                    lines.append("  - fields: " + ", ".join(f"`{f}`" for f in change["fields"][:30]))
                if change["diff"] == NO_LOG_DIFF:
                    lines.append(f"  - {NO_LOG_DIFF}")
                for side in change["diff"] if isinstance(change["diff"], list) else []:
                    before, after = side.get("before"), side.get("after")
                    if isinstance(before, str) and isinstance(after, str) and before and after:
                        # A created or deleted text (a new file) is not listed line by line.
                        changed = _changed_lines(before, after)
                        if changed:
                            lines.append("  - lines: " + ", ".join(f"`{line}`" for line in changed))
            lines.append("")
        return "\n".join(lines)
