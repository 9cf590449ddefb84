# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admission guard and time-boxed break-glass against a real API server.

One cluster for the whole file. The people are impersonated (kubectl --as): admission sees the
impersonated user, which the refusal message names. adm-t-alice is cluster-admin by an ordinary
binding and not break-glass; adm-t-platform is the break-glass group. The identity of the
kubeconfig stands for the control plane's components (on the local cluster they share it) and is
given to the guard as a system user. The tests run in order and build on each other.
"""

from __future__ import annotations

import datetime
import json
import os
import time

import pytest

from conftest import ROOT, kubectl, run_playbook
from rbac_helpers import cleanup_lockdown

ALICE = "adm-t-alice"
CAROL = "adm-t-carol"
PLATFORM = "adm-t-platform"
NS = "adm-t-apps"
GUARD = "adm-t-guard"
PREFIX = "adm-t-grant"
MARK = "gitops.bootstrap admission guard"


def guard_play(kubeconfig, **options):
    args = {"kubeconfig": kubeconfig, "name": GUARD, "break_glass_groups": [PLATFORM], "probe_namespace": NS}
    args.update(options)
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "guard", "gitops.bootstrap.k8s_admission_guard": args, "register": "out"},
    ]}]) + "\n"


def breakglass_play(kubeconfig, **options):
    args = {"kubeconfig": kubeconfig, "guard": GUARD, "binding_prefix": PREFIX}
    args.update(options)
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "grant", "gitops.bootstrap.k8s_breakglass": args},
    ]}]) + "\n"


def exists(kubeconfig, *what):
    return kubectl(kubeconfig, "get", *what, "--ignore-not-found", "-o", "name").stdout.strip() != ""


def as_user(kubeconfig, user, *args, groups=()):
    extra = [f"--as={user}"] + [f"--as-group={g}" for g in groups]
    return kubectl(kubeconfig, *extra, *args, check=False)


def patch_deployment(kubeconfig, user, groups=(), value="1"):
    return as_user(kubeconfig, user, "-n", NS, "patch", "deployment", "adm-t-web", "--type=merge",
                   "-p", json.dumps({"metadata": {"annotations": {"adm-t/touched": value}}}), groups=groups)


def eventually(check, timeout=40.0, interval=0.5):
    """The last result of check() once it is truthy, or the last one after timeout (admission policies take effect
    a moment after they are written)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def outcome(run, accept):
    """A check for eventually(): the result of run() when accept(result), else None."""
    def check():
        result = run()
        return result if accept(result) else None
    return check


def guard_objects(kubeconfig):
    return (exists(kubeconfig, "validatingadmissionpolicy", GUARD) or exists(kubeconfig, "validatingadmissionpolicybinding", GUARD)
            or exists(kubeconfig, "validatingadmissionpolicy", f"{GUARD}-probe"))


def remove_all(kubeconfig):
    kubectl(kubeconfig, "delete", "validatingadmissionpolicybinding", GUARD, f"{GUARD}-probe", "--ignore-not-found")
    time.sleep(2)
    kubectl(kubeconfig, "delete", "validatingadmissionpolicy", GUARD, f"{GUARD}-probe", "--ignore-not-found")
    kubectl(kubeconfig, "delete", "clusterrolebinding", "-l", f"gitops.bootstrap/break-glass-grant={GUARD}", "--ignore-not-found")
    kubectl(kubeconfig, "delete", "clusterrolebinding", "adm-t-alice-admin", "adm-t-platform-admin", "--ignore-not-found")


