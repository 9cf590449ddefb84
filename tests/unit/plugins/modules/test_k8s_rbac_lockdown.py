# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rbac_lockdown's apply loop on the cases a real cluster shows only by a race: a binding
deleted or changed between the plan and the lock-down, a write the API server refuses.

The lock-down against a real API server is proven by tests/integration/test_rbac_lockdown.py.
"""

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError
from ansible_collections.gitops.bootstrap.plugins.modules import k8s_rbac_lockdown as mod

RBAC = "rbac.authorization.k8s.io"
ALICE = {"kind": "User", "apiGroup": RBAC, "name": "alice"}
BOB = {"kind": "User", "apiGroup": RBAC, "name": "bob"}
OPS = {"kind": "Group", "apiGroup": RBAC, "name": "ops"}


def binding(name, subjects, namespace="team-a"):
    meta = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "7"}
    return {"kind": "RoleBinding", "metadata": meta, "subjects": subjects, "roleRef": {"kind": "ClusterRole", "name": "edit"}}


def item(name, action, subjects, keep=None):
    out = {"kind": "RoleBinding", "name": name, "namespace": "team-a", "action": action, "subjects": subjects, "backup_key": f"rb.team-a.{name}.json"}
    if action == "patch":
        out["keep_subjects"] = keep
    return out


class Writer:
    """Records the writes; a binding named in ``refuse`` is refused as the API server would."""

    def __init__(self, refuse=()):
        self.refuse = refuse
        self.writes = []

    def delete(self, kind, name, namespace, uid, resource_version):
        self._write(("delete", kind, namespace, name, uid, resource_version))

    def set_subjects(self, kind, name, namespace, subjects, resource_version, expect_subjects=None):
        self._write(("patch", kind, namespace, name, subjects, expect_subjects))

    def _write(self, call):
        if call[3] in self.refuse:
            raise GitopsK8sError(f"the server refused {call[3]}")
        self.writes.append(call)


class Module:
    check_mode = False
    _diff = True

    def __init__(self, plan):
        self.params = {"plan": plan, "backup": {}}


def run(monkeypatch, plan, live, refuse=()):
    writer = Writer(refuse)
    monkeypatch.setattr(mod, "list_bindings", lambda module: live)
    monkeypatch.setattr(mod, "BindingWriter", lambda module: writer)
    monkeypatch.setattr(mod.LockdownManager, "check_backup", lambda self: {"checked": True})
    manager = mod.LockdownManager(Module(plan))
    try:
        return manager.run(), writer
    except GitopsK8sError as exc:
        return exc, writer


def test_bindings_as_planned_are_deleted_and_patched(monkeypatch):
    live = [binding("gone", [ALICE]), binding("shared", [ALICE, OPS])]
    plan = [item("gone", "delete", [ALICE]), item("shared", "patch", [ALICE, OPS], keep=[OPS])]
    out, writer = run(monkeypatch, plan, live)
    assert out["changed"] is True
    assert out["deleted"] == ["RoleBinding team-a/gone"] and out["patched"] == ["RoleBinding team-a/shared"]
    assert [o["action"] for o in out["objects"]] == ["delete", "update"]
    assert writer.writes == [
        ("delete", "RoleBinding", "team-a", "gone", "uid-gone", "7"),
        ("patch", "RoleBinding", "team-a", "shared", [OPS], [ALICE, OPS]),
    ]
    assert out["diff"]["before"] == {"RoleBinding team-a/gone": [ALICE], "RoleBinding team-a/shared": [ALICE, OPS]}
    assert out["diff"]["after"] == {"RoleBinding team-a/gone": None, "RoleBinding team-a/shared": [OPS]}


def test_what_is_already_done_is_unchanged(monkeypatch):
    plan = [item("gone", "delete", [ALICE]), item("shared", "patch", [ALICE, OPS], keep=[OPS])]
    out, writer = run(monkeypatch, plan, [binding("shared", [OPS])])
    assert out["changed"] is False and writer.writes == []
    assert out["unchanged"] == ["RoleBinding team-a/gone", "RoleBinding team-a/shared"]


def test_bindings_changed_since_the_plan_are_left_alone_and_named(monkeypatch):
    live = [binding("more", [ALICE, BOB]), binding("other", [BOB, OPS]), binding("fine", [ALICE])]
    plan = [
        item("more", "delete", [ALICE]),
        item("other", "patch", [ALICE, OPS], keep=[OPS]),
        item("deleted", "patch", [ALICE, OPS], keep=[OPS]),
        item("fine", "delete", [ALICE]),
    ]
    err, writer = run(monkeypatch, plan, live)
    assert isinstance(err, GitopsK8sError)
    assert err.msg.startswith("3 binding(s) changed after the lock-down was planned and were left alone")
    assert [c["binding"] for c in err.details["changed_since_plan"]] == [
        "RoleBinding team-a/more", "RoleBinding team-a/other", "RoleBinding team-a/deleted",
    ]
    messages = [c["message"] for c in err.details["changed_since_plan"]]
    assert messages[0].startswith("RoleBinding team-a/more holds other subjects than planned (")
    assert "bob" in messages[0] and "bob" in messages[1]
    assert messages[2] == "RoleBinding team-a/deleted was deleted since the plan"
    assert err.details["deleted"] == ["RoleBinding team-a/fine"], "the others were still changed as planned"
    assert writer.writes == [("delete", "RoleBinding", "team-a", "fine", "uid-fine", "7")]


@pytest.mark.parametrize("action", ["delete", "patch"])
def test_a_refused_write_is_reported_with_the_server_message(monkeypatch, action):
    plan = [item("locked", action, [ALICE, OPS], keep=[OPS])]
    err, writer = run(monkeypatch, plan, [binding("locked", [ALICE, OPS])], refuse=("locked",))
    assert isinstance(err, GitopsK8sError) and writer.writes == []
    assert err.details["changed_since_plan"] == [{"binding": "RoleBinding team-a/locked", "message": "the server refused locked"}]
    assert err.details["changed"] is False and err.details["objects"] == []
