# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: drift_report
type: aggregate
short_description: Collects what a check-mode run would change into a per-cluster drift report
version_added: 0.1.0
description:
  - Records every task result that reports C(changed), with the object it touches and the
    before/after of its diff, per inventory host (one host is one cluster). In a check-mode run
    (C(playbooks/drift.yml)) that is the drift; in a normal run it is what was repaired.
  - Writes the report as JSON and Markdown after every recorded change and at the end of the run, so
    a later play of the same run (the last play of C(playbooks/drift.yml)) can read it and fail the
    hosts that drifted.
  - Values of Secrets (C(data) and C(stringData)) are masked; results of C(no_log) tasks are never recorded.
requirements:
  - Enable it with C(ANSIBLE_CALLBACKS_ENABLED=gitops.bootstrap.drift_report) or C(callbacks_enabled) in C(ansible.cfg).
options:
  report_path:
    description:
      - Path of the report without extension; C(.json) and C(.md) are appended.
    type: path
    default: drift-report
    env:
      - name: GITOPS_DRIFT_REPORT
    ini:
      - section: gitops_drift_report
        key: report_path
"""

import datetime
import json
import os

from ansible.plugins.callback import CallbackBase

MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
_SERVER_OWNED = ("metadata.managedFields", "metadata.resourceVersion", "metadata.generation")


def _mask(obj):
    """Mask Secret values anywhere in a diff side."""
    if isinstance(obj, dict):
        is_secret = obj.get("kind") == "Secret"
        out = {}
        for key, value in obj.items():
            if is_secret and key in ("data", "stringData") and isinstance(value, dict):
                out[key] = dict((k, MASK) for k in value)
            else:
                out[key] = _mask(value)
        return out
    if isinstance(obj, list):
        return [_mask(v) for v in obj]
    return obj


def _changed_fields(before, after, prefix=""):
    """Dotted paths of the fields that differ between two JSON-like values."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths = []
        for key in sorted(set(before) | set(after), key=str):
            path = "%s.%s" % (prefix, key) if prefix else str(key)
            if key not in before or key not in after:
                paths.append(path)
            else:
                paths.extend(_changed_fields(before[key], after[key], path))
        return paths
    if before != after:
        return [prefix or "(whole object)"]
    return []


def _object_of(result):
    """A readable name of the object a result is about."""
    for key in ("result", "application", "project", "secret", "configmap", "object", "resource"):
        obj = result.get(key)
        if isinstance(obj, dict) and obj.get("kind") == "Status" and isinstance(obj.get("details"), dict):
            # A deletion answers with a Status naming what it deleted.
            details = obj["details"]
            return "%s %s (deleted)" % (details.get("kind"), details.get("name"))
        if isinstance(obj, dict) and obj.get("kind") and obj.get("kind") != "Status":
            meta = obj.get("metadata") or {}
            ns = meta.get("namespace")
            return "%s %s%s" % (obj.get("kind"), "%s/" % ns if ns else "", meta.get("name"))
    if result.get("path"):
        return "file %s" % result["path"]
    label = result.get("_ansible_item_label", result.get("item"))
    if isinstance(label, (str, int, float)):
        return str(label)
    if isinstance(label, dict) and label.get("name"):
        return str(label["name"])
    return None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gitops.bootstrap.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.drift = {}
        self.hosts = set()
        self.started = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.path = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
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
        if task.no_log or res.get("_ansible_no_log"):
            # The loop label is what the task's author chose to show for a no_log item.
            label = res.get("_ansible_item_label")
            entry = {"task": task.get_name(), "object": str(label) if isinstance(label, (str, int)) else None,
                     "fields": [], "diff": "(hidden: no_log task)"}
            self.drift.setdefault(host, []).append(entry)
            self._write()
            return
        inner = res.get("result")
        # kubernetes.core.k8s with several definitions reports one result per object.
        parts = [p for p in inner["results"] if p.get("changed")] if isinstance(inner, dict) and isinstance(inner.get("results"), list) else [res]
        for part in parts:
            entry = self._entry(task.get_name(), part)
            if entry["fields"] and all(f.startswith(_SERVER_OWNED) for f in entry["fields"]):
                # Only the API server's bookkeeping differs (a server-side apply dry run adds
                # its field manager to managedFields): the object itself has not drifted.
                continue
            self.drift.setdefault(host, []).append(entry)
        self._write()

    def v2_runner_item_on_ok(self, result):
        self.v2_runner_on_ok(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.hosts.add(result._host.get_name())

    def v2_runner_on_skipped(self, result):
        self.hosts.add(result._host.get_name())

    def v2_playbook_on_stats(self, stats):
        self._write()

    # -- report -----------------------------------------------------------------------------
    def _entry(self, task_name, res):
        diffs = res.get("diff")
        if isinstance(diffs, dict):
            diffs = [diffs]
        sides = []
        fields = []
        for diff in diffs or []:
            if not isinstance(diff, dict):
                continue
            before, after = _mask(diff.get("before")), _mask(diff.get("after"))
            if isinstance(before, dict) or isinstance(after, dict):
                fields.extend(_changed_fields(before or {}, after or {}))
            sides.append({"before": before, "after": after,
                          "before_header": diff.get("before_header"), "after_header": diff.get("after_header")})
        return {"task": task_name, "object": _object_of(res), "fields": fields, "diff": sides}

    def _write(self):
        if not self.path:
            return
        report = {
            "started": self.started,
            "clusters": dict((h, {"drifted": bool(self.drift.get(h)), "changes": self.drift.get(h, [])})
                             for h in sorted(self.hosts | set(self.drift))),
        }
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            os.makedirs(directory)
        tmp = self.path + ".json.tmp"
        with open(tmp, "w") as fh:
            json.dump(report, fh, indent=2, sort_keys=True, default=str)
        os.rename(tmp, self.path + ".json")
        with open(self.path + ".md", "w") as fh:
            fh.write(self._markdown(report))

    @staticmethod
    def _markdown(report):
        lines = ["# Drift report", "", "Run started %s." % report["started"], ""]
        for host, data in report["clusters"].items():
            lines.append("## %s: %s" % (host, "drift found" if data["drifted"] else "no drift"))
            lines.append("")
            for change in data["changes"]:
                lines.append("- **%s**%s" % (change["task"], " (%s)" % change["object"] if change["object"] else ""))
                if change["fields"]:
                    lines.append("  - fields: %s" % ", ".join("`%s`" % f for f in change["fields"][:30]))
                for side in change["diff"] if isinstance(change["diff"], list) else []:
                    before, after = side.get("before"), side.get("after")
                    if isinstance(before, str) or isinstance(after, str):
                        lines.append("  - before: `%s`" % (before or "")[:300].replace("\n", "\\n"))
                        lines.append("  - after: `%s`" % (after or "")[:300].replace("\n", "\\n"))
            lines.append("")
        return "\n".join(lines)
