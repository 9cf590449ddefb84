#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: argocd_info
short_description: Report the Argo CD version, the readiness of its components and the state of its applications
version_added: 0.1.0
description:
  - Reads, never writes. Reports the installed Argo CD version, every Argo CD workload
    (Deployments and StatefulSets labelled C(app.kubernetes.io/part-of=argocd)) with ready and
    desired replicas and conditions, whether the Argo CD CRDs are established, and each
    Application with its sync and health status and the reasons it is not Synced and Healthy.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.info_module
  - gitops.bootstrap.argocd_namespace
options:
  applications:
    description: Report Applications.
    type: bool
    default: true
  app_names:
    description: Report only these Applications (all when not given).
    type: list
    elements: str
seealso:
  - module: gitops.bootstrap.argocd_application
"""

EXAMPLES = r"""
---
- name: Read the state of Argo CD
  gitops.bootstrap.argocd_info:
  register: argocd

- name: Every component is ready
  ansible.builtin.assert:
    that: argocd.ready
    fail_msg: "{{ argocd.components | rejectattr('ready') | map(attribute='name') | list }} not ready"

- name: Applications that are not Synced and Healthy, with the reason
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.reason }}"
  loop: "{{ argocd.applications | rejectattr('reason', 'equalto', 'Synced and Healthy') }}"
"""

RETURN = r"""
installed:
  description: Whether any Argo CD workload was found in the namespace.
  returned: always
  type: bool
version:
  description: Argo CD version, from the image tag of the Argo CD workloads or their C(app.kubernetes.io/version) label.
  returned: always
  type: str
  sample: v3.5.1
ready:
  description: Whether Argo CD was found and every component is ready.
  returned: always
  type: bool
components:
  description: Each Argo CD Deployment and StatefulSet.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Deployment or StatefulSet.
      type: str
    name:
      description: Name of the workload.
      type: str
    desired:
      description: Desired replicas.
      type: int
    ready_replicas:
      description: Ready replicas.
      type: int
    ready:
      description:
        - The workload has rolled out; the same rule as the wait of M(gitops.bootstrap.argocd_install).
        - The controller has observed the current generation, every desired replica is updated and
          available, no old replica is still terminating, and a StatefulSet has reached its update revision.
      type: bool
    problem:
      description: Why the workload is not ready, in words; null when it is ready.
      type: str
    images:
      description: Container images.
      type: list
      elements: str
    conditions:
      description: Conditions of the workload (type, status, reason, message).
      type: list
      elements: dict
crds_established:
  description: For each Argo CD CRD, whether it exists and is Established.
  returned: always
  type: dict
  sample: {"applications.argoproj.io": true, "applicationsets.argoproj.io": true, "appprojects.argoproj.io": true}
applications:
  description: Applications with their status.
  returned: when applications is true
  type: list
  elements: dict
  contains:
    name:
      description: Application name.
      type: str
    project:
      description: AppProject.
      type: str
    sync:
      description: Sync status.
      type: str
    health:
      description: Health status.
      type: str
    revision:
      description: Revision last compared.
      type: str
    operation_phase:
      description: Phase of the last operation.
      type: str
    conditions:
      description: Application conditions (type, message).
      type: list
      elements: dict
    reason:
      description: Why the application is not Synced and Healthy, in words; C(Synced and Healthy) when it is.
      type: str
    self_heal:
      description: Whether Argo CD syncs the application by itself when the cluster differs from Git (automated sync with self-heal).
      type: bool
    operation_pending:
      description: Whether an operation (a sync requested and not yet started) is waiting for the application controller.
      type: bool
