# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input handling and the review objects k8s_access_review sends; the answers of a real API server
are tested in tests/integration/test_rbac_audit.py."""


import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError
from ansible_collections.gitops.bootstrap.plugins.modules import k8s_access_review as mod


def params(checks, **kw):
    spec = mod.build_argument_spec()["checks"]["options"]
    filled = [dict((k, c.get(k, o.get("default"))) for k, o in spec.items()) for c in checks]
    out = {"checks": filled, "fail_on_unexpected": True}
    out.update(kw)
    return out


class FakeModule(object):
    def __init__(self, p, answer):
        self.params = p
        self.answer = answer
        self.sent = []

    def create_review(self, definition):
        self.sent.append(definition)
        return {"status": self.answer(definition)}


def test_review_objects():
    module = FakeModule(
        params(
            [
                {"service_account": "argocd/controller", "verb": "create", "resource": "deployments", "api_group": "apps", "namespace": "a"},
                {"self": True, "verb": "get", "non_resource_url": "/healthz"},
                {"user": "bob", "authenticated": False, "verb": "get", "resource": "pods", "subresource": "log", "name": "p"},
            ]
        ),
        lambda d: {"allowed": True, "reason": "RBAC: allowed"},
    )
    result = mod.AccessReviewer(module).run()
    sa, me, bob = module.sent
    assert sa["kind"] == "SubjectAccessReview"
    assert sa["spec"] == {
        "user": "system:serviceaccount:argocd:controller",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"],
        "resourceAttributes": {"verb": "create", "group": "apps", "resource": "deployments", "namespace": "a"},
    }
    assert me == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"nonResourceAttributes": {"verb": "get", "path": "/healthz"}},
    }
    assert bob["spec"] == {"user": "bob", "resourceAttributes": {"verb": "get", "group": "", "resource": "pods", "subresource": "log", "name": "p"}}
    assert result["changed"] is False and result["all_as_expected"] is True
    assert [r["as_expected"] for r in result["results"]] == [None, None, None]
    assert result["results"][0]["reason"] == "RBAC: allowed"


def test_unexpected_answers_fail_with_every_mismatch():
    module = FakeModule(
        params(
            [
                {"groups": ["devs"], "verb": "delete", "resource": "deployments", "api_group": "apps", "namespace": "a", "expect": False},
                {"groups": ["devs"], "verb": "get", "resource": "deployments", "api_group": "apps", "namespace": "a", "expect": True},
                {"groups": ["devs"], "verb": "get", "resource": "secrets", "namespace": "a", "expect": False},
            ]
        ),
        lambda d: {"allowed": True},
    )
    with pytest.raises(GitopsK8sError) as err:
        mod.AccessReviewer(module).run()
    assert err.value.msg.startswith("2 of 3 access checks did not get the expected answer")
    assert "delete deployments.apps in namespace a is allowed, expected not allowed" in err.value.msg
    assert "get secrets in namespace a is allowed" in err.value.msg
    assert len(err.value.details["unexpected"]) == 2
    # Without failing, the same is returned.
    module.params["fail_on_unexpected"] = False
    result = mod.AccessReviewer(module).run()
    assert result["all_as_expected"] is False and len(result["unexpected"]) == 2


@pytest.mark.parametrize(
    "check,message",
    [
        ({"self": True, "groups": ["x"], "verb": "get", "resource": "pods"}, "self: true takes no user"),
        ({"verb": "get", "resource": "pods"}, "needs a user, a service_account or groups"),
        ({"user": "a", "service_account": "n/s", "verb": "get", "resource": "pods"}, "either a user or a service_account"),
        ({"user": "a", "verb": "get", "resource": "pods", "non_resource_url": "/x"}, "not both"),
    ],
)
def test_bad_checks(check, message):
    module = FakeModule(params([{"user": "ok", "verb": "get", "resource": "pods"}, check]), lambda d: {"allowed": True})
    with pytest.raises(GitopsK8sError, match=r"checks\[1\]: .*" + message):
        mod.AccessReviewer(module).run()
    assert module.sent == [], "nothing is sent before every check is valid"
