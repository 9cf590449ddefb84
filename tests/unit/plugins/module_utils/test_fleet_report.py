# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report engine: model, words, Markdown and HTML, on edge cases a cluster does not easily give."""

from __future__ import annotations

import datetime
import html.parser
import json

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _fleet_report as fr

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
TOKEN = "ghp_s3cr3tTOKENvalue0123"


def argocd(apps=(), ready=True):
    return {"installed": True, "version": "v3.5.1", "ready": ready,
            "components": [{"kind": "Deployment", "name": "argocd-server", "ready": ready, "ready_replicas": 1 if ready else 0, "desired": 1},
                           {"kind": "StatefulSet", "name": "argocd-application-controller", "ready": True, "ready_replicas": 1, "desired": 1}],
            "applications": list(apps)}


def app(name, sync="Synced", health="Healthy", reason="Synced and Healthy"):
    return {"name": name, "project": "default", "sync": sync, "health": health, "reason": reason}


def audit(people=(), findings=()):
    return {"summary": {"people_with_write": list(people)}, "findings": list(findings)}


def finding(subject, severity, kind=None, risk="cluster_admin"):
    kind = kind or subject.split(":", 1)[0]
    name = subject.split(":", 1)[1].split("/")[-1]
    return {"subject": subject, "kind": kind, "name": name, "severity": severity, "risk": risk, "scope": "cluster", "title": risk}


def healthy(name="dev", **kw):
    entry = {"name": name, "argocd": argocd([app("root"), app("guestbook")]), "flavour": "cluster",
             "rbac": audit(["Group:platform-oncall"]), "break_glass_groups": ["platform-oncall"], "drift": []}
    entry.update(kw)
    return entry


def test_healthy_cluster_reads_healthy_and_locked_down():
    report = fr.build_report([healthy()], now=NOW)
    cluster = report["clusters"][0]
    assert cluster["status"] == "healthy" and cluster["reasons"] == []
    assert cluster["rbac"]["state"] == fr.LOCKED_DOWN
    assert cluster["rbac"]["break_glass_with_write"] == ["Group:platform-oncall"]
    assert cluster["rbac"]["people_with_write"] == []
    assert report["fleet"] == {"clusters": 1, "healthy": 1, "drifted": 0, "failing": 0, "pending": 0}


def test_system_components_are_counted_apart_from_findings_that_need_action():
    findings = [finding("ServiceAccount:argocd/argocd-application-controller", "critical"),
                finding("ServiceAccount:kube-system/replicaset-controller", "high"),
                finding("Group:system:masters", "critical"),
                finding("Group:platform-oncall", "critical"),
                finding("ServiceAccount:tools/deployer", "high"),
                finding("User:alice", "medium", risk="pod_exec")]
    entry = healthy(rbac=audit(["Group:platform-oncall", "User:alice"], findings))
    cluster = fr.build_report([entry], now=NOW)["clusters"][0]
    rbac = cluster["rbac"]
    assert rbac["system_components"] == {"critical": 2, "high": 1, "medium": 0, "low": 0}
    assert rbac["break_glass"]["critical"] == 1
    assert rbac["need_action"] == {"critical": 0, "high": 1, "medium": 1, "low": 0}
    assert [f["subject"] for f in rbac["findings"]] == ["ServiceAccount:tools/deployer", "User:alice"]
    assert rbac["state"] == fr.PEOPLE_CAN_WRITE and rbac["people_with_write"] == ["User:alice"]
    line = fr.console_line(cluster)
    assert line["rbac"].startswith("people can write (User:alice)")
    assert "allowlisted system components: 3" in line["rbac"]
    assert line["rbac_findings"] == {"critical": 0, "high": 1, "medium": 1, "low": 0}
    assert cluster["status"] == "drifted"


def test_allow_subjects_are_system_components():
    entry = healthy(rbac=audit([], [finding("ServiceAccount:tools/deployer", "high")]), allow_subjects=["ServiceAccount:tools/deployer"])
    rbac = fr.build_report([entry], now=NOW)["clusters"][0]["rbac"]
    assert rbac["need_action_total"] == 0 and rbac["system_components_total"] == 1


def test_degraded_and_out_of_sync_applications_come_first_with_their_reason():
    apps = [app("aaa"), app("root"), app("web", sync="OutOfSync", reason="sync status is OutOfSync: Deployment web"),
            app("db", health="Degraded", reason="health is Degraded: Deployment db: pods not ready")]
    cluster = fr.build_report([healthy(argocd=argocd(apps))], now=NOW)["clusters"][0]
    assert [a["name"] for a in cluster["applications"]] == ["db", "web", "aaa", "root"]
    assert cluster["applications"][0]["reason"].startswith("health is Degraded")
    assert cluster["applications"][2]["reason"] is None
    assert cluster["status"] == "failing"
    assert "application db is Degraded: health is Degraded: Deployment db: pods not ready" in cluster["reasons"]


