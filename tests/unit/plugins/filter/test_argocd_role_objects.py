# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the filters that build the argocd role's Ingress, AppProjects and Applications."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import (
    argocd_application_objects,
    argocd_ingress_object,
    argocd_project_objects,
    argocd_role_applications,
    argocd_role_projects,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout

IN_CLUSTER = "https://kubernetes.default.svc"
REPO = "https://git.example.test/infra.git"


def settings(**overrides):
    """The role's settings with its defaults (roles/argocd/defaults/main.yml)."""
    base = {
        "namespace": "argocd",
        "default_project_locked": True,
        "platform_project": {"enabled": True, "name": "platform"},
        "projects": [],
        "infra_repo_url": REPO,
        "in_cluster_server": IN_CLUSTER,
        "root_app_enabled": True,
        "root_app_name": "root",
        "root_app_path": "clusters/prod-eu1",
        "root_app_prune": True,
        "root_app_self_heal": True,
        "root_app_sync_options": ["ServerSideApply=true"],
        "root_app_retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "max_duration": "3m"}},
        "self_manage": True,
        "self_manage_app_name": "argocd",
        "self_manage_path": "clusters/prod-eu1/argocd",
        "self_manage_prune": False,
        "self_manage_self_heal": True,
    }
    base.update(overrides)
    return base


# Ingress ------------------------------------------------------------------------------------

def test_ingress_minimal_has_one_rule_to_the_https_port_and_no_tls_or_class():
    obj = argocd_ingress_object({"enabled": True, "host": "cd.example.test"})
    assert obj["apiVersion"] == "networking.k8s.io/v1"
    assert obj["kind"] == "Ingress"
    assert obj["metadata"] == {
        "name": "argocd-server",
        "labels": {"app.kubernetes.io/managed-by": "gitops.bootstrap", "app.kubernetes.io/part-of": "argocd"},
        "annotations": {},
    }
    assert obj["spec"] == {"rules": [{"host": "cd.example.test", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "argocd-server", "port": {"name": "https"}}}}]}}]}


def test_ingress_with_class_tls_annotations_and_port():
    obj = argocd_ingress_object({"host": "cd.example.test", "class_name": "nginx", "tls_secret_name": "cd-tls",
                                 "annotations": {"a": "b"}, "service_port": "http"})
    assert obj["spec"]["ingressClassName"] == "nginx"
    assert obj["spec"]["tls"] == [{"hosts": ["cd.example.test"], "secretName": "cd-tls"}]
    assert obj["metadata"]["annotations"] == {"a": "b"}
    assert obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "http"}


@pytest.mark.parametrize("empty", [None, ""])
def test_ingress_empty_optional_values_mean_their_default(empty):
    obj = argocd_ingress_object({"host": "h", "class_name": empty, "tls_secret_name": empty, "annotations": empty or None,
                                 "service_port": empty})
    assert "ingressClassName" not in obj["spec"]
    assert "tls" not in obj["spec"]
    assert obj["metadata"]["annotations"] == {}
    assert obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "https"}


def test_ingress_objects_do_not_share_their_labels():
    first = argocd_ingress_object({"host": "a"})
    first["metadata"]["labels"]["x"] = "y"
    assert "x" not in argocd_ingress_object({"host": "b"})["metadata"]["labels"]


# AppProjects --------------------------------------------------------------------------------

def test_projects_default_locked_then_platform_then_team():
    team = {"name": "team-a", "source_repos": ["https://t"], "destinations": [{"server": IN_CLUSTER, "namespace": "team-a"}]}
    projects = argocd_role_projects(settings(projects=[team]))
    assert [p["name"] for p in projects] == ["default", "platform", "team-a"]
    default, platform, got_team = projects
    assert default["source_repos"] == [] and default["destinations"] == [] and default["cluster_resource_whitelist"] == []
    assert default["namespace_resource_blacklist"] == [{"group": "*", "kind": "*"}]
    assert platform["source_repos"] == [REPO]
    assert platform["destinations"] == [{"server": IN_CLUSTER, "namespace": "*"}]
    assert platform["cluster_resource_whitelist"] == [{"group": "*", "kind": "*"}]
    assert platform["namespace_resource_blacklist"] is None
    assert platform["roles"] == []
    assert got_team == team


