# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD's configuration rendered into the cluster folder, and Git's edits compared field by field."""

import os
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import (
    argocd_config_maps,
    argocd_ingress_object,
    argocd_project_objects,
    argocd_role_projects,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold as S
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold_argocd as A

REPO = "ssh://git@example.test/infra.git"
POLICY = "p, role:deployer, applications, sync, */*, allow\ng, platform-admins, role:admin\n"


def spec(**kw):
    s = {"cluster": "dev1", "repo_url": REPO, "apps": [{"name": "web"}], "platform_components": ["namespaces"]}
    s.update(kw)
    return s


def role_config(**role):
    """argocd_config as the argocd role's filters build it from its variables."""
    settings = {"admin_enabled": False, "reconciliation_timeout": "120s", "rbac_policy_default": "",
                "rbac_scopes": ["groups"], "rbac_policies": [], "rbac_groups": [{"group": "platform-admins", "role": "role:admin"}],
                "oidc": {"name": "SSO", "issuer": "https://sso.example.test", "clientID": "argocd",
                         "clientSecret": "$oidc.clientSecret"}}
    settings.update(role)
    maps = argocd_config_maps(settings)
    maps["argocd-rbac-cm"]["policy.csv"] = POLICY
    projects = argocd_project_objects(argocd_role_projects({
        "infra_repo_url": REPO, "in_cluster_server": S.IN_CLUSTER,
        "projects": [{"name": "team-a", "description": "Team A", "source_repos": [REPO],
                      "destinations": [{"server": S.IN_CLUSTER, "namespace": "team-a"}]}]}))
    ingress = argocd_ingress_object({"host": "argocd.example.test", "class_name": "nginx", "tls_secret_name": "argocd-tls"})
    return {"config_maps": maps, "projects": projects, "objects": [ingress]}


@pytest.mark.parametrize("absent", [None, {}, {"config_maps": {}, "projects": [], "objects": []},
                                    {"config_maps": None, "projects": None, "objects": None}])
def test_without_argocd_config_the_output_is_byte_identical(absent):
    base = S.render_files(spec())
    assert S.render_files(spec(argocd_config=absent)) == base
    # The scaffold's own argocd-cm, byte for byte as every earlier version wrote it.
    assert base["clusters/dev1/argocd/argocd-cm.yaml"] == (
        "---\n# Our configuration of Argo CD; the upstream ConfigMap is patched with these keys.\napiVersion: v1\n"
        "kind: ConfigMap\nmetadata:\n  name: argocd-cm\ndata:\n  # Resources belong to the Application whose annotation they carry.\n"
        "  application.resourceTrackingMethod: annotation\n  # Changes go through git: no anonymous access, no web terminal into pods.\n"
        "  users.anonymous.enabled: \"false\"\n  exec.enabled: \"false\"\n")
    assert base["clusters/dev1/projects/kustomization.yaml"] == (
        "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - platform.yaml\n  - apps.yaml\n")
    assert base["clusters/dev1/argocd/kustomization.yaml"].endswith("patches:\n  - path: argocd-cm.yaml\n")


def test_config_maps_are_patches_with_sorted_string_values_and_literal_blocks():
    files = S.render_files(spec(argocd_config=role_config()))
    argo = "clusters/dev1/argocd"
    kust = yaml.safe_load(files[f"{argo}/kustomization.yaml"])
    assert kust["patches"] == [{"path": "argocd-cm.yaml"}, {"path": "argocd-rbac-cm.yaml"}]  # cmd-params is empty
    assert f"{argo}/argocd-cmd-params-cm.yaml" not in files
    assert kust["resources"] == ["namespace.yaml", L.argocd_install_url("v3.5.1"), "ingress.yaml"]
    cm_text = files[f"{argo}/argocd-cm.yaml"]
    cm = yaml.safe_load(cm_text)
    assert cm["metadata"] == {"name": "argocd-cm"} and cm["kind"] == "ConfigMap"
    # The scaffold's keys merged with the role's; every value a string.
    assert cm["data"]["admin.enabled"] == "false" and cm["data"]["timeout.reconciliation"] == "120s"
    assert cm["data"]["application.resourceTrackingMethod"] == "annotation"
    assert cm["data"]["users.anonymous.enabled"] == "false" and cm["data"]["exec.enabled"] == "false"
    assert all(isinstance(v, str) for v in cm["data"].values())
    assert '  admin.enabled: "false"\n' in cm_text and '  timeout.reconciliation: "120s"\n' in cm_text
    keys = [line.split(":")[0].strip() for line in cm_text.split("data:\n")[-1].splitlines()
            if line.startswith("  ") and not line.startswith(("    ", "  #"))]
    assert keys == sorted(cm["data"]), keys
    # oidc.config is readable line by line.
    assert "  oidc.config: |\n    clientID: argocd\n" in cm_text
    rbac_text = files[f"{argo}/argocd-rbac-cm.yaml"]
    assert "  policy.csv: |\n    p, role:deployer, applications, sync, */*, allow\n    g, platform-admins, role:admin\n" in rbac_text
    rbac = yaml.safe_load(rbac_text)["data"]
    assert rbac["policy.csv"] == POLICY and rbac["policy.default"] == "" and rbac["scopes"] == "[groups]"


def test_the_config_map_s_value_wins_over_the_scaffold_s_key():
    files = S.render_files(spec(argocd_config={"config_maps": {"argocd-cm": {"exec.enabled": "true"}}}))
    assert yaml.safe_load(files["clusters/dev1/argocd/argocd-cm.yaml"])["data"]["exec.enabled"] == "true"


def test_projects_are_files_with_the_sync_wave_and_listed():
    files = S.render_files(spec(argocd_config=role_config()))
    proj = "clusters/dev1/projects"
    assert yaml.safe_load(files[f"{proj}/kustomization.yaml"])["resources"] == [
        "platform.yaml", "apps.yaml", "default.yaml", "team-a.yaml"]
    scaffold_apps = S.render_files(spec())[f"{proj}/apps.yaml"]
    assert files[f"{proj}/apps.yaml"] == scaffold_apps  # no project named apps given
    for name in ("default", "platform", "team-a"):
        text = files[f"{proj}/{name}.yaml"]
        assert text.startswith("---\n# ")
        obj = yaml.safe_load(text)
        assert obj["kind"] == "AppProject" and obj["metadata"]["name"] == name
        assert obj["metadata"]["namespace"] == "argocd"
        assert obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
        assert list(obj)[:4] == ["apiVersion", "kind", "metadata", "spec"]
    team = yaml.safe_load(files[f"{proj}/team-a.yaml"])
    assert team["spec"]["destinations"] == [{"server": S.IN_CLUSTER, "namespace": "team-a"}]
    default = yaml.safe_load(files[f"{proj}/default.yaml"])
    assert default["spec"]["sourceRepos"] == [] and default["spec"]["namespaceResourceBlacklist"] == [{"group": "*", "kind": "*"}]


def test_a_project_named_apps_replaces_the_scaffold_s():
    apps = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "apps"},
            "spec": {"sourceRepos": [REPO], "destinations": []}}
    files = S.render_files(spec(argocd_config={"projects": [apps]}))
    assert yaml.safe_load(files["clusters/dev1/projects/apps.yaml"])["spec"] == apps["spec"]
    assert yaml.safe_load(files["clusters/dev1/projects/kustomization.yaml"])["resources"] == ["platform.yaml", "apps.yaml"]


