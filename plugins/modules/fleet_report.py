#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Write the fleet report of a run (HTML, JSON, Markdown) from what the run gathered on every cluster
version_added: 0.2.0
description:
  - Takes, per cluster, the results a run registered (M(gitops.bootstrap.argocd_info), M(gitops.bootstrap.k8s_rbac_audit)),
    the drift the C(gitops.bootstrap.drift_report) callback recorded, and the error of a cluster the run could not
    finish, and writes one report of the whole inventory as a static HTML page (inline CSS, no script, no external
    asset, so it opens offline and from a CI artifact), JSON and Markdown with the same content.
  - Per cluster, the status (C(failing), C(drifted), C(pending), C(healthy)) and why; the Argo CD version, flavour and
    the readiness of each component; the root application and every Application with sync and health status,
    OutOfSync and Degraded first with their reason; the drift found in this run (object, action, fields); RBAC
    (C(locked down) or C(people can write), people with write access, the break-glass groups apart as intended access,
    findings by severity with the allowlisted system components counted apart from the findings that need action); the
    age of credentials the collection created, where known. A header counts the clusters by status.
  - Secret values never appear. Nothing of a diff is copied but object names, actions and field paths; credentials in
    URLs, PEM blocks and the values of O(mask_values) are masked in every text.
  - Runs on the controller (C(delegate_to) C(localhost), C(run_once)) and reads no cluster.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - gitops.bootstrap.attributes
attributes:
  check_mode:
    support: full
    details:
      - The report is written in check mode too (it describes the run; it changes nothing that the collection manages).
  diff_mode:
    support: none
    details:
      - The report is an output of the run, not a managed object.
  idempotent:
    support: full
    details:
      - C(changed) is always false; RV(written) lists the files written.
  action_group:
    description: Runs on the controller and takes no connection options, so it is in no action group.
    support: none
    membership: []
options:
  path:
    description:
      - Path of the report without extension; C(.html), C(.json) and C(.md) are appended. The directory is created.
      - Without it, nothing is written and only RV(report) and RV(summary) are returned.
    type: path
  formats:
    description: The files to write.
    type: list
    elements: str
    choices: [html, json, markdown]
    default: [html, json, markdown]
  clusters:
    description: One entry per cluster of the inventory.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The cluster (inventory host) name.
        type: str
        required: true
      environment:
        description: Its environment (dev, staging, prod).
        type: str
      error:
        description: Why the run could not finish on this cluster; the cluster is then C(failing).
        type: str
      argocd:
        description: The registered result of M(gitops.bootstrap.argocd_info); a failed result makes the cluster C(failing) with its message.
        type: dict
      flavour:
        description: The Argo CD flavour installed (the argocd role's C(argocd_flavour)).
        type: str
      root_application:
        description: Name of the root application.
        type: str
        default: root
      argocd_namespace:
        description: Namespace of Argo CD; its service accounts count as system components.
        type: str
        default: argocd
      rbac:
        description: The registered result of M(gitops.bootstrap.k8s_rbac_audit) (its C(summary) and C(findings)).
        type: dict
      break_glass_groups:
        description: Break-glass groups; their write access is shown apart, as intended access.
        type: list
        elements: str
        default: []
      allow_subjects:
        description: Subject ids (C(Kind:name), C(ServiceAccount:namespace/name)) allowlisted as system components.
        type: list
        elements: str
        default: []
      system_namespaces:
        description: Namespaces whose service accounts count as system components.
        type: list
        elements: str
        default: [kube-system, kube-public, kube-node-lease]
      drift:
        description:
          - The drift of this cluster in this run (a list of entries of the C(gitops.bootstrap.drift_report) callback).
            Without it, the entry of O(drift_report) is used, if any.
        type: list
        elements: dict
      credentials:
        description:
          - Credentials the collection created for this cluster, each with C(kind), C(name) and C(created)
            (ISO 8601 or epoch seconds) or C(path) (a file on the controller whose modification time is its age; the
            file is never read).
        type: list
        elements: dict
        default: []
  unfinished:
    description:
      - Clusters the run could not finish on (they left the play when a task failed on them), each a registered
        result of M(gitops.bootstrap.argocd_info) read once more, named by its loop variable C(gitops_failed_host)
        (or C(name)). They are C(failing); a failed read gives its message as their error.
    type: list
    elements: dict
    default: []
  drift_report:
    description:
      - The JSON file the C(gitops.bootstrap.drift_report) callback writes for this run. A missing file means that
        drift was not recorded; the report says so.
    type: path
  mask_values:
    description: Values masked wherever they appear in the report (tokens, passwords, keys of the inventory).
    type: list
    elements: str
    default: []
  run:
    description: What the run was (for example C(playbook), C(check_mode)), shown in the JSON model.
    type: dict
    default: {}
"""

EXAMPLES = r"""
---
- name: Fleet report is written
  gitops.bootstrap.fleet_report:
    path: "{{ lookup('ansible.builtin.env', 'HOME') }}/.local/state/gitops-bootstrap/fleet-report"
    clusters:
      - name: dev
        argocd: "{{ hostvars['dev'].gitops_summary_argocd }}"
        rbac: "{{ hostvars['dev'].gitops_summary_rbac }}"
        break_glass_groups: [platform-oncall]
      - name: prod
        error: "the cluster could not be reached: connection refused"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
report:
  description: The JSON model of the report (C(generated), C(run), C(fleet) counts, C(clusters) worst first).
  returned: always
  type: dict
summary:
  description: One line per cluster for the console, in the words of the report (status, reasons, Argo CD, root application, drift, RBAC).
  returned: always
  type: list
  elements: dict
fleet:
  description: The clusters by status, and the same in words.
  returned: always
  type: dict
  sample: {clusters: 2, healthy: 1, drifted: 1, failing: 0, pending: 0, text: "2 clusters, 1 healthy, 1 drifted, 0 failing"}
written:
  description: The files written.
  returned: always
  type: list
  elements: str
  sample: [/home/me/.local/state/gitops-bootstrap/fleet-report.html]
"""

import datetime
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitops.bootstrap.plugins.module_utils._fleet_report import (
    FleetReportError,
    build_report,
    console_line,
    fleet_text,
    to_html,
    to_markdown,
)

_EXTENSIONS = {"html": ".html", "json": ".json", "markdown": ".md"}


def _read_drift(path: str | None) -> dict | None:
    """The clusters of the drift callback's report, or None when drift was not recorded."""
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise FleetReportError(f"the drift report {path} cannot be read ({exc}); re-run, or remove the file") from exc
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, dict):
        raise FleetReportError(f"the drift report {path} has no clusters: it is not a report of the gitops.bootstrap.drift_report callback")
    return clusters


