# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the roles' settings checks in plugins/filter/role_settings.py."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.filter.role_settings import (
    FilterModule,
    argocd_spoke_settings_errors,
    infra_repo_settings_errors,
    rbac_lockdown_settings_errors,
)


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "argocd_spoke_settings_errors", "infra_repo_settings_errors", "rbac_lockdown_settings_errors"}


@pytest.mark.parametrize("check", [argocd_spoke_settings_errors, infra_repo_settings_errors, rbac_lockdown_settings_errors])
def test_settings_must_be_a_dict(check):
    with pytest.raises(AnsibleFilterError, match="expected a dict"):
        check(["not", "a", "dict"])


# argocd_spoke -------------------------------------------------------------------------------

def spoke(**overrides):
    base = {
        "state": "present", "hub_host": "hub", "hub_known": True, "inventory_hostname": "spoke1",
        "namespaces": ["team-a", "team-b"], "service_account": "argocd-spoke", "service_account_namespace": "argocd-spoke",
        "secret_name": "cluster-spoke1",
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        "cluster_resources": [], "insecure": False, "ca_data": "", "token_timeout": 60,
        "kubeconfig": "/k/spoke.yaml", "context": "", "hub_kubeconfig": "/k/hub.yaml", "hub_context": "",
    }
    base.update(overrides)
    return base


def test_spoke_defaults_are_valid():
    assert argocd_spoke_settings_errors(spoke()) == []


@pytest.mark.parametrize("overrides, words", [
    ({"hub_known": False, "hub_host": "nohub"}, 'argocd_spoke_hub_host "nohub" is not a host of the inventory'),
    ({"namespaces": []}, "argocd_spoke_namespaces is empty"),
    ({"namespaces": ["team-a", "team-b\n"]}, "argocd_spoke_namespaces entry 'team-b\\n' is not a valid DNS-1123 label"),
    ({"namespaces": ["Not_A_Namespace"]}, "invalid namespace names"),
    ({"service_account_namespace": "Bad"}, "argocd_spoke_service_account_namespace"),
    ({"service_account": "bad_sa"}, "argocd_spoke_service_account"),
    ({"namespaces": ["argocd-spoke"]}, "Keep the ServiceAccount in a namespace of its own"),
    ({"secret_name": "cluster-"}, "Set argocd_spoke_cluster_secret_name."),
    ({"rules": [{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}]}, "list API groups, resources and verbs explicitly"),
    ({"rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]}, "contain '*'"),
    ({"rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"]}]}, "escalate, bind or impersonate"),
    ({"cluster_resources": [{"group": "apps"}]}, "needs a kind"),
    ({"insecure": True, "ca_data": "LS0t"}, "cannot be combined with argocd_spoke_ca_data"),
    ({"token_timeout": 0}, "argocd_spoke_token_timeout must be a positive number"),
    ({"token_timeout": True}, "argocd_spoke_token_timeout must be a positive number"),
    ({"hub_kubeconfig": ""}, "The kubeconfig of the hub hub is unknown"),
    ({"hub_kubeconfig": "/k/spoke.yaml"}, "a cluster cannot be its own spoke"),
])
def test_spoke_bad_settings_name_the_variable(overrides, words):
    errors = argocd_spoke_settings_errors(spoke(**overrides))
    assert len(errors) == 1, errors
    assert words in errors[0]


def test_spoke_absent_needs_no_namespaces():
    assert argocd_spoke_settings_errors(spoke(state="absent", namespaces=[])) == []


def test_spoke_unknown_hub_is_not_also_reported_as_unknown_kubeconfig():
    errors = argocd_spoke_settings_errors(spoke(hub_known=False, hub_kubeconfig=""))
    assert len(errors) == 1 and "is not a host of the inventory" in errors[0]


def test_spoke_same_kubeconfig_but_other_context_is_allowed():
    assert argocd_spoke_settings_errors(spoke(hub_kubeconfig="/k/spoke.yaml", hub_context="hub")) == []


def test_spoke_reports_every_problem_at_once_and_each_rule_once():
    rule = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*", "escalate"]}
    errors = argocd_spoke_settings_errors(spoke(namespaces=[], insecure=True, ca_data="x", token_timeout=-1, rules=[rule]))
    assert len(errors) == 5, errors
    wild = [e for e in errors if "contain '*'" in e]
    assert wild and wild[0].count('"apiGroups"') == 1


# infra_repo ---------------------------------------------------------------------------------

def infra(**overrides):
    base = {"url": "/srv/infra", "cluster": "prod", "timeout": 120, "pull_request": False, "forge": "",
            "forge_token_set": False, "forge_api_url": ""}
    base.update(overrides)
    return base


