# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Promotion through environments, end to end: a real Gitea, the real Argo CD controllers, a local cluster.

Two environments on one Argo CD: the infra repository holds the cluster folders ``dev`` (environment
dev) and ``staging`` (environment staging); both are served by the Argo CD of the pull loop
(pullloop_env.shared_pull_loop: local cluster, controllers as host processes), whose Applications
``shop-dev`` and ``shop-staging`` (the files ``clusters/<c>/apps/shop.yaml``) sync the overlays
into the namespaces shop-dev and shop-staging. Each test runs ``playbooks/promote.yml``, the entry
point a person or a pipeline calls. The tests run in file order and build on each other's state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pullloop_env import ARGOCD_NAMESPACE, IN_CLUSTER, ROOT, acd, shared_pull_loop  # noqa: E402
from pullloop_servers import ForgeRepo  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold  # noqa: E402

SHARED_PULL_LOOP = True
CACHE = os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.expanduser("~/.cache/gitops-bootstrap"))
KUSTOMIZE = os.path.join(CACHE, "bin", "kustomize-v5.8.1", "kustomize")
PLAYBOOK = os.path.join(ROOT, "playbooks", "promote.yml")
APP = "shop"
ENVS = ("dev", "staging")
OVERLAY = "apps/shop/overlays/{}/kustomization.yaml"

pytestmark = pytest.mark.skipif(
    not os.path.exists(acd.argocd_bin()),
    reason=f"the Argo CD binaries are not built ({acd.argocd_bin()}); run `make argocd-binaries`",
)

APPS_PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/gitops.bootstrap.gitops:
      kubeconfig: "{{ kc }}"
  tasks:
    - name: Argo CD reads the forge repository with the read-only deploy key
      gitops.bootstrap.argocd_repository:
        name: promote
        namespace: "{{ ns }}"
        url: "{{ url }}"
        ssh_private_key: "{{ key }}"
        known_hosts: "{{ known_hosts }}"
    - name: The project allows the repository into the namespaces of both environments
      gitops.bootstrap.argocd_project:
        name: promote
        namespace: "{{ ns }}"
        source_repos: ["{{ url }}"]
        destinations: "{{ destinations }}"
        cluster_resource_whitelist: []
    - name: The Application of each environment syncs its overlay from main
      gitops.bootstrap.argocd_application:
        name: "shop-{{ item }}"
        namespace: "{{ ns }}"
        project: promote
        repo_url: "{{ url }}"
        path: "apps/shop/overlays/{{ item }}"
        target_revision: main
        destination_namespace: "shop-{{ item }}"
        finalizer: false
        sync_policy:
          automated: true
          prune: true
        wait: true
        wait_timeout: 240
      loop: "{{ envs }}"
"""


def scaffold(url: str) -> dict[str, str]:
    """The infra repository: cluster folders dev and staging, app shop; each environment's overlay in
    its own namespace and each cluster's Application named for its environment (one Argo CD serves both)."""
    files: dict[str, str] = {}
    for env in ENVS:
        files.update(_scaffold.render_files({"cluster": env, "cluster_environment": env, "repo_url": url, "pipeline": "gitea",
                                             "apps": [{"name": APP, "image": "nginx", "tag": "1.25-alpine"}]}))
    for env in ("dev", "staging", "prod"):
        path = OVERLAY.format(env)
        files[path] = files[path].replace(f"namespace: {APP}\n", f"namespace: {APP}-{env}\n", 1)
    for env in ENVS:
        path = f"clusters/{env}/apps/{APP}.yaml"
        doc = yaml.safe_load(files[path])
        doc["metadata"]["name"] = f"{APP}-{env}"
        files[path] = "---\n" + yaml.safe_dump(doc, sort_keys=False)
    return files


@pytest.fixture(scope="module")
def loop(request):
    return shared_pull_loop(request)


