# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ownership rules of infra_repo's plan on a work tree (edge cases; the git paths are
covered by tests/integration/test_infra_repo.py against real servers)."""

from __future__ import absolute_import, division, print_function

import os
import subprocess

from ansible_collections.gitops.bootstrap.plugins.module_utils import _git as G
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold as S
from ansible_collections.gitops.bootstrap.plugins.modules import infra_repo


class FakeModule(object):
    check_mode = False
    _diff = True

    def __init__(self, **params):
        self.params = {"repo": "file:///x.git", "review_branch": None, "branch": "main", "force": False,
                       "restore_removed": False}
        self.params.update(params)


def _commit_tree(tmp_path):
    """Commit what the test wrote under tmp_path/repo (the plan reads committed content only)."""
    root = os.path.join(str(tmp_path), "repo")
    os.makedirs(root, exist_ok=True)
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    if not os.path.isdir(os.path.join(root, ".git")):
        subprocess.run(["git", "init", "-q", "-b", "main", root], check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "state"], cwd=root, check=True, env=env)
    return root


def planner(tmp_path, **params):
    repo = infra_repo.InfraRepo(FakeModule(**params))
    root = _commit_tree(tmp_path)
    repo.workdir = root
    repo.git = G.Git(None, root, G.GitAuth(str(tmp_path)))
    repo.read_ref = "HEAD"
    repo.fs_check = True
    return repo


def write(tmp_path, path, content):
    full = os.path.join(str(tmp_path), "repo", path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(content)


def test_plan_on_empty_tree_creates_everything_and_the_record(tmp_path):
    repo = planner(tmp_path)
    writes = repo.plan({"a.yaml": "a\n", "b/c.yaml": "c\n"})
    assert sorted(writes) == [".gitops/managed.yaml", "a.yaml", "b/c.yaml"]
    assert S.parse_managed(writes[".gitops/managed.yaml"][1]) == {"a.yaml": S.sha256("a\n"), "b/c.yaml": S.sha256("c\n")}


def test_plan_updates_unedited_keeps_edited_and_keeps_other_clusters_records(tmp_path):
    write(tmp_path, "gen.yaml", "old\n")
    write(tmp_path, "edited.yaml", "mine\n")
    write(tmp_path, ".gitops/managed.yaml", S.dump_managed({
        "gen.yaml": S.sha256("old\n"), "edited.yaml": S.sha256("old\n"), "clusters/other/x.yaml": S.sha256("x")}))
    repo = planner(tmp_path)
    writes = repo.plan({"gen.yaml": "new\n", "edited.yaml": "new\n"})
    assert repo.result["updated"] == ["gen.yaml", ".gitops/managed.yaml"]
    assert repo.result["conflicts"] == ["edited.yaml"]
    record = S.parse_managed(writes[".gitops/managed.yaml"][1])
    assert record["gen.yaml"] == S.sha256("new\n")
    assert record["edited.yaml"] == S.sha256("old\n")  # still ours-as-written: stays a conflict until forced
    assert record["clusters/other/x.yaml"] == S.sha256("x")


def test_plan_force_overwrites_edited_and_unrecorded_files(tmp_path):
    write(tmp_path, "README.md", "theirs\n")
    repo = planner(tmp_path, force=True)
    writes = repo.plan({"README.md": "ours\n"})
    assert repo.result["forced"] == ["README.md"] and writes["README.md"] == ("theirs\n", "ours\n")


def test_plan_adopts_identical_file_without_writing_it(tmp_path):
    write(tmp_path, "same.yaml", "same\n")
    repo = planner(tmp_path)
    writes = repo.plan({"same.yaml": "same\n"})
    assert "same.yaml" not in writes and repo.result["unchanged"] == 1
    assert S.parse_managed(writes[".gitops/managed.yaml"][1]) == {"same.yaml": S.sha256("same\n")}


def test_plan_with_nothing_to_do_writes_nothing(tmp_path):
    write(tmp_path, "a.yaml", "a\n")
    write(tmp_path, ".gitops/managed.yaml", S.dump_managed({"a.yaml": S.sha256("a\n")}))
    assert planner(tmp_path).plan({"a.yaml": "a\n"}) == {}
