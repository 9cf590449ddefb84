# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pull-loop environment: a local cluster bootstrapped by the collection, the infra repo on
loopback git servers, and the real Argo CD controllers as host processes.

Used by tests/integration/test_pull_loop.py and benchmarks/pull_loop.py. ``PullLoop.close()``
stops every process and deletes the cluster, whatever state the set-up reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "hack"))
sys.path.insert(0, HERE)

import argocd_controllers as acd  # noqa: E402
import localcluster  # noqa: E402
from conftest import run_playbook  # noqa: E402
from pullloop_servers import GitDaemon, SSHServer, WorkingCopy, git, new_keypair  # noqa: E402

ARGOCD_MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS", os.path.abspath(os.path.join(ROOT, "..", "shared", "argocd")))
ARGOCD_NAMESPACE = "argocd"
APP = "web"
IN_CLUSTER = "https://kubernetes.default.svc"


class LoopError(AssertionError):
    """A step of the pull loop did not happen; the message carries what Argo CD reported."""


class PullLoop:
    """Everything one pull-loop run needs, set up step by step and torn down by ``close()``."""

    def __init__(self, cluster: str, reconciliation: str = "10s", jitter: str = "0s", workdir: str | None = None,
                 keep_cluster: bool = False, role_vars: dict | None = None):
        self.cluster = cluster
        self.reconciliation = reconciliation
        self.jitter = jitter
        self.role_vars = dict(role_vars or {})
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"pull-loop-{cluster}-")
        self.keep_cluster = keep_cluster
        self.external = bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG"))
        self.kubeconfig = ""
        self.repos = os.path.join(self.workdir, "repos")
        self.daemon: GitDaemon | None = None
        self.sshd: SSHServer | None = None
        self.host: acd.ArgoCDHost | None = None
        self.wc: WorkingCopy | None = None
        self.deploy_key = ""
        self.deploy_pub = ""
        self.bootstrap_result = None
        self.root_result = None
        self.timings: dict[str, float] = {}

    # -- set-up ---------------------------------------------------------------------------------
    def start_cluster(self) -> None:
        t0 = time.time()
        if self.external:
            self.kubeconfig = os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ["KUBECONFIG"]
        else:
            self.kubeconfig = localcluster.cluster_up(self.cluster)
        self.timings["cluster"] = time.time() - t0

    def start_git_servers(self) -> None:
        os.makedirs(self.repos, exist_ok=True)
        git("init", "--quiet", "--bare", "-b", "main", os.path.join(self.repos, "infra.git"))
        self.daemon = GitDaemon(self.repos, os.path.join(self.workdir, "git-daemon")).start()
        self.sshd = SSHServer(self.repos, os.path.join(self.workdir, "sshd")).start()
        self.deploy_key, self.deploy_pub = new_keypair(self.workdir, "deploy_key")
        self.sshd.authorize(self.deploy_pub)

    @property
    def repo_url(self) -> str:
        """The URL Argo CD pulls the infra repo from: SSH, with the deploy key argocd_repository writes."""
        return self.sshd.url("infra.git")

    @property
    def anonymous_url(self) -> str:
        return self.daemon.url("infra.git")

    def play(self, text: str, extra_vars: dict | None = None, check: bool = True):
        """Run a playbook against the cluster (module_defaults carry the kubeconfig)."""
        ev = {"kc": self.kubeconfig, "ns": ARGOCD_NAMESPACE}
        ev.update(extra_vars or {})
        res = run_playbook(text, extra_vars=ev)
        if check and res.rc != 0:
            raise LoopError(f"playbook failed: {res.failed_msgs()}\n{res.stderr[-3000:]}")
        return res

    def bootstrap(self) -> None:
        """The collection bootstraps the cluster: repo scaffold, Argo CD, credentials, projects, root app."""
        t0 = time.time()
        self.bootstrap_result = self.play(BOOTSTRAP_REPO_AND_ARGOCD, self.bootstrap_vars())
        self.timings["bootstrap_install"] = time.time() - t0
        self.wc = WorkingCopy(os.path.join(self.workdir, "work"), os.path.join(self.repos, "infra.git")).clone()

    def bootstrap_vars(self) -> dict:
        return {
            "cluster": self.cluster,
            "repo_url": self.repo_url,
            "repo_push_url": self.repo_url,
            "deploy_key": self.deploy_key,
            "known_hosts": [self.sshd.known_hosts_line()],
            "manifests": os.path.join(ARGOCD_MANIFESTS, acd.ARGOCD_VERSION),
            "argocd_version": acd.ARGOCD_VERSION,
            "reconciliation": self.reconciliation,
            "jitter": self.jitter,
            "app": APP,
            "role_vars": self.role_vars,
        }

    def start_controllers(self) -> None:
        t0 = time.time()
        self.host = acd.ArgoCDHost(self.kubeconfig, ARGOCD_NAMESPACE, workdir=os.path.join(self.workdir, "argocd"))
        self.host.start()
        self.timings["controllers"] = time.time() - t0

    def connect_repo_and_root_app(self, wait_timeout: int = 240) -> None:
        t0 = time.time()
        self.root_result = self.play(CONNECT_REPO_AND_ROOT_APP, dict(self.bootstrap_vars(), wait_timeout=wait_timeout))
        self.timings["root_app_synced"] = time.time() - t0

    def setup(self) -> "PullLoop":
        self.start_cluster()
        self.start_git_servers()
        self.bootstrap()
        self.start_controllers()
        self.connect_repo_and_root_app()
        return self

    def close(self) -> None:
        for step in (self._stop_host, self._stop_servers, self._delete_cluster):
            try:
                step()
            except Exception as exc:  # noqa: BLE001  (tear-down goes on)
                print(f"pull loop tear-down: {exc}", file=sys.stderr)
        if not os.environ.get("GITOPS_KEEP_PULL_LOOP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_host(self) -> None:
        if self.host:
            self.host.stop()

    def _stop_servers(self) -> None:
        for server in (self.daemon, self.sshd):
            if server:
                server.stop()

    def _delete_cluster(self) -> None:
        if not self.external and not self.keep_cluster and self.kubeconfig:
            localcluster.cluster_down(self.cluster)

    # -- reading the cluster --------------------------------------------------------------------
    def kubectl(self, *args: str, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess:
        return self.host.kube.run(list(args), check=check, input_text=input_text) if self.host else \
            acd.Kube(self.kubeconfig).run(list(args), check=check, input_text=input_text)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        args = ["get", kind, name, "-o", "json"]
        if namespace:
            args = ["-n", namespace] + args
        proc = self.kubectl(*args, check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr:
                return None
            raise LoopError(proc.stderr)
        return json.loads(proc.stdout)

    def app(self, name: str) -> dict | None:
        return self.get("applications.argoproj.io", name, ARGOCD_NAMESPACE)

    def info(self, names: list[str] | None = None) -> dict:
        """argocd_info's report (the collection's own view of Argo CD)."""
        res = self.play(INFO_PLAY, {"names": names or []})
        return res.task_result("Argo CD is read")

    def app_reason(self, name: str) -> str:
        for app in self.info([name]).get("applications", []):
            if app["name"] == name:
                return app["reason"]
        return f"application {name} not reported by argocd_info"

    def wait_for(self, what: str, predicate, timeout: float, interval: float = 1.0, app: str | None = None):
        """Poll ``predicate`` until it returns a truthy value; on timeout explain with Argo CD's view."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.host:
                self.host.check_running()
            try:
                last = predicate()
            except LoopError:
                last = None
            if last:
                return last
            time.sleep(interval)
        detail = ""
        if app:
            detail = f"\nargocd_info says about {app}: {self.app_reason(app)}"
        if self.host:
            detail += "\n--- application controller log ---\n" + self.host.logs("argocd-application-controller", 25)
            detail += "\n--- repo server log ---\n" + self.host.logs("argocd-repo-server", 15)
        raise LoopError(f"{what}: not seen within {timeout:.0f}s{detail}")

    def app_synced_healthy(self, name: str, revision: str | None = None) -> bool:
        app = self.app(name) or {}
        st = app.get("status") or {}
        if (st.get("sync") or {}).get("status") != "Synced" or (st.get("health") or {}).get("status") != "Healthy":
            return False
        if revision and (st.get("sync") or {}).get("revision") != revision:
            return False
        return True

    def reconcile_budget(self) -> float:
        """Seconds within which a pushed change must be live: two polls of the configured interval plus slack."""
        jitter = _seconds(self.jitter) if self.jitter else 60.0  # Argo CD's default when argocd-cm sets none
        return 2 * (_seconds(self.reconciliation) + jitter) + 45


def _seconds(text: str) -> float:
    text = str(text).strip()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


MODULE_DEFAULTS = """
  module_defaults:
    group/gitops.bootstrap.gitops:
      kubeconfig: "{{ kc }}"
    kubernetes.core.k8s:
      kubeconfig: "{{ kc }}"
    kubernetes.core.k8s_info:
      kubeconfig: "{{ kc }}"
"""

# Step 1: the infra repository is scaffolded and pushed over SSH with the deploy key; the Argo CD
# role installs Argo CD (short reconciliation timeout for the tests) and declares the repository
# credential, the projects, the root application and Argo CD's self-management application.
BOOTSTRAP_REPO_AND_ARGOCD = """
- hosts: localhost
  gather_facts: false
""" + MODULE_DEFAULTS + """
  tasks:
    - name: The infra repository is scaffolded for the cluster and pushed
      gitops.bootstrap.infra_repo:
        repo: "{{ repo_push_url }}"
        cluster: "{{ cluster }}"
        cluster_environment: dev
        apps:
          - name: "{{ app }}"
        platform_components: [namespaces]
        argocd_version: "{{ argocd_version }}"
        argocd_namespace: "{{ ns }}"
        argocd_repo_url: "{{ repo_url }}"
        pipeline: none
        ssh_private_key: "{{ deploy_key }}"
        ssh_known_hosts: "{{ known_hosts }}"
      register: infra

    - name: Argo CD is installed and pointed at the infra repository
      ansible.builtin.include_role:
        name: gitops.bootstrap.argocd
      vars:
        argocd_kubeconfig: "{{ kc }}"
        argocd_version: "{{ argocd_version }}"
        argocd_namespace: "{{ ns }}"
        argocd_manifest_source: "{{ manifests }}"
        argocd_cluster_name: "{{ cluster }}"
        argocd_infra_repo_url: "{{ infra.layout.repo_url }}"
        argocd_infra_repo_revision: "{{ infra.layout.target_revision }}"
        argocd_root_app_path: "{{ infra.layout.root }}"
        argocd_self_manage_path: "{{ infra.layout.argocd }}"
        argocd_reconciliation_timeout: "{{ reconciliation }}"
        argocd_cm: "{{ ({'timeout.reconciliation.jitter': jitter} if jitter else {}) | combine(role_vars.argocd_cm | default({})) }}"
        argocd_cmd_params: "{{ {'controller.repo.error.grace.period.seconds': 0} | combine(role_vars.argocd_cmd_params | default({})) }}"
        argocd_repositories:
          - name: infra
            url: "{{ infra.layout.repo_url }}"
            ssh_private_key: "{{ deploy_key }}"
            known_hosts: "{{ known_hosts }}"
"""

# Step 2 (controllers running): the collection waits for the root application the role declared.
# The options repeat the role's, so the apply changes nothing and only the wait acts.
CONNECT_REPO_AND_ROOT_APP = """
- hosts: localhost
  gather_facts: false
""" + MODULE_DEFAULTS + """
  tasks:
    - name: The root application becomes Synced and Healthy
      gitops.bootstrap.argocd_application:
        name: root
        namespace: "{{ ns }}"
        project: platform
        repo_url: "{{ repo_url }}"
        path: "clusters/{{ cluster }}"
        target_revision: main
        destination_server: https://kubernetes.default.svc
        destination_namespace: "{{ ns }}"
        finalizer: true
        sync_policy:
          automated: true
          prune: true
          self_heal: true
          sync_options: [ServerSideApply=true]
          retry: {limit: 5, backoff: {duration: 5s, factor: 2, max_duration: 3m}}
        wait: true
        wait_timeout: "{{ wait_timeout }}"
      register: root
"""

INFO_PLAY = """
- hosts: localhost
  gather_facts: false
""" + MODULE_DEFAULTS + """
  tasks:
    - name: Argo CD is read
      gitops.bootstrap.argocd_info:
        namespace: "{{ ns }}"
        app_names: "{{ names if names else omit }}"
"""
