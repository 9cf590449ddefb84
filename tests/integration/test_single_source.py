# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the bootstrap, Git is the only source of truth, proven with the real Argo CD controllers.

Reuses the pull loop of test_pull_loop.py (cluster, git servers, controllers;
pullloop_env.shared_pull_loop), which the collection bootstrapped with
``argocd_config_source: inventory``: the Argo CD role applied argocd-cm, the projects and the
applications itself, as the collection did before repository mode. The first test runs the
collection in repository mode on that cluster (the migration); from there on Argo CD's own
configuration lives in ``clusters/<cluster>/argocd/`` and ``clusters/<cluster>/projects/``,
rendered by infra_repo from the role's variables and applied by Argo CD (self-management), and
the role applies directly only the bootstrap objects (repository credentials, root application).

The migration is not undone at the end: the loop stays in repository mode for the modules after
this one (test_webhook.py only patches argocd-cm to restart the controller with another
reconciliation timeout, which the controller reads once at start).

The tests run in file order and build on each other's state.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from conftest import run_playbook  # noqa: E402
from pullloop_env import APP, ARGOCD_MANIFESTS, ARGOCD_NAMESPACE, MODULE_DEFAULTS, SHARED_CLUSTER, acd, shared_pull_loop  # noqa: E402
from pullloop_servers import git, processes_referring_to  # noqa: E402

CLUSTER = SHARED_CLUSTER
SHARED_PULL_LOOP = True
ARGO_DIR = f"clusters/{CLUSTER}/argocd"
PROJECTS_DIR = f"clusters/{CLUSTER}/projects"
# The role's field managers: gitops.bootstrap, and gitops.bootstrap.<module> for the modules that have their own.
ROLE_MANAGER = "gitops.bootstrap"
ARGOCD_MANAGER = "argocd-controller"
# Objects Argo CD applies from Git after the migration (the role applied them before).
CONFIG_MAPS = ("argocd-cm", "argocd-cmd-params-cm", "argocd-rbac-cm")
HANDED_OVER = [("configmap", name) for name in CONFIG_MAPS] + [
    ("appprojects.argoproj.io", "default"), ("appprojects.argoproj.io", "platform"), ("applications.argoproj.io", "argocd")]
# The bootstrap objects: applied by the role on every run.
REPO_SECRET = "infra"
ROOT_APP = "root"
KNOWN_HOSTS_CM = "argocd-ssh-known-hosts-cm"
TEAM = "team-h"
# Seconds, beyond the loop's budget, that a sync of the self-management Application (the whole
# install manifest) may take on a loaded machine.
SELF_SYNC_SLACK = 180
# How long the role is run again and again beside the running controllers.
FIGHT_SECONDS = 60.0
INSTALL_URL = re.compile(r"^(\s+- )(https://\S+/install\.yaml)$", re.M)
LOCAL_INSTALL = re.compile(r"^(\s+- )install\.yaml$", re.M)

pytestmark = pytest.mark.skipif(
    not os.path.exists(acd.argocd_bin()),
    reason=f"the Argo CD binaries are not built ({acd.argocd_bin()}); run `make test-pull-loop`, which builds them",
)


@pytest.fixture(scope="module")
def loop(request):
    return shared_pull_loop(request)


# --------------------------------------------------------------------------- the harness
def test_host_stop_ends_a_gpg_agent_that_lost_the_marker():
    """gpg-agent detaches from the repo server's process group; started by a gpg whose environment is not
    the repo server's, it does not carry the harness's marker either. stop() must end it all the same."""
    if not shutil.which("gpg-connect-agent"):
        pytest.skip("gpg-connect-agent is not installed")
    # A short path, as the harness's own: the agent's socket lives in the home (at most 107 bytes).
    work = tempfile.mkdtemp(prefix="gpg-host-")
    host = acd.ArgoCDHost(os.path.join(work, "kubeconfig"), workdir=os.path.join(work, "host"))
    home = os.path.join(host.workdir, "argocd-repo-server", "app", "config", "gpg", "keys")
    os.makedirs(home, mode=0o700)
    script = 'env -i PATH="$PATH" GNUPGHOME="$ARGOCD_GNUPGHOME" gpg-connect-agent /bye >/dev/null 2>&1; exec sleep 300'
    host.spawn("argocd-repo-server", ["sh", "-c", script], {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ARGOCD_GNUPGHOME": home},
               host.workdir)
    deadline = time.time() + 30
    agents = []
    while time.time() < deadline and not agents:
        agents = [p for p in processes_referring_to(host.workdir) if "gpg-agent" in p[1]]
        time.sleep(0.2)
    try:
        assert agents, "no gpg-agent started for the keyring"
        assert not [pid for pid, dummy in agents if pid in acd.marked_pids(host.marker)], "the agent carries the marker"
        host.stop()
        left = []
        deadline = time.time() + 10
        while time.time() < deadline:
            left = processes_referring_to(host.workdir)
            if not left:
                break
            time.sleep(0.2)
        assert not left, f"processes of the harness survived stop(): {left}"
    finally:
        for pid, dummy in processes_referring_to(work):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)


# The inventory of the cluster in repository mode. INVENTORY grows over the module (test 6).
INVENTORY = {
    "argocd_projects": [{
        "name": TEAM, "description": "The team's applications",
        "source_repos": ["{{ repo_url }}"],
        "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-h-dev"}],
    }],
    "argocd_rbac_policies": [],
    "argocd_cm": {},
}

ARGOCD_VARS = """
        argocd_kubeconfig: "{{ kc }}"
        argocd_version: "{{ argocd_version }}"
        argocd_namespace: "{{ ns }}"
        argocd_manifest_source: "{{ manifests }}"
        argocd_cluster_name: "{{ cluster }}"
        argocd_infra_repo_url: "{{ repo_url }}"
        argocd_infra_repo_revision: main
        argocd_root_app_path: "clusters/{{ cluster }}"
        argocd_self_manage_path: "clusters/{{ cluster }}/argocd"
        argocd_config_source: repository
        argocd_sync_impersonation_enforced: "{{ inventory.enforced | default(false) }}"
        argocd_reconciliation_timeout: "{{ reconciliation }}"
        argocd_cm: "{{ ({'timeout.reconciliation.jitter': jitter} if jitter else {}) | combine(inventory.argocd_cm) }}"
        argocd_cmd_params: {controller.repo.error.grace.period.seconds: 0}
        argocd_projects: "{{ inventory.argocd_projects }}"
        argocd_rbac_policies: "{{ inventory.argocd_rbac_policies }}"
        argocd_repositories:
          - name: infra
            url: "{{ repo_url }}"
            ssh_private_key: "{{ deploy_key }}"
            known_hosts: "{{ known_hosts }}"
"""

