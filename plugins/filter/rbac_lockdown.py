# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the rbac_lockdown role: what it wants to exist, as the infra repository holds it."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _plain(value):
    """Ansible's lazy containers and tagged strings as plain Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def rbac_lockdown_argocd_policy(data, policy_name: str = "gitops-developers", match_mode: str = "glob") -> dict:
    """The key of argocd-rbac-cm that gitops.bootstrap.argocd_rbac writes for the developer groups, as {key: csv}.

    ``data`` is what the role's argocd_policies.yml.j2 renders ({policies, groups}); the text is built by the
    module's own code (build_policy_csv), so Git holds exactly what the module would write. No groups: an
    empty mapping (the module removes the key then, and the repository does not hold it).
    """
    from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
        ArgoCDValidationError,
        build_policy_csv,
        policy_key,
    )

    data = _plain(data or {})
    groups = data.get("groups") or []
    if not groups:
        return {}
    try:
        csv = build_policy_csv(data.get("policies") or [], groups, match_mode)
        key = policy_key(policy_name)
    except ArgoCDValidationError as exc:
        raise AnsibleFilterError(f"rbac_lockdown_developer_groups / rbac_lockdown_argocd_actions: {exc.msg}") from None
    return {key: csv}


class FilterModule:
    """Filters of the rbac_lockdown role."""

    def filters(self):
        return {"rbac_lockdown_argocd_policy": rbac_lockdown_argocd_policy}
