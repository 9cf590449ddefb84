# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install existing=keep: handing the fields of an object over to the agent that applies it from Git.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Server-side apply records in ``metadata.managedFields`` which field manager owns which field.
While this module and Argo CD both apply an object, both own the fields they set to the same
value; a key later removed from Git would then stay in the cluster, owned by this module. Once
the module stops applying the object (existing=keep) and Argo CD manages it, the module's entry
is removed, so Argo CD is the only owner of what Git says.
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
    """``managedFields`` without ``manager``'s Apply entries, once ``to`` manages the object.

    Argo CD applies an object from Git only when it differs from Git, so the fields it shares
    with this module's old apply are not always in its entry: an object that already holds Git's
    values stays Synced and is never applied again. The repository holds every value this module
    applied (infra_repo renders it from the same variables), so once Argo CD manages the object at
    all, this module's entries go whole; Argo CD's next apply owns what Git says.
    None when nothing changes: ``to`` is unset or does not manage the object, or ``manager`` has no Apply entry.
    """
    if not to or not any(e.get("manager") == to for e in entries):
        return None
    result = [e for e in entries if not (e.get("manager") == manager and e.get("operation") == "Apply")]
    return None if len(result) == len(entries) else result


def managers_of(entries: list) -> list[str]:
    """The field managers of an object, with their operation, for a diff."""
    return sorted({"%s (%s)" % (e.get("manager"), e.get("operation")) for e in entries})
