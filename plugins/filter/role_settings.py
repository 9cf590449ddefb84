# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the roles' settings that their argument specifications cannot express.

Each ``<role>_settings_errors`` filter takes a dict of the role's variables without the role's
prefix and returns every problem at once, one message each, naming the variable and what to do;
an empty list when all is well. The role fails on a non-empty list before it changes anything.
The argocd role's check lives beside its manifests (``argocd_manifests.argocd_settings_errors``).
"""

from __future__ import annotations

import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.module_utils import _names

# Verbs that let a subject gain rights it was not given.
_ESCALATING_VERBS = ("escalate", "bind", "impersonate")
_READ_VERBS = ("get", "list", "watch")
# Subresources that reach into running containers ("$" also before a final line break, so such a value is refused too).
_CONTAINER_SUBRESOURCE = re.compile(r".*/(exec|attach|portforward|proxy)$")


def _settings(value, role: str) -> dict:
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"{role}_settings_errors: expected a dict of the role's settings, got {type(value).__name__}")
    return json.loads(json.dumps(value))


def _rules_with(rules: list, test) -> list:
    return [rule for rule in rules if isinstance(rule, dict) and test(rule)]


def argocd_spoke_settings_errors(s) -> list[str]:
    """Every problem in the settings of the argocd_spoke role."""
    s = _settings(s, "argocd_spoke")
    errors: list[str] = []
    hub = s.get("hub_host")
    namespaces = s.get("namespaces") or []
    sa_namespace = s.get("service_account_namespace")
    if not s.get("hub_known"):
        errors.append(f"argocd_spoke_hub_host {json.dumps(hub)} is not a host of the inventory: set it to the inventory name of "
                      "the cluster that runs Argo CD.")
    if s.get("state") != "absent" and not namespaces:
        errors.append(f"argocd_spoke_namespaces is empty: list the namespaces of {s.get('inventory_hostname')} Argo CD may deploy "
                      "to (an empty list would mean every namespace to Argo CD).")
    bad = [e for e in (_names.name_error(ns, "dns1123_label", "argocd_spoke_namespaces entry") for ns in namespaces) if e]
    if bad:
        errors.append(f"argocd_spoke_namespaces has invalid namespace names: {' '.join(bad)}")
    for error in (_names.name_error(sa_namespace, "dns1123_label", "argocd_spoke_service_account_namespace"),
                  _names.name_error(s.get("service_account"), "dns1123_subdomain", "argocd_spoke_service_account")):
        if error:
            errors.append(error)
    if sa_namespace in namespaces:
        errors.append(f"argocd_spoke_service_account_namespace {sa_namespace} is also in argocd_spoke_namespaces: Argo CD could "
                      "then read and change its own credentials. Keep the ServiceAccount in a namespace of its own.")
    error = _names.name_error(s.get("secret_name"), "dns1123_subdomain", "The cluster Secret name")
    if error:
        errors.append(f"{error} Set argocd_spoke_cluster_secret_name.")
    rules = s.get("rules") or []
    wild = _rules_with(rules, lambda r: any("*" in (r.get(f) or []) for f in ("apiGroups", "resources", "verbs")))
    if wild:
        errors.append(f"argocd_spoke_namespace_rules / argocd_spoke_namespace_extra_rules contain '*' in {json.dumps(wild)}: list API "
                      "groups, resources and verbs explicitly.")
    escalating = _rules_with(rules, lambda r: any(v in _ESCALATING_VERBS for v in r.get("verbs") or []))
    if escalating:
        errors.append("argocd_spoke_namespace_rules / argocd_spoke_namespace_extra_rules grant escalate, bind or impersonate in "
                      f"{json.dumps(escalating)}: these let the ServiceAccount gain rights it was not given; remove them.")
    if any(not isinstance(r, dict) or "kind" not in r for r in s.get("cluster_resources") or []):
        errors.append('Every entry of argocd_spoke_cluster_resources needs a kind (and a group, "" for the core group).')
    if s.get("insecure") and s.get("ca_data"):
        errors.append("argocd_spoke_insecure cannot be combined with argocd_spoke_ca_data: keep the CA and leave insecure false.")
    timeout = s.get("token_timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        errors.append("argocd_spoke_token_timeout must be a positive number of seconds.")
    if s.get("hub_known"):
        if not s.get("hub_kubeconfig"):
            errors.append(f"The kubeconfig of the hub {hub} is unknown: set gitops_kubeconfig on that inventory host, or "
                          "argocd_spoke_hub_kubeconfig.")
        elif (s.get("hub_kubeconfig"), s.get("hub_context")) == (s.get("kubeconfig"), s.get("context")):
            errors.append(f"The hub {hub} and the spoke {s.get('inventory_hostname')} use the same kubeconfig and context "
                          f"({s.get('kubeconfig')}): a cluster cannot be its own spoke through this role; check gitops_kubeconfig / "
                          "gitops_context of both hosts.")
    return errors


def infra_repo_settings_errors(s) -> list[str]:
    """Every problem in the settings of the infra_repo role (the cluster name itself is checked by the layout)."""
    s = _settings(s, "infra_repo")
    errors: list[str] = []
    if not s.get("url") or not s.get("cluster"):
        errors.append("set infra_repo_url (a local path or a git URL) and infra_repo_cluster (the cluster's name)")
    timeout = s.get("timeout")
    try:
        positive = int(timeout) > 0
    except (TypeError, ValueError):
        positive = False
    if not positive:
        errors.append(f"infra_repo_timeout must be a positive number of seconds (got {timeout}); the default is 120")
    if s.get("pull_request") and (not s.get("forge") or not (s.get("forge_token_set") or s.get("forge_token"))
                                  or (s.get("forge") == "gitea" and not s.get("forge_api_url"))):
        errors.append("infra_repo_pull_request needs infra_repo_forge (gitea, github or gitlab), infra_repo_forge_token (an API "
                      "token of the user who opens the pull request) and, for Gitea, infra_repo_forge_api_url (the server URL)")
    on_disagreement = s.get("on_disagreement", "report")
    if on_disagreement not in ("report", "propose"):
        errors.append(f"infra_repo_on_disagreement must be report (keep Git's value and say so) or propose (open a pull request "
                      f"with the inventory's value), got {on_disagreement!r}")
    elif on_disagreement == "propose" and (not s.get("forge") or not (s.get("forge_token_set") or s.get("forge_token"))
                                           or (s.get("forge") == "gitea" and not s.get("forge_api_url"))):
        errors.append("infra_repo_on_disagreement: propose opens a pull request with the inventory's values, never a direct push: "
                      "it needs infra_repo_forge (gitea, github or gitlab), infra_repo_forge_token and, for Gitea, "
                      "infra_repo_forge_api_url; without a forge use infra_repo_on_disagreement: report")
    return errors


def rbac_lockdown_settings_errors(s) -> list[str]:
    """Every problem in the settings of the rbac_lockdown role."""
    s = _settings(s, "rbac_lockdown")
    errors: list[str] = []
    break_glass = s.get("break_glass_groups") or []
    dev_names = [g.get("name") for g in s.get("developer_groups") or []]
    allow = s.get("allow_subjects") or []
    revoke = s.get("revoke_subjects") or []
    if s.get("mode") == "enforce" and not break_glass:
        errors.append("rbac_lockdown_break_glass_groups is empty: enforce mode refuses to take write access away without at least "
                      "one break-glass group that keeps cluster-admin. Name the group of your platform administrators, or run "
                      "with rbac_lockdown_mode: audit.")
    for name in sorted({n for n in dev_names if dev_names.count(n) > 1}, key=dev_names.index):
        errors.append(f"Developer group {json.dumps(name)} is listed more than once in rbac_lockdown_developer_groups; list each "
                      "group once with all its namespaces.")
    errors += [f"Group {json.dumps(name)} is both a developer group and a break-glass group; a group is either read-only or "
               "cluster-admin." for name in dev_names if name in break_glass]
    errors += [f"Group {json.dumps(subject.get('name'))} is a developer group and on rbac_lockdown_allow_subjects; developer "
               "groups are read-only, remove it from one of the lists."
               for subject in allow if subject.get("kind") == "Group" and subject.get("name") in dev_names]
    for subject in allow + revoke:
        if subject.get("kind") == "ServiceAccount" and not subject.get("namespace"):
            errors.append(f"ServiceAccount {json.dumps(subject.get('name'))} in rbac_lockdown_allow_subjects/"
                          "rbac_lockdown_revoke_subjects needs a namespace.")
    for subject in revoke:
        if subject in allow:
            errors.append(f"{subject.get('kind')} {subject.get('name')} is both on rbac_lockdown_allow_subjects and "
                          "rbac_lockdown_revoke_subjects.")
    for rule in s.get("readonly_rules") or []:
        verbs = rule.get("verbs") or []
        resources = rule.get("resources") or []
        writes = [v for v in dict.fromkeys(verbs) if v not in _READ_VERBS]
        if writes:
            covered = resources if "resources" in rule else rule.get("nonResourceURLs") or []
            errors.append(f"rbac_lockdown_readonly_rules grants {', '.join(writes)} on {', '.join(covered)}; the read-only role "
                          "may only get, list and watch.")
        if any(r in ("*", "secrets", "*/*") for r in resources):
            errors.append(f"rbac_lockdown_readonly_rules covers Secrets ({', '.join(resources)}); reading Secrets gives the API "
                          "access of every service account, list the resources explicitly.")
        reaching = [r for r in resources if _CONTAINER_SUBRESOURCE.match(str(r))]
        if reaching:
            errors.append(f"rbac_lockdown_readonly_rules covers {', '.join(reaching)}, which reach into running containers; "
                          "leave them out.")
    return errors


class FilterModule:
    """Role settings checks."""

    def filters(self):
        return {
            "argocd_spoke_settings_errors": argocd_spoke_settings_errors,
            "infra_repo_settings_errors": infra_repo_settings_errors,
            "rbac_lockdown_settings_errors": rbac_lockdown_settings_errors,
        }
