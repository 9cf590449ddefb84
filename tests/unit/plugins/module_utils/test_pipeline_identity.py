# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge cases of the pipeline identity's builders (the behaviour is proven in tests/integration/test_pipeline_identity.py)."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _pipeline_identity as pid


def params(**extra):
    out = {"name": "plan", "namespace": "ci", "state": "present", "namespaces": ["apps"], "cluster_wide": False,
           "verbs": list(pid.DEFAULT_VERBS), "token_seconds": 3600}
    out.update(extra)
    return out


@pytest.mark.parametrize("extra, words", [
    ({"name": ""}, "name"),
    ({"name": "Bad_Name"}, "name"),
    ({"namespace": ""}, "namespace"),
    ({"namespaces": []}, "namespaces is empty"),
    ({"namespaces": ["apps"], "cluster_wide": True}, "not both"),
    ({"namespaces": ["ok", "-bad"]}, "namespaces[1]"),
    ({"verbs": []}, "verbs is empty"),
    ({"verbs": ["get", "delete"]}, "delete"),
    ({"token_seconds": 86401}, "86400"),
    ({"token_seconds": 0}, "token_seconds"),
])
def test_bad_input_names_the_problem(extra, words):
    with pytest.raises(pid.PipelineIdentityInputError) as err:
        pid.validate(params(**extra))
    assert words in str(err.value) and "Nothing was changed" in str(err.value)


def test_absent_needs_only_the_identity():
    pid.validate(params(state="absent", namespaces=[], token_seconds=10 ** 9))


def test_policy_matches_only_the_service_account_and_requires_dry_run():
    policy, binding = pid.admission_objects("ci", "plan")
    condition = policy["spec"]["matchConditions"][0]["expression"]
    assert '"system:serviceaccount:ci:plan"' in condition
    assert policy["spec"]["validations"][0]["expression"] == "has(request.dryRun) && request.dryRun"
    assert "pipeline identity ci/plan" in policy["spec"]["validations"][0]["message"]
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    assert binding["metadata"]["labels"][pid.IDENTITY_LABEL] == "plan"


def test_rbac_namespaced_or_cluster_wide():
    kinds = [(o["kind"], o["metadata"].get("namespace")) for o in pid.rbac_objects(params(namespaces=["b", "a", "a"]))]
    assert kinds == [("Role", "a"), ("RoleBinding", "a"), ("Role", "b"), ("RoleBinding", "b")]
    cluster = pid.rbac_objects(params(namespaces=[], cluster_wide=True))
    assert [o["kind"] for o in cluster] == ["ClusterRole", "ClusterRoleBinding"]
    assert cluster[0]["rules"][0]["verbs"] == sorted(pid.DEFAULT_VERBS)


def _jwt(claims):
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{body}.sig"


def test_token_expiry_reads_exp_and_tolerates_garbage():
    assert pid.token_expiry(_jwt({"exp": 1234})) == 1234
    assert pid.token_expiry("not-a-jwt") is None
    assert pid.token_expiry(_jwt({"exp": "soon"})) is None


def test_kubeconfig_compared_without_its_token():
    a = pid.kubeconfig("https://h", b"CA", False, "ci", "plan", "t1")
    b = pid.kubeconfig("https://h", b"CA", False, "ci", "plan", "t2")
    assert a != b and pid.without_token(a) == pid.without_token(b)
    assert pid.kubeconfig_token(a) == "t1"
    assert pid.without_token(a) != pid.without_token(pid.kubeconfig("https://other", b"CA", False, "ci", "plan", "t1"))