REPOSITORY_TASKS = """
    - name: Argo CD's configuration is rendered for the infra repository
      ansible.builtin.include_role:
        name: gitops.bootstrap.argocd
        tasks_from: repository_config
      vars:
""" + ARGOCD_VARS + """
    - name: The infra repository holds the cluster's folder and Argo CD's configuration
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
        argocd_config: "{{ argocd_repository_config }}"
        pipeline: none
        ssh_private_key: "{{ push_key }}"
        ssh_known_hosts: "{{ known_hosts }}"
      register: infra
"""

ROLE_TASKS = """
    - name: Argo CD is installed and its bootstrap objects are in place
      ansible.builtin.include_role:
        name: gitops.bootstrap.argocd
      vars:
""" + ARGOCD_VARS

PLAY_HEAD = """
- hosts: localhost
  gather_facts: false
""" + MODULE_DEFAULTS + """
  tasks:
"""
INFRA_TASK = "The infra repository holds the cluster's folder and Argo CD's configuration"


def play(loop, tasks: str, check: bool = False, **extra):
    """One run of the collection in repository mode (TASKS: the repository step, the role, or both)."""
    ev = dict(loop.bootstrap_vars(), kc=loop.kubeconfig, ns=ARGOCD_NAMESPACE, inventory=INVENTORY, **extra)
    res = run_playbook(PLAY_HEAD + tasks, extra_vars=ev, check=check, timeout=600)
    assert res.rc == 0, f"the run in repository mode failed: {res.failed_msgs()}\n{res.stderr[-3000:]}"
    return res


def changed_tasks(res) -> list[str]:
    return [t["task"]["name"] for t in res.tasks() if any(h.get("changed") for h in t["hosts"].values())]


# --------------------------------------------------------------------------- reading the cluster
def fields(tree: dict, prefix: str = "") -> set[str]:
    """The leaf field paths of a managedFields fieldsV1 tree ("f:data.f:admin.enabled" -> "data.admin.enabled")."""
    out = set()
    for key, sub in (tree or {}).items():
        if key == ".":
            continue
        name = key.split(":", 1)[1] if ":" in key else key
        path = f"{prefix}.{name}" if prefix else name
        if sub and set(sub) != {"."}:
            out |= fields(sub, path)
        else:
            out.add(path)
    return out


def manager_of(entry: dict) -> str:
    """The entry's field manager; every manager of the role counts as ROLE_MANAGER."""
    name = entry.get("manager", "?")
    return ROLE_MANAGER if name == ROLE_MANAGER or name.startswith(ROLE_MANAGER + ".") else name


def owners(obj: dict) -> dict[str, set[str]]:
    """Field path -> the field managers owning it (status and Argo CD's operation left out)."""
    own: dict[str, set[str]] = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("subresource") == "status":
            continue
        for path in fields(entry.get("fieldsV1") or {}):
            if path.startswith(("status", "operation")):
                continue
            own.setdefault(path, set()).add(manager_of(entry))
    return own


def managers(obj: dict) -> set[str]:
    return {manager_of(e) for e in (obj.get("metadata") or {}).get("managedFields") or []}


def read_many(loop, refs) -> dict[tuple[str, str], dict]:
    """Several objects of Argo CD's namespace in one kubectl call, by (kind, name)."""
    proc = loop.kubectl("-n", ARGOCD_NAMESPACE, "get", *[f"{kind}/{name}" for kind, name in refs], "-o", "json",
                        "--ignore-not-found", "--show-managed-fields")
    data = json.loads(proc.stdout) if proc.stdout.strip() else {"items": []}
    items = data.get("items", []) if data.get("kind") == "List" else [data]
    out = {}
    for item in items:
        for kind, name in refs:
            if item["metadata"]["name"] == name and kind.split(".")[0].rstrip("s") == item["kind"].lower():
                out[(kind, name)] = item
    return out


def live(loop, kind: str, name: str) -> dict | None:
    """One object of Argo CD's namespace with its managedFields (kubectl leaves them out unless asked)."""
    return read_many(loop, [(kind, name)]).get((kind, name))


def cm_data(loop, name: str) -> dict:
    return (loop.get("configmap", name, ARGOCD_NAMESPACE) or {}).get("data") or {}


def template_hash(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj["spec"]["template"], sort_keys=True).encode()).hexdigest()[:16]


def workloads(loop) -> dict[str, tuple]:
    """Deployments and StatefulSets of Argo CD: uid and pod template (what a rollout changes).

    Not the generation: Argo CD's first full server-side apply after the hand-over writes the spec
    as upstream's manifest has it, which counts as a spec write (generation 2 -> 3) with the same
    pod template, so no pod is replaced; the pods' uids are compared by object_uids too.
    """
    out = {}
    for kind in ("deployments", "statefulsets"):
        for item in json.loads(loop.kubectl("-n", ARGOCD_NAMESPACE, "get", kind, "-o", "json").stdout)["items"]:
            meta = item["metadata"]
            out[f"{item['kind']}/{meta['name']}"] = (meta["uid"], template_hash(item))
    return out


INVENTORIED_KINDS = ("configmaps,secrets,services,serviceaccounts,roles,rolebindings,deployments,statefulsets,pods,"
                     "appprojects.argoproj.io,applications.argoproj.io")


def object_uids(loop) -> dict[str, str]:
    """Every object of Argo CD's namespace (and its CRDs and cluster roles) by kind/name, with its uid."""
    out = {}
    for args in (["-n", ARGOCD_NAMESPACE, "get", INVENTORIED_KINDS], ["get", "customresourcedefinitions,clusterroles,clusterrolebindings"]):
        for item in json.loads(loop.kubectl(*args, "-o", "json").stdout)["items"]:
            if args[0] == "get" and "argocd" not in item["metadata"]["name"] and "argoproj.io" not in item["metadata"]["name"]:
                continue
            out[f"{item['kind']}/{item['metadata']['name']}"] = item["metadata"]["uid"]
    return out


def app_synced_at_head(loop, name: str) -> bool:
    return loop.app_synced_healthy(name, loop.wc.head())


def wait_synced(loop, names=("root", "argocd"), extra: float = 120):
    loop.wc.pull()
    for name in names:
        loop.wait_for(f"Application {name} Synced and Healthy at {loop.wc.head()[:8]}", lambda name=name: app_synced_at_head(loop, name),
                      timeout=loop.reconcile_budget() + extra, app=name)


# --------------------------------------------------------------------------- the repository
def read_yaml(loop, rel: str):
    return yaml.safe_load(loop.wc.read(rel))


def commit_and_push(loop, message: str, files: dict[str, str]) -> str:
    loop.wc.pull()
    for rel, content in files.items():
        loop.wc.write(rel, content)
    sha = loop.wc.commit(message)
    loop.wc.push()
    return sha


