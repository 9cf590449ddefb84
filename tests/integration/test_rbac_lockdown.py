# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rbac_lockdown role and the rbac_audit / rbac_restore playbooks against a real API server.

The role runs as an impersonated identity (User rbac-t-operator, bound to cluster-admin by an
ordinary binding) so that the lock-out guard protects a real RBAC identity, not the local
cluster's system:masters certificate. Every claim is checked with SubjectAccessReview.
The tests run in order and build on each other: refuse, plan, enforce, re-run, restore.
"""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

from conftest import ROOT, kubectl, run_playbook
from rbac_helpers import (
    Authorizer,
    apply,
    argocd_rbac_objects,
    bad_bindings,
    cleanup_lockdown,
    binding_state,
    crb,
    legacy_backup_configmap,
    rb,
    rbac,
    read_backup,
    sa,
    seed,
    user,
    wait_for_aggregation,
)

OPERATOR = "rbac-t-operator"
BREAK_GLASS = "rbac-t-platform"
ARGOCD_SA = "argocd/argocd-application-controller"


def role_play(variables):
    """A play running the role with these variables (play vars, so that include_role vars can override them)."""
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "vars": variables, "roles": ["gitops.bootstrap.rbac_lockdown"]}]) + "\n"


@pytest.fixture(scope="module")
def cluster(kubeconfig):
    cleanup_lockdown(kubeconfig)
    seed(kubeconfig, bad_bindings() + argocd_rbac_objects() + [crb("rbac-t-operator-admin", "cluster-admin", [user(OPERATOR)])])
    wait_for_aggregation(kubeconfig, "rbac-t-ops")
    yield kubeconfig
    cleanup_lockdown(kubeconfig, namespaces=True)


def settings(kubeconfig, tmp, **over):
    base = {
        "rbac_lockdown_kubeconfig": kubeconfig,
        "rbac_lockdown_impersonate_user": OPERATOR,
        "rbac_lockdown_mode": "enforce",
        "rbac_lockdown_break_glass_groups": [BREAK_GLASS],
        "rbac_lockdown_developer_groups": [
            {"name": "rbac-t-team-a", "namespaces": ["rbac-t-a"], "argocd_projects": ["team-a"]},
            {"name": "rbac-t-devs"},
        ],
        "rbac_lockdown_allow_subjects": [
            {"kind": "User", "name": OPERATOR},
            {"kind": "ServiceAccount", "name": "argocd-application-controller", "namespace": "argocd"},
        ],
        "rbac_lockdown_backup_file": os.path.join(tmp, "rbac-backup.json"),
        "rbac_lockdown_verify_access": [
            {"service_account": ARGOCD_SA, "verb": "create", "resource": "deployments", "api_group": "apps", "namespace": "rbac-t-a", "expect": True},
        ],
    }
    base.update(over)
    return base


def role_task(run, name):
    """The result of a task of the role (the json callback prefixes role task names)."""
    for task in run.tasks():
        if task["task"]["name"] in (name, "gitops.bootstrap.rbac_lockdown : " + name):
            return task["hosts"].get("localhost", {})
    raise KeyError("no task %r in %s" % (name, [t["task"]["name"] for t in run.tasks()]))


def bindings(kubeconfig):
    out = set()
    for kind in ("clusterrolebindings", "rolebindings"):
        items = json.loads(kubectl(kubeconfig, "get", kind, "-A", "-l", "rbac-test=true", "-o", "json").stdout)["items"]
        out |= set((i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"], len(i.get("subjects") or [])) for i in items)
    return out


def exists(kubeconfig, *args):
    return kubectl(kubeconfig, "get", *args, check=False).returncode == 0


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return str(tmp_path_factory.mktemp("rbac"))


def test_bad_input_is_refused_before_any_change(cluster, tmp):
    before = bindings(cluster)
    play = """
    - hosts: localhost
      gather_facts: false
      vars: %s
      tasks:
        - name: unknown mode
          block:
            - ansible.builtin.include_role: {name: gitops.bootstrap.rbac_lockdown}
              vars: {rbac_lockdown_mode: lockdown}
          rescue:
            - ansible.builtin.set_fact: {unknown_mode: "{{ ansible_failed_result.msg }}"}
        - name: enforce without break-glass
          block:
            - ansible.builtin.include_role: {name: gitops.bootstrap.rbac_lockdown}
              vars: {rbac_lockdown_break_glass_groups: []}
          rescue:
            - ansible.builtin.set_fact: {no_break_glass: "{{ ansible_failed_result.msg }}"}
        - name: missing namespace
          block:
            - ansible.builtin.include_role: {name: gitops.bootstrap.rbac_lockdown}
              vars: {rbac_lockdown_developer_groups: [{name: rbac-t-x, namespaces: [rbac-t-nowhere]}]}
          rescue:
            - ansible.builtin.set_fact: {missing_ns: "{{ ansible_failed_result.msg }}"}
        - name: Messages
          ansible.builtin.debug:
            msg: {unknown_mode: "{{ unknown_mode }}", no_break_glass: "{{ no_break_glass }}", missing_ns: "{{ missing_ns }}"}
    """ % json.dumps(settings(cluster, tmp))
    run = run_playbook(play)
    msgs = run.task_result("Messages")["msg"]
    assert "rbac_lockdown_mode" in msgs["unknown_mode"] and "audit, enforce" in msgs["unknown_mode"], msgs
    assert "rbac_lockdown_break_glass_groups is empty" in msgs["no_break_glass"] and "nothing was changed" in msgs["no_break_glass"]
    assert "rbac-t-nowhere" in msgs["missing_ns"] and "do not exist" in msgs["missing_ns"]
    assert bindings(cluster) == before
    assert not exists(cluster, "clusterrole", "gitops-readonly")

    # A group that matches no binding is warned about (audit mode changes nothing).
    run = run_playbook(
        role_play(settings(cluster, tmp, rbac_lockdown_mode="audit", rbac_lockdown_developer_groups=[{"name": "rbac-t-no-such-group"}]))
    )
    assert run.rc == 0, run
    audit = role_task(run, "RBAC is audited, the lock-down planned and the lock-out guard passed")
    assert any("rbac-t-no-such-group" in w and "named by no RoleBinding" in w for w in audit["warnings"]), audit.get("warnings")
    assert run.changed() == 0
    assert bindings(cluster) == before


def test_guard_refuses_to_lock_out_the_running_identity(cluster, tmp):
    before = bindings(cluster)
    over = settings(cluster, tmp)
    over["rbac_lockdown_allow_subjects"] = [s for s in over["rbac_lockdown_allow_subjects"] if s["name"] != OPERATOR]
    run = run_playbook(role_play(over))
    assert run.rc != 0
    msg = " ".join(run.failed_msgs())
    assert "Refusing the RBAC lock-down" in msg and "running identity rbac-t-operator" in msg, msg
    assert "ClusterRoleBinding rbac-t-operator-admin" in msg and "Nothing was changed" in msg
    assert bindings(cluster) == before
    assert not exists(cluster, "clusterrole", "gitops-readonly")
    assert not exists(cluster, "configmap", "-n", "gitops-bootstrap-system", "rbac-lockdown-backup")


def test_check_mode_shows_the_plan_and_changes_nothing(cluster, tmp):
    before = bindings(cluster)
    run = run_playbook(role_play(settings(cluster, tmp)), check=True)
    assert run.rc == 0, run
    plan = role_task(run, "The lock-down plan is shown")["msg"]
    assert len(plan) == 5 and any(line.startswith("patch RoleBinding rbac-t-b/wildcard-mixed") for line in plan), plan
    assert run.changed() > 0
    assert bindings(cluster) == before
    assert not exists(cluster, "clusterrole", "gitops-readonly")


def authenticated(user_name=None, groups=()):
    return rbac.Identity(user_name, rbac.implicit_groups(user_name or "") + list(groups))


def req(verb, resource, namespace="", group="", sub=""):
    return rbac.Request(verb, resource, api_group=group, namespace=namespace, subresource=sub)


# The backup entries of the bindings the lock-down of the seeded cluster changes.
LOCKED_DOWN_ENTRIES = [
    "crb._cluster.rbac-t-alice-admin.json",
    "crb._cluster.rbac-t-bob-escalate.json",
    "crb._cluster.rbac-t-ops.json",
    "rb.rbac-t-a.team-a-edit.json",
    "rb.rbac-t-b.wildcard-mixed.json",
]

EXPECTATIONS = [
    # developers: read, never write nor Secrets
    (authenticated(None, ["rbac-t-team-a"]), req("get", "deployments", "rbac-t-a", "apps"), True),
    (authenticated(None, ["rbac-t-team-a"]), req("list", "deployments", "rbac-t-a", "apps"), True),
    (authenticated(None, ["rbac-t-team-a"]), req("create", "deployments", "rbac-t-a", "apps"), False),
    (authenticated(None, ["rbac-t-team-a"]), req("patch", "deployments", "rbac-t-a", "apps"), False),
    (authenticated(None, ["rbac-t-team-a"]), req("delete", "deployments", "rbac-t-a", "apps"), False),
    (authenticated(None, ["rbac-t-team-a"]), req("get", "secrets", "rbac-t-a"), False),
    (authenticated(None, ["rbac-t-team-a"]), req("create", "pods", "rbac-t-a", sub="exec"), False),
    (authenticated(None, ["rbac-t-team-a"]), req("get", "deployments", "rbac-t-b", "apps"), False),
    (authenticated("someone", ["rbac-t-devs"]), req("list", "deployments", "rbac-t-b", "apps"), True),
    (authenticated("someone", ["rbac-t-devs"]), req("get", "deployments", "", "apps"), True),
    (authenticated("someone", ["rbac-t-devs"]), req("patch", "deployments", "rbac-t-b", "apps"), False),
    (authenticated("someone", ["rbac-t-devs"]), req("delete", "deployments", "rbac-t-b", "apps"), False),
    (authenticated("someone", ["rbac-t-devs"]), req("list", "secrets", "rbac-t-b"), False),
    # the pull agent keeps deploying
    (authenticated("system:serviceaccount:argocd:argocd-application-controller"), req("create", "deployments", "rbac-t-a", "apps"), True),
    (authenticated("system:serviceaccount:argocd:argocd-application-controller"), req("delete", "deployments", "rbac-t-b", "apps"), True),
    (authenticated("system:serviceaccount:argocd:argocd-application-controller"), req("get", "secrets", "rbac-t-b"), True),
    # break-glass and the running identity keep everything
    (authenticated("anyone", [BREAK_GLASS]), req("*", "*", group="*"), True),
    (authenticated(OPERATOR), req("*", "*", group="*"), True),
    # people lost their write access
    (authenticated("rbac-t-alice"), req("create", "deployments", "rbac-t-a", "apps"), False),
    (authenticated("rbac-t-bob"), req("escalate", "clusterroles", group="rbac.authorization.k8s.io"), False),
    (authenticated("rbac-t-carol"), req("create", "pods", "rbac-t-b"), False),
    (authenticated(None, ["rbac-t-team-b"]), req("delete", "configmaps", "rbac-t-b"), False),
    (authenticated(None, ["rbac-t-ops"]), req("get", "secrets", "rbac-t-c"), False),
    # read-only access and service accounts are left alone
    (authenticated("rbac-t-dave"), req("get", "pods", "rbac-t-c"), True),
    (authenticated("system:serviceaccount:rbac-t-b:deployer"), req("create", "pods", "rbac-t-b"), True),
]


def test_enforce(cluster, tmp):
    run = run_playbook(role_play(settings(cluster, tmp)))
    assert run.rc == 0, run
    assert run.changed() > 0
    # The API server's own answers.
    authz = Authorizer(cluster)
    answers = authz.many([(i, r) for i, r, _want in EXPECTATIONS])
    wrong = ["%s: %s is %s" % (i.describe(), r.describe(), a) for (i, r, want), a in zip(EXPECTATIONS, answers) if a != want]
    assert not wrong, "\n".join(wrong)
    # The shared binding was patched, not deleted; the others are gone.
    left = dict(((k, ns, n), count) for k, ns, n, count in bindings(cluster))
    assert left[("RoleBinding", "rbac-t-b", "wildcard-mixed")] == 1
    assert left[("RoleBinding", "rbac-t-c", "dave-view")] == 1
    for gone in [
        ("ClusterRoleBinding", None, "rbac-t-alice-admin"),
        ("ClusterRoleBinding", None, "rbac-t-bob-escalate"),
        ("ClusterRoleBinding", None, "rbac-t-ops"),
        ("RoleBinding", "rbac-t-a", "team-a-edit"),
    ]:
        assert gone not in left
    # Backups: the ConfigMaps (index and compressed parts, every checksum verified) and the file hold the originals.
    backup = read_backup(cluster)
    entries = backup["document"]["entries"]
    assert sorted(entries) == sorted(LOCKED_DOWN_ENTRIES)
    assert len(entries["rb.rbac-t-b.wildcard-mixed.json"]["binding"]["subjects"]) == 3
    assert sorted(s["name"] for s in entries["rb.rbac-t-b.wildcard-mixed.json"]["removed_subjects"]) == ["rbac-t-carol", "rbac-t-team-b"]
    assert entries["crb._cluster.rbac-t-alice-admin.json"]["action"] == "delete"
    with open(os.path.join(tmp, "rbac-backup.json")) as handle:
        assert json.load(handle) == backup["document"]
    # Argo CD: the developers' role may get and sync the applications of their project.
    rbac_cm = json.loads(kubectl(cluster, "get", "configmap", "-n", "argocd", "argocd-rbac-cm", "-o", "json").stdout)
    csv = rbac_cm["data"]["policy.gitops-developers.csv"]
    assert "g, rbac-t-team-a, role:developer-rbac-t-team-a" in csv
    assert "p, role:developer-rbac-t-team-a, applications, sync, team-a/*, allow" in csv
    assert "p, role:developer-rbac-t-team-a, applications, get, team-a/*, allow" in csv
    assert "rbac-t-devs" not in csv  # no projects listed: no Argo CD role


def test_developer_access_through_impersonation(cluster):
    """The same promises, asked by the developer itself (SelfSubjectAccessReview under impersonation)."""
    checks = [
        {"self": True, "verb": "list", "resource": "deployments", "api_group": "apps", "namespace": "rbac-t-a", "expect": True},
        {"self": True, "verb": "delete", "resource": "deployments", "api_group": "apps", "namespace": "rbac-t-a", "expect": False},
        {"self": True, "verb": "get", "resource": "secrets", "namespace": "rbac-t-a", "expect": False},
    ]
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "review",
                    "gitops.bootstrap.k8s_access_review": {
                        "kubeconfig": cluster,
                        "impersonate_user": "rbac-t-newcomer",
                        "impersonate_groups": ["rbac-t-team-a"],
                        "checks": checks,
                    },
                }
            ],
        }
    ]
    run = run_playbook(json.dumps(play) + "\n")
    assert run.rc == 0, run
    assert run.task_result("review")["all_as_expected"]


def test_rerun_changes_nothing(cluster, tmp):
    run = run_playbook(role_play(settings(cluster, tmp)))
    assert run.rc == 0, run
    assert run.changed() == 0, [t["task"]["name"] for t in run.tasks() if t["hosts"]["localhost"].get("changed")]
    # A developer group dropped from the settings loses its managed binding; without Argo CD in the named
    # namespace, the Argo CD mapping is skipped with a message.
    over = settings(cluster, tmp, rbac_lockdown_argocd_namespace="rbac-t-no-argocd", rbac_lockdown_developer_groups=[{"name": "rbac-t-devs"}])
    assert exists(cluster, "rolebinding", "-n", "rbac-t-a", "gitops-developers-readonly")
    run = run_playbook(role_play(over))
    assert run.rc == 0, run
    assert (
        "Argo CD is not installed in namespace rbac-t-no-argocd" in role_task(run, "Argo CD mapping is skipped where Argo CD is not installed")["msg"]
    )
    assert role_task(run, "Developer bindings no longer wanted are removed")["changed"]
    assert not exists(cluster, "rolebinding", "-n", "rbac-t-a", "gitops-developers-readonly")
    assert exists(cluster, "clusterrolebinding", "gitops-developers-readonly")
    authz = Authorizer(cluster)
    assert not authz.allowed(authenticated(None, ["rbac-t-team-a"]), req("list", "deployments", "rbac-t-a", "apps"))


def test_restore_brings_the_bindings_back(cluster, tmp):
    extra = {"rbac_restore_hosts": "localhost", "rbac_lockdown_kubeconfig": cluster}
    run = run_playbook(os.path.join(ROOT, "playbooks", "rbac_restore.yml"), extra_vars=extra)
    assert run.rc == 0, run
    assert run.changed() > 0
    left = dict(((k, ns, n), count) for k, ns, n, count in bindings(cluster))
    assert left[("ClusterRoleBinding", None, "rbac-t-alice-admin")] == 1
    assert left[("RoleBinding", "rbac-t-a", "team-a-edit")] == 1
    assert left[("RoleBinding", "rbac-t-b", "wildcard-mixed")] == 3
    authz = Authorizer(cluster)
    assert authz.allowed(authenticated("rbac-t-alice"), req("*", "*", group="*"))
    assert authz.allowed(authenticated("rbac-t-carol"), req("create", "pods", "rbac-t-b"))
    run = run_playbook(os.path.join(ROOT, "playbooks", "rbac_restore.yml"), extra_vars=extra)
    assert run.rc == 0 and run.changed() == 0, run
    # From the file, a single entry, pruning nothing; an unknown entry is refused with the list of entries.
    run = run_playbook(
        os.path.join(ROOT, "playbooks", "rbac_restore.yml"),
        extra_vars=dict(extra, rbac_restore_file=os.path.join(tmp, "rbac-backup.json"), rbac_restore_only=["crb._cluster.nope.json"]),
    )
    assert (
        run.rc != 0
        and "crb._cluster.nope.json" in " ".join(run.failed_msgs())
        and "crb._cluster.rbac-t-alice-admin.json" in " ".join(run.failed_msgs())
    )


def test_audit_playbook_reports_and_changes_nothing(cluster, tmp):
    before = bindings(cluster)
    run = run_playbook(
        os.path.join(ROOT, "playbooks", "rbac_audit.yml"),
        extra_vars={
            "rbac_audit_hosts": "localhost",
            "rbac_lockdown_kubeconfig": cluster,
            "rbac_audit_report_dir": tmp,
            "rbac_lockdown_break_glass_groups": [BREAK_GLASS],
        },
    )
    assert run.rc == 0, run
    text = open(os.path.join(tmp, "rbac-audit-localhost.md")).read()
    assert "User `rbac-t-alice`" in text and "## Lock-down plan" in text
    assert bindings(cluster) == before


# ------------------------------------------------------------------------ restore and backups
RESTORE = os.path.join(ROOT, "playbooks", "rbac_restore.yml")
RESTORE_TASK = "Subjects the lock-down removed are back, what the bindings hold now is kept"
SEEDED = "rbac-test=true"
MANAGED = "gitops.bootstrap/component=rbac-lockdown"


def restore(kubeconfig, check=False, **extra):
    return run_playbook(RESTORE, extra_vars=dict({"rbac_restore_hosts": "localhost", "rbac_lockdown_kubeconfig": kubeconfig}, **extra), check=check)


def subject_set(subjects):
    return sorted((s["kind"], s["name"], s.get("namespace") or "") for s in subjects)


def live_object(kubeconfig, kind, name, namespace=None):
    args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
    return json.loads(kubectl(kubeconfig, *args).stdout)


def patch_subjects(kubeconfig, ops):
    """A JSON patch of RoleBinding rbac-t-b/wildcard-mixed, as a person would make it."""
    kubectl(kubeconfig, "patch", "rolebinding", "-n", "rbac-t-b", "wildcard-mixed", "--type=json", "-p", json.dumps(ops))


def test_restore_keeps_subjects_added_since_the_lockdown(cluster, tmp):
    original = binding_state(cluster, SEEDED)
    run = run_playbook(role_play(settings(cluster, tmp)))
    assert run.rc == 0, run
    # After the lock-down someone adds a ServiceAccount to the binding it patched.
    late = {"kind": "ServiceAccount", "name": "late-deployer", "namespace": "rbac-t-b"}
    patch_subjects(cluster, [{"op": "add", "path": "/subjects/-", "value": late}])
    before = binding_state(cluster, SEEDED)

    run = restore(cluster, check=True)
    assert run.rc == 0, run
    assert binding_state(cluster, SEEDED) == before
    assert run.changed() == 1

    run = restore(cluster)
    assert run.rc == 0, run
    mixed = live_object(cluster, "rolebinding", "wildcard-mixed", "rbac-t-b")["subjects"]
    assert mixed[:3] == original[("RoleBinding", "rbac-t-b", "wildcard-mixed")]["subjects"]
    assert mixed[3:] == [late]
    assert run.changed() == 1 and not any(t["hosts"]["localhost"].get("warnings") for t in run.tasks()), run
    result = run.task_result(RESTORE_TASK)
    assert result["conflicts"] == [], result
    restored = {r["key"]: r for r in result["restored"]}
    assert sorted(s["name"] for s in restored["rb.rbac-t-b.wildcard-mixed.json"]["added"]) == ["rbac-t-carol", "rbac-t-team-b"]
    assert restored["crb._cluster.rbac-t-alice-admin.json"]["action"] == "create"
    authz = Authorizer(cluster)
    assert authz.allowed(authenticated("rbac-t-carol"), req("create", "pods", "rbac-t-b"))
    assert authz.allowed(authenticated("system:serviceaccount:rbac-t-b:late-deployer"), req("create", "pods", "rbac-t-b"))

    run = restore(cluster)
    assert run.rc == 0 and run.changed() == 0, run
    patch_subjects(cluster, [{"op": "remove", "path": "/subjects/3"}])
    assert binding_state(cluster, SEEDED) == original


def test_restore_reports_conflicts_and_leaves_them_alone(cluster, tmp):
    original = binding_state(cluster, SEEDED)
    run = run_playbook(role_play(settings(cluster, tmp)))
    assert run.rc == 0, run
    # Since the lock-down: a deleted binding created again with another role, one created again with
    # the same role and someone else, and a removed user bound to the same role by a new binding.
    seed(
        cluster,
        [
            rb("rbac-t-a", "team-a-edit", "ClusterRole", "view", [user("rbac-t-yan")]),
            crb("rbac-t-alice-admin", "cluster-admin", [user("rbac-t-zed")]),
            crb("rbac-t-bob-again", "rbac-t-escalator", [user("rbac-t-bob")]),
        ],
    )
    before = binding_state(cluster, SEEDED)
    run = restore(cluster, check=True)
    assert run.rc == 0, run
    assert binding_state(cluster, SEEDED) == before

    run = restore(cluster)
    assert run.rc == 0, run
    result = run.task_result(RESTORE_TASK)
    conflicts = {c["key"]: c for c in result["conflicts"]}
    assert sorted(conflicts) == ["crb._cluster.rbac-t-alice-admin.json", "crb._cluster.rbac-t-bob-escalate.json", "rb.rbac-t-a.team-a-edit.json"], conflicts
    assert conflicts["rb.rbac-t-a.team-a-edit.json"]["reason"] == "role_changed"
    assert "now refers to ClusterRole view, the backup to ClusterRole edit" in conflicts["rb.rbac-t-a.team-a-edit.json"]["message"]
    assert conflicts["crb._cluster.rbac-t-alice-admin.json"]["reason"] == "recreated"
    assert "User rbac-t-zed" in conflicts["crb._cluster.rbac-t-alice-admin.json"]["message"]
    assert conflicts["crb._cluster.rbac-t-bob-escalate.json"]["reason"] == "granted_elsewhere"
    assert "ClusterRoleBinding rbac-t-bob-again" in conflicts["crb._cluster.rbac-t-bob-escalate.json"]["message"]
    warnings = " ".join(result.get("warnings") or [])
    for c in conflicts.values():
        assert c["message"] in warnings
    # The conflicting bindings are as they were; the others are back.
    state = binding_state(cluster, SEEDED)
    left_alone = [
        ("RoleBinding", "rbac-t-a", "team-a-edit"),
        ("ClusterRoleBinding", None, "rbac-t-alice-admin"),
        ("ClusterRoleBinding", None, "rbac-t-bob-again"),
    ]
    for key in left_alone:
        assert state[key] == before[key]
    assert ("ClusterRoleBinding", None, "rbac-t-bob-escalate") not in state
    for key in [("ClusterRoleBinding", None, "rbac-t-ops"), ("RoleBinding", "rbac-t-b", "wildcard-mixed")]:
        assert state[key] == original[key]
    authz = Authorizer(cluster)
    assert not authz.allowed(authenticated("rbac-t-alice"), req("*", "*", group="*"))
    assert not authz.allowed(authenticated(None, ["rbac-t-team-a"]), req("create", "deployments", "rbac-t-a", "apps"))

    run = restore(cluster)
    assert run.rc == 0 and run.changed() == 0, run
    assert sorted(c["key"] for c in run.task_result(RESTORE_TASK)["conflicts"]) == sorted(conflicts)

    # Once the conflicts are resolved by hand, the restore brings back the saved bindings.
    kubectl(cluster, "delete", "clusterrolebinding", "rbac-t-alice-admin", "rbac-t-bob-again")
    kubectl(cluster, "delete", "rolebinding", "-n", "rbac-t-a", "team-a-edit")
    run = restore(cluster)
    assert run.rc == 0 and run.task_result(RESTORE_TASK)["conflicts"] == [], run
    assert binding_state(cluster, SEEDED) == original


def test_restore_reads_the_backup_of_earlier_versions_and_the_lockdown_converts_it(cluster, tmp):
    original = binding_state(cluster, SEEDED)
    alice = live_object(cluster, "clusterrolebinding", "rbac-t-alice-admin")
    mixed = live_object(cluster, "rolebinding", "wildcard-mixed", "rbac-t-b")

    def lock_down_as_earlier_versions():
        # What earlier versions did: the originals as JSON text in one ConfigMap, then the changes.
        kubectl(cluster, "delete", "configmaps", "-n", "gitops-bootstrap-system", "-l", MANAGED, "--ignore-not-found")
        apply(cluster, [legacy_backup_configmap([alice, mixed])])
        kubectl(cluster, "delete", "clusterrolebinding", "rbac-t-alice-admin")
        keep = [s for s in mixed["subjects"] if s["kind"] == "ServiceAccount"]
        patch_subjects(cluster, [{"op": "replace", "path": "/subjects", "value": keep}])

    lock_down_as_earlier_versions()
    run = restore(cluster)
    assert run.rc == 0, run
    result = run.task_result(RESTORE_TASK)
    assert result["backup"]["format"] == 1 and result["conflicts"] == [], result
    assert sorted(r["key"] for r in result["restored"]) == ["crb._cluster.rbac-t-alice-admin.json", "rb.rbac-t-b.wildcard-mixed.json"]
    assert binding_state(cluster, SEEDED) == original
    run = restore(cluster)
    assert run.rc == 0 and run.changed() == 0, run

    # An earlier version locked down, then this one: the backup is converted, keeping the old entries.
    lock_down_as_earlier_versions()
    run = run_playbook(role_play(settings(cluster, tmp)))
    assert run.rc == 0, run
    assert role_task(run, "Originals of the bindings to change are saved in the backup and checked, before any binding changes")["backup"]["migrated"]
    backup = read_backup(cluster)
    assert "crb._cluster.rbac-t-alice-admin.json" not in backup["index_object"]["data"]
    entries = backup["document"]["entries"]
    assert sorted(entries) == sorted(LOCKED_DOWN_ENTRIES)
    assert entries["rb.rbac-t-b.wildcard-mixed.json"]["removed_subjects"] is None  # saved by the earlier version
    run = restore(cluster)
    assert run.rc == 0 and run.task_result(RESTORE_TASK)["conflicts"] == [], run
    assert binding_state(cluster, SEEDED) == original


def test_a_damaged_backup_is_refused(cluster, tmp):
    run = run_playbook(role_play(settings(cluster, tmp)))
    assert run.rc == 0, run
    backup = read_backup(cluster)
    part = backup["parts"][0]["metadata"]["name"]
    before = binding_state(cluster, SEEDED)
    kubectl(cluster, "patch", "configmap", "-n", "gitops-bootstrap-system", part, "--type=merge", "-p", json.dumps({"binaryData": {"part": "AAAA"}}))
    run = restore(cluster)
    assert run.rc != 0
    msg = " ".join(run.failed_msgs())
    assert f"part {part} does not match its checksum" in msg and "Nothing was changed" in msg, msg
    assert binding_state(cluster, SEEDED) == before
    # The file written beside it still restores.
    run = restore(cluster, rbac_restore_file=os.path.join(tmp, "rbac-backup.json"))
    assert run.rc == 0, run
    kubectl(cluster, "delete", "configmaps", "-n", "gitops-bootstrap-system", "-l", MANAGED)


def test_no_binding_changes_when_the_backup_cannot_be_written(cluster, tmp):
    cleanup_managed(cluster)
    before = binding_state(cluster, SEEDED)
    # An admission policy refuses the second part of the backup (and the single ConfigMap of earlier
    # versions): the first part is written, then the write fails.
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "rbac-t-no-second-part", "labels": {"rbac-test": "true"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}]},
            "validations": [
                {
                    "expression": "!object.metadata.name.endsWith('-001') && object.metadata.name != 'rbac-lockdown-backup'",
                    "message": "rbac-t: no second part",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "rbac-t-no-second-part", "labels": {"rbac-test": "true"}},
        "spec": {
            "policyName": "rbac-t-no-second-part",
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gitops-bootstrap-system"}}},
        },
    }
    apply(cluster, [policy, binding])
    try:
        probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rbac-t-probe-001", "namespace": "gitops-bootstrap-system"}}
        kubectl(cluster, "create", "namespace", "gitops-bootstrap-system", check=False)
        deadline = time.time() + 30
        while kubectl(cluster, "create", "-f", "-", input_text=json.dumps(probe), check=False).returncode == 0:
            kubectl(cluster, "delete", "configmap", "-n", "gitops-bootstrap-system", "rbac-t-probe-001")
            assert time.time() < deadline, "the admission policy did not take effect"
            time.sleep(1)
        run = run_playbook(role_play(settings(cluster, tmp, rbac_lockdown_backup_chunk_bytes=256)))
        assert run.rc != 0
        assert binding_state(cluster, SEEDED) == before
        assert not exists(cluster, "clusterrolebinding", "gitops-break-glass")
        assert not exists(cluster, "clusterrole", "gitops-readonly")
        msg = " ".join(run.failed_msgs())
        assert "Writing the RBAC lock-down backup failed, no binding was changed" in msg and "rbac-t: no second part" in msg, msg
        left = json.loads(kubectl(cluster, "get", "configmaps", "-n", "gitops-bootstrap-system", "-l", MANAGED, "-o", "json").stdout)["items"]
        assert left == [], [i["metadata"]["name"] for i in left]
    finally:
        kubectl(cluster, "delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "rbac-t-no-second-part", "--ignore-not-found")


def test_audit_and_check_mode_say_in_advance_when_the_backup_does_not_fit(cluster, tmp):
    cleanup_managed(cluster)
    before = binding_state(cluster, SEEDED)
    kubectl(cluster, "create", "namespace", "gitops-bootstrap-system", check=False)
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "rbac-t-few-configmaps", "namespace": "gitops-bootstrap-system", "labels": {"rbac-test": "true"}},
        "spec": {"hard": {"count/configmaps": "1"}},
    }
    apply(cluster, [quota])
    try:
        deadline = time.time() + 60
        status = {}
        while "count/configmaps" not in status.get("used", {}):
            status = live_object(cluster, "resourcequota", "rbac-t-few-configmaps", "gitops-bootstrap-system").get("status") or {}
            assert time.time() < deadline, "the quota controller did not fill the quota's status"
            time.sleep(1)
        small = settings(cluster, tmp, rbac_lockdown_backup_chunk_bytes=256)
        for check in (False, True):
            run = run_playbook(role_play(small), check=check)
            assert run.rc != 0
            assert binding_state(cluster, SEEDED) == before
            assert not exists(cluster, "clusterrolebinding", "gitops-break-glass")
            msg = " ".join(run.failed_msgs())
            assert "does not fit in namespace gitops-bootstrap-system" in msg and "Nothing was changed" in msg, msg
            assert "ResourceQuota gitops-bootstrap-system/rbac-t-few-configmaps allows 1 ConfigMaps" in msg, msg
        run = run_playbook(role_play(dict(small, rbac_lockdown_mode="audit")))
        assert run.rc == 0, run
        size = role_task(run, "The backup the lock-down writes before any change is sized")["msg"]
        assert "It does not fit: ResourceQuota gitops-bootstrap-system/rbac-t-few-configmaps allows 1 ConfigMaps" in size, size
        audit = role_task(run, "RBAC is audited, the lock-down planned and the lock-out guard passed")
        assert audit["lockdown_backup_size"]["objects"] > 2 and not audit["lockdown_backup_size"]["fits"]
        assert any("would not fit" in w for w in audit["warnings"]), audit["warnings"]
    finally:
        kubectl(cluster, "delete", "resourcequota", "-n", "gitops-bootstrap-system", "rbac-t-few-configmaps", "--ignore-not-found")


def cleanup_managed(kubeconfig):
    """Remove what the lock-down role created (its bindings, read-only role, backup), keeping the seeded objects."""
    kubectl(kubeconfig, "delete", "clusterrolebindings,clusterroles", "-l", MANAGED, "--ignore-not-found")
    kubectl(kubeconfig, "delete", "rolebindings", "-A", "-l", MANAGED, "--ignore-not-found")
    kubectl(kubeconfig, "delete", "configmaps", "-A", "-l", MANAGED, "--ignore-not-found")


def load_benchmark():
    """The seeding code of benchmarks/rbac_audit.py (the README's benchmark size)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rbac_audit_benchmark", os.path.join(ROOT, "benchmarks", "rbac_audit.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_size_locks_down_and_restores(cluster, tmp):
    """The README's benchmark cluster (2,000 bindings, 500 roles), plus a few large group bindings so
    that the backup is larger than one ConfigMap can hold (1 MiB)."""
    bench = load_benchmark()
    objs = bench.seed_objects(500, 2000)
    people = [user(f"rbac-t-someone-with-a-long-name-{j:03d}@people.example.com") for j in range(60)]
    large = [crb(f"rbac-t-large-{i:02d}", "edit", people + [sa("builder", "rbac-t-a")]) for i in range(40)]
    try:
        bench.seed(cluster, objs)
        seed(cluster, large)
        before = binding_state(cluster, bench.LABEL)
        before_seeded = binding_state(cluster, SEEDED)
        assert len(before) == 2000
        over = settings(cluster, tmp, rbac_lockdown_backup_chunk_bytes=16384, rbac_lockdown_backup_file=os.path.join(tmp, "bench-backup.json"))
        started = time.monotonic()
        run = run_playbook(role_play(over))
        lockdown_s = time.monotonic() - started
        assert run.rc == 0, run
        plan = role_task(run, "The lock-down plan is shown")["msg"]
        saved = role_task(run, "Originals of the bindings to change are saved in the backup and checked, before any binding changes")["backup"]
        applied = role_task(run, "People lose the bindings only they held, and are removed from the bindings they share")
        assert len(plan) > 1500 and len(applied["deleted"]) + len(applied["patched"]) == len(plan), (len(plan), saved)
        assert saved["entries"] == len(plan) and saved["objects"] >= 3, saved
        # One ConfigMap of earlier versions would have had to hold more than the API server's limit.
        backup = read_backup(cluster)
        single = sum(len(k) + len(json.dumps(rbac.clean_binding(e["binding"]), sort_keys=True)) for k, e in backup["document"]["entries"].items())
        assert single > 1024 * 1024, single
        for part in backup["parts"]:
            assert len(base64.b64decode(part["binaryData"]["part"])) <= 16384
        locked = binding_state(cluster, bench.LABEL)
        assert len(locked) < len(before)
        assert all(len(b["subjects"]) == 1 for k, b in binding_state(cluster, SEEDED).items() if k[2].startswith("rbac-t-large-"))

        started = time.monotonic()
        run = restore(cluster)
        restore_s = time.monotonic() - started
        assert run.rc == 0, run
        result = run.task_result(RESTORE_TASK)
        assert result["conflicts"] == [] and len(result["restored"]) == len(plan), result["conflicts"][:5]
        assert binding_state(cluster, bench.LABEL) == before
        assert binding_state(cluster, SEEDED) == before_seeded
        run = restore(cluster)
        assert run.rc == 0 and run.changed() == 0, run
        print(
            f"\n2,000 bindings and 40 large ones: {len(plan)} changed by the lock-down in {lockdown_s:.0f} s (whole role), restored in "
            f"{restore_s:.0f} s; backup {saved['json_bytes']} bytes of JSON, {saved['compressed_bytes']} compressed, {saved['objects']} "
            f"ConfigMaps; as one ConfigMap of earlier versions: {single} bytes"
        )
    finally:
        kubectl(cluster, "delete", "clusterrolebindings", *[b["metadata"]["name"] for b in large], "--ignore-not-found")
        kubectl(cluster, "delete", "clusterrolebindings,clusterroles", "-l", bench.LABEL, "--ignore-not-found")
        kubectl(cluster, "delete", "namespaces", "-l", bench.LABEL, "--ignore-not-found", "--timeout=300s")
