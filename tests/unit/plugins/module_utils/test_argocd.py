# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline tests of the Argo CD helpers: spec generation and validation, policy lines,
status summaries, known_hosts merging and secret masking.

The same behaviour is exercised against a real API server in
tests/integration/test_argocd_modules.py; these cover the edge cases.
"""


import base64

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argocd as A
from ansible_collections.gitops.bootstrap.plugins.module_utils import _secrets as S


def app_params(**overrides):
    params = {
        "name": "demo",
        "namespace": "argocd",
        "project": "default",
        "repo_url": "https://git.example.com/infra.git",
        "path": "apps/demo",
        "target_revision": "HEAD",
        "destination_server": None,
        "destination_name": None,
        "destination_namespace": "demo",
        "sync_policy": {
            "automated": True,
            "prune": True,
            "self_heal": True,
            "allow_empty": False,
            "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "max_duration": "3m"}},
            "sync_options": [],
        },
        "finalizer": True,
        "labels": None,
        "annotations": None,
        "spec": None,
    }
    params.update(overrides)
    return params


def errmsg(func, *args, **kwargs):
    with pytest.raises(A.ArgoCDValidationError) as info:
        func(*args, **kwargs)
    return info.value.msg


# ---------------------------------------------------------------------------- names
@pytest.mark.parametrize("value", ["a", "demo", "team-a.apps", "x" * 253])
def test_valid_object_names(value):
    assert A.dns1123_subdomain_error(value, "name") is None


@pytest.mark.parametrize("value", ["", "Demo", "-a", "a-", "a_b", "x" * 254, "a..b"])
def test_invalid_object_names(value):
    assert A.dns1123_subdomain_error(value, "name")


def test_namespace_is_a_label():
    assert A.dns1123_label_error("team.a", "namespace")
    assert A.dns1123_label_error("x" * 64, "namespace")
    assert A.dns1123_label_error("team-a", "namespace") is None


def test_field_manager_names_fit_the_api_limit():
    name = A.field_manager_for("argocd-tls-certs-cm/" + "h" * 300)
    assert len(name) <= 128
    assert name != A.field_manager_for("argocd-tls-certs-cm/" + "h" * 301)
    assert A.field_manager_for("argocd-rbac-cm/policy.csv") == "gitops.bootstrap/argocd-rbac-cm/policy.csv"


# ---------------------------------------------------------------------------- Application spec
def test_application_defaults():
    app = A.build_application(app_params())
    spec = app["spec"]
    assert app["metadata"] == {"name": "demo", "namespace": "argocd", "finalizers": [A.RESOURCES_FINALIZER]}
    assert spec["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "demo"}
    assert spec["source"] == {"repoURL": "https://git.example.com/infra.git", "path": "apps/demo", "targetRevision": "HEAD"}
    assert spec["syncPolicy"]["automated"] == {"enabled": True, "prune": True, "selfHeal": True, "allowEmpty": False}
    assert spec["syncPolicy"]["retry"] == {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
    assert "syncOptions" not in spec["syncPolicy"]


def test_application_destination_name_replaces_default_server():
    spec = A.build_application(app_params(destination_name="prod"))["spec"]
    assert spec["destination"] == {"name": "prod", "namespace": "demo"}


def test_application_manual_sync_and_no_finalizer():
    params = app_params(finalizer=False)
    params["sync_policy"] = dict(params["sync_policy"], automated=False, sync_options=["CreateNamespace=true"])
    app = A.build_application(params)
    assert "finalizers" not in app["metadata"]
    assert "automated" not in app["spec"]["syncPolicy"]
    assert app["spec"]["syncPolicy"]["syncOptions"] == ["CreateNamespace=true"]


def test_application_needs_repo_url_and_path():
    msg = errmsg(A.build_application, app_params(repo_url=None, path=None))
    assert "no repository URL" in msg and "neither a path nor a Helm chart" in msg
    assert "2 problems" in msg


def test_application_chart_from_spec_replaces_path():
    app = A.build_application(app_params(path=None, spec={"source": {"chart": "ingress-nginx", "targetRevision": "4.11.3"}}))
    assert app["spec"]["source"]["chart"] == "ingress-nginx"
    assert app["spec"]["source"]["targetRevision"] == "4.11.3"
    assert app["spec"]["source"]["repoURL"] == "https://git.example.com/infra.git"


def test_application_spec_merges_over_generated_fields():
    app = A.build_application(app_params(spec={"source": {"directory": {"recurse": True}}, "revisionHistoryLimit": 3}))
    assert app["spec"]["source"]["path"] == "apps/demo"
    assert app["spec"]["source"]["directory"] == {"recurse": True}
    assert app["spec"]["revisionHistoryLimit"] == 3


def test_application_sources_from_spec():
    sources = [{"repoURL": "https://a.example/x.git", "path": "p"}, {"repoURL": "https://b.example/y.git", "ref": "values"}]
    app = A.build_application(app_params(repo_url=None, path=None, spec={"sources": sources}))
    assert "source" not in app["spec"]
    assert app["spec"]["sources"] == sources
    msg = errmsg(A.build_application, app_params(spec={"sources": sources}))
    assert "give the sources in one place only" in msg
    msg = errmsg(A.build_application, app_params(repo_url=None, path=None, spec={"sources": [{"path": "x"}]}))
    assert "spec.sources[0] has no repository URL" in msg


def test_application_both_destinations_refused():
    msg = errmsg(A.build_application, app_params(destination_server="https://k8s.example:6443", spec={"destination": {"name": "prod"}}))
    assert "both server" in msg and "only one" in msg


def test_application_destination_from_spec_gets_no_default_server():
    spec = A.build_application(app_params(spec={"destination": {"name": "prod"}}))["spec"]
    assert spec["destination"] == {"name": "prod", "namespace": "demo"}


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        ({"name": "Demo_App"}, "Application name 'Demo_App' is not a valid"),
        ({"destination_namespace": "Team A"}, "destination_namespace 'Team A'"),
        ({"path": "../other"}, "must not leave it"),
        ({"path": "/abs"}, "must be relative"),
        ({"destination_server": "kubernetes.default.svc"}, "must be the https:// URL"),
        ({"project": "Bad Project"}, "project 'Bad Project'"),
    ],
)
def test_application_bad_input_names_the_problem(overrides, fragment):
    assert fragment in errmsg(A.build_application, app_params(**overrides))


def test_application_bad_retry_and_options():
    params = app_params()
    params["sync_policy"] = dict(
        params["sync_policy"],
        retry={"limit": -2, "backoff": {"duration": "five", "factor": 0, "max_duration": "3m"}},
        sync_options=["CreateNamespace"],
    )
    msg = errmsg(A.build_application, params)
    assert "retry.limit" in msg and "backoff.duration 'five'" in msg and "factor must be at least 1" in msg
    assert "Name=value" in msg


# ---------------------------------------------------------------------------- status summaries
def app_with(status, spec=None, **extra):
    app = {"metadata": {"name": "demo", "namespace": "argocd"}, "spec": spec or {"source": {"repoURL": "u", "path": "p"}}, "status": status}
    app.update(extra)
    return app


def test_summary_without_status_says_the_controller_did_not_reconcile():
    summary = A.summarise_application(app_with({}))
    assert summary["sync"] == "Unknown" and summary["health"] == "Unknown"
    assert "controller has not reconciled" in summary["message"]
    assert not A.application_ready(app_with({}))


def test_summary_of_a_healthy_app():
    app = app_with({"sync": {"status": "Synced", "revision": "abc123"}, "health": {"status": "Healthy"}})
    summary = A.summarise_application(app)
    assert summary["message"] == "Synced and Healthy" and summary["reasons"] == []
    assert summary["revision"] == "abc123"
    assert A.application_ready(app)


def test_summary_names_out_of_sync_and_degraded_resources():
    status = {
        "sync": {"status": "OutOfSync", "revision": "abc"},
        "health": {"status": "Degraded"},
        "resources": [
            {"group": "apps", "kind": "Deployment", "namespace": "demo", "name": "web", "status": "OutOfSync",
             "health": {"status": "Degraded", "message": 'Deployment "web" exceeded its progress deadline'}},
            {"kind": "Service", "namespace": "demo", "name": "web", "status": "Synced", "health": {"status": "Healthy"}},
            {"kind": "ConfigMap", "namespace": "demo", "name": "cfg", "status": "OutOfSync"},
        ],
    }
    summary = A.summarise_application(app_with(status))
    assert [r["name"] for r in summary["resources_not_synced"]] == ["web", "cfg"]
    assert [r["kind"] for r in summary["resources_unhealthy"]] == ["Deployment"]
    assert "2 resource(s) not synced: apps/Deployment demo/web (OutOfSync), ConfigMap demo/cfg (OutOfSync)" in summary["message"]
    assert 'health is Degraded: apps/Deployment demo/web is Degraded: Deployment "web" exceeded its progress deadline' in summary["message"]


def test_summary_reports_conditions_and_failed_operations():
    status = {
        "sync": {"status": "Unknown"},
        "health": {"status": "Healthy"},
        "conditions": [{"type": "ComparisonError", "message": "repository not found"}],
        "operationState": {
            "phase": "Failed",
            "message": "one or more objects failed to apply",
            "syncResult": {"resources": [{"kind": "Job", "namespace": "demo", "name": "migrate", "status": "SyncFailed", "message": "field is immutable"}]},
        },
    }
    summary = A.summarise_application(app_with(status))
    assert "condition ComparisonError: repository not found" in summary["message"]
    assert "the last sync operation failed: one or more objects failed to apply (Job demo/migrate: field is immutable)" in summary["message"]
    assert summary["operation_phase"] == "Failed"


def test_summary_waits_for_pending_requests_and_current_spec():
    healthy = {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
    pending = app_with(healthy, operation={"sync": {}})
    assert "not been started" in A.summarise_application(pending)["message"]
    refresh = app_with(healthy)
    refresh["metadata"]["annotations"] = {A.REFRESH_ANNOTATION: "hard"}
    assert "hard refresh was requested" in A.summarise_application(refresh)["message"]
    stale = app_with(dict(healthy, sync={"status": "Synced", "comparedTo": {"source": {"repoURL": "u", "path": "old"}}}))
    assert not A.application_ready(stale)
    assert "has not yet compared the current spec" in A.summarise_application(stale)["message"]
    current = app_with(dict(healthy, sync={"status": "Synced", "comparedTo": {"source": {"repoURL": "u", "path": "p"}}}))
    assert A.application_ready(current)


# ---------------------------------------------------------------------------- RBAC lines
def pol(subject="role:team-a", resource="applications", action="get", obj="team-a/*", effect="allow"):
    return {"subject": subject, "resource": resource, "action": action, "object": obj, "effect": effect}


def test_policy_csv_is_sorted_and_deduplicated():
    policies = [pol(action="sync"), pol(), pol(resource="logs"), pol()]
    groups = [{"group": "org:b", "role": "role:team-a"}, {"group": "org:a", "role": "role:readonly"}]
    csv = A.build_policy_csv(policies, groups)
    assert csv == (
        "p, role:team-a, applications, get, team-a/*, allow\n"
        "p, role:team-a, applications, sync, team-a/*, allow\n"
        "p, role:team-a, logs, get, team-a/*, allow\n"
        "g, org:a, role:readonly\n"
        "g, org:b, role:team-a\n"
    )
    assert A.build_policy_csv(list(reversed(policies)), list(reversed(groups))) == csv
    assert A.build_policy_csv([], []) == ""


@pytest.mark.parametrize(
    "policy,fragment",
    [
        (pol(resource="applicaitons"), "resource 'applicaitons' is not an Argo CD resource"),
        (pol(resource="logs", action="sync"), "action 'sync' is not valid for resource 'logs'"),
        (pol(effect="permit"), "effect 'permit' must be allow or deny"),
        (pol(obj="team-a"), "must be written <project>/<name>"),
        (pol(subject="role:a,b"), "contains a comma"),
        (pol(subject=""), "subject is empty"),
        (pol(resource="exec", action="get"), "valid: create, *"),
    ],
)
def test_bad_policy_lines_are_named(policy, fragment):
    msg = errmsg(A.build_policy_csv, [pol(), policy], [])
    assert fragment in msg
    assert "policies[1]" in msg
    bad_line = A.render_p_line(policy["subject"], policy["resource"], policy["action"], policy["object"], policy["effect"])
    assert repr(bad_line) in msg


def test_every_bad_line_is_reported_at_once():
    msg = errmsg(A.build_policy_csv, [pol(resource="nope"), pol(), pol(effect="maybe")], [{"group": "g", "role": "role:ghost"}])
    assert "3 problems" in msg
    assert "policies[0]" in msg and "policies[2]" in msg and "groups[0]" in msg and "role:ghost" in msg


def test_valid_special_forms():
    policies = [
        pol(action="update/*"),
        pol(action="delete/apps/Deployment/*/*"),
        pol(action="action/apps/Deployment/restart"),
        pol(subject="role:ops", resource="*", action="*", obj="*"),
        pol(subject="role:ops", resource="clusters", action="get", obj="https://kubernetes.default.svc"),
        pol(subject="role:ops", resource="exec", action="create", obj="*/*", effect="deny"),
        pol(subject="role:ops", resource="extensions", action="invoke", obj="metrics"),
        pol(subject="role:ops", resource="write-repositories", action="get", obj="*"),
    ]
    csv = A.build_policy_csv(policies, [{"group": "org:ops", "role": "role:ops"}])
    assert "p, role:team-a, applications, action/apps/Deployment/restart, team-a/*, allow" in csv


def test_regex_match_mode_checks_patterns_against_known_names():
    A.build_policy_csv([pol(resource="applications|logs", action="get")], [], match_mode="regex")
    msg = errmsg(A.build_policy_csv, [pol(resource="app.*x", action="get")], [], match_mode="regex")
    assert "not an Argo CD resource" in msg


def test_g_lines_need_defined_roles():
    msg = errmsg(A.build_policy_csv, [], [{"group": "org:x", "role": "role:team-x"}])
    assert "role 'role:team-x' is not defined" in msg and "'g, org:x, role:team-x'" in msg
    # built-in roles, roles defined in this input, or in other policy keys are fine
    A.build_policy_csv([], [{"group": "org:x", "role": "role:admin"}])
    A.build_policy_csv([], [{"group": "org:x", "role": "role:team-x"}], other_roles={"role:team-x"})
    A.build_policy_csv([], [{"group": "org:x", "role": "role:team-x"}], check_roles=False)


def test_roles_defined_in_csv_text():
    text = "# comment\np, role:a, applications, get, */*, allow\n\ng, role:b, role:a\ng, someone, role:a\nbroken line\n"
    assert A.roles_defined_in_csv(text) == {"role:a", "role:b"}


def test_policy_key_names():
    assert A.policy_key(None) == "policy.csv"
    assert A.policy_key("auditors") == "policy.auditors.csv"
    assert "policy_name" in errmsg(A.policy_key, "bad name")


def test_an_empty_policy_name_never_takes_over_the_main_policy():
    for value in ("", "  "):
        assert "policy_name is empty" in errmsg(A.policy_key, value)
    assert "ends with a line break" in errmsg(A.policy_key, "auditors\n")


# ---------------------------------------------------------------------------- RBAC: empty fields never allow
@pytest.mark.parametrize("effect", ["", "   ", "\t", None])
def test_an_empty_effect_is_refused_never_allow(effect):
    msg = errmsg(A.build_policy_csv, [pol(action="delete", effect=effect)], [])
    assert "policies[0] 'p, role:team-a, applications, delete, team-a/*, " in msg
    assert "effect is empty" in msg


@pytest.mark.parametrize("field,label", [("subject", "subject"), ("resource", "resource"), ("action", "action"),
                                         ("object", "object"), ("effect", "effect")])
@pytest.mark.parametrize("value", ["", "  ", None])
def test_every_field_of_a_policy_line_must_be_given(field, label, value):
    policy = pol()
    policy[field] = value
    msg = errmsg(A.build_policy_csv, [pol(action="sync"), policy], [])
    assert "policies[1]" in msg and ("%s is empty" % label) in msg
    assert "policies[0]" not in msg


@pytest.mark.parametrize("field", ["group", "role"])
@pytest.mark.parametrize("value", ["", "  ", None])
def test_every_field_of_a_group_line_must_be_given(field, value):
    grp = {"group": "org:a", "role": "role:readonly"}
    grp[field] = value
    msg = errmsg(A.build_policy_csv, [], [grp])
    assert "groups[0]" in msg and ("%s is empty" % field) in msg


def test_effect_defaults_to_allow_only_when_left_out():
    policy = pol()
    del policy["effect"]
    assert A.build_policy_csv([policy], []) == "p, role:team-a, applications, get, team-a/*, allow\n"


# ---------------------------------------------------------------------------- RBAC: role inheritance
def test_a_role_inheriting_a_built_in_role_is_defined():
    groups = [{"group": "role:ops", "role": "role:readonly"}, {"group": "org:ops", "role": "role:ops"}]
    assert A.build_policy_csv([], groups) == "g, org:ops, role:ops\ng, role:ops, role:readonly\n"
    # the order of the lines does not matter
    assert A.build_policy_csv([], list(reversed(groups))) == "g, org:ops, role:ops\ng, role:ops, role:readonly\n"


def test_inheritance_chains_resolve_through_defined_roles():
    groups = [{"group": "org:c", "role": "role:c"}, {"group": "role:c", "role": "role:b"}, {"group": "role:b", "role": "role:a"}]
    A.build_policy_csv([pol(subject="role:a")], groups)
    msg = errmsg(A.build_policy_csv, [], groups)
    assert "groups[0] 'g, org:c, role:c'" in msg and "role 'role:c' is not defined" in msg
    assert "role 'role:a' is not defined" in msg and "no policy line grants it anything" in msg


def test_roles_that_only_inherit_from_each_other_are_not_defined():
    groups = [{"group": "role:a", "role": "role:b"}, {"group": "role:b", "role": "role:a"}, {"group": "org:x", "role": "role:a"}]
    msg = errmsg(A.build_policy_csv, [], groups)
    assert "3 problems" in msg
    assert "role 'role:a' is not defined: it inherits only from role:b, which is not defined either" in msg
    # a long cycle ends too
    ring = [("role:r%d" % i, "role:r%d" % ((i + 1) % 5000)) for i in range(5000)]
    assert A.resolve_defined_roles((), ring) == set(A.BUILTIN_ROLES)
    assert len(A.resolve_defined_roles({"role:r0"}, ring)) == 5000 + len(A.BUILTIN_ROLES)


def test_roles_defined_or_inherited_in_the_other_keys_count():
    groups = [{"group": "org:ops", "role": "role:ops"}]
    msg = errmsg(A.build_policy_csv, [], groups, other_policies=["g, role:ops, role:ghost\n"])
    assert "role 'role:ops' is not defined: it inherits only from role:ghost" in msg
    A.build_policy_csv([], groups, other_policies=["g, role:ops, role:readonly\n"])
    A.build_policy_csv([], groups, other_policies=["p, role:base, logs, get, */*, allow\n", "g, role:ops, role:base\n"])
    # this input's lines let a role of another key inherit, and the other way round
    A.build_policy_csv([], groups + [{"group": "role:ops", "role": "role:base"}],
                       other_policies=["p, role:base, logs, get, */*, allow\n"])


def test_read_policy_csv_names_lines_argo_cd_cannot_load():
    text = (
        "# a comment\n"
        "p, role:a, applications, get, */*, allow\n"
        "\n"
        'p, "role:q", applications, get, "*/*", allow\n'
        "g, role:b, role:a\n"
        "p, role:c, applications, get\n"
        "g, org:x\n"
        "x, role:a, role:b\n"
        'p, "role:d, applications, get, */*, allow\n'
        "g, org:y, \n"
    )
    grants, inherits, malformed = A.read_policy_csv(text)
    assert grants == {"role:a", "role:q"}
    assert inherits == [("role:b", "role:a")]
    assert [(n, line) for n, line, _r in malformed] == [
        (6, "p, role:c, applications, get"), (7, "g, org:x"), (8, "x, role:a, role:b"),
        (9, 'p, "role:d, applications, get, */*, allow'), (10, "g, org:y,"),
    ]
    reasons = [r for _n, _l, r in malformed]
    assert "6 non-empty fields" in reasons[0] and "3 non-empty fields" in reasons[1]
    assert "neither a p line nor a g line" in reasons[2] and "cannot be read as CSV" in reasons[3]


def test_malformed_lines_are_named_by_key_and_the_own_key_is_skipped():
    data = {"policy.csv": "p, role:a, logs, get, */*, allow\n", "policy.legacy.csv": "g, org:a\n",
            "policy.mine.csv": "broken\n", "policy.default": "broken", "scopes": "[groups]"}
    assert A.malformed_policy_lines(data, skip=("policy.mine.csv",)) == [
        ("policy.legacy.csv", 1, "g, org:a", "a g line has 3 non-empty fields (g, member, role)")]
    assert A.is_policy_csv_key("policy.csv") and A.is_policy_csv_key("policy.x.csv")
    assert not A.is_policy_csv_key("policy.default") and not A.is_policy_csv_key("policy.matchMode")


def test_policy_defined_roles_reads_several_keys_together():
    texts = ["p, role:base, logs, get, */*, allow\n", "g, role:ops, role:base\ng, role:x, role:y\n"]
    defined = A.policy_defined_roles(texts)
    assert {"role:base", "role:ops", "role:admin", "role:readonly"} <= defined
    assert "role:x" not in defined


# ---------------------------------------------------------------------------- AppProject roles
def test_project_role_policies_checked_like_argocd():
    good = {"name": "deployer", "policies": ["p, proj:team-a:deployer, applications, sync, team-a/*, allow"], "groups": ["org:team-a"]}
    assert A.project_role_errors("team-a", good) == []
    bad = {
        "name": "deployer",
        "policies": [
            "p, proj:team-b:deployer, applications, sync, team-a/*, allow",
            "p, proj:team-a:deployer, projects, get, team-a/*, allow",
            "p, proj:team-a:deployer, applications, sync, other/*, allow",
            "p, proj:team-a:deployer, applications, sync, team-a/*",
            "p, proj:team-a:deployer, applications, fly, team-a/*, allow",
        ],
        "groups": ["a,b"],
    }
    errors = A.project_role_errors("team-a", bad)
    text = " | ".join(errors)
    assert "subject must be proj:team-a:deployer, not proj:team-b:deployer" in text
    assert "resource 'projects' cannot be granted by a project role" in text
    assert "object must start with team-a/" in text
    assert "must have 6 fields" in text
    assert "action 'fly' is not valid" in text
    assert "group 'a,b'" in text
    assert A.project_role_errors("team-a", {"name": "bad name"})


def test_sync_window_checks():
    assert A.sync_window_errors({"kind": "allow", "schedule": "0 22 * * *", "duration": "1h", "applications": ["*"]}, 0) == []
    errors = A.sync_window_errors({"kind": "maybe", "schedule": "daily", "duration": "long"}, 2)
    assert len(errors) == 4 and all(e.startswith("sync_windows[2]") for e in errors)


# ---------------------------------------------------------------------------- repositories
@pytest.mark.parametrize(
    "url,host,port,ssh",
    [
        ("https://git.example.com/infra.git", "git.example.com", None, False),
        ("https://user@git.example.com:8443/infra.git", "git.example.com", "8443", False),
        ("git@github.com:org/repo.git", "github.com", None, True),
        ("ssh://git@git.example.com:2222/org/repo.git", "git.example.com", "2222", True),
        ("git@github.com:org", "github.com", None, True),
    ],
)
def test_repo_host_and_ssh(url, host, port, ssh):
    assert A.repo_host(url) == (host, port)
    assert A.is_ssh_url(url) is ssh


def test_known_hosts_merge_keeps_existing_lines():
    existing = "# upstream\ngithub.com ssh-ed25519 AAAA1\ngitlab.com ssh-rsa BBBB2\n"
    merged, added = A.merge_known_hosts(existing, ["gitlab.com   ssh-rsa  BBBB2", "git.example.com ssh-ed25519 CCCC3"])
    assert added == ["git.example.com ssh-ed25519 CCCC3"]
    assert merged == existing + "git.example.com ssh-ed25519 CCCC3\n"
    again, added_again = A.merge_known_hosts(merged, ["git.example.com ssh-ed25519 CCCC3"])
    assert again == merged and added_again == []
    fresh, fresh_added = A.merge_known_hosts(None, ["h ssh-ed25519 K"])
    assert fresh == "h ssh-ed25519 K\n" and fresh_added == ["h ssh-ed25519 K"]


def test_known_hosts_line_checks():
    assert A.known_hosts_line_error("git.example.com ssh-ed25519 AAAA") is None
    assert A.known_hosts_line_error("@cert-authority *.example.com ssh-rsa AAAA") is None
    assert "at least three fields" in A.known_hosts_line_error("git.example.com AAAA")
    assert "not an SSH key type" in A.known_hosts_line_error("git.example.com rsa AAAA")


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_masked_secret_shows_plain_keys_and_hides_secrets():
    before = {"kind": "Secret", "data": {"url": b64("https://x"), "username": b64("bot"), "password": b64("old-pass")}}
    after = {"kind": "Secret", "data": {"url": b64("https://x"), "username": b64("bot"), "password": b64("new-pass")}}
    shown_before = A.masked_secret(before)
    shown_after = A.masked_secret(after, other=before)
    assert shown_before["data"] == {"url": "https://x", "username": "bot", "password": S.MASK}
    assert shown_after["data"]["password"] == S.MASK_CHANGED
    assert "pass" not in repr(shown_before["data"]["password"]) + repr(shown_after["data"]["password"]).replace("hidden", "")
    same = A.masked_secret(before, other=before)
    assert same["data"]["password"] == S.MASK
    for obj in (shown_before, shown_after, same):
        text = repr(obj)
        assert "old-pass" not in text and "new-pass" not in text and b64("old-pass") not in text


# ---------------------------------------------------------------------------- helpers
def test_deep_merge_merges_dicts_and_replaces_lists():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = A.deep_merge(base, {"a": {"c": [3], "e": 2}})
    assert merged == {"a": {"b": 1, "c": [3], "e": 2}, "d": 1}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_data_as_text_renders_blocks():
    text = A.data_as_text({"policy.csv": "p, a\ng, b\n", "scopes": "[groups]", "gone": None})
    assert text == 'policy.csv: |\n  p, a\n  g, b\nscopes: "[groups]"\n'
