#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_kept_objects
short_description: Create objects the agent applies from Git only when they are missing, and hand over the fields of their former manager
version_added: 0.3.0
description:
  - For objects whose owner is the agent that applies them from the infra repository (Argo CD), and that must exist
    before the agent has synced them, for example the break-glass bindings the RBAC lock-down needs before it removes
    anybody's access.
  - An object of O(objects) that does not exist is created, by server-side apply under the agent's field manager
    O(field_manager), as the agent would create it from Git; there is nothing to hand over later.
  - An object that exists is never changed, whatever it holds (Git is its source of truth), except for the hand-over
    of its field managers. Once O(field_manager) manages it, the server-side apply entries of the managers in
    O(hand_over_from) (the collection's, from the time it applied the object itself) are removed from its
    C(metadata.managedFields), so the agent is the only owner of what Git says. Nothing is deleted.
author:
  - gitops.bootstrap contributors (@gitops-bootstrap)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
attributes:
  check_mode:
    details:
      - Creations and hand-overs are server-side dry runs.
options:
  objects:
    description:
      - Complete Kubernetes objects (C(apiVersion), C(kind), C(metadata.name), C(metadata.namespace) where namespaced).
      - The values the repository holds for them (rendered from the same variables).
    type: list
    elements: dict
    required: true
  field_manager:
    description: The agent's field manager, under which a missing object is created and to which existing ones are handed over.
    type: str
    default: argocd-controller
  hand_over_from:
    description:
      - Field managers whose server-side apply entries are removed once O(field_manager) manages the object.
      - Empty, nothing is handed over.
    type: list
    elements: str
    default: []
  request_sync:
    description:
      - After a hand-over, ask Argo CD to sync, once, each Application that tracks a handed-over object (read from
        its C(argocd.argoproj.io/tracking-id) annotation), with the Application's own sync options. Argo CD applies
        only what differs from Git, so an object that already held Git's values would otherwise never carry its field
        manager on the fields the hand-over gave up. An Application with an operation pending or running is left alone.
    type: bool
    default: false
  argocd_namespace:
    description: The namespace of the Argo CD Applications of O(request_sync).
    type: str
    default: argocd
"""

EXAMPLES = r"""
- name: The break-glass binding exists before any access is removed (Argo CD applies it from Git)
  gitops.bootstrap.k8s_kept_objects:
    objects:
      - apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: gitops-break-glass}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
        subjects:
          - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: platform-admins}
    hand_over_from: [gitops.bootstrap.rbac_lockdown]
"""

RETURN = r"""
objects:
  description: Every object of O(objects), each with C(kind), C(namespace), C(name) and C(action) (V(create), V(hand over) or V(kept)).
  returned: always
  type: list
  elements: dict
created:
  description: The objects created (in check mode, that would be), as C(Kind namespace/name).
  returned: success
  type: list
  elements: str
handed_over:
  description: The objects whose former managers' entries were removed, as C(Kind namespace/name).
  returned: success
  type: list
  elements: str
sync_requested:
  description: The Applications asked to sync after the hand-over (O(request_sync)).
  returned: success
  type: list
  elements: str
"""

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.handover import hand_over_fields, managers_of
from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sModule, run_manager
from ansible_collections.gitops.bootstrap.plugins.module_utils._names import name_error


TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
APPLICATION_API = "argoproj.io/v1alpha1"


def tracking_application(obj: dict, argocd_namespace: str) -> str | None:
    """The Application (in ``argocd_namespace``) that tracks ``obj``, from Argo CD's annotation
    ``<app>:<group>/<kind>:<namespace>/<name>`` (``<namespace>_<app>`` for an Application elsewhere)."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TRACKING_ANNOTATION) or ""
    app = value.split(":", 1)[0] if ":" in value else ""
    if "_" in app:
        ns, app = app.split("_", 1)
        if ns != argocd_namespace:
            return None
    return app or None


def _ref(obj: dict) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


