#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_breakglass
short_description: Time-boxed break-glass grants for one person, with a reason
version_added: 0.2.0
description:
  - V(present) grants a named user break-glass for a bounded time, as a ClusterRoleBinding to the break-glass role whose
    annotations carry the user, the reason, when it was granted and when it expires. The admission guard of
    M(gitops.bootstrap.k8s_admission_guard) lets the users of unexpired grants through; this module owns that one match
    condition of its policy (server-side apply, field manager C(gitops.bootstrap-breakglass)).
  - The API server cannot read the clock in an admission policy, so a grant ends when it is removed, by V(absent) or
    by V(pruned) once its time has passed.
  - V(absent) withdraws the grant of O(user) now. V(pruned) removes every grant whose time has passed (the
    C(gitops.bootstrap.rbac_lockdown) role runs it on every run; a drift run in check mode reports what it would remove).
  - A grant without a reason, without a duration, or longer than O(max_duration) is refused.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
attributes:
  check_mode:
    details:
      - Writes are server-side dry runs, deletes are not sent.
  idempotent:
    support: partial
    details:
      - V(present) sets a new expiry (now plus O(duration)) on every run, so it reports a change each time;
        V(absent) and V(pruned) are idempotent.
options:
  state:
    description: V(present) grants, V(absent) withdraws the grant of O(user), V(pruned) removes expired grants.
    type: str
    choices: [present, absent, pruned]
    default: present
  user:
    description: The user name as the authenticator sends it. Required with V(present) and V(absent).
    type: str
  reason:
    description: Why (an incident, a ticket); recorded on the grant. Required with V(present).
    type: str
  duration:
    description: How long, as V(90s), V(30m), V(2h), V(1h30m) or a number of seconds. Required with V(present).
    type: str
  max_duration:
    description: The longest grant allowed.
    type: str
    default: 8h
  role:
    description: The ClusterRole the grant binds the user to.
    type: str
    default: cluster-admin
  guard:
    description: Name of the admission guard the grants belong to (their label, and the guard that reads them).
    type: str
    default: gitops-admission-guard
  binding_prefix:
    description: Prefix of the names of the grant bindings.
    type: str
    default: gitops-break-glass-grant
notes:
  - Needs to create and delete ClusterRoleBindings to O(role) (C(bind) on it, or holding it) and to patch the guard's
    ValidatingAdmissionPolicy.
seealso:
  - module: gitops.bootstrap.k8s_admission_guard
"""

EXAMPLES = r"""
---
- name: Alice may write for an hour
  gitops.bootstrap.k8s_breakglass:
    user: alice@example.com
    reason: "INC-4711: the ingress controller is down"
    duration: 1h

- name: Expired grants are removed
  gitops.bootstrap.k8s_breakglass:
    state: pruned
"""

RETURN = r"""
objects:
  description: Every object changed, each with C(kind), C(namespace), C(name) and C(action).
  returned: always
  type: list
  elements: dict
grant:
  description: The grant given (C(user), C(reason), C(granted), C(expires), C(role), C(name)); V(present) only.
  returned: success
  type: dict
active:
  description: The unexpired grants after the run.
  returned: success
  type: list
  elements: dict
removed:
  description: The grants removed (in check mode, that would be), each with C(user), C(expires), C(reason).
  returned: success
  type: list
  elements: dict
