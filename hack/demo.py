#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo: local clusters bootstrapped by the collection, the real Argo CD controllers, the GitOps loop.

    hack/demo.py up      clusters, infra repository, bootstrap.yml, Argo CD's controllers, then the loop
    hack/demo.py loop    the loop again on the running demo
    hack/demo.py status  what runs, and each cluster's root application
    hack/demo.py down    stop every process the demo started, delete its clusters and its directory

The clusters run no containers (KWOK marks pods Running), so the Argo CD pods the collection
installs never execute; their application controller, repo server and Redis run instead as host
processes (hack/argocd_controllers.py), one set per cluster, detached from the command that
started them so that they keep reconciling after ``make demo`` returns. Every process the demo
starts carries one marker in its environment (also daemons that leave their process group, such
as a gpg-agent of a repo server), and ``down`` ends whatever carries it.

The loop runs on the dev cluster, each step checked against the live state: a sample application
committed to the infra repository appears in the cluster (no kubectl, no playbook); an
out-of-band change is reverted by self-heal; ``git revert`` of the commit removes the application
again; a drift run (drift.yml) reports nothing and exits 0.

A second ``up`` reuses what is there: running clusters, a bootstrap whose inputs have not changed
(recorded per cluster with the cluster's identity), running controllers.

Options: --dir (default .build/demo), --clusters dev=NAME,prod=NAME (default demo-dev, demo-prod;
an environment may be left out: --clusters dev=NAME).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import argocd_controllers as acd  # noqa: E402  (sibling script)
import localcluster as lc  # noqa: E402
from localcluster import LocalClusterError  # noqa: E402

DEFAULT_DIR = os.path.join(ROOT, ".build", "demo")
DEFAULT_CLUSTERS = {"dev": "demo-dev", "prod": "demo-prod"}
NAMESPACE = "argocd"
APP = "hello"
# Argo CD polls the repository this often in the demo (no jitter), so a commit is live within seconds.
RECONCILIATION = "10s"
GREETING = "hello from git"
PLAYBOOK_TIMEOUT = 900
WAIT_TIMEOUT = float(os.environ.get("GITOPS_DEMO_WAIT_TIMEOUT", "240"))


def say(msg: str = "") -> None:
    print(msg, flush=True)


def step(msg: str) -> None:
    say()
    say(f"==> {msg}")


class DemoError(LocalClusterError):
    """A demo step did not happen; the message says what was seen instead and what to do."""


def git(*args: str, cwd: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_AUTHOR_NAME="Demo", GIT_AUTHOR_EMAIL="demo@localhost.invalid",
               GIT_COMMITTER_NAME="Demo", GIT_COMMITTER_EMAIL="demo@localhost.invalid", GIT_TERMINAL_PROMPT="0")
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120, check=False)
    if check and proc.returncode != 0:
        raise DemoError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def role_default(name: str) -> str:
    """The raw default of the Argo CD role's variable NAME (a Jinja template is left for Ansible)."""
    path = os.path.join(ROOT, "roles", "argocd", "defaults", "main.yml")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            m = re.match(rf"^{re.escape(name)}:\s*(.+?)\s*$", line)
            if m:
                value = m.group(1)
                return value[1:-1] if value[:1] == value[-1:] and value[:1] in "\"'" else value
    raise DemoError(f"{path} has no default for {name}")