@pytest.fixture(scope="module")
def infra(forge, tmp_path_factory):
    """The infra repository on the forge, and a working copy of it that pushes over HTTP as the platform user."""
    work = tmp_path_factory.mktemp("promote")
    repo = ForgeRepo(forge, forge.unique("promote"), str(work / "keys")).create()
    wc = str(work / "infra")
    os.makedirs(wc)
    for path, text in scaffold(repo.url).items():
        os.makedirs(os.path.dirname(os.path.join(wc, path)), exist_ok=True)
        with open(os.path.join(wc, path), "w", encoding="utf-8") as f:
            f.write(text)
    forge.git(forge.platform, "init", "-q", "-b", "main", cwd=wc)
    forge.git(forge.platform, "add", "-A", cwd=wc)
    forge.git(forge.platform, "commit", "-q", "-m", "scaffold", cwd=wc)
    forge.git(forge.platform, "push", "-q", forge.git_url(repo.full_name), "main", cwd=wc)
    fetch(forge, repo, wc)
    return {"forge": forge, "repo": repo, "wc": wc, "work": work}


@pytest.fixture(scope="module")
def deployed(infra, loop):
    """Both environments' Applications on the pull loop's Argo CD, Synced and Healthy."""
    forge, repo = infra["forge"], infra["repo"]
    forge.add_deploy_key(repo.full_name, "argocd", repo.argocd_pub, read_only=True)
    for env in ENVS:
        made = loop.kubectl("create", "namespace", f"{APP}-{env}", check=False)
        assert made.returncode == 0 or "AlreadyExists" in made.stderr, made.stderr
    loop.play(APPS_PLAY, {"url": repo.url, "key": repo.argocd_key, "known_hosts": [repo.known_hosts_line()],
                          "envs": list(ENVS), "destinations": [{"server": IN_CLUSTER, "namespace": f"{APP}-{env}"} for env in ENVS]})
    head = repo.head()
    for env in ENVS:
        wait_app(loop, f"{APP}-{env}", lambda a, h=head: synced_healthy(a, h))
    return infra


def fetch(forge, repo, wc):
    forge.git(forge.platform, "fetch", "-q", forge.git_url(repo.full_name), "+refs/heads/*:refs/remotes/origin/*", cwd=wc)


def push_change(infra, path, edit, message):
    """A change of PATH straight on main (the harness's shortcut for a merged pull request); return its commit."""
    forge, repo, wc = infra["forge"], infra["repo"], infra["wc"]
    fetch(forge, repo, wc)
    forge.git(forge.platform, "checkout", "-q", "-B", "main", "origin/main", cwd=wc)
    full = os.path.join(wc, path)
    with open(full, encoding="utf-8") as f:
        text = f.read()
    with open(full, "w", encoding="utf-8") as f:
        f.write(edit(text))
    forge.git(forge.platform, "commit", "-q", "-am", message, cwd=wc)
    forge.git(forge.platform, "push", "-q", forge.git_url(repo.full_name), "main", cwd=wc)
    fetch(forge, repo, wc)
    return forge.git(forge.platform, "rev-parse", "HEAD", cwd=wc).stdout.strip()


def synced_healthy(app, revision):
    st = (app or {}).get("status") or {}
    return ((st.get("sync") or {}).get("status") == "Synced" and (st.get("health") or {}).get("status") == "Healthy"
            and (st.get("sync") or {}).get("revision") == revision)


def wait_app(loop, name, predicate, timeout=150):
    """Ask Argo CD to refresh NAME now (no wait for its poll), then wait for PREDICATE on its status."""
    loop.kubectl("-n", ARGOCD_NAMESPACE, "annotate", "--overwrite", "applications.argoproj.io", name,
                 "argocd.argoproj.io/refresh=normal", check=False)
    return loop.wait_for(f"Application {name}", lambda: predicate(loop.app(name)), timeout, interval=2.0, app=name)


def run_promote(infra, kubeconfig, tmp_path, *args, **extra_vars):
    forge, repo = infra["forge"], infra["repo"]
    token_file = tmp_path / "forge.json"
    token_file.write_text(json.dumps({"gitops_forge_token": forge.platform.token}))
    token_file.chmod(0o600)
    ev = {"gitops_promote_repo": infra["wc"], "gitops_promote_application": APP, "gitops_promote_source": "dev",
          "gitops_promote_kustomize": KUSTOMIZE, "gitops_forge": "gitea", "gitops_forge_api_url": forge.api_url,
          "gitops_forge_owner": repo.owner, "gitops_forge_repository": repo.name}
    if kubeconfig:
        ev["gitops_promote_kubeconfigs"] = {"dev": kubeconfig}
    ev.update(extra_vars)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    proc = subprocess.run(["ansible-playbook", PLAYBOOK, *args, "-e", json.dumps(ev), "-e", f"@{token_file}"], cwd=ROOT, env=env,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert forge.platform.token not in proc.stdout
    return proc


def pulls(infra, state="all"):
    forge, repo = infra["forge"], infra["repo"]
    return forge.client(forge.platform.token).get(f"/repos/{repo.full_name}/pulls", query={"state": state})


def live_image(loop, env):
    dep = loop.get("deployment", APP, f"{APP}-{env}") or {}
    return [c["image"] for c in dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])]