def test_objects_of_one_kind_get_their_names_in_the_file_name():
    a = argocd_ingress_object({"host": "a.example.test"})
    b = dict(argocd_ingress_object({"host": "b.example.test"}), metadata={"name": "argocd-grpc"})
    files = S.render_files(spec(argocd_config={"objects": [a, b]}))
    res = yaml.safe_load(files["clusters/dev1/argocd/kustomization.yaml"])["resources"]
    assert res[2:] == ["ingress-argocd-server.yaml", "ingress-argocd-grpc.yaml"]
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "extra"}}
    files = S.render_files(spec(argocd_config={"objects": [ns]}))
    assert "clusters/dev1/argocd/namespace-extra.yaml" in files  # namespace.yaml is the scaffold's


def test_rendered_files_pass_the_generated_repository_s_yamllint(tmp_path):
    yamllint = shutil.which("yamllint") or os.path.join(os.path.dirname(os.path.realpath(__import__("sys").executable)), "yamllint")
    if not os.path.exists(yamllint):
        pytest.skip("yamllint is not installed")
    files = S.render_files(spec(argocd_config=role_config()))
    for path, content in files.items():
        if path.endswith(".yaml") and (path.startswith("clusters/") or path == ".yamllint.yaml"):
            full = tmp_path / path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_text(content)
    out = subprocess.run([yamllint, "-s", "-c", str(tmp_path / ".yamllint.yaml"), str(tmp_path / "clusters")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("value", ["a\nb", "a\n\n", "  lead\nx", "trail \nx\n", "tab\there\nx", "\u00e9t\u00e9\nhiver\n",
                                   "sep\u2028x\ny", "true", "", "'\"", "a\n\nb\n", "- item\n- other\n", "#hash\n"])
def test_every_string_reads_back_the_same(value):
    text = A.config_map_file("argocd-cm", {"k": value, "key:odd": value})
    assert yaml.safe_load(text)["data"] == {"k": value, "key:odd": value}


@pytest.mark.parametrize("config, match", [
    ({"config_maps": {"argocd-secret": {"a": "b"}}}, "config_maps has 'argocd-secret'"),
    ({"config_maps": {"argocd-cm": {"admin.enabled": False}}}, r"config_maps.argocd-cm.admin.enabled must be a string.*false"),
    ({"config_maps": {"argocd-cm": {"x": None}}}, r"config_maps.argocd-cm.x must be a string.*got null"),
    ({"config_maps": {"argocd-cm": {"x": {"nested": "y"}}}}, r"config_maps.argocd-cm.x must be a string.*got dict"),
    ({"config_maps": {"argocd-cm": {"bad key": "y"}}}, "has the key 'bad key'"),
    ({"config_maps": {"argocd-cm": ["a"]}}, "config_maps.argocd-cm must map keys"),
    ({"config_maps": ["argocd-cm"]}, "config_maps must map"),
    ({"projects": [{"kind": "AppProject", "metadata": {"name": "x"}}]}, r"projects\[0\] needs apiVersion and kind"),
    ({"projects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}]}, r"projects\[0\] must be a AppProject"),
    ({"projects": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "../x"}}]},
     r"projects\[0\] needs metadata.name"),
    ({"projects": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "kustomization"}}]},
     "taken by the folder"),
    ({"projects": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "a"}}] * 2}, "twice"),
    ({"projects": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "a", "namespace": "other"}}]},
     "in namespace 'other'"),
    ({"projects": "platform"}, "projects must be a list"),
    ({"objects": ["ingress"]}, r"objects\[0\] must be a Kubernetes object"),
    ({"objects": [{"apiVersion": "v1", "kind": "../Secret", "metadata": {"name": "x"}}]}, r"objects\[0\] needs apiVersion and kind"),
    ({"objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}},
                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}}]}, "already takes"),
    ({"other": {}}, "unknown entries other"),
    ("argocd-cm", "argocd_config must be a mapping"),
])
def test_hostile_argocd_config_is_refused_naming_the_entry(config, match):
    with pytest.raises(L.LayoutError, match=match):
        S.render_files(spec(argocd_config=config))


