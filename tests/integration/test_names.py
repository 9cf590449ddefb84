# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names with a trailing line break are refused at every entry point, through Ansible as a user runs it.

``"c9\\n"`` used to pass the cluster-name check (``$`` matches before a final line break) and the
infra repository got a folder ``clusters/c9\\n/``. These tests run the infra_repo module and role
against a real bare repository on file://, and the roles and modules that check names before they
contact a cluster, and prove that the name is refused with a message that names it and that
nothing was committed or changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import run_playbook
from gitservers import BareRepo
from infra_repo_helpers import REPO_ROOT, ansible_env, run_module

HOSTILE_CLUSTERS = ["c9\n", "c9\r\n", " c9", "c9 ", "C9", ""]


@pytest.fixture
def bare(tmp_path):
    return BareRepo(tmp_path / "infra.git")


@pytest.mark.parametrize("cluster", HOSTILE_CLUSTERS, ids=repr)
def test_infra_repo_module_refuses_the_name_and_commits_nothing(bare, cluster):
    r = run_module({"repo": bare.url, "cluster": cluster, "apps": [{"name": "hello"}]})
    assert r.failed, r.result
    assert "cluster name" in r["msg"], r["msg"]
    assert bare.head() is None


def test_infra_repo_module_names_the_line_break_and_leaves_the_repository_as_it_was(bare):
    first = run_module({"repo": bare.url, "cluster": "c1", "apps": [{"name": "hello"}]})
    assert not first.failed, first.result
    head = bare.head()
    r = run_module({"repo": bare.url, "cluster": "c9\n", "apps": [{"name": "hello"}]})
    assert r.failed
    assert "invalid cluster name 'c9\\n'" in r["msg"] and "ends with a line break" in r["msg"], r["msg"]
    assert bare.head() == head and bare.commit_count() == 1
    assert not [f for f in bare.files() if f.startswith("clusters/c9")]


@pytest.mark.parametrize("args,words", [
    ({"branch": "main\n"}, "invalid branch: branch 'main\\n' is not a valid git branch name (it ends with a line break"),
    ({"review_branch": "gitops/x\n"}, "invalid review_branch"),
    ({"environments": ["dev", "prod\n"]}, "invalid environment name 'prod\\n'"),
    ({"apps": [{"name": "hello\n"}]}, "invalid app name 'hello\\n'"),
    ({"platform_components": ["ingress\n"]}, "invalid platform component name 'ingress\\n'"),
    ({"argocd_namespace": "argocd\n"}, "invalid argocd namespace name 'argocd\\n'"),
    ({"argocd_version": "v3.5.1\n"}, "invalid argocd_version 'v3.5.1\\n'"),
    ({"kubernetes_version": "v1.36.3\n"}, "kubernetes_version must look like v1.36.3"),
], ids=["branch", "review_branch", "environment", "app", "platform_component", "argocd_namespace", "argocd_version",
        "kubernetes_version"])
def test_infra_repo_module_refuses_every_name_with_a_line_break(bare, args, words):
    params = {"repo": bare.url, "cluster": "c1", "apps": [{"name": "hello"}]}
    params.update(args)
    r = run_module(params)
    assert r.failed and words in r["msg"], r.result
    assert bare.head() is None


def test_infra_repo_role_refuses_the_name_and_commits_nothing(bare, tmp_path):
    play = tmp_path / "play.yml"
    play.write_text("---\n- name: Infra repo\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
                    "    - role: gitops.bootstrap.infra_repo\n")
    extra = json.dumps({"infra_repo_url": bare.url, "infra_repo_cluster": "c9\n", "ansible_python_interpreter": sys.executable})
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", extra, str(play)]
    env = ansible_env()
    env["ANSIBLE_ROLES_PATH"] = os.path.join(REPO_ROOT, "roles")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "invalid cluster name 'c9\\\\n'" in proc.stdout, proc.stdout[-3000:]
    assert bare.head() is None


def test_argocd_install_refuses_a_namespace_with_a_line_break_before_any_call(tmp_path):
    # The kubeconfig points nowhere: the module must fail on the name, never try to connect.
    result = run_playbook("""
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: install
              gitops.bootstrap.argocd_install:
                kubeconfig: %s
                namespace: "{{ ns }}"
                source: /nonexistent
        """ % json.dumps(str(tmp_path / "no-kubeconfig")), extra_vars={"ns": "argocd\n"})
    res = result.task_result("install")
    assert res.get("failed")
    assert "namespace 'argocd\\n' is not a valid Kubernetes namespace name" in res["msg"], res["msg"]


def test_argocd_spoke_role_refuses_a_namespace_with_a_line_break(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {
        "hub": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "gitops_kubeconfig": str(tmp_path / "hub-kubeconfig")},
        "spoke": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                  "gitops_kubeconfig": str(tmp_path / "spoke-kubeconfig"), "argocd_spoke_hub_host": "hub",
                  "argocd_spoke_namespaces": ["team-a", "team-b\n"]},
    }}}))
    result = run_playbook("""
        - hosts: spoke
          gather_facts: false
          roles:
            - role: gitops.bootstrap.argocd_spoke
        """, inventory=str(inventory))
    msgs = result.failed_msgs()
    assert result.rc != 0 and msgs, result
    assert any("argocd_spoke_namespaces entry 'team-b\\n' is not a valid DNS-1123 label" in m for m in msgs), msgs
    assert not any("team-a'" in m for m in msgs), msgs
    assert result.changed("spoke") == 0