def upstream_install_url(loop) -> str:
    """The install manifest URL the scaffold put into clusters/<c>/argocd/kustomization.yaml."""
    rel = f"{ARGO_DIR}/kustomization.yaml"
    for sha in git("log", "--format=%H", "--", rel, cwd=loop.wc.path).stdout.split():
        m = INSTALL_URL.search(git("show", f"{sha}:{rel}", cwd=loop.wc.path).stdout)
        if m:
            return m.group(2)
    raise AssertionError(f"no version of {rel} names the upstream install manifest")


def offline_install(loop, text: str) -> str:
    """The kustomization with the upstream install manifest read from a copy in the folder (no network here)."""
    return INSTALL_URL.sub(r"\1install.yaml", text)


def ensure_offline_install(loop) -> None:
    """As test_pull_loop.py's self-management test leaves it: the upstream manifest as a file of the folder."""
    loop.wc.pull()
    rel = f"{ARGO_DIR}/kustomization.yaml"
    text = loop.wc.read(rel)
    if not INSTALL_URL.search(text):
        return
    with open(os.path.join(ARGOCD_MANIFESTS, acd.ARGOCD_VERSION, "install.yaml"), encoding="utf-8") as fh:
        loop.wc.write(f"{ARGO_DIR}/install.yaml", fh.read())
    loop.wc.write(rel, offline_install(loop, text))
    loop.wc.commit("argocd: installed from a copy of the upstream manifest")
    loop.wc.push()


def disagreements(infra: dict) -> dict[tuple[str, str], tuple]:
    """infra_repo's disagreements by (file, field): (inventory, repository), less the test's offline install line."""
    out = {}
    for d in infra.get("disagreements") or []:
        if d["path"] == f"{ARGO_DIR}/kustomization.yaml" and d.get("repository") == "install.yaml":
            continue
        out[(d["path"], d["field"])] = (d.get("inventory"), d.get("repository"))
    return out


# --------------------------------------------------------------------------- 1. migration
def test_migration_from_inventory_mode_hands_over_without_downtime(loop):
    """A cluster the role configured directly (inventory mode) converges to repository mode: nothing rolled,
    nothing deleted, and the role's field manager gone from the objects Argo CD now applies from Git."""
    ensure_offline_install(loop)
    wait_synced(loop, extra=240)
    before_cm = live(loop, "configmap", "argocd-cm")
    assert ROLE_MANAGER in owners(before_cm).get("data.timeout.reconciliation", set()), \
        "the loop was not bootstrapped in inventory mode (the role's own argocd-cm keys)"
    rolled_before = workloads(loop)
    uids_before = object_uids(loop)

    # The scaffold's kustomization, so that infra_repo may add its patches to it; the test's
    # offline install line is put back right after the repository step, before the role runs.
    rel = f"{ARGO_DIR}/kustomization.yaml"
    url = upstream_install_url(loop)
    loop.wc.pull()
    commit_and_push(loop, "argocd: the scaffold's kustomization", {rel: LOCAL_INSTALL.sub(rf"\g<1>{url}", loop.wc.read(rel))})
    t0 = time.time()
    first = play(loop, REPOSITORY_TASKS)
    infra = first.task_result(INFRA_TASK)
    assert infra["changed"] and infra["pushed"], infra
    assert infra["clusters_changed"] == [CLUSTER], infra["clusters_changed"]
    loop.wc.pull()
    commit_and_push(loop, "argocd: installed from a copy of the upstream manifest", {rel: offline_install(loop, loop.wc.read(rel))})
    role = play(loop, ROLE_TASKS)
    print(f"migration run: {time.time() - t0:.1f}s, role changed {changed_tasks(role)}")

    # The repository now holds what the role applied before.
    cm = read_yaml(loop, f"{ARGO_DIR}/argocd-cm.yaml")
    assert cm["data"]["timeout.reconciliation"] == loop.reconciliation
    assert cm["data"]["admin.enabled"] == "false"
    assert read_yaml(loop, f"{ARGO_DIR}/argocd-cmd-params-cm.yaml")["data"]["controller.repo.error.grace.period.seconds"] == "0"
    assert "policy.default" in read_yaml(loop, f"{ARGO_DIR}/argocd-rbac-cm.yaml")["data"]
    kust = read_yaml(loop, f"{ARGO_DIR}/kustomization.yaml")
    assert {p["path"] for p in kust["patches"]} >= {f"{n}.yaml" for n in CONFIG_MAPS}, kust
    for name in ("default", "platform", TEAM):
        proj = read_yaml(loop, f"{PROJECTS_DIR}/{name}.yaml")
        assert proj["kind"] == "AppProject" and proj["metadata"]["name"] == name
    wait_synced(loop)

    # Runs until the role has nothing left to hand over (the handover needs Argo CD to have applied first).
    runs = []
    for dummy in range(3):
        res = play(loop, REPOSITORY_TASKS + ROLE_TASKS)
        runs.append(changed_tasks(res))
        if not runs[-1]:
            break
        wait_synced(loop)
    assert not runs[-1], f"the runs after the migration kept changing: {runs}"
    print(f"runs after the migration run until changed=0: {runs}")

    # The role asked Argo CD for one sync after its hand-over; the hand-over is complete once Argo CD
    # has applied, and then owns every field Git holds.
    def handed_over():
        cm = read_many(loop, [("configmap", "argocd-cm")]).get(("configmap", "argocd-cm")) or {}
        return owners(cm).get("data.timeout.reconciliation") == {ARGOCD_MANAGER}
    loop.wait_for("Argo CD's field manager alone owns argocd-cm's keys after its sync", handed_over,
                  timeout=loop.reconcile_budget() + 60, app="argocd")

    objs = read_many(loop, HANDED_OVER)
    for ref in HANDED_OVER:
        obj = objs.get(ref)
        assert obj, f"{ref} is gone"
        assert ROLE_MANAGER not in managers(obj), \
            f"{ref}: the role's managedFields entry is still there: {sorted(p for p, m in owners(obj).items() if ROLE_MANAGER in m)}"
        assert ARGOCD_MANAGER in managers(obj), f"{ref} is not applied by Argo CD: {managers(obj)}"
    assert owners(objs[("configmap", "argocd-cm")])["data.timeout.reconciliation"] == {ARGOCD_MANAGER}
    assert live(loop, "appprojects.argoproj.io", TEAM)

    # No downtime: no workload rolled, nothing deleted.
    assert workloads(loop) == rolled_before, "an Argo CD workload was changed (rolled) by the migration"
    uids_after = object_uids(loop)
    gone = sorted(k for k, uid in uids_before.items() if uids_after.get(k) != uid)
    assert not gone, f"objects deleted or re-created by the migration: {gone}"


