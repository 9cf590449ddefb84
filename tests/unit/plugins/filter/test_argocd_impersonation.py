# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the sync impersonation filters (plugins/filter/argocd_impersonation.py): from the
role's projects to ServiceAccounts, Roles, RoleBindings and each project's destinationServiceAccounts."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.filter.argocd_impersonation import (
    FilterModule,
    controller_least_privilege_errors,
    controller_objects,
    guess_resource,
    sync_identity_errors,
    sync_identity_objects,
    sync_identity_projects,
    sync_impersonation_keys,
)
from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import argocd_project_objects, argocd_role_projects

SERVER = "https://kubernetes.default.svc"


def settings(**over):
    s = {
        "namespace": "argocd", "flavour": "cluster", "in_cluster_server": SERVER, "infra_repo_url": "https://git.example.test/infra.git",
        "default_project_locked": True, "platform_project": {}, "sync_impersonation": True,
        "projects": [{"name": "team-a", "source_repos": ["https://git.example.test/a.git"],
                      "destinations": [{"server": SERVER, "namespace": "team-a"}, {"name": "in-cluster", "namespace": "team-a-dev"}],
                      "namespace_resource_whitelist": [{"group": "apps", "kind": "Deployment"}, {"group": "", "kind": "ConfigMap"},
                                                       {"group": "networking.k8s.io", "kind": "Ingress"},
                                                       {"group": "networking.k8s.io", "kind": "NetworkPolicy"}]}],
    }
    s.update(over)
    return s


def by_kind(objects, kind):
    return {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects if o["kind"] == kind}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"argocd_sync_identity_errors", "argocd_sync_identity_projects",
                                             "argocd_sync_identity_objects", "argocd_sync_impersonation_keys",
                                             "argocd_controller_least_privilege_errors", "argocd_controller_objects"}


def test_team_project_gets_one_account_per_namespace_bound_to_its_allow_list():
    s = settings()
    objects = sync_identity_objects(argocd_role_projects(s), s)
    accounts = by_kind(objects, "ServiceAccount")
    assert set(accounts) == {("argocd", "argocd-sync-platform"), ("argocd", "argocd-sync-team-a-team-a"),
                             ("argocd", "argocd-sync-team-a-team-a-dev")}
    roles = by_kind(objects, "Role")
    assert set(roles) == {("team-a", "argocd-sync-team-a"), ("team-a-dev", "argocd-sync-team-a")}
    rules = roles[("team-a", "argocd-sync-team-a")]["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    ]
    for rule in rules:
        assert not {"escalate", "bind", "impersonate", "*"} & set(rule["verbs"])
    bindings = by_kind(objects, "RoleBinding")
    binding = bindings[("team-a-dev", "argocd-sync-team-a")]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "argocd-sync-team-a"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "argocd-sync-team-a-team-a-dev", "namespace": "argocd"}]
    # Nothing cluster-scoped for a team; the namespaces come before what lives in them.
    assert not by_kind(objects, "ClusterRole")
    assert [o["metadata"]["name"] for o in objects[:2]] == ["team-a", "team-a-dev"]
    assert all(o["kind"] == "Namespace" for o in objects[:2])


def test_platform_identity_is_cluster_wide():
    s = settings(projects=[])
    objects = sync_identity_objects(argocd_role_projects(s), s)
    crb = by_kind(objects, "ClusterRoleBinding")[(None, "gitops-bootstrap:argocd-sync:argocd:platform")]
    assert crb["roleRef"]["name"] == "cluster-admin"
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "argocd-sync-platform", "namespace": "argocd"}]


def test_projects_name_their_accounts_and_reach_the_appproject():
    s = settings()
    projects = sync_identity_projects(argocd_role_projects(s), s)
    objs = {o["metadata"]["name"]: o for o in argocd_project_objects(projects, "argocd")}
    assert objs["team-a"]["spec"]["destinationServiceAccounts"] == [
        {"server": SERVER, "namespace": "team-a", "defaultServiceAccount": "argocd:argocd-sync-team-a-team-a"},
        {"server": SERVER, "namespace": "team-a-dev", "defaultServiceAccount": "argocd:argocd-sync-team-a-team-a-dev"},
    ]
    assert objs["platform"]["spec"]["destinationServiceAccounts"] == [
        {"server": SERVER, "namespace": "*", "defaultServiceAccount": "argocd:argocd-sync-platform"}]
    # The locked default project deploys nowhere and gets no account.
    assert "destinationServiceAccounts" not in objs["default"]["spec"]


