# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install existing=keep: handing the fields of an object over to the agent that applies it from Git.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Server-side apply records in ``metadata.managedFields`` which field manager owns which field.
While this module and Argo CD both apply an object, both own the fields they set to the same
value; a key later removed from Git would then stay in the cluster, owned by this module. Once
the module stops applying the object (existing=keep), the fields that Argo CD's manager owns
too are removed from the module's entry, so Argo CD is their only owner.
"""

from __future__ import annotations


def subtract_fields(ours: dict, theirs: dict) -> dict:
    """The fields of ``ours`` (a fieldsV1 tree) that ``theirs`` does not own."""
    rest = {}
    for key, sub in ours.items():
        if key not in theirs:
            rest[key] = sub
            continue
        other = theirs[key] or {}
        if not sub or not other:
            # A leaf owned by both, or a field they own as a whole.
            continue
        left = subtract_fields(sub, other)
        if left and set(left) != {"."}:
            rest[key] = left
    return rest


def merge_fields(trees) -> dict:
    """The union of fieldsV1 trees."""
    union: dict = {}
    for tree in trees:
        for key, sub in (tree or {}).items():
            union[key] = merge_fields([union.get(key) or {}, sub or {}]) if (sub or union.get(key)) else {}
    return union


def hand_over_fields(entries: list, manager: str, to: str | None) -> list | None:
    """``managedFields`` without the fields of ``manager``'s Apply entries that ``to`` also manages.

    None when nothing changes: ``to`` is unset, or one of the two managers has no entry, or they share no field.
    """
    if not to:
        return None
    ours = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"]
    theirs = merge_fields(e.get("fieldsV1") for e in entries if e.get("manager") == to)
    if not ours or not theirs:
        return None
    result = []
    for entry in entries:
        if entry in ours:
            left = subtract_fields(entry.get("fieldsV1") or {}, theirs)
            if not left:
                continue
            entry = dict(entry, fieldsV1=left)
        result.append(entry)
    return None if result == entries else result


def managers_of(entries: list) -> list[str]:
    """The field managers of an object, with their operation, for a diff."""
    return sorted({"%s (%s)" % (e.get("manager"), e.get("operation")) for e in entries})
