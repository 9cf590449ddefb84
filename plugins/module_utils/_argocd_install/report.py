# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install: what a run did, as the module returns it (objects, summary, timings, diff).

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.
"""

from __future__ import annotations

import time

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import crd_digest
from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import ref_of
from ansible_collections.gitops.bootstrap.plugins.module_utils._secrets import NO_LOG_MASK, mask_secret


class Action:
    """The result for one object."""

    def __init__(self, obj, action, validated=True, before=None, after=None, kept=False):
        meta = obj.get("metadata") or {}
        self.obj = obj
        self.action = action
        self.validated = validated
        self.before = before
        self.after = after
        self.entry = {
            "api_version": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta.get("name"),
            "namespace": meta.get("namespace") or "",
            "action": action,
            "validated": validated,
        }
        if kept:
            self.entry["kept"] = True


class Report:
    """Everything a run of argocd_install found and did, filled in by the install or the uninstall."""

    def __init__(self, params: dict, check_mode: bool = False, diff: bool = False):
        self.params = params
        self.check_mode = bool(check_mode)
        self.diff = diff
        self.namespace = params["namespace"]
        self.actions: list[Action] = []
        self.warnings: list[str] = []
        self.timings: dict[str, float] = {}
        self.files: list[dict] = []
        # Set by the install or the uninstall as they read the cluster.
        self.version: str | None = None
        self.flavour: str | None = None
        self.namespace_existed = False
        self.crds_existed = False
        self.workloads: list[dict] = []
        self.applications: list[dict] = []
        self._t0 = time.time()

    def mark(self, phase: str) -> None:
        """Close a phase: the seconds since the previous one."""
        now = time.time()
        self.timings[phase] = round(now - self._t0, 3)
        self._t0 = now

    def record(self, action: Action | None) -> None:
        if action is not None:
            self.actions.append(action)

    def record_all(self, actions) -> None:
        for action in actions:
            self.record(action)

    def entries(self) -> list[dict]:
        return [a.entry for a in self.actions]

    def result(self) -> dict:
        summary = {"create": 0, "update": 0, "unchanged": 0, "delete": 0}
        for action in self.actions:
            summary[action.action] = summary.get(action.action, 0) + 1
        changed = any(a.action != "unchanged" for a in self.actions)
        result = {
            "changed": changed,
            "version": self.version or self.params.get("version"),
            "flavour": self.flavour or self.params["flavour"],
            "namespace": self.namespace,
            "objects": self.entries(),
            "summary": summary,
            "check_mode": self.check_mode,
            "namespace_existed": self.namespace_existed,
            "crds_existed": self.crds_existed,
            "timings": self.timings,
        }
        if self.files:
            result["files"] = self.files
        if self.params["state"] == "present":
            result["workloads"] = self.workloads
        else:
            result["applications"] = self.applications
        if self.diff:
            result["diff"] = [diff_of(a) for a in self.actions if a.action != "unchanged"]
        return result


def diff_of(action: Action) -> dict:
    """The diff of one object: Secret values masked, CRD schemas shown as their digest."""
    def show(obj):
        if obj is None:
            return {}
        if obj.get("kind") == "Secret":
            obj = mask_secret(obj, mask=NO_LOG_MASK)
        return crd_digest(obj)

    ref = ref_of(action.obj)
    return {
        "before_header": ref if action.before is not None else f"{ref} (absent)",
        "after_header": ref if action.action != "delete" else f"{ref} (absent)",
        "before": show(action.before),
        "after": show(action.after) if action.action != "delete" else {},
    }
