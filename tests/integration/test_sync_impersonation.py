# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sync impersonation with the real Argo CD controllers: a team project's Applications sync as the
project's least-privilege ServiceAccount, so Kubernetes RBAC refuses what the account may not do even
when the AppProject (deliberately, here) allows it.

Reuses the pull loop of test_pull_loop.py (cluster, git servers, controllers; pullloop_env.shared_pull_loop).
The loop's bootstrap already ran the role with impersonation on (the default): the root and self-management
Applications of the platform project sync as the platform identity throughout that suite.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pullloop_env import ARGOCD_NAMESPACE, BOOTSTRAP_REPO_AND_ARGOCD, IN_CLUSTER, acd, shared_pull_loop  # noqa: E402

SHARED_PULL_LOOP = True

pytestmark = pytest.mark.skipif(
    not os.path.exists(acd.argocd_bin()),
    reason=f"the Argo CD binaries are not built ({acd.argocd_bin()}); run `make test-pull-loop`, which builds them",
)

TEAM = "imp-team"
NS = "imp-team-a"
OTHER_NS = "imp-team-b"
ACCOUNT = f"system:serviceaccount:{ARGOCD_NAMESPACE}:argocd-sync-{TEAM}-{NS}"
# Deliberately too wide: every cluster-scoped kind, and a second namespace. Argo CD's own checks let
# all of it through; only the identity Argo CD syncs as stands in the way.
PROJECT = {
    "name": TEAM, "description": "A team project that allows too much",
    "source_repos": ["{{ repo_url }}"],
    "destinations": [{"server": IN_CLUSTER, "namespace": NS}, {"server": IN_CLUSTER, "namespace": OTHER_NS}],
    "cluster_resource_whitelist": [{"group": "*", "kind": "*"}],
}
ROLE_PLAY = BOOTSTRAP_REPO_AND_ARGOCD.replace(
    "        argocd_repositories:\n", "        argocd_projects: \"{{ team_projects }}\"\n        argocd_repositories:\n", 1)

FILES = {
    "teams/imp/ok/configmap.yaml": """
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: imp-settings
        data:
          colour: blue
        """,
    "teams/imp/cluster/clusterrole.yaml": """
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: imp-escalation
        rules:
          - apiGroups: ["*"]
            resources: ["*"]
            verbs: ["*"]
        """,
    "teams/imp/other/configmap.yaml": f"""
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: imp-elsewhere
          namespace: {OTHER_NS}
        data:
          colour: red
        """,
}


@pytest.fixture(scope="module")
def loop(request):
    return shared_pull_loop(request)


@pytest.fixture(scope="module")
def team(loop):
    """The role declares the team project (its identities with it); the team's manifests are in Git."""
    loop.wc.pull()
    for rel, content in FILES.items():
        loop.wc.write(rel, textwrap.dedent(content).lstrip())
    loop.wc.commit("teams/imp: a team's manifests, two of them beyond what the team may do")
    loop.wc.push()
    extra = dict(loop.bootstrap_vars(), team_projects=[dict(PROJECT, source_repos=[loop.repo_url])])
    first = loop.play(ROLE_PLAY, extra)
    second = loop.play(ROLE_PLAY, extra)
    yield {"first": first, "second": second}
    for name in ("imp-ok", "imp-cluster", "imp-other"):
        loop.kubectl("-n", ARGOCD_NAMESPACE, "delete", "applications.argoproj.io", name, "--ignore-not-found", check=False)
    loop.kubectl("delete", "clusterrole", "imp-escalation", "--ignore-not-found", check=False)