"""

from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission as adm
from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission_k8s as admk
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sModule, run_manager
from ansible_collections.gitops.bootstrap.plugins.module_utils._names import name_error


def _public(grant: dict) -> dict:
    return {k: grant[k] for k in ("name", "user", "reason", "granted", "expires", "role", "expired")}


class BreakGlassManager:
    def __init__(self, module: GitopsK8sModule):
        self.module = module
        self.p = module.params
        self.objects: list[dict] = []
        self.before: dict = {}
        self.after: dict = {}

    def validate(self) -> int | None:
        p = self.p
        problem = (
            name_error(p["guard"], "dns1123_subdomain", "guard") or name_error(p["role"], "dns1123_subdomain", "role")
            or name_error(p["binding_prefix"], "dns1123_subdomain", "binding_prefix", max_length=180)
        )
        if problem:
            raise adm.AdmissionInputError(problem + ". Nothing was changed.")
        maximum = adm.parse_duration(p["max_duration"], "max_duration")
        if p["state"] in ("present", "absent"):
            problem = adm.identity_name_error(p["user"], "user")
            if problem:
                raise adm.AdmissionInputError(f"{problem}. Name the person who gets (or loses) break-glass. Nothing was changed.")
        if p["state"] != "present":
            return None
        if not (p["reason"] or "").strip():
            raise adm.AdmissionInputError("A break-glass grant needs a reason (an incident, a ticket): set reason. Nothing was changed.")
        if p["duration"] in (None, ""):
            raise adm.AdmissionInputError(f"A break-glass grant needs a time bound: set duration (at most {p['max_duration']}). Nothing was changed.")
        seconds = adm.parse_duration(p["duration"], "duration")
        if seconds > maximum:
            raise adm.AdmissionInputError(
                f"duration {p['duration']} is longer than max_duration {p['max_duration']}: ask for a shorter grant, and another "
                "one if it runs out. Nothing was changed."
            )
        return seconds

    def _record(self, binding: dict, action: str, before, after) -> None:
        name = binding["metadata"]["name"]
        self.objects.append({"kind": "ClusterRoleBinding", "namespace": None, "name": name, "action": action})
        self.before[f"ClusterRoleBinding {name}"], self.after[f"ClusterRoleBinding {name}"] = before, after

    def run(self) -> dict:
        seconds = self.validate()
        service = self.module.service
        now = admk.now_utc()
        grants = admk.list_grants(service, self.p["guard"], now)
        out: dict = {"removed": []}
        if self.p["state"] == "present":
            body = adm.build_grant(self.p["binding_prefix"], self.p["user"], self.p["role"], self.p["reason"].strip(), now, seconds, self.p["guard"])
            changed, before, after = service.apply(body)
            if changed:
                self._record(body, "create" if before is None else "update", before, after)
            out["grant"] = _public(dict(adm.describe_grant(body, now), binding=body))
            grants = [g for g in grants if g["name"] != body["metadata"]["name"]] + [dict(adm.describe_grant(body, now), binding=body)]
        else:
            if self.p["state"] == "absent":
                doomed = [g for g in grants if g["user"] == self.p["user"]]
            else:
                doomed = [g for g in grants if g["expired"]]
            for grant in doomed:
                before = service.delete("ClusterRoleBinding", adm.RBAC_API_VERSION, grant["name"])
                if before is not None:
                    self._record(grant["binding"], "delete", before, None)
                    out["removed"].append(_public(grant))
            gone = {g["name"] for g in doomed}
            grants = [g for g in grants if g["name"] not in gone]
        users = adm.active_users(grants)
        changed, before, after = admk.sync_grants(service, self.p["guard"], users)
        if changed:
            self.objects.append({"kind": "ValidatingAdmissionPolicy", "namespace": None, "name": self.p["guard"], "action": "update"})
            key = f"ValidatingAdmissionPolicy {self.p['guard']}"
            self.before[key], self.after[key] = before, after
        out["active"] = [_public(g) for g in grants if not g["expired"]]
        out["objects"] = self.objects
        out["changed"] = bool(self.objects)
        if self.module._diff:
            out["diff"] = {"before": self.before, "after": self.after}
        return out


def build_argument_spec() -> dict:
    return dict(
        state=dict(type="str", choices=["present", "absent", "pruned"], default="present"),
        user=dict(type="str"),
        reason=dict(type="str"),
        duration=dict(type="str"),
        max_duration=dict(type="str", default="8h"),
        role=dict(type="str", default="cluster-admin"),
        guard=dict(type="str", default="gitops-admission-guard"),
        binding_prefix=dict(type="str", default="gitops-break-glass-grant"),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    manager = BreakGlassManager(module)
    run_manager(module, manager.run, "Managing break-glass grants", details=lambda: {"objects": manager.objects})


if __name__ == "__main__":
    main()
