# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces of argument specs that several modules share, each written once.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Each function returns a new dict, so a module may extend its copy. Within one module's
DOCUMENTATION, suboptions it repeats are written once as a YAML anchor (argocd_project's group and
kind, k8s_rbac_audit's requests).
"""

from __future__ import annotations

DEFAULT_ARGOCD_NAMESPACE = "argocd"


def argocd_namespace() -> dict:
    """The ``namespace`` option of the argocd_* modules: where Argo CD runs."""
    return dict(type="str", default=DEFAULT_ARGOCD_NAMESPACE)


def access_request_options() -> dict:
    """The suboptions of one API request (an access check, a who-can question, a guard request)."""
    return dict(
        verb=dict(type="str", required=True),
        resource=dict(type="str"),
        api_group=dict(type="str", default=""),
        subresource=dict(type="str"),
        name=dict(type="str"),
        namespace=dict(type="str"),
        non_resource_url=dict(type="str"),
    )


def access_check_options(**extra) -> dict:
    """A request with the identity that makes it (k8s_access_review's checks, k8s_rbac_audit's access_checks)."""
    options = access_request_options()
    options.update(
        user=dict(type="str"),
        groups=dict(type="list", elements="str"),
        service_account=dict(type="str"),
        authenticated=dict(type="bool", default=True),
    )
    options.update(extra)
    return options


def group_kind_options() -> dict:
    """The suboptions of one API group and kind (the resource lists of an AppProject)."""
    return dict(group=dict(type="str", required=True), kind=dict(type="str", required=True))
