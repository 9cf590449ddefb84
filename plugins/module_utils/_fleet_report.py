# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: what a run found on every cluster, as one JSON model, Markdown and HTML.

A pure engine (no cluster, no files): :func:`build_report` turns what a run gathered per cluster
(the result of ``argocd_info``, of ``k8s_rbac_audit``, the drift entries of the ``drift_report``
callback, an error) into the model; :func:`to_markdown` and :func:`to_html` render the same model.
The words the console summary prints come from :func:`console_line`, so both read alike.
"""

from __future__ import annotations

import datetime
import html
import re
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("failing", "drifted", "pending", "healthy")
LOCKED_DOWN = "locked down"
PEOPLE_CAN_WRITE = "people can write"
NOT_AUDITED = "not audited"
DEFAULT_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
_PROBLEM_SYNC = ("OutOfSync", "Unknown")
_PROBLEM_HEALTH = ("Degraded", "Missing", "Unknown", "Progressing", "Suspended")
# Credentials in URLs (https://user:token@host) and PEM blocks: masked wherever they appear in text.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|$)", re.S)
MASK = "********"


class FleetReportError(ValueError):
    """The input of the report is not what the playbook gives it."""


# -- masking ----------------------------------------------------------------------------------
def mask_text(value: Any, secrets: list[str] | None = None) -> Any:
    """A string with credentials in URLs, PEM blocks and every given secret value masked."""
    if not isinstance(value, str):
        return value
    out = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", value)
    out = _PEM_BLOCK.sub(MASK, out)
    for secret in secrets or []:
        if secret and len(secret) >= 4:
            out = out.replace(secret, MASK)
    return out


def mask_all(obj: Any, secrets: list[str] | None = None) -> Any:
    """Every string of a JSON-like value masked (mask_text)."""
    if isinstance(obj, dict):
        return {k: mask_all(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_all(v, secrets) for v in obj]
    return mask_text(obj, secrets)


# -- model ------------------------------------------------------------------------------------
def _counts() -> dict[str, int]:
    return {s: 0 for s in SEVERITIES}


def _app_is_problem(app: dict) -> bool:
    return app.get("sync") in _PROBLEM_SYNC or app.get("health") in _PROBLEM_HEALTH


def _app_rank(app: dict) -> tuple:
    """OutOfSync and Degraded first, then other states that are not Synced and Healthy, then by name."""
    if app.get("health") in ("Degraded", "Missing"):
        rank = 0
    elif app.get("sync") == "OutOfSync":
        rank = 1
    elif _app_is_problem(app):
        rank = 2
    else:
        rank = 3
    return (rank, str(app.get("name") or ""))


def _applications(argocd: dict) -> list[dict]:
    apps = []
    for app in argocd.get("applications") or []:
        if not isinstance(app, dict):
            continue
        sync, health = app.get("sync") or "Unknown", app.get("health") or "Unknown"
        entry = {"name": app.get("name"), "project": app.get("project"), "sync": sync, "health": health,
                 "revision": app.get("revision"), "reason": None}
        if _app_is_problem(entry):
            entry["reason"] = app.get("reason") or "; ".join(
                str(c.get("message")) for c in app.get("conditions") or [] if isinstance(c, dict) and c.get("message")) or None
        apps.append(entry)
    return sorted(apps, key=_app_rank)


def _argocd(argocd: dict | None, flavour: str | None) -> dict:
    argocd = argocd or {}
    components = [{"kind": c.get("kind"), "name": c.get("name"), "ready": bool(c.get("ready")),
                   "ready_replicas": c.get("ready_replicas", 0), "desired": c.get("desired", 0)}
                  for c in argocd.get("components") or [] if isinstance(c, dict)]
    components.sort(key=lambda c: (c["ready"], str(c["name"])))
    ready = sum(1 for c in components if c["ready"])
    return {
        "installed": bool(argocd.get("installed", bool(components))),
        "version": argocd.get("version") or None,
        "flavour": flavour or None,
        "ready": bool(argocd.get("ready")),
        "components_ready": f"{ready}/{len(components)} ready",
        "components": components,
    }


def _subject_is_system(finding: dict, system_namespaces: tuple, argocd_namespaces: tuple, allowed: set) -> bool:
    subject = str(finding.get("subject") or "")
    kind, name = finding.get("kind"), str(finding.get("name") or "")
    if subject in allowed:
        return True
    if kind in ("User", "Group"):
        return name.startswith("system:")
    if kind == "ServiceAccount":
        namespace = finding.get("namespace") if finding.get("scope") != "namespace" else None
        if not namespace and ":" in subject and "/" in subject:
            namespace = subject.split(":", 1)[1].split("/", 1)[0]
        return namespace in system_namespaces or namespace in argocd_namespaces
    return False


def _rbac(audit: dict | None, break_glass: list[str], allow_subjects: list[str], system_namespaces: tuple,
          argocd_namespaces: tuple) -> dict:
    if not audit or not isinstance(audit.get("summary"), dict):
        return {"audited": False, "state": NOT_AUDITED, "people_with_write": [], "break_glass_with_write": [],
                "need_action": _counts(), "system_components": _counts(), "break_glass": _counts(),
                "need_action_total": 0, "system_components_total": 0, "findings": []}
    glass = {f"Group:{g}" for g in break_glass}
    allowed = set(allow_subjects)
    people = [str(p) for p in audit["summary"].get("people_with_write") or []]
    need, system, intended = _counts(), _counts(), _counts()
    listed = []
    for finding in audit.get("findings") or []:
        if not isinstance(finding, dict):
            continue
        severity = finding.get("severity") if finding.get("severity") in SEVERITIES else "low"
        subject = str(finding.get("subject") or "")
        if subject in glass:
            intended[severity] += 1
        elif _subject_is_system(finding, system_namespaces, argocd_namespaces, allowed):
            system[severity] += 1
        else:
            need[severity] += 1
            listed.append({"subject": subject, "severity": severity, "risk": finding.get("risk"),
                           "scope": finding.get("scope"), "namespace": finding.get("namespace"), "title": finding.get("title")})
    listed.sort(key=lambda f: (SEVERITIES.index(f["severity"]), f["subject"], str(f["risk"])))
    writers = [p for p in people if p not in glass]
    return {
        "audited": True,
        "state": LOCKED_DOWN if not writers else PEOPLE_CAN_WRITE,
        "people_with_write": writers,
        "break_glass_with_write": [p for p in people if p in glass],
        "need_action": need,
        "system_components": system,
        "break_glass": intended,
        "need_action_total": sum(need.values()),
        "system_components_total": sum(system.values()),
        "findings": listed[:50],
        "findings_not_listed": max(0, len(listed) - 50),
    }


def _drift(drift: dict | list | None) -> dict:
    if drift is None:
        return {"recorded": False, "objects": []}
    changes = drift.get("changes") if isinstance(drift, dict) else drift
    objects = []
    for change in changes or []:
        if isinstance(change, dict):
            objects.append({"object": change.get("object"), "action": change.get("action"),
                            "fields": [str(f) for f in change.get("fields") or []][:30], "task": change.get("task")})
    return {"recorded": True, "objects": objects}


def _age_days(created: Any, now: datetime.datetime) -> float | None:
    if isinstance(created, (int, float)):
        when = datetime.datetime.fromtimestamp(created, datetime.timezone.utc)
    elif isinstance(created, str) and created:
        try:
            when = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
    else:
        return None
    return round((now - when).total_seconds() / 86400, 1)


def _credentials(creds: list | None, now: datetime.datetime) -> list[dict]:
    out = []
    for cred in creds or []:
        if not isinstance(cred, dict):
            continue
        created = cred.get("created")
        out.append({"kind": cred.get("kind"), "name": cred.get("name"),
                    "created": created if isinstance(created, str) else (
                        datetime.datetime.fromtimestamp(created, datetime.timezone.utc).isoformat(timespec="seconds")
                        if isinstance(created, (int, float)) else None),
                    "age_days": _age_days(created, now)})
    return out


def _status(cluster: dict) -> tuple[str, list[str]]:
    """failing > drifted > pending > healthy, with the reasons in words."""
    failing, drifted, pending = [], [], []
    if cluster["error"]:
        failing.append(cluster["error"])
    argocd = cluster["argocd"]
    if not cluster["error"]:
        if not argocd["installed"]:
            failing.append("Argo CD is not installed")
        elif not argocd["ready"]:
            failing.append("Argo CD components not ready: " + ", ".join(c["name"] for c in argocd["components"] if not c["ready"]))
    root = cluster["root_application"]
    if argocd["installed"] and root is None and not cluster["error"]:
        failing.append("the root application does not exist")
    for app in cluster["applications"]:
        why = f": {app['reason']}" if app.get("reason") else ""
        if app["health"] in ("Degraded", "Missing"):
            failing.append(f"application {app['name']} is {app['health']}{why}")
        elif app["sync"] == "OutOfSync":
            drifted.append(f"application {app['name']} is OutOfSync{why}")
        elif app["sync"] == "Unknown" or app["health"] in ("Unknown", "Progressing"):
            pending.append(f"application {app['name']} is {app['sync']}/{app['health']} (not reconciled yet)")
    count = len(cluster["drift"]["objects"])
    if count:
        drifted.insert(0, f"{count} object{'s' if count != 1 else ''} drifted from the desired state")
    if cluster["rbac"]["state"] == PEOPLE_CAN_WRITE:
        drifted.append("people can write: " + ", ".join(cluster["rbac"]["people_with_write"]))
    for status, reasons in (("failing", failing), ("drifted", drifted), ("pending", pending)):
        if reasons:
            return status, failing + drifted + pending
    return "healthy", []


def build_cluster(entry: dict, now: datetime.datetime, secrets: list[str] | None = None) -> dict:
    """The model of one cluster from what the run gathered on it (see the fleet_report module)."""
    if not isinstance(entry, dict) or not entry.get("name"):
        raise FleetReportError(f"every cluster needs a name; got {entry!r:.80}")
    argocd_result = entry.get("argocd") if isinstance(entry.get("argocd"), dict) else {}
    error = entry.get("error") or None
    if not error and argocd_result.get("failed"):
        error = argocd_result.get("msg") or "reading Argo CD failed"
    audit = entry.get("rbac") if isinstance(entry.get("rbac"), dict) and not entry["rbac"].get("failed") else None
    if not error and isinstance(entry.get("rbac"), dict) and entry["rbac"].get("failed"):
        error = entry["rbac"].get("msg") or "the RBAC audit failed"
    root_name = entry.get("root_application") or "root"
    applications = _applications(argocd_result) if not argocd_result.get("failed") else []
    root = next((a for a in applications if a["name"] == root_name), None)
    argocd_namespace = entry.get("argocd_namespace") or "argocd"
    cluster = {
        "name": str(entry["name"]),
        "environment": entry.get("environment") or None,
        "error": str(error) if error else None,
        "argocd": _argocd(argocd_result if not argocd_result.get("failed") else None, entry.get("flavour")),
        "root_application": root,
        "root_application_name": root_name,
        "applications": applications,
        "drift": _drift(entry.get("drift")),
        "rbac": _rbac(audit, [str(g) for g in entry.get("break_glass_groups") or []],
                      [str(s) for s in entry.get("allow_subjects") or []],
                      tuple(entry.get("system_namespaces") or DEFAULT_SYSTEM_NAMESPACES), (argocd_namespace,)),
        "credentials": _credentials(entry.get("credentials"), now),
    }
    cluster["status"], cluster["reasons"] = _status(cluster)
    return mask_all(cluster, secrets)


def build_report(entries: list[dict], now: datetime.datetime | None = None, secrets: list[str] | None = None,
                 run: dict | None = None) -> dict:
    """The JSON model of the whole fleet: a header with counts by status, then one entry per cluster."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if not isinstance(entries, list):
        raise FleetReportError("clusters must be a list of cluster entries")
    names = [e.get("name") if isinstance(e, dict) else None for e in entries]
    duplicates = sorted({str(n) for n in names if n and names.count(n) > 1})
    if duplicates:
        raise FleetReportError(f"clusters named more than once: {', '.join(duplicates)}")
    clusters = sorted((build_cluster(e, now, secrets) for e in entries),
                      key=lambda c: (STATUSES.index(c["status"]), c["name"]))
    fleet = {"clusters": len(clusters)}
    fleet.update({s: sum(1 for c in clusters if c["status"] == s) for s in ("healthy", "drifted", "failing", "pending")})
    return {"generated": now.isoformat(timespec="seconds"), "run": mask_all(run or {}, secrets), "fleet": fleet, "clusters": clusters}


