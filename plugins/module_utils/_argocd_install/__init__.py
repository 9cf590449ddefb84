# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The body of the argocd_install module, in parts named for what they do.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

- source.py: the upstream manifests (download, local copy, checksums, cache);
- inventory.py: the record of what an install applied, and what to remove without one;
- present.py: the install or upgrade;
- absent.py: the uninstall, and its cascade;
- report.py: the result and the diff;
- cluster.py: what the install and the uninstall share (every request goes through _k8s's service).
"""

from __future__ import annotations

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.absent import Uninstall
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.present import Install
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.report import Report
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sModule, run_manager
from ansible_collections.gitops.bootstrap.plugins.module_utils._names import is_valid as name_is_valid


def run(module: GitopsK8sModule) -> None:
    """Install or remove Argo CD as the module's parameters say, and exit the module."""
    params = module.params
    if not name_is_valid(params["namespace"], "dns1123_label"):
        module.fail_json(msg="namespace %r is not a valid Kubernetes namespace name (lower-case letters, digits and '-', at most 63)"
                         % params["namespace"])
    report = Report(params, check_mode=module.check_mode, diff=module.module._diff)
    step = (Install if params["state"] == "present" else Uninstall)(module.service, params, report)

    def work():
        step.run()
        result = report.result()
        for warning in report.warnings:
            module.warn(warning)
        return result

    run_manager(module, work, "Installing Argo CD", details=lambda: {"objects": report.entries(), "files": report.files})
