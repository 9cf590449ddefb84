# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install: what the install and the uninstall share, the cluster as they see it.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Every request goes through the collection's service layer (_k8s.K8sService). A type the server
does not serve (a CRD not installed yet, or already removed) reads as absent here, since both the
install and the uninstall meet such types on the way.
"""

from __future__ import annotations

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.report import Report
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import CLUSTER_SCOPED_KINDS
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import K8sService


def established(crd: dict | None) -> bool:
    """Whether a CustomResourceDefinition is Established (its type is served)."""
    if not crd:
        return False
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Established" and cond.get("status") == "True":
            return True
    return False


class ClusterStep:
    """The base of the install and the uninstall: parameters, the service, the report."""

    def __init__(self, service: K8sService, params: dict, report: Report):
        self.service = service
        self.params = params
        self.report = report
        self.check_mode = service.check_mode
        self.namespace = params["namespace"]

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        return self.service.get(kind, api_version, name, namespace, unserved_is_absent=True)

    def list(self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list:
        return self.service.list(kind, api_version, namespace=namespace, label_selector=label_selector,
                                 unserved_is_absent=True)

    def served(self, api_version: str, kind: str) -> bool:
        return self.service.find_resource(kind, api_version) is not None

    def namespaced(self, api_version: str, kind: str) -> bool:
        res = self.service.find_resource(kind, api_version)
        if res is None:
            return kind not in CLUSTER_SCOPED_KINDS
        return bool(res.namespaced)

    def server_side_apply(self, obj: dict, field_manager: str | None = None) -> dict:
        return self.service.server_side_apply(obj, field_manager=field_manager or self.params["field_manager"],
                                              force_conflicts=self.params["force_conflicts"])

    def delete(self, obj: dict, propagation_policy: str = "Background") -> None:
        self.service.delete_object(obj, propagation_policy)

    def parallel(self, func, items) -> list:
        return self.service.parallel(func, items, workers=self.params["parallel"])
