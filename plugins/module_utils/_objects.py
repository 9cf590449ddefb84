# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection writes into clusters, and how it names an object, each defined once.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Pure: the service layer, the Argo CD engine, the install, the scaffold of the infra repository and
the filters import these instead of spelling them again.
"""

from __future__ import annotations

from typing import Mapping

# The field manager of every server-side apply and patch of the collection (suffixed where two
# writers share one object, see _argocd.field_manager_for).
FIELD_MANAGER = "gitops.bootstrap"
# The API server of the cluster Argo CD runs in, as Argo CD names it in a destination.
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"


def object_ref(kind: str | None, name: str | None, namespace: str | None = None) -> str:
    """``Kind namespace/name``, or ``Kind name`` for a cluster-scoped object: how every message names an object."""
    if namespace:
        return f"{kind} {namespace}/{name}"
    return f"{kind} {name}"


def ref_of(obj: Mapping) -> str:
    """object_ref of an object (a manifest or a live object)."""
    meta = obj.get("metadata") or {}
    return object_ref(obj.get("kind"), meta.get("name"), meta.get("namespace"))


def resource_ref(res: Mapping, with_group: bool = False) -> str:
    """object_ref of an entry of an Application's status.resources; ``with_group`` writes ``group/Kind``."""
    kind = res.get("kind") or "?"
    if with_group and res.get("group"):
        kind = f"{res['group']}/{kind}"
    return object_ref(kind, res.get("name") or "?", res.get("namespace"))
