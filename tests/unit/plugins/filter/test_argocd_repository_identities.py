# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sync identities and the application controller's reduced rights, as the infra repository holds them
(repository mode): from the argocd role's filters to infra_repo's files, built by the real kustomize."""

import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.gitops.bootstrap.plugins.filter.argocd_impersonation import (
    controller_objects,
    sync_identity_objects,
    sync_identity_projects,
)
from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import argocd_role_projects
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold as S
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold_argocd as A

REPO = "ssh://git@example.test/infra.git"
SERVER = "https://kubernetes.default.svc"
CACHE = os.environ.get("GITOPS_BOOTSTRAP_CACHE", "~/.cache/gitops-bootstrap")
KUSTOMIZE = os.path.expanduser(os.path.join(CACHE, "bin", "kustomize-v5.8.1", "kustomize"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS") or os.path.join(ROOT, "..", "shared", "argocd")
INSTALL = os.path.join(MANIFESTS, "v3.5.1", "install.yaml")
SETTINGS = {
    "namespace": "argocd", "flavour": "cluster", "in_cluster_server": SERVER, "infra_repo_url": REPO,
    "default_project_locked": True, "platform_project": {}, "sync_impersonation": True, "sync_impersonation_enforced": True,
    "controller_least_privilege": True, "config_source": "repository", "self_manage": True,
    "projects": [{"name": "team-a", "source_repos": [REPO], "destinations": [{"server": SERVER, "namespace": "team-a"}]}],
}


def repository_config():
    """What roles/argocd/vars/main.yml hands infra_repo (argocd__repository_config), less the ConfigMaps."""
    projects = sync_identity_projects(argocd_role_projects(SETTINGS), SETTINGS)
    controller = controller_objects(projects, SETTINGS)
    here = [o for o in controller["objects"] if o["metadata"]["namespace"] == "argocd"]
    return {"patches": controller["patches"], "objects": here,
            "identities": sync_identity_objects(argocd_role_projects(SETTINGS), SETTINGS, "teams")
            + [o for o in controller["objects"] if o not in here]}


def files():
    return S.render_files({"cluster": "dev1", "repo_url": REPO, "apps": [{"name": "web"}], "platform_components": ["namespaces"],
                           "argocd_config": repository_config()})


def test_identities_are_one_list_applied_by_their_own_pruning_application():
    out = files()
    doc = yaml.safe_load(out["clusters/dev1/sync-identities/identities.yaml"])
    kinds = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in doc["items"]]
    assert kinds == [
        ("Namespace", None, "team-a"),
        ("ServiceAccount", "argocd", "argocd-sync-team-a-team-a"),
        ("Role", "team-a", "argocd-sync-team-a"), ("RoleBinding", "team-a", "argocd-sync-team-a"),
    ]
    kust = yaml.safe_load(out["clusters/dev1/sync-identities/kustomization.yaml"])
    assert kust["resources"] == ["identities.yaml"] and "namespace" not in kust
    app = yaml.safe_load(out["clusters/dev1/apps/sync-identities.yaml"])
    assert app["spec"]["project"] == "platform" and app["spec"]["source"]["path"] == "clusters/dev1/sync-identities"
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "sync-identities.yaml" in yaml.safe_load(out["clusters/dev1/apps/kustomization.yaml"])["resources"]


def test_the_reduced_cluster_role_is_a_patch_of_upstream_s():
    out = files()
    kust = yaml.safe_load(out["clusters/dev1/argocd/kustomization.yaml"])
    assert {"path": "clusterrole.yaml"} in kust["patches"] and "clusterrole.yaml" not in kust["resources"]
    assert yaml.safe_load(out["clusters/dev1/argocd/clusterrole.yaml"])["metadata"]["name"] == "argocd-application-controller"
    # The controller's impersonate right lands in an earlier wave of the same Application as the patch.
    assert {"role.yaml", "rolebinding.yaml"} <= set(kust["resources"])
    for name in ("role.yaml", "rolebinding.yaml"):
        meta = yaml.safe_load(out[f"clusters/dev1/argocd/{name}"])["metadata"]
        assert meta["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"


@pytest.mark.parametrize("config, match", [
    ({"patches": "clusterrole"}, "patches must be a list"),
    ({"identities": {"kind": "List"}}, "identities must be a list"),
    ({"identities": [{"kind": "Role", "metadata": {"name": "x"}}]}, "needs apiVersion and kind"),
    ({"identities": [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "argocd"}}] * 2},
     "identities lists ServiceAccount argocd/a twice"),
])
def test_hostile_entries_are_refused_naming_them(config, match):
    with pytest.raises(A.ArgoConfigError, match=match):
        S.render_files({"cluster": "dev1", "repo_url": REPO, "argocd_config": config})


@pytest.mark.skipif(not (os.path.exists(KUSTOMIZE) and os.path.exists(INSTALL)), reason="kustomize or the upstream manifests are missing")
def test_kustomize_builds_upstream_install_with_the_controller_reading_only(tmp_path):
    out = files()
    for path, text in out.items():
        if path.startswith("clusters/dev1/argocd/"):
            text = re.sub(r"^(\s+- )https://\S+/install\.yaml$", r"\1install.yaml", text, flags=re.M)
            (tmp_path / os.path.basename(path)).write_text(text)
    with open(INSTALL, encoding="utf-8") as fh:
        (tmp_path / "install.yaml").write_text(fh.read())
    built = subprocess.run([KUSTOMIZE, "build", str(tmp_path)], capture_output=True, text=True, check=True, timeout=120).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    (role,) = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "argocd-application-controller"]
    assert role["rules"] == A_READ_RULES
    (imp,) = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "argocd-application-controller-sync-identities"]
    assert imp["metadata"]["namespace"] == "argocd"
    assert imp["rules"][0]["resourceNames"] == ["argocd-sync-platform", "argocd-sync-team-a-team-a"]
    # Everything else of upstream's install is there, the server's ClusterRole untouched.
    (server,) = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "argocd-server"]
    assert any("delete" in r["verbs"] for r in server["rules"])
    assert len([d for d in docs if d["kind"] == "CustomResourceDefinition"]) == 3


A_READ_RULES = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}, {"nonResourceURLs": ["*"], "verbs": ["get"]}]


def enforced_files(**over):
    cm = {"application.sync.impersonation.enabled": "true", "application.sync.impersonation.enforced": "true"}
    spec = {"cluster": "dev1", "repo_url": REPO, "apps": [{"name": "web"}, {"name": "shop"}], "platform_components": ["namespaces"],
            "argocd_config": dict(repository_config(), config_maps={"argocd-cm": cm})}
    spec.update(over)
    return S.render_files(spec)


def test_enforced_the_scaffold_s_apps_project_names_an_account_per_application():
    out = enforced_files()
    project = yaml.safe_load(out["clusters/dev1/projects/apps.yaml"])
    assert project["spec"]["destinationServiceAccounts"] == [
        {"server": SERVER, "namespace": "web", "defaultServiceAccount": "argocd:argocd-sync-apps-web"},
        {"server": SERVER, "namespace": "shop", "defaultServiceAccount": "argocd:argocd-sync-apps-shop"}]
    assert project["spec"]["clusterResourceWhitelist"] == [], "the apps project still allows nothing cluster-scoped"
    items = yaml.safe_load(out["clusters/dev1/sync-identities/identities.yaml"])["items"]
    names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items]
    assert ("ServiceAccount", "argocd", "argocd-sync-apps-web") in names and ("Role", "shop", "argocd-sync-apps") in names
    # The namespaces stay the platform's namespaces component's (one owner per object).
    assert not [n for n in names if n[0] == "Namespace" and n[2] in ("web", "shop")]
    (imp,) = [o for o in items if o["kind"] == "Role" and o["metadata"]["name"] == "argocd-application-controller-sync-apps"]
    assert imp["rules"][0]["resourceNames"] == ["argocd-sync-apps-shop", "argocd-sync-apps-web"]
    # The team identities are still there, each once.
    assert names.count(("ServiceAccount", "argocd", "argocd-sync-team-a-team-a")) == 1
    # Without the namespaces component, the identities create the namespaces, never pruned.
    items = yaml.safe_load(enforced_files(platform_components=[])["clusters/dev1/sync-identities/identities.yaml"])["items"]
    web = [o for o in items if o["kind"] == "Namespace" and o["metadata"]["name"] == "web"]
    assert web and web[0]["metadata"]["annotations"] == {"argocd.argoproj.io/sync-options": "Prune=false",
                                                         "argocd.argoproj.io/compare-options": "IgnoreExtraneous"}


def test_not_enforced_the_apps_project_is_the_scaffold_s():
    out = files()
    assert out["clusters/dev1/projects/apps.yaml"] == S.render_files(
        {"cluster": "dev1", "repo_url": REPO, "apps": [{"name": "web"}], "platform_components": ["namespaces"]})["clusters/dev1/projects/apps.yaml"]


def test_team_namespaces_are_never_pruned_by_argocd():
    items = yaml.safe_load(files()["clusters/dev1/sync-identities/identities.yaml"])["items"]
    (team_ns,) = [o for o in items if o["kind"] == "Namespace"]
    assert team_ns["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false"