# --------------------------------------------------------------------------- 2. Git wins
GIT_VALUES = {"admin.enabled": "true", "timeout.reconciliation": "30s"}


def test_reviewed_git_change_is_applied_by_argocd(loop):
    """A change merged in Git to settings the role knows too is applied by Argo CD, and owned by it alone."""
    rel = f"{ARGO_DIR}/argocd-cm.yaml"
    loop.wc.pull()
    doc = read_yaml(loop, rel)
    doc["data"].update(GIT_VALUES)
    sha = commit_and_push(loop, "argocd: admin account on, slower reconciliation (reviewed)",
                          {rel: "---\n" + yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)})
    TEST_STATE["git_change"] = sha
    loop.wait_for("Argo CD applied the reviewed argocd-cm", lambda: all(cm_data(loop, "argocd-cm").get(k) == v for k, v in GIT_VALUES.items()),
                  timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app="argocd")
    own = owners(live(loop, "configmap", "argocd-cm"))
    for key in GIT_VALUES:
        assert own[f"data.{key}"] == {ARGOCD_MANAGER}, f"data.{key} owned by {own[f'data.{key}']}"


TEST_STATE: dict = {}


class ManagedFieldsWatch:
    """Reads the managedFields of some objects every second in a thread, recording who owns what, and when."""

    def __init__(self, loop, refs):
        self.loop = loop
        self.refs = refs
        self.seen: dict[tuple, list[frozenset]] = {}
        self.values: list[dict] = []
        self.errors: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="managed-fields-watch", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self):
        while not self._stop.is_set():
            try:
                objs = read_many(self.loop, self.refs)
            except Exception as exc:  # noqa: BLE001  (a failed read is reported, the watch goes on)
                self.errors.append(str(exc)[:200])
                objs = {}
            for ref, obj in objs.items():
                for path, who in owners(obj).items():
                    mine = frozenset(who & {ROLE_MANAGER, ARGOCD_MANAGER})
                    history = self.seen.setdefault((ref, path), [])
                    if not history or history[-1] != mine:
                        history.append(mine)
                if ref == ("configmap", "argocd-cm"):
                    self.values.append({k: (obj.get("data") or {}).get(k) for k in GIT_VALUES})
            self.samples += 1
            self._stop.wait(1.0)

    def flips(self) -> dict:
        """(object, field) -> the owners seen in turn, for every field owned by more than one set of the two managers
        over time (a field that appears or goes away with one owner is no flip)."""
        return {key: [sorted(s) for s in hist] for key, hist in self.seen.items() if len({s for s in hist if s}) > 1}


def test_role_reruns_beside_the_controllers_change_nothing_and_never_fight(loop):
    """For a minute the collection runs again and again: changed=0 every time, Git's values stay live,
    and no field changes hands between the role and Argo CD."""
    refs = HANDED_OVER + [("appprojects.argoproj.io", TEAM), ("applications.argoproj.io", ROOT_APP), ("secret", REPO_SECRET),
                          ("configmap", KNOWN_HOSTS_CM)]
    runs = []
    with ManagedFieldsWatch(loop, refs) as watch:
        start = time.time()
        while time.time() - start < FIGHT_SECONDS:
            t0 = time.time()
            res = play(loop, REPOSITORY_TASKS + ROLE_TASKS)
            infra = res.task_result(INFRA_TASK)
            runs.append({"seconds": round(time.time() - t0, 1), "changed": changed_tasks(res),
                         "disagreements": sorted(disagreements(infra))})
        time.sleep(3)
    print(f"{len(runs)} runs in {time.time() - start:.0f}s, {watch.samples} managedFields samples: {runs}")
    assert all(not r["changed"] for r in runs), f"a re-run changed something: {runs}"
    assert not watch.errors, watch.errors[:3]
    assert watch.samples >= FIGHT_SECONDS / 3, f"only {watch.samples} samples"
    flipped = watch.flips()
    assert not flipped, f"fields changed hands between {ROLE_MANAGER} and {ARGOCD_MANAGER}: {dict(list(flipped.items())[:10])}"
    reverted = [v for v in watch.values if v != GIT_VALUES]
    assert not reverted, f"Git's argocd-cm values were overwritten in the cluster (samples: {reverted[:3]})"
    for (ref, path), hist in watch.seen.items():
        if ref[0] == "configmap" and ref[1] in CONFIG_MAPS and path.startswith("data."):
            assert ROLE_MANAGER not in hist[-1], f"{ref} {path} is still owned by the role"


def test_drift_check_reports_a_disagreement_not_cluster_drift(loop):
    """The drift view: the repository differs from the inventory (both values named, where each lives);
    the cluster does not differ from the repository."""
    res = play(loop, REPOSITORY_TASKS, check=True)
    infra = res.task_result(INFRA_TASK)
    assert not infra["changed"], f"check mode would change the repository: {infra.get('updated')} {infra.get('created')}"
    rel = f"{ARGO_DIR}/argocd-cm.yaml"
    found = disagreements(infra)
    assert found == {(rel, "data.admin.enabled"): ("false", "true"),
                     (rel, "data.timeout.reconciliation"): (loop.reconciliation, "30s")}, found
    warnings = "\n".join(infra.get("warnings") or [])
    assert rel in warnings and "30s" in warnings and loop.reconciliation in warnings, warnings
    report = {a["name"]: a for a in loop.info()["applications"]}
    for name in ("root", "argocd"):
        assert report[name]["reason"] == "Synced and Healthy", report[name]


def test_git_revert_brings_repository_and_inventory_together_again(loop):
    loop.wc.pull()
    sha = loop.wc.revert(TEST_STATE["git_change"])
    loop.wc.push()
    loop.wait_for("Argo CD applied the reverted argocd-cm", lambda: cm_data(loop, "argocd-cm").get("admin.enabled") == "false"
                  and cm_data(loop, "argocd-cm").get("timeout.reconciliation") == loop.reconciliation,
                  timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app="argocd")
    res = play(loop, REPOSITORY_TASKS, check=True)
    infra = res.task_result(INFRA_TASK)
    assert not disagreements(infra) and not infra["changed"], infra.get("disagreements")
    assert app_synced_at_head(loop, "argocd") or loop.wc.head() == sha


# --------------------------------------------------------------------------- 3. inventory -> Git -> cluster
BANNER = "Changes to this Argo CD go through the infra repository"
POLICY = {"subject": "role:team-h-viewer", "resource": "applications", "action": "get", "object": f"{TEAM}/*"}
NEW_NAMESPACE = "team-h-staging"


