# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a pull request, end to end: a real Gitea on loopback, a local cluster for the dry run.

No Actions or Jenkins runner runs here: each test runs what the generated pipelines run,
``ansible-playbook playbooks/plan.yml`` with the pull request's numbers, the entry point every
pipeline calls. The cluster (``$PLAN_TEST_CLUSTER``, default ``plan1``) carries a
ValidatingAdmissionPolicy that refuses Deployments of more than five replicas, so that an
admission refusal shows in the plan.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, kubectl, start_local_cluster

sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold  # noqa: E402

CACHE = os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.expanduser("~/.cache/gitops-bootstrap"))
KUSTOMIZE = os.path.join(CACHE, "bin", "kustomize-v5.8.1", "kustomize")
PLAYBOOK = os.path.join(ROOT, "playbooks", "plan.yml")
MARKER = "<!-- gitops-plan -->"

POLICY = """
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: plan-test-max-replicas
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "!has(object.spec.replicas) || object.spec.replicas <= 5"
      message: "more than 5 replicas are refused in this cluster"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: plan-test-max-replicas
spec:
  policyName: plan-test-max-replicas
  validationActions: ["Deny"]
"""


@pytest.fixture(scope="module")
def cluster():
    kc = start_local_cluster(os.environ.get("PLAN_TEST_CLUSTER", "plan1"))
    kubectl(kc, "apply", "-f", "-", input_text=POLICY)
    kubectl(kc, "apply", "-f", "-", input_text="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
    return kc


@pytest.fixture(scope="module")
def infra(forge, tmp_path_factory):
    """A scaffolded infra repository (cluster dev, app web) on the forge, and a working copy of it."""
    org = forge.create_org()
    repo = forge.create_repo(org, "infra", auto_init=False)
    wc = str(tmp_path_factory.mktemp("plan") / "infra")
    os.makedirs(wc)
    files = _scaffold.render_files({"cluster": "dev", "repo_url": forge.git_url(repo), "apps": ["web"], "pipeline": "gitea"})
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(wc, path)) or wc, exist_ok=True)
        with open(os.path.join(wc, path), "w", encoding="utf-8") as f:
            f.write(text)
    forge.git(forge.platform, "init", "-q", "-b", "main", cwd=wc)
    forge.git(forge.platform, "add", "-A", cwd=wc)
    forge.git(forge.platform, "commit", "-q", "-m", "scaffold", cwd=wc)
    forge.git(forge.platform, "push", "-q", forge.git_url(repo), "main", cwd=wc)
    forge.git(forge.platform, "fetch", "-q", forge.git_url(repo), "+main:refs/remotes/origin/main", cwd=wc)
    return {"org": org, "repo": repo, "wc": wc, "forge": forge}


def pull_request(infra, branch, edits):
    """Push BRANCH (from main) with EDITS (path: function of the old text) and open its pull request."""
    forge, wc = infra["forge"], infra["wc"]
    forge.git(forge.platform, "checkout", "-q", "-B", branch, "origin/main", cwd=wc)
    for path, edit in edits.items():
        full = os.path.join(wc, path)
        with open(full, encoding="utf-8") as f:
            text = f.read()
        with open(full, "w", encoding="utf-8") as f:
            f.write(edit(text))
    forge.git(forge.platform, "commit", "-q", "-am", f"change {branch}", cwd=wc)
    forge.git(forge.platform, "push", "-q", forge.git_url(infra["repo"]), branch, cwd=wc)
    sha = forge.git(forge.platform, "rev-parse", "HEAD", cwd=wc).stdout.strip()
    pr = forge.open_pull(infra["repo"], branch, as_user=forge.platform, title=f"change {branch}")
    return pr["number"], sha


