# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.gitops.bootstrap.plugins.callback import drift_report


def test_secret_values_are_masked_at_any_depth():
    diff = {"items": [{"kind": "Secret", "data": {"password": "c2VjcmV0"}, "metadata": {"name": "repo"}}]}
    masked = drift_report._mask(diff)
    assert masked["items"][0]["data"] == {"password": drift_report.MASK}
    assert "c2VjcmV0" not in json.dumps(masked)


def test_non_secret_data_is_kept():
    cm = {"kind": "ConfigMap", "data": {"url": "https://argocd.example"}}
    assert drift_report._mask(cm) == cm


def test_changed_fields_lists_dotted_paths():
    before = {"spec": {"replicas": 0, "template": {"a": 1}}, "data": {"k": "v"}}
    after = {"spec": {"replicas": 1, "template": {"a": 1}}, "data": {"k": "v", "n": "x"}}
    assert drift_report._changed_fields(before, after) == ["data.n", "spec.replicas"]


def test_object_name_is_taken_from_the_result():
    res = {"result": {"kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"}}}
    assert drift_report._object_of(res) == "ConfigMap argocd/argocd-cm"
    assert drift_report._object_of({"path": "clusters/dev/README.md"}) == "file clusters/dev/README.md"
    assert drift_report._object_of({}) is None


def test_report_is_written_with_drift_per_host(tmp_path):
    cb = drift_report.CallbackModule()
    cb.path = str(tmp_path / "report")
    cb.hosts.update(["dev", "prod"])
    cb.drift["dev"] = [cb._entry("Argo CD config", {"diff": {"before": {"data": {"a": "1"}}, "after": {"data": {"a": "2"}}}})]
    cb._write()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["clusters"]["dev"]["drifted"] is True
    assert report["clusters"]["dev"]["changes"][0]["fields"] == ["data.a"]
    assert report["clusters"]["prod"] == {"drifted": False, "changes": []}
    md = (tmp_path / "report.md").read_text()
    assert "## dev: drift found" in md and "## prod: no drift" in md


def test_status_objects_fall_back_to_the_item_label():
    res = {"result": {"kind": "Status", "status": "Success"}, "_ansible_item_label": "delete ClusterRoleBinding mallory-admin"}
    assert drift_report._object_of(res) == "delete ClusterRoleBinding mallory-admin"
    assert drift_report._object_of({"item": {"name": "platform"}}) == "platform"


class _Host(object):
    def get_name(self):
        return "dev"


class _Task(object):
    no_log = False

    def get_name(self):
        return "Objects exist"


class _Result(object):
    def __init__(self, res):
        self._host, self._task, self._result = _Host(), _Task(), res


def test_multi_object_results_are_split_and_bookkeeping_only_changes_ignored(tmp_path):
    cb = drift_report.CallbackModule()
    cb.path = str(tmp_path / "r")
    ns_meta_only = {"changed": True, "result": {"kind": "Namespace", "metadata": {"name": "a"}},
                    "diff": {"before": {"metadata": {"managedFields": [1]}}, "after": {"metadata": {"managedFields": [1, 2]}}}}
    role_changed = {"changed": True, "result": {"kind": "ClusterRole", "metadata": {"name": "ro"}},
                    "diff": {"before": {"rules": [1]}, "after": {"rules": [2]}}}
    unchanged = {"changed": False, "result": {"kind": "ClusterRole", "metadata": {"name": "x"}}, "diff": {}}
    cb.v2_runner_on_ok(_Result({"changed": True, "result": {"results": [ns_meta_only, role_changed, unchanged]}}))
    assert [e["object"] for e in cb.drift["dev"]] == ["ClusterRole ro"]
    assert cb.drift["dev"][0]["fields"] == ["rules"]


def test_deletions_are_named_from_their_status():
    res = {"result": {"kind": "Status", "status": "Success", "details": {"kind": "clusterrolebindings", "name": "mallory-admin"}}}
    assert drift_report._object_of(res) == "clusterrolebindings mallory-admin (deleted)"
