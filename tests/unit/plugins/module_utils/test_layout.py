# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The infra repository layout and the filters that expose it to roles."""


import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.filter.layout import FilterModule
from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L


def test_paths():
    assert L.cluster_path("prod-eu1") == "clusters/prod-eu1"
    assert L.cluster_argocd_path("prod-eu1") == "clusters/prod-eu1/argocd"
    assert L.cluster_projects_path("a") == "clusters/a/projects"
    assert L.cluster_apps_path("a") == "clusters/a/apps"
    assert L.platform_path("namespaces") == "platform/namespaces"
    assert L.app_base_path("web") == "apps/web/base"
    assert L.app_overlay_path("web", "staging") == "apps/web/overlays/staging"
    assert L.cluster_of_path("clusters/a/apps/x.yaml") == "a"
    assert L.cluster_of_path("platform/x") is None
    assert L.argocd_install_url("v3.5.1") == "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml"


@pytest.mark.parametrize("name", ["Prod", "prod_eu", "-prod", "prod-", "", "a" * 64, "a/b", "..", "a.b"])
def test_invalid_cluster_names(name):
    with pytest.raises(L.LayoutError, match="cluster name"):
        L.cluster_path(name)


@pytest.mark.parametrize("name", ["a", "prod-eu1", "0dev", "a" * 63])
def test_valid_cluster_names(name):
    assert L.validate_cluster_name(name) == name


@pytest.mark.parametrize("version", ["stable", "latest", "3.5.1", "v3.5", "master", None])
def test_argocd_version_must_be_a_pinned_release(version):
    with pytest.raises(L.LayoutError, match="argocd_version"):
        L.validate_argocd_version(version)


def test_filters_use_the_layout():
    f = FilterModule().filters()
    assert f["cluster_path"]("dev1") == L.cluster_path("dev1")
    assert f["cluster_argocd_path"]("dev1") == "clusters/dev1/argocd"
    assert f["app_overlay_path"]("web", "prod") == "apps/web/overlays/prod"
    assert f["cluster_layout"]("dev1")["apps"] == "clusters/dev1/apps"
    with pytest.raises(AnsibleFilterError, match="invalid cluster name 'Bad'"):
        f["cluster_path"]("Bad")


def test_self_management_spec_leaves_the_known_hosts_to_the_role():
    spec = L.argocd_self_manage_spec("gitops-argocd")
    assert spec == {
        "ignoreDifferences": [{"kind": "ConfigMap", "name": "argocd-ssh-known-hosts-cm", "namespace": "gitops-argocd",
                               "jsonPointers": ["/data/ssh_known_hosts"]}],
        "syncPolicy": {"syncOptions": ["ServerSideApply=true", "RespectIgnoreDifferences=true"]},
    }
    assert L.argocd_self_manage_spec()["ignoreDifferences"][0]["namespace"] == "argocd"
    spec["ignoreDifferences"][0]["jsonPointers"].append("/data/other")
    assert L.argocd_self_manage_spec("gitops-argocd")["ignoreDifferences"][0]["jsonPointers"] == ["/data/ssh_known_hosts"]
    f = FilterModule().filters()
    assert f["argocd_self_manage_spec"]("argocd") == L.argocd_self_manage_spec("argocd")
    with pytest.raises(AnsibleFilterError, match="invalid argocd namespace name 'Argo'"):
        f["argocd_self_manage_spec"]("Argo")


@pytest.mark.parametrize("name", ["c9\n", "c9\r\n", " c9", "c9 ", "\nc9", "C9"])
def test_cluster_names_match_as_a_whole(name):
    with pytest.raises(L.LayoutError, match="invalid cluster name"):
        L.cluster_path(name)
    with pytest.raises(AnsibleFilterError, match="invalid cluster name"):
        FilterModule().filters()["cluster_path"](name)


def test_a_trailing_line_break_is_named_in_the_message():
    with pytest.raises(L.LayoutError, match=r"'c9\\n' \(it ends with a line break"):
        L.validate_cluster_name("c9\n")
    with pytest.raises(L.LayoutError, match="invalid argocd_version 'v3.5.1\\\\n'"):
        L.validate_argocd_version("v3.5.1\n")
