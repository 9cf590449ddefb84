# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The requests of the admission guard and of break-glass grants, through the service layer.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Shared by gitops.bootstrap.k8s_admission_guard and gitops.bootstrap.k8s_breakglass: reading the
grants, keeping the guard's break-glass match condition in step with them, and the lock-out probe (dry-run
writes as the running identity and, through impersonation, as the break-glass groups).
"""

from __future__ import annotations

import datetime
import secrets
import time

from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission as adm
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, K8sService, create_client

CANARY_USER = "gitops-bootstrap:admission-probe"
BREAK_GLASS_PROBE_USER = "gitops-bootstrap:break-glass-probe"


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def list_grants(service: K8sService, guard: str, now: datetime.datetime) -> list[dict]:
    items = service.list("ClusterRoleBinding", adm.RBAC_API_VERSION, label_selector=f"{adm.GRANT_LABEL}={guard}")
    grants = [dict(adm.describe_grant(b, now), binding=b) for b in items]
    return sorted(grants, key=lambda g: g["name"] or "")


def sync_grants(service: K8sService, guard: str, users) -> tuple[bool, dict | None, dict | None]:
    """Let exactly these users through the guard's policy (its break-glass match condition), if the policy exists:
    a server-side apply of that one condition under a field manager of its own. Returns (changed, before, after)."""
    if service.get("ValidatingAdmissionPolicy", adm.ADMISSION_API_VERSION, guard) is None:
        return False, None, None
    return service.apply(adm.grant_patch(guard, users), field_manager=adm.GRANTS_FIELD_MANAGER)


def as_identity(module, user: str | None, groups: list[str] | None) -> K8sService:
    """A dry-run service as the running identity (user None) or as an impersonated user and groups."""
    if user is None:
        return K8sService(lambda: module.client, check_mode=True)
    params = dict(module.params, impersonate_user=user, impersonate_groups=groups or [])
    holder = {}

    def connect():
        if "client" not in holder:
            holder["client"] = create_client(params, dry_run=True)
        return holder["client"]
    return K8sService(connect, check_mode=True)


def try_write(service: K8sService, namespace: str, token: str) -> tuple[str, str]:
    """("allowed" | "guard" | "other", message) of a dry-run create of a probe ConfigMap."""
    try:
        service.server_side_apply(adm.probe_configmap(namespace, token))
    except GitopsK8sError as exc:
        return ("guard" if adm.MESSAGE_MARK in exc.msg else "other"), exc.msg
    return "allowed", ""


def wait_canary(module, namespace: str, refused: bool, timeout: float) -> bool:
    """Wait until a canary (a user in system:masters, whom RBAC lets through and the guard must not) is refused by
    the guard (``refused``) or no longer refused. False when the canary cannot be impersonated; an error on timeout."""
    token = secrets.token_hex(4)
    canary = as_identity(module, CANARY_USER, ["system:masters"])
    deadline = time.monotonic() + timeout
    while True:
        outcome, message = try_write(canary, namespace, token)
        if outcome == "other" and "impersonat" in message.lower():
            return False
        if (outcome == "guard") == refused:
            return True
        if time.monotonic() >= deadline:
            raise GitopsK8sError(
                f"The admission guard did not {'take effect' if refused else 'go out of force'} within {timeout:.0f} s "
                f"(last answer to a probe write: {message or 'allowed'}). Check that the API server serves ValidatingAdmissionPolicy "
                "(Kubernetes 1.30 or later) and run again."
            )
        time.sleep(0.5)


class LockoutProbe:
    """Whether the guard, once bound with Deny, would refuse the running identity or a break-glass group.

    A copy of the policy is bound with Deny to probe objects only; a canary identity (a user in
    system:masters, which RBAC lets through and the guard must not) shows when the copy is in force;
    then the running identity and each break-glass group send a dry-run create of a probe ConfigMap.
    The copy is removed whatever happens.
    """

    def __init__(self, module, service: K8sService, policy: dict, namespace: str, timeout: float):
        self.module = module
        self.service = service
        self.policy, self.binding = adm.probe_objects(policy)
        self.namespace = namespace
        self.timeout = timeout
        self.token = secrets.token_hex(4)

    def _wait_in_force(self) -> None:
        if not wait_canary(self.module, self.namespace, True, self.timeout):
            raise GitopsK8sError(
                "The lock-out check of the admission guard needs to impersonate a probe user (in group system:masters) and was "
                "refused. Nothing was changed: run with an identity that may impersonate users and groups (cluster-admin may), "
                "or bind the guard in audit mode."
            )

    def _try(self, user: str | None, groups: list[str] | None) -> tuple[str, str]:
        return try_write(as_identity(self.module, user, groups), self.namespace, self.token)

    def run(self, break_glass_groups: list[str]) -> list[dict]:
        findings = []
        self.service.server_side_apply(self.policy)
        try:
            self.service.server_side_apply(self.binding)
            self._wait_in_force()
            outcome, message = self._try(None, None)
            findings.append({"who": "the running identity", "keeps": outcome != "guard", "checked": outcome != "other", "message": message})
            for group in break_glass_groups:
                outcome, message = self._try(BREAK_GLASS_PROBE_USER, [group])
                findings.append({"who": f"break-glass group {group}", "keeps": outcome != "guard", "checked": outcome != "other", "message": message})
        finally:
            self.service.delete_object(self.binding)
            self.service.delete_object(self.policy)
        return findings
