# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hub and spoke with the real Argo CD controllers.

Two local clusters. The role gitops.bootstrap.argocd installs Argo CD on the hub;
playbooks/hub_and_spoke.yml (role argocd_spoke) creates the least-privilege ServiceAccount on
the spoke and the cluster Secret on the hub; the hub's real application controller and repo
server run as host processes (hack/argocd_controllers.py). The controller holds no credential
for the spoke but the token of that cluster Secret, and reaches the spoke's API server on
loopback with it, TLS verified with the CA the Secret carries.

The spoke is registered twice, each registration with an account of its own: ``team`` with the
defaults (one namespace, nothing cluster-scoped) and ``tools`` with one cluster-scoped kind,
Namespace (so the cluster Secret says clusterResources=true and Argo CD does send cluster-scoped
objects to the spoke). The AppProject deliberately allows every kind on both, so what stops a
sync below is the spoke's API server, not Argo CD's own checks.

What is proven, on the live clusters:
- an Application on the hub whose destination is the spoke (team) syncs into the namespace the
  account may write: the objects appear on the spoke (not on the hub), the Application is
  Synced and Healthy, the objects' field manager is Argo CD's controller, and a change made by
  hand on the spoke is healed back;
- an Application that needs what the account may not do is refused by the spoke's API server,
  and the Application's status carries the Kubernetes RBAC reason (``forbidden`` and the
  account's name): a Role that grants more than the account holds (RBAC escalation
  prevention) and a bare Pod (the account may read and delete Pods, not create them) on team,
  a ClusterRole on tools; none of those objects exists on the spoke afterwards;
- the resource.respectRBAC that argocd_spoke adds to the hub's argocd-cm is what lets the
  controller cache the spoke: without it the Application's comparison fails on a kind the
  account may not list, and with it back the Application is Synced again.

Clusters: GITOPS_TEST_HUB_CLUSTER / GITOPS_TEST_SPOKE_CLUSTER (default hub1 / spoke1, the
clusters test_hub_and_spoke.py uses), started when missing and left running for the next suite;
with GITOPS_TEST_KUBECONFIG or KUBECONFIG set, that one cluster plays both parts.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import uuid

import pytest
import yaml

from conftest import ROOT, external_kubeconfig, kubectl, run_playbook, start_local_cluster

sys.path.insert(0, os.path.join(ROOT, "hack"))
import argocd_controllers as acd  # noqa: E402
from pullloop_env import ARGOCD_MANIFESTS, MODULE_DEFAULTS  # noqa: E402
from pullloop_servers import GitDaemon, WorkingCopy, git  # noqa: E402

PLAYBOOK = os.path.join(ROOT, "playbooks", "hub_and_spoke.yml")
SFX = uuid.uuid4().hex[:6]
ARGOCD_NS = "argocd"
SA = "argocd-spoke"
# Two registrations of the spoke, made by one run of the playbook, each with an account of its own:
#  team   the defaults: one namespace, no cluster-scoped kind (the cluster Secret says clusterResources=false)
#  tools  one namespace and one cluster-scoped kind, Namespace (clusterResources=true: Argo CD does send
#         cluster-scoped objects to the spoke); the server reached as localhost (Argo CD keeps one cluster per URL)
REG = {
    "team": {"cluster": f"team-spoke-{SFX}", "ns": f"team-{SFX}", "sa_ns": f"argocd-spoke-team-{SFX}", "kinds": []},
    "tools": {"cluster": f"tools-spoke-{SFX}", "ns": f"tools-{SFX}", "sa_ns": f"argocd-spoke-tools-{SFX}",
              "kinds": [{"group": "", "kind": "Namespace"}]},
}
PROJECT = f"spokes-{SFX}"
SYNC_BUDGET = 150