def run_plan(infra, number, kubeconfigs, tmp_path, base="origin/main", head="HEAD"):
    forge = infra["forge"]
    report = str(tmp_path / "plan")
    extra = {"gitops_plan_repo": infra["wc"], "gitops_plan_base": base, "gitops_plan_head": head,
             "gitops_plan_kustomize": KUSTOMIZE, "gitops_plan_kubeconfigs": kubeconfigs}
    if number is not None:
        extra.update(gitops_plan_pull_request=number, gitops_forge="gitea", gitops_forge_api_url=forge.api_url,
                     gitops_forge_token=forge.platform.token, gitops_forge_owner=infra["org"],
                     gitops_forge_repository="infra")
    env = dict(os.environ, GITOPS_PLAN_REPORT=report, ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible-playbook", PLAYBOOK, "-e", json.dumps(extra)], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert forge.platform.token not in proc.stdout
    plan = None
    if os.path.exists(report + ".json"):
        with open(report + ".json", encoding="utf-8") as f:
            plan = json.load(f)
    return proc, plan


def comments(infra, number):
    return [c for c in infra["forge"].client(infra["forge"].platform.token).get(f"/repos/{infra['repo']}/issues/{number}/comments")
            if MARKER in c["body"]]


def status(infra, sha):
    data = infra["forge"].client(infra["forge"].platform.token).get(f"/repos/{infra['repo']}/commits/{sha}/statuses")
    return [s for s in data if s["context"] == "gitops/plan"]


def test_dev_overlay_change_plans_exactly_its_objects_green_and_one_comment(infra, cluster, tmp_path):
    number, sha = pull_request(infra, "more-replicas", {
        "apps/web/overlays/dev/kustomization.yaml": lambda t: t.replace("count: 1", "count: 3")})
    proc, plan = run_plan(infra, number, {"dev": cluster}, tmp_path)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "the change alters 1 cluster(s): dev (0 to create, 1 to change, 0 to delete)" in proc.stdout
    objs = plan["clusters"]["dev"]["objects"]
    assert [(o["action"], o["object"], o["fields"]) for o in objs] == [
        ("change", "Deployment.apps web/web", [{"field": "spec.replicas", "before": 1, "after": 3}])]
    assert plan["clusters"]["dev"]["dry_run"] == {"ran": True, "checked": 1, "refused": [], "skipped": []}
    found = comments(infra, number)
    assert len(found) == 1 and "Deployment.apps web/web" in found[0]["body"] and "`spec.replicas`: `1` -> `3`" in found[0]["body"]
    st = status(infra, sha)
    assert st and st[0]["status"] == "success", st
    # Nothing was written to the cluster: the dry run only.
    assert kubectl(cluster, "-n", "web", "get", "deployment", "web", check=False).returncode != 0

    # The same pull request planned again: the same comment, untouched; no second status.
    proc, _plan = run_plan(infra, number, {"dev": cluster}, tmp_path)
    assert proc.returncode == 2
    again = comments(infra, number)
    assert [(c["id"], c["updated_at"]) for c in again] == [(found[0]["id"], found[0]["updated_at"])]
    assert len(status(infra, sha)) == len(st)


def test_schema_error_and_admission_refusal_turn_the_status_red_and_name_the_file(infra, cluster, tmp_path):
    number, sha = pull_request(infra, "broken-schema", {
        "apps/web/base/deployment.yaml": lambda t: t.replace("containerPort: 8080", "containerPort: eighty")})
    proc, plan = run_plan(infra, number, {"dev": cluster}, tmp_path)
    # An error exits 1, not 2 (the status of "something changes"), and says why.
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "the plan could not be made: the plan found 1 error(s): apps/web/base/deployment.yaml (dev)" in proc.stdout
    assert plan["status"] == "failure"
    assert [e["file"] for e in plan["errors"]] == ["apps/web/base/deployment.yaml"], plan["errors"]
    assert "containerPort" in plan["errors"][0]["message"]
    st = status(infra, sha)
    assert st[0]["status"] == "failure" and "apps/web/base/deployment.yaml" in st[0]["description"]
    assert "apps/web/base/deployment.yaml" in comments(infra, number)[0]["body"]
    # The branch protection requires the plan's check: the forge refuses to merge the red pull request.
    infra["forge"].protect_branch(infra["repo"], "main", enable_push=True, enable_status_check=True,
                                  status_check_contexts=["gitops/plan"])
    refused = infra["forge"].merge_pull(infra["repo"], number, as_user=infra["forge"].platform, check=False)
    assert refused.status == 405, (refused.status, refused.data)

    number, sha = pull_request(infra, "too-many", {
        "apps/web/overlays/dev/kustomization.yaml": lambda t: t.replace("count: 1", "count: 9")})
    proc, plan = run_plan(infra, number, {"dev": cluster}, tmp_path)
    assert proc.returncode == 1 and plan["status"] == "failure"
    refused = plan["clusters"]["dev"]["dry_run"]["refused"]
    assert len(refused) == 1 and "more than 5 replicas are refused" in refused[0]["message"], refused
    assert refused[0]["file"] == "apps/web/base/deployment.yaml"
    assert status(infra, sha)[0]["status"] == "failure"


def test_unreachable_cluster_keeps_the_render_diff(infra, tmp_path):
    wc = infra["wc"]
    forge = infra["forge"]
    forge.git(forge.platform, "checkout", "-q", "-B", "unreachable", "origin/main", cwd=wc)
    path = os.path.join(wc, "apps/web/overlays/dev/kustomization.yaml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(re.sub(r'newTag: ".*"', 'newTag: "1.29-alpine"', text))
    forge.git(forge.platform, "commit", "-q", "-am", "tag", cwd=wc)
    kc = tmp_path / "dead.kubeconfig"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: d\n  cluster:\n    server: https://127.0.0.1:9\n"
                  "contexts:\n- name: d\n  context:\n    cluster: d\n    user: u\ncurrent-context: d\nusers:\n- name: u\n  user:\n    token: x\n")
    proc, plan = run_plan(infra, None, {"dev": str(kc)}, tmp_path)
    assert proc.returncode == 2
    assert plan["status"] == "success"
    assert [o["object"] for o in plan["clusters"]["dev"]["objects"]] == ["Deployment.apps web/web"]
    dry = plan["clusters"]["dev"]["dry_run"]
    assert dry["ran"] is False and "127.0.0.1" in dry["reason"] and "refused" in dry["reason"], dry
    assert "Server-side dry run: could not run" in proc.stdout


@pytest.mark.parametrize("case", ["base", "cluster", "pull_request"])
def test_bad_input(infra, tmp_path, case):
    number, kubeconfigs, base = None, {}, "origin/main"
    if case == "base":
        base = "no-such-branch"
        expect = "base revision 'no-such-branch' does not exist"
    elif case == "cluster":
        kubeconfigs = {"prod-eu9": "/nonexistent"}
        expect = "kubeconfigs: unknown cluster(s) 'prod-eu9': the repository has dev"
    else:
        number = 9999
        expect = "has no pull request #9999"
    proc, plan = run_plan(infra, number, kubeconfigs, tmp_path, base=base)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert expect in proc.stdout, proc.stdout[-3000:]
    assert "the plan could not be made: " in proc.stdout
    # The report says error (not a stale success of an earlier run), with the reason.
    assert plan["status"] == "error" and expect in plan["errors"][0]["message"], plan


def test_no_change_exits_0(infra, tmp_path):
    """A change that leaves every cluster as it is (here: the base itself) exits 0; plan.json says so."""
    proc, plan = run_plan(infra, None, {}, tmp_path, base="origin/main", head="origin/main")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert plan["status"] == "success" and plan["has_changes"] is False and plan["clusters"] == {}, plan
    assert "no cluster's desired state changes" in proc.stdout


def test_gitea_workflow_plan_step_runs_as_the_pipeline_would(infra, cluster, tmp_path):
    """The plan step of the generated Gitea workflow, its script run verbatim by bash with the variables
    Gitea Actions gives it (no runner here): the plan is posted and the step passes on a green plan."""
    forge, wc = infra["forge"], infra["wc"]
    number, sha = pull_request(infra, "pipeline-step", {
        "apps/web/overlays/dev/kustomization.yaml": lambda t: t.replace("count: 1", "count: 2")})
    with open(os.path.join(wc, ".gitea/workflows/validate.yaml"), encoding="utf-8") as f:
        step = yaml.safe_load(f)["jobs"]["plan"]["steps"][-1]
    with open(cluster, encoding="utf-8") as f:
        kubeconfig_text = f.read()
    values = {"secrets.DEV_KUBECONFIG": kubeconfig_text, "secrets.PLAN_FORGE_TOKEN || secrets.GITHUB_TOKEN": forge.platform.token,
              "github.event.pull_request.number": str(number), "github.base_ref": "main", "github.repository_owner": infra["org"],
              "github.event.repository.name": "infra", "github.api_url": forge.api_url}
    env = dict(os.environ, RUNNER_TEMP=str(tmp_path), PATH=os.path.dirname(KUSTOMIZE) + os.pathsep + os.environ["PATH"])
    for name, expr in step["env"].items():
        env[name] = values[expr.strip("${} ")]
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=wc, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0, forge.scrub(proc.stdout[-3000:])
    assert forge.platform.token not in proc.stdout
    body = comments(infra, number)[0]["body"]
    assert "`spec.replicas`: `1` -> `2`" in body and "Server-side dry run: passed (1 object(s))." in body
    assert status(infra, sha)[0]["status"] == "success"
