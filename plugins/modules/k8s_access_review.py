#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: k8s_access_review
short_description: Ask the Kubernetes API server whether identities may make requests
version_added: 0.1.0
description:
  - Creates one SubjectAccessReview per check (or SelfSubjectAccessReview for the identity running the
    module) and returns the API server's answer. The answer comes from every authorizer the server runs
    (RBAC, Node, webhooks, and the C(system:masters) bypass), so it is the ground truth that
    M(gitops.bootstrap.k8s_rbac_audit) computes from RBAC objects alone.
  - With O(checks[].expect), the module fails when an answer differs from the expectation, which makes it
    a verification step ("developers cannot delete Deployments", "the break-glass group can do
    everything").
  - Review objects are not stored; the module never changes anything and runs in check mode too.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.info_module
  - gitops.bootstrap.access_request.checks
options:
  checks:
    description: The questions to ask.
    type: list
    elements: dict
    required: true
  fail_on_unexpected:
    description: Fail when an answer differs from O(checks[].expect), naming each such check.
    type: bool
    default: true
notes:
  - Needs C(create) on C(subjectaccessreviews) (group C(authorization.k8s.io)) for checks about others;
    every authenticated identity may create selfsubjectaccessreviews.
seealso:
  - module: gitops.bootstrap.k8s_rbac_audit
  - name: Authorization overview (checking API access)
    description: SubjectAccessReview and SelfSubjectAccessReview.
    link: https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
"""

EXAMPLES = r"""
---
- name: Developers read Deployments but cannot change them nor read Secrets
  gitops.bootstrap.k8s_access_review:
    checks:
      - {groups: [developers], verb: list, resource: deployments, api_group: apps, namespace: team-a, expect: true}
      - {groups: [developers], verb: patch, resource: deployments, api_group: apps, namespace: team-a, expect: false}
      - {groups: [developers], verb: get, resource: secrets, namespace: team-a, expect: false}

- name: The Argo CD application controller can still deploy
  gitops.bootstrap.k8s_access_review:
    checks:
      - service_account: argocd/argocd-application-controller
        verb: create
        resource: deployments
        api_group: apps
        namespace: team-a
        expect: true

- name: What may I do myself?
  gitops.bootstrap.k8s_access_review:
    checks:
      - {self: true, verb: "*", resource: "*", api_group: "*"}
  register: me
"""

RETURN = r"""
results:
  description: One answer per check, in order.
  returned: always
  type: list
  elements: dict
  contains:
    identity:
      description: Who was asked about.
      type: str
      sample: "user alice with groups system:authenticated"
    request:
      description: The request, in words.
      type: str
      sample: "patch deployments.apps in namespace team-a"
    allowed:
      description: The API server's answer.
      type: bool
    denied:
      description: True when an authorizer denied explicitly (RBAC never does; webhooks can).
      type: bool
    reason:
      description: The server's reason, if any (RBAC names the binding that allowed it).
      type: str
    evaluation_error:
      description: An error an authorizer met while evaluating, if any.
      type: str
    expect:
      description: The expectation given, or null.
      type: bool
    as_expected:
      description: Whether C(allowed) equals C(expect) (null without an expectation).
      type: bool
all_as_expected:
  description: True when every check with an expectation got it.
  returned: always
  type: bool
unexpected:
  description: The results that differ from their expectation.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
    GitopsK8sModule,
    run_module,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac


class AccessReviewer(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params

    def prepare(self):
        prepared = []
        for index, check in enumerate(self.params["checks"]):
            try:
                request = rbac.Request.from_check(check)
                if check.get("self"):
                    if check.get("user") or check.get("groups") or check.get("service_account"):
                        raise rbac.RbacInputError("a check with self: true takes no user, groups or service_account")
                    ident = None
                else:
                    ident = rbac.Identity.from_check(check)
            except rbac.RbacInputError as exc:
                raise GitopsK8sError("checks[%d]: %s." % (index, exc))
            prepared.append((check, ident, request))
        return prepared

    def review(self, ident, request):
        answer = self.module.create_review(rbac.access_review(request, ident))
        return (answer or {}).get("status") or {}

    def run(self):
        prepared = self.prepare()
        results = []
        for check, ident, request in prepared:
            status = self.review(ident, request)
            allowed = bool(status.get("allowed"))
            expect = check.get("expect")
            results.append(
                {
                    "identity": "the running identity" if ident is None else ident.describe(),
                    "request": request.describe(),
                    "allowed": allowed,
                    "denied": bool(status.get("denied")),
                    "reason": status.get("reason") or "",
                    "evaluation_error": status.get("evaluationError") or "",
                    "expect": expect,
                    "as_expected": None if expect is None else allowed == expect,
                }
            )
        unexpected = [r for r in results if r["as_expected"] is False]
        out = {"changed": False, "results": results, "all_as_expected": not unexpected, "unexpected": unexpected}
        if unexpected and self.params["fail_on_unexpected"]:
            lines = [
                "%s: %s is %s, expected %s"
                % (r["identity"], r["request"], "allowed" if r["allowed"] else "not allowed", "allowed" if r["expect"] else "not allowed")
                for r in unexpected
            ]
            raise GitopsK8sError(
                "%d of %d access checks did not get the expected answer from the API server: %s." % (len(unexpected), len(results), "; ".join(lines)),
                **out
            )
        return out


def build_argument_spec():
    check_options = _argspec.access_check_options(self=dict(type="bool", default=False), expect=dict(type="bool"))
    return dict(
        checks=dict(type="list", elements="dict", required=True, options=check_options),
        fail_on_unexpected=dict(type="bool", default=True),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, AccessReviewer, "Reviewing access")


if __name__ == "__main__":
    main()
