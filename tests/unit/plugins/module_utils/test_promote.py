# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The promotion engine (_promote.py) on a real git repository of a scaffolded layout; no cluster, no forge."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from ansible_collections.gitops.bootstrap.plugins.module_utils import _promote as P
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold

ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
       "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    files = {}
    for cluster, env in (("dev", "dev"), ("staging", "staging")):
        files.update(_scaffold.render_files({"cluster": cluster, "cluster_environment": env, "repo_url": "https://x/infra.git",
                                             "apps": [{"name": "web", "tag": "1.25"}], "pipeline": "gitea"}))
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "scaffold")
    return tmp_path


def set_dev_tag(repo, tag):
    path = repo / "apps/web/overlays/dev/kustomization.yaml"
    path.write_text(path.read_text().replace('newTag: "1.25"', f'newTag: "{tag}"'))
    git(repo, "commit", "-q", "-am", f"dev runs {tag}")
    return git(repo, "rev-parse", "HEAD")


def test_layout_reads_the_promotion_order_clusters_and_applications(repo):
    layout = P.Layout(P.Repo(str(repo)), "HEAD")
    assert layout.environments == ["dev", "staging", "prod"]
    assert layout.clusters == {"dev": "dev", "staging": "staging"}
    assert layout.next_environment("dev") == "staging"
    assert layout.applications("dev", "apps/web/overlays/dev") == [("web", "argocd")]
    assert layout.applications("staging", "apps/web/overlays/dev") == []


@pytest.mark.parametrize("call, expect", [
    (lambda l: l.next_environment("prod"), "prod is the last environment of the promotion order (dev -> staging -> prod)"),
    (lambda l: l.next_environment("qa"), "unknown source environment 'qa': the promotion order of .gitops/validate.yaml is dev -> staging -> prod"),
    (lambda l: l.check_application("shop"), "unknown application 'shop': the repository has web under apps/"),
    (lambda l: l.check_application(""), "application is empty"),
])
def test_bad_input_is_named(repo, call, expect):
    layout = P.Layout(P.Repo(str(repo)), "HEAD")
    with pytest.raises(P.PromoteError) as err:
        call(layout)
    assert expect in str(err.value)


def test_pins_are_carried_and_the_targets_own_keys_kept():
    source = {"namespace": "web", "images": [{"name": "app", "newName": "nginx", "newTag": "1.27"}],
              "helmCharts": [{"name": "redis", "version": "19.0.1", "valuesInline": {"replicas": 1}}],
              "replicas": [{"name": "web", "count": 1}]}
    target = {"namespace": "web-staging", "images": [{"name": "app", "newName": "nginx", "newTag": "1.25"},
                                                     {"name": "sidecar", "newTag": "2"}],
              "helmCharts": [{"name": "redis", "version": "18.0.0", "releaseName": "cache"}],
              "replicas": [{"name": "web", "count": 2}]}
    out = P.carry_pins(source, target, "s", "t")
    assert out["images"] == [{"name": "app", "newName": "nginx", "newTag": "1.27"}, {"name": "sidecar", "newTag": "2"}]
    assert out["helmCharts"] == [{"name": "redis", "version": "19.0.1", "valuesInline": {"replicas": 1}}]
    assert out["namespace"] == "web-staging" and out["replicas"] == [{"name": "web", "count": 2}]
    assert target["images"][0]["newTag"] == "1.25", "the target's own data is not modified in place"
    diffs = P.overlay_differences(source, target, "s", "t")
    assert [(d["key"], d["pin"]) for d in diffs] == [
        ("images[app].newTag", True), ("images[sidecar].newTag", True), ("helmCharts[redis].releaseName", True),
        ("helmCharts[redis].valuesInline", True), ("helmCharts[redis].version", True), ("namespace", False), ("replicas", False)]
    assert P.overlay_differences(out, out, "t", "t") == []


def test_a_pin_list_that_is_not_a_list_of_named_entries_is_refused():
    with pytest.raises(P.PromoteError, match="every entry of 'images' needs a name"):
        P.pins({"images": [{"newTag": "1"}]}, "apps/web/overlays/dev/kustomization.yaml")
    with pytest.raises(P.PromoteError, match="'helmCharts' must be a list"):
        P.pins({"helmCharts": {"name": "x"}}, "k")


def app_status(sync="Synced", health="Healthy", revision="a" * 40, resources=(), conditions=()):
    return {"metadata": {"name": "web", "namespace": "argocd", "generation": 1},
            "spec": {"source": {"path": "apps/web/overlays/dev"}},
            "status": {"sync": {"status": sync, "revision": revision}, "health": {"status": health},
                       "resources": list(resources), "conditions": list(conditions),
                       "reconciledAt": "2026-01-01T00:00:00Z", "observedAt": "2026-01-01T00:00:00Z"}}


