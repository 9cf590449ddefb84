# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan engine against real git repositories and the kustomize binary Argo CD uses (no cluster)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _plan, _scaffold

KUSTOMIZE = os.path.join(os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.expanduser("~/.cache/gitops-bootstrap")),
                         "bin", "kustomize-v5.8.1", "kustomize")
pytestmark = pytest.mark.skipif(not os.access(KUSTOMIZE, os.X_OK), reason=f"kustomize not built at {KUSTOMIZE}")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, env=dict(os.environ, **GIT_ENV), check=True,
                          capture_output=True, text=True).stdout.strip()


def write(repo, files):
    for path, text in files.items():
        full = os.path.join(repo, path)
        if text is None:
            os.remove(full)
            continue
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)


def commit(repo, files, message="change"):
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    """Two clusters (dev1 on dev, prod1 on prod) with the apps web and api."""
    path = str(tmp_path / "infra")
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    files = {}
    for cluster, env in (("dev1", "dev"), ("prod1", "prod")):
        files.update(_scaffold.render_files({"cluster": cluster, "cluster_environment": env, "repo_url": "https://git.example/infra.git",
                                             "apps": ["web", "api"], "platform_components": ["namespaces"]}))
    commit(path, files, "scaffold")
    return path


def overlay(repo, app, env):
    with open(os.path.join(repo, f"apps/{app}/overlays/{env}/kustomization.yaml"), encoding="utf-8") as f:
        return f.read()


def plan(repo, base="main", head="HEAD", **kw):
    return _plan.make_plan(repo, base, head, KUSTOMIZE, **kw)[0]


def test_dev_overlay_change_reaches_only_dev_and_names_the_changed_fields(repo):
    git(repo, "checkout", "-q", "-b", "change")
    commit(repo, {"apps/web/overlays/dev/kustomization.yaml": overlay(repo, "web", "dev").replace("count: 1", "count: 3")})
    p = plan(repo)
    assert list(p["clusters"]) == ["dev1"]
    objs = p["clusters"]["dev1"]["objects"]
    assert [(o["action"], o["object"]) for o in objs] == [("change", "Deployment.apps web/web")]
    assert objs[0]["fields"] == [{"field": "spec.replicas", "before": 1, "after": 3}]
    assert p["clusters"]["dev1"]["applications"] == ["web"]
    assert p["has_changes"] and p["status"] == "success"


def test_base_change_reaches_every_cluster_through_the_applications(repo):
    git(repo, "checkout", "-q", "-b", "change")
    with open(os.path.join(repo, "apps/api/base/service.yaml"), encoding="utf-8") as f:
        svc = f.read()
    commit(repo, {"apps/api/base/service.yaml": svc.replace("port: 80", "port: 8080")})
    p = plan(repo)
    assert sorted(p["clusters"]) == ["dev1", "prod1"]
    for entry in p["clusters"].values():
        assert [o["object"] for o in entry["objects"]] == ["Service api/api"]
        assert entry["objects"][0]["fields"] == [{"field": "spec.ports[name=http].port", "before": 80, "after": 8080}]


def test_application_pointing_elsewhere_is_followed_not_the_folder_name(repo):
    git(repo, "checkout", "-q", "-b", "change")
    # prod1's web Application now renders the staging overlay; a change there reaches prod1 only.
    with open(os.path.join(repo, "clusters/prod1/apps/web.yaml"), encoding="utf-8") as f:
        app = f.read()
    base = commit(repo, {"clusters/prod1/apps/web.yaml": app.replace("apps/web/overlays/prod", "apps/web/overlays/staging")})
    commit(repo, {"apps/web/overlays/staging/kustomization.yaml": re.sub(r'newTag: ".*"', 'newTag: "9.9"', overlay(repo, "web", "staging"))})
    p = plan(repo, base=base)
    assert list(p["clusters"]) == ["prod1"]
    assert [o["object"] for o in p["clusters"]["prod1"]["objects"]] == ["Deployment.apps web/web"]


