# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the integration tests.

Every test here runs against a real Kubernetes API server: the local control plane started
by ``hack/localcluster.py`` (kube-apiserver, controller-manager, scheduler, etcd and KWOK
nodes), or the cluster of ``GITOPS_TEST_KUBECONFIG`` / ``KUBECONFIG`` when one is set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

from forge import forge, forge_org, forge_tmp
from galaxy import galaxy_bin, tarball

# The test forge's fixtures (one Gitea per session, tests/integration/forge.py), for every module.
FORGE_FIXTURES = (forge, forge_org, forge_tmp)
# The built collection and the galaxy tools (tests/integration/galaxy.py).
GALAXY_FIXTURES = (galaxy_bin, tarball)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOCALCLUSTER = os.path.join(ROOT, "hack", "localcluster.py")
ARGOCD_MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS", os.path.abspath(os.path.join(ROOT, "..", "shared", "argocd")))


def start_local_cluster(name: str) -> str:
    """Start (or reuse) the named local cluster and return its kubeconfig path."""
    proc = subprocess.run([sys.executable, LOCALCLUSTER, "up", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"could not start local cluster {name}:\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


def stop_local_cluster(name: str) -> None:
    subprocess.run([sys.executable, LOCALCLUSTER, "down", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)


def external_kubeconfig() -> str | None:
    return os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG") or None


@pytest.fixture(scope="session")
def kubeconfig():
    """Kubeconfig of the cluster the suite runs against.

    A user-provided cluster (GITOPS_TEST_KUBECONFIG or KUBECONFIG) wins; otherwise the local
    cluster named by GITOPS_TEST_CLUSTER (default ``gitops-test``) is started or reused. It is
    left running for the next suite; ``make clean-clusters`` removes it.
    """
    path = external_kubeconfig()
    if path:
        yield path
        return
    yield start_local_cluster(os.environ.get("GITOPS_TEST_CLUSTER", "gitops-test"))


def kubectl_binary() -> str:
    cache = os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.expanduser("~/.cache/gitops-bootstrap"))
    version = os.environ.get("LOCALCLUSTER_KUBERNETES_VERSION", "v1.36.3")
    path = os.path.join(cache, "bin", f"kubernetes-{version}", "kubectl")
    return path if os.path.exists(path) else "kubectl"


def kubectl(kubeconfig_path: str, *args: str, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([kubectl_binary(), "--kubeconfig", kubeconfig_path, *args], input=input_text, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
    return proc


class PlaybookResult:
    """The outcome of one ansible-playbook run, read through the json callback."""

    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        start = proc.stdout.find("{")
        try:
            self.data = json.loads(proc.stdout[start:]) if start >= 0 else {}
        except ValueError:
            self.data = {}

    @property
    def stats(self) -> dict:
        return self.data.get("stats", {})

    def changed(self, host: str = "localhost") -> int:
        return self.stats.get(host, {}).get("changed", 0)

    def failures(self, host: str = "localhost") -> int:
        s = self.stats.get(host, {})
        return s.get("failures", 0) + s.get("unreachable", 0)

    def tasks(self) -> list[dict]:
        out = []
        for play in self.data.get("plays", []):
            out.extend(play.get("tasks", []))
        return out

    def task_result(self, name: str, host: str = "localhost") -> dict:
        for task in self.tasks():
            if task["task"]["name"] == name:
                return task["hosts"].get(host, {})
        raise KeyError(f"no task named {name!r} in the run; tasks: {[t['task']['name'] for t in self.tasks()]}")

    def failed_msgs(self) -> list[str]:
        msgs = []
        for task in self.tasks():
            for res in task["hosts"].values():
                if res.get("failed"):
                    msgs.append(str(res.get("msg")))
        return msgs

    def __repr__(self) -> str:
        return f"PlaybookResult(rc={self.rc}, stats={self.stats}, failed={self.failed_msgs()}, stderr={self.stderr[-2000:]})"


def run_playbook(playbook: str, extra_vars: dict | None = None, check: bool = False, diff: bool = False,
                 inventory: str | None = None, env: dict | None = None, limit: str | None = None,
                 timeout: float | None = None) -> PlaybookResult:
    """Run a playbook (a path, or the YAML text of one) with the json callback."""
    tmp = None
    if "\n" in playbook:
        fd, tmp = tempfile.mkstemp(suffix=".yml", prefix="play-", dir=os.environ.get("TMPDIR"))
        with os.fdopen(fd, "w") as fh:
            fh.write(textwrap.dedent(playbook))
        playbook = tmp
    cmd = ["ansible-playbook", playbook]
    cmd += ["-i", inventory] if inventory else ["-i", "localhost,", "-c", "local"]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if limit:
        cmd += ["--limit", limit]
    run_env = dict(os.environ)
    run_env.update({
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".build", "collections")),
        "ANSIBLE_ROLES_PATH": os.path.join(ROOT, "roles"),
    })
    if env:
        run_env.update(env)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env, cwd=ROOT, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ansible-playbook did not finish within {timeout} s (killed)")
    finally:
        if tmp:
            os.unlink(tmp)
    return PlaybookResult(proc)


@pytest.fixture
def playbook():
    return run_playbook