def test_application_problem_gives_the_applications_own_reason():
    def never(*_a):
        raise AssertionError("not asked")

    degraded = app_status(health="Degraded", resources=[{"kind": "Deployment", "group": "apps", "namespace": "web", "name": "web",
                                                         "status": "Synced", "health": {"status": "Degraded",
                                                                                        "message": "exceeded its progress deadline"}}])
    text = P.application_problem(degraded, "argocd/web (cluster dev)", "b" * 40, never, never)
    assert "is Synced and Degraded" in text and "exceeded its progress deadline" in text
    out_of_sync = app_status(sync="OutOfSync", resources=[{"kind": "ConfigMap", "namespace": "web", "name": "c", "status": "OutOfSync"}])
    assert "OutOfSync" in P.application_problem(out_of_sync, "w", None, never, never)
    assert "does not exist" in P.application_problem(None, "argocd/web (cluster dev)", None, never, never)
    healthy = app_status()
    assert P.application_problem(healthy, "w", "b" * 40, lambda rev, change: True, lambda sha: True) is None
    assert "does not contain the change being promoted (bbbbbbbbbbbb" in P.application_problem(
        healthy, "w", "b" * 40, lambda rev, change: False, lambda sha: True)
    assert "a commit this checkout does not have" in P.application_problem(healthy, "w", "b" * 40, never, lambda sha: False)


def test_commit_file_is_a_commit_on_the_revision_and_the_same_each_time(repo):
    head = git(repo, "rev-parse", "HEAD")
    r = P.Repo(str(repo))
    path = "apps/web/overlays/staging/kustomization.yaml"
    one = P.commit_file(r, head, path, "---\nnamespace: x\n", "promote", ("a", "a@a"))
    two = P.commit_file(r, head, path, "---\nnamespace: x\n", "promote", ("a", "a@a"))
    assert one == two and one != head
    assert git(repo, "rev-parse", f"{one}^") == head
    assert git(repo, "diff", "--name-only", head, one) == path
    assert yaml.safe_load(git(repo, "show", f"{one}:{path}")) == {"namespace": "x"}
    # Nothing of the checkout moved: its branch and working tree are as they were.
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""


def test_last_change_and_contains_follow_the_history(repo):
    before = git(repo, "rev-parse", "HEAD")
    change = set_dev_tag(repo, "1.27")
    r = P.Repo(str(repo))
    assert r.last_change("HEAD", "apps/web/overlays/dev") == change
    assert r.contains(change, change) and not r.contains(before, change) and r.has_commit(before)
    assert not r.has_commit("0" * 40)


def test_the_reason_is_completed_by_the_resources_conditions_when_argocd_keeps_no_resource_health():
    app = app_status(health="Degraded", resources=[{"kind": "Deployment", "group": "apps", "version": "v1", "namespace": "web",
                                                    "name": "web", "status": "Synced"},
                                                   {"kind": "Service", "version": "v1", "namespace": "web", "name": "web"}])
    assert [r["kind"] for r in P.unhealthy_without_message(app)] == ["Deployment"]
    deployment = {"kind": "Deployment", "metadata": {"namespace": "web", "name": "web"},
                  "status": {"conditions": [{"type": "Available", "status": "True"},
                                            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                             "message": 'ReplicaSet "web-1" has timed out progressing.'}]}}
    details = P.failing_conditions(deployment)
    assert details == ['Deployment web/web: Progressing is False (ProgressDeadlineExceeded): ReplicaSet "web-1" has timed out progressing.']
    text = P.application_problem(app, "argocd/web (cluster dev)", None, None, None, details)
    assert text.endswith("its resources say: " + details[0])
    # A healthy application, or one whose status carries the resources' health messages, needs no reading.
    assert P.unhealthy_without_message(app_status()) == []


def test_the_promoted_overlay_differs_from_the_scaffolds_only_in_its_pins(repo):
    """The target file is written as the scaffold writes it, so the pull request's diff is the pin lines."""
    r = P.Repo(str(repo))
    layout = P.Layout(r, "HEAD")
    src_path, src = layout.overlay("web", "dev")
    tgt_path, tgt = layout.overlay("web", "staging")
    src["images"][0]["newTag"] = "1.27"
    before = r.read("HEAD", tgt_path)
    after = P.dump_kustomization(P.carry_pins(src, tgt, src_path, tgt_path))
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines())
    assert changed == [('    newTag: "1.25"', '    newTag: "1.27"')], changed