def application(loop, name: str, path: str) -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE},
        "spec": {
            "project": TEAM,
            "source": {"repoURL": loop.repo_url, "targetRevision": "main", "path": path},
            "destination": {"server": IN_CLUSTER, "namespace": NS},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    loop.kubectl("apply", "-f", "-", input_text=json.dumps(app))


def refused(loop, name: str, *needles: str):
    """The application's sync result when a resource failed with every needle in its message (else None).

    Argo CD retries a failed sync (the operation stays Running between attempts); each attempt's
    result names the resource and the API server's refusal."""
    op = ((loop.app(name) or {}).get("status") or {}).get("operationState") or {}
    for res in (op.get("syncResult") or {}).get("resources") or []:
        if res.get("status") == "SyncFailed" and all(n in (res.get("message") or "") for n in needles):
            return res
    return None


def install_actions(res) -> list:
    """The objects the install task of a role run acted on (action other than unchanged)."""
    for task in res.tasks():
        if "is installed at the pinned version" in task["task"]["name"]:
            return [(o.get("kind"), o.get("name"), o.get("action")) for o in task["hosts"]["localhost"].get("objects") or []
                    if o.get("action") != "unchanged"]
    return []


def test_role_declares_the_identities_and_reruns_change_nothing(loop, team):
    assert team["second"].changed() == 0, install_actions(team["second"])
    proj = loop.get("appprojects.argoproj.io", TEAM, ARGOCD_NAMESPACE)
    assert proj["spec"]["destinationServiceAccounts"] == [
        {"server": IN_CLUSTER, "namespace": NS, "defaultServiceAccount": f"{ARGOCD_NAMESPACE}:argocd-sync-{TEAM}-{NS}"},
        {"server": IN_CLUSTER, "namespace": OTHER_NS, "defaultServiceAccount": f"{ARGOCD_NAMESPACE}:argocd-sync-{TEAM}-{OTHER_NS}"},
    ]
    platform = loop.get("appprojects.argoproj.io", "platform", ARGOCD_NAMESPACE)
    assert platform["spec"]["destinationServiceAccounts"][0]["defaultServiceAccount"] == f"{ARGOCD_NAMESPACE}:argocd-sync-platform"
    cm = loop.get("configmap", "argocd-cm", ARGOCD_NAMESPACE)
    assert cm["data"].get("application.sync.impersonation.enabled") == "true", cm["data"]
    # RBAC as the account itself says: its namespace yes, cluster scope and the other namespace no.
    for args, allowed in ((["create", "configmaps", "-n", NS], "yes"), (["create", "clusterroles"], "no"),
                          (["create", "configmaps", "-n", OTHER_NS], "no"), (["create", "rolebindings", "-n", NS], "yes"),
                          (["bind", "clusterroles", "-n", NS], "no"), (["impersonate", "serviceaccounts", "-n", NS], "no")):
        proc = loop.kubectl("auth", "can-i", *args, f"--as={ACCOUNT}", check=False)
        assert proc.stdout.strip() == allowed, (args, proc.stdout, proc.stderr)


def test_root_application_syncs_as_the_platform_identity(loop, team):
    """The root application (platform project) keeps syncing with impersonation on."""
    assert loop.app_synced_healthy("root"), (loop.app("root") or {}).get("status")


def test_team_application_inside_its_namespace_syncs_and_self_heals(loop, team):
    application(loop, "imp-ok", "teams/imp/ok")
    loop.wait_for("imp-ok Synced and Healthy", lambda: loop.app_synced_healthy("imp-ok"), timeout=loop.reconcile_budget(), app="imp-ok")
    assert loop.get("configmap", "imp-settings", NS)["data"] == {"colour": "blue"}
    loop.kubectl("-n", NS, "patch", "configmap", "imp-settings", "--type=merge", "-p", '{"data": {"colour": "green"}}')
    loop.wait_for("the out-of-band change is reverted by self-heal",
                  lambda: (loop.get("configmap", "imp-settings", NS) or {}).get("data") == {"colour": "blue"},
                  timeout=loop.reconcile_budget(), app="imp-ok")


def test_team_application_creating_a_clusterrole_is_refused_by_rbac(loop, team):
    application(loop, "imp-cluster", "teams/imp/cluster")
    res = loop.wait_for("imp-cluster's sync refused by Kubernetes RBAC",
                        lambda: refused(loop, "imp-cluster", "is forbidden", f'User "{ACCOUNT}"', '"clusterroles"', "at the cluster scope"),
                        timeout=loop.reconcile_budget(), app="imp-cluster")
    print(f"imp-cluster: {res['message']}")
    assert loop.get("clusterrole", "imp-escalation") is None, "the ClusterRole was created"


def test_team_application_writing_outside_its_namespace_is_refused_by_rbac(loop, team):
    application(loop, "imp-other", "teams/imp/other")
    res = loop.wait_for("imp-other's sync refused by Kubernetes RBAC",
                        lambda: refused(loop, "imp-other", "is forbidden", f'User "{ACCOUNT}"', '"configmaps"',
                                        f'in the namespace "{OTHER_NS}"'),
                        timeout=loop.reconcile_budget(), app="imp-other")
    print(f"imp-other: {res['message']}")
    assert loop.get("configmap", "imp-elsewhere", OTHER_NS) is None, "the ConfigMap was written outside the application's namespace"


def test_controllers_kept_running(loop, team):
    loop.host.check_running()