@pytest.mark.parametrize("extra, expect", [
    ({"gitops_promote_application": "basket"}, "unknown application 'basket': the repository has shop under apps/"),
    ({"gitops_promote_source": "qa"}, "unknown source environment 'qa': the promotion order of .gitops/validate.yaml is "
                                      "dev -> staging -> prod"),
    ({"gitops_promote_source": "prod"}, "prod is the last environment of the promotion order (dev -> staging -> prod): "
                                        "there is nothing to promote it to"),
    ({"gitops_promote_target": "prod"}, "prod does not follow dev in the promotion order (dev -> staging -> prod): promote dev to staging"),
    ({"gitops_promote_kubeconfigs": {"qa1": "/nonexistent"}}, "kubeconfigs: unknown cluster(s) 'qa1': the repository has dev, staging"),
])
def test_bad_input_is_refused_before_anything_is_done(infra, tmp_path, extra, expect):
    proc = run_promote(infra, None, tmp_path, **extra)
    assert proc.returncode != 0 and expect in proc.stdout, proc.stdout[-3000:]
    assert pulls(infra) == []


def test_compare_reports_what_dev_runs_that_staging_does_not(infra, tmp_path):
    push_change(infra, OVERLAY.format("dev"), lambda t: t.replace('newTag: "1.25-alpine"', 'newTag: "1.27-alpine"'), "dev runs 1.27")
    proc = run_promote(infra, None, tmp_path, gitops_promote_compare_only=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "image app newTag: 1.25-alpine -> 1.27-alpine" in proc.stdout
    assert "namespace: shop-staging -> shop-dev (kept: staging sets it)" in proc.stdout
    assert pulls(infra) == []


def test_promotion_opens_a_pull_request_and_after_its_merge_staging_runs_what_dev_ran(deployed, loop, tmp_path):
    infra = deployed
    forge, repo = infra["forge"], infra["repo"]
    head = repo.head()
    wait_app(loop, f"{APP}-dev", lambda a: synced_healthy(a, head))
    assert live_image(loop, "dev") == ["nginx:1.27-alpine"] and live_image(loop, "staging") == ["nginx:1.25-alpine"]

    # Check mode (with diff) says what would change and changes nothing on the forge.
    checked = run_promote(infra, loop.kubeconfig, tmp_path, "--check", "--diff")
    assert checked.returncode == 0 and "changed=1" in checked.stdout, checked.stdout[-4000:]
    assert '-    newTag: 1.25-alpine' in checked.stdout.replace('"', '') and '+    newTag: 1.27-alpine' in checked.stdout.replace('"', '')
    assert pulls(infra) == []
    assert forge.git(forge.platform, "ls-remote", forge.git_url(repo.full_name), "refs/heads/promote/shop-staging",
                     cwd=infra["wc"]).stdout.strip() == ""

    proc = run_promote(infra, loop.kubeconfig, tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:]
    open_prs = pulls(infra, "open")
    assert len(open_prs) == 1, open_prs
    pr = open_prs[0]
    assert (pr["head"]["ref"], pr["base"]["ref"], pr["title"]) == ("promote/shop-staging", "main", "Promote shop from dev to staging")
    body = pr["body"]
    assert f"Application `argocd/{APP}-dev` Synced and Healthy at `{head[:12]}`" in body
    assert "image app newTag: `1.25-alpine` -> `1.27-alpine`" in body
    assert "### The plan of staging" in body and f"Deployment.apps {APP}-staging/{APP}" in body
    # The pull request changes the staging overlay, and in it only the pin.
    files = forge.client(forge.platform.token).get(f"/repos/{repo.full_name}/pulls/{pr['number']}/files")
    assert [f["filename"] for f in files] == [OVERLAY.format("staging")]
    wc = infra["wc"]
    fetch(forge, repo, wc)
    promoted = yaml.safe_load(forge.git(forge.platform, "show", f"origin/promote/shop-staging:{OVERLAY.format('staging')}", cwd=wc).stdout)
    before = yaml.safe_load(forge.git(forge.platform, "show", f"origin/main:{OVERLAY.format('staging')}", cwd=wc).stdout)
    assert promoted["images"] == [{"name": "app", "newName": "nginx", "newTag": "1.27-alpine"}]
    assert {k: v for k, v in promoted.items() if k != "images"} == {k: v for k, v in before.items() if k != "images"}

    # The same promotion again: nothing pushed, the pull request as it was.
    again = run_promote(infra, loop.kubeconfig, tmp_path)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
    assert [(p["number"], p["updated_at"]) for p in pulls(infra, "open")] == [(pr["number"], pr["updated_at"])]

    forge.merge_pull(repo.full_name, pr["number"], as_user=forge.platform)
    merged = repo.head()
    wait_app(loop, f"{APP}-staging", lambda a: synced_healthy(a, merged))
    loop.wait_for("staging runs dev's image", lambda: live_image(loop, "staging") == live_image(loop, "dev"), 60)
    assert live_image(loop, "staging") == ["nginx:1.27-alpine"]


def degraded(app):
    return ((app or {}).get("status") or {}).get("health", {}).get("status") == "Degraded"


def test_promotion_from_a_degraded_source_is_refused_with_the_applications_reason(deployed, loop, tmp_path):
    infra = deployed
    # A dev change whose pods cannot be scheduled, with a short progress deadline: Argo CD calls it Degraded.
    patch = ("patches:\n  - target:\n      kind: Deployment\n    patch: |-\n"
             "      - op: add\n        path: /spec/progressDeadlineSeconds\n        value: 5\n"
             "      - op: add\n        path: /spec/template/spec/nodeSelector\n        value: {promote-test: nowhere}\n")
    push_change(infra, OVERLAY.format("dev"), lambda t: t.replace('newTag: "1.27-alpine"', 'newTag: "1.28-alpine"') + patch,
                "dev runs 1.28, unschedulable")
    wait_app(loop, f"{APP}-dev", degraded, timeout=180)
    before = infra["repo"].head("promote/shop-staging")
    proc = run_promote(infra, loop.kubeconfig, tmp_path)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert f"shop is not promoted from dev: Application argocd/{APP}-dev (cluster dev) is Synced and Degraded" in proc.stdout
    # Argo CD 3 keeps no resource health in the Application: the reason is completed with what the
    # Deployment's own conditions say (the progress deadline its health check reads).
    assert f"its resources say: Deployment {APP}-dev/{APP}: Progressing is False (ProgressDeadlineExceeded)" in proc.stdout, \
        proc.stdout[-3000:]
    assert infra["repo"].head("promote/shop-staging") == before and pulls(infra, "open") == []


def test_promotion_from_an_out_of_sync_source_is_refused_with_the_applications_reason(deployed, loop, tmp_path):
    infra = deployed
    loop.kubectl("-n", ARGOCD_NAMESPACE, "patch", "applications.argoproj.io", f"{APP}-dev", "--type=json",
                 "-p", '[{"op": "remove", "path": "/spec/syncPolicy/automated"}]')
    push_change(infra, OVERLAY.format("dev"), lambda t: t[:t.index("patches:")], "dev schedulable again")
    wait_app(loop, f"{APP}-dev", lambda a: ((a or {}).get("status") or {}).get("sync", {}).get("status") == "OutOfSync")
    proc = run_promote(infra, loop.kubeconfig, tmp_path)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert f"shop is not promoted from dev: Application argocd/{APP}-dev (cluster dev) is OutOfSync" in proc.stdout
    assert f"Deployment.apps {APP}-dev/{APP} (OutOfSync)" in proc.stdout or "resource(s) not synced" in proc.stdout, proc.stdout[-3000:]
    assert pulls(infra, "open") == []