def test_off_changes_nothing():
    s = settings(sync_impersonation=False)
    projects = argocd_role_projects(s)
    assert sync_identity_projects(projects, s) == projects
    assert sync_identity_objects(projects, s) == []
    assert sync_identity_errors(s) == []
    assert sync_impersonation_keys(s) == {}
    assert sync_impersonation_keys(settings()) == {"application.sync.impersonation.enabled": "true",
                                                   "application.sync.impersonation.enforced": "false"}
    assert sync_impersonation_keys(settings(sync_impersonation_enforced=True))["application.sync.impersonation.enforced"] == "true"


def test_no_allow_list_is_every_namespaced_resource_without_escalation():
    s = settings(projects=[{"name": "b", "source_repos": ["x"], "destinations": [{"server": SERVER, "namespace": "b"}],
                            "namespace_resource_blacklist": [{"group": "", "kind": "ResourceQuota"}],
                            "cluster_resource_whitelist": [{"group": "*", "kind": "*"}]}])
    role = by_kind(sync_identity_objects(argocd_role_projects(s), s), "Role")[("b", "argocd-sync-b")]
    assert role["rules"] == [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]


def test_a_destination_on_another_cluster_gets_no_identity_and_is_not_refused():
    """A spoke destination syncs with the spoke's cluster Secret credential (argocd_spoke's account), not an identity here."""
    spoke = {"server": "https://spoke.example.test:6443", "namespace": "a"}
    s = settings(projects=[{"name": "c", "source_repos": ["x"], "destinations": [spoke, {"server": SERVER, "namespace": "c"}]}])
    assert sync_identity_errors(s) == []
    project = [p for p in sync_identity_projects(argocd_role_projects(s), s) if p["name"] == "c"][0]
    assert [d["namespace"] for d in project["destination_service_accounts"]] == ["c"]
    assert all(d["server"] == SERVER for d in project["destination_service_accounts"])
    objects = sync_identity_objects(argocd_role_projects(s), s)
    assert "a" not in {o["metadata"].get("namespace") for o in objects} | {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}


@pytest.mark.parametrize("dest, what", [
    ({"server": SERVER, "namespace": "team-*"}, "is a pattern"),
    ({"server": SERVER, "namespace": ""}, "is a pattern"),
])
def test_destinations_the_role_cannot_serve_are_refused(dest, what):
    s = settings(projects=[{"name": "c", "source_repos": ["x"], "destinations": [dest]}])
    errors = sync_identity_errors(s)
    assert len(errors) == 1 and what in errors[0] and "argocd_sync_impersonation: false" in errors[0], errors
    with pytest.raises(AnsibleFilterError, match=what):
        sync_identity_objects(argocd_role_projects(s), s)


def test_own_accounts_are_kept_and_no_identity_is_created():
    own = [{"server": "https://spoke.example.test:6443", "namespace": "a", "default_service_account": "a:deployer"}]
    s = settings(projects=[{"name": "c", "source_repos": ["x"], "destinations": [{"server": "https://spoke.example.test:6443", "namespace": "a"}],
                            "destination_service_accounts": own}])
    assert sync_identity_errors(s) == []
    projects = sync_identity_projects(argocd_role_projects(s), s)
    assert [p for p in projects if p["name"] == "c"][0]["destination_service_accounts"] == own
    assert not [o for o in sync_identity_objects(projects, s) if "-c-" in o["metadata"]["name"] or o["metadata"].get("namespace") == "a"]


def test_namespace_flavour_is_refused_and_colliding_accounts_are_named():
    assert "namespace flavour" in sync_identity_errors(settings(flavour="namespace"))[0].replace("argocd_flavour namespace", "namespace flavour")
    s = settings(projects=[{"name": "a-b", "source_repos": ["x"], "destinations": [{"server": SERVER, "namespace": "c"}]},
                           {"name": "a", "source_repos": ["x"], "destinations": [{"server": SERVER, "namespace": "b-c"}]}])
    errors = sync_identity_errors(s)
    assert len(errors) == 1 and "argocd-sync-a-b-c" in errors[0], errors


def test_invalid_account_in_project_is_refused():
    with pytest.raises(AnsibleFilterError, match="default_service_account"):
        argocd_project_objects([{"name": "d", "source_repos": ["x"], "destinations": [{"server": SERVER, "namespace": "d"}],
                                 "destination_service_accounts": [{"server": SERVER, "namespace": "*", "default_service_account": "*"}]}])


