# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline tests of the admission guard builders and of break-glass grants.

What the API server does with these objects is proven in tests/integration/test_admission.py;
these cover input checks and the edges of the builders.
"""

import datetime

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission as adm

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


# ---------------------------------------------------------------------------- input
@pytest.mark.parametrize("subject, message", [
    ({"kind": "User", "name": ""}, "is empty"),
    ({"kind": "User", "name": " alice"}, "leading or trailing"),
    ({"kind": "User", "name": "al*"}, "no wildcards"),
    ({"kind": "Robot", "name": "x"}, "not User, Group or ServiceAccount"),
    ({"kind": "ServiceAccount", "name": "x"}, "namespace"),
    ({"kind": "ServiceAccount", "name": "x", "namespace": "Bad_NS"}, "namespace"),
    ({"kind": "Group", "name": "g", "namespace": "ns"}, "has no namespace"),
    ({"kind": "Group", "name": "system:authenticated"}, "stands for everyone"),
    ({"kind": "Group", "name": "system:masters"}, "stands for everyone"),
    ({"kind": "User", "name": "system:anonymous"}, "stands for everyone"),
    ("alice", "is not a subject"),
])
def test_invalid_allowlist_subject_is_refused(subject, message):
    with pytest.raises(adm.AdmissionInputError, match=message):
        adm.exempt_identities([subject], ["platform"])


def test_empty_break_glass_is_refused():
    with pytest.raises(adm.AdmissionInputError, match="break_glass_groups is empty"):
        adm.exempt_identities([], [])


def test_break_glass_everyone_is_refused():
    with pytest.raises(adm.AdmissionInputError, match="stands for everyone"):
        adm.exempt_identities([], ["system:authenticated"])


def test_exempt_identities_are_listed_by_name():
    users, groups = adm.exempt_identities(
        [{"kind": "ServiceAccount", "namespace": "argocd", "name": "argocd-application-controller"}, {"kind": "Group", "name": "ci"}],
        ["platform"], system_users=["kwok-admin"], system_groups=["system:nodes"])
    assert users == ["kwok-admin", "system:serviceaccount:argocd:argocd-application-controller"]
    assert groups == ["ci", "platform", "system:nodes"]


# ---------------------------------------------------------------------------- policies
def test_human_guard_scope_and_conditions():
    policy = adm.human_guard_policy("guard", ["kwok-admin"], ["platform"], ["platform"], "https://git.example/infra")
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    rule = spec["matchConstraints"]["resourceRules"][0]
    assert rule["operations"] == ["CREATE", "UPDATE", "DELETE"]
    excluded = {(r["apiGroups"][0], res) for r in spec["matchConstraints"]["excludeResourceRules"] for res in r["resources"]}
    assert ("coordination.k8s.io", "leases") in excluded and ("", "events") in excluded
    assert ("authorization.k8s.io", "subjectaccessreviews") in excluded
    names = [c["name"] for c in spec["matchConditions"]]
    assert names == ["not-an-exempt-identity", "not-a-dry-run"]
    assert '["kwok-admin"]' in spec["matchConditions"][0]["expression"]
    assert "https://git.example/infra" in spec["validations"][0]["message"]
    assert "breakglass.yml" in spec["validations"][0]["message"]


def test_cel_literals_escape_quotes():
    policy = adm.human_guard_policy("guard", ['a"b'], ["g\\h"], ["g\\h"])
    expr = policy["spec"]["matchConditions"][0]["expression"]
    assert '"a\\"b"' in expr and '"g\\\\h"' in expr


def test_binding_modes_and_namespace_exclusion():
    audit = adm.build_binding("guard", "guard", adm.actions_for("audit"), ["sandbox", "sandbox", "lab"])
    assert audit["spec"]["validationActions"] == ["Audit", "Warn"]
    expr = audit["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]
    assert expr == {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["lab", "sandbox"]}
    enforce = adm.build_binding("guard", "guard", adm.actions_for("enforce"))
    assert enforce["spec"]["validationActions"] == ["Deny"] and "matchResources" not in enforce["spec"]
    with pytest.raises(adm.AdmissionInputError):
        adm.actions_for("off")


def test_probe_copy_sees_only_probes_and_ignores_grants():
    policy = adm.human_guard_policy("guard", ["kwok-admin"], ["platform"], ["platform"])
    policy["spec"]["matchConditions"].append(adm.grant_condition(["alice"]))
    probe, binding = adm.probe_objects(policy)
    assert probe["metadata"]["name"] == "guard-probe"
    assert adm.GRANT_CONDITION not in [c["name"] for c in probe["spec"]["matchConditions"]]
    assert adm.GRANT_CONDITION in [c["name"] for c in policy["spec"]["matchConditions"]]
    assert binding["spec"]["matchResources"]["objectSelector"] == {"matchLabels": {adm.PROBE_LABEL: "true"}}
    assert binding["spec"]["validationActions"] == ["Deny"]


def test_grant_condition():
    assert adm.grant_condition([])["expression"] == "true"
    assert adm.grant_condition(["b", "a", "a"])["expression"] == '!(request.userInfo.username in ["a", "b"])'


def test_dry_run_only_policy_for_a_pipeline():
    policy = adm.dry_run_only_policy("pipeline-preview", users=["system:serviceaccount:ci:preview"], reason="previews only")
    assert policy["spec"]["validations"][0]["expression"] == "has(request.dryRun) && request.dryRun"
    assert "system:serviceaccount:ci:preview" in policy["spec"]["matchConditions"][0]["expression"]
    assert "previews only" in policy["spec"]["validations"][0]["message"]
    with pytest.raises(adm.AdmissionInputError, match="at least one"):
        adm.dry_run_only_policy("x")
    with pytest.raises(adm.AdmissionInputError, match="everyone"):
        adm.dry_run_only_policy("x", groups=["system:authenticated"])


# ---------------------------------------------------------------------------- break-glass
@pytest.mark.parametrize("text, seconds", [("90", 90), (90, 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1d", 86400)])
def test_durations(text, seconds):
    assert adm.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-5", "1 hour", "h", "1.5h", None, True])
def test_bad_durations_are_refused(text):
    with pytest.raises(adm.AdmissionInputError):
        adm.parse_duration(text)


def test_grant_records_user_reason_and_expiry():
    grant = adm.build_grant("bg", "Alice@Example.com", "cluster-admin", "INC-1", NOW, 3600, "guard")
    notes = grant["metadata"]["annotations"]
    assert notes[adm.ANNOTATION_EXPIRES] == "2026-12-01T13:00:00Z"
    assert notes[adm.ANNOTATION_REASON] == "INC-1" and notes[adm.ANNOTATION_USER] == "Alice@Example.com"
    assert grant["metadata"]["name"].startswith("bg-alice-example-com-")
    assert grant["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "Alice@Example.com"}]
    assert adm.grant_name("bg", "alice") != adm.grant_name("bg", "Alice")
    assert not adm.describe_grant(grant, NOW)["expired"]
    assert adm.describe_grant(grant, NOW + datetime.timedelta(hours=1))["expired"]


def test_grant_without_readable_expiry_counts_as_expired():
    grant = adm.build_grant("bg", "alice", "cluster-admin", "x", NOW, 60, "guard")
    grant["metadata"]["annotations"][adm.ANNOTATION_EXPIRES] = "tomorrow"
    assert adm.describe_grant(grant, NOW)["expired"]
    assert adm.active_users([adm.describe_grant(grant, NOW)]) == []