"""

import re

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import run_module
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    ArgoCDModule,
    API_VERSION,
    CRD_NAMES,
    PART_OF_LABEL,
    summarise_application,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import workload_problems

_ARGOCD_IMAGE = re.compile(r"(^|/)argoproj/argocd:(v?[0-9][^@\s]*)")


def workload_summary(obj):
    """What the module reports of one workload; ``ready`` is the collection's one readiness rule (workload_problems)."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    desired = spec.get("replicas")
    if desired is None:
        desired = 1
    problem = workload_problems(obj)
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return {
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "desired": desired,
        "ready_replicas": status.get("readyReplicas") or 0,
        "updated_replicas": status.get("updatedReplicas") or 0,
        "ready": problem is None,
        "problem": problem,
        "images": [c.get("image") for c in containers],
        "version_label": (meta.get("labels") or {}).get("app.kubernetes.io/version"),
        "conditions": [
            {"type": c.get("type"), "status": c.get("status"), "reason": c.get("reason"), "message": c.get("message")}
            for c in status.get("conditions") or []
        ],
    }


def detect_version(components):
    preferred = sorted(components, key=lambda c: 0 if c["name"] == "argocd-server" else 1)
    for comp in preferred:
        for image in comp["images"]:
            match = _ARGOCD_IMAGE.search(image or "")
            if match:
                return match.group(2), f"image {image} of {comp['kind']} {comp['name']}"
    for comp in preferred:
        if comp.get("version_label"):
            return comp["version_label"], f"label app.kubernetes.io/version of {comp['kind']} {comp['name']}"
    return None, None


def application_summary(app):
    """What the module reports of one Application."""
    meta = app.get("metadata") or {}
    summary = summarise_application(app)
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "project": (app.get("spec") or {}).get("project"),
        "sync": summary["sync"],
        "health": summary["health"],
        "revision": summary["revision"],
        "operation_phase": summary["operation_phase"],
        "conditions": summary["conditions"],
        "resources_not_synced": summary["resources_not_synced"],
        "resources_unhealthy": summary["resources_unhealthy"],
        "reason": summary["message"],
        "self_heal": bool((((app.get("spec") or {}).get("syncPolicy") or {}).get("automated") or {}).get("selfHeal")),
        "operation_pending": bool(app.get("operation")),
    }


class InfoManager:
    """Reads the Argo CD workloads, CRDs and Applications of one namespace; writes nothing."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.namespace = self.params["namespace"]

    def components(self):
        components = []
        for kind in ("Deployment", "StatefulSet"):
            for obj in self.module.list(kind, "apps/v1", namespace=self.namespace, label_selector=f"{PART_OF_LABEL}=argocd"):
                obj.setdefault("kind", kind)
                components.append(workload_summary(obj))
        components.sort(key=lambda c: (c["kind"], c["name"]))
        return components

    def crds(self):
        crds = {}
        for name in CRD_NAMES:
            crd = self.module.get("CustomResourceDefinition", "apiextensions.k8s.io/v1", name)
            conditions = ((crd or {}).get("status") or {}).get("conditions") or []
            crds[name] = any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
        return crds

    def applications(self):
        wanted = set(self.params.get("app_names") or [])
        apps = [application_summary(app) for app in self.module.list("Application", API_VERSION, namespace=self.namespace)
                if not wanted or (app.get("metadata") or {}).get("name") in wanted]
        apps.sort(key=lambda a: a["name"])
        missing = sorted(wanted - set(a["name"] for a in apps))
        if missing:
            self.module.warn(f"Applications not found in {self.namespace}: {', '.join(missing)}")
        return apps

    def run(self):
        components = self.components()
        version, version_source = detect_version(components)
        crds = self.crds()
        result = {
            "changed": False,
            "installed": bool(components),
            "version": version,
            "version_source": version_source,
            "components": components,
            "ready": bool(components) and all(c["ready"] for c in components),
            "crds_established": crds,
        }
        if self.params["applications"]:
            result["applications"] = self.applications() if crds.get("applications.argoproj.io") else []
        return result


def build_argument_spec():
    """The module options (without the connection options added by ArgoCDModule)."""
    return dict(
        namespace=_argspec.argocd_namespace(),
        applications=dict(type="bool", default=True),
        app_names=dict(type="list", elements="str"),
    )


def main():
    module = ArgoCDModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, InfoManager, "Reading the state of Argo CD")


if __name__ == "__main__":
    main()