class Demo:
    """One demo: its directory, its clusters (environment -> name), and what it started."""

    def __init__(self, directory: str = DEFAULT_DIR, clusters: dict[str, str] | None = None, out=None):
        self.dir = os.path.abspath(directory)
        self.clusters = dict(clusters or DEFAULT_CLUSTERS)
        if "dev" not in self.clusters:
            raise DemoError("the demo needs a dev cluster (--clusters dev=NAME[,prod=NAME]): the loop runs there")
        self.repo = os.path.join(self.dir, "infra.git")
        self.inventory = os.path.join(self.dir, "inventory")
        self.work = os.path.join(self.dir, "work")
        # One marker for every process of this demo directory; each cluster's controllers get "<marker>/<cluster>".
        self.marker = "gitops-demo-" + hashlib.sha256(self.dir.encode()).hexdigest()[:12]
        self.kubeconfigs: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.bootstrapped: list[str] = []
        self.started: list[str] = []

    # ------------------------------------------------------------------------- names and paths
    @property
    def dev(self) -> str:
        return self.clusters["dev"]

    def kubeconfig(self, cluster: str) -> str:
        return self.kubeconfigs.get(cluster) or lc.kubeconfig_path(cluster)

    def kube(self, cluster: str) -> acd.Kube:
        return acd.Kube(self.kubeconfig(cluster))

    def host_dir(self, cluster: str) -> str:
        return os.path.join(self.dir, "argocd", cluster)

    def manifests(self) -> str | None:
        """The directory of the local Argo CD manifests of the demo's version, or None when there is none."""
        base = os.environ.get("GITOPS_ARGOCD_MANIFESTS") or os.path.join(ROOT, "..", "shared", "argocd")
        path = os.path.abspath(os.path.join(base, acd.ARGOCD_VERSION))
        return path if os.path.isfile(os.path.join(path, "install.yaml")) else None

    def ansible_env(self) -> dict:
        return dict(os.environ, GITOPS_DEMO_DIR=self.dir, GITOPS_DRIFT_REPORT=os.path.join(self.dir, "drift-report"),
                    ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")

    # ------------------------------------------------------------------------- set-up
    def start_clusters(self) -> None:
        t0 = time.time()
        for cluster in self.clusters.values():
            self.kubeconfigs[cluster] = lc.cluster_up(cluster)
        self.timings["clusters"] = time.time() - t0

    def write_inventory(self) -> str:
        """The demo's inventory: its clusters, the local inventory's group_vars, the demo's settings per host."""
        os.makedirs(self.inventory, exist_ok=True)
        link = os.path.join(self.inventory, "group_vars")
        target = os.path.join(ROOT, "playbooks", "inventory.local", "group_vars")
        if os.path.islink(link) and os.readlink(link) != target:
            os.remove(link)
        if not os.path.islink(link):
            os.symlink(target, link)
        manifests = self.manifests()
        source = manifests or role_default("argocd_manifest_source")
        groups = {}
        for env, cluster in sorted(self.clusters.items()):
            groups[env] = {"hosts": {cluster: {
                "gitops_kubeconfig": self.kubeconfig(cluster),
                "argocd_reconciliation_timeout": RECONCILIATION,
                "argocd_cm": {"timeout.reconciliation.jitter": "0s"},
                "argocd_manifest_source": source,
                "gitops_fleet_report_path": os.path.join(self.dir, "fleet-report"),
            }}}
        doc = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                       "children": {"clusters": {"children": groups}}}}
        text = ("# Written by hack/demo.py: the demo's clusters; group_vars are playbooks/inventory.local's.\n"
                + json.dumps(doc, indent=2, sort_keys=True) + "\n")
        path = os.path.join(self.inventory, "hosts.yml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path

    def ensure_repo(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        if not os.path.isdir(self.repo):
            git("init", "--quiet", "--bare", "-b", "main", self.repo)

    def playbook(self, name: str, *args: str, label: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run playbooks/NAME on the demo's inventory, its output in logs/LABEL.log."""
        argv = ["ansible-playbook", "-i", self.inventory, os.path.join(ROOT, "playbooks", name), *args]
        log_path = os.path.join(self.dir, "logs", f"{label}.log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.run(argv, cwd=ROOT, env=dict(self.ansible_env(), **(env or {})), stdout=log, stderr=subprocess.STDOUT,
                                  text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
        proc.log_path = log_path
        if check and proc.returncode != 0:
            raise DemoError(f"{' '.join(argv[:1] + argv[3:])} failed (exit {proc.returncode}); its output is in {log_path}:\n"
                            + acd.tail_file(log_path, 25))
        return proc

    def inputs_digest(self) -> str:
        """What a bootstrap of the demo depends on: the inventory, and the collection's plugins, roles and playbooks as they are now."""
        h = hashlib.sha256()
        with open(os.path.join(self.inventory, "hosts.yml"), "rb") as fh:
            h.update(fh.read())
        paths = ["plugins", "roles", "playbooks", "meta"]
        trees = git("rev-parse", *(f"HEAD:{p}" for p in paths), cwd=ROOT, check=False).stdout
        dirty = git("diff", "HEAD", "--", *paths, cwd=ROOT, check=False).stdout
        h.update(trees.encode() + dirty.encode())
        return h.hexdigest()

    def cluster_object(self, cluster: str, kind: str, name: str) -> dict | None:
        """A cluster-scoped object, or None when it does not exist."""
        proc = self.kube(cluster).run(["get", kind, name, "-o", "json"], check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise DemoError(f"reading {kind} {name} in {cluster} failed: {proc.stderr.strip()}")
        return json.loads(proc.stdout)

    def cluster_uid(self, cluster: str) -> str:
        """The identity of the cluster (kube-system's uid): a cluster deleted and started again has another."""
        return ((self.cluster_object(cluster, "namespace", "kube-system") or {}).get("metadata") or {}).get("uid", "")

    def stamp_path(self) -> str:
        return os.path.join(self.dir, "bootstrapped.json")

    def needs_bootstrap(self) -> list[str]:
        """Clusters not bootstrapped by this demo with the current inputs (a recreated cluster has a new identity)."""
        stamp = acd.read_json(self.stamp_path())
        digest = self.inputs_digest()
        return [c for c in self.clusters.values() if stamp.get(c) != {"uid": self.cluster_uid(c), "inputs": digest}]

    def bootstrap(self, force: bool = False) -> None:
        todo = list(self.clusters.values()) if force else self.needs_bootstrap()
        if not todo:
            say("Clusters already bootstrapped by an earlier run with the same inputs: bootstrap.yml is not run again.")
            return
        t0 = time.time()
        say(f"ansible-playbook -i {self.inventory} playbooks/bootstrap.yml  (clusters: {', '.join(todo)}; log in {self.dir}/logs)")
        self.playbook("bootstrap.yml", "--limit", ",".join(todo), label="bootstrap")
        self.timings["bootstrap"] = time.time() - t0
        stamp = acd.read_json(self.stamp_path())
        digest = self.inputs_digest()
        for cluster in todo:
            stamp[cluster] = {"uid": self.cluster_uid(cluster), "inputs": digest}
        with open(self.stamp_path(), "w", encoding="utf-8") as fh:
            json.dump(stamp, fh, indent=2)
        self.bootstrapped = todo

    # ------------------------------------------------------------------------- controllers
    def controller_pid(self, cluster: str) -> int | None:
        """The pid of the running process that holds CLUSTER's controllers, or None."""
        try:
            with open(os.path.join(self.host_dir(cluster), "serve.pid"), encoding="utf-8") as fh:
                pid = int(fh.read().strip())
        except (OSError, ValueError):
            return None
        if acd.process_environ(pid).get(acd.MARKER_ENV) != f"{self.marker}/{cluster}":
            return None
        ready = os.path.join(self.host_dir(cluster), "ready")
        # The components' ServiceAccount tokens last acd.SA_TOKEN_SECONDS: an older holder is started afresh.
        if not os.path.exists(ready) or time.time() - os.path.getmtime(ready) > acd.SA_TOKEN_SECONDS - 3600:
            return None
        return pid

    def start_controllers(self) -> None:
        t0 = time.time()
        for cluster in self.clusters.values():
            if self.controller_pid(cluster):
                say(f"{cluster}: Argo CD's controllers already running (pid {self.controller_pid(cluster)}), reused")
                continue
            self._start_host(cluster)
            self.started.append(cluster)
        self.timings["controllers"] = time.time() - t0

    def _start_host(self, cluster: str) -> None:
        marker = f"{self.marker}/{cluster}"
        acd.kill_marked(marker, tree=True)
        workdir = self.host_dir(cluster)
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        log_path = os.path.join(workdir, "serve.log")
        argv = [sys.executable, os.path.abspath(__file__), "serve", "--kubeconfig", self.kubeconfig(cluster),
                "--workdir", workdir, "--marker", marker]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, env=dict(os.environ, **{acd.MARKER_ENV: marker}), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=workdir)
        with open(os.path.join(workdir, "serve.pid"), "w", encoding="utf-8") as fh:
            fh.write(f"{proc.pid}\n")
        deadline = time.time() + 180
        while not os.path.exists(os.path.join(workdir, "ready")):
            if proc.poll() is not None:
                raise DemoError(f"Argo CD's controllers for {cluster} did not start (exit {proc.returncode}):\n"
                                + acd.tail_file(log_path, 25))
            if time.time() > deadline:
                raise DemoError(f"Argo CD's controllers for {cluster} did not start within 180s; see {log_path}")
            time.sleep(0.5)
        say(f"{cluster}: Argo CD {acd.ARGOCD_VERSION} application controller, repo server and Redis started as host processes "
            f"(pid {proc.pid}; logs in {workdir}/logs)")

    def pids(self) -> set[int]:
        """Every live process this demo started: those that carry its marker, and those that work in the components'
        directories (redis-server writes its title over its environment, so its marker cannot be read)."""
        pids = set(acd.marked_pids(self.marker, tree=True))
        roots = os.path.join(self.dir, "argocd")
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if cwd == roots or cwd.startswith(roots + os.sep):
                pids.add(int(entry))
        return pids

    def processes(self) -> list[tuple[int, list[str]]]:
        """Every live process this demo started (pid, command line)."""
        return [(pid, acd.process_cmdline(pid)) for pid in sorted(self.pids())]

    def stop_controllers(self) -> list[tuple[int, list[str]]]:
        """Stop every process of the demo: each cluster's holder first (it stops its components), then whatever is left."""
        found = self.processes()
        holders = [pid for pid, argv in found if "serve" in argv and os.path.abspath(__file__) in argv]
        for pid in holders:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 40
        while any(os.path.exists(f"/proc/{pid}") and acd.process_environ(pid) for pid in holders) and time.time() < deadline:
            time.sleep(0.2)
        acd.kill_marked(self.marker, tree=True)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            deadline = time.time() + 10
            while self.pids() and time.time() < deadline:
                time.sleep(0.2)
        for cluster in self.clusters.values():
            for name in ("serve.pid", "ready"):
                try:
                    os.remove(os.path.join(self.host_dir(cluster), name))
                except OSError:
                    pass
        return found

    # ------------------------------------------------------------------------- reading the clusters
    def app(self, cluster: str, name: str) -> dict | None:
        return self.kube(cluster).get("applications.argoproj.io", name, NAMESPACE)

    def app_status(self, cluster: str, name: str) -> tuple[str, str, str]:
        st = (self.app(cluster, name) or {}).get("status") or {}
        return ((st.get("sync") or {}).get("status", "Unknown"), (st.get("health") or {}).get("status", "Unknown"),
                (st.get("sync") or {}).get("revision", ""))

    def wait(self, what: str, predicate, timeout: float = WAIT_TIMEOUT, explain=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for cluster in self.clusters.values():
                if self.controller_pid(cluster) is None and os.path.exists(os.path.join(self.host_dir(cluster), "serve.log")):
                    raise DemoError(f"Argo CD's controllers for {cluster} stopped:\n"
                                    + acd.tail_file(os.path.join(self.host_dir(cluster), "serve.log"), 25))
            value = predicate()
            if value:
                return value
            time.sleep(1)
        detail = f"\n{explain()}" if explain else ""
        raise DemoError(f"{what}: not seen within {timeout:.0f}s.{detail}\nController log: "
                        f"{self.host_dir(self.dev)}/logs/argocd-application-controller.log")

    def explain_app(self, cluster: str, name: str):
        def explain() -> str:
            st = (self.app(cluster, name) or {}).get("status") or {}
            conds = "; ".join(c.get("message", "") for c in st.get("conditions") or [])
            op = (st.get("operationState") or {}).get("message", "")
            return f"Application {name} in {cluster}: {self.app_status(cluster, name)[:2]} {conds} {op}".strip()
        return explain

    def wait_roots(self) -> dict[str, tuple[str, str, str]]:
        t0 = time.time()
        for cluster in self.clusters.values():
            self.wait(f"root application of {cluster} Synced and Healthy",
                      lambda cluster=cluster: self.app_status(cluster, "root")[:2] == ("Synced", "Healthy"),
                      explain=self.explain_app(cluster, "root"))
        self.timings["roots"] = time.time() - t0
        return {c: self.app_status(c, "root") for c in self.clusters.values()}

    def applications(self, cluster: str) -> list[dict]:
        proc = self.kube(cluster).run(["-n", NAMESPACE, "get", "applications.argoproj.io", "-o", "json"])
        return json.loads(proc.stdout).get("items", [])

    def summary(self) -> None:
        for env, cluster in sorted(self.clusters.items()):
            say(f"{cluster} ({env}):")
            for app in sorted(self.applications(cluster), key=lambda a: (a["metadata"]["name"] != "root", a["metadata"]["name"])):
                st = app.get("status") or {}
                sync, health = (st.get("sync") or {}).get("status", "Unknown"), (st.get("health") or {}).get("status", "Unknown")
                note = ""
                cond = next((c for c in st.get("conditions") or [] if c.get("type", "").endswith("Error")), None)
                if cond and "install.yaml" in cond.get("message", "") and re.search(r"no such host|resolve host", cond["message"]):
                    note = ("  (its kustomization names upstream's install.yaml by URL, which this machine cannot "
                            "download; with internet access Argo CD syncs its own installation)")
                elif cond:
                    note = f"  ({cond.get('message', '')[:160]})"
                say(f"  {app['metadata']['name']:<22} {sync}/{health}{note}")

    def hand_over(self) -> None:
        """The role's run after Argo CD's first sync: it leaves the objects Argo CD now applies from Git to Argo CD."""
        t0 = time.time()
        proc = self.playbook("bootstrap.yml", "--tags", "argocd", label="hand-over")
        with open(proc.log_path, encoding="utf-8") as fh:
            stats = re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", fh.read(), flags=re.M)
        changed = sum(int(n) for dummy, n in stats)
        self.timings["hand_over"] = time.time() - t0
        say("Argo CD role run again (--tags argocd): "
            + ("objects Argo CD now applies from Git were handed over to it (their values unchanged)" if changed
               else "nothing to change"))

    # ------------------------------------------------------------------------- the loop
    def clone(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        git("clone", "--quiet", self.repo, self.work)

    def read(self, rel: str) -> str:
        with open(os.path.join(self.work, rel), encoding="utf-8") as fh:
            return fh.read()

    def write(self, rel: str, text: str) -> None:
        path = os.path.join(self.work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(text).lstrip())

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.work).stdout.strip()

    def sample_app_files(self) -> dict[str, str]:
        """The sample application in the repository's layout: apps/hello (base, dev overlay), its Namespace and Application."""
        apps_dir = f"clusters/{self.dev}/apps"
        project = self.read(f"clusters/{self.dev}/projects/apps.yaml")
        destination = (f"\n    - server: https://kubernetes.default.svc\n      namespace: {APP}")
        if "destinations: []" in project:
            project = project.replace("destinations: []", "destinations:" + destination)
        elif re.search(r"^  destinations:\n", project, flags=re.M):
            project = re.sub(r"^  destinations:\n", "  destinations:" + destination + "\n", project, count=1, flags=re.M)
        else:
            raise DemoError(f"clusters/{self.dev}/projects/apps.yaml has no destinations list to add namespace {APP} to")
        kust = self.read(f"{apps_dir}/kustomization.yaml")
        if f"- {APP}.yaml" not in kust:
            kust = kust.rstrip("\n") + f"\n  - {APP}.yaml\n"
        repo_url = f"file://{self.repo}"
        return {
            f"clusters/{self.dev}/projects/apps.yaml": project,
            f"{apps_dir}/kustomization.yaml": kust,
            f"{apps_dir}/{APP}.yaml": f"""
                ---
                # The sample application of the demo: its namespace (cluster-scoped, so declared here) and its Application.
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: {APP}
                ---
                apiVersion: argoproj.io/v1alpha1
                kind: Application
                metadata:
                  name: {APP}
                  namespace: {NAMESPACE}
                  finalizers:
                    - resources-finalizer.argocd.argoproj.io
                spec:
                  project: apps
                  source:
                    repoURL: "{repo_url}"
                    targetRevision: main
                    path: apps/{APP}/overlays/dev
                  destination:
                    server: https://kubernetes.default.svc
                    namespace: {APP}
                  syncPolicy:
                    automated:
                      prune: true
                      selfHeal: true
                    syncOptions:
                      - ServerSideApply=true
                """,
            f"apps/{APP}/base/kustomization.yaml": """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources:
                  - deployment.yaml
                  - configmap.yaml
                """,
            f"apps/{APP}/base/configmap.yaml": f"""
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: {APP}
                data:
                  greeting: {GREETING}
                """,
            f"apps/{APP}/base/deployment.yaml": f"""
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: {APP}
                spec:
                  replicas: 1
                  selector:
                    matchLabels: {{app: {APP}}}
                  template:
                    metadata:
                      labels: {{app: {APP}}}
                    spec:
                      containers:
                        - name: {APP}
                          image: nginxinc/nginx-unprivileged:1.27-alpine
                          envFrom:
                            - configMapRef: {{name: {APP}}}
                """,
            f"apps/{APP}/overlays/dev/kustomization.yaml": f"""
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                namespace: {APP}
                resources:
                  - ../../base
                """,
        }

    def deployment(self) -> dict | None:
        return self.kube(self.dev).get("deployment", APP, APP)

    def configmap(self) -> dict | None:
        return self.kube(self.dev).get("configmap", APP, APP)

    # The waits below poll once a second, and each read is a kubectl process (about 0.1 s of CPU): the
    # Application's status is read first, and the objects only once it says the step is done, so that a wait
    # costs one read a second and leaves the CPU to the controllers it waits for.
    def app_live(self, revision: str) -> bool:
        if self.app_status(self.dev, APP) != ("Synced", "Healthy", revision):
            return False
        dep, cm = self.deployment(), self.configmap()
        return bool(dep and cm and (cm.get("data") or {}).get("greeting") == GREETING
                    and (dep.get("status") or {}).get("availableReplicas") == 1)

    def commit_sample_app(self) -> str:
        self.clone()
        if os.path.exists(os.path.join(self.work, f"apps/{APP}")):
            raise DemoError(f"the infra repository already holds apps/{APP} (a demo run stopped half-way?): "
                            f"`git revert` its commit in a clone of {self.repo}, or `make demo-clean` to start over")
        for rel, text in self.sample_app_files().items():
            self.write(rel, text)
        git("add", "-A", cwd=self.work)
        git("commit", "--quiet", "-m", f"{APP}: a sample application in {self.dev}", cwd=self.work)
        git("push", "--quiet", "origin", "HEAD:main", cwd=self.work)
        return self.head()

    def loop_add(self) -> str:
        step(f"1. A sample application is committed to the infra repository (apps/{APP}, clusters/{self.dev}/apps/{APP}.yaml)")
        t0 = time.time()
        sha = self.commit_sample_app()
        say(f"   git push: commit {sha[:12]}. Nobody runs kubectl or a playbook; Argo CD polls the repository every {RECONCILIATION}.")
        self.wait(f"Deployment {APP}/{APP} and ConfigMap {APP}/{APP} from commit {sha[:12]} live in {self.dev}",
                  lambda: self.app_live(sha), explain=self.explain_app(self.dev, APP))
        self.timings["loop_add"] = time.time() - t0
        say(f"   {self.timings['loop_add']:.0f}s later: namespace {APP}, Deployment {APP} (1 replica available) and ConfigMap "
            f"{APP} (greeting: {GREETING}) run in {self.dev}; Application {APP} is Synced and Healthy at {sha[:12]}.")
        return sha

    def operation(self) -> dict:
        return ((self.app(self.dev, APP) or {}).get("status") or {}).get("operationState") or {}

    def loop_self_heal(self) -> dict:
        step(f"2. Someone changes the application by hand in {self.dev} (out of band)")
        before = self.operation().get("startedAt")
        kube = self.kube(self.dev)
        kube.run(["-n", APP, "scale", "deployment", APP, "--replicas=4"])
        kube.run(["-n", APP, "patch", "configmap", APP, "--type=merge", "-p", json.dumps({"data": {"greeting": "changed by hand"}})])
        say(f"   kubectl scale deployment {APP} --replicas=4; kubectl patch configmap {APP} (greeting: changed by hand)")
        t0 = time.time()

        def healed():
            op = self.operation()
            if op.get("startedAt") == before or op.get("phase") != "Succeeded":
                return None
            dep, cm = self.deployment() or {}, self.configmap() or {}
            return op if (dep.get("spec") or {}).get("replicas") == 1 and (cm.get("data") or {}).get("greeting") == GREETING else None

        op = self.wait("self-heal restoring 1 replica and the ConfigMap from Git", healed, explain=self.explain_app(self.dev, APP))
        self.timings["self_heal"] = time.time() - t0
        who = "automated" if (op.get("operation") or {}).get("initiatedBy", {}).get("automated") else "a person"
        say(f"   {self.timings['self_heal']:.0f}s later Argo CD's self-heal ({who} sync) put back what Git says: 1 replica, "
            f"greeting: {GREETING}.")
        return op

    def loop_revert(self, sha: str) -> str:
        step(f"3. The commit is reverted with git revert: the application leaves {self.dev}")
        git("fetch", "--quiet", "origin", cwd=self.work)
        git("reset", "--quiet", "--hard", "origin/main", cwd=self.work)
        git("revert", "--no-edit", sha, cwd=self.work)
        git("push", "--quiet", "origin", "HEAD:main", cwd=self.work)
        revert = self.head()
        say(f"   git revert {sha[:12]}; git push: commit {revert[:12]}.")
        t0 = time.time()

        def gone():
            return (self.app(self.dev, APP) is None and self.cluster_object(self.dev, "namespace", APP) is None
                    and self.app_status(self.dev, "root") == ("Synced", "Healthy", revert))

        self.wait(f"Application {APP} and namespace {APP} removed, root at {revert[:12]}", gone,
                  explain=self.explain_app(self.dev, "root"))
        self.timings["revert"] = time.time() - t0
        say(f"   {self.timings['revert']:.0f}s later Application {APP} and namespace {APP} (with its Deployment and ConfigMap) "
            f"are gone; the root application is Synced and Healthy at {revert[:12]}.")
        return revert

    def drift_report(self) -> dict:
        return acd.read_json(os.path.join(self.dir, "drift-report.json"))

    def loop_drift(self) -> subprocess.CompletedProcess:
        step("4. A drift run compares every cluster with what the bootstrap would make of it (check mode, nothing changed)")
        t0 = time.time()
        # callbacks of the caller's environment (profile_tasks, for one) stay enabled beside the drift report's
        callbacks = [c.strip() for c in os.environ.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",")
                     if c.strip() and c.strip() != "gitops.bootstrap.drift_report"]
        proc = self.playbook("drift.yml", "--check", "--diff", label="drift", check=False,
                             env={"ANSIBLE_CALLBACKS_ENABLED": ",".join(callbacks + ["gitops.bootstrap.drift_report"])})
        self.timings["drift"] = time.time() - t0
        report = self.drift_report()
        drifted = {c: v for c, v in (report.get("clusters") or {}).items() if v.get("drifted")}
        if proc.returncode != 0 or drifted:
            raise DemoError(f"the drift run exited {proc.returncode} and reports drift in {', '.join(drifted) or 'no cluster'}; "
                            f"see {self.dir}/drift-report.md and {proc.log_path}:\n" + acd.tail_file(proc.log_path, 20))
        say(f"   drift.yml exited 0 after {self.timings['drift']:.0f}s: no drift in {', '.join(sorted(report.get('clusters') or {}))} "
            f"(report: {self.dir}/drift-report.md).")
        return proc

    def run_loop(self) -> None:
        sha = self.loop_add()
        self.loop_self_heal()
        self.loop_revert(sha)
        self.loop_drift()

    def next_steps(self) -> None:
        def shown(path: str) -> str:
            rel = os.path.relpath(path, ROOT)
            return path if rel.startswith("..") else rel

        inv = shown(self.inventory)
        kc = self.kubeconfig(self.dev)
        kubectl = lc.k8s_bin("kubectl") if os.path.exists(lc.k8s_bin("kubectl")) else "kubectl"
        venv = os.path.join(ROOT, ".venv", "bin")
        say()
        say("What to try next, from the checkout with the Makefile's environment:")
        say(f"  export PATH={venv}:$PATH ANSIBLE_COLLECTIONS_PATH={ROOT}/.build/collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=true")
        say(f"  git clone {self.repo} /tmp/infra    # the infra repository: commit and push there, as in step 1")
        say(f"  {kubectl} --kubeconfig {kc} -n argocd get applications    # what Argo CD in {self.dev} reconciles")
        say(f"  ansible-playbook -i {inv} playbooks/bootstrap.yml    # the bootstrap again (it changes nothing now)")
        say(f"  ANSIBLE_CALLBACKS_ENABLED=gitops.bootstrap.drift_report GITOPS_DRIFT_REPORT={self.dir}/drift-report \\")
        say(f"    ansible-playbook --check --diff -i {inv} playbooks/drift.yml    # the drift run of step 4")
        say(f"  open {self.dir}/fleet-report.html in a browser    # the fleet report of the last run")
        say(f"  {self.dir}/argocd/<cluster>/logs/    # the logs of Argo CD's components")
        say(f"  python3 hack/demo.py --dir {shown(self.dir)} status    # what runs; make demo shows the loop again")
        say("  make demo-clean    # stop the controllers, delete the clusters and the demo's directory")

    # ------------------------------------------------------------------------- whole runs
    def up(self, loop: bool = True) -> None:
        t0 = time.time()
        step(f"Local clusters: {', '.join(f'{c} ({e})' for e, c in sorted(self.clusters.items()))}")
        self.start_clusters()
        self.ensure_repo()
        self.write_inventory()
        source = self.manifests() or "upstream (the Argo CD role's default source; no local copy found)"
        step(f"Bootstrap with the collection (infra repository {self.repo}; Argo CD manifests: {source})")
        self.bootstrap()
        step("Argo CD's controllers (the real ones, as host processes next to each cluster)")
        self.start_controllers()
        step("Each cluster's root application")
        self.wait_roots()
        if self.bootstrapped:
            self.hand_over()
        self.summary()
        if loop:
            step(f"The GitOps loop, on {self.dev}")
            self.run_loop()
        self.timings["total"] = time.time() - t0
        say()
        parts = ", ".join(f"{k.replace('_', ' ')} {v:.0f}s" for k, v in self.timings.items() if k != "total")
        say(f"Demo done in {self.timings['total']:.0f}s ({parts}).")
        self.next_steps()

    def down(self, delete: bool = True) -> None:
        found = self.stop_controllers()
        names = sorted({os.path.basename(argv[0].split()[0]) for dummy, argv in found if argv})
        say(f"stopped {len(found)} demo process(es)" + (f": {', '.join(names)}" if names else ""))
        if delete:
            for cluster in self.clusters.values():
                lc.cluster_down(cluster)
            shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- the controllers' holder
def cmd_serve(args) -> int:
    """Run one cluster's controllers until SIGTERM (started detached by `up`)."""
    host = acd.ArgoCDHost(args.kubeconfig, NAMESPACE, workdir=args.workdir, marker=args.marker)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    host.start()
    try:
        with open(os.path.join(args.workdir, "ready"), "w", encoding="utf-8") as fh:
            fh.write(json.dumps(host.ports) + "\n")
        while not stop:
            host.check_running()
            time.sleep(1)
    finally:
        try:
            os.remove(os.path.join(args.workdir, "ready"))
        except OSError:
            pass
        host.stop()
    return 0


def parse_clusters(text: str | None) -> dict[str, str]:
    if not text:
        return dict(DEFAULT_CLUSTERS)
    out = {}
    for item in text.split(","):
        env, sep, name = item.partition("=")
        if not sep or env not in ("dev", "prod") or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
            raise DemoError(f"--clusters: {item!r} is not ENV=NAME with ENV dev or prod and NAME a lower-case cluster name")
        out[env] = name
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=DEFAULT_DIR)
    parser.add_argument("--clusters", default=None, help="dev=NAME[,prod=NAME] (default dev=demo-dev,prod=demo-prod)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="set up (or reuse) everything, then show the loop")
    sub.add_parser("loop", help="show the loop on the running demo")
    sub.add_parser("status", help="what runs, and each cluster's applications")
    sub.add_parser("down", help="stop every process of the demo, delete its clusters and directory")
    s = sub.add_parser("serve", help=argparse.SUPPRESS)
    s.add_argument("--kubeconfig", required=True)
    s.add_argument("--workdir", required=True)
    s.add_argument("--marker", required=True)
    args = parser.parse_args(argv)

    def run(_args) -> int:
        if args.cmd == "serve":
            return cmd_serve(args)
        demo = Demo(args.dir, parse_clusters(args.clusters))
        if args.cmd == "up":
            demo.up()
        elif args.cmd == "loop":
            demo.run_loop()
            demo.next_steps()
        elif args.cmd == "status":
            for cluster in demo.clusters.values():
                pid = demo.controller_pid(cluster)
                say(f"{cluster}: controllers {'running, pid %d' % pid if pid else 'not running'}")
            demo.summary()
        elif args.cmd == "down":
            demo.down()
        return 0

    args.func = run
    return acd.run_cli(args, "demo")


if __name__ == "__main__":
    sys.exit(main())