def test_infra_repo_defaults_are_valid():
    assert infra_repo_settings_errors(infra()) == []


@pytest.mark.parametrize("overrides, words", [
    ({"url": ""}, "set infra_repo_url"),
    ({"cluster": ""}, "infra_repo_cluster (the cluster's name)"),
    ({"timeout": 0}, "infra_repo_timeout must be a positive number of seconds (got 0)"),
    ({"timeout": "soon"}, "infra_repo_timeout must be a positive number of seconds (got soon)"),
    ({"pull_request": True}, "infra_repo_pull_request needs infra_repo_forge"),
    ({"pull_request": True, "forge": "github"}, "infra_repo_forge_token"),
    ({"pull_request": True, "forge": "gitea", "forge_token_set": True}, "for Gitea, infra_repo_forge_api_url"),
])
def test_infra_repo_bad_settings_name_the_variable(overrides, words):
    errors = infra_repo_settings_errors(infra(**overrides))
    assert len(errors) == 1, errors
    assert words in errors[0]


@pytest.mark.parametrize("overrides", [
    {"pull_request": True, "forge": "github", "forge_token_set": True},
    {"pull_request": True, "forge": "gitea", "forge_token_set": True, "forge_api_url": "http://127.0.0.1:3000"},
    {"pull_request": False, "forge": "gitea"},
])
def test_infra_repo_pull_request_mode_with_its_forge_is_valid(overrides):
    assert infra_repo_settings_errors(infra(**overrides)) == []


# rbac_lockdown ------------------------------------------------------------------------------

def lockdown(**overrides):
    base = {"mode": "audit", "break_glass_groups": [], "developer_groups": [], "allow_subjects": [], "revoke_subjects": [],
            "readonly_rules": [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "watch"]}]}
    base.update(overrides)
    return base


def test_lockdown_audit_defaults_are_valid():
    assert rbac_lockdown_settings_errors(lockdown()) == []


def test_lockdown_enforce_needs_a_break_glass_group():
    errors = rbac_lockdown_settings_errors(lockdown(mode="enforce"))
    assert len(errors) == 1 and "rbac_lockdown_break_glass_groups is empty" in errors[0]
    assert rbac_lockdown_settings_errors(lockdown(mode="enforce", break_glass_groups=["admins"])) == []


def test_lockdown_group_conflicts():
    errors = rbac_lockdown_settings_errors(lockdown(
        break_glass_groups=["dev"],
        developer_groups=[{"name": "dev"}, {"name": "dev"}, {"name": "qa"}],
        allow_subjects=[{"kind": "Group", "name": "qa"}]))
    assert errors == [
        'Developer group "dev" is listed more than once in rbac_lockdown_developer_groups; list each group once with all its namespaces.',
        'Group "dev" is both a developer group and a break-glass group; a group is either read-only or cluster-admin.',
        'Group "dev" is both a developer group and a break-glass group; a group is either read-only or cluster-admin.',
        'Group "qa" is a developer group and on rbac_lockdown_allow_subjects; developer groups are read-only, remove it from one of the lists.',
    ]


def test_lockdown_subjects():
    user = {"kind": "User", "name": "ann"}
    errors = rbac_lockdown_settings_errors(lockdown(
        allow_subjects=[user, {"kind": "ServiceAccount", "name": "ci"}],
        revoke_subjects=[dict(user), {"kind": "ServiceAccount", "name": "old", "namespace": ""}]))
    assert errors == [
        'ServiceAccount "ci" in rbac_lockdown_allow_subjects/rbac_lockdown_revoke_subjects needs a namespace.',
        'ServiceAccount "old" in rbac_lockdown_allow_subjects/rbac_lockdown_revoke_subjects needs a namespace.',
        "User ann is both on rbac_lockdown_allow_subjects and rbac_lockdown_revoke_subjects.",
    ]


@pytest.mark.parametrize("rule, words", [
    ({"resources": ["pods"], "verbs": ["get", "delete", "delete"]}, "grants delete on pods; the read-only role"),
    ({"nonResourceURLs": ["/metrics"], "verbs": ["post"]}, "grants post on /metrics"),
    ({"resources": ["secrets"], "verbs": ["get"]}, "covers Secrets (secrets)"),
    ({"resources": ["*"], "verbs": ["get"]}, "covers Secrets (*)"),
    ({"resources": ["pods/exec"], "verbs": ["get"]}, "covers pods/exec, which reach into running containers"),
    ({"resources": ["services/proxy\n"], "verbs": ["get"]}, "reach into running containers"),
])
def test_lockdown_readonly_rules(rule, words):
    errors = rbac_lockdown_settings_errors(lockdown(readonly_rules=[rule]))
    assert len(errors) == 1, errors
    assert words in errors[0]
