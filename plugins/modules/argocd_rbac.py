#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: argocd_rbac
short_description: Manage Argo CD RBAC policy in C(argocd-rbac-cm)
version_added: 0.1.0
description:
  - Writes Argo CD RBAC settings into the C(argocd-rbac-cm) ConfigMap from structured data
    instead of hand-written CSV.
  - C(p) policy lines come from O(policies), C(g) group bindings from O(groups). Lines are
    de-duplicated and sorted, so the result does not depend on the order of the input.
  - Validates offline before any API call, and refuses the whole input with a message naming each
    bad line and field, when a line would be silently wrong in Argo CD, that is for an empty, blank or
    comma-containing field (an empty O(policies[].effect) is refused, never taken as C(allow)),
    a resource or action Argo CD (v3) does not know, an effect other than C(allow)/C(deny), an
    application object without a project part, or a group bound to a role that nothing defines.
  - A role is defined when it is built in (C(role:admin), C(role:readonly)), when a C(p) line grants it
    something, or when it inherits (C(g, role:ops, role:readonly)) from a defined role, through lines of
    this call or of the other policy keys of the live ConfigMap. Roles that only inherit from each other
    are not defined.
  - Warns about each line of another policy key of the live ConfigMap that Argo CD cannot load (which
    breaks Argo CD's RBAC), naming the key and the line.
  - Merges into the ConfigMap with server-side apply, owning only its own keys, so the keys of
    other owners and of the upstream installation stay. With O(policy_name), it manages the key
    C(policy.<policy_name>.csv), which Argo CD appends to C(policy.csv); several owners can compose
    a policy this way.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
  - gitops.bootstrap.argocd_namespace
options:
  state:
    description:
      - V(present) writes the keys this module owns; V(absent) removes them (other keys stay).
    type: str
    choices: [present, absent]
    default: present
  policy_name:
    description:
      - When set, manage the key C(policy.<policy_name>.csv) instead of C(policy.csv).
      - Then O(policy_default), O(scopes) and O(match_mode) are written only when given, so that one
        owner sets them and others add policy files.
      - Letters, digits, C(-) and C(_). The empty string is refused (leave the option out for C(policy.csv)).
    type: str
  policies:
    description:
      - Permissions, each rendered as C(p, subject, resource, action, object, effect).
      - Objects of C(applications), C(applicationsets), C(logs) and C(exec) are C(<project>/<name>).
    type: list
    elements: dict
    default: []
    suboptions:
      subject:
        description: Role (C(role:name)), local user or SSO group the permission applies to.
        type: str
      resource:
        description:
          - One of C(applications), C(applicationsets), C(clusters), C(projects), C(repositories),
            C(write-repositories), C(accounts), C(certificates), C(gpgkeys), C(logs), C(exec),
            C(extensions), or a pattern matching some of them (C(*)).
        type: str
      action:
        description:
          - An action valid for the resource (C(get), C(create), C(update), C(delete), C(sync),
            C(override), C(action), C(invoke)), C(*), or for applications C(update/...), C(delete/...)
            and C(action/...) forms.
        type: str
      object:
        description: Object pattern, for example C(team-a/*) or C(*).
        type: str
      effect:
        description:
          - C(allow) or C(deny); a deny always wins in Argo CD.
          - Left out it is C(allow); an empty value (a template that rendered empty) is refused.
        type: str
        default: allow
  groups:
    description:
      - Role bindings, each rendered as C(g, group, role).
      - With a role as O(groups[].group), the line makes that role inherit from O(groups[].role), the way Argo CD's
        built-in policy makes C(role:admin) inherit from C(role:readonly).
    type: list
    elements: dict
    default: []
    suboptions:
      group:
        description: SSO group or local user.
        type: str
      role:
        description: Role granted, built in or defined by O(policies) or another policy key.
        type: str
  policy_default:
    description:
      - Role every authenticated user gets (key C(policy.default)).
      - Defaults to the empty string (no access) when O(policy_name) is not set; otherwise not managed unless given.
    type: str
  scopes:
    description:
      - Token claims that name groups (key C(scopes)).
      - Defaults to V([groups]) when O(policy_name) is not set; otherwise not managed unless given.
    type: list
    elements: str
  match_mode:
    description:
      - How Argo CD matches patterns (key C(policy.matchMode)).
      - Defaults to V(glob) when O(policy_name) is not set; otherwise not managed unless given.
    type: str
    choices: [glob, regex]
notes:
  - Argo CD evaluates C(policy.default) before any policy line; a deny cannot take away what the
    default role grants. Keep O(policy_default) empty or minimal.
  - Set O(policy_default), O(scopes) and O(match_mode) from one place only; two owners writing
    different values would overwrite each other on every run.
seealso:
  - module: gitops.bootstrap.argocd_project
"""

EXAMPLES = r"""
---
- name: Team roles; nobody gets access by default
  gitops.bootstrap.argocd_rbac:
    policies:
      - {subject: "role:team-a", resource: applications, action: get, object: "team-a/*"}
      - {subject: "role:team-a", resource: applications, action: sync, object: "team-a/*"}
      - {subject: "role:team-a", resource: logs, action: get, object: "team-a/*"}
      - {subject: "role:team-a", resource: applications, action: delete, object: "team-a/*", effect: deny}
    groups:
      - {group: my-org:team-a, role: "role:team-a"}
      - {group: my-org:platform, role: "role:admin"}
    policy_default: ""
    scopes: [groups, email]

- name: A role that inherits the read-only role and adds sync
  gitops.bootstrap.argocd_rbac:
    policy_name: ops
    policies:
      - {subject: "role:ops", resource: applications, action: sync, object: "*/*"}
    groups:
      - {group: "role:ops", role: "role:readonly"}
      - {group: my-org:ops, role: "role:ops"}

- name: An additional policy file owned by another play
  gitops.bootstrap.argocd_rbac:
    policy_name: auditors
    groups:
      - {group: my-org:auditors, role: "role:readonly"}
"""

RETURN = r"""
key:
  description: The ConfigMap key holding this module's policy lines.
  returned: always
  type: str
  sample: policy.csv
policy_csv:
  description: The policy text written (or that would be written) to RV(key).
  returned: when state is present
  type: str
  sample: "p, role:team-a, applications, get, team-a/*, allow\ng, my-org:team-a, role:team-a\n"
data:
  description: The keys this module manages with their values after the run.
  returned: always
  type: dict
  sample: {"policy.csv": "...", "policy.default": "", "scopes": "[groups]", "policy.matchMode": "glob"}
configmap:
  description: The C(argocd-rbac-cm) ConfigMap after the run (server-owned fields removed).
  returned: success
  type: dict
"""

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    clean_object,
    run_module,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    ArgoCDModule,
    PART_OF_LABEL,
    RBAC_CONFIGMAP,
    ArgoCDValidationError,
    build_policy_csv,
    configmap_data_text,
    text_diff,
    field_manager_for,
    is_policy_csv_key,
    malformed_policy_lines,
    policy_defined_roles,
    policy_key,
    rbac_settings,
)


class RbacManager(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.namespace = self.params["namespace"]
        self.key = policy_key(self.params.get("policy_name"))
        self.main = self.params.get("policy_name") is None

    def settings(self):
        p = self.params
        return rbac_settings(p.get("policy_default"), p.get("scopes"), p.get("match_mode"), main=self.main)

    def owned_keys(self):
        keys = [self.key]
        if self.main:
            keys += ["policy.default", "scopes", "policy.matchMode"]
        else:
            for param, key in (("policy_default", "policy.default"), ("scopes", "scopes"), ("match_mode", "policy.matchMode")):
                if self.params.get(param) is not None:
                    keys.append(key)
        return keys

    def run(self):
        if self.params["state"] == "absent":
            return self.absent()
        return self.present()

    def present(self):
        mode = self.params.get("match_mode") or "glob"
        policies = self.params.get("policies") or []
        groups = self.params.get("groups") or []
        # Offline first: every line problem is reported before the cluster is contacted.
        build_policy_csv(policies, groups, mode, check_roles=False)
        settings = self.settings()

        live = self.module.get("ConfigMap", "v1", RBAC_CONFIGMAP, self.namespace)
        live_data = ((live or {}).get("data")) or {}
        # Argo CD reads policy.csv and every policy.*.csv as one policy: roles defined or inherited
        # in the other keys count here, and a line it cannot load there breaks RBAC for everyone.
        others = [live_data[k] or "" for k in sorted(live_data) if k != self.key and is_policy_csv_key(k)]
        for key, number, line, reason in malformed_policy_lines(live_data, skip=(self.key,)):
            self.module.warn(
                "argocd-rbac-cm key %s line %d %r is malformed: %s. Argo CD cannot load its RBAC policy while such a line "
                "is in any policy key; fix or remove it there (this module does not own that key)." % (key, number, line, reason)
            )
        csv = build_policy_csv(policies, groups, mode, other_policies=others)
        default = settings.get("policy.default")
        if default:
            defined = policy_defined_roles([csv] + others)
            if default not in defined:
                raise ArgoCDValidationError(
                    "policy_default %r is not a defined role: use role:readonly, role:admin, a role that policies grant "
                    "something, or the empty string for no access." % default
                )

        desired = dict(settings)
        desired[self.key] = csv
        definition = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": RBAC_CONFIGMAP,
                "namespace": self.namespace,
                "labels": {PART_OF_LABEL: "argocd"},
            },
            "data": desired,
        }
        changed, before, after = self.module.apply(definition, field_manager=field_manager_for("%s/%s" % (RBAC_CONFIGMAP, self.key)))
        result = {
            "changed": changed,
            "key": self.key,
            "policy_csv": csv,
            "data": dict((k, ((after or {}).get("data") or {}).get(k)) for k in sorted(desired)),
            "configmap": after,
        }
        if self.module._diff:
            result["diff"] = self.diff(before, after)
        return result

    def absent(self):
        live = self.module.get("ConfigMap", "v1", RBAC_CONFIGMAP, self.namespace)
        before = clean_object(live)
        live_data = (live or {}).get("data") or {}
        remove = [k for k in self.owned_keys() if k in live_data]
        after = before
        if remove:
            after = self.module.merge_patch("ConfigMap", "v1", RBAC_CONFIGMAP, self.namespace, {"data": dict((k, None) for k in remove)})
        result = {"changed": bool(remove), "key": self.key, "data": {}, "configmap": after}
        if self.module._diff:
            result["diff"] = self.diff(before, after)
        return result

    @staticmethod
    def diff(before, after):
        return text_diff(f"ConfigMap {RBAC_CONFIGMAP}", before, after, view=configmap_data_text)


def build_argument_spec():
    """The module options (without the connection options added by ArgoCDModule)."""
    policy_options = dict(
        subject=dict(type="str"),
        resource=dict(type="str"),
        action=dict(type="str"),
        object=dict(type="str"),
        effect=dict(type="str", default="allow"),
    )
    argument_spec = dict(
        namespace=_argspec.argocd_namespace(),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        policy_name=dict(type="str"),
        policies=dict(type="list", elements="dict", default=[], options=policy_options),
        groups=dict(type="list", elements="dict", default=[], options=dict(group=dict(type="str"), role=dict(type="str"))),
        policy_default=dict(type="str"),
        scopes=dict(type="list", elements="str"),
        match_mode=dict(type="str", choices=["glob", "regex"]),
    )
    return argument_spec


def main():
    module = ArgoCDModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, RbacManager, "Managing the Argo CD RBAC policy")


if __name__ == "__main__":
    main()
