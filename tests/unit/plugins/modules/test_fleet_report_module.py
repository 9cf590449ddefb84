# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_report's files: what it writes, where, and what it refuses."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._fleet_report import FleetReportError
from ansible_collections.gitops.bootstrap.plugins.modules import fleet_report


def params(**kw):
    out = {"path": None, "formats": ["html", "json", "markdown"], "clusters": [], "unfinished": [], "drift_report": None,
           "mask_values": [], "run": {}}
    out.update(kw)
    return out


def test_writes_three_files_with_drift_from_the_callback_and_unfinished_clusters(tmp_path):
    drift = tmp_path / "drift.json"
    drift.write_text(json.dumps({"clusters": {
        "dev": {"drifted": True, "changes": [{"object": "ConfigMap argocd/argocd-cm", "action": "update", "fields": ["data.x"], "task": "t"}]},
        "down": {"drifted": False, "changes": []}}}))
    key = tmp_path / "key"
    key.write_text("not read")
    base = tmp_path / "new" / "dir" / "fleet"
    out = fleet_report.run(params(
        path=str(base), drift_report=str(drift),
        clusters=[{"name": "dev", "argocd": {"installed": True, "ready": True, "components": [], "applications": []},
                   "credentials": [{"kind": "deploy key", "path": str(key)}, {"kind": "deploy key", "path": str(tmp_path / "gone")}]}],
        unfinished=[{"gitops_failed_host": "down", "failed": True, "msg": "connection refused"}]))
    assert out["changed"] is False
    assert sorted(os.path.basename(p) for p in out["written"]) == ["fleet.html", "fleet.json", "fleet.md"]
    data = json.loads((base.parent / "fleet.json").read_text())
    by_name = {c["name"]: c for c in data["clusters"]}
    assert by_name["dev"]["drift"]["objects"][0]["fields"] == ["data.x"]
    assert by_name["down"]["status"] == "failing" and "connection refused" in by_name["down"]["error"]
    assert by_name["down"]["drift"] == {"recorded": True, "objects": []}
    assert [c["name"] for c in by_name["dev"]["credentials"]] == [str(key)]
    # dev has no root application: failing too; clusters of one status come by name.
    assert [(s["cluster"], s["status"]) for s in out["summary"]] == [("dev", "failing"), ("down", "failing")]
    assert out["fleet"]["text"] == "2 clusters, 0 healthy, 0 drifted, 2 failing"


def test_no_path_writes_nothing_and_missing_drift_file_is_not_recorded(tmp_path):
    out = fleet_report.run(params(clusters=[{"name": "dev"}], drift_report=str(tmp_path / "absent.json")))
    assert out["written"] == [] and list(tmp_path.iterdir()) == []
    assert out["report"]["clusters"][0]["drift"]["recorded"] is False


@pytest.mark.parametrize("path, message", [(" ", "path is empty"), ("DIR", "is a directory")])
def test_bad_paths_are_refused_before_anything_is_written(tmp_path, path, message):
    path = str(tmp_path) if path == "DIR" else path
    with pytest.raises(FleetReportError, match=message):
        fleet_report.run(params(path=path, clusters=[{"name": "dev"}]))
    assert list(tmp_path.iterdir()) == []


def test_a_drift_file_that_is_not_the_callbacks_is_refused(tmp_path):
    bad = tmp_path / "drift.json"
    bad.write_text('{"something": 1}')
    with pytest.raises(FleetReportError, match="not a report of the gitops.bootstrap.drift_report callback"):
        fleet_report.run(params(clusters=[{"name": "dev"}], drift_report=str(bad)))


def test_unfinished_entry_needs_a_name():
    with pytest.raises(FleetReportError, match="needs the cluster's name"):
        fleet_report.run(params(unfinished=[{"failed": True}]))


def test_every_cluster_failing_still_writes_three_files_with_each_error(tmp_path):
    base = tmp_path / "fleet"
    created = "2026-01-02T03:04:05Z"
    out = fleet_report.run(params(path=str(base), clusters=[
        {"name": name, "error": f"the run did not finish on this cluster: task 'x' failed: {name} refused", "argocd": {}, "rbac": None,
         "credentials": [{"kind": "spoke token", "name": "Secret argocd-spoke/argocd-spoke-token", "created": created}]}
        for name in ("b-prod", "a-dev")]))
    assert len(out["written"]) == 3
    data = json.loads((tmp_path / "fleet.json").read_text())
    assert data["fleet"] == {"clusters": 2, "healthy": 0, "drifted": 0, "failing": 2, "pending": 0}
    for cluster in data["clusters"]:
        # the failed task's error is the one reason: no "Argo CD is not installed" read from a cluster not read
        assert cluster["status"] == "failing" and cluster["reasons"] == [cluster["error"]]
        assert f"{cluster['name']} refused" in cluster["error"]
        assert cluster["rbac"]["audited"] is False
        assert cluster["credentials"][0]["created"] == created and cluster["credentials"][0]["age_days"] > 0
    assert [s["cluster"] for s in out["summary"]] == ["a-dev", "b-prod"]
    assert out["fleet"]["text"] == "2 clusters, 0 healthy, 0 drifted, 2 failing"
    for ext in ("md", "html"):
        text = (tmp_path / f"fleet.{ext}").read_text()
        assert "a-dev refused" in text and "b-prod refused" in text