def _with_file_ages(entry: dict) -> dict:
    creds = []
    for cred in entry.get("credentials") or []:
        if not isinstance(cred, dict):
            continue
        cred = dict(cred)
        path = cred.pop("path", None)
        if path and not cred.get("created"):
            # The playbook gives the file's full path (its ~ expanded on the controller).
            path = str(path)
            if not os.path.exists(path):
                continue
            cred["created"] = os.stat(path).st_mtime
            cred.setdefault("name", path)
        creds.append(cred)
    return dict(entry, credentials=creds)


def _unfinished_entry(probe: dict) -> dict:
    """A cluster the run did not finish on, from what reading it once more gave."""
    name = probe.get("name") or probe.get("gitops_failed_host") or probe.get("item")
    if not isinstance(name, str) or not name:
        raise FleetReportError("every entry of unfinished needs the cluster's name (name, or the loop variable gitops_failed_host)")
    if probe.get("failed") or probe.get("unreachable"):
        error = f"the run did not finish on this cluster, and reading it failed: {probe.get('msg') or 'no message'}"
        return {"name": name, "error": error}
    return {"name": name, "argocd": probe, "error": "the run did not finish on this cluster: its failed task is in the run's output"}


def _write(path: str, text: str) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".fleet-report-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(params: dict) -> dict:
    drift = _read_drift(params.get("drift_report"))
    entries = []
    for entry in params["clusters"]:
        entry = _with_file_ages(entry)
        if entry.get("drift") is None and drift is not None:
            entry["drift"] = (drift.get(entry["name"]) or {}).get("changes") or []
        entries.append(entry)
    for probe in params["unfinished"]:
        entry = _unfinished_entry(probe)
        if drift is not None:
            entry["drift"] = (drift.get(entry["name"]) or {}).get("changes") or []
        entries.append(entry)
    report = build_report(entries, now=datetime.datetime.now(datetime.timezone.utc), secrets=params["mask_values"],
                          run=params["run"])
    written = []
    base = params.get("path")
    if base is not None:
        if not str(base).strip():
            raise FleetReportError("path is empty: give the report's path without extension, or leave path out to write nothing")
        if os.path.isdir(base):
            raise FleetReportError(f"path {base} is a directory: give the report's path without extension, for example {base}/fleet-report")
        directory = os.path.dirname(os.path.abspath(base))
        os.makedirs(directory, exist_ok=True)
        texts = {"json": json.dumps(report, indent=2, sort_keys=True) + "\n", "markdown": to_markdown(report), "html": to_html(report)}
        for fmt in params["formats"]:
            target = os.path.abspath(base) + _EXTENSIONS[fmt]
            _write(target, texts[fmt])
            written.append(target)
    fleet = dict(report["fleet"], text=fleet_text(report["fleet"]))
    return {"changed": False, "report": report, "summary": [console_line(c) for c in report["clusters"]], "fleet": fleet,
            "written": written}


def main():
    cluster_options = dict(
        name=dict(type="str", required=True),
        environment=dict(type="str"),
        error=dict(type="str"),
        argocd=dict(type="dict"),
        flavour=dict(type="str"),
        root_application=dict(type="str", default="root"),
        argocd_namespace=dict(type="str", default="argocd"),
        rbac=dict(type="dict"),
        break_glass_groups=dict(type="list", elements="str", default=[]),
        allow_subjects=dict(type="list", elements="str", default=[]),
        system_namespaces=dict(type="list", elements="str", default=["kube-system", "kube-public", "kube-node-lease"]),
        drift=dict(type="list", elements="dict"),
        credentials=dict(type="list", elements="dict", default=[], no_log=False),
    )
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            formats=dict(type="list", elements="str", choices=["html", "json", "markdown"], default=["html", "json", "markdown"]),
            clusters=dict(type="list", elements="dict", required=True, options=cluster_options),
            unfinished=dict(type="list", elements="dict", default=[]),
            drift_report=dict(type="path"),
            mask_values=dict(type="list", elements="str", default=[], no_log=True),
            run=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module.params))
    except FleetReportError as exc:
        module.fail_json(msg=f"The fleet report was not written: {exc}")
    except OSError as exc:
        module.fail_json(msg=f"The fleet report was not written to {module.params.get('path')}: {exc}; "
                             "set gitops_fleet_report_path to a writable place, or gitops_fleet_report: false")


if __name__ == "__main__":
    main()
