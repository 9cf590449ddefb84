# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the RBAC lock-down wants to exist, as the infra repository holds it (repository mode)."""

import os
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.filter.rbac_lockdown import rbac_lockdown_argocd_policy
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold as S
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold_argocd as A
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import build_policy_csv

REPO = "ssh://git@example.test/infra.git"
KUSTOMIZE = os.path.expanduser(os.path.join(os.environ.get("GITOPS_BOOTSTRAP_CACHE", "~/.cache/gitops-bootstrap"), "bin",
                                            "kustomize-v5.8.1", "kustomize"))

POLICY_DATA = {
    "policies": [
        {"subject": "role:developer-team-a", "resource": "projects", "action": "get", "object": "team-a", "effect": "allow"},
        {"subject": "role:developer-team-a", "resource": "applications", "action": "sync", "object": "team-a/*", "effect": "allow"},
    ],
    "groups": [{"group": "team-a", "role": "role:developer-team-a"}],
}

LABELS = {"app.kubernetes.io/managed-by": "gitops.bootstrap", "gitops.bootstrap/component": "rbac-lockdown"}


def binding(kind, name, groups, namespace=None, role="gitops-readonly"):
    meta = {"name": name, "labels": LABELS}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups]}


ACCESS = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "gitops-readonly", "labels": LABELS},
     "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]},
    binding("ClusterRoleBinding", "gitops-break-glass", ["platform-admins"], role="cluster-admin"),
    binding("RoleBinding", "gitops-developers-readonly", ["team-a"], namespace="team-a"),
    binding("RoleBinding", "gitops-developers-readonly", ["team-a", "team-b"], namespace="shared"),
]


def spec(**kw):
    s = {"cluster": "dev1", "repo_url": REPO, "apps": [{"name": "web"}], "platform_components": ["namespaces"]}
    s.update(kw)
    return s


# ------------------------------------------------------------------ the Argo CD policy key
def test_the_policy_key_is_the_text_argocd_rbac_writes():
    key = rbac_lockdown_argocd_policy(POLICY_DATA, "gitops-developers")
    assert list(key) == ["policy.gitops-developers.csv"]
    assert key["policy.gitops-developers.csv"] == build_policy_csv(POLICY_DATA["policies"], POLICY_DATA["groups"], "glob")
    # Stable whatever the order of the input (the module sorts its lines).
    shuffled = {"policies": list(reversed(POLICY_DATA["policies"])), "groups": POLICY_DATA["groups"]}
    assert rbac_lockdown_argocd_policy(shuffled) == key


def test_no_developer_group_with_argocd_projects_is_no_key():
    assert rbac_lockdown_argocd_policy({"policies": [], "groups": []}) == {}
    assert rbac_lockdown_argocd_policy(None) == {}


@pytest.mark.parametrize("bad, match", [
    ({"policies": [dict(POLICY_DATA["policies"][0], action="")], "groups": POLICY_DATA["groups"]}, "action"),
    ({"policies": [dict(POLICY_DATA["policies"][0], effect="")], "groups": POLICY_DATA["groups"]}, "effect"),
    ({"policies": [], "groups": [{"group": "team-a", "role": "role:nothing"}]}, "role:nothing"),
])
def test_a_bad_line_is_refused_naming_it(bad, match):
    with pytest.raises(AnsibleFilterError, match=match):
        rbac_lockdown_argocd_policy(bad)


# ------------------------------------------------------------------ the access folder
def test_access_is_one_list_applied_by_its_own_pruning_application():
    files = S.render_files(spec(argocd_config={"access": ACCESS}))
    doc = yaml.safe_load(files["clusters/dev1/access/access.yaml"])
    assert doc["kind"] == "List" and doc["items"] == ACCESS
    kust = yaml.safe_load(files["clusters/dev1/access/kustomization.yaml"])
    assert kust["resources"] == ["access.yaml"] and "namespace" not in kust  # each RoleBinding keeps its namespace
    app = yaml.safe_load(files["clusters/dev1/apps/access.yaml"])
    assert app["kind"] == "Application" and app["metadata"] == {"name": "access", "namespace": "argocd"}
    assert app["spec"]["project"] == "platform"  # cluster-scoped ClusterRole and ClusterRoleBindings
    assert app["spec"]["source"] == {"repoURL": REPO, "targetRevision": "main", "path": "clusters/dev1/access"}
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert yaml.safe_load(files["clusters/dev1/apps/kustomization.yaml"])["resources"][-1] == "access.yaml"


def test_without_access_the_files_are_those_of_before():
    config = {"config_maps": {"argocd-cm": {"admin.enabled": "false"}}}
    files = S.render_files(spec(argocd_config=config))
    assert not [p for p in files if "/access" in p]
    assert files["clusters/dev1/apps/kustomization.yaml"] == S.render_files(spec())["clusters/dev1/apps/kustomization.yaml"]


def test_an_empty_access_list_still_renders_the_folder_so_what_left_the_inventory_leaves_git():
    files = S.render_files(spec(argocd_config={"access": []}))
    assert yaml.safe_load(files["clusters/dev1/access/access.yaml"]) == {"apiVersion": "v1", "kind": "List", "items": []}
    assert "clusters/dev1/apps/access.yaml" in files


@pytest.mark.parametrize("access, match", [
    ("gitops-readonly", "access must be a list"),
    ([ACCESS[2], ACCESS[2]], "RoleBinding team-a/gitops-developers-readonly twice"),
    ([{"kind": "ClusterRole", "metadata": {"name": "x"}}], "needs apiVersion and kind"),
    ([dict(ACCESS[0], metadata={"name": "Not_A_Name"})], "DNS-1123"),
])
def test_hostile_access_is_refused_naming_the_entry(access, match):
    with pytest.raises(A.ArgoConfigError, match=match):
        S.render_files(spec(argocd_config={"access": access}))


@pytest.mark.skipif(not os.path.exists(KUSTOMIZE), reason="kustomize is not built")
def test_kustomize_builds_the_access_folder_with_each_namespace_kept(tmp_path):
    files = S.render_files(spec(argocd_config={"access": ACCESS}))
    for path, text in files.items():
        if path.startswith("clusters/dev1/access/"):
            target = tmp_path / os.path.basename(path)
            target.write_text(text)
    out = subprocess.run([KUSTOMIZE, "build", str(tmp_path)], capture_output=True, text=True, check=True, timeout=60).stdout
    built = list(yaml.safe_load_all(out))
    got = sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in built)
    assert got == sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in ACCESS)
