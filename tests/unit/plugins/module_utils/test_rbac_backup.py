# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge cases of the lock-down backup and restore engine (_rbac, lockdown backup section) that a
live cluster does not produce easily: damaged parts, repeated subjects, several lock-downs, the
format of earlier versions. The behaviour against a real API server is in
tests/integration/test_rbac_lockdown.py."""

from __future__ import annotations

import gzip
import json

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac

RBAC = "rbac.authorization.k8s.io"


def user(name):
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def sa(name, namespace=None):
    out = {"kind": "ServiceAccount", "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


def crb(name, role, subjects, uid="u1"):
    return {
        "apiVersion": RBAC + "/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "uid": uid},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def rb(namespace, name, role_kind, role, subjects, uid="u2"):
    return {
        "apiVersion": RBAC + "/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def item(binding, remove, action=None):
    """A lock-down plan item as LockdownPlanner.plan makes it."""
    meta = binding["metadata"]
    keep = rbac.subtract_subjects(binding["subjects"], remove, meta.get("namespace"))
    return {
        "action": action or ("patch" if keep else "delete"),
        "kind": binding["kind"],
        "name": meta["name"],
        "namespace": meta.get("namespace"),
        "subjects": binding["subjects"],
        "remove_subjects": remove,
        "keep_subjects": keep,
        "uid": meta.get("uid"),
        "original": rbac.clean_binding(binding),
        "backup_key": rbac.backup_key(binding["kind"], meta["name"], meta.get("namespace")),
    }


# ------------------------------------------------------------------------------------ encoding
def test_round_trip_in_parts_with_checksums():
    entries = rbac.merge_backup_entries(
        {}, [item(crb(f"b{i:04d}", "cluster-admin", [user(f"user-{i}"), sa("x", "ns")]), [user(f"user-{i}")]) for i in range(300)]
    )
    enc = rbac.encode_backup(entries, 1024)
    assert len(enc["parts"]) > 2 and all(len(p) <= 1024 for p in enc["parts"])
    index = json.loads(rbac.backup_index("bk", enc)[rbac.BACKUP_INDEX_KEY])
    assert [p["name"] for p in index["parts"]][:2] == [f"bk-{enc['sha256'][:10]}-000", f"bk-{enc['sha256'][:10]}-001"]
    assert rbac.decode_backup(index, enc["parts"]) == entries
    # The same entries always give the same bytes (no rewrite on a re-run).
    assert rbac.encode_backup(entries, 1024)["parts"] == enc["parts"]


def test_damaged_or_missing_parts_are_refused():
    entries = rbac.merge_backup_entries({}, [item(crb("a", "admin", [user("alice")]), [user("alice")])])
    enc = rbac.encode_backup(entries, 256)
    index = json.loads(rbac.backup_index("bk", enc)[rbac.BACKUP_INDEX_KEY])
    damaged = [enc["parts"][0][:-1] + b"x"] + enc["parts"][1:]
    with pytest.raises(rbac.RbacBackupError, match="does not match its checksum"):
        rbac.decode_backup(index, damaged)
    with pytest.raises(rbac.RbacBackupError, match="parts, 0 were read"):
        rbac.decode_backup(index, [])
    # Parts consistent with themselves but not with the index's checksum of the whole.
    other = gzip.compress(rbac.backup_document({}), mtime=0)
    forged = dict(index, parts=[{"name": "bk-x-000", "sha256": rbac.sha256_hex(other), "bytes": len(other)}])
    with pytest.raises(rbac.RbacBackupError, match="checksum of the index"):
        rbac.decode_backup(forged, [other])


def test_chunk_bounds_and_newer_formats():
    for bad in (10, rbac.OBJECT_SIZE_LIMIT):
        with pytest.raises(rbac.RbacBackupError, match="part size must be between"):
            rbac.encode_backup({}, bad)
    with pytest.raises(rbac.RbacBackupError, match="Use the collection version that wrote it"):
        rbac.parse_backup_index({"format": "gitops.bootstrap/rbac-lockdown-backup/v3"})
    with pytest.raises(rbac.RbacBackupError, match="version 3 of the format"):
        rbac.read_backup_document({"format": rbac.BACKUP_FORMAT, "version": 3, "entries": {}})
    assert rbac.parse_backup_index({"crb._cluster.x.json": "{}"}) is None  # one ConfigMap of earlier versions


def test_entries_of_earlier_versions_are_read():
    old = rbac.clean_binding(crb("a", "admin", [user("alice"), sa("x", "ns")]))
    entries = rbac.legacy_backup_entries({"crb._cluster.a.json": json.dumps(old), "notes": "ignored"})
    assert entries == {"crb._cluster.a.json": {"binding": old, "removed_subjects": None, "action": None, "uid": None}}
    with pytest.raises(rbac.RbacBackupError, match="crb._cluster.b.json: it does not hold a RoleBinding"):
        rbac.legacy_backup_entries({"crb._cluster.b.json": json.dumps({"kind": "ConfigMap"})})
    # A file of earlier versions: backup key to JSON text.
    assert rbac.read_backup_document(json.dumps({"crb._cluster.a.json": json.dumps(old)})) == entries


# ------------------------------------------------------------------------------------ merging
def test_entries_merge_over_several_lockdowns():
    first = crb("ops", "admin", [user("alice"), sa("x", "ns")])
    entries = rbac.merge_backup_entries({}, [item(first, [user("alice")])])
    # Restored, then bob was added; the second lock-down removes both again.
    second = crb("ops", "admin", [user("alice"), sa("x", "ns"), user("bob")], uid="u9")
    entries = rbac.merge_backup_entries(entries, [item(second, [user("alice"), user("bob")])])
    entry = entries["crb._cluster.ops.json"]
    assert [s["name"] for s in entry["removed_subjects"]] == ["alice", "bob"]
    assert [s["name"] for s in entry["binding"]["subjects"]] == ["alice", "x", "bob"]
    assert entry["uid"] == "u9"
    # Saved by an earlier version (removed subjects unknown): what the binding lost since is taken as removed.
    legacy = rbac.legacy_backup_entries({"crb._cluster.ops.json": json.dumps(rbac.clean_binding(first))})
    now = crb("ops", "admin", [sa("x", "ns"), user("carol")])
    merged = rbac.merge_backup_entries(legacy, [item(now, [user("carol")])])["crb._cluster.ops.json"]
    assert [s["name"] for s in merged["removed_subjects"]] == ["alice", "carol"]
    # A binding created again with another role starts over.
    other = crb("ops", "view", [user("dave")])
    assert rbac.merge_backup_entries(entries, [item(other, [user("dave")])])["crb._cluster.ops.json"]["binding"]["roleRef"]["name"] == "view"


# ------------------------------------------------------------------------------------ restore
def plan(entries, live, **kw):
    return rbac.plan_restore(entries, live, **kw)


def test_restore_puts_repeated_subjects_back_in_their_places():
    binding = rb("shop", "edit", "ClusterRole", "edit", [user("a"), sa("x"), user("a"), user("b")])
    entries = rbac.merge_backup_entries({}, [item(binding, [user("a"), user("a"), user("b")])])
    live = [rb("shop", "edit", "ClusterRole", "edit", [sa("x")])]
    change = plan(entries, live)["changes"][0]
    assert change["subjects_after"] == binding["subjects"]
    assert plan(entries, [binding])["unchanged"] == ["rb.shop.edit.json"]


def test_restore_of_a_deleted_binding_creates_it_with_the_removed_subjects_only():
    binding = crb("ops", "admin", [user("alice"), sa("x", "ns")])
    entries = rbac.merge_backup_entries({}, [item(binding, [user("alice")])])
    # First the lock-down patched it; someone deleted it since.
    result = plan(entries, [])
    assert result["changes"] == [] and result["conflicts"][0]["reason"] == "deleted"
    created = plan(entries, [], recreate_deleted=True)["changes"][0]
    assert created["action"] == "create" and created["object"]["subjects"] == [user("alice")]
    assert "uid" not in created["object"]["metadata"]


def test_restore_conflicts_leave_the_binding_alone():
    binding = rb("shop", "edit", "ClusterRole", "edit", [user("alice")])
    entries = rbac.merge_backup_entries({}, [item(binding, [user("alice")])])
    # The same RoleBinding again, bound to another role.
    result = plan(entries, [rb("shop", "edit", "ClusterRole", "view", [user("zed")], uid="u7")])
    assert [c["reason"] for c in result["conflicts"]] == ["role_changed"] and not result["changes"]
    # Created again with the same role and someone else.
    result = plan(entries, [rb("shop", "edit", "ClusterRole", "edit", [user("zed")], uid="u7")])
    assert [c["reason"] for c in result["conflicts"]] == ["recreated"] and "User zed" in result["conflicts"][0]["message"]
    # Created again holding alice already: nothing to do, no conflict.
    assert plan(entries, [rb("shop", "edit", "ClusterRole", "edit", [user("zed"), user("alice")], uid="u7")])["unchanged"] == ["rb.shop.edit.json"]
    # Alice holds edit in shop through a ClusterRoleBinding made since: she is not added back.
    result = plan(entries, [crb("alice-edit", "edit", [user("alice")])])
    assert result["conflicts"][0]["reason"] == "granted_elsewhere" and "ClusterRoleBinding alice-edit" in result["conflicts"][0]["message"]
    assert result["changes"] == []
    # Another backed-up binding does not count as "elsewhere".
    both = rbac.merge_backup_entries(entries, [item(crb("alice-edit", "edit", [user("alice")]), [user("alice")])])
    assert len(plan(both, [crb("alice-edit", "edit", [user("alice")], uid="u1")])["changes"]) == 1


def test_restore_of_an_entry_of_earlier_versions_adds_what_the_binding_lacks():
    old = rbac.clean_binding(rb("shop", "mixed", "Role", "all", [user("carol"), sa("deployer")]))
    entries = rbac.legacy_backup_entries({"rb.shop.mixed.json": json.dumps(old)})
    live = [rb("shop", "mixed", "Role", "all", [sa("deployer"), sa("late")], uid="other")]
    change = plan(entries, live)["changes"][0]
    assert change["subjects_after"] == [user("carol"), sa("deployer"), sa("late")]
