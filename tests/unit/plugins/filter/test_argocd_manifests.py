# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the filters in plugins/filter/argocd_manifests.py.

Rendering is checked on the real upstream manifests (GITOPS_ARGOCD_MANIFESTS, default
../shared/argocd beside the repository); the settings checks on hand-made settings.
"""


import json
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import (
    FilterModule,
    argocd_config_maps,
    argocd_inline_secrets,
    argocd_manifests,
    argocd_settings_errors,
)

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS") or os.path.join(ROOT, "..", "shared", "argocd")
ROLE_VARS = os.path.join(ROOT, "roles", "argocd", "vars", "main.yml")


def upstream(version, name):
    path = os.path.join(MANIFESTS, version, name)
    if not os.path.exists(path):
        pytest.skip("upstream manifests not found at %s" % path)
    with open(path) as fh:
        return fh.read()


def known_checksums():
    with open(ROLE_VARS) as fh:
        return yaml.safe_load(fh)["argocd_known_manifest_checksums"]


def settings(**overrides):
    """Settings as the role passes them with its defaults (see roles/argocd/vars/main.yml)."""
    base = {
        "version": "v3.5.1",
        "flavour": "cluster",
        "namespace": "argocd",
        "manifest_source": "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests",
        "manifest_checksums": {},
        "known_checksums": known_checksums(),
        "verify_checksum": True,
        "url": "",
        "reconciliation_timeout": "120s",
        "admin_enabled": False,
        "accounts": [],
        "oidc": {},
        "dex": {},
        "cm": {},
        "cmd_params": {},
        "ingress": {"enabled": False},
        "projects": [],
        "platform_project": {"enabled": True, "name": "platform"},
        "repository_names": [],
        "known_hosts": [],
        "rbac_policies": [],
        "rbac_groups": [],
        "rbac_match_mode": "glob",
        "rbac_policy_default": "",
        "cluster_name": "prod-eu1",
        "infra_repo_url": "https://git.example.test/infra.git",
        "root_app_enabled": True,
        "root_app_path": "clusters/prod-eu1",
        "self_manage": True,
        "self_manage_path": "clusters/prod-eu1/argocd",
    }
    base.update(overrides)
    return base


def test_filters_are_registered():
    assert set(FilterModule().filters()) == set(
        ["argocd_manifests", "argocd_inline_secrets", "argocd_settings_errors", "argocd_config_maps",
         "argocd_project_objects", "argocd_application_objects", "argocd_ingress_object", "argocd_role_projects",
         "argocd_role_applications"]
    )


# ------------------------------------------------------------------------- argocd_manifests
def test_install_is_placed_in_another_namespace_with_its_bindings():
    docs = argocd_manifests(upstream("v3.5.1", "install.yaml"), namespace="gitops-system")
    kinds = set(d["kind"] for d in docs)
    assert "CustomResourceDefinition" in kinds and "StatefulSet" in kinds
    for doc in docs:
        if doc["kind"] in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert "namespace" not in doc["metadata"], doc["metadata"]["name"]
        else:
            assert doc["metadata"]["namespace"] == "gitops-system", (doc["kind"], doc["metadata"]["name"])
    bindings = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert len(bindings) == 3
    for binding in bindings:
        assert [s["namespace"] for s in binding["subjects"]] == ["gitops-system"]
    # Nothing in the rendered objects still names the upstream namespace.
    assert '"namespace": "argocd"' not in json.dumps(docs)


def test_role_binding_subjects_without_namespace_stay_as_they_are():
    docs = argocd_manifests(upstream("v3.5.1", "namespace-install.yaml"), namespace="team")
    for doc in docs:
        if doc["kind"] == "RoleBinding":
            assert all("namespace" not in s for s in doc["subjects"])


def test_config_keys_are_merged_and_upstream_keys_kept():
    text = upstream("v3.5.1", "install.yaml")
    original = [d for d in yaml.load_all(text, Loader=LOADER) if d and d["metadata"]["name"] == "argocd-cm"][0]["data"]
    docs = argocd_manifests(
        text,
        config_maps={"argocd-cm": {"admin.enabled": False, "url": "https://a.example"}, "argocd-cmd-params-cm": {"server.insecure": True}},
        known_hosts=["git.example.test ssh-ed25519 AAAAC3Nza", "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"],
    )
    by_name = dict((d["metadata"]["name"], d) for d in docs if d["kind"] == "ConfigMap")
    cm = by_name["argocd-cm"]["data"]
    for key, value in original.items():
        assert cm[key] == value
    assert "resource.exclusions" in cm
    assert cm["admin.enabled"] == "false"
    assert cm["url"] == "https://a.example"
    assert by_name["argocd-cmd-params-cm"]["data"] == {"server.insecure": "true"}
    known = by_name["argocd-ssh-known-hosts-cm"]["data"]["ssh_known_hosts"].splitlines()
    assert known[-1] == "git.example.test ssh-ed25519 AAAAC3Nza"
    # A line upstream already ships is not added twice.
    assert len([line for line in known if line.startswith("github.com ssh-ed25519")]) == 1


def test_config_for_a_component_the_flavour_lacks_is_refused():
    with pytest.raises(AnsibleFilterError, match="argocd-notifications-cm is not part of these manifests"):
        argocd_manifests(upstream("v3.5.1", "core-install.yaml"), config_maps={"argocd-notifications-cm": {"x": "y"}})


def test_list_input_and_bad_input():
    docs = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}]
    assert argocd_manifests(docs, namespace="x")[0]["metadata"]["namespace"] == "x"
    assert "namespace" not in docs[0]["metadata"], "the input is not modified"
    with pytest.raises(AnsibleFilterError, match="expected the manifest text"):
        argocd_manifests(42)
    with pytest.raises(AnsibleFilterError, match="without kind"):
        argocd_manifests("apiVersion: v1\nmetadata: {name: a}\n")


# ------------------------------------------------------------------------- argocd_inline_secrets
def test_inline_secrets_are_found_and_references_accepted():
    dex = {
        "connectors": [
            {"type": "github", "id": "gh", "config": {"clientID": "abc", "clientSecret": "$dex.github.clientSecret"}},
            {"type": "ldap", "id": "ldap", "config": {"bindDN": "cn=x", "bindPW": "plain", "insecureNoSSL": False}},
            {"type": "oidc", "id": "o", "config": {"clientSecret": "$corp-sso:clientSecret", "privateKey": "-----BEGIN"}},
        ]
    }
    assert argocd_inline_secrets(dex) == ["connectors[1].config.bindPW", "connectors[2].config.privateKey"]
    assert argocd_inline_secrets({"clientSecret": "$oidc.clientSecret", "clientID": "argocd"}) == []
    assert argocd_inline_secrets("clientSecret: hunter2\nissuer: https://x\n") == ["clientSecret"]
    assert argocd_inline_secrets("") == []
    assert argocd_inline_secrets(None) == []


# ------------------------------------------------------------------------- argocd_settings_errors
def test_defaults_are_consistent():
    assert argocd_settings_errors(settings()) == []


def test_the_built_in_checksums_match_the_upstream_files():
    sums = {}
    path = os.path.join(MANIFESTS, "SHA256SUMS")
    if not os.path.exists(path):
        pytest.skip("no SHA256SUMS at %s" % path)
    with open(path) as fh:
        for line in fh:
            digest, name = line.split()
            version, rel = name[2:].split("/", 1)
            sums.setdefault(version, {})[rel] = digest
    assert known_checksums() == sums


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"version": "stable"}, "is not a released Argo CD tag"),
        ({"version": "v9.9.9"}, r"argocd_version v9.9.9 is not in the table of known versions \(v3.3.14, v3.4.7, v3.5.1\)"),
        ({"namespace": "Argo_CD"}, "argocd_namespace 'Argo_CD' is not a valid namespace name"),
        ({"flavour": "core", "ingress": {"enabled": True, "host": "a.example"}}, "core flavour has no argocd-server"),
        ({"ingress": {"enabled": True}}, "argocd_ingress.host is required"),
        ({"oidc": {"issuer": "https://x", "clientSecret": "$oidc.secret"}}, "argocd_url .* is required with argocd_oidc"),
        ({"url": "https://a", "dex": {"connectors": []}, "oidc": {"issuer": "https://x"}}, "both set"),
        ({"cm": {"oidc.config": "clientSecret: plain\n"}}, r"argocd_cm\[oidc.config\] holds secrets in clear text at clientSecret"),
        ({"cm": {"dex.config": "connectors: [\n"}}, r"argocd_cm\[dex.config\]: argocd_inline_secrets: the configuration is not valid YAML"),
        ({"url": "https://a", "oidc": {"issuer": "https://x", "clientSecret": "plain"}},
         r"argocd_oidc holds secrets in clear text at clientSecret\. A ConfigMap is readable by everyone"),
        ({"url": "https://a", "dex": {"connectors": [{"type": "github", "config": {"clientSecret": "plain"}}]}},
         r"argocd_dex holds secrets in clear text at .*clientSecret.*reference it as '\$<key>'"),
        ({"accounts": [{"name": "admin"}]}, "'admin' is the built-in user"),
        ({"accounts": [{"name": "ci"}, {"name": "ci"}]}, "account ci is listed twice"),
        ({"infra_repo_url": ""}, "argocd_infra_repo_url is required"),
        ({"cluster_name": "Prod EU"}, "argocd_cluster_name 'Prod EU' must be a DNS-1123 label"),
        ({"root_app_path": "../elsewhere"}, "must be a path relative to the repository root"),
        ({"projects": [{"name": "default", "source_repos": ["a"], "destinations": [{"server": "s"}]}]}, "managed by the role itself"),
        ({"projects": [{"name": "t", "source_repos": [], "destinations": [{"server": "s"}]}]}, "explicit, non-empty source_repos"),
        ({"repository_names": ["infra", "infra"]}, "repository infra is listed twice"),
        ({"known_hosts": ["git.example.test"]}, "is not in known_hosts format"),
        ({"manifest_checksums": {"v3.5.1": {"install.yaml": "abc"}}}, r"argocd_manifest_checksums\[v3.5.1\]\[install.yaml\] is not a sha256"),
        ({"rbac_policies": [{"subject": "role:dev", "resource": "applicaitons", "action": "get", "object": "*"}]},
         "resource 'applicaitons' is not an Argo CD resource"),
        ({"rbac_policy_default": "role:nobody"}, "argocd_rbac_policy_default 'role:nobody' is not a defined role"),
        ({"manifest_source": ""}, "argocd_manifest_source is empty"),
    ],
)
def test_each_inconsistency_is_named(overrides, expected):
    errors = argocd_settings_errors(settings(**overrides))
    assert any(__import__("re").search(expected, e) for e in errors), errors


def test_unknown_version_is_fine_from_a_local_copy_or_with_given_checksums():
    assert argocd_settings_errors(settings(version="v3.6.0", manifest_source="/srv/mirror/v3.6.0")) == []
    given = {"v3.6.0": {"install.yaml": "a" * 64}}
    assert argocd_settings_errors(settings(version="v3.6.0", manifest_checksums=given,
                                           manifest_source="https://mirror.example/v3.6.0/manifests")) == []
    # A given table that lacks the flavour's file is named.
    errors = argocd_settings_errors(settings(version="v3.6.0", manifest_checksums=given, flavour="ha"))
    assert any("no checksum is known for ha/install.yaml" in e for e in errors), errors


def test_secret_values_never_appear_in_errors():
    errors = argocd_settings_errors(settings(url="https://a", oidc={"issuer": "https://x", "clientSecret": "hunter2-value"}))
    assert errors and all("hunter2" not in e for e in errors)


def test_roles_from_policies_are_valid_defaults():
    policies = [{"subject": "role:viewer", "resource": "applications", "action": "get", "object": "*/*"}]
    assert argocd_settings_errors(settings(rbac_policies=policies, rbac_policy_default="role:viewer")) == []
    assert argocd_settings_errors(settings(rbac_policy_default="role:readonly")) == []


# ------------------------------------------------------------------------- argocd_config_maps
def test_config_maps_from_settings():
    out = argocd_config_maps(
        settings(
            url="https://argocd.example.test",
            accounts=[{"name": "ci", "capabilities": ["apiKey"]}, {"name": "alice", "enabled": False}],
            oidc={"name": "Corp", "issuer": "https://sso", "clientSecret": "$oidc.clientSecret", "requestedScopes": ["openid"]},
            cm={"exec.enabled": "false", "admin.enabled": "true"},
            cmd_params={"server.insecure": True},
        )
    )
    cm = out["argocd-cm"]
    assert cm["url"] == "https://argocd.example.test"
    assert cm["timeout.reconciliation"] == "120s"
    assert cm["accounts.ci"] == "apiKey"
    assert cm["accounts.alice"] == "login"
    assert cm["accounts.alice.enabled"] == "false"
    assert "accounts.ci.enabled" not in cm
    assert yaml.safe_load(cm["oidc.config"]) == {
        "name": "Corp", "issuer": "https://sso", "clientSecret": "$oidc.clientSecret", "requestedScopes": ["openid"]}
    # argocd_cm is merged last and wins.
    assert cm["admin.enabled"] == "true"
    assert cm["exec.enabled"] == "false"
    assert out["argocd-cmd-params-cm"] == {"server.insecure": True}
    assert argocd_config_maps(settings())["argocd-cm"] == {"admin.enabled": "false", "timeout.reconciliation": "120s"}


# ------------------------------------------------------------------------- objects the install step applies
def test_project_objects_match_what_argocd_project_builds():
    from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import argocd_project_objects

    objs = argocd_project_objects([
        {"name": "default", "source_repos": [], "destinations": [], "cluster_resource_whitelist": [],
         "namespace_resource_blacklist": [{"group": "*", "kind": "*"}]},
        {"name": "team-a", "source_repos": ["https://git.example/a.git"],
         "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-a", "name": None}]},
    ], "gitops")
    assert [o["metadata"] for o in objs] == [{"name": "default", "namespace": "gitops"}, {"name": "team-a", "namespace": "gitops"}]
    assert objs[0]["spec"] == {"sourceRepos": [], "destinations": [], "clusterResourceWhitelist": [],
                               "namespaceResourceBlacklist": [{"group": "*", "kind": "*"}]}
    assert objs[1]["spec"]["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "team-a"}]


def test_project_objects_refuse_bad_input_naming_the_project():
    from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import argocd_project_objects

    with pytest.raises(AnsibleFilterError) as err:
        argocd_project_objects([{"name": "team-a", "source_repos": ["x", "x"], "destinations": [{"namespace": "a"}]}])
    msg = str(err.value)
    assert "AppProject argocd/team-a is invalid" in msg and "listed twice" in msg and "needs server or name" in msg


def test_application_objects_take_the_repository_and_cluster_defaults():
    from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import argocd_application_objects

    (app,) = argocd_application_objects(
        [{"name": "root", "project": "platform", "path": "clusters/dev", "destination_namespace": "argocd", "finalizer": True,
          "sync_policy": {"automated": True, "prune": True, "self_heal": False, "sync_options": ["ServerSideApply=true"]}}],
        "argocd", "https://git.example/infra.git", "main", "https://kubernetes.default.svc")
    assert app["metadata"] == {"name": "root", "namespace": "argocd", "finalizers": ["resources-finalizer.argocd.argoproj.io"]}
    assert app["spec"]["source"] == {"repoURL": "https://git.example/infra.git", "path": "clusters/dev", "targetRevision": "main"}
    assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
    assert app["spec"]["syncPolicy"]["automated"] == {"enabled": True, "prune": True, "selfHeal": False, "allowEmpty": False}


def test_application_objects_refuse_a_missing_repository():
    from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import argocd_application_objects

    with pytest.raises(AnsibleFilterError) as err:
        argocd_application_objects([{"name": "root", "path": "clusters/dev", "destination_namespace": "argocd"}], "argocd")
    assert "Application argocd/root is invalid" in str(err.value)


def test_config_maps_carry_the_rbac_keys_argocd_rbac_writes():
    maps = argocd_config_maps({"rbac_policy_default": "", "rbac_groups": [{"group": "admins", "role": "role:admin"}],
                               "rbac_policies": [], "rbac_scopes": ["groups", "email"], "rbac_match_mode": "glob"})
    rbac = maps["argocd-rbac-cm"]
    assert rbac["policy.default"] == "" and rbac["policy.matchMode"] == "glob"
    assert rbac["scopes"] == "[groups, email]"
    assert "g, admins, role:admin" in rbac["policy.csv"]
    with pytest.raises(AnsibleFilterError) as err:
        argocd_config_maps({"rbac_policy_default": "", "rbac_groups": [{"group": "devs", "role": "role:nowhere"}]})
    assert "role:nowhere" in str(err.value)


# ------------------------------------------------------------------------- the role's RBAC lines
@pytest.mark.parametrize("effect", ["", "  ", None])
def test_role_rbac_refuses_an_empty_effect_naming_the_line(effect):
    policies = [{"subject": "role:dev", "resource": "applications", "action": "delete", "object": "dev/*", "effect": effect}]
    errors = argocd_settings_errors(settings(rbac_policies=policies))
    assert len(errors) == 1, errors
    assert "argocd_rbac_policies" in errors[0] and "policies[0] 'p, role:dev, applications, delete, dev/*, " in errors[0]
    assert "effect is empty" in errors[0]
    with pytest.raises(AnsibleFilterError, match="effect is empty"):
        argocd_config_maps({"rbac_policy_default": "", "rbac_policies": policies, "rbac_groups": []})


@pytest.mark.parametrize("field", ["subject", "resource", "action", "object"])
def test_role_rbac_refuses_any_blank_field(field):
    policy = {"subject": "role:dev", "resource": "applications", "action": "get", "object": "dev/*"}
    policy[field] = " "
    errors = argocd_settings_errors(settings(rbac_policies=[policy]))
    assert any("%s is empty" % field in e for e in errors), errors


def test_role_rbac_accepts_inheritance_from_a_built_in_role():
    groups = [{"group": "role:ops", "role": "role:readonly"}, {"group": "org:ops", "role": "role:ops"}]
    assert argocd_settings_errors(settings(rbac_groups=groups)) == []
    assert argocd_settings_errors(settings(rbac_groups=groups, rbac_policy_default="role:ops")) == []
    rbac = argocd_config_maps({"rbac_policy_default": "", "rbac_policies": [], "rbac_groups": groups})["argocd-rbac-cm"]
    assert rbac["policy.csv"] == "g, org:ops, role:ops\ng, role:ops, role:readonly\n"
    # a role that inherits only from an undefined one stays undefined
    cycle = [{"group": "role:a", "role": "role:b"}, {"group": "role:b", "role": "role:a"}]
    errors = argocd_settings_errors(settings(rbac_groups=cycle))
    assert any("role 'role:a' is not defined" in e for e in errors), errors
