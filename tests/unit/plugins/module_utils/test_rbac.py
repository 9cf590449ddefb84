# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline tests of the RBAC engine: the edge cases of the authorizer's matching rules.

The same rules are checked against the real API server in tests/integration/test_rbac_audit.py;
these cover what is awkward to set up there.
"""


import json

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac


# ---------------------------------------------------------------------------- object helpers
def cr(name, rules=None, labels=None, aggregation=None):
    obj = {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": rules or []}
    if aggregation is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": aggregation}
    return obj


def role(ns, name, rules):
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules}


def crb(name, role_name, subjects, labels=None):
    return {
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": labels or {}},
        "roleRef": {"apiGroup": rbac.RBAC_GROUP, "kind": "ClusterRole", "name": role_name},
        "subjects": subjects,
    }


def rb(ns, name, role_kind, role_name, subjects, labels=None):
    return {
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "roleRef": {"apiGroup": rbac.RBAC_GROUP, "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def user(name):
    return {"kind": "User", "apiGroup": rbac.RBAC_GROUP, "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": rbac.RBAC_GROUP, "name": name}


def sa(name, ns=None):
    s = {"kind": "ServiceAccount", "name": name}
    if ns is not None:
        s["namespace"] = ns
    return s


def rule(verbs, groups=("",), resources=(), names=(), urls=()):
    r = {"verbs": list(verbs)}
    if resources:
        r["apiGroups"] = list(groups)
        r["resources"] = list(resources)
    if names:
        r["resourceNames"] = list(names)
    if urls:
        r["nonResourceURLs"] = list(urls)
    return r


ADMIN = cr("cluster-admin", [rule(["*"], ["*"], ["*"]), rule(["*"], urls=["*"])], labels={rbac.DEFAULTS_LABEL: rbac.DEFAULTS_LABEL_VALUE})
READ_DEPLOY = cr("read-deploy", [rule(["get", "list", "watch"], ["apps"], ["deployments"])])


def snap(cluster_roles=(), roles=(), crbs=(), rbs=()):
    return rbac.RbacSnapshot(list(roles), list(cluster_roles), list(rbs), list(crbs))


def req(verb, resource=None, **kw):
    return rbac.Request(verb, resource, **kw)


def ident(u=None, groups=()):
    return rbac.Identity(u, list(groups))


# ----------------------------------------------------------------------------- rule matching
class TestRuleMatching:
    def test_verb_group_resource_must_all_match(self):
        r = rbac.normalize_rule(rule(["get"], ["apps"], ["deployments"]))
        assert rbac.rule_allows(r, req("get", "deployments", api_group="apps"))
        assert not rbac.rule_allows(r, req("list", "deployments", api_group="apps"))
        assert not rbac.rule_allows(r, req("get", "deployments", api_group=""))
        assert not rbac.rule_allows(r, req("get", "replicasets", api_group="apps"))

    def test_wildcards(self):
        r = rbac.normalize_rule(rule(["*"], ["*"], ["*"]))
        assert rbac.rule_allows(r, req("delete", "secrets"))
        assert rbac.rule_allows(r, req("create", "pods", subresource="exec"))
        # A request for verb '*' is only matched by a '*' rule, as in the authorizer.
        narrow = rbac.normalize_rule(rule(["get", "list"], ["*"], ["*"]))
        assert not rbac.rule_allows(narrow, req("*", "*", api_group="*"))
        assert rbac.rule_allows(r, req("*", "*", api_group="*"))

    def test_subresources(self):
        pods = rbac.normalize_rule(rule(["create"], [""], ["pods"]))
        assert not rbac.rule_allows(pods, req("create", "pods", subresource="exec"))
        exec_ = rbac.normalize_rule(rule(["create"], [""], ["pods/exec"]))
        assert rbac.rule_allows(exec_, req("create", "pods", subresource="exec"))
        assert not rbac.rule_allows(exec_, req("create", "pods"))
        star_scale = rbac.normalize_rule(rule(["update"], ["apps"], ["*/scale"]))
        assert rbac.rule_allows(star_scale, req("update", "deployments", api_group="apps", subresource="scale"))
        assert not rbac.rule_allows(star_scale, req("update", "deployments", api_group="apps", subresource="status"))
        assert not rbac.rule_allows(star_scale, req("update", "deployments", api_group="apps"))
        # 'pods/*' is not a wildcard in RBAC: it only matches a subresource literally named '*'.
        pods_star = rbac.normalize_rule(rule(["get"], [""], ["pods/*"]))
        assert not rbac.rule_allows(pods_star, req("get", "pods", subresource="log"))

    def test_resource_names(self):
        r = rbac.normalize_rule(rule(["get", "list", "update"], [""], ["configmaps"], names=["app-config"]))
        assert rbac.rule_allows(r, req("get", "configmaps", name="app-config"))
        assert not rbac.rule_allows(r, req("get", "configmaps", name="other"))
        # list and create carry no name: resourceNames never allow them.
        assert not rbac.rule_allows(r, req("list", "configmaps"))

    def test_non_resource_urls(self):
        r = rbac.normalize_rule(rule(["get"], urls=["/healthz", "/apis/*"]))
        assert rbac.rule_allows(r, req("get", non_resource_url="/healthz"))
        assert not rbac.rule_allows(r, req("get", non_resource_url="/healthz/etcd"))
        assert rbac.rule_allows(r, req("get", non_resource_url="/apis/apps/v1"))
        assert rbac.rule_allows(r, req("get", non_resource_url="/apis/"))
        assert not rbac.rule_allows(r, req("post", non_resource_url="/healthz"))
        # A resource rule never matches a non-resource request and vice versa.
        res = rbac.normalize_rule(rule(["*"], ["*"], ["*"]))
        assert not rbac.rule_allows(res, req("get", non_resource_url="/healthz"))
        assert not rbac.rule_allows(r, req("get", "pods"))

    def test_snake_case_rules_are_normalized(self):
        r = rbac.normalize_rule({"verbs": ["get"], "api_groups": ["apps"], "resources": ["deployments"], "resource_names": None})
        assert r["apiGroups"] == ["apps"] and r["resourceNames"] == []

    def test_request_validation(self):
        with pytest.raises(rbac.RbacInputError, match="needs a verb"):
            rbac.Request("", "pods")
        with pytest.raises(rbac.RbacInputError, match="either a resource"):
            rbac.Request("get")
        with pytest.raises(rbac.RbacInputError, match="not both"):
            rbac.Request("get", "pods", non_resource_url="/x")
        with pytest.raises(rbac.RbacInputError, match="NAMESPACE/NAME"):
            rbac.Identity.from_check({"service_account": "just-a-name"})
        with pytest.raises(rbac.RbacInputError, match="user, a service_account or groups"):
            rbac.Identity.from_check({})


# -------------------------------------------------------------------------- subject matching
class TestSubjects:
    def test_cluster_and_namespace_bindings(self):
        s = snap(
            [ADMIN, READ_DEPLOY],
            crbs=[crb("alice-admin", "cluster-admin", [user("alice")])],
            rbs=[rb("team", "bob-read", "ClusterRole", "read-deploy", [user("bob")])],
        )
        assert s.allows(ident("alice"), req("delete", "nodes"))
        assert s.allows(ident("bob"), req("get", "deployments", api_group="apps", namespace="team"))
        # A RoleBinding grants nothing outside its namespace, nor on cluster-scoped requests.
        assert not s.allows(ident("bob"), req("get", "deployments", api_group="apps", namespace="other"))
        assert not s.allows(ident("bob"), req("get", "deployments", api_group="apps"))

    def test_groups(self):
        s = snap([ADMIN], crbs=[crb("ops", "cluster-admin", [group("ops")])])
        assert s.allows(ident("anyone", ["ops"]), req("get", "secrets", namespace="x"))
        assert s.allows(ident(None, ["ops"]), req("get", "secrets"))
        assert not s.allows(ident("ops"), req("get", "secrets"))

    def test_service_account_subject_namespace_defaults_to_binding_namespace(self):
        s = snap(
            [READ_DEPLOY],
            crbs=[crb("sa-no-ns", "read-deploy", [sa("lost")])],
            rbs=[rb("team", "sa-local", "ClusterRole", "read-deploy", [sa("builder")])],
        )
        builder = ident("system:serviceaccount:team:builder")
        assert s.allows(builder, req("list", "deployments", api_group="apps", namespace="team"))
        assert not s.allows(ident("system:serviceaccount:other:builder"), req("list", "deployments", api_group="apps", namespace="team"))
        # In a ClusterRoleBinding a ServiceAccount without namespace matches nobody.
        for ns in ("default", "kube-system", ""):
            assert not s.allows(ident("system:serviceaccount:%s:lost" % ns), req("list", "deployments", api_group="apps", namespace="team"))
        unmatched = s.unmatched_subjects()
        assert unmatched == [{"binding": "ClusterRoleBinding sa-no-ns", "subject": sa("lost")}]

    def test_user_subject_with_service_account_name_is_that_service_account(self):
        s = snap([READ_DEPLOY], crbs=[crb("u", "read-deploy", [user("system:serviceaccount:ci:runner")])])
        assert s.allows(ident("system:serviceaccount:ci:runner"), req("get", "deployments", api_group="apps", namespace="a"))
        subjects = s.subjects()
        assert list(subjects) == ["ServiceAccount:ci/runner"]

    def test_role_binding_to_role_uses_the_namespace_role(self):
        s = snap(
            roles=[role("a", "writer", [rule(["create"], [""], ["configmaps"])]), role("b", "writer", [rule(["get"], [""], ["configmaps"])])],
            rbs=[rb("b", "w", "Role", "writer", [user("carol")])],
        )
        assert s.allows(ident("carol"), req("get", "configmaps", namespace="b"))
        assert not s.allows(ident("carol"), req("create", "configmaps", namespace="b"))

    def test_missing_role_grants_nothing(self):
        s = snap(crbs=[crb("dangling", "does-not-exist", [user("dan")])])
        assert not s.allows(ident("dan"), req("get", "pods"))
        result = rbac.Audit(s).result()
        assert result["summary"]["missing_roles"] == ["ClusterRole does-not-exist"]

    def test_evaluate_names_the_grant(self):
        s = snap([ADMIN, READ_DEPLOY], crbs=[crb("a1", "cluster-admin", [user("alice")]), crb("a2", "read-deploy", [user("alice")])])
        res = s.evaluate(ident("alice"), req("get", "deployments", api_group="apps", namespace="x"))
        assert res["allowed"]
        assert [g["binding"] for g in res["granted_by"]] == ["ClusterRoleBinding a1", "ClusterRoleBinding a2"]

    def test_implicit_groups(self):
        assert rbac.implicit_groups("alice") == ["system:authenticated"]
        assert rbac.implicit_groups("system:serviceaccount:ns1:x") == ["system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"]
        assert rbac.implicit_groups("system:anonymous") == ["system:unauthenticated"]
        i = rbac.Identity.from_check({"service_account": "ns1/x", "groups": ["extra"]})
        assert i.user == "system:serviceaccount:ns1:x"
        assert i.groups == ["system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated", "extra"]
        assert rbac.Identity.from_check({"user": "bob", "authenticated": False}).groups == []


# ------------------------------------------------------------------------------- aggregation
class TestAggregation:
    def test_transitive_aggregation_and_selectors(self):
        roles = [
            cr("top", aggregation=[{"matchLabels": {"agg/top": "true"}}]),
            cr("middle", [rule(["get"], [""], ["pods"])], labels={"agg/top": "true"}, aggregation=[{"matchLabels": {"agg/middle": "true"}}]),
            cr("leaf", [rule(["get"], [""], ["secrets"])], labels={"agg/middle": "true"}),
            cr("expr", [rule(["list"], [""], ["services"])], labels={"tier": "gold"}),
            cr("by-expr", aggregation=[{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold", "silver"]}]}]),
            cr(
                "not-in",
                aggregation=[
                    {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}, {"key": "agg/middle", "operator": "Exists"}]}
                ],
            ),
        ]
        s = snap(roles, crbs=[crb("t", "top", [user("u")]), crb("e", "by-expr", [user("e")]), crb("n", "not-in", [user("n")])])
        assert s.allows(ident("u"), req("get", "secrets", namespace="x")), "leaf rules reach top through middle"
        assert s.allows(ident("u"), req("get", "pods", namespace="x")) is False, "middle's own stored rules are replaced by aggregation"
        assert s.allows(ident("e"), req("list", "services", namespace="x"))
        assert s.allows(ident("n"), req("get", "secrets", namespace="x"))
        assert not s.allows(ident("n"), req("list", "services", namespace="x"))
        assert s.roles[("ClusterRole", None, "top")].aggregation_pending  # stored rules are empty

    def test_empty_selector_selects_every_cluster_role_but_itself(self):
        roles = [cr("all", aggregation=[{}]), cr("a", [rule(["get"], [""], ["pods"])]), cr("b", [rule(["get"], [""], ["pods"])])]
        s = snap(roles)
        assert [r["resources"] for r in s.roles[("ClusterRole", None, "all")].rules] == [["pods"]]  # duplicates folded

    def test_cycle_terminates(self):
        roles = [
            cr("x", [rule(["get"], [""], ["pods"])], labels={"to-y": "1"}, aggregation=[{"matchLabels": {"to-x": "1"}}]),
            cr("y", [rule(["get"], [""], ["services"])], labels={"to-x": "1"}, aggregation=[{"matchLabels": {"to-y": "1"}}]),
        ]
        s = snap(roles)
        assert s.roles[("ClusterRole", None, "x")].rules is not None

    def test_stored_rules_matching_resolution_are_not_pending(self):
        roles = [
            cr("agg", [rule(["get"], [""], ["pods"])], aggregation=[{"matchLabels": {"a": "1"}}]),
            cr("p", [rule(["get"], [""], ["pods"])], labels={"a": "1"}),
        ]
        assert not snap(roles).roles[("ClusterRole", None, "agg")].aggregation_pending

    def test_label_selector_operators(self):
        labels = {"a": "1", "b": "2"}
        assert rbac.selector_matches({}, labels)
        assert not rbac.selector_matches(None, labels)
        assert rbac.selector_matches({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}, labels)
        assert not rbac.selector_matches({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, labels)
        assert rbac.selector_matches({"matchExpressions": [{"key": "c", "operator": "NotIn", "values": ["x"]}]}, labels)
        assert not rbac.selector_matches({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, labels)


# ---------------------------------------------------------------------------- classification
def risks_of(rules, scope="cluster"):
    return set(rbac.classify_rules([rbac.normalize_rule(r) for r in rules], scope))


class TestClassification:
    @pytest.mark.parametrize(
        "rules,expected",
        [
            ([rule(["*"], ["*"], ["*"])], {"cluster_admin", "wildcard"}),
            ([rule(["escalate"], [rbac.RBAC_GROUP], ["clusterroles"])], {"escalate"}),
            ([rule(["bind"], [rbac.RBAC_GROUP], ["roles"], names=["view"])], {"bind"}),
            ([rule(["impersonate"], [""], ["users"])], {"impersonate"}),
            ([rule(["impersonate"], ["authentication.k8s.io"], ["userextras/scopes"])], {"impersonate"}),
            ([rule(["get"], [""], ["nodes/proxy"])], {"nodes_proxy"}),
            ([rule(["patch"], ["admissionregistration.k8s.io"], ["validatingwebhookconfigurations"])], {"admission_webhooks"}),
            ([rule(["create"], [""], ["serviceaccounts/token"])], {"token_create"}),
            ([rule(["update"], ["certificates.k8s.io"], ["certificatesigningrequests/approval"])], {"csr_approval"}),
            ([rule(["create"], [rbac.RBAC_GROUP], ["rolebindings"])], {"rbac_write"}),
            ([rule(["create"], [""], ["pods/exec"])], {"pod_exec"}),
            ([rule(["get"], [""], ["pods/exec"])], {"pod_exec"}),
            ([rule(["create"], [""], ["pods"])], {"pod_create", "workload_write"}),
            ([rule(["watch"], [""], ["secrets"])], {"secrets_read"}),
            ([rule(["patch"], ["apps"], ["deployments"])], {"workload_write"}),
            ([rule(["delete"], ["batch"], ["cronjobs"])], {"workload_write"}),
            ([rule(["create"], [""], ["persistentvolumes"])], {"persistent_volume_create"}),
            ([rule(["get"], ["*"], ["configmaps"])], {"wildcard"}),
            ([rule(["get"], urls=["*"])], {"wildcard"}),
            ([rule(["get", "list", "watch"], ["apps"], ["deployments"])], set()),
            ([rule(["get"], [""], ["secrets"], names=["one"])], {"secrets_read"}),
            # '*/exec' covers pods/exec
            ([rule(["create"], [""], ["*/exec"])], {"pod_exec"}),
        ],
    )
    def test_risks(self, rules, expected):
        assert risks_of(rules) == expected

    def test_cluster_scoped_risks_do_not_apply_in_a_namespace(self):
        rules = [rule(["get"], [""], ["nodes/proxy"]), rule(["create"], ["admissionregistration.k8s.io"], ["mutatingwebhookconfigurations"])]
        assert risks_of(rules, "cluster") == {"nodes_proxy", "admission_webhooks"}
        assert risks_of(rules, "namespace") == set()

    @pytest.mark.parametrize(
        "r,write",
        [
            (rule(["get", "list", "watch"], ["*"], ["*"]), False),
            (rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]), False),
            (rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]), False),
            (rule(["create"], ["authorization.k8s.io"], ["*"]), True),
            (rule(["create"], [""], ["configmaps"]), True),
            (rule(["*"], [""], ["events"]), True),
            (rule(["bind"], [rbac.RBAC_GROUP], ["clusterroles"]), True),
            (rule(["get"], urls=["/healthz"]), False),
            (rule(["post"], urls=["/logs/*"]), True),
        ],
    )
    def test_write(self, r, write):
        assert rbac.rule_grants_write(rbac.normalize_rule(r)) is write

    def test_get_exec_and_nodes_proxy_count_as_write(self):
        s = snap([cr("np", [rule(["get"], [""], ["nodes/proxy"])]), cr("ex", [rule(["get"], [""], ["pods/exec"])])])
        assert s.roles[("ClusterRole", None, "np")].write == {"cluster": True, "namespace": False}
        assert s.roles[("ClusterRole", None, "ex")].write == {"cluster": True, "namespace": True}


# ------------------------------------------------------------------------------------- audit
DEFAULT = {rbac.DEFAULTS_LABEL: rbac.DEFAULTS_LABEL_VALUE}


def realistic():
    view = cr("view", [rule(["get", "list", "watch"], ["", "apps"], ["pods", "deployments", "configmaps"])], labels=DEFAULT)
    edit = cr(
        "edit",
        [rule(["create", "delete", "patch", "update", "get", "list", "watch"], ["", "apps"], ["pods", "deployments", "secrets"])],
        labels=DEFAULT,
    )
    basic = cr("system:basic-user", [rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews"])], labels=DEFAULT)
    return snap(
        [ADMIN, view, edit, basic, cr("escalator", [rule(["escalate", "get"], [rbac.RBAC_GROUP], ["clusterroles"])])],
        roles=[role("team-b", "anything", [rule(["*"], ["*"], ["*"])])],
        crbs=[
            crb("cluster-admin", "cluster-admin", [group("system:masters")], labels=DEFAULT),
            crb("system:basic-user", "system:basic-user", [group("system:authenticated")], labels=DEFAULT),
            crb("alice-admin", "cluster-admin", [user("alice")]),
            crb("bob-escalate", "escalator", [user("bob")]),
            crb("kube-controller", "edit", [sa("deployment-controller", "kube-system")], labels=DEFAULT),
        ],
        rbs=[
            rb("team-a", "devs-edit", "ClusterRole", "edit", [group("team-a-devs")]),
            rb("team-b", "mixed", "Role", "anything", [group("team-b-devs"), user("carol"), sa("deployer")]),
            rb("team-c", "dave-view", "ClusterRole", "view", [user("dave")]),
        ],
    )


class TestAudit:
    def test_lists_non_default_subjects_with_their_risks(self):
        result = rbac.Audit(realistic(), include_rules=True).result()
        by_id = dict((s["id"], s) for s in result["subjects"])
        assert sorted(by_id) == [
            "Group:team-a-devs",
            "Group:team-b-devs",
            "ServiceAccount:team-b/deployer",
            "User:alice",
            "User:bob",
            "User:carol",
            "User:dave",
        ]
        assert by_id["User:alice"]["risk_ids"] == ["cluster_admin", "wildcard"]
        assert by_id["User:alice"]["severity"] == "critical"
        assert by_id["User:alice"]["write_namespaces"] == ["*"]
        assert by_id["User:bob"]["risk_ids"] == ["escalate"]
        assert set(by_id["Group:team-a-devs"]["risk_ids"]) == {"secrets_read", "pod_create", "workload_write"}
        assert by_id["Group:team-a-devs"]["write_namespaces"] == ["team-a"]
        assert by_id["User:dave"]["can_write"] is False and by_id["User:dave"]["risk_ids"] == []
        carol = by_id["User:carol"]
        assert carol["namespaces"]["team-b"][0]["binding"] == "RoleBinding team-b/mixed"
        assert carol["namespaces"]["team-b"][0]["rules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
        carol_findings = [f for f in result["findings"] if f["subject"] == "User:carol"]
        assert [(f["risk"], f["scope"], f["namespace"]) for f in carol_findings] == [
            ("cluster_admin", "namespace", "team-b"),
            ("wildcard", "namespace", "team-b"),
        ]
        catalog = dict((r["id"], r) for r in result["risk_catalog"])
        assert catalog["cluster_admin"]["namespace_title"].startswith("full control of the namespace")
        assert set(catalog) == set(r["id"] for r in rbac.RISKS)
        assert carol["inherited_groups"] == ["system:authenticated"]
        assert "system:authenticated" in result["implicit_group_grants"]
        # default-only subjects and system:masters are left out; the limitations are stated
        assert "Group:system:masters" not in by_id and "ServiceAccount:kube-system/deployment-controller" not in by_id
        assert any("system:masters" in text for text in result["limitations"])
        assert result["summary"]["people_with_write"] == ["Group:team-a-devs", "Group:team-b-devs", "User:alice", "User:bob", "User:carol"]

    def test_include_default_bindings(self):
        result = rbac.Audit(realistic(), include_default_bindings=True).result()
        ids = [s["id"] for s in result["subjects"]]
        assert "Group:system:masters" in ids and "ServiceAccount:kube-system/deployment-controller" in ids
        assert [s["system"] for s in result["subjects"] if s["id"] == "ServiceAccount:kube-system/deployment-controller"] == [True]

    def test_filters(self):
        result = rbac.Audit(realistic(), subject_kinds=["User"], namespaces=["team-c"], include_rules=False).result()
        assert [s["id"] for s in result["subjects"]] == ["User:alice", "User:bob", "User:dave"]
        assert all("rules" not in g for s in result["subjects"] for g in s["cluster"])
        assert all(b["kind"] == "ClusterRoleBinding" or b["namespace"] == "team-c" for b in result["bindings"])

    def test_findings_sorted_by_severity(self):
        findings = rbac.Audit(realistic()).result()["findings"]
        ranks = [rbac.SEVERITY_RANK[f["severity"]] for f in findings]
        assert ranks == sorted(ranks)
        assert {"subject": "User:alice", "risk": "cluster_admin", "scope": "cluster"}.items() <= findings[0].items()

    def test_roles_listing(self):
        roles = dict(((r["kind"], r["namespace"], r["name"]), r) for r in rbac.Audit(realistic()).result()["roles"])
        assert roles[("ClusterRole", None, "escalator")]["risk_ids"] == ["escalate"]
        assert roles[("Role", "team-b", "anything")]["risk_ids"] == ["cluster_admin", "wildcard"]
        assert roles[("ClusterRole", None, "cluster-admin")]["bound_by"] == ["ClusterRoleBinding cluster-admin", "ClusterRoleBinding alice-admin"]
        assert ("ClusterRole", None, "system:basic-user") not in roles

    def test_who_can(self):
        out = rbac.who_can(realistic(), req("create", "deployments", api_group="apps", namespace="team-a"))
        assert [o["subject"] for o in out] == [
            "Group:system:masters",
            "Group:team-a-devs",
            "ServiceAccount:kube-system/deployment-controller",
            "User:alice",
        ]
        assert rbac.who_can(realistic(), req("create", "deployments", api_group="apps", namespace="team-c"))[-1]["granted_by"] == [
            {
                "binding": "ClusterRoleBinding alice-admin",
                "role": "ClusterRole cluster-admin",
                "rule": {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            }
        ]

    def test_result_is_json_serializable(self):
        json.dumps(rbac.Audit(realistic()).result())

    def test_markdown(self):
        result = rbac.Audit(realistic()).result()
        result["lockdown_plan"] = rbac.LockdownPlanner(realistic()).plan()
        md = rbac.render_markdown(result)
        assert md.startswith("# Kubernetes RBAC audit")
        for heading in ("## Findings", "## Subjects", "## Lock-down plan", "## What this audit cannot see"):
            assert heading in md
        assert "| critical | User `alice` | cluster_admin" in md


# ---------------------------------------------------------------------------------- lockdown
class TestLockdown:
    def planner(self, s=None, **kw):
        kw.setdefault("break_glass_groups", ["platform-admins"])
        return rbac.LockdownPlanner(s or realistic(), **kw)

    def test_plan(self):
        plan = self.planner().plan()
        summary = [(i["action"], i["kind"], i["namespace"], i["name"], [s["name"] for s in i["remove_subjects"]]) for i in plan]
        assert summary == [
            ("delete", "ClusterRoleBinding", None, "alice-admin", ["alice"]),
            ("delete", "ClusterRoleBinding", None, "bob-escalate", ["bob"]),
            ("delete", "RoleBinding", "team-a", "devs-edit", ["team-a-devs"]),
            ("patch", "RoleBinding", "team-b", "mixed", ["team-b-devs", "carol"]),
        ]
        mixed = plan[-1]
        assert mixed["desired"]["subjects"] == [sa("deployer")]
        assert mixed["backup"]["subjects"] == [group("team-b-devs"), user("carol"), sa("deployer")]
        assert mixed["backup_key"] == "rb.team-b.mixed.json"

    def test_allowlist_break_glass_revoke_and_managed(self):
        s = realistic()
        s2 = rbac.RbacSnapshot(
            [r.obj for r in s.roles.values() if r.kind == "Role"],
            [r.obj for r in s.roles.values() if r.kind == "ClusterRole"],
            [b.obj for b in s.bindings if b.kind == "RoleBinding"] + [rb("team-d", "ours", "ClusterRole", "edit", [group("x")], labels={"m": "y"})],
            [b.obj for b in s.bindings if b.kind == "ClusterRoleBinding"] + [crb("bg", "cluster-admin", [group("platform-admins")])],
        )
        plan = self.planner(
            s2,
            allow_subjects=[{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "team-b-devs"}],
            revoke_subjects=[{"kind": "ServiceAccount", "name": "deployer", "namespace": "team-b"}],
            managed_label=("m", "y"),
        ).plan()
        names = dict(((i["kind"], i["name"]), i) for i in plan)
        assert ("ClusterRoleBinding", "alice-admin") not in names
        assert ("ClusterRoleBinding", "bg") not in names
        assert ("RoleBinding", "ours") not in names
        mixed = names[("RoleBinding", "mixed")]
        assert [x["name"] for x in mixed["remove_subjects"]] == ["carol", "deployer"]
        assert mixed["keep_subjects"] == [group("team-b-devs")]

    def test_system_subjects_and_service_accounts_are_left_alone(self):
        plan = self.planner().plan()
        removed = [s for i in plan for s in i["remove_subjects"]]
        assert all(s["kind"] in ("User", "Group") and not s["name"].startswith("system:") for s in removed)

    def test_backup_merge_keeps_every_subject(self):
        first = rb("ns", "b", "ClusterRole", "edit", [user("a"), user("b")])
        later = rb("ns", "b", "ClusterRole", "edit", [user("b"), user("c")])
        merged = rbac.merge_backup(rbac.clean_binding(first), rbac.clean_binding(later))
        assert [s["name"] for s in merged["subjects"]] == ["a", "b", "c"]
        other_role = rb("ns", "b", "ClusterRole", "admin", [user("z")])
        assert rbac.merge_backup(rbac.clean_binding(first), rbac.clean_binding(other_role))["roleRef"]["name"] == "admin"
        # The plan merges with the backup it is given (ConfigMap values are JSON text).
        s = snap([ADMIN], crbs=[crb("x", "cluster-admin", [user("new")])])
        previous = {"crb._cluster.x.json": json.dumps(rbac.clean_binding(crb("x", "cluster-admin", [user("old")])))}
        item = rbac.LockdownPlanner(s).plan(previous)[0]
        assert [x["name"] for x in item["backup"]["subjects"]] == ["old", "new"]

    def test_backup_keys_are_valid_configmap_keys(self):
        import re

        for name in ("plain", "has:colon", "x" * 250):
            key = rbac.backup_key("ClusterRoleBinding", name)
            assert re.match(r"^[-._a-zA-Z0-9]+$", key) and len(key) <= 253
        assert rbac.backup_key("ClusterRoleBinding", "a:b") != rbac.backup_key("ClusterRoleBinding", "a_b")

    def test_clean_binding_drops_server_fields(self):
        obj = crb("x", "edit", [user("u")])
        obj["metadata"].update(
            {"uid": "1", "resourceVersion": "2", "managedFields": [], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}
        )
        clean = rbac.clean_binding(obj)
        assert clean["metadata"] == {"name": "x"}
        assert clean["apiVersion"] == rbac.RBAC_API_VERSION

    def test_snapshot_after_and_guard(self):
        s = snap(
            [ADMIN],
            crbs=[crb("ops-admin", "cluster-admin", [user("operator"), user("alice")]), crb("alice-only", "cluster-admin", [user("alice")])],
        )
        planner = rbac.LockdownPlanner(
            s,
            break_glass_groups=["platform-admins"],
            add_bindings=[crb("break-glass", "cluster-admin", [group("platform-admins")])],
        )
        plan = planner.plan()
        after = planner.snapshot_after(plan)
        everything = req("*", "*", api_group="*")
        assert s.allows(ident("operator"), everything) and not after.allows(ident("operator"), everything)
        assert not s.allows(ident(None, ["platform-admins"]), everything)
        assert after.allows(ident(None, ["platform-admins"]), everything)
        assert not after.allows(ident("alice"), req("get", "pods"))
        # The operator would lose its access: the guard says so, naming why.
        verdict = rbac.guard_verdict({"who": "operator"}, True, True, False)
        assert verdict["keeps"] is False and "removes the bindings" in verdict["why"]
        # Access from outside RBAC (system:masters) is not affected by removing bindings.
        assert rbac.guard_verdict({}, True, False, False)["keeps"] is True
        assert rbac.guard_verdict({}, False, False, False)["why"] == "not allowed even now"
        # Allowlisting the operator keeps it.
        planner2 = rbac.LockdownPlanner(s, allow_subjects=[{"kind": "User", "name": "operator"}])
        plan2 = planner2.plan()
        assert [(i["name"], i["action"]) for i in plan2] == [("alice-only", "delete"), ("ops-admin", "patch")]
        assert planner2.snapshot_after(plan2).allows(ident("operator"), everything)

    def test_write_for_everyone_is_write_for_people(self):
        s = snap(
            [
                cr("edit", [rule(["create"], ["apps"], ["deployments"])]),
                cr("system:basic-user", [rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews"])], labels=DEFAULT),
            ],
            crbs=[
                crb("everyone-edits", "edit", [group("system:authenticated"), group("system:nodes")]),
                crb("anonymous-edits", "edit", [user("system:anonymous")]),
                crb("system:basic-user", "system:basic-user", [group("system:authenticated")], labels=DEFAULT),
            ],
        )
        plan = rbac.LockdownPlanner(s, break_glass_groups=["ops"]).plan()
        assert [(i["name"], i["action"], [x["name"] for x in i["remove_subjects"]]) for i in plan] == [
            ("anonymous-edits", "delete", ["system:anonymous"]),
            ("everyone-edits", "patch", ["system:authenticated"]),
        ]
        people = rbac.Audit(s).result()["summary"]["people_with_write"]
        assert people == ["Group:system:authenticated", "User:system:anonymous"]

    def test_add_bindings_must_be_bindings(self):
        with pytest.raises(rbac.RbacInputError, match="add_bindings"):
            rbac.LockdownPlanner(realistic(), add_bindings=[{"kind": "ConfigMap"}])

    def test_read_only_bindings_are_not_touched(self):
        plan = self.planner().plan()
        assert "dave-view" not in [i["name"] for i in plan]


# ------------------------------------------------------------------- what the server enforces
OLD_SERVER = rbac.ServerInfo({"gitVersion": "v1.34.2", "major": "1", "minor": "34"})
NEW_SERVER = rbac.ServerInfo({"gitVersion": "v1.36.3", "major": "1", "minor": "36"})
GET_EXEC = cr("exec-get", [rule(["get"], [""], ["pods", "pods/exec", "pods/attach"])])
CREATE_EXEC = cr("exec-create", [rule(["get"], [""], ["pods"]), rule(["create"], [""], ["pods/exec"])])


class TestServerInfo:
    @pytest.mark.parametrize(
        "version,parsed",
        [
            ("v1.36.3", (1, 36)),
            ("v1.34.2-eks-1a2b3c", (1, 34)),
            ("v1.29.0+k3s1", (1, 29)),
            ({"gitVersion": "v1.35.0"}, (1, 35)),
            ({"gitVersion": "", "major": "1", "minor": "27+"}, (1, 27)),
            ("", None),
            ("latest", None),
            ({"major": "one"}, None),
        ],
    )
    def test_version_parsing(self, version, parsed):
        assert rbac.parse_server_version(version) == parsed

    @pytest.mark.parametrize(
        "version,gates,needs,basis",
        [
            ("v1.34.9", {}, False, "version"),
            ("v1.35.0", {}, True, "version"),
            ("v1.36.3", {}, True, "version"),
            (None, {}, None, "unknown"),
            ("garbage", {}, None, "unknown"),
            # The gate, when the server says how it runs, wins over the version's default.
            ("v1.36.3", {rbac.WEBSOCKET_CREATE_GATE: False}, False, "feature_gate"),
            (None, {rbac.WEBSOCKET_CREATE_GATE: True}, True, "feature_gate"),
            ("v1.36.3", {"SomeOtherGate": False}, True, "version"),
        ],
    )
    def test_exec_needs_create(self, version, gates, needs, basis):
        server = rbac.ServerInfo(version, gates)
        assert server.connect_needs_create is needs
        assert server.basis == basis
        assert server.describe()["exec_needs_create"] is needs

    def test_feature_gates_from_metrics(self):
        text = "\n".join(
            [
                "# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.",
                "# TYPE kubernetes_feature_enabled gauge",
                'kubernetes_feature_enabled{name="AuthorizePodWebsocketUpgradeCreatePermission",stage="BETA"} 1',
                'kubernetes_feature_enabled{name="AllAlpha",stage="ALPHA"} 0',
                'kubernetes_feature_enabled{stage="",name="Locked"} 1',
                'apiserver_request_total{code="200",name="kubernetes_feature_enabled"} 7',
                "kubernetes_feature_enabled{broken",
            ]
        )
        assert rbac.parse_feature_gates(text) == {"AuthorizePodWebsocketUpgradeCreatePermission": True, "AllAlpha": False, "Locked": True}
        assert rbac.parse_feature_gates("") == {}

    def test_limitations_say_what_was_assumed(self):
        (unknown,) = rbac.ServerInfo(version_error="GET /version: 403 Forbidden").limitations()
        assert "version is unknown (GET /version: 403 Forbidden)" in unknown and "counted as exec" in unknown
        (new,) = rbac.ServerInfo("v1.36.3", gates_error="GET /metrics: 403 Forbidden").limitations()
        assert "v1.36.3" in new and "not counted as exec" in new and "GET /metrics: 403 Forbidden" in new and "started with it off" in new
        (old,) = OLD_SERVER.limitations()
        assert "older than 1.35" in old and "counted as exec" in old
        (off,) = rbac.ServerInfo("v1.36.3", {rbac.WEBSOCKET_CREATE_GATE: False}).limitations()
        assert "gate AuthorizePodWebsocketUpgradeCreatePermission off" in off

    def test_get_exec_is_exec_only_where_the_server_allows_it(self):
        rules = [rbac.normalize_rule(r) for r in GET_EXEC["rules"]]
        assert "pod_exec" in rbac.classify_rules(rules, "namespace", OLD_SERVER)
        assert "pod_exec" in rbac.classify_rules(rules, "namespace", None)  # unknown: counted
        assert "pod_exec" not in rbac.classify_rules(rules, "namespace", NEW_SERVER)
        assert "pod_exec" in rbac.classify_rules(rules, "cluster", rbac.ServerInfo("v1.36.3", {rbac.WEBSOCKET_CREATE_GATE: False}))
        created = [rbac.normalize_rule(r) for r in CREATE_EXEC["rules"]]
        for server in (OLD_SERVER, NEW_SERVER, None):
            assert "pod_exec" in rbac.classify_rules(created, "namespace", server)
        # '*' verbs include create everywhere.
        assert "pod_exec" in rbac.classify_rules([rbac.normalize_rule(rule(["*"], [""], ["pods/attach"]))], "namespace", NEW_SERVER)

    def test_get_exec_grants_write_only_on_older_servers(self):
        def roles(server):
            s = rbac.RbacSnapshot(cluster_roles=[GET_EXEC, CREATE_EXEC], server=server)
            return s.roles[("ClusterRole", None, "exec-get")], s.roles[("ClusterRole", None, "exec-create")]

        get_old, create_old = roles(OLD_SERVER)
        get_new, create_new = roles(NEW_SERVER)
        assert get_old.write == {"cluster": True, "namespace": True} and "pod_exec" in get_old.risks["namespace"]
        assert get_new.write == {"cluster": False, "namespace": False} and get_new.risks["namespace"] == {}
        assert create_old.write == create_new.write == {"cluster": True, "namespace": True}

        # The lock-down plan follows: a person holding get alone keeps the binding on a new server.
        def plan(server):
            s = rbac.RbacSnapshot(cluster_roles=[GET_EXEC], role_bindings=[rb("shop", "support", "ClusterRole", "exec-get", [user("sue")])], server=server)
            return [i["name"] for i in rbac.LockdownPlanner(s).plan()]

        assert plan(OLD_SERVER) == ["support"] and plan(NEW_SERVER) == []

    def test_gate_matters_only_for_get_without_create(self):
        assert rbac.rules_depend_on_websocket_gate([rbac.normalize_rule(r) for r in GET_EXEC["rules"]])
        assert not rbac.rules_depend_on_websocket_gate([rbac.normalize_rule(r) for r in CREATE_EXEC["rules"]])
        assert not rbac.rules_depend_on_websocket_gate([rbac.normalize_rule(rule(["get", "create"], [""], ["pods/exec"]))])
        assert not rbac.rules_depend_on_websocket_gate([rbac.normalize_rule(rule(["get"], [""], ["pods/log"]))])

    def test_audit_reports_the_server_and_what_it_assumed(self):
        s = rbac.RbacSnapshot(cluster_roles=[GET_EXEC], role_bindings=[rb("shop", "support", "ClusterRole", "exec-get", [user("sue")])], server=NEW_SERVER)
        result = rbac.Audit(s).result()
        assert result["server"] == {"version": "v1.36.3", "exec_needs_create": True, "exec_needs_create_from": "version", "feature_gates": {}}
        assert any("v1.36.3" in t and "not counted as exec" in t for t in result["limitations"])
        assert [x["risk_ids"] for x in result["subjects"]] == [[]]
        sue = rb("shop", "support", "ClusterRole", "exec-get", [user("sue")])
        result = rbac.Audit(rbac.RbacSnapshot(cluster_roles=[GET_EXEC], role_bindings=[sue])).result()
        assert result["server"]["exec_needs_create"] is None
        assert [(f["risk"], f["namespace"]) for f in result["findings"]] == [("pod_exec", "shop")]
        assert any("version is unknown" in t for t in result["limitations"])


# ------------------------------------------------------------- status, namespaces, Argo CD
class TestNewRiskClasses:
    @pytest.mark.parametrize(
        "rules,scope,expected",
        [
            ([rule(["patch"], [""], ["nodes/status"])], "cluster", {"node_write"}),
            ([rule(["update"], [""], ["nodes"])], "cluster", {"node_write"}),
            ([rule(["delete"], [""], ["nodes"])], "cluster", {"node_write"}),
            ([rule(["patch"], [""], ["nodes/status"])], "namespace", set()),
            ([rule(["get", "list", "watch"], [""], ["nodes", "nodes/status"])], "cluster", set()),
            ([rule(["patch"], [""], ["pods/status"])], "namespace", {"status_write"}),
            ([rule(["update"], [""], ["services/status"])], "namespace", {"status_write"}),
            ([rule(["update"], [""], ["*/status"])], "cluster", {"status_write", "node_write"}),
            # status that only its own controller acts on is not a risk
            ([rule(["update", "patch"], ["apps"], ["deployments/status"])], "cluster", set()),
            ([rule(["patch"], [""], ["namespaces"])], "cluster", {"namespace_write"}),
            # a RoleBinding may grant patch on its own namespace object: the risk exists there too
            ([rule(["update"], [""], ["namespaces"])], "namespace", {"namespace_write"}),
            ([rule(["get", "list"], [""], ["namespaces"])], "cluster", set()),
        ],
    )
    def test_status_nodes_namespaces(self, rules, scope, expected):
        assert set(rbac.classify_rules([rbac.normalize_rule(r) for r in rules], scope)) == expected

    @pytest.mark.parametrize(
        "r,expected",
        [
            (rule(["create"], ["argoproj.io"], ["applications"]), {"argocd_write"}),
            (rule(["patch"], ["argoproj.io"], ["appprojects"]), {"argocd_write"}),
            (rule(["update"], ["argoproj.io"], ["applicationsets"]), {"argocd_write"}),
            (rule(["delete"], ["argoproj.io"], ["applications"]), {"argocd_write"}),
            (rule(["get", "list", "watch"], ["argoproj.io"], ["applications", "appprojects", "applicationsets"]), set()),
            (rule(["create"], [""], ["secrets"]), {"argocd_secrets"}),
            (rule(["patch"], [""], ["secrets"], names=["argocd-secret"]), {"argocd_secrets"}),
            (rule(["get"], [""], ["secrets"]), {"argocd_secrets", "secrets_read"}),
            (rule(["delete"], [""], ["secrets"]), set()),
        ],
    )
    def test_argocd_where_argocd_runs(self, r, expected):
        rules = [rbac.normalize_rule(r)]
        assert set(rbac.classify_rules(rules, "argocd_namespace")) == expected
        assert set(rbac.classify_rules(rules, "cluster", argocd=True)) == expected
        # Elsewhere, or in a cluster without Argo CD, the same grant is no Argo CD risk.
        assert set(rbac.classify_rules(rules, "namespace")) == expected - {"argocd_write", "argocd_secrets"}
        assert set(rbac.classify_rules(rules, "cluster")) == expected - {"argocd_write", "argocd_secrets"}

    def test_argocd_namespaces_of_the_snapshot(self):
        writer = cr("app-writer", [rule(["create", "patch"], ["argoproj.io"], ["applications"]), rule(["create"], [""], ["secrets"])])
        objs = dict(
            cluster_roles=[writer],
            role_bindings=[rb("argocd", "w", "ClusterRole", "app-writer", [user("ann")]), rb("shop", "w", "ClusterRole", "app-writer", [user("bo")])],
            cluster_role_bindings=[crb("w", "app-writer", [user("cy")])],
        )

        def findings(**kw):
            result = rbac.Audit(rbac.RbacSnapshot(**dict(objs, **kw))).result()
            return sorted((f["subject"], f["risk"], f["severity"], f["namespace"]) for f in result["findings"])

        assert findings() == [
            ("User:ann", "argocd_secrets", "critical", "argocd"),
            ("User:ann", "argocd_write", "critical", "argocd"),
            ("User:cy", "argocd_secrets", "critical", None),
            ("User:cy", "argocd_write", "critical", None),
        ]
        assert findings(argocd_namespaces=["gitops"]) == [
            ("User:cy", "argocd_secrets", "critical", None),
            ("User:cy", "argocd_write", "critical", None),
        ]
        assert findings(argocd_namespaces=[]) == []
        result = rbac.Audit(rbac.RbacSnapshot(**dict(objs, argocd_namespaces=[]))).result()
        assert result["argocd_namespaces"] == [] and any("No Argo CD namespace" in t for t in result["limitations"])
        binding = [b for b in rbac.Audit(rbac.RbacSnapshot(**objs)).result()["bindings"] if b["namespace"] == "argocd"][0]
        assert binding["risk_ids"] == ["argocd_secrets", "argocd_write"] and binding["severity"] == "critical"

    def test_catalog_lists_the_new_classes_with_reasons(self):
        catalog = dict((r["id"], r) for r in rbac.risk_catalog())
        assert catalog["argocd_write"]["severity"] == catalog["argocd_secrets"]["severity"] == "critical"
        assert "cluster-admin through Argo CD" in catalog["argocd_write"]["title"]
        assert "argocd.argoproj.io/secret-type" in catalog["argocd_secrets"]["title"]
        assert "pod-security.kubernetes.io/enforce" in catalog["namespace_write"]["title"]
        assert "CVE-2020-8554" in catalog["status_write"]["title"]
        assert "nodes/status" in catalog["node_write"]["title"]


# ------------------------------------------------------------- pods run as ServiceAccounts
POD_CREATOR = cr("pod-creator", [rule(["get", "list", "create"], [""], ["pods"])])
DEPLOYER = cr("deployer", [rule(["create", "patch"], ["apps"], ["deployments"])])
DELETER = cr("deleter", [rule(["delete"], ["apps"], ["deployments"])])
SECRET_READER = cr("secret-reader", [rule(["get", "list"], [""], ["secrets"])])


def pod_findings(result, subject, risk="pod_create"):
    return dict((f["namespace"], f) for f in result["findings"] if f["subject"] == subject and f["risk"] == risk)


class TestPodServiceAccounts:
    def cluster(self, extra_rbs=(), extra_crbs=()):
        return snap(
            [ADMIN, POD_CREATOR, DEPLOYER, DELETER, SECRET_READER],
            crbs=[crb("shop-deployer-admin", "cluster-admin", [sa("deployer", "shop")])] + list(extra_crbs),
            rbs=[
                rb("shop", "paul-pods", "ClusterRole", "pod-creator", [user("paul")]),
                rb("shop", "dina-deploys", "ClusterRole", "deployer", [user("dina")]),
                rb("shop", "del-deletes", "ClusterRole", "deleter", [user("del")]),
                rb("blog", "paul-pods", "ClusterRole", "pod-creator", [user("paul")]),
            ]
            + list(extra_rbs),
        )

    def test_pod_creation_reaches_a_more_privileged_service_account(self):
        result = rbac.Audit(self.cluster()).result()
        paul = pod_findings(result, "User:paul")
        shop = paul["shop"]
        assert shop["risk"] == "pod_create" and shop["severity"] == "critical"
        assert shop["service_accounts"] == [
            {"id": "ServiceAccount:shop/deployer", "severity": "critical", "risks": [{"risk": "cluster_admin", "namespace": None}]}
        ]
        assert shop["service_accounts_total"] == 1
        sentence = rbac.pod_detail("pod_create", "shop", shop["service_accounts"], shop["service_accounts_total"])
        assert "ServiceAccount:shop/deployer (critical: cluster_admin)" in sentence and "in namespace shop" in sentence
        assert paul["shop"]["via"] == [{"binding": "RoleBinding shop/paul-pods", "role": "ClusterRole pod-creator"}]
        # Creating pods is writing workloads too: that finding names the ServiceAccount as well.
        assert pod_findings(result, "User:paul", "workload_write")["shop"]["severity"] == "critical"
        # The same grant in a namespace without such a ServiceAccount stays what it is.
        assert paul["blog"]["severity"] == "high" and "service_accounts" not in paul["blog"]
        subject = [s for s in result["subjects"] if s["id"] == "User:paul"][0]
        assert subject["severity"] == "critical"
        # Most severe first: the raised finding leads.
        assert result["findings"][0]["severity"] == "critical"
        md = rbac.render_markdown(result)
        assert "ServiceAccount:shop/deployer (critical: cluster_admin)" in md

    def test_writing_a_pod_template_counts_deleting_does_not(self):
        result = rbac.Audit(self.cluster()).result()
        assert "shop" not in pod_findings(result, "User:dina")
        dina = pod_findings(result, "User:dina", "workload_write")["shop"]
        assert dina["risk"] == "workload_write" and dina["severity"] == "critical"
        assert [e["id"] for e in dina["service_accounts"]] == ["ServiceAccount:shop/deployer"]
        assert "writes workloads that start pods" in rbac.pod_detail("workload_write", "shop", dina["service_accounts"], 1)
        deleter = pod_findings(result, "User:del", "workload_write")["shop"]
        assert deleter["severity"] == "high" and "service_accounts" not in deleter

    def test_nothing_is_raised_for_what_the_subject_already_holds(self):
        s = self.cluster(extra_crbs=[crb("paul-admin", "cluster-admin", [user("paul")])])
        findings = [f for f in rbac.Audit(s).result()["findings"] if f["subject"] == "User:paul"]
        assert all("service_accounts" not in f for f in findings)
        # The ServiceAccount itself can create pods (cluster-admin) and reaches nothing it lacks.
        deployer = [f for f in rbac.Audit(s).result()["findings"] if f["subject"] == "ServiceAccount:shop/deployer"]
        assert all("service_accounts" not in f for f in deployer)

    def test_reach_is_transitive_and_cluster_wide_grants_reach_every_namespace(self):
        s = self.cluster(
            extra_rbs=[
                # ci in namespace build can start pods in shop; a user who starts pods in build becomes ci, then deployer.
                rb("shop", "ci-pods", "ClusterRole", "pod-creator", [sa("ci", "build")]),
                rb("build", "ivy-pods", "ClusterRole", "pod-creator", [user("ivy")]),
            ],
            extra_crbs=[crb("ops-pods", "pod-creator", [group("ops")])],
        )
        result = rbac.Audit(s).result()
        ivy = pod_findings(result, "User:ivy")["build"]
        assert ivy["severity"] == "critical"
        assert [e["id"] for e in ivy["service_accounts"]] == ["ServiceAccount:build/ci"]
        assert {"risk": "cluster_admin", "namespace": None} in ivy["service_accounts"][0]["risks"]
        ops = pod_findings(result, "Group:ops")[None]
        assert ops["severity"] == "critical" and ops["service_accounts_total"] == 2
        assert "in every namespace" in rbac.pod_detail("pod_create", None, ops["service_accounts"], ops["service_accounts_total"])
        assert [e["id"] for e in ops["service_accounts"]][:2] == ["ServiceAccount:build/ci", "ServiceAccount:shop/deployer"]

    def test_default_service_account_holds_what_the_service_account_groups_hold(self):
        s = self.cluster(extra_rbs=[rb("blog", "sa-secrets", "ClusterRole", "secret-reader", [group("system:serviceaccounts:blog")])])
        blog = pod_findings(rbac.Audit(s).result(), "User:paul")["blog"]
        # Reading Secrets is high, like pod_create: named, the severity stays.
        assert blog["severity"] == "high"
        assert blog["service_accounts"] == [
            {"id": "ServiceAccount:blog/default", "severity": "high", "risks": [{"risk": "secrets_read", "namespace": "blog"}]}
        ]
        # system:serviceaccounts reaches every namespace's ServiceAccounts.
        s = self.cluster(extra_crbs=[crb("all-sa-admin", "cluster-admin", [group("system:serviceaccounts")])])
        blog = pod_findings(rbac.Audit(s).result(), "User:paul")["blog"]
        assert blog["severity"] == "critical" and blog["service_accounts"][0]["id"] == "ServiceAccount:blog/default"

    def test_runs_pods(self):
        def runs(r):
            return rbac.rules_run_pods([rbac.normalize_rule(r)])

        assert runs(rule(["create"], [""], ["pods"]))
        assert runs(rule(["patch"], ["apps"], ["daemonsets"]))
        assert runs(rule(["update"], ["batch"], ["cronjobs"]))
        assert runs(rule(["*"], ["*"], ["*"]))
        assert not runs(rule(["delete", "get"], [""], ["pods"]))
        assert not runs(rule(["patch"], [""], ["pods"]))  # a pod's ServiceAccount cannot be changed
        assert not runs(rule(["update"], ["apps"], ["deployments/scale"]))

    def test_many_service_accounts_name_the_most_severe_and_count_all(self):
        bindings = [crb("sa%d-admin" % i, "cluster-admin", [sa("sa%d" % i, "shop")]) for i in range(7)]
        # a-reader sorts first by name but reads Secrets of shop only (high): the critical ones come first
        rbs = [rb("shop", "paul-pods", "ClusterRole", "pod-creator", [user("paul")]), rb("shop", "reader", "ClusterRole", "secret-reader", [sa("a-reader")])]
        s = snap([ADMIN, POD_CREATOR, SECRET_READER], crbs=bindings, rbs=rbs)
        shop = pod_findings(rbac.Audit(s).result(), "User:paul")["shop"]
        assert shop["service_accounts_total"] == 8
        assert [e["id"] for e in shop["service_accounts"]] == ["ServiceAccount:shop/sa%d" % i for i in range(5)]
        assert " and 5 more" in rbac.pod_detail("pod_create", "shop", shop["service_accounts"], shop["service_accounts_total"])

    def test_implied_risks_are_not_repeated(self):
        keys = {("cluster_admin", "a"), ("secrets_read", "a"), ("secrets_read", None), ("pod_exec", "b"), ("rbac_write", "a")}
        assert rbac._reduced(keys) == {("cluster_admin", "a"), ("secrets_read", None), ("pod_exec", "b")}
        assert rbac._reduced(keys | {("cluster_admin", None)}) == {("cluster_admin", None)}
        assert rbac._reduced(set()) == frozenset()


def test_the_three_scopes_at_once_match_one_by_one():
    """classify_role_scopes (what the snapshot uses) gives what classify_rules gives for each scope."""
    rule_sets = [
        [rule(["*"], ["*"], ["*"])],
        [rule(["get", "patch"], [""], ["secrets", "nodes/status", "pods/exec"]), rule(["create"], ["argoproj.io"], ["applications"])],
        [rule(["update"], [""], ["*/status"]), rule(["get"], [""], ["pods/attach"]), rule(["create"], [""], ["pods"])],
        [rule(["get"], ["*"], ["*"])],
    ]
    for rules in rule_sets:
        normalized = [rbac.normalize_rule(r) for r in rules]
        for server in (None, OLD_SERVER, NEW_SERVER):
            for argocd in (False, True):
                got = rbac.classify_role_scopes(normalized, server, argocd_cluster=argocd)
                assert got["cluster"] == rbac.classify_rules(normalized, "cluster", server, argocd=argocd)
                assert got["namespace"] == rbac.classify_rules(normalized, "namespace", server)
                assert got["argocd_namespace"] == rbac.classify_rules(normalized, "argocd_namespace", server)


# ------------------------------------------------------------------ the review objects sent to the API server
def test_access_review_for_an_identity_and_for_the_caller():
    request = rbac.Request("patch", "deployments", api_group="apps", namespace="team-a")
    ident = rbac.Identity.from_check({"service_account": "ci/deployer"})
    assert rbac.access_review(request, ident) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "system:serviceaccount:ci:deployer",
            "groups": ident.groups,
            "resourceAttributes": {"verb": "patch", "group": "apps", "resource": "deployments", "namespace": "team-a"},
        },
    }
    assert "system:authenticated" in ident.groups
    healthz = rbac.Request("get", non_resource_url="/healthz")
    assert rbac.access_review(healthz, None) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"nonResourceAttributes": {"verb": "get", "path": "/healthz"}},
    }
    # A group alone (no user name), and a user without groups: only what is set is sent.
    only_group = rbac.access_review(healthz, rbac.Identity(groups=["ops"]))
    assert only_group["spec"] == {"groups": ["ops"], "nonResourceAttributes": {"verb": "get", "path": "/healthz"}}
    assert "groups" not in rbac.access_review(healthz, rbac.Identity(user="bob"))["spec"]
