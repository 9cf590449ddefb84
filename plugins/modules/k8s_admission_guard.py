#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_admission_guard
short_description: Refuse writes by people at admission, whatever RBAC allows
version_added: 0.2.0
description:
  - Binds a ValidatingAdmissionPolicy that refuses create, update, patch and delete by human identities (users and
    groups that are neither system components, nor on the allowlist, nor break-glass) in the chosen scope. The API
    server evaluates it after authorization on every write, so it also holds for cluster-admins and for
    C(system:masters) client certificates.
  - Out of its scope are events, leases, and reviews (SubjectAccessReview, TokenReview, SelfSubject*Review). Dry runs
    pass, so C(kubectl diff) keeps working.
  - A user with an unexpired grant of M(gitops.bootstrap.k8s_breakglass) is let through by one match condition of the
    policy (C(not-a-break-glass-grant)), which M(gitops.bootstrap.k8s_breakglass) owns; this module writes it from the
    grants when it creates the policy and never takes it over.
  - In O(mode=enforce), before the binding refuses anything, a lock-out check binds a copy of the policy to probe
    objects only and sends dry-run writes as the running identity and, by impersonation, as each break-glass group;
    if the guard would refuse one of them, the module fails and changes nothing.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
attributes:
  check_mode:
    details:
      - Every write is a server-side dry run; the lock-out check, which needs probe objects, is not run and
        RV(lockout_check) says so.