def test_inventory_change_is_a_commit_that_argocd_applies(loop):
    """argocd_cm, a team project and an RBAC policy changed in the inventory: the run commits them and
    changes nothing in the cluster itself; Argo CD applies the commit."""
    INVENTORY["argocd_cm"] = {"ui.bannercontent": BANNER}
    INVENTORY["argocd_rbac_policies"] = [POLICY]
    INVENTORY["argocd_projects"][0]["destinations"].append({"server": "https://kubernetes.default.svc", "namespace": NEW_NAMESPACE})
    loop.wc.pull()
    before = loop.wc.head()
    res = play(loop, REPOSITORY_TASKS + ROLE_TASKS)
    infra = res.task_result(INFRA_TASK)
    assert changed_tasks(res) == [INFRA_TASK], f"tasks other than the repository's changed: {changed_tasks(res)}"
    assert infra["pushed"] and infra["commit"] and infra["clusters_changed"] == [CLUSTER], infra
    assert not disagreements(infra), infra.get("disagreements")
    loop.wc.pull()
    assert loop.wc.head() == infra["commit"] != before
    changed_files = set(git("diff", "--name-only", before, infra["commit"], cwd=loop.wc.path).stdout.split())
    # The new namespace's sync identity (sync impersonation) comes with the project's new destination.
    identities = f"clusters/{CLUSTER}/sync-identities/identities.yaml"
    wanted = {f"{ARGO_DIR}/argocd-cm.yaml", f"{ARGO_DIR}/argocd-rbac-cm.yaml", f"{PROJECTS_DIR}/{TEAM}.yaml", identities}
    assert wanted <= changed_files <= wanted | {".gitops/managed.yaml"}, changed_files
    assert f"argocd-sync-{TEAM}-{NEW_NAMESPACE}" in [o["metadata"]["name"] for o in read_yaml(loop, identities)["items"]]
    assert read_yaml(loop, f"{ARGO_DIR}/argocd-cm.yaml")["data"]["ui.bannercontent"] == BANNER
    policy = read_yaml(loop, f"{ARGO_DIR}/argocd-rbac-cm.yaml")["data"]["policy.csv"]
    assert any("role:team-h-viewer" in line and f"{TEAM}/*" in line for line in policy.splitlines()), policy
    assert NEW_NAMESPACE in [d["namespace"] for d in read_yaml(loop, f"{PROJECTS_DIR}/{TEAM}.yaml")["spec"]["destinations"]]

    def applied():
        objs = read_many(loop, [("configmap", "argocd-cm"), ("configmap", "argocd-rbac-cm"), ("appprojects.argoproj.io", TEAM)])
        if len(objs) < 3:
            return None
        cm, rbac, proj = objs[("configmap", "argocd-cm")], objs[("configmap", "argocd-rbac-cm")], objs[("appprojects.argoproj.io", TEAM)]
        if (cm.get("data") or {}).get("ui.bannercontent") != BANNER or "team-h-viewer" not in (rbac.get("data") or {}).get("policy.csv", ""):
            return None
        if NEW_NAMESPACE not in [d.get("namespace") for d in proj["spec"].get("destinations") or []]:
            return None
        return cm, rbac, proj

    cm, rbac, proj = loop.wait_for("Argo CD applied the inventory's commit", applied, timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app="argocd")
    # Applied by Argo CD, not by the role: the new values belong to Argo CD's field manager alone.
    assert owners(cm)["data.ui.bannercontent"] == {ARGOCD_MANAGER}, owners(cm)["data.ui.bannercontent"]
    assert owners(rbac)["data.policy.csv"] == {ARGOCD_MANAGER}, owners(rbac)["data.policy.csv"]
    assert ROLE_MANAGER not in managers(proj), f"AppProject {TEAM} written by the role: {managers(proj)}"


# --------------------------------------------------------------------------- 4. out-of-band changes
def test_out_of_band_change_to_a_git_managed_object_is_self_healed(loop):
    loop.kubectl("-n", ARGOCD_NAMESPACE, "patch", "configmap", "argocd-cm", "--type=merge",
                 "-p", json.dumps({"data": {"ui.bannercontent": "changed by hand"}}))
    loop.wait_for("self-heal restores argocd-cm", lambda: cm_data(loop, "argocd-cm").get("ui.bannercontent") == BANNER,
                  timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app="argocd")


def test_out_of_band_change_to_bootstrap_objects_is_repaired_by_the_role(loop):
    """The repository credential and the root application are the role's: a hand edit is put right by the next run."""
    secret = loop.get("secret", REPO_SECRET, ARGOCD_NAMESPACE)
    # A key of the credential that does not cut Argo CD off the repository while it is wrong.
    key = next(k for k in ("name", "project", "type") if k in secret["data"])
    root = loop.app(ROOT_APP)
    limit = root["spec"]["syncPolicy"]["retry"]["limit"]
    loop.kubectl("-n", ARGOCD_NAMESPACE, "patch", "secret", REPO_SECRET, "--type=merge", "-p", json.dumps({"stringData": {key: "by-hand"}}))
    loop.kubectl("-n", ARGOCD_NAMESPACE, "patch", "applications.argoproj.io", ROOT_APP, "--type=merge",
                 "-p", json.dumps({"spec": {"syncPolicy": {"retry": {"limit": limit + 3}}}}))
    res = play(loop, ROLE_TASKS)
    assert res.changed() >= 1, "the role did not repair its bootstrap objects"
    after = loop.get("secret", REPO_SECRET, ARGOCD_NAMESPACE)
    assert after["data"][key] == secret["data"][key], f"the repository credential's {key} was not put back"
    assert loop.app(ROOT_APP)["spec"]["syncPolicy"]["retry"]["limit"] == limit, "the root application was not put back"
    assert loop.app_synced_healthy(ROOT_APP) or loop.wait_for(
        "the root application Synced and Healthy", lambda: loop.app_synced_healthy(ROOT_APP), timeout=loop.reconcile_budget(), app=ROOT_APP)


# --------------------------------------------------------------------------- 5. the lock-down's wanted access through Git
# rbac_lockdown in repository mode: the read-only ClusterRole, the break-glass and developer bindings and the
# developers' key of argocd-rbac-cm are rendered into the repository and applied by Argo CD (Application access).
ACCESS_DIR = f"clusters/{CLUSTER}/access"
APPS_DIR = f"clusters/{CLUSTER}/apps"
ACCESS_APP = "access"
DEV_NS = "team-h-dev"
DEV_GROUP = "team-h-devs"
BREAK_GLASS_GROUP = "gitops-admins"
POLICY_KEY = "policy.gitops-developers.csv"
READONLY_ROLE = "gitops-readonly"
BREAK_GLASS_BINDING = "gitops-break-glass"
READONLY_BINDING = "gitops-developers-readonly"
INSTALL_TASK = "Argo CD is installed at the pinned version and flavour in namespace argocd"
HANDED_SYNC_TASK = "Argo CD applies once what was handed over to it, so its field manager owns every field Git holds"
KEPT_TASK = "Read-only ClusterRole, break-glass and developer bindings exist before any access is removed (Argo CD applies them from Git)"
INVENTORY["developer_groups"] = [{"name": DEV_GROUP, "namespaces": [DEV_NS], "argocd_projects": [TEAM]}]

