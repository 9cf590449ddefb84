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

OURS = "gitops.bootstrap.argocd-install"


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


def test_hand_over_keeps_the_fields_only_we_own():
    entries = [entry(OURS, {"f:data": {"f:a": {}, "f:mine": {}}}), entry("argocd-controller", {"f:data": {"f:a": {}}})]
    handed = hand_over_fields(entries, OURS, "argocd-controller")
    assert handed[0]["fieldsV1"] == {"f:data": {"f:mine": {}}} and handed[1] == entries[1]


def test_nothing_to_hand_over_is_none():
    alone = [entry(OURS, {"f:data": {"f:a": {}}})]
    assert hand_over_fields(alone, OURS, "argocd-controller") is None
    disjoint = alone + [entry("argocd-controller", {"f:data": {"f:b": {}}})]
    assert hand_over_fields(disjoint, OURS, "argocd-controller") is None
    assert hand_over_fields(disjoint, OURS, None) is None
    # An Update entry of ours (a merge patch) is not a server-side apply and is left alone.
    assert hand_over_fields([entry(OURS, {"f:data": {"f:a": {}}}, "Update"), disjoint[1]], OURS, "argocd-controller") is None