# -- words ------------------------------------------------------------------------------------
def _sev_text(counts: dict) -> str:
    parts = [f"{s}: {counts[s]}" for s in SEVERITIES if counts.get(s)]
    return ", ".join(parts) if parts else "none"


def rbac_text(rbac: dict) -> str:
    """RBAC in one line: the state, then findings that need action, then the system components apart."""
    if not rbac["audited"]:
        return NOT_AUDITED
    text = rbac["state"]
    if rbac["state"] == PEOPLE_CAN_WRITE:
        text += f" ({', '.join(rbac['people_with_write'])})"
    if rbac["break_glass_with_write"]:
        text += f"; break-glass: {', '.join(rbac['break_glass_with_write'])}"
    text += f"; findings that need action: {_sev_text(rbac['need_action'])}"
    text += f"; allowlisted system components: {rbac['system_components_total']}"
    return text


def fleet_text(fleet: dict) -> str:
    parts = [f"{fleet['clusters']} cluster{'s' if fleet['clusters'] != 1 else ''}", f"{fleet['healthy']} healthy",
             f"{fleet['drifted']} drifted", f"{fleet['failing']} failing"]
    if fleet.get("pending"):
        parts.append(f"{fleet['pending']} pending")
    return ", ".join(parts)


def console_line(cluster: dict) -> dict:
    """The console summary of one cluster, in the words and groups of the report."""
    argocd, rbac, root = cluster["argocd"], cluster["rbac"], cluster["root_application"]
    return {
        "cluster": cluster["name"],
        "status": cluster["status"],
        "reasons": cluster["reasons"],
        "argocd_version": argocd["version"] or "not installed",
        "argocd_flavour": argocd["flavour"],
        "argocd_ready": argocd["ready"],
        "argocd_components": argocd["components_ready"],
        "root_app": f"{cluster['root_application_name']}: {root['sync']}/{root['health']}" if root else "none",
        "drift": [f"{o['object']} ({o['action'] or 'change'})" for o in cluster["drift"]["objects"]],
        "rbac": rbac_text(rbac),
        "rbac_findings": dict(rbac["need_action"]),
        "rbac_allowlisted_system_components": rbac["system_components_total"],
        "rbac_people_with_write": rbac["people_with_write"] + rbac["break_glass_with_write"],
    }