def test_worst_cluster_first_and_fleet_counts():
    drifted = healthy("b-drifted", drift=[{"object": "ConfigMap argocd/argocd-cm", "action": "update", "fields": ["data.x"], "task": "t"}])
    failing = {"name": "c-down", "error": "could not be reached: connection refused"}
    pending = healthy("d-pending", argocd=argocd([app("root", "Unknown", "Unknown")]))
    report = fr.build_report([healthy("a-ok"), drifted, failing, pending], now=NOW)
    assert [c["name"] for c in report["clusters"]] == ["c-down", "b-drifted", "d-pending", "a-ok"]
    assert report["fleet"] == {"clusters": 4, "healthy": 1, "drifted": 1, "failing": 1, "pending": 1}
    down = report["clusters"][0]
    assert down["status"] == "failing" and down["reasons"] == ["could not be reached: connection refused"]
    assert report["clusters"][1]["drift"]["objects"][0]["fields"] == ["data.x"]
    assert fr.fleet_text(report["fleet"]) == "4 clusters, 1 healthy, 1 drifted, 1 failing, 1 pending"


def test_not_installed_and_unready_argocd_are_failing():
    report = fr.build_report([healthy("x", argocd={"installed": False, "components": [], "ready": False}),
                              healthy("y", argocd=argocd([app("root")], ready=False))], now=NOW)
    by_name = {c["name"]: c for c in report["clusters"]}
    assert by_name["x"]["reasons"] == ["Argo CD is not installed"]
    assert by_name["y"]["reasons"] == ["Argo CD components not ready: argocd-server"]
    assert by_name["y"]["argocd"]["components_ready"] == "1/2 ready"


def test_drift_not_recorded_is_said():
    cluster = fr.build_report([healthy(drift=None)], now=NOW)["clusters"][0]
    assert cluster["drift"] == {"recorded": False, "objects": []}
    assert "Not recorded" in fr.to_markdown(fr.build_report([healthy(drift=None)], now=NOW))


def test_secrets_are_masked_in_every_text():
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
    apps = [app("web", sync="OutOfSync", reason=f"rpc error: https://argocd:{TOKEN}@git.example.invalid/x.git: {key}")]
    entry = healthy(argocd=argocd(apps), error=None, environment=f"dev {TOKEN}")
    report = fr.build_report([entry], now=NOW, secrets=[TOKEN])
    for text in (json.dumps(report), fr.to_markdown(report), fr.to_html(report)):
        assert TOKEN not in text
        assert "b3BlbnNzaC1rZXktdjEAAAAA" not in text
        assert "BEGIN OPENSSH" not in text
    assert "https://********@git.example.invalid/x.git" in report["clusters"][0]["applications"][0]["reason"]


def test_credentials_age():
    entry = healthy(credentials=[{"kind": "spoke token", "name": "argocd-manager", "created": "2026-11-01T12:00:00Z"},
                                 {"kind": "deploy key", "name": "k", "created": NOW.timestamp() - 86400 * 2},
                                 {"kind": "deploy key", "name": "bad", "created": "yesterday"}])
    creds = fr.build_report([entry], now=NOW)["clusters"][0]["credentials"]
    assert [c["age_days"] for c in creds] == [30.0, 2.0, None]


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_static_escaped_and_self_contained():
    apps = [app("<script>alert(1)</script>", sync="OutOfSync", reason="<b>x</b>")]
    report = fr.build_report([healthy(argocd=argocd(apps)), {"name": "down", "error": "refused & gone"}], now=NOW)
    page = fr.to_html(report)
    parsed = _Collector()
    parsed.feed(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert not [v for k, v in parsed.attrs if k in ("src", "href")]
    assert "<script>alert(1)</script>" in "".join(parsed.text)
    assert 'data-status="failing"' in page and "refused &amp; gone" in page


def test_bad_input_is_refused_with_what_to_do():
    with pytest.raises(fr.FleetReportError, match="named more than once: dev"):
        fr.build_report([healthy(), healthy()], now=NOW)
    with pytest.raises(fr.FleetReportError, match="needs a name"):
        fr.build_report([{"argocd": {}}], now=NOW)


def test_failed_results_make_the_cluster_failing_with_their_message():
    report = fr.build_report([healthy(argocd={"failed": True, "msg": "the cluster could not be reached: Connection refused"})], now=NOW)
    cluster = report["clusters"][0]
    assert cluster["status"] == "failing" and cluster["error"] == "the cluster could not be reached: Connection refused"