@pytest.fixture(scope="module")
def cluster(kubeconfig):
    remove_all(kubeconfig)
    whoami = json.loads(kubectl(kubeconfig, "auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]["username"]
    kubectl(kubeconfig, "create", "namespace", NS, check=False)
    kubectl(kubeconfig, "create", "clusterrolebinding", "adm-t-alice-admin", "--clusterrole=cluster-admin", f"--user={ALICE}")
    kubectl(kubeconfig, "create", "clusterrolebinding", "adm-t-platform-admin", "--clusterrole=cluster-admin", f"--group={PLATFORM}")
    kubectl(kubeconfig, "-n", NS, "create", "deployment", "adm-t-web", "--image=registry.invalid/web:1", "--replicas=2", check=False)
    yield {"kubeconfig": kubeconfig, "system_user": whoami}
    remove_all(kubeconfig)
    cleanup_lockdown(kubeconfig)
    kubectl(kubeconfig, "delete", "namespace", NS, "--ignore-not-found", "--wait=false")


def enforce_options(cluster, **over):
    opts = {"mode": "enforce", "system_users": [cluster["system_user"]], "infra_repo": "https://git.example/platform/infra"}
    opts.update(over)
    return opts


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("options, message", [
    ({"break_glass_groups": []}, "break_glass_groups is empty"),
    ({"allow_subjects": [{"kind": "Group", "name": "system:authenticated"}]}, "stands for everyone"),
    ({"allow_subjects": [{"kind": "ServiceAccount", "name": "ci"}]}, "needs its namespace and name"),
    ({"allow_subjects": [{"kind": "Robot", "name": "x"}]}, "not User, Group or ServiceAccount"),
    ({"exclude_namespaces": ["Not A Namespace"]}, "exclude_namespaces[0]"),
])
def test_bad_guard_input_is_refused_and_nothing_is_written(cluster, options, message):
    run = run_playbook(guard_play(cluster["kubeconfig"], **enforce_options(cluster, **options)))
    assert run.rc != 0
    assert any(message in m for m in run.failed_msgs()), run
    assert not guard_objects(cluster["kubeconfig"])


@pytest.mark.parametrize("options, message", [
    ({"user": CAROL, "duration": "10m"}, "needs a reason"),
    ({"user": CAROL, "reason": "   ", "duration": "10m"}, "needs a reason"),
    ({"user": CAROL, "reason": "INC-1"}, "needs a time bound"),
    ({"user": CAROL, "reason": "INC-1", "duration": "9h"}, "longer than max_duration 8h"),
    ({"user": CAROL, "reason": "INC-1", "duration": "forever"}, "is not a duration"),
    ({"reason": "INC-1", "duration": "10m"}, "user is empty"),
])
def test_bad_breakglass_request_is_refused(cluster, options, message):
    run = run_playbook(breakglass_play(cluster["kubeconfig"], **options))
    assert run.rc != 0
    assert any(message in m for m in run.failed_msgs()), run
    assert not exists(cluster["kubeconfig"], "clusterrolebinding", "-l", f"gitops.bootstrap/break-glass-grant={GUARD}")


# ------------------------------------------------------------------------------------ lock-out guard
def test_lockout_guard_refuses_when_the_running_identity_would_be_refused(cluster):
    kc = cluster["kubeconfig"]
    run = run_playbook(guard_play(kc, impersonate_user=ALICE, **enforce_options(cluster)))
    assert run.rc != 0, run
    msg = " ".join(run.failed_msgs())
    assert "Refusing to bind the admission guard with Deny" in msg and "the running identity" in msg, msg
    assert "Nothing was changed" in msg
    assert not guard_objects(kc)
    assert patch_deployment(kc, ALICE).returncode == 0


def test_check_mode_changes_nothing(cluster):
    kc = cluster["kubeconfig"]
    run = run_playbook(guard_play(kc, **enforce_options(cluster)), check=True)
    assert run.rc == 0, run
    assert run.changed() == 1
    assert not guard_objects(kc)


# ------------------------------------------------------------------------------------ enforce
def test_enforce_refuses_people_and_lets_the_system_through(cluster):
    kc = cluster["kubeconfig"]
    run = run_playbook(guard_play(kc, **enforce_options(cluster)), diff=True)
    assert run.rc == 0, run
    result = run.task_result("guard")
    assert result["changed"]
    assert result["validation_actions"] == ["Deny"]
    who = {f["who"]: f for f in result["lockout_check"]}
    assert who["the running identity"]["keeps"] and who["the running identity"]["checked"]
    assert who[f"break-glass group {PLATFORM}"]["keeps"] and who[f"break-glass group {PLATFORM}"]["checked"]
    assert not exists(kc, "validatingadmissionpolicy", f"{GUARD}-probe")

    # A cluster-admin who is not break-glass: refused with the guard's message, naming the impersonated user.
    refused = eventually(outcome(lambda: patch_deployment(kc, ALICE), lambda p: p.returncode != 0))
    assert refused is not None, "the guard never refused the cluster-admin user"
    assert MARK in refused.stderr and f"by {ALICE}" in refused.stderr, refused.stderr
    assert "infra repository (https://git.example/platform/infra)" in refused.stderr
    assert "breakglass.yml" in refused.stderr
    # system:masters passes RBAC, not the guard.
    masters = as_user(kc, "adm-t-bob", "-n", NS, "create", "configmap", "adm-t-bob", groups=["system:masters"])
    assert masters.returncode != 0 and MARK in masters.stderr, masters.stderr
    # A delete too.
    assert as_user(kc, ALICE, "-n", NS, "delete", "deployment", "adm-t-web").returncode != 0

    # The break-glass group may write; reads, reviews and dry runs work for everyone.
    assert patch_deployment(kc, ALICE, groups=[PLATFORM]).returncode == 0
    assert as_user(kc, ALICE, "-n", NS, "get", "deployments").returncode == 0
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "someone", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": NS}}}
    sar = kubectl(kc, f"--as={ALICE}", "create", "-f", "-", "-o", "json", input_text=json.dumps(review), check=False)
    assert sar.returncode == 0, sar.stderr
    assert "status" in json.loads(sar.stdout)
    assert as_user(kc, ALICE, "auth", "can-i", "patch", "deployments", "-n", NS).stdout.strip() == "yes"
    assert as_user(kc, ALICE, "-n", NS, "create", "configmap", "adm-t-preview", "--dry-run=server").returncode == 0

    # The controller-manager still rolls out Deployments: KWOK pods become Running.
    kubectl(kc, "-n", NS, "set", "image", "deployment/adm-t-web", "web=registry.invalid/web:2")
    kubectl(kc, "-n", NS, "rollout", "status", "deployment/adm-t-web", "--timeout=90s")
    pods = json.loads(kubectl(kc, "-n", NS, "get", "pods", "-l", "app=adm-t-web", "-o", "json").stdout)["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running" and p["spec"]["containers"][0]["image"].endswith(":2")]
    assert len(running) >= 2, [(p["metadata"]["name"], p["status"].get("phase")) for p in pods]


def test_rerun_reports_no_change(cluster):
    run = run_playbook(guard_play(cluster["kubeconfig"], **enforce_options(cluster)))
    assert run.rc == 0, run
    assert run.changed() == 0, run.task_result("guard")
    assert "not needed" in run.task_result("guard")["lockout_check"]


# ------------------------------------------------------------------------------------ break-glass
def test_breakglass_grant_allows_then_expires(cluster):
    kc = cluster["kubeconfig"]
    assert patch_deployment(kc, CAROL).returncode != 0
    play = os.path.join(ROOT, "playbooks", "breakglass.yml")
    extra = {"breakglass_hosts": "localhost", "rbac_lockdown_kubeconfig": kc, "rbac_lockdown_admission_name": GUARD,
             "rbac_lockdown_break_glass_grant_prefix": PREFIX, "breakglass_user": CAROL,
             "breakglass_reason": "adm-t incident", "breakglass_duration": "20s"}
    run = run_playbook(play, extra_vars=extra)
    assert run.rc == 0, run
    grant = run.task_result("The grant of the named user is as asked")["grant"]
    assert grant["user"] == CAROL and grant["reason"] == "adm-t incident" and not grant["expired"]
    binding = json.loads(kubectl(kc, "get", "clusterrolebinding", grant["name"], "-o", "json").stdout)
    notes = binding["metadata"]["annotations"]
    assert notes["gitops.bootstrap/break-glass-reason"] == "adm-t incident"
    assert notes["gitops.bootstrap/break-glass-expires"] == grant["expires"]
    allowed = eventually(lambda: patch_deployment(kc, CAROL, value="carol").returncode == 0)
    assert allowed, "the break-glass grant did not let the user write"

    expires = datetime.datetime.strptime(grant["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    time.sleep(max(0.0, (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1))
    # The drift run (check mode) reports the expired grant still present, and removes nothing.
    prune = breakglass_play(kc, state="pruned")
    run = run_playbook(prune, check=True)
    assert run.rc == 0 and run.changed() == 1, run
    objects = run.task_result("grant")["objects"]
    assert {"kind": "ClusterRoleBinding", "namespace": None, "name": grant["name"], "action": "delete"} in objects
    assert exists(kc, "clusterrolebinding", grant["name"])
    # A run removes it, and the write is refused again.
    run = run_playbook(prune)
    assert run.rc == 0 and run.changed() == 1, run
    assert not exists(kc, "clusterrolebinding", grant["name"])
    refused = eventually(lambda: patch_deployment(kc, CAROL, value="late").returncode != 0)
    assert refused, "the user could still write after the grant was removed"
    assert run_playbook(prune).changed() == 0


# ------------------------------------------------------------------------------------ the role, audit, restore
def role_play(variables):
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "vars": variables, "roles": ["gitops.bootstrap.rbac_lockdown"]}]) + "\n"


def role_vars(cluster, **over):
    base = {
        "rbac_lockdown_kubeconfig": cluster["kubeconfig"],
        "rbac_lockdown_mode": "audit",
        "rbac_lockdown_admission_guard": True,
        "rbac_lockdown_admission_name": GUARD,
        "rbac_lockdown_break_glass_grant_prefix": PREFIX,
        "rbac_lockdown_break_glass_groups": [PLATFORM],
        "rbac_lockdown_admission_system_users": [cluster["system_user"]],
        "rbac_lockdown_argocd_enabled": False,
    }
    base.update(over)
    return base


def test_role_audit_mode_warns_and_refuses_nothing(cluster):
    kc = cluster["kubeconfig"]
    run = run_playbook(role_play(role_vars(cluster)))
    assert run.rc == 0, run
    task = run.task_result("gitops.bootstrap.rbac_lockdown : Writes by people are refused at admission (enforce) or warned about (audit)")
    assert task["validation_actions"] == ["Audit", "Warn"]
    binding = json.loads(kubectl(kc, "get", "validatingadmissionpolicybinding", GUARD, "-o", "json").stdout)
    assert binding["spec"]["validationActions"] == ["Audit", "Warn"]

    def warned():
        out = patch_deployment(kc, ALICE, value=str(time.time()))
        return out if out.returncode == 0 and MARK in out.stderr else None
    out = eventually(warned)
    assert out is not None, "no warning reached the client in audit mode"
    assert "Warning" in out.stderr and f"by {ALICE}" in out.stderr

    again = run_playbook(role_play(role_vars(cluster)))
    assert again.rc == 0 and again.changed() == 0, again


def test_role_check_mode_changes_nothing(cluster):
    kc = cluster["kubeconfig"]
    run = run_playbook(role_play(role_vars(cluster, rbac_lockdown_admission_guard=False)), check=True)
    assert run.rc == 0, run
    assert run.task_result("gitops.bootstrap.rbac_lockdown : The admission guard is absent while it is off")["changed"]
    assert exists(kc, "validatingadmissionpolicybinding", GUARD)


def test_role_enforce_then_restore_puts_the_cluster_back(cluster, tmp_path):
    kc = cluster["kubeconfig"]
    variables = role_vars(cluster, rbac_lockdown_mode="enforce", rbac_lockdown_backup_file=str(tmp_path / "backup.json"))
    run = run_playbook(role_play(variables))
    assert run.rc == 0, run
    task = run.task_result("gitops.bootstrap.rbac_lockdown : Writes by people are refused at admission (enforce) or warned about (audit)")
    assert task["changed"] and task["validation_actions"] == ["Deny"]
    assert all(f["keeps"] for f in task["lockout_check"]), task["lockout_check"]
    assert not exists(kc, "clusterrolebinding", "adm-t-alice-admin")
    refused = eventually(outcome(lambda: patch_deployment(kc, ALICE, groups=["system:masters"]),
                                 lambda p: p.returncode != 0 and MARK in p.stderr))
    assert refused is not None, "the guard did not refuse a system:masters user after the role's enforce run"

    restore = os.path.join(ROOT, "playbooks", "rbac_restore.yml")
    extra = {"rbac_restore_hosts": "localhost", "rbac_lockdown_kubeconfig": kc, "rbac_lockdown_admission_name": GUARD}
    run = run_playbook(restore, extra_vars=extra)
    assert run.rc == 0, run
    assert run.task_result("The admission guard of the lock-down is removed")["changed"]
    assert not guard_objects(kc)
    assert exists(kc, "clusterrolebinding", "adm-t-alice-admin")
    out = eventually(outcome(lambda: patch_deployment(kc, ALICE, value="restored"), lambda p: p.returncode == 0))
    assert out is not None and MARK not in out.stderr
    assert run_playbook(restore, extra_vars=extra).changed() == 0
