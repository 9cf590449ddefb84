# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install: the record of what an install applied, and what to remove without one.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

The objects applied are recorded in the ConfigMap gitops-bootstrap-argocd-install of the namespace,
one entry (apiVersion, kind, namespace, name) each, so a later run with another version or flavour
removes what the new manifests no longer contain, and state=absent removes exactly what was
installed. Without that record, the uninstall finds the objects by their labels (discovered_entries).
"""

from __future__ import annotations

import json

INVENTORY_NAME = "gitops-bootstrap-argocd-install"
MANAGED_BY = {"app.kubernetes.io/managed-by": "gitops.bootstrap"}
PART_OF_SELECTOR = "app.kubernetes.io/part-of=argocd"
# Kinds of the upstream manifests that live in the Argo CD namespace.
NAMESPACED_UPSTREAM_KINDS = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "ServiceAccount"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
)
# Kinds that leaving the desired set never deletes.
NEVER_PRUNED = ("CustomResourceDefinition", "Namespace", "AppProject", "Application")

Entry = tuple  # (apiVersion, kind, namespace or "", name)


def inventory_object(namespace: str, entries, version: str | None, flavour: str | None) -> dict:
    """The ConfigMap that records the entries of an install."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": INVENTORY_NAME, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "data": {
            "version": version or "",
            "flavour": flavour or "",
            "objects": json.dumps(sorted(entries), indent=0),
        },
    }


def inventory_entries(inventory: dict | None) -> list[Entry]:
    """The entries of a recorded install; a record that cannot be read has none."""
    if not inventory:
        return []
    try:
        entries = json.loads((inventory.get("data") or {}).get("objects") or "[]")
    except ValueError:
        return []
    return [tuple(e) for e in entries if isinstance(e, list) and len(e) == 4]


def entry_of(obj: dict) -> Entry:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])


def stub_of(entry: Entry) -> dict:
    api_version, kind, namespace, name = entry
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def discovered_entries(list_objects, ns: str) -> list[Entry]:
    """Without a record of the install: the objects labelled part of Argo CD in the namespace, the
    ClusterRoleBindings whose ServiceAccount subjects live there, and the ClusterRoles they bind.

    ``list_objects(api_version, kind, namespace=None, label_selector=None)`` lists live objects.
    """
    entries = []
    for api_version, kind in NAMESPACED_UPSTREAM_KINDS:
        for item in list_objects(api_version, kind, namespace=ns, label_selector=PART_OF_SELECTOR):
            entries.append((api_version, kind, ns, item["metadata"]["name"]))
    roles = set()
    for crb in list_objects("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", label_selector=PART_OF_SELECTOR):
        if any(s.get("kind") == "ServiceAccount" and s.get("namespace") == ns for s in crb.get("subjects") or []):
            entries.append(("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", crb["metadata"]["name"]))
            roles.add((crb.get("roleRef") or {}).get("name"))
    for role in list_objects("rbac.authorization.k8s.io/v1", "ClusterRole", label_selector=PART_OF_SELECTOR):
        if role["metadata"]["name"] in roles:
            entries.append(("rbac.authorization.k8s.io/v1", "ClusterRole", "", role["metadata"]["name"]))
    return entries