def check_objects(objects) -> list[dict]:
    """The objects, refused whole (nothing applied) when one lacks what identifies it."""
    problems = []
    for index, obj in enumerate(objects or []):
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not obj.get("apiVersion") or not obj.get("kind"):
            problems.append(f"objects[{index}] needs apiVersion, kind and metadata")
            continue
        problem = name_error(meta.get("name"), "dns1123_subdomain", f"objects[{index}] metadata.name")
        if problem:
            problems.append(problem)
    if problems:
        raise GitopsInputError("; ".join(problems) + ". Nothing was changed.")
    return list(objects or [])


class KeptObjects:
    def __init__(self, module: GitopsK8sModule):
        self.module = module
        self.p = module.params
        self.objects: list[dict] = []

    def run(self) -> dict:
        objects = check_objects(self.p["objects"])
        if not self.p["field_manager"]:
            raise GitopsInputError("field_manager is empty: name the agent's field manager (argocd-controller). Nothing was changed.")
        service = self.module.service
        created, handed, before_all, after_all, apps = [], [], {}, {}, []
        for obj in objects:
            meta = obj["metadata"]
            ref = _ref(obj)
            live = service.get(obj["kind"], obj["apiVersion"], meta["name"], meta.get("namespace"))
            action = "kept"
            if live is None:
                service.server_side_apply(obj, field_manager=self.p["field_manager"], force_conflicts=False)
                created.append(ref)
                action = "create"
                before_all[ref], after_all[ref] = None, obj
            else:
                entries = (live.get("metadata") or {}).get("managedFields") or []
                rest = entries
                for manager in self.p["hand_over_from"]:
                    rest = hand_over_fields(rest, manager, self.p["field_manager"]) or rest
                if rest is not entries:
                    patch = {"metadata": {"managedFields": rest, "resourceVersion": live["metadata"].get("resourceVersion")}}
                    service.merge_patch(obj["kind"], obj["apiVersion"], meta["name"], meta.get("namespace"), patch,
                                        doing=f"Handing over to {self.p['field_manager']} the fields of")
                    handed.append(ref)
                    app = tracking_application(live, self.p["argocd_namespace"])
                    if app and app not in apps:
                        apps.append(app)
                    action = "hand over"
                    before_all[ref] = {"field_managers": managers_of(entries)}
                    after_all[ref] = {"field_managers": managers_of(rest)}
            self.objects.append({"kind": obj["kind"], "namespace": meta.get("namespace"), "name": meta["name"], "action": action})
        requested = self.request_syncs(apps) if self.p["request_sync"] else []
        out = {"changed": bool(created or handed), "objects": self.objects, "created": created, "handed_over": handed,
               "sync_requested": requested}
        if self.module._diff:
            out["diff"] = {"before": before_all, "after": after_all}
        return out

    def request_syncs(self, apps: list[str]) -> list[str]:
        service = self.module.service
        ns = self.p["argocd_namespace"]
        requested = []
        for name in apps:
            app = service.get("Application", APPLICATION_API, name, ns)
            if app is None or app.get("operation") or ((app.get("status") or {}).get("operationState") or {}).get("phase") == "Running":
                continue
            options = ((app.get("spec") or {}).get("syncPolicy") or {}).get("syncOptions") or []
            service.merge_patch("Application", APPLICATION_API, name, ns, {"operation": {
                "initiatedBy": {"username": "gitops.bootstrap"},
                "info": [{"name": "reason", "value": "fields handed over to Argo CD by gitops.bootstrap"}],
                "sync": {"syncOptions": options, "syncStrategy": {"hook": {}}},
            }}, doing="Asking Argo CD to sync")
            requested.append(f"Application {ns}/{name}")
        return requested


def build_argument_spec() -> dict:
    return dict(
        objects=dict(type="list", elements="dict", required=True),
        field_manager=dict(type="str", default="argocd-controller"),
        hand_over_from=dict(type="list", elements="str", default=[]),
        request_sync=dict(type="bool", default=False),
        argocd_namespace=dict(type="str", default="argocd"),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    manager = KeptObjects(module)
    run_manager(module, manager.run, "Creating the missing objects the agent applies from Git", details=lambda: {"objects": manager.objects})


if __name__ == "__main__":
    main()