def test_projects_build_into_appprojects_with_the_module_code():
    objects = argocd_project_objects(argocd_role_projects(settings()), "argocd")
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in objects] == [
        ("AppProject", "default", "argocd"), ("AppProject", "platform", "argocd")]
    assert objects[1]["spec"]["sourceRepos"] == [REPO]


def test_projects_unlocked_default_and_disabled_platform_leave_only_team_projects():
    assert argocd_role_projects(settings(default_project_locked=False, platform_project={"enabled": False})) == []


def test_platform_project_settings_override_the_defaults():
    platform = {"name": "infra", "description": "ours", "source_repos": ["https://other"],
                "destinations": [{"server": "https://x", "namespace": "a"}], "cluster_resource_whitelist": [],
                "namespace_resource_blacklist": [{"group": "", "kind": "Secret"}]}
    (got,) = argocd_role_projects(settings(default_project_locked=False, platform_project=platform))
    assert got == dict(platform, roles=[])


def test_platform_project_without_infra_repo_has_no_sources():
    (dummy, platform) = argocd_role_projects(settings(infra_repo_url=""))
    assert platform["source_repos"] == []


def test_platform_project_explicit_null_description_is_kept():
    (dummy, platform) = argocd_role_projects(settings(platform_project={"description": None}))
    assert platform["name"] == "platform"
    assert platform["description"] is None


def test_projects_do_not_share_the_locked_default():
    first = argocd_role_projects(settings())
    first[0]["namespace_resource_blacklist"].append({"group": "x", "kind": "y"})
    assert argocd_role_projects(settings())[0]["namespace_resource_blacklist"] == [{"group": "*", "kind": "*"}]


# Applications -------------------------------------------------------------------------------

def test_applications_root_and_self_management():
    root, self_manage = argocd_role_applications(settings())
    retry = {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "max_duration": "3m"}}
    assert root == {
        "name": "root", "path": "clusters/prod-eu1", "project": "platform", "destination_namespace": "argocd",
        "finalizer": True,
        "sync_policy": {"automated": True, "prune": True, "self_heal": True, "sync_options": ["ServerSideApply=true"],
                        "retry": retry},
    }
    spec = _layout.argocd_self_manage_spec("argocd")
    assert self_manage["name"] == "argocd"
    assert self_manage["finalizer"] is False
    assert self_manage["sync_policy"]["prune"] is False
    assert self_manage["sync_policy"]["sync_options"] == spec["syncPolicy"]["syncOptions"]
    assert self_manage["sync_policy"]["retry"] == retry
    assert self_manage["spec"] == {"ignoreDifferences": spec["ignoreDifferences"]}


def test_applications_build_into_argo_cd_applications_with_the_module_code():
    objects = argocd_application_objects(argocd_role_applications(settings()), "argocd", REPO, "HEAD", IN_CLUSTER)
    assert [o["metadata"]["name"] for o in objects] == ["root", "argocd"]
    assert objects[0]["spec"]["source"]["repoURL"] == REPO
    assert objects[0]["spec"]["destination"]["server"] == IN_CLUSTER
    assert objects[1]["spec"]["ignoreDifferences"][0]["name"] == "argocd-ssh-known-hosts-cm"


def test_applications_use_default_project_without_platform_and_retry_defaults():
    (root,) = argocd_role_applications(settings(platform_project={"enabled": False}, self_manage=False,
                                                root_app_retry={"limit": 2}))
    assert root["project"] == "default"
    assert root["sync_policy"]["retry"] == {"limit": 2, "backoff": {"duration": "5s", "factor": 2, "max_duration": "3m"}}


def test_applications_none_when_both_are_off():
    assert argocd_role_applications(settings(root_app_enabled=False, self_manage=False)) == []


def test_applications_refuse_an_invalid_namespace_for_self_management():
    with pytest.raises(AnsibleFilterError, match="argocd_role_applications"):
        argocd_role_applications(settings(namespace="Bad_NS"))
