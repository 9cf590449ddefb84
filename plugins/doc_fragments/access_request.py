# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The suboptions of an access check: who asks (an identity) to make which API request.

This doc fragment is PRIVATE to the collection. k8s_access_review (O(checks)) and k8s_rbac_audit
(O(access_checks)) take the same check under different option names; the argument spec side is
``_argspec.access_check_options``. Each variable documents the suboptions of one module's option;
the module itself documents the option (description, type, elements, default). Each is a plain
string literal: ansible-test's documentation checks read the fragments without running them.
"""

from __future__ import annotations


class ModuleDocFragment:
    """The suboptions of k8s_access_review's O(checks) and k8s_rbac_audit's O(access_checks)."""

    # k8s_access_review: checks asked of the API server.
    CHECKS = r"""options:
  checks:
    suboptions:
      self:
        description:
          - Ask about the identity running the module (SelfSubjectAccessReview). Identity fields are then not allowed.
          - With kubernetes.core's O(impersonate_user)/O(impersonate_groups), that is the impersonated identity.
        type: bool
        default: false
      user:
        description: User name. Exclusive with O(checks[].service_account).
        type: str
      groups:
        description: Groups of the identity.
        type: list
        elements: str
      service_account:
        description: A service account as C(NAMESPACE/NAME).
        type: str
      authenticated:
        description:
          - Add the groups the authenticator gives every such identity (C(system:authenticated); for service
            accounts also C(system:serviceaccounts) and C(system:serviceaccounts:NAMESPACE)), as a real login or
            impersonation would.
        type: bool
        default: true
      verb:
        description: API verb (V(get), V(list), V(create), V(patch), V(delete), V(escalate), V(*), ...).
        type: str
        required: true
      resource:
        description: Resource (plural, lower case), for example V(deployments). Exclusive with O(checks[].non_resource_url).
        type: str
      api_group:
        description: API group of the resource, V("") for the core group.
        type: str
        default: ""
      subresource:
        description: Subresource, for example V(exec) or V(status).
        type: str
      name:
        description: Object name.
        type: str
      namespace:
        description: Namespace of the request; empty for cluster-scoped requests.
        type: str
      non_resource_url:
        description: A non-resource path such as V(/healthz).
        type: str
      expect:
        description: The expected answer. When set, RV(results[].as_expected) compares with it.
        type: bool
"""

    # k8s_rbac_audit: checks answered from the RBAC objects.
    ACCESS_CHECKS = r"""options:
  access_checks:
    suboptions:
      user:
        description: User name. Exclusive with O(access_checks[].service_account).
        type: str
      groups:
        description: Groups of the identity.
        type: list
        elements: str
      service_account:
        description: A service account as C(NAMESPACE/NAME).
        type: str
      authenticated:
        description:
          - Add the groups the authenticator gives every such identity (C(system:authenticated); for service
            accounts also C(system:serviceaccounts) and C(system:serviceaccounts:NAMESPACE)), as a real login or
            impersonation would.
        type: bool
        default: true
      verb:
        description: API verb (V(get), V(list), V(create), V(patch), V(delete), V(escalate), V(*), ...).
        type: str
        required: true
      resource:
        description: Resource (plural, lower case), for example V(deployments). Exclusive with O(access_checks[].non_resource_url).
        type: str
      api_group:
        description: API group of the resource, V("") for the core group.
        type: str
        default: ""
      subresource:
        description: Subresource, for example V(exec) or V(status).
        type: str
      name:
        description: Object name.
        type: str
      namespace:
        description: Namespace of the request; empty for cluster-scoped requests.
        type: str
      non_resource_url:
        description: A non-resource path such as V(/healthz).
        type: str
"""
