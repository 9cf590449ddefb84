# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generated files: ownership record, cluster isolation, templates that parse."""


import yaml
import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold as S


def spec(**kw):
    s = {"cluster": "dev1", "repo_url": "ssh://git@example.test/infra.git", "apps": [{"name": "web"}],
         "platform_components": ["namespaces", "policies"]}
    s.update(kw)
    return s


def test_managed_record_round_trip_and_is_deterministic():
    files = {"b/x.yaml": S.sha256("b"), "a b/\"q\".md": S.sha256("a"), "README.md": S.sha256("r")}
    text = S.dump_managed(files)
    assert S.parse_managed(text) == files
    assert S.dump_managed(dict(reversed(list(files.items())))) == text
    assert yaml.safe_load(text)["files"] == files
    assert S.parse_managed(S.dump_managed({})) == {}
    assert S.parse_managed(None) == {}


def test_shared_files_do_not_depend_on_the_cluster():
    a = S.render_files(spec(cluster="dev1"))
    b = S.render_files(spec(cluster="prod-eu1", cluster_environment="prod"))
    shared = set(a) & set(b)
    assert shared and all(a[p] == b[p] for p in shared), [p for p in shared if a[p] != b[p]]
    assert all(p.startswith("clusters/prod-eu1/") or p == ".gitops/clusters/prod-eu1.yaml" for p in set(b) - set(a))


def test_every_yaml_file_parses_and_manifests_have_kinds():
    files = S.render_files(spec(pipeline="gitlab"))
    for path, content in files.items():
        if path.endswith((".yaml", ".yml")):
            docs = list(yaml.safe_load_all(content))
            assert docs, path
            assert content.startswith("---\n"), path
        if path.startswith("clusters/") and path.endswith(".yaml"):
            assert yaml.safe_load(content)["kind"], path
    assert ".gitlab-ci.yml" in files and ".github/workflows/validate.yaml" not in files


def test_cluster_apps_point_at_the_cluster_environment_overlay():
    files = S.render_files(spec(cluster="stage1", cluster_environment="staging"))
    app = yaml.safe_load(files["clusters/stage1/apps/web.yaml"])
    assert app["spec"]["source"]["path"] == L.app_overlay_path("web", "staging")
    assert app["spec"]["project"] == "apps"
    root = yaml.safe_load(files["clusters/stage1/kustomization.yaml"])
    assert root["resources"] == ["projects", "apps"]
    argocd = yaml.safe_load(files["clusters/stage1/argocd/kustomization.yaml"])
    assert L.argocd_install_url("v3.5.1") in argocd["resources"]
    self_app = yaml.safe_load(files["clusters/stage1/apps/argocd.yaml"])
    assert self_app["spec"]["source"]["path"] == L.cluster_argocd_path("stage1")


def test_self_management_application_leaves_the_role_s_known_hosts_alone():
    files = S.render_files(spec(argocd_namespace="gitops-argocd"))
    self_app = yaml.safe_load(files["clusters/dev1/apps/argocd.yaml"])
    shared = L.argocd_self_manage_spec("gitops-argocd")
    assert self_app["spec"]["ignoreDifferences"] == shared["ignoreDifferences"]
    assert self_app["spec"]["syncPolicy"]["syncOptions"] == shared["syncPolicy"]["syncOptions"]
    assert "RespectIgnoreDifferences=true" in self_app["spec"]["syncPolicy"]["syncOptions"]
    assert self_app["spec"]["syncPolicy"]["automated"] == {"prune": False, "selfHeal": True}
    # The other Applications compare every field.
    web = yaml.safe_load(files["clusters/dev1/apps/web.yaml"])
    assert "ignoreDifferences" not in web["spec"] and web["spec"]["syncPolicy"]["syncOptions"] == ["ServerSideApply=true"]


def test_apps_project_allows_no_cluster_scoped_resources():
    proj = yaml.safe_load(S.render_files(spec())["clusters/dev1/projects/apps.yaml"])
    assert proj["spec"]["clusterResourceWhitelist"] == []
    assert proj["spec"]["destinations"] == [{"server": S.IN_CLUSTER, "namespace": "web"}]


@pytest.mark.parametrize("bad, match", [
    ({"cluster_environment": "qa"}, "not one of the environments"),
    ({"environments": ["dev", "dev"]}, "unique"),
    ({"apps": [{"name": "Web"}]}, "invalid app name"),
    ({"kubernetes_version": "1.36"}, "kubernetes_version"),
    ({"argocd_namespace": "Argo"}, "argocd namespace"),
])
def test_bad_spec(bad, match):
    with pytest.raises(L.LayoutError, match=match):
        S.render_files(spec(**bad))
