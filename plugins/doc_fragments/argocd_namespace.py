# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The ``namespace`` option of the argocd_* modules (argument spec: ``_argspec.argocd_namespace``).

    This doc fragment is PRIVATE to the collection. A module that means another namespace (the
    Application's own, the hub's) keeps the fragment and sets its own ``description``; the type and
    the default stay here.
    """

    DOCUMENTATION = r"""
options:
  namespace:
    description: Namespace where Argo CD is installed.
    type: str
    default: argocd
"""