LOCKDOWN_VARS = """
        rbac_lockdown_kubeconfig: "{{ kc }}"
        rbac_lockdown_mode: enforce
        rbac_lockdown_config_source: "{{ lockdown_source | default('repository') }}"
        rbac_lockdown_argocd_namespace: "{{ ns }}"
        rbac_lockdown_break_glass_groups: [gitops-admins]
        rbac_lockdown_developer_groups: "{{ inventory.developer_groups }}"
"""

# As play 1 of playbooks/bootstrap.yml: the lock-down's rendering joins Argo CD's configuration.
LOCKDOWN_RENDER = """
    - name: The access the RBAC lock-down wants to exist is rendered for the infra repository
      ansible.builtin.include_role:
        name: gitops.bootstrap.rbac_lockdown
        tasks_from: repository_config
      vars:
""" + LOCKDOWN_VARS + """
    - name: Argo CD's configuration carries the lock-down's policy key and access
      ansible.builtin.set_fact:
        argocd_repository_config: >-
          {{ argocd_repository_config | combine({'config_maps': {'argocd-rbac-cm': rbac_lockdown_repository_config.argocd_rbac_cm},
                                                 'access': rbac_lockdown_repository_config.access}, recursive=true) }}
"""
_INFRA_HEAD = "    - name: The infra repository holds the cluster's folder and Argo CD's configuration\n"
LOCKDOWN_REPOSITORY_TASKS = REPOSITORY_TASKS.replace(_INFRA_HEAD, LOCKDOWN_RENDER + _INFRA_HEAD)
LOCKDOWN_ROLE_TASKS = """
    - name: Direct write access is taken away from people
      ansible.builtin.include_role:
        name: gitops.bootstrap.rbac_lockdown
      vars:
""" + LOCKDOWN_VARS


def role_task(res, name: str) -> dict:
    """The result of a task of an included role (the json callback names it "<role> : <task>")."""
    for task in res.tasks():
        if task["task"]["name"] == name or task["task"]["name"].endswith(f" : {name}"):
            return task["hosts"].get("localhost", {})
    raise KeyError(f"no task named {name!r} in the run")


def access_objects(loop) -> dict[str, dict]:
    """The lock-down's wanted objects, with their managedFields, by kind/[namespace/]name."""
    out = {}
    for args in (["get", f"clusterrole/{READONLY_ROLE}", f"clusterrolebinding/{BREAK_GLASS_BINDING}"],
                 ["-n", DEV_NS, "get", f"rolebinding/{READONLY_BINDING}"]):
        proc = loop.kubectl(*args, "-o", "json", "--ignore-not-found", "--show-managed-fields")
        data = json.loads(proc.stdout) if proc.stdout.strip() else {"items": []}
        for item in data.get("items", []) if data.get("kind") == "List" else [data]:
            meta = item["metadata"]
            out["/".join(filter(None, [item["kind"], meta.get("namespace"), meta["name"]]))] = item
    return out


ACCESS_KEYS = {f"ClusterRole/{READONLY_ROLE}", f"ClusterRoleBinding/{BREAK_GLASS_BINDING}", f"RoleBinding/{DEV_NS}/{READONLY_BINDING}"}


def test_lockdown_access_arrives_through_a_commit_and_argocd_applies_it(loop):
    """Repository mode: what the lock-down wants to exist is committed and applied by Argo CD. A cluster the
    lock-down configured directly before (inventory mode) is handed over: nothing deleted, the role's entries gone."""
    if not loop.get("namespace", DEV_NS):
        loop.kubectl("create", "namespace", DEV_NS)
    # Before: the lock-down as the collection ran it until now, applying directly.
    direct = play(loop, LOCKDOWN_ROLE_TASKS, lockdown_source="inventory")
    objs = access_objects(loop)
    assert set(objs) == ACCESS_KEYS, sorted(objs)
    for name, obj in objs.items():
        assert managers(obj) == {ROLE_MANAGER}, f"{name}: {managers(obj)}"
    uids = {name: obj["metadata"]["uid"] for name, obj in objs.items()}
    key_managers = owners(live(loop, "configmap", "argocd-rbac-cm")).get(f"data.{POLICY_KEY}", set())
    assert any(m.startswith("gitops.bootstrap") for m in key_managers), key_managers
    print(f"lock-down in inventory mode: changed {changed_tasks(direct)}")

    loop.wc.pull()
    before = loop.wc.head()
    res = play(loop, LOCKDOWN_REPOSITORY_TASKS)
    infra = res.task_result(INFRA_TASK)
    assert infra["changed"] and infra["pushed"] and infra["clusters_changed"] == [CLUSTER], infra
    loop.wc.pull()
    changed_files = set(git("diff", "--name-only", before, infra["commit"], cwd=loop.wc.path).stdout.split())
    wanted = {f"{ACCESS_DIR}/access.yaml", f"{ACCESS_DIR}/kustomization.yaml", f"{APPS_DIR}/{ACCESS_APP}.yaml",
              f"{APPS_DIR}/kustomization.yaml", f"{ARGO_DIR}/argocd-rbac-cm.yaml"}
    assert wanted <= changed_files <= wanted | {".gitops/managed.yaml"}, changed_files
    items = read_yaml(loop, f"{ACCESS_DIR}/access.yaml")["items"]
    assert {"/".join(filter(None, [o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]])) for o in items} == ACCESS_KEYS
    key = read_yaml(loop, f"{ARGO_DIR}/argocd-rbac-cm.yaml")["data"][POLICY_KEY]
    assert f"g, {DEV_GROUP}, role:developer-{DEV_GROUP}" in key and f"{TEAM}/*" in key, key
    assert cm_data(loop, "argocd-rbac-cm")[POLICY_KEY] == key, "Git's key is not the text the lock-down wrote directly"

    # Argo CD applies the access folder (Application access, through the root one).
    wait_synced(loop, names=(ROOT_APP, ACCESS_APP, "argocd"), extra=SELF_SYNC_SLACK)
    for name, obj in access_objects(loop).items():
        assert ARGOCD_MANAGER in managers(obj), f"{name} is not applied by Argo CD: {managers(obj)}"

    # The role's run writes none of them (they exist: kept), nor the policy key: it hands them over.
    t0 = time.time()
    role = play(loop, ROLE_TASKS + LOCKDOWN_ROLE_TASKS)
    print(f"lock-down in repository mode (hand-over): {time.time() - t0:.1f}s, changed {changed_tasks(role)}")
    kept = role_task(role, KEPT_TASK)
    assert not kept["created"] and sorted(kept["handed_over"]) == sorted(
        f"{k.split('/')[0]} {'/'.join(k.split('/')[1:])}" for k in ACCESS_KEYS), kept
    key_task = role_task(role, "The developers' Argo CD policy key is left to Argo CD, which applies it from Git")
    assert key_task["handed_over"] == [f"ConfigMap {ARGOCD_NAMESPACE}/argocd-rbac-cm"], key_task

    def handed_over():
        objs = access_objects(loop)
        key_owners = owners(live(loop, "configmap", "argocd-rbac-cm")).get(f"data.{POLICY_KEY}")
        if key_owners != {ARGOCD_MANAGER} or any(managers(o) != {ARGOCD_MANAGER} for o in objs.values()):
            return None
        return objs
    objs = loop.wait_for("Argo CD alone owns the lock-down's objects and key after its sync", handed_over,
                         timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app="argocd")
    assert {name: obj["metadata"]["uid"] for name, obj in objs.items()} == uids, "an object was deleted or re-created"
    # Re-runs until changed=0. The sync the hand-over asked for applied the whole self-management Application,
    # so the Argo CD role may hand over its own entries of install objects Argo CD now manages: that, and its one
    # sync request after it, are the only changes allowed on the way; the lock-down changes nothing.
    runs = []
    for dummy in range(3):
        wait_synced(loop, names=(ROOT_APP, ACCESS_APP, "argocd"), extra=SELF_SYNC_SLACK)
        again = play(loop, LOCKDOWN_REPOSITORY_TASKS + ROLE_TASKS + LOCKDOWN_ROLE_TASKS)
        runs.append(changed_tasks(again))
        if not runs[-1]:
            break
        install = role_task(again, INSTALL_TASK)
        assert all(t.endswith((f" : {INSTALL_TASK}", f" : {HANDED_SYNC_TASK}")) for t in runs[-1]), runs
        assert {k: v for k, v in install["summary"].items() if k not in ("unchanged", "hand over") and v} == {}, install["summary"]
    print(f"re-runs after the lock-down's hand-over until changed=0: {runs}")
    assert not runs[-1], f"the re-runs kept changing: {runs}"
    for name, obj in access_objects(loop).items():
        assert managers(obj) == {ARGOCD_MANAGER}, f"{name} written by the role: {managers(obj)}"


