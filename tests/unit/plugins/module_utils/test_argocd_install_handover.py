# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Handing fields over to Argo CD's field manager: the managedFields arithmetic, edge cases."""

from __future__ import annotations

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.handover import (
    hand_over_fields,
    merge_fields,
    subtract_fields,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.present import HAND_OVER_ATTEMPTS, Install
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError

OURS = "gitops.bootstrap.argocd-install"
THEIRS = "argocd-controller"


def entry(manager, fields, operation="Apply"):
    return {"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields}


def test_subtract_keeps_only_what_the_other_does_not_own():
    ours = {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    theirs = {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:x": {}}}}
    assert subtract_fields(ours, theirs) == {"f:data": {"f:b": {}}}


def test_a_field_they_own_whole_covers_our_children():
    assert subtract_fields({"f:spec": {"f:a": {}}}, {"f:spec": {}}) == {}


def test_merge_is_a_union():
    assert merge_fields([{"f:data": {"f:a": {}}}, {"f:data": {"f:b": {}}}, None]) == {"f:data": {"f:a": {}, "f:b": {}}}


def test_hand_over_drops_an_entry_left_empty_and_keeps_others():
    entries = [entry(OURS, {"f:data": {"f:a": {}}}), entry("argocd-controller", {"f:data": {"f:a": {}, "f:b": {}}}),
               entry("kubectl", {"f:data": {"f:a": {}}}, "Update")]
    assert hand_over_fields(entries, OURS, "argocd-controller") == entries[1:]


def test_hand_over_drops_our_entry_whole_once_argocd_manages_the_object():
    # Argo CD found the object Synced (it already held Git's values) and applied only a few fields:
    # the ones it does not share with us go too, since Git holds them and Argo CD applies them next.
    entries = [entry(OURS, {"f:data": {"f:a": {}, "f:mine": {}}}), entry("argocd-controller", {"f:metadata": {"f:labels": {}}})]
    assert hand_over_fields(entries, OURS, "argocd-controller") == entries[1:]


def test_nothing_to_hand_over_is_none():
    alone = [entry(OURS, {"f:data": {"f:a": {}}})]
    assert hand_over_fields(alone, OURS, "argocd-controller") is None, "Argo CD does not manage it yet"
    disjoint = alone + [entry("argocd-controller", {"f:data": {"f:b": {}}})]
    assert hand_over_fields(disjoint, OURS, None) is None
    assert hand_over_fields(disjoint[1:], OURS, "argocd-controller") is None, "nothing of ours left"
    # An Update entry of ours (a merge patch) is not a server-side apply and is left alone.
    assert hand_over_fields([entry(OURS, {"f:data": {"f:a": {}}}, "Update"), disjoint[1]], OURS, "argocd-controller") is None


class _Conflict(Exception):
    status = 409


class _FlakyService:
    """Answers the first PATCHES hand-over patches with a conflict (Argo CD wrote the object in between)."""

    def __init__(self, conflicts, fresh):
        self.conflicts = conflicts
        self.fresh = fresh
        self.patches = []
        self.reads = 0

    def merge_patch(self, kind, api_version, name, namespace, patch, doing="", field_manager=None):
        self.patches.append(patch)
        if len(self.patches) <= self.conflicts:
            raise GitopsK8sError(f"{doing} {name}: conflict (409)") from _Conflict()
        return patch

    def get(self, kind, api_version, name, namespace=None):
        self.reads += 1
        return self.fresh


def _install(service):
    step = Install.__new__(Install)
    step.params = {"field_manager": OURS, "hand_over_to": THEIRS}
    step.service = service
    return step


def _app(version):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "argocd", "namespace": "argocd", "resourceVersion": version, "managedFields": [
                {"manager": OURS, "operation": "Apply", "fieldsV1": {"f:spec": {"f:project": {}}}},
                {"manager": THEIRS, "operation": "Apply", "fieldsV1": {"f:spec": {"f:project": {}}}}]}}


def test_hand_over_reads_again_after_a_concurrent_write():
    service = _FlakyService(conflicts=2, fresh=_app("12"))
    action = _install(service)._hand_over(_app("10"), _app("10"))
    assert action is not None and action.action == "hand over" and action.entry.get("kept")
    assert [p["metadata"]["resourceVersion"] for p in service.patches] == ["10", "12", "12"]
    assert service.reads == 2


def test_hand_over_gives_up_after_its_attempts_and_says_why():
    service = _FlakyService(conflicts=HAND_OVER_ATTEMPTS, fresh=_app("12"))
    try:
        _install(service)._hand_over(_app("10"), _app("10"))
    except GitopsK8sError as exc:
        assert "conflict (409)" in str(exc)
    else:
        raise AssertionError("a hand-over that met a conflict every time did not fail")
    assert len(service.patches) == HAND_OVER_ATTEMPTS