MANIFESTS = {
    # What the account may deploy: a ConfigMap, a Deployment and a Service.
    "apps/web/web.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello from the hub
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
""",
    # Cluster-wide rights: the account may manage Namespaces only.
    "apps/clusterrole/clusterrole.yaml": f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: h-and-s-{SFX}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list]
""",
    # A Role that grants what the account does not hold itself (pods/exec).
    "apps/escalate/role.yaml": """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: exec-into-pods
rules:
  - apiGroups: [""]
    resources: [pods/exec]
    verbs: [create]
""",
    # A bare Pod: the account reads and deletes Pods, it does not create them.
    "apps/pod/pod.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: bare
spec:
  containers:
    - name: bare
      image: registry.invalid/bare:1
""",
}

INSTALL_ARGOCD = """
- hosts: localhost
  gather_facts: false
""" + MODULE_DEFAULTS + """
  tasks:
    - name: Argo CD is installed on the hub
      ansible.builtin.include_role:
        name: gitops.bootstrap.argocd
      vars:
        argocd_kubeconfig: "{{ kc }}"
        argocd_version: "{{ argocd_version }}"
        argocd_namespace: "{{ ns }}"
        argocd_manifest_source: "{{ manifests }}"
        argocd_cluster_name: hub
        argocd_config_source: inventory
        argocd_root_app_enabled: false
        argocd_self_manage: false
        argocd_reconciliation_timeout: 10s
        argocd_cm: {timeout.reconciliation.jitter: 0s}
        argocd_cmd_params: {controller.repo.error.grace.period.seconds: 0}
        # The spoke account holds no impersonate right (argocd_spoke refuses it): on a spoke, what
        # bounds a sync is that account's RBAC, which is what this module proves.
        argocd_sync_impersonation: false
"""

PROJECT_AND_APPS = """
- hosts: localhost
  gather_facts: false
""" + MODULE_DEFAULTS + """
  tasks:
    - name: The project allows every kind on the spoke (deliberately too wide)
      gitops.bootstrap.argocd_project:
        name: "{{ project }}"
        namespace: "{{ ns }}"
        source_repos: ["{{ repo }}"]
        destinations: "{{ destinations }}"
        cluster_resource_whitelist:
          - {group: "*", kind: "*"}

    - name: Applications on the hub deploy to the spoke
      gitops.bootstrap.argocd_application:
        name: "{{ item.name }}"
        namespace: "{{ ns }}"
        project: "{{ project }}"
        repo_url: "{{ repo }}"
        path: "{{ item.path }}"
        target_revision: main
        destination_name: "{{ item.cluster }}"
        destination_namespace: "{{ item.namespace }}"
        sync_policy:
          automated: true
          prune: true
          self_heal: true
          sync_options: [ServerSideApply=true]
          retry: {limit: 2, backoff: {duration: 2s, factor: 2, max_duration: 10s}}
        finalizer: false
      loop: "{{ apps }}"
"""

APPS = {
    "web": ("apps/web", "team"),
    "escalate": ("apps/escalate", "team"),
    "pod": ("apps/pod", "team"),
    "clusterrole": ("apps/clusterrole", "tools"),
}


def sa_user(reg):
    return f"system:serviceaccount:{REG[reg]['sa_ns']}:{SA}"


# ---------------------------------------------------------------------------- helpers
def kube_json(kubeconfig, *args):
    proc = kubectl(kubeconfig, *args, "-o", "json", "--show-managed-fields", check=False)
    if proc.returncode != 0:
        if "NotFound" in proc.stderr or "not found" in proc.stderr:
            return None
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def server_of(kubeconfig):
    with open(kubeconfig, encoding="utf-8") as fh:
        kc = yaml.safe_load(fh)
    ctx = next(c for c in kc["contexts"] if c["name"] == kc["current-context"])["context"]
    return next(c for c in kc["clusters"] if c["name"] == ctx["cluster"])["cluster"]["server"]


def write_inventory(path, hub, spoke):
    server = server_of(spoke)
    spokes = {}
    for key, reg in REG.items():
        host = {
            "gitops_kubeconfig": spoke,
            "argocd_spoke_hub_host": "hub",
            "argocd_spoke_cluster_name": reg["cluster"],
            "argocd_spoke_namespaces": [reg["ns"]],
            "argocd_spoke_service_account_namespace": reg["sa_ns"],
            "argocd_spoke_cluster_resources": reg["kinds"],
        }
        if key == "tools":
            host["argocd_spoke_server"] = server.replace("https://127.0.0.1:", "https://localhost:")
        spokes[reg["cluster"]] = host
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "children": {"hubs": {"hosts": {"hub": {"gitops_kubeconfig": hub}}}, "spokes": {"hosts": spokes}},
    }}
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(inventory, fh)
    return path


class HubAndSpoke:
    def __init__(self, hub, spoke, workdir):
        self.hub = hub
        self.spoke = spoke
        self.workdir = workdir
        self.daemon = None
        self.host = None
        self.repo = ""
        self.marker = f"hub-spoke-{os.getpid()}-{SFX}"
        self.inventory = os.path.join(workdir, "inventory.yml")
        self.timings: dict[str, float] = {}

    def play(self, text, extra_vars):
        res = run_playbook(text, extra_vars=dict({"kc": self.hub, "ns": ARGOCD_NS}, **extra_vars), timeout=600)
        assert res.rc == 0, res
        return res

    def setup(self):
        repos = os.path.join(self.workdir, "repos")
        os.makedirs(repos)
        git("init", "--quiet", "--bare", "-b", "main", os.path.join(repos, "apps.git"))
        self.daemon = GitDaemon(repos, os.path.join(self.workdir, "git-daemon"), marker=f"{self.marker}/git-daemon").start()
        self.repo = self.daemon.url("apps.git")
        wc = WorkingCopy(os.path.join(self.workdir, "work"), os.path.join(repos, "apps.git")).clone()
        for rel, text in MANIFESTS.items():
            wc.write(rel, text)
        wc.commit("applications for the spoke")
        git("push", "--quiet", "origin", "HEAD:main", cwd=wc.path)
        t0 = time.time()
        self.play(INSTALL_ARGOCD, {"manifests": os.path.join(ARGOCD_MANIFESTS, acd.ARGOCD_VERSION), "argocd_version": acd.ARGOCD_VERSION})
        # The collection's own hub and spoke code registers the spoke (ServiceAccount, RBAC, token, cluster Secret).
        self.timings["argocd_install"] = time.time() - t0
        t0 = time.time()
        self.register()
        self.timings["spoke_registration"] = time.time() - t0
        t0 = time.time()
        self.host = acd.ArgoCDHost(self.hub, ARGOCD_NS, workdir=os.path.join(self.workdir, "argocd"), marker=f"{self.marker}/argocd")
        self.host.start()
        self.timings["controllers"] = time.time() - t0
        t0 = time.time()
        apps = [{"name": f"{name}-{SFX}", "path": path, "cluster": REG[reg]["cluster"], "namespace": REG[reg]["ns"]}
                for name, (path, reg) in APPS.items()]
        self.play(PROJECT_AND_APPS, {"project": PROJECT, "repo": self.repo, "apps": apps,
                                     "destinations": [{"name": r["cluster"], "namespace": "*"} for r in REG.values()]})
        self.timings["project_and_apps"] = time.time() - t0
        return self

    def register(self):
        res = run_playbook(PLAYBOOK, inventory=write_inventory(self.inventory, self.hub, self.spoke), timeout=600)
        assert res.rc == 0, res
        return res

    def close(self):
        for step in (lambda: self.host and self.host.stop(), lambda: self.daemon and self.daemon.stop(),
                     lambda: acd.kill_marked(self.marker, tree=True)):
            try:
                step()
            except Exception as exc:  # noqa: BLE001  (tear-down goes on)
                print(f"hub and spoke tear-down: {exc}", file=sys.stderr)

    def app(self, name):
        return kube_json(self.hub, "-n", ARGOCD_NS, "get", "applications.argoproj.io", f"{name}-{SFX}") or {}

    def wait_for(self, what, predicate, timeout=SYNC_BUDGET, app=None):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            self.host.check_running()
            last = predicate()
            if last:
                return last
            time.sleep(2)
        detail = ""
        if app:
            detail = "\nApplication status: " + json.dumps((self.app(app).get("status") or {}), indent=1)[-3000:]
        detail += "\n--- application controller log ---\n" + self.host.logs("argocd-application-controller", 30)
        raise AssertionError(f"{what}: not seen within {timeout}s{detail}")


# ---------------------------------------------------------------------------- fixture
@pytest.fixture(scope="module")
def env():
    workdir = tempfile.mkdtemp(prefix=f"hub-spoke-{SFX}-")
    spoke = external_kubeconfig()
    if spoke:
        # One cluster plays both parts; the hub is reached through a kubeconfig of its own path.
        hub = os.path.join(workdir, "hub-kubeconfig.yaml")
        shutil.copyfile(spoke, hub)
        if not server_of(spoke).startswith("https://127.0.0.1:"):
            pytest.skip("the two registrations need two URLs of the one API server (127.0.0.1 and localhost)")
    else:
        hub = start_local_cluster(os.environ.get("GITOPS_TEST_HUB_CLUSTER", "hub1"))
        spoke = start_local_cluster(os.environ.get("GITOPS_TEST_SPOKE_CLUSTER", "spoke1"))
    loop = HubAndSpoke(hub, spoke, workdir)
    try:
        loop.setup()
        print(f"hub and spoke set-up: {', '.join(f'{k} {v:.0f}s' for k, v in loop.timings.items())}", file=sys.stderr)
        yield loop
    finally:
        loop.close()
        # What this module left behind (state=absent itself is proven by test_hub_and_spoke.py):
        # the Applications (no finalizer), the project and the registration on the hub, the
        # namespaces and the cluster-wide RBAC of the registration on the spoke.
        apps = [f"{name}-{SFX}" for name in APPS]
        kubectl(hub, "-n", ARGOCD_NS, "delete", "applications.argoproj.io", *apps, "--ignore-not-found", "--wait=false", check=False)
        kubectl(hub, "-n", ARGOCD_NS, "delete", "appprojects.argoproj.io", PROJECT, "--ignore-not-found", "--wait=false", check=False)
        kubectl(hub, "-n", ARGOCD_NS, "delete", "secret", *[f"cluster-{r['cluster']}" for r in REG.values()], "--ignore-not-found",
                check=False)
        for reg in REG.values():
            kubectl(spoke, "delete", "clusterrolebindings,clusterroles", "-l", f"gitops.bootstrap/argocd-spoke={reg['sa_ns']}.{SA}",
                    "--ignore-not-found", "--wait=false", check=False)
            kubectl(spoke, "delete", "namespace", reg["ns"], reg["sa_ns"], "--ignore-not-found", "--wait=false", check=False)
        if not os.environ.get("GITOPS_KEEP_PULL_LOOP"):
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------- tests
def test_application_syncs_into_the_spoke_through_its_account(env):
    ns = REG["team"]["ns"]

    def synced():
        st = env.app("web").get("status") or {}
        return (st.get("sync") or {}).get("status") == "Synced" and (st.get("health") or {}).get("status") == "Healthy"

    env.wait_for("web Synced and Healthy on the spoke", synced, app="web")
    for kind, name in (("configmap", "web-config"), ("deployment", "web"), ("service", "web")):
        obj = kube_json(env.spoke, "-n", ns, "get", kind, name)
        assert obj is not None, f"{kind} {ns}/{name} is not on the spoke"
        managers = {(m.get("manager"), m.get("operation")) for m in obj["metadata"].get("managedFields") or []}
        assert ("argocd-controller", "Apply") in managers, (kind, managers)
        assert kube_json(env.hub, "-n", ns, "get", kind, name) is None, f"{kind} {name} landed on the hub"
    assert kube_json(env.spoke, "-n", ns, "get", "configmap", "web-config")["data"] == {"greeting": "hello from the hub"}
    # The controller watches the spoke through the account: a change by hand is healed back.
    kubectl(env.spoke, "-n", ns, "patch", "configmap", "web-config", "--type=merge", "-p", '{"data":{"greeting":"by hand"}}')
    env.wait_for("the hand-made change healed back",
                 lambda: (kube_json(env.spoke, "-n", ns, "get", "configmap", "web-config") or {}).get("data") == {"greeting": "hello from the hub"},
                 app="web")


def refusal(app):
    """The Application's statement that the spoke's API server refused it: the message of a failed sync, or
    the comparison error when Argo CD may not even read the object (then it never tries to write it)."""
    st = app.get("status") or {}
    op = st.get("operationState") or {}
    if op.get("phase") in ("Failed", "Error"):
        text = "\n".join([op.get("message") or ""] + [r.get("message") or "" for r in (op.get("syncResult") or {}).get("resources") or []])
        return ("sync", text) if "forbidden" in text else None
    for cond in st.get("conditions") or []:
        if cond.get("type") == "ComparisonError" and "forbidden" in (cond.get("message") or ""):
            return ("comparison", cond["message"])
    return None


@pytest.mark.parametrize("name,kind,obj,stage,verb", [
    # The account may not even read ClusterRoles: Argo CD cannot compare, so it never writes.
    ("clusterrole", "clusterroles", f"h-and-s-{SFX}", "comparison", 'cannot get resource "clusterroles"'),
    # It may write Roles, but only with rights it holds itself.
    ("escalate", "roles", "exec-into-pods", "sync", "is attempting to grant RBAC permissions not currently held"),
    # It may read and delete Pods, not create them.
    ("pod", "pods", "bare", "sync", 'cannot patch resource "pods"'),
])
def test_what_the_account_may_not_do_is_refused_with_the_rbac_reason(env, name, kind, obj, stage, verb):
    reg = APPS[name][1]
    where, text = env.wait_for(f"{name} refused by the spoke's API server", lambda: refusal(env.app(name)), app=name)
    assert where == stage, (where, text)
    assert "forbidden" in text and sa_user(reg) in text, text
    assert verb in text, text
    assert ((env.app(name).get("status") or {}).get("sync") or {}).get("status") != "Synced"
    args = ["get", kind, obj] if kind == "clusterroles" else ["-n", REG[reg]["ns"], "get", kind, obj]
    assert kube_json(env.spoke, *args) is None, f"{kind} {obj} exists on the spoke"


def test_without_respect_rbac_the_controller_cannot_use_the_spoke(env):
    """What the resource.respectRBAC that argocd_spoke adds to the hub's argocd-cm is for: without it the
    controller's cache of the spoke fails on the first kind the account may not list, and no Application of
    that spoke can be compared. Runs last: it restarts the controller twice."""
    cm = kube_json(env.hub, "-n", ARGOCD_NS, "get", "configmap", "argocd-cm")
    assert (cm.get("data") or {}).get("resource.respectRBAC") == "normal", cm.get("data")
    user = sa_user("team")

    def cache_refused():
        conds = (env.app("web").get("status") or {}).get("conditions") or []
        return [c["message"] for c in conds if "forbidden" in (c.get("message") or "") and user in c["message"]]

    kubectl(env.hub, "-n", ARGOCD_NS, "patch", "configmap", "argocd-cm", "--type=json",
            "-p", '[{"op": "remove", "path": "/data/resource.respectRBAC"}]')
    try:
        env.host.restart("argocd-application-controller")
        kubectl(env.hub, "-n", ARGOCD_NS, "annotate", "applications.argoproj.io", f"web-{SFX}", "argocd.argoproj.io/refresh=hard", "--overwrite")
        messages = env.wait_for("web's comparison fails on the spoke's forbidden lists", cache_refused, app="web")
        assert any("cannot list resource" in m for m in messages), messages
    finally:
        kubectl(env.hub, "-n", ARGOCD_NS, "patch", "configmap", "argocd-cm", "--type=merge", "-p", '{"data": {"resource.respectRBAC": "normal"}}')
        env.host.restart("argocd-application-controller")
    kubectl(env.hub, "-n", ARGOCD_NS, "annotate", "applications.argoproj.io", f"web-{SFX}", "argocd.argoproj.io/refresh=hard", "--overwrite")
    env.wait_for("web compared and Synced again with resource.respectRBAC back",
                 lambda: not cache_refused() and ((env.app("web").get("status") or {}).get("sync") or {}).get("status") == "Synced", app="web")
