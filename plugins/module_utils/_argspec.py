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


FORGE_KINDS = ["gitea", "github", "gitlab"]
MAX_FORGE_TIMEOUT = 600


def forge_connection_options(required: bool = True, timeout_option: str = "timeout") -> dict:
    """How a module reaches a forge: kind, URL, token, the per-call timeout and TLS.

    Documented by the ``gitops.bootstrap.forge`` doc fragment for the modules that always talk to a
    forge (``required``); a module for which the forge is one mode among others (infra_repo's
    pull-request mode, gitops_promote) makes ``forge`` and ``token`` optional and names the timeout
    ``forge_timeout``, beside its own timeouts.
    """
    return {
        "forge": dict(type="str", required=required, choices=list(FORGE_KINDS)),
        "api_url": dict(type="str"),
        "token": dict(type="str", required=required, no_log=True),
        timeout_option: dict(type="int", default=20),
        "validate_certs": dict(type="bool", default=True),
        "ca_path": dict(type="path"),
    }


def forge_timeout_problem(value, option: str = "timeout") -> str | None:
    """Why a forge timeout cannot be used, or None: every call to a forge is bounded."""
    if value is None or not 0 < value <= MAX_FORGE_TIMEOUT:
        return f"{option} must be between 1 and {MAX_FORGE_TIMEOUT} seconds (got {value!r})"
    return None
