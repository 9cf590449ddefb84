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

import json
import os

import pytest

from conftest import ROOT, kubectl, run_playbook
from rbac_helpers import (
    Authorizer,
    argocd_rbac_objects,
    bad_bindings,
    cleanup_lockdown,
    crb,
    rbac,
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
    # Backups: the ConfigMap and the file hold the originals.
    cm = json.loads(kubectl(cluster, "get", "configmap", "-n", "gitops-bootstrap-system", "rbac-lockdown-backup", "-o", "json").stdout)
    assert sorted(cm["data"]) == sorted(
        [
            "crb._cluster.rbac-t-alice-admin.json",
            "crb._cluster.rbac-t-bob-escalate.json",
            "crb._cluster.rbac-t-ops.json",
            "rb.rbac-t-a.team-a-edit.json",
            "rb.rbac-t-b.wildcard-mixed.json",
        ]
    )
    assert len(json.loads(cm["data"]["rb.rbac-t-b.wildcard-mixed.json"])["subjects"]) == 3
    with open(os.path.join(tmp, "rbac-backup.json")) as handle:
        assert json.load(handle) == cm["data"]
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