def test_created_and_deleted_objects_and_secret_values_masked(repo):
    git(repo, "checkout", "-q", "-b", "change")
    base_k = overlay(repo, "web", "dev")
    secret = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2-secret\n"
    base = commit(repo, {"apps/web/overlays/dev/secret.yaml": secret,
                         "apps/web/overlays/dev/kustomization.yaml": base_k.replace("  - ../../base\n", "  - ../../base\n  - secret.yaml\n")})
    p = plan(repo, base="main", head=base)
    assert [(o["action"], o["object"]) for o in p["clusters"]["dev1"]["objects"]] == [("create", "Secret web/creds")]
    commit(repo, {"apps/web/overlays/dev/secret.yaml": secret.replace("hunter2-secret", "other-secret")})
    p = plan(repo, base=base)
    fields = p["clusters"]["dev1"]["objects"][0]["fields"]
    assert fields == [{"field": "stringData.password", "before": _plan.MASK, "after": _plan.MASK_CHANGED}]
    text = _plan.markdown(p) + repr(p)
    assert "hunter2" not in text and "other-secret" not in text
    commit(repo, {"apps/web/overlays/dev/secret.yaml": None, "apps/web/overlays/dev/kustomization.yaml": base_k})
    p = plan(repo, base=base)
    assert [(o["action"], o["object"]) for o in p["clusters"]["dev1"]["objects"]] == [("delete", "Secret web/creds")]


def test_nothing_changes(repo):
    git(repo, "checkout", "-q", "-b", "change")
    commit(repo, {"README.md": "other text\n"})
    p = plan(repo)
    assert p["clusters"] == {} and not p["has_changes"] and p["status"] == "success"
    assert "No cluster's desired state changes." in _plan.markdown(p)


def test_broken_manifest_names_the_file(repo):
    git(repo, "checkout", "-q", "-b", "change")
    commit(repo, {"apps/web/base/deployment.yaml": "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: [unclosed\n"})
    p = plan(repo)
    assert p["status"] == "failure"
    files = {e["file"] for e in p["errors"]}
    assert files == {"apps/web/base/deployment.yaml"}, p["errors"]
    assert set(p["clusters"]) == {"dev1", "prod1"}


def test_build_options_of_argocd_cm_are_used(repo):
    cm = os.path.join(repo, "clusters/dev1/argocd/argocd-cm.yaml")
    with open(cm, encoding="utf-8") as f:
        text = f.read()
    write(repo, {"clusters/dev1/argocd/argocd-cm.yaml": text + "  kustomize.buildOptions: --load-restrictor LoadRestrictionsNone\n"})
    assert _plan.build_options(repo, "dev1") == ["--load-restrictor", "LoadRestrictionsNone"]
    assert _plan.build_options(repo, "prod1") == []


@pytest.mark.parametrize("what, kw, message", [
    ("base", {"base": "no-such-branch"}, "base revision 'no-such-branch' does not exist"),
    ("head", {"head": "0123456789abcdef0123456789abcdef01234567"}, "head revision '0123456789abcdef0123456789abcdef01234567' does not exist"),
    ("option", {"base": "--output=/tmp/x"}, "must be a branch, tag or commit SHA"),
    ("cluster", {"clusters": ["nope"]}, "unknown cluster(s) 'nope': the repository has dev1, prod1"),
])
def test_bad_input(repo, what, kw, message):
    with pytest.raises(_plan.PlanError) as err:
        plan(repo, **kw)
    assert message in str(err.value), what


def test_not_a_repository(tmp_path):
    with pytest.raises(_plan.PlanError, match="is not a git repository"):
        plan(str(tmp_path))
    with pytest.raises(_plan.PlanError, match="does not exist"):
        plan(str(tmp_path / "missing"))


def test_field_changes_of_named_lists():
    before = {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}]}}
    after = {"spec": {"containers": [{"name": "a", "image": "x:2"}, {"name": "b", "image": "y"}], "new": True}}
    assert _plan.field_changes(before, after) == [
        {"field": "spec.containers[name=a].image", "before": "x:1", "after": "x:2"},
        {"field": "spec.new", "before": None, "after": True},
    ]