def test_repository_mode_splits_the_platform_identity_from_the_team_identities():
    """Repository mode: the platform identity is a bootstrap object, the team identities go into the repository."""
    s = settings(config_source="repository")
    assert sync_identity_errors(settings(config_source="repository", projects=[
        {"name": "c", "source_repos": ["x"], "destinations": [{"server": SERVER, "namespace": "team-*"}]}]))
    projects = {p["name"]: p for p in sync_identity_projects(argocd_role_projects(s), s)}
    assert [d["default_service_account"] for d in projects["team-a"]["destination_service_accounts"]] == [
        "argocd:argocd-sync-team-a-team-a", "argocd:argocd-sync-team-a-team-a-dev"]
    platform = sync_identity_objects(argocd_role_projects(s), s, "platform")
    assert [(o["kind"], o["metadata"]["name"]) for o in platform] == [
        ("ServiceAccount", "argocd-sync-platform"), ("ClusterRoleBinding", "gitops-bootstrap:argocd-sync:argocd:platform")]
    teams = sync_identity_objects(argocd_role_projects(s), s, "teams")
    assert set(by_kind(teams, "ServiceAccount")) == {("argocd", "argocd-sync-team-a-team-a"), ("argocd", "argocd-sync-team-a-team-a-dev")}
    assert not by_kind(teams, "ClusterRoleBinding")
    everything = sync_identity_objects(argocd_role_projects(s), s)
    assert sorted(map(str, everything)) == sorted(map(str, platform + teams))
    assert [o["kind"] for o in teams[:2]] == ["Namespace", "Namespace"], "a RoleBinding's namespace comes before it"
    with pytest.raises(AnsibleFilterError, match="part must be all, platform or teams"):
        sync_identity_objects([], s, "")


def lp_settings(**over):
    return settings(**dict({"config_source": "repository", "sync_impersonation_enforced": True, "controller_least_privilege": True,
                            "self_manage": True}, **over))


def test_controller_keeps_reading_and_may_impersonate_the_named_accounts_alone():
    s = lp_settings()
    projects = sync_identity_projects(argocd_role_projects(s), s)
    projects.append({"name": "own", "destinations": [{"server": SERVER, "namespace": "own"}],
                     "destination_service_accounts": [{"server": SERVER, "namespace": "own", "default_service_account": "own:deployer"},
                                                      {"server": SERVER, "namespace": "own-2", "default_service_account": "deployer"}]})
    out = controller_objects(projects, s)
    (cluster_role,) = out["patches"]
    assert cluster_role["kind"] == "ClusterRole" and cluster_role["metadata"]["name"] == "argocd-application-controller"
    verbs = {v for rule in cluster_role["rules"] for v in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}, "the controller's own ClusterRole writes nothing"
    roles = by_kind(out["objects"], "Role")
    assert roles[("argocd", "argocd-application-controller-sync-identities")]["rules"] == [{
        "apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"],
        "resourceNames": ["argocd-sync-platform", "argocd-sync-team-a-team-a", "argocd-sync-team-a-team-a-dev"]}]
    assert roles[("own", "argocd-application-controller-sync-identities")]["rules"][0]["resourceNames"] == ["deployer"]
    assert roles[("own-2", "argocd-application-controller-sync-identities")]["rules"][0]["resourceNames"] == ["deployer"]
    for binding in by_kind(out["objects"], "RoleBinding").values():
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "argocd-application-controller", "namespace": "argocd"}]
    assert controller_least_privilege_errors(s) == []


def test_controller_least_privilege_off_or_impossible():
    s = settings(controller_least_privilege=False)
    assert controller_objects(argocd_role_projects(s), s) == {"patches": [], "objects": []}
    assert controller_least_privilege_errors(s) == []
    errors = controller_least_privilege_errors(lp_settings(sync_impersonation_enforced=False))
    assert len(errors) == 1 and "argocd_sync_impersonation_enforced" in errors[0]
    errors = controller_least_privilege_errors(dict(lp_settings(), config_source="inventory"))
    assert len(errors) == 1 and "argocd_self_manage" in errors[0] and "upstream's ClusterRole back" in errors[0]
    assert controller_least_privilege_errors(dict(lp_settings(), config_source="inventory", self_manage=False)) == []


@pytest.mark.parametrize("kind, resource", [("Deployment", "deployments"), ("Ingress", "ingresses"), ("NetworkPolicy", "networkpolicies"),
                                            ("Endpoints", "endpoints"), ("Gateway", "gateways"), ("*", "*")])
def test_resource_names(kind, resource):
    assert guess_resource(kind) == resource
