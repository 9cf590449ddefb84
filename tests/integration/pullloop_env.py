# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pull-loop environment: a local cluster bootstrapped by the collection, the infra repo on
loopback git servers (or on the test forge), and the real Argo CD controllers (and argocd-server,
for webhooks) as host processes.

Used by tests/integration/test_pull_loop.py, test_single_source.py, test_webhook.py and the benchmarks
(benchmarks/pull_loop.py, benchmarks/webhook.py). ``PullLoop.close()`` stops every process it
started (also daemons that left their process group) and deletes the cluster, whatever state
the set-up reached. ``shared_pull_loop()`` gives the test modules of one pytest run one pull
loop, closed after the last module that uses it.
"""

from __future__ import annotations

import json
import os
import secrets
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
from pullloop_servers import ForgeRepo, GitDaemon, SSHServer, WorkingCopy, git, new_keypair  # noqa: E402

ARGOCD_MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS", os.path.abspath(os.path.join(ROOT, "..", "shared", "argocd")))
ARGOCD_NAMESPACE = "argocd"
APP = "web"
IN_CLUSTER = "https://kubernetes.default.svc"
# The key of argocd-secret under which Argo CD v3.5.1 reads the secret of a Gitea webhook: Gitea
# sends X-Gogs-Event and X-Gogs-Signature (HMAC-SHA256 of the body) with webhooks of type gitea and
# gogs alike, and Argo CD hands every request with X-Gogs-Event to its Gogs parser.
GITEA_WEBHOOK_SECRET_KEY = "webhook.gogs.secret"


class LoopError(AssertionError):
    """A step of the pull loop did not happen; the message carries what Argo CD reported."""


class PullLoop:
    """Everything one pull-loop run needs, set up step by step and torn down by ``close()``."""

    def __init__(self, cluster: str, reconciliation: str = "10s", jitter: str = "0s", workdir: str | None = None,
                 keep_cluster: bool = False, role_vars: dict | None = None, forge=None, server: bool = False):
        """FORGE (a tests/integration/forge.py Forge): the infra repo lives there, Argo CD reads it
        over the forge's SSH server, and argocd-server receives the forge's webhook (SERVER is
        implied). SERVER alone: argocd-server runs too."""
        self.cluster = cluster
        self.reconciliation = reconciliation
        self.jitter = jitter
        self.role_vars = dict(role_vars or {})
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"pull-loop-{cluster}-")
        self.keep_cluster = keep_cluster
        self.external = bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG"))
        self.kubeconfig = ""
        self.repos = os.path.join(self.workdir, "repos")
        self.forge = forge
        self.server = server or forge is not None
        # Every process this loop starts carries it, as "<marker>/<part>" (see argocd_controllers.MARKER_ENV).
        self.marker = f"pull-loop-{cluster}-{os.getpid()}-{secrets.token_hex(4)}"
        self.daemon: GitDaemon | None = None
        self.sshd: SSHServer | None = None
        self.forge_repo: ForgeRepo | None = None
        self.host: acd.ArgoCDHost | None = None
        self.wc: WorkingCopy | None = None
        self.deploy_key = ""
        self.deploy_pub = ""
        self.push_key = ""
        self.webhook_secret = ""
        self.forge_result = None
        self.bootstrap_result = None
        self.root_result = None
        self.timings: dict[str, float] = {}
        self.closed = False

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
        if self.forge is not None:
            # An empty private repository on the forge: infra_repo pushes the scaffold with the
            # harness's write key; Argo CD's read-only key is registered by forge_repository later.
            self.forge_repo = ForgeRepo(self.forge, self.forge.unique(f"infra-{self.cluster}"), self.repos).create()
            self.deploy_key, self.deploy_pub = self.forge_repo.argocd_key, self.forge_repo.argocd_pub
            with open(self.forge_repo.push_key_path, encoding="utf-8") as fh:
                self.push_key = fh.read()
            return
        git("init", "--quiet", "--bare", "-b", "main", os.path.join(self.repos, "infra.git"))
        self.daemon = GitDaemon(self.repos, os.path.join(self.workdir, "git-daemon"), marker=f"{self.marker}/git-daemon").start()
        self.sshd = SSHServer(self.repos, os.path.join(self.workdir, "sshd"), marker=f"{self.marker}/sshd").start()
        self.deploy_key, self.deploy_pub = new_keypair(self.workdir, "deploy_key")
        self.push_key = self.deploy_key
        self.sshd.authorize(self.deploy_pub)

    @property
    def repo_url(self) -> str:
        """The URL Argo CD pulls the infra repo from: SSH, with the deploy key argocd_repository writes."""
        if self.forge_repo is not None:
            return self.forge_repo.url
        return self.sshd.url("infra.git")

    @property
    def anonymous_url(self) -> str:
        if self.daemon is None:
            raise LoopError("the infra repo is on the forge; there is no anonymous git daemon in this loop")
        return self.daemon.url("infra.git")

    def known_hosts(self) -> list[str]:
        if self.forge_repo is not None:
            return [self.forge_repo.known_hosts_line()]
        return [self.sshd.known_hosts_line()]

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
        work = os.path.join(self.workdir, "work")
        if self.forge_repo is not None:
            self.wc = self.forge_repo.working_copy(work).clone()
        else:
            self.wc = WorkingCopy(work, os.path.join(self.repos, "infra.git")).clone()

    def bootstrap_vars(self) -> dict:
        return {
            "cluster": self.cluster,
            "repo_url": self.repo_url,
            "repo_push_url": self.repo_url,
            "deploy_key": self.deploy_key,
            "push_key": self.push_key or self.deploy_key,
            "known_hosts": self.known_hosts(),
            "manifests": os.path.join(ARGOCD_MANIFESTS, acd.ARGOCD_VERSION),
            "argocd_version": acd.ARGOCD_VERSION,
            "reconciliation": self.reconciliation,
            "jitter": self.jitter,
            "app": APP,
            "role_vars": self.role_vars,
        }

    def start_controllers(self) -> None:
        t0 = time.time()
        if self.server:
            # The server reads the webhook secrets when it starts.
            self.ensure_webhook_secret()
        self.host = acd.ArgoCDHost(self.kubeconfig, ARGOCD_NAMESPACE, workdir=os.path.join(self.workdir, "argocd"),
                                   server=self.server, marker=f"{self.marker}/argocd")
        self.host.start()
        self.timings["controllers"] = time.time() - t0

    # -- argocd-server and webhooks -------------------------------------------------------------
    def ensure_webhook_secret(self) -> str:
        """A generated webhook secret, written into argocd-secret under the key Argo CD reads for Gitea."""
        if not self.webhook_secret:
            self.webhook_secret = secrets.token_urlsafe(24)
            if self.forge is not None:
                self.forge.remember_secret(self.webhook_secret)
            self.set_argocd_secret({GITEA_WEBHOOK_SECRET_KEY: self.webhook_secret})
        return self.webhook_secret

    def set_argocd_secret(self, data: dict[str, str]) -> None:
        """Merge DATA into argocd-secret (the values go through a 0600 file, never a command line)."""
        path = os.path.join(self.workdir, "argocd-secret-patch.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"stringData": data}, fh)
        try:
            proc = self.kubectl("-n", ARGOCD_NAMESPACE, "patch", "secret", "argocd-secret", "--type=merge",
                                f"--patch-file={path}", check=False)
        finally:
            os.remove(path)
        if proc.returncode != 0:
            raise LoopError(f"argocd-secret could not be patched: {proc.stderr.strip()}")

    def start_argocd_server(self) -> str:
        """argocd-server next to the running controllers (webhook secret first); return its webhook URL."""
        self.ensure_webhook_secret()
        self.server = True
        self.host.start_server()
        return self.host.webhook_url

    def connect_forge_repo(self, repo: ForgeRepo, protect: bool = False, extra: dict | None = None):
        """The collection wires REPO to this Argo CD: forge_repository registers Argo CD's read-only
        deploy key and the webhook to argocd-server (PROTECT: and protects main), and the forge's
        test delivery must reach argocd-server and pass its signature check."""
        self.ensure_webhook_secret()
        ev = {
            "api_url": repo.forge.base_url,
            "token": repo.forge.platform.token,
            "web_password": repo.forge.platform.password,
            "owner": repo.owner,
            "name": repo.name,
            "deploy_pub": repo.argocd_pub,
            "webhook_url": self.host.webhook_url,
            "webhook_secret": self.webhook_secret,
            "protect": protect,
        }
        ev.update(extra or {})
        res = self.play(FORGE_WIRING, ev)
        return res.task_result("The repository is read by Argo CD and sends its pushes to Argo CD's webhook")

    def set_reconciliation(self, reconciliation: str, jitter: str) -> None:
        """Change timeout.reconciliation (and its jitter) in argocd-cm and restart the controller, which reads them at start."""
        patch = json.dumps({"data": {"timeout.reconciliation": reconciliation, "timeout.reconciliation.jitter": jitter}})
        self.kubectl("-n", ARGOCD_NAMESPACE, "patch", "configmap", "argocd-cm", "--type=merge", "-p", patch)
        self.reconciliation, self.jitter = reconciliation, jitter
        self.host.restart("argocd-application-controller")

    def processes(self) -> list[tuple[int, list[str]]]:
        """Every live process this loop started, and their descendants (pid, command line)."""
        pids = set(acd.marked_pids(self.marker, tree=True))
        if self.host is not None:
            pids |= {pid for pid, dummy in self.host.processes()}
        pids |= {server.proc.pid for server in (self.daemon, self.sshd) if server and server.proc and server.proc.poll() is None}
        return [(pid, acd.process_cmdline(pid)) for pid in sorted(pids)]

    def connect_repo_and_root_app(self, wait_timeout: int = 240) -> None:
        t0 = time.time()
        self.root_result = self.play(CONNECT_REPO_AND_ROOT_APP, dict(self.bootstrap_vars(), wait_timeout=wait_timeout))
        self.timings["root_app_synced"] = time.time() - t0

    def setup(self) -> "PullLoop":
        self.start_cluster()
        self.start_git_servers()
        self.bootstrap()
        self.start_controllers()
        if self.forge_repo is not None:
            t0 = time.time()
            self.forge_result = self.connect_forge_repo(self.forge_repo)
            delivery = (self.forge_result.get("webhook") or {}).get("delivery") or {}
            if self.forge_result.get("failed") or delivery.get("status") != "ok":
                raise LoopError(f"forge_repository did not wire the forge to argocd-server: {self.forge_result.get('msg')} "
                                f"(test delivery: {delivery})")
            self.timings["forge_wiring"] = time.time() - t0
        self.connect_repo_and_root_app()
        return self

    def close(self) -> None:
        """Stop everything this loop started and delete its cluster (a second call does nothing)."""
        if self.closed:
            return
        self.closed = True
        for step in (self._stop_host, self._stop_servers, self._stop_marked, self._delete_cluster):
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

    def _stop_marked(self) -> None:
        """Whatever still carries the loop's marker (a child started after a component's stop)."""
        acd.kill_marked(self.marker, tree=True)

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


# ------------------------------------------------------------------------------ shared by test modules
SHARED_CLUSTER = os.environ.get("GITOPS_PULL_LOOP_CLUSTER", "loop1")
_SHARED: dict[str, PullLoop] = {}


def shared_pull_loop(request) -> PullLoop:
    """The pull loop of this pytest run, for a module-scoped fixture (REQUEST is the fixture's).

    Set up by the first module that asks (cluster GITOPS_PULL_LOOP_CLUSTER, default loop1,
    reconciliation GITOPS_PULL_LOOP_RECONCILIATION, default 10s) and closed when a module ends
    and no module collected after it sets ``SHARED_PULL_LOOP = True``, so the cluster does not
    outlive its users. A module that changes the loop's configuration restores it when it ends
    unless the loop was closed.
    """
    loop = _SHARED.get("loop")
    if loop is None or loop.closed:
        loop = PullLoop(SHARED_CLUSTER, reconciliation=os.environ.get("GITOPS_PULL_LOOP_RECONCILIATION", "10s"))
        _SHARED["loop"] = loop
        try:
            loop.setup()
        except Exception:
            if loop.host:
                sys.stderr.write("\n--- application controller ---\n" + loop.host.logs("argocd-application-controller", 40))
                sys.stderr.write("\n--- repo server ---\n" + loop.host.logs("argocd-repo-server", 40) + "\n")
            loop.close()
            raise

    def release() -> None:
        if not _used_later(request):
            loop.close()

    request.addfinalizer(release)
    return loop


def _used_later(request) -> bool:
    """Whether a test collected after this module's last one belongs to a module that shares the loop."""
    items = request.session.items
    mine = [i for i, item in enumerate(items) if getattr(item, "module", None) is request.module]
    after = items[max(mine) + 1:] if mine else []
    return any(getattr(getattr(item, "module", None), "SHARED_PULL_LOOP", False) for item in after)


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
        ssh_private_key: "{{ push_key }}"
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
        # The role applies Argo CD's configuration itself, as before repository mode (the infra_repo
        # step above writes none of it); test_single_source.py migrates the loop to repository mode.
        argocd_config_source: "{{ role_vars.argocd_config_source | default('inventory') }}"
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

# The collection wires a forge repository to this Argo CD: read-only deploy key, webhook to
# argocd-server (whose test delivery must pass Argo CD's signature check), optionally protection.
FORGE_WIRING = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The repository is read by Argo CD and sends its pushes to Argo CD's webhook
      gitops.bootstrap.forge_repository:
        forge: gitea
        api_url: "{{ api_url }}"
        token: "{{ token }}"
        owner: "{{ owner }}"
        name: "{{ name }}"
        branch_protection: "{{ protect }}"
        required_approvals: 1
        deploy_key_public: "{{ deploy_pub }}"
        webhook_url: "{{ webhook_url }}"
        webhook_secret: "{{ webhook_secret }}"
        gitea_web_password: "{{ web_password }}"
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
