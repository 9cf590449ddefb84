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
  - gitops.bootstrap.attributes
attributes:
  check_mode:
    support: full
    details:
      - This module only reads.
  diff_mode:
    support: none
    details:
      - This module only reads; there is nothing to compare.
  idempotent:
    support: full
options:
  namespace:
    description: Namespace where Argo CD is installed.
    type: str
    default: argocd
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
      description: All desired replicas are ready and up to date.
      type: bool
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
"""

import re

from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    ArgoCDModule,
    API_VERSION,
    CRD_NAMES,
    PART_OF_LABEL,
    summarise_application,
)

_ARGOCD_IMAGE = re.compile(r"(^|/)argoproj/argocd:(v?[0-9][^@\s]*)")


def workload_summary(obj):
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    desired = spec.get("replicas")
    if desired is None:
        desired = 1
    ready_replicas = status.get("readyReplicas") or 0
    updated = status.get("updatedReplicas") or 0
    observed = status.get("observedGeneration") or 0
    current = observed >= (meta.get("generation") or 0)
    ready = current and ready_replicas >= desired and updated >= desired
    if kind == "Deployment":
        ready = ready and (status.get("availableReplicas") or 0) >= desired
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return {
        "kind": kind,
        "name": meta.get("name"),
        "desired": desired,
        "ready_replicas": ready_replicas,
        "updated_replicas": updated,
        "ready": bool(ready),
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
                return match.group(2), "image %s of %s %s" % (image, comp["kind"], comp["name"])
    for comp in preferred:
        if comp.get("version_label"):
            return comp["version_label"], "label app.kubernetes.io/version of %s %s" % (comp["kind"], comp["name"])
    return None, None


def build_argument_spec():
    """The module options (without the connection options added by ArgoCDModule)."""
    return dict(
        namespace=dict(type="str", default="argocd"),
        applications=dict(type="bool", default=True),
        app_names=dict(type="list", elements="str"),
    )


def main():
    argument_spec = build_argument_spec()
    module = ArgoCDModule(argument_spec=argument_spec, supports_check_mode=True)
    namespace = module.params["namespace"]
    try:
        components = []
        for kind in ("Deployment", "StatefulSet"):
            for obj in module.list(kind, "apps/v1", namespace=namespace, label_selector="%s=argocd" % PART_OF_LABEL):
                obj.setdefault("kind", kind)
                components.append(workload_summary(obj))
        components.sort(key=lambda c: (c["kind"], c["name"]))
        version, version_source = detect_version(components)

        crds = {}
        for name in CRD_NAMES:
            crd = module.get("CustomResourceDefinition", "apiextensions.k8s.io/v1", name)
            conditions = ((crd or {}).get("status") or {}).get("conditions") or []
            crds[name] = any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        result = {
            "changed": False,
            "installed": bool(components),
            "version": version,
            "version_source": version_source,
            "components": components,
            "ready": bool(components) and all(c["ready"] for c in components),
            "crds_established": crds,
        }
        if module.params["applications"]:
            apps = []
            if crds.get("applications.argoproj.io"):
                wanted = set(module.params.get("app_names") or [])
                for app in module.list("Application", API_VERSION, namespace=namespace):
                    meta = app.get("metadata") or {}
                    if wanted and meta.get("name") not in wanted:
                        continue
                    summary = summarise_application(app)
                    apps.append(
                        {
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
                        }
                    )
                apps.sort(key=lambda a: a["name"])
                missing = sorted(wanted - set(a["name"] for a in apps))
                if missing:
                    module.warn("Applications not found in %s: %s" % (namespace, ", ".join(missing)))
            result["applications"] = apps
    except GitopsK8sError as exc:
        module.fail(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