def test_changed_developer_group_is_a_commit_not_a_direct_write(loop):
    """A second developer group in the inventory: the run commits the RoleBinding's new subject and the policy
    line; the role writes neither, and Argo CD applies them."""
    INVENTORY["developer_groups"].append({"name": "team-h-reviewers", "namespaces": [DEV_NS], "argocd_projects": [TEAM]})
    loop.wc.pull()
    before = loop.wc.head()
    res = play(loop, LOCKDOWN_REPOSITORY_TASKS + ROLE_TASKS + LOCKDOWN_ROLE_TASKS)
    infra = res.task_result(INFRA_TASK)
    assert changed_tasks(res) == [INFRA_TASK], f"tasks other than the repository's changed: {changed_tasks(res)}"
    assert infra["pushed"] and infra["clusters_changed"] == [CLUSTER], infra
    loop.wc.pull()
    changed_files = set(git("diff", "--name-only", before, infra["commit"], cwd=loop.wc.path).stdout.split())
    wanted = {f"{ACCESS_DIR}/access.yaml", f"{ARGO_DIR}/argocd-rbac-cm.yaml"}
    assert wanted <= changed_files <= wanted | {".gitops/managed.yaml"}, changed_files

    def applied():
        rb = access_objects(loop).get(f"RoleBinding/{DEV_NS}/{READONLY_BINDING}") or {}
        if "team-h-reviewers" not in [s["name"] for s in rb.get("subjects") or []]:
            return None
        if "g, team-h-reviewers, role:developer-team-h-reviewers" not in cm_data(loop, "argocd-rbac-cm").get(POLICY_KEY, ""):
            return None
        return rb
    rb = loop.wait_for("Argo CD applied the new developer group", applied, timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app=ACCESS_APP)
    assert managers(rb) == {ARGOCD_MANAGER}, managers(rb)
    assert owners(live(loop, "configmap", "argocd-rbac-cm"))[f"data.{POLICY_KEY}"] == {ARGOCD_MANAGER}


# --------------------------------------------------------------------------- 6. an Application that does not self-heal
MANUAL_APP = "manual-sync"
MANUAL_DIR = f"clusters/{CLUSTER}/manual"
MANUAL_CM = "manual-sync-probe"


def test_out_of_sync_application_without_self_heal_is_synced_on_the_role_s_request(loop):
    """The reconcile step asks Argo CD to sync an OutOfSync Application that does not self-heal; Argo CD does."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MANUAL_CM, "namespace": DEV_NS}, "data": {"probe": "1"}}
    commit_and_push(loop, "manual: a folder synced only on request", {
        f"{MANUAL_DIR}/configmap.yaml": "---\n" + yaml.safe_dump(cm, sort_keys=False)})
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": MANUAL_APP, "namespace": ARGOCD_NAMESPACE},
           "spec": {"project": "platform", "source": {"repoURL": loop.repo_url, "targetRevision": "main", "path": MANUAL_DIR},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": DEV_NS}}}
    loop.kubectl("apply", "-f", "-", input_text=json.dumps(app))
    try:
        loop.wait_for(f"Application {MANUAL_APP} compared OutOfSync",
                      lambda: ((loop.app(MANUAL_APP) or {}).get("status") or {}).get("sync", {}).get("status") == "OutOfSync",
                      timeout=loop.reconcile_budget() + 60, app=MANUAL_APP)
        assert not loop.get("configmap", MANUAL_CM, DEV_NS), "synced before anyone asked"
        res = play(loop, ROLE_TASKS)
        asked = "Applications that differ from the repository and do not self-heal are synced by Argo CD"
        assert any(t.endswith(f" : {asked}") for t in changed_tasks(res)), changed_tasks(res)

        def synced():
            status = (loop.app(MANUAL_APP) or {}).get("status") or {}
            op = status.get("operationState") or {}
            if op.get("phase") != "Succeeded" or status.get("sync", {}).get("status") != "Synced":
                return None
            return op
        op = loop.wait_for(f"Argo CD synced {MANUAL_APP} on the role's request", synced, timeout=loop.reconcile_budget() + 60, app=MANUAL_APP)
        assert op["operation"]["initiatedBy"]["username"] == "gitops.bootstrap", op["operation"]
        assert loop.get("configmap", MANUAL_CM, DEV_NS)["data"] == {"probe": "1"}
    finally:
        loop.kubectl("-n", ARGOCD_NAMESPACE, "delete", "applications.argoproj.io", MANUAL_APP, "--ignore-not-found", "--wait=false")
        loop.kubectl("-n", DEV_NS, "delete", "configmap", MANUAL_CM, "--ignore-not-found")


# --------------------------------------------------------------------------- 7. the agent with least privilege
CONTROLLER = f"system:serviceaccount:{ARGOCD_NAMESPACE}:argocd-application-controller"
READ_ONLY = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}, {"nonResourceURLs": ["*"], "verbs": ["get"]}]


def can_i(loop, *args: str, who: str = CONTROLLER) -> str:
    return loop.kubectl("auth", "can-i", *args, f"--as={who}", check=False).stdout.strip()


def controller_rules(loop):
    return (loop.get("clusterrole", "argocd-application-controller") or {}).get("rules")


def run_with_new_argocd_files(loop):
    """The repository step and the role, as the migration runs them: the argocd folder's kustomization is the
    scaffold's while infra_repo writes (so that it may list new files), the offline install line right after."""
    rel = f"{ARGO_DIR}/kustomization.yaml"
    url = upstream_install_url(loop)
    loop.wc.pull()
    commit_and_push(loop, "argocd: the scaffold's kustomization", {rel: LOCAL_INSTALL.sub(rf"\g<1>{url}", loop.wc.read(rel))})
    play(loop, REPOSITORY_TASKS)
    loop.wc.pull()
    commit_and_push(loop, "argocd: installed from a copy of the upstream manifest", {rel: offline_install(loop, loop.wc.read(rel))})
    play(loop, ROLE_TASKS)
    loop.wc.pull()