# -- Markdown ---------------------------------------------------------------------------------
def _md(value: Any) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict) -> str:
    lines = ["# Fleet report", "", f"Generated {report['generated']}. {fleet_text(report['fleet'])}.", ""]
    lines += ["| Cluster | Status | Argo CD | Root application | Drift | RBAC |", "|---|---|---|---|---|---|"]
    for c in report["clusters"]:
        root = c["root_application"]
        root_text = f"{root['sync']}/{root['health']}" if root else "none"
        lines.append(f"| {_md(c['name'])} | {c['status']} | {_md(c['argocd']['version'] or 'not installed')} "
                     f"{_md(c['argocd']['components_ready'])} | {_md(root_text)} | "
                     f"{len(c['drift']['objects'])} | {_md(c['rbac']['state'])} |")
    lines.append("")
    for c in report["clusters"]:
        lines += [f"## {c['name']}: {c['status']}", ""]
        if c["environment"]:
            lines.append(f"Environment: {c['environment']}.")
        for reason in c["reasons"]:
            lines.append(f"- {_md(reason)}")
        lines.append("")
        a = c["argocd"]
        lines += ["### Argo CD", "", f"Version {a['version'] or 'not installed'}, flavour {a['flavour'] or 'unknown'}, "
                  f"components {a['components_ready']}.", ""]
        for comp in a["components"]:
            lines.append(f"- {comp['kind']} {comp['name']}: {'ready' if comp['ready'] else 'not ready'} "
                         f"({comp['ready_replicas']}/{comp['desired']})")
        lines += ["", "### Applications", ""]
        if c["applications"]:
            lines += ["| Application | Sync | Health | Reason |", "|---|---|---|---|"]
            for app in c["applications"]:
                root_mark = " (root)" if app["name"] == c["root_application_name"] else ""
                lines.append(f"| {_md(app['name'])}{root_mark} | {app['sync']} | {app['health']} | {_md(app['reason'])} |")
        else:
            lines.append("No applications.")
        lines += ["", "### Drift in this run", ""]
        if not c["drift"]["recorded"]:
            lines.append("Not recorded (enable the gitops.bootstrap.drift_report callback).")
        elif not c["drift"]["objects"]:
            lines.append("No drift.")
        for obj in c["drift"]["objects"]:
            fields = ", ".join(f"`{f}`" for f in obj["fields"])
            lines.append(f"- **{_md(obj['object'])}** ({obj['action'] or 'change'})" + (f": {fields}" if fields else ""))
        r = c["rbac"]
        lines += ["", "### RBAC", "", f"{rbac_text(r)}.", ""]
        if r["audited"]:
            lines.append(f"- People with write access: {', '.join(r['people_with_write']) or 'none'}")
            lines.append(f"- Break-glass groups with write access (intended): {', '.join(r['break_glass_with_write']) or 'none'}")
            lines.append(f"- Findings that need action: {_sev_text(r['need_action'])}")
            lines.append(f"- Allowlisted system components: {_sev_text(r['system_components'])}")
            for f in r["findings"]:
                lines.append(f"  - {f['severity']}: {_md(f['subject'])}: {_md(f['title'] or f['risk'])}")
        lines += ["", "### Credentials created by the collection", ""]
        if not c["credentials"]:
            lines.append("None known.")
        for cred in c["credentials"]:
            age = f"{cred['age_days']} days old" if cred["age_days"] is not None else "age unknown"
            lines.append(f"- {_md(cred['kind'])} {_md(cred['name'])}: {age}")
        lines.append("")
    return "\n".join(lines)


