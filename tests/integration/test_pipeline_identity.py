# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline identity (k8s_pipeline_identity) against a real API server: its dry runs pass, its real writes are
refused by the admission policy with the policy's message. The tests run in order and build on each other."""

from __future__ import annotations

import json
import os
import stat

import pytest

from conftest import kubectl, run_playbook

NS = "pid-t-pipeline"
APPS = "pid-t-apps"
NAME = "pid-t-plan"
POLICY = f"gitops-pipeline-{NS}-{NAME}-dry-run-only"
MESSAGE = "this identity may only send dry-run requests"


def play(kubeconfig, **options):
    args = {"kubeconfig": kubeconfig, "namespace": NS, "name": NAME, "namespaces": [APPS]}
    args.update(options)
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "identity", "gitops.bootstrap.k8s_pipeline_identity": args, "register": "out", "no_log": False},
    ]}]) + "\n"


def configmap(value):
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pid-t-cm", "namespace": APPS},
                       "data": {"k": value}})


def apply_as(path, *flags):
    return kubectl(path, "apply", "--server-side", "--field-manager=pid-t", *flags, "-f", "-", input_text=configmap("1"), check=False)


def labelled(kubeconfig):
    sel = f"gitops.bootstrap/pipeline-identity={NAME}"
    out = kubectl(kubeconfig, "get", "serviceaccount,role,rolebinding,clusterrole,clusterrolebinding,"
                  "validatingadmissionpolicy,validatingadmissionpolicybinding", "-A", "-l", sel, "-o", "name").stdout
    return sorted(out.split())


@pytest.fixture(scope="module")
def cluster(kubeconfig):
    for ns in (NS, APPS):
        kubectl(kubeconfig, "create", "namespace", ns, check=False)
    yield kubeconfig
    run_playbook(play(kubeconfig, state="absent"))
    kubectl(kubeconfig, "delete", "namespace", NS, APPS, "--ignore-not-found", "--timeout=60s", check=False)


def test_bad_input_is_refused(cluster, tmp_path):
    res = run_playbook(play(cluster, name=""))
    assert res.rc != 0
    assert "name" in res.failed_msgs()[0] and "Nothing was changed" in res.failed_msgs()[0]
    res = run_playbook(play(cluster, token=True, token_seconds=10 ** 6))
    assert res.rc != 0
    assert "token_seconds" in res.failed_msgs()[0] and "86400" in res.failed_msgs()[0]
    res = run_playbook(play(cluster, namespaces=[]))
    assert res.rc != 0 and "namespaces is empty" in res.failed_msgs()[0]
    assert labelled(cluster) == []


def test_check_mode_changes_nothing(cluster, tmp_path):
    path = tmp_path / "kc"
    res = run_playbook(play(cluster, kubeconfig_path=str(path)), check=True, diff=True)
    assert res.rc == 0, res
    assert res.changed() == 1
    assert labelled(cluster) == []
    assert not path.exists()


def test_present_dry_run_passes_real_write_refused(cluster, tmp_path_factory):
    path = tmp_path_factory.mktemp("pid") / "pipeline.kubeconfig"
    res = run_playbook(play(cluster, kubeconfig_path=str(path), token=True), diff=True)
    assert res.rc == 0, res
    out = res.task_result("identity")
    assert out["changed"] and out["kubeconfig"]["written"]
    token = out["token"]
    assert token and token not in json.dumps(out["diff"])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert any(POLICY in n for n in labelled(cluster))

    assert apply_as(str(path), "--dry-run=server").returncode == 0
    # The module returns only once the policy is in force: the first real write is refused already.
    denied = apply_as(str(path))
    assert MESSAGE in denied.stderr, denied.stderr
    assert denied.returncode != 0 and f"pipeline identity {NS}/{NAME}" in denied.stderr
    assert kubectl(cluster, "get", "configmap", "-n", APPS, "pid-t-cm", "--ignore-not-found", "-o", "name").stdout == ""
    # The dry run still passes once the policy is in force.
    assert apply_as(str(path), "--dry-run=server").returncode == 0

    again = run_playbook(play(cluster, kubeconfig_path=str(path)))
    assert again.rc == 0, again
    assert again.changed() == 0, again.task_result("identity")["objects"]
    assert not again.task_result("identity")["kubeconfig"]["written"]


def test_absent_removes_it(cluster):
    res = run_playbook(play(cluster, state="absent"), check=True)
    assert res.rc == 0 and res.changed() == 1
    assert labelled(cluster) != []
    res = run_playbook(play(cluster, state="absent"))
    assert res.rc == 0 and res.changed() == 1
    assert labelled(cluster) == []
    assert run_playbook(play(cluster, state="absent")).changed() == 0
