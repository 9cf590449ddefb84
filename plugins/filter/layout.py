# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters exposing the infra repository layout to roles and playbooks.

The paths come from the collection's single description of the layout
(``plugins/module_utils/_layout.py``), so the Argo CD root application of a cluster
points where the ``gitops.bootstrap.infra_repo`` module writes that cluster's folder.
"""


from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout


def _wrap(func):
    def run(*args):
        try:
            return func(*args)
        except _layout.LayoutError as e:
            raise AnsibleFilterError(str(e))
    run.__doc__ = func.__doc__
    return run


class FilterModule(object):
    """Infra repository layout filters."""

    def filters(self):
        return {
            "cluster_path": _wrap(_layout.cluster_path),
            "cluster_argocd_path": _wrap(_layout.cluster_argocd_path),
            "cluster_projects_path": _wrap(_layout.cluster_projects_path),
            "cluster_apps_path": _wrap(_layout.cluster_apps_path),
            "cluster_layout": _wrap(_layout.cluster_layout),
            "platform_path": _wrap(_layout.platform_path),
            "app_base_path": _wrap(_layout.app_base_path),
            "app_overlay_path": _wrap(_layout.app_overlay_path),
            "argocd_install_url": _wrap(_layout.argocd_install_url),
            "argocd_self_manage_spec": _wrap(_layout.argocd_self_manage_spec),
        }