# -- HTML -------------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#1d232b}
header{background:#1d232b;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1d9}main{padding:16px 24px}
.counts{display:flex;gap:12px;margin:0 0 16px}.count{background:#fff;border-radius:6px;padding:10px 16px;
box-shadow:0 1px 2px rgba(0,0,0,.1)}.count b{font-size:22px;display:block}
section.cluster{background:#fff;border-radius:6px;box-shadow:0 1px 2px rgba(0,0,0,.1);margin:0 0 16px;padding:12px 18px}
h2{margin:4px 0 8px;font-size:18px}h3{font-size:14px;margin:14px 0 6px;color:#444}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#f0f2f5;font-weight:600}.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;
font-weight:600;color:#fff}.healthy,.Synced,.Healthy,.ready{background:#1a7f37}.drifted,.OutOfSync{background:#bf8700}
.failing,.Degraded,.Missing,.notready{background:#cf222e}.pending,.Unknown,.Progressing,.Suspended{background:#6e7781}
ul.reasons{margin:4px 0 8px;padding-left:20px}code{background:#f0f2f5;padding:0 3px;border-radius:3px}
.muted{color:#6e7781}
"""


def _e(value: Any) -> str:
    return html.escape(str(value if value is not None else ""), quote=True)


def _badge(text: str) -> str:
    cls = "notready" if text == "not ready" else text.split()[0] if text else "Unknown"
    return f'<span class="badge {_e(cls)}">{_e(text)}</span>'


def _html_cluster(c: dict) -> str:
    out = [f'<section class="cluster" id="cluster-{_e(c["name"])}" data-status="{_e(c["status"])}">',
           f'<h2>{_e(c["name"])} {_badge(c["status"])}'
           + (f' <span class="muted">{_e(c["environment"])}</span>' if c["environment"] else "") + "</h2>"]
    if c["reasons"]:
        out.append('<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in c["reasons"]) + "</ul>")
    a = c["argocd"]
    out.append(f"<h3>Argo CD</h3><p>Version <b>{_e(a['version'] or 'not installed')}</b>, flavour {_e(a['flavour'] or 'unknown')}, "
               f"components {_e(a['components_ready'])}</p>")
    if a["components"]:
        out.append("<table><tr><th>Component</th><th>Ready</th><th>Replicas</th></tr>" + "".join(
            f"<tr><td>{_e(x['kind'])} {_e(x['name'])}</td><td>{_badge('ready' if x['ready'] else 'not ready')}</td>"
            f"<td>{_e(x['ready_replicas'])}/{_e(x['desired'])}</td></tr>" for x in a["components"]) + "</table>")
    out.append("<h3>Applications</h3>")
    if c["applications"]:
        out.append("<table><tr><th>Application</th><th>Sync</th><th>Health</th><th>Reason</th></tr>" + "".join(
            f'<tr class="app" data-app="{_e(x["name"])}"><td>{_e(x["name"])}'
            + (" <span class=\"muted\">(root)</span>" if x["name"] == c["root_application_name"] else "")
            + f"</td><td>{_badge(x['sync'])}</td><td>{_badge(x['health'])}</td><td>{_e(x['reason'])}</td></tr>"
            for x in c["applications"]) + "</table>")
    else:
        out.append('<p class="muted">No applications.</p>')
    out.append("<h3>Drift in this run</h3>")
    if not c["drift"]["recorded"]:
        out.append('<p class="muted">Not recorded (enable the gitops.bootstrap.drift_report callback).</p>')
    elif not c["drift"]["objects"]:
        out.append("<p>No drift.</p>")
    else:
        out.append("<table><tr><th>Object</th><th>Action</th><th>Fields</th></tr>" + "".join(
            f'<tr class="drift"><td>{_e(o["object"])}</td><td>{_e(o["action"] or "change")}</td><td>'
            + ", ".join(f"<code>{_e(f)}</code>" for f in o["fields"]) + "</td></tr>" for o in c["drift"]["objects"]) + "</table>")
    r = c["rbac"]
    out.append(f'<h3>RBAC</h3><p class="rbac-state">{_e(r["state"])}</p>')
    if r["audited"]:
        out.append("<table>"
                   f"<tr><th>People with write access</th><td>{_e(', '.join(r['people_with_write']) or 'none')}</td></tr>"
                   f"<tr><th>Break-glass groups (intended)</th><td>{_e(', '.join(r['break_glass_with_write']) or 'none')}</td></tr>"
                   f"<tr><th>Findings that need action</th><td>{_e(_sev_text(r['need_action']))}</td></tr>"
                   f"<tr><th>Allowlisted system components</th><td>{_e(_sev_text(r['system_components']))}</td></tr></table>")
        if r["findings"]:
            out.append("<ul>" + "".join(f"<li>{_e(f['severity'])}: {_e(f['subject'])}: {_e(f['title'] or f['risk'])}</li>"
                                        for f in r["findings"]) + "</ul>")
    out.append("<h3>Credentials created by the collection</h3>")
    if c["credentials"]:
        out.append("<table><tr><th>Credential</th><th>Created</th><th>Age</th></tr>" + "".join(
            f"<tr><td>{_e(x['kind'])} {_e(x['name'])}</td><td>{_e(x['created'] or 'unknown')}</td>"
            f"<td>{_e(str(x['age_days']) + ' days' if x['age_days'] is not None else 'unknown')}</td></tr>" for x in c["credentials"])
            + "</table>")
    else:
        out.append('<p class="muted">None known.</p>')
    out.append("</section>")
    return "\n".join(out)


def to_html(report: dict) -> str:
    """One static page: inline CSS, no script, no external asset."""
    fleet = report["fleet"]
    counts = "".join(f'<div class="count {s}-count"><b>{fleet[s]}</b>{s}</div>'
                     for s in ("healthy", "drifted", "failing", "pending") if s != "pending" or fleet.get("pending"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Fleet report {_e(report['generated'])}</title><style>{_CSS}</style></head><body>\n"
            f"<header><h1>Fleet report</h1><p>Generated {_e(report['generated'])}: {_e(fleet_text(fleet))}</p></header>\n"
            f'<main><div class="counts">{counts}</div>\n'
            + "\n".join(_html_cluster(c) for c in report["clusters"]) + "\n</main></body></html>\n")
