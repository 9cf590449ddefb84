#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: argocd_project
short_description: Manage an Argo CD AppProject
version_added: 0.1.0
description:
  - Creates, updates or deletes an Argo CD C(AppProject) with server-side apply.
  - Least privilege by default; nothing is widened for you. O(source_repos) and O(destinations)
    default to empty lists, which allow nothing; an empty list stays empty and no C(*) is ever
    added. Write C(*) yourself where you mean it.
  - Role policies are checked offline the way Argo CD checks them (six fields, subject
    C(proj:<project>:<role>), a project-scoped resource, a known action, an object under
    C(<project>/), C(allow) or C(deny)), and every problem is reported at once.
  - JWT tokens that Argo CD issued for a role are kept when the role is updated, so re-running the
    module never revokes tokens.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
  - gitops.bootstrap.argocd_namespace
options:
  name:
    description: Name of the AppProject.
    type: str
    required: true
  state:
    description: Whether the project should exist.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Description shown in Argo CD.
    type: str
  source_repos:
    description: Repository URLs (globs, C(!) to negate) applications of this project may use. Empty allows none.
    type: list
    elements: str
    default: []
  destinations:
    description: Clusters and namespaces applications may deploy to. Empty allows none.
    type: list
    elements: dict
    default: []
    suboptions:
      server:
        description: API server URL (glob).
        type: str
      name:
        description: Cluster name as registered in Argo CD (glob).
        type: str
      namespace:
        description: Namespace (glob).
        type: str
  cluster_resource_whitelist:
    description:
      - Cluster-scoped kinds applications may manage. Not set or empty means none.
    type: list
    elements: dict
    suboptions: &kind_options
      group:
        description: API group (V('') for the core group).
        type: str
        required: true
      kind:
        description: Kind.
        type: str
        required: true
  cluster_resource_blacklist:
    description: Cluster-scoped kinds applications may not manage.
    type: list
    elements: dict
    suboptions: *kind_options
  namespace_resource_whitelist:
    description:
      - Namespaced kinds applications may manage. Not set means all (Argo CD's rule); an empty list means none.
    type: list
    elements: dict
    suboptions: *kind_options
  namespace_resource_blacklist:
    description: Namespaced kinds applications may not manage.
    type: list
    elements: dict
    suboptions: *kind_options
  roles:
    description: Project roles.
    type: list
    elements: dict
    suboptions:
      name:
        description: Role name (letters, digits, C(-), C(_)).
        type: str
        required: true
      description:
        description: Role description.
        type: str
      policies:
        description: Policy lines C(p, proj:<project>:<role>, <resource>, <action>, <project>/<object>, allow|deny).
        type: list
        elements: str
        default: []
      groups:
        description: SSO groups bound to the role.
        type: list
        elements: str
        default: []
  source_namespaces:
    description: Namespaces where Applications of this project may live (apps in any namespace).
    type: list
    elements: str
  destination_service_accounts:
    description:
      - >-
        The ServiceAccount Argo CD impersonates to sync an Application of this project, per destination (AppProject
        C(spec.destinationServiceAccounts); used when argocd-cm sets C(application.sync.impersonation.enabled)). The first
        entry whose O(destination_service_accounts[].server) and O(destination_service_accounts[].namespace) patterns
        match the Application's destination wins.
    type: list
    elements: dict
    suboptions:
      server:
        description: Destination server URL (glob pattern).
        type: str
      namespace:
        description: Destination namespace (glob pattern).
        type: str
      default_service_account:
        description: The ServiceAccount, C(<namespace>:<name>), or C(<name>) for one in the Application's destination namespace.
        type: str
        required: true
  orphaned_resources:
    description: Orphaned resource monitoring, as in the AppProject spec (C(warn), C(ignore)).
    type: dict
  sync_windows:
    description: Sync windows as in the AppProject spec (C(kind), C(schedule), C(duration), C(applications), C(namespaces), C(clusters), C(manualSync)).
    type: list
    elements: dict
notes:
  - The C(default) project exists in every installation; manage it with this module to lock it down
    (O(source_repos=[]), O(destinations=[])). Argo CD refuses to delete it.
seealso:
  - module: gitops.bootstrap.argocd_application
  - module: gitops.bootstrap.argocd_rbac
"""

EXAMPLES = r"""
---
- name: Lock down the default project
  gitops.bootstrap.argocd_project:
    name: default
    source_repos: []
    destinations: []
    namespace_resource_blacklist:
      - {group: "*", kind: "*"}

- name: A team project with explicit repositories, destinations and kinds
  gitops.bootstrap.argocd_project:
    name: team-a
    description: Team A workloads
    source_repos: [https://git.example.com/team-a/*]
    destinations:
      - {server: https://kubernetes.default.svc, namespace: team-a-*}
    cluster_resource_whitelist: []
    namespace_resource_blacklist:
      - {group: "", kind: ResourceQuota}
      - {group: networking.k8s.io, kind: NetworkPolicy}
    roles:
      - name: deployer
        description: CI may sync team-a applications
        policies:
          - p, proj:team-a:deployer, applications, sync, team-a/*, allow
        groups: [my-org:team-a]
"""

RETURN = r"""
project:
  description: The AppProject after the run, without server-owned fields and status.
  returned: success
  type: dict
"""

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    clean_object,
    run_module,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    ObjectManager,
    ArgoCDModule,
    API_VERSION,
    FIELD_MANAGER,
    ArgoCDValidationError,
    build_project,
    check_errors,
    dns1123_subdomain_error,
    text_diff,
)

KIND = "AppProject"


class ProjectManager(ObjectManager):
    KIND = "AppProject"

    def desired_spec(self):
        return build_project(self.params)["spec"]

    def run(self):
        if self.params["state"] == "absent":
            return self.absent()
        spec = self.desired_spec()
        live = self.module.get(KIND, API_VERSION, self.name, self.namespace)
        if live and spec.get("roles"):
            # Keep tokens Argo CD issued for a role; dropping them would revoke them.
            live_roles = dict((r.get("name"), r) for r in ((live.get("spec") or {}).get("roles") or []))
            for role in spec["roles"]:
                tokens = (live_roles.get(role["name"]) or {}).get("jwtTokens")
                if tokens:
                    role["jwtTokens"] = tokens
        definition = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }
        changed, before, after = self.module.apply(definition, field_manager=FIELD_MANAGER)
        result = {"changed": changed, "project": after}
        if self.module._diff:
            result["diff"] = self.diff(before, after)
        return result

    def absent(self):
        errors = [dns1123_subdomain_error(self.name, "project name")]
        check_errors(errors, "%s is invalid" % self.ref)
        if self.name == "default":
            raise ArgoCDValidationError(
                "The default project cannot be deleted (Argo CD recreates it). Lock it down instead: "
                "state=present with source_repos=[] and destinations=[]."
            )
        before = self.module.delete(KIND, API_VERSION, self.name, self.namespace)
        result = {"changed": before is not None, "project": None}
        if self.module._diff:
            result["diff"] = self.diff(before, None)
        return result

    def diff(self, before, after):
        return text_diff(self.ref, clean_object(before), clean_object(after))


def build_argument_spec():
    """The module options (without the connection options added by ArgoCDModule)."""
    kind_options = _argspec.group_kind_options()
    argument_spec = dict(
        name=dict(type="str", required=True),
        namespace=_argspec.argocd_namespace(),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        description=dict(type="str"),
        source_repos=dict(type="list", elements="str", default=[]),
        destinations=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(server=dict(type="str"), name=dict(type="str"), namespace=dict(type="str")),
        ),
        cluster_resource_whitelist=dict(type="list", elements="dict", options=kind_options),
        cluster_resource_blacklist=dict(type="list", elements="dict", options=kind_options),
        namespace_resource_whitelist=dict(type="list", elements="dict", options=kind_options),
        namespace_resource_blacklist=dict(type="list", elements="dict", options=kind_options),
        roles=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                description=dict(type="str"),
                policies=dict(type="list", elements="str", default=[]),
                groups=dict(type="list", elements="str", default=[]),
            ),
        ),
        source_namespaces=dict(type="list", elements="str"),
        destination_service_accounts=dict(
            type="list", elements="dict",
            options=dict(server=dict(type="str"), namespace=dict(type="str"), default_service_account=dict(type="str", required=True)),
        ),
        orphaned_resources=dict(type="dict"),
        sync_windows=dict(type="list", elements="dict"),
    )
    return argument_spec


def main():
    module = ArgoCDModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, ProjectManager, "Managing the Argo CD AppProject")


if __name__ == "__main__":
    main()
