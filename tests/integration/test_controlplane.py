# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke test of the local control plane that every other suite stands on.

It starts a dedicated cluster, rolls out a Deployment with kubernetes.core.k8s (wait: true)
onto a KWOK node, asks the API server's RBAC authorizer a SubjectAccessReview for an
impersonated user, and deletes the cluster again.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import LOCALCLUSTER, kubectl, run_playbook, start_local_cluster, stop_local_cluster

SMOKE_CLUSTER = "gitops-smoke"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")),
    reason="the control plane smoke test starts its own local cluster; skipped when targeting an external cluster",
)


@pytest.fixture(scope="module")
def smoke_cluster():
    path = start_local_cluster(SMOKE_CLUSTER)
    yield path
    stop_local_cluster(SMOKE_CLUSTER)
    assert SMOKE_CLUSTER not in subprocess.run([sys.executable, LOCALCLUSTER, "list"], stdout=subprocess.PIPE, text=True, check=False).stdout


DEPLOYMENT_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Namespace smoke exists
      kubernetes.core.k8s:
        kubeconfig: "{{ kc }}"
        api_version: v1
        kind: Namespace
        name: smoke
    - name: Deployment rolls out on a simulated node
      kubernetes.core.k8s:
        kubeconfig: "{{ kc }}"
        wait: true
        wait_timeout: 90
        definition:
          apiVersion: apps/v1
          kind: Deployment
          metadata: {name: web, namespace: smoke}
          spec:
            replicas: 2
            selector: {matchLabels: {app: web}}
            template:
              metadata: {labels: {app: web}}
              spec:
                containers:
                  - name: web
                    image: registry.invalid/web:1.0
    - name: Impersonated user is asked about
      kubernetes.core.k8s:
        kubeconfig: "{{ kc }}"
        definition:
          apiVersion: authorization.k8s.io/v1
          kind: SubjectAccessReview
          spec:
            user: jane
            groups: [developers]
            resourceAttributes: {namespace: smoke, verb: "{{ item }}", group: apps, resource: deployments}
      loop: [create, get]
      register: sar
    - name: Review answers are returned
      ansible.builtin.debug:
        msg: "{{ sar.results | map(attribute='result.status.allowed') | list }}"
"""


def test_deployment_rolls_out_and_rbac_is_enforced(smoke_cluster):
    kc = smoke_cluster
    res = run_playbook(DEPLOYMENT_PLAY, extra_vars={"kc": kc})
    assert res.rc == 0, res
    deploy = res.task_result("Deployment rolls out on a simulated node")["result"]
    assert deploy["status"]["availableReplicas"] == 2
    assert any(c["type"] == "Available" and c["status"] == "True" for c in deploy["status"]["conditions"])

    pods = json.loads(kubectl(kc, "-n", "smoke", "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"].startswith("kwok-node-")

    # No binding grants jane anything: the real RBAC authorizer says no to both.
    assert res.task_result("Review answers are returned")["msg"] == [False, False]
    kubectl(kc, "create", "rolebinding", "jane-view", "--clusterrole=view", "--user=jane", "-n", "smoke")
    again = run_playbook(DEPLOYMENT_PLAY, extra_vars={"kc": kc})
    assert again.rc == 0, again
    # view grants get but not create: the authorizer now distinguishes the two verbs.
    assert again.task_result("Review answers are returned")["msg"] == [False, True]
    # The re-run changes nothing but the (never persisted) review objects.
    assert again.task_result("Namespace smoke exists")["changed"] is False
    assert again.task_result("Deployment rolls out on a simulated node")["changed"] is False
    assert again.changed() == 1


def test_up_reuses_a_running_cluster(smoke_cluster):
    proc = subprocess.run([sys.executable, LOCALCLUSTER, "up", SMOKE_CLUSTER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == smoke_cluster
    assert "reusing" in proc.stderr


def test_port_in_use_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        proc = subprocess.run([sys.executable, LOCALCLUSTER, "up", "gitops-portclash", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_go_toolchain_is_a_clear_error(tmp_path):
    env = dict(os.environ, PATH="/nonexistent", GITOPS_BOOTSTRAP_CACHE=str(tmp_path))
    proc = subprocess.run([sys.executable, LOCALCLUSTER, "build"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, check=False)
    assert proc.returncode == 1
    assert "the Go toolchain ('go') is not on PATH" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unserved_module_version_is_a_clear_error(tmp_path):
    env = dict(os.environ, GITOPS_BOOTSTRAP_CACHE=str(tmp_path), LOCALCLUSTER_ETCD_VERSION="v3.999.0")
    proc = subprocess.run([sys.executable, LOCALCLUSTER, "build"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, check=False)
    assert proc.returncode == 1
    assert "resolving etcd v3.999.0 failed" in proc.stderr
    assert "A module could not be downloaded" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_kubeconfig_is_a_clear_error(tmp_path):
    play = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read namespaces
      kubernetes.core.k8s_info:
        kubeconfig: "{{ kc }}"
        kind: Namespace
"""
    res = run_playbook(play, extra_vars={"kc": str(tmp_path / "nope.yaml")})
    assert res.rc != 0
    assert any("nope.yaml" in m or "kubeconfig" in m.lower() for m in res.failed_msgs()), res