def test_team_identities_come_through_git_and_the_controller_keeps_reading_only_when_syncs_are_enforced(loop):
    """Repository mode: the team project's sync identity is committed and applied by Argo CD; with impersonation
    enforced, Git also holds the controller's ClusterRole reduced to reading, which Argo CD applies to itself, and
    every write of a sync goes through an impersonated account. Turned off again, upstream's ClusterRole is back."""
    team_account = f"argocd-sync-{TEAM}-{DEV_NS}"
    loop.wc.pull()
    identities = read_yaml(loop, f"clusters/{CLUSTER}/sync-identities/identities.yaml")
    assert ("ServiceAccount", team_account) in [(o["kind"], o["metadata"]["name"]) for o in identities["items"]]
    sa = loop.wait_for(f"ServiceAccount {team_account} applied by Argo CD",
                       lambda: loop.get("serviceaccount", team_account, ARGOCD_NAMESPACE), timeout=loop.reconcile_budget() + 60,
                       app="sync-identities")
    assert sa["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].startswith("sync-identities:"), sa["metadata"]
    assert can_i(loop, "create", "configmaps", "-n", DEV_NS) == "yes", "upstream's ClusterRole writes everywhere"

    INVENTORY["enforced"] = True
    try:
        run_with_new_argocd_files(loop)
        assert read_yaml(loop, f"{ARGO_DIR}/clusterrole.yaml")["rules"] == READ_ONLY
        assert {"path": "clusterrole.yaml"} in read_yaml(loop, f"{ARGO_DIR}/kustomization.yaml")["patches"]
        loop.wait_for("the controller's ClusterRole reduced by Argo CD's own sync", lambda: controller_rules(loop) == READ_ONLY,
                      timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app="argocd")
        for args, expected in ((["create", "configmaps", "-n", DEV_NS], "no"), (["delete", "deployments", "-n", ARGOCD_NAMESPACE], "no"),
                               (["create", "clusterroles"], "no"), (["list", "secrets", "-A"], "yes"),
                               (["impersonate", "serviceaccounts/argocd-sync-platform", "-n", ARGOCD_NAMESPACE], "yes"),
                               (["impersonate", f"serviceaccounts/{team_account}", "-n", ARGOCD_NAMESPACE], "yes"),
                               (["impersonate", "serviceaccounts/argocd-server", "-n", ARGOCD_NAMESPACE], "no")):
            assert can_i(loop, *args) == expected, (args, expected)
        # The scaffold's apps project names an account per application once syncs are enforced: its Application
        # self-heals through it.
        apps = read_yaml(loop, f"{PROJECTS_DIR}/apps.yaml")
        assert {"server": "https://kubernetes.default.svc", "namespace": APP,
                "defaultServiceAccount": f"{ARGOCD_NAMESPACE}:argocd-sync-apps-{APP}"} in apps["spec"]["destinationServiceAccounts"]
        loop.wait_for(f"ServiceAccount argocd-sync-apps-{APP} applied by Argo CD",
                      lambda: loop.get("serviceaccount", f"argocd-sync-apps-{APP}", ARGOCD_NAMESPACE),
                      timeout=loop.reconcile_budget() + 60, app="sync-identities")
        assert can_i(loop, "create", "deployments", "-n", APP, who=f"system:serviceaccount:{ARGOCD_NAMESPACE}:argocd-sync-apps-{APP}") == "yes"
        loop.kubectl("-n", APP, "scale", "deployment", APP, "--replicas=3")
        loop.wait_for(f"Application {APP} heals its Deployment as its own account",
                      lambda: (loop.get("deployment", APP, APP) or {}).get("spec", {}).get("replicas") != 3,
                      timeout=loop.reconcile_budget() + 60, app=APP)
        # Writes still happen, as the platform identity: an out-of-band change to a Git-managed object is healed.
        loop.kubectl("-n", ARGOCD_NAMESPACE, "patch", "appprojects.argoproj.io", TEAM, "--type=merge",
                     "-p", '{"spec": {"description": "changed by hand"}}')
        loop.wait_for("the root application heals the AppProject through the platform identity",
                      lambda: loop.get("appprojects.argoproj.io", TEAM, ARGOCD_NAMESPACE)["spec"]["description"] != "changed by hand",
                      timeout=loop.reconcile_budget() + 60, app="root")
        runs = []
        for dummy in range(3):
            runs.append(changed_tasks(play(loop, REPOSITORY_TASKS + ROLE_TASKS)))
            if not runs[-1]:
                break
        assert not runs[-1], f"the runs with the reduced controller kept changing: {runs}"
    finally:
        INVENTORY["enforced"] = False
        run_with_new_argocd_files(loop)
    loop.wait_for("upstream's ClusterRole back after the patch left Git", lambda: controller_rules(loop) != READ_ONLY,
                  timeout=loop.reconcile_budget() + SELF_SYNC_SLACK, app="argocd")
    assert can_i(loop, "create", "configmaps", "-n", DEV_NS) == "yes"
    wait_synced(loop)
