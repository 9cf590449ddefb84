# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The suboptions of an access check: who asks (an identity) to make which API request.

This doc fragment is PRIVATE to the collection. k8s_access_review (O(checks)) and k8s_rbac_audit
(O(access_checks)) take the same check under different option names; the argument spec side is
``_argspec.access_check_options``. Each variable documents the suboptions of one module's option;
the module itself documents the option (description, type, elements, default).
"""

from __future__ import annotations

import textwrap

# The identity; {option} is the name of the list option the check is an element of.
_IDENTITY = r"""
user:
  description: User name. Exclusive with O({option}[].service_account).
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
"""

# The request.
_REQUEST = r"""
verb:
  description: API verb (V(get), V(list), V(create), V(patch), V(delete), V(escalate), V(*), ...).
  type: str
  required: true
resource:
  description: Resource (plural, lower case), for example V(deployments). Exclusive with O({option}[].non_resource_url).
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

# What only k8s_access_review asks: about the running identity itself, and the expected answer.
_SELF = r"""
self:
  description:
    - Ask about the identity running the module (SelfSubjectAccessReview). Identity fields are then not allowed.
    - With kubernetes.core's O(impersonate_user)/O(impersonate_groups), that is the impersonated identity.
  type: bool
  default: false
"""

_EXPECT = r"""
expect:
  description: The expected answer. When set, RV(results[].as_expected) compares with it.
  type: bool
"""


def _suboptions(option: str, *parts: str) -> str:
    """The fragment that gives the option ``option`` these suboptions."""
    body = "".join(textwrap.dedent(part).lstrip("\n").format(option=option) for part in parts)
    return f"options:\n  {option}:\n    suboptions:\n{textwrap.indent(body, '      ')}"


class ModuleDocFragment:
    """The suboptions of k8s_access_review's O(checks) and k8s_rbac_audit's O(access_checks)."""

    # k8s_access_review: checks asked of the API server.
    CHECKS = _suboptions("checks", _SELF, _IDENTITY, _REQUEST, _EXPECT)

    # k8s_rbac_audit: checks answered from the RBAC objects.
    ACCESS_CHECKS = _suboptions("access_checks", _IDENTITY, _REQUEST)