# ------------------------------------------------------------------ Git's edits
CM = S.render_files(spec(argocd_config=role_config()))["clusters/dev1/argocd/argocd-cm.yaml"]
PATH = "clusters/dev1/argocd/argocd-cm.yaml"


def test_equivalent_content_is_not_a_disagreement():
    data = yaml.safe_load(CM)
    reordered = yaml.safe_dump(data, sort_keys=True, default_style="'")  # other order, other quoting, no comments
    assert reordered != CM
    assert A.equivalent(PATH, CM, reordered)
    assert A.disagreements(PATH, CM, reordered) == []
    assert not A.equivalent(PATH, CM, CM.replace('admin.enabled: "false"', 'admin.enabled: "true"'))
    # Not YAML: bytes decide.
    assert not A.equivalent("README.md", "# a\n", "# a \n") and A.equivalent("README.md", "# a\n", "# a\n")


def test_disagreements_name_each_differing_field_with_both_values():
    edited = CM.replace('admin.enabled: "false"', 'admin.enabled: "true"').replace(
        'timeout.reconciliation: "120s"', 'timeout.reconciliation: 30s').replace(
        "\ndata:\n", "\ndata:\n  ui.bannercontent: hello\n")
    found = A.disagreements(PATH, CM, edited)
    assert found == [
        {"path": PATH, "field": "data.admin.enabled", "inventory": "false", "repository": "true"},
        {"path": PATH, "field": "data.timeout.reconciliation", "inventory": "120s", "repository": "30s"},
        {"path": PATH, "field": "data.ui.bannercontent", "inventory": None, "repository": "hello"},
    ]
    assert A.describe(found[0]) == f"{PATH} data.admin.enabled: Git has 'true' (kept), the inventory has 'false'"
    assert A.describe(found[2]) == f"{PATH} data.ui.bannercontent: Git has 'hello' (kept), the inventory has no value"


def test_disagreements_in_lists_documents_and_unparsable_files():
    mine = "---\nkind: A\nspec:\n  items: [a, b]\n"
    theirs = "---\nkind: A\nspec:\n  items: [a]\n"
    assert A.disagreements("x.yaml", mine, theirs) == [
        {"path": "x.yaml", "field": "spec.items[1]", "inventory": "b", "repository": None}]
    two = theirs + "---\nkind: B\n"
    assert A.disagreements("x.yaml", mine, two) == [
        {"path": "x.yaml", "field": "[0].spec.items[1]", "inventory": "b", "repository": None},
        {"path": "x.yaml", "field": "[1]", "inventory": None, "repository": {"kind": "B"}}]
    bad = A.disagreements("x.yaml", mine, "kind: [\n")
    assert len(bad) == 1 and bad[0]["field"] is None and bad[0]["repository"].startswith("not valid YAML")
    assert A.disagreements("README.md", "a", "b") == []