options:
  name:
    description: Name of the policy and of its binding.
    type: str
    default: gitops-admission-guard
  state:
    description:
      - V(present) binds the guard; V(absent) removes the binding, waits until the API server no longer applies it, and
        removes the policy.
    type: str
    choices: [present, absent]
    default: present
  mode:
    description:
      - V(audit) binds with validation actions Audit and Warn (people see a warning, nothing is refused);
        V(enforce) with Deny.
    type: str
    choices: [audit, enforce]
    default: audit
  break_glass_groups:
    description: Groups whose members may write. Required, not empty, with O(state=present).
    type: list
    elements: str
    default: []
  allow_subjects:
    description:
      - Subjects that may write (automation users, the agent's ServiceAccounts), each C({kind, name, namespace}) with kind
        V(User), V(Group) or V(ServiceAccount). Groups that stand for everyone are refused.
    type: list
    elements: dict
    default: []
  system_users:
    description:
      - Users of the control plane's components that may write. Add the identity your distribution's components use
        when it is not one of these (a local kwok cluster's components use C(kwok-admin)).
    type: list
    elements: str
    default: [system:apiserver, system:kube-controller-manager, system:kube-scheduler, system:kube-proxy]
  system_groups:
    description: Groups of the control plane that may write (kubelets, the controllers' ServiceAccounts in kube-system).
    type: list
    elements: str
    default: [system:nodes, system:serviceaccounts:kube-system]
  exclude_namespaces:
    description: Namespaces the guard does not look at. Cluster-scoped objects are always in scope.
    type: list
    elements: str
    default: []
  infra_repo:
    description: The infra repository people are sent to by the refusal message (a URL or a name); optional.
    type: str
    default: ""
  probe_namespace:
    description: Namespace in which the lock-out check dry-runs the creation of a probe ConfigMap.
    type: str
    default: default
  probe_timeout:
    description:
      - Seconds the lock-out check waits for its probe copy of the policy to take effect, and O(state=absent) for the
        binding to go out of force.
    type: float
    default: 30
notes:
  - Needs to manage ValidatingAdmissionPolicies and their bindings, to list ClusterRoleBindings (the grants) and, for the
    lock-out check, to impersonate users and groups.
  - The API server does not run admission policies on policies and bindings themselves; RBAC protects the guard.
seealso:
  - module: gitops.bootstrap.k8s_breakglass
  - module: gitops.bootstrap.k8s_rbac_lockdown
"""

EXAMPLES = r"""
---
- name: People see a warning on every write
  gitops.bootstrap.k8s_admission_guard:
    mode: audit
    break_glass_groups: [platform-admins]
    allow_subjects:
      - {kind: ServiceAccount, namespace: argocd, name: argocd-application-controller}

- name: People are refused, except break-glass
  gitops.bootstrap.k8s_admission_guard:
    mode: enforce
    break_glass_groups: [platform-admins]
    exclude_namespaces: [sandbox]
    infra_repo: https://git.example.com/platform/infra

- name: The guard is removed
  gitops.bootstrap.k8s_admission_guard:
    state: absent
"""

RETURN = r"""
objects:
  description: Every object handled, each with C(kind), C(namespace), C(name) and C(action) (V(create), V(update), V(delete), V(unchanged)).
  returned: always
  type: list
  elements: dict
policy:
  description: The policy as the server has it (in check mode, would have it); null with O(state=absent).
  returned: always
  type: dict
binding:
  description: The binding as the server has it; null with O(state=absent).
  returned: always
  type: dict
validation_actions:
  description: The validation actions of the binding.
  returned: success
  type: list
  elements: str
  sample: [Deny]
exempt:
  description: The users and groups the guard lets through.
  returned: success
  type: dict
lockout_check:
  description:
    - The lock-out check, one entry per identity (C(who), C(keeps), C(checked), C(message)), or a string saying why it did
      not run (audit mode, nothing to change, check mode).
  returned: success
  type: raw
"""

import time

from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission as adm
from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission_k8s as admk
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, GitopsK8sModule, K8sService, run_manager
from ansible_collections.gitops.bootstrap.plugins.module_utils._names import name_error


def _ref(obj: dict) -> dict:
    meta = obj["metadata"]
    return {"kind": obj["kind"], "namespace": meta.get("namespace"), "name": meta["name"]}


class GuardManager:
    def __init__(self, module: GitopsK8sModule):
        self.module = module
        self.p = module.params
        self.objects: list[dict] = []
        self.before: dict = {}
        self.after: dict = {}

    def validate(self) -> None:
        problem = (
            name_error(self.p["name"], "dns1123_subdomain", "name")
            or name_error(self.p["probe_namespace"], "dns1123_label", "probe_namespace")
            or adm.excluded_namespaces_error(self.p["exclude_namespaces"])
        )
        if problem:
            raise adm.AdmissionInputError(problem + ". Nothing was changed.")
        if self.p["probe_timeout"] <= 0:
            raise adm.AdmissionInputError("probe_timeout must be greater than 0. Nothing was changed.")

    def record(self, obj: dict, changed: bool, before, after) -> None:
        ref = _ref(obj)
        action = "unchanged" if not changed else ("create" if before is None else ("delete" if after is None else "update"))
        self.objects.append(dict(ref, action=action))
        if changed:
            key = f"{ref['kind']} {ref['namespace'] + '/' if ref['namespace'] else ''}{ref['name']}"
            self.before[key], self.after[key] = before, after

    def result(self, **extra) -> dict:
        out = {"changed": any(o["action"] != "unchanged" for o in self.objects), "objects": self.objects}
        out.update(extra)
        if self.module._diff:
            out["diff"] = {"before": self.before, "after": self.after}
        return out

    def absent(self) -> dict:
        service = self.module.service
        name = self.p["name"]
        api = adm.ADMISSION_API_VERSION
        before = service.delete("ValidatingAdmissionPolicyBinding", api, name)
        if before is not None:
            self.record({"kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name}}, True, before, None)
            if not self.module.check_mode:
                # A binding whose policy is gone fails the requests it still matches: the policy goes once
                # the API server no longer applies the binding.
                if not admk.wait_canary(self.module, self.p["probe_namespace"], False, self.p["probe_timeout"]):
                    time.sleep(3)
        for kind, obj_name in (
            ("ValidatingAdmissionPolicy", name),
            ("ValidatingAdmissionPolicyBinding", f"{name}-probe"),
            ("ValidatingAdmissionPolicy", f"{name}-probe"),
        ):
            before = service.delete(kind, api, obj_name)
            if before is not None:
                self.record({"kind": kind, "metadata": {"name": obj_name}}, True, before, None)
        return self.result(policy=None, binding=None)

    def present(self) -> dict:
        p = self.p
        users, groups = adm.exempt_identities(p["allow_subjects"], p["break_glass_groups"], p["system_users"], p["system_groups"])
        actions = adm.actions_for(p["mode"])
        policy = adm.human_guard_policy(p["name"], users, groups, p["break_glass_groups"], p["infra_repo"])
        binding = adm.build_binding(p["name"], p["name"], actions, p["exclude_namespaces"])
        service = self.module.service
        now = admk.now_utc()
        grant_users = adm.active_users(admk.list_grants(service, p["name"], now))

        lockout: object = "not needed: audit mode refuses nothing"
        if actions == ["Deny"]:
            preview = K8sService(lambda: self.module.client, check_mode=True)
            changes = [preview.apply(policy)[0], preview.apply(binding)[0]]
            if not any(changes):
                lockout = "not needed: the guard is bound as wanted already"
            elif self.module.check_mode:
                lockout = "not run in check mode (it needs probe objects); the real run checks before binding"
            else:
                lockout = admk.LockoutProbe(self.module, service, policy, p["probe_namespace"], p["probe_timeout"]).run(p["break_glass_groups"])
                lost = [f for f in lockout if not f["keeps"]]
                if lost:
                    raise GitopsK8sError(
                        "Refusing to bind the admission guard with Deny: it would refuse "
                        + "; ".join(f"{f['who']} ({f['message']})" for f in lost)
                        + ". Nothing was changed. Put the running identity on allow_subjects (or system_users), and make sure the "
                        "break-glass groups are not refused, then run again; or bind it in audit mode first.",
                        lockout_check=lockout,
                    )

        results = {}
        changed, before, after = service.apply(policy)
        if before is None or not any(c.get("name") == adm.GRANT_CONDITION for c in before["spec"].get("matchConditions") or []):
            # A new policy gets the condition of the grants (owned by k8s_breakglass from then on).
            if self.module.check_mode:
                after["spec"]["matchConditions"].append(adm.grant_condition(grant_users))
            else:
                after = admk.sync_grants(service, p["name"], grant_users)[2]
            changed = True
        self.record(policy, changed, before, after)
        results[policy["kind"]] = after
        changed, before, after = service.apply(binding)
        self.record(binding, changed, before, after)
        results[binding["kind"]] = after
        return self.result(
            policy=results["ValidatingAdmissionPolicy"], binding=results["ValidatingAdmissionPolicyBinding"],
            validation_actions=actions, exempt={"users": users, "groups": groups, "break_glass_grants": grant_users},
            lockout_check=lockout,
        )

    def run(self) -> dict:
        self.validate()
        if self.p["state"] == "absent":
            return self.absent()
        return self.present()


def build_argument_spec() -> dict:
    return dict(
        name=dict(type="str", default="gitops-admission-guard"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        mode=dict(type="str", choices=["audit", "enforce"], default="audit"),
        break_glass_groups=dict(type="list", elements="str", default=[]),
        allow_subjects=dict(type="list", elements="dict", default=[]),
        system_users=dict(type="list", elements="str", default=list(adm.SYSTEM_USERS)),
        system_groups=dict(type="list", elements="str", default=list(adm.SYSTEM_GROUPS)),
        exclude_namespaces=dict(type="list", elements="str", default=[]),
        infra_repo=dict(type="str", default=""),
        probe_namespace=dict(type="str", default="default"),
        probe_timeout=dict(type="float", default=30),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    manager = GuardManager(module)
    run_manager(module, manager.run, "Binding the admission guard", details=lambda: {"objects": manager.objects})


if __name__ == "__main__":
    main()
