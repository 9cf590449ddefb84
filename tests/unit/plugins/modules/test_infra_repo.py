# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ownership rules of infra_repo's plan on a work tree (edge cases; the git paths are
covered by tests/integration/test_infra_repo.py against real servers)."""


import os
import subprocess

import pytest

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


def commit_record(tmp_path, files):
    write(tmp_path, ".gitops/managed.yaml", S.dump_managed(files))


def test_plan_leaves_a_removed_file_alone_and_keeps_its_line(tmp_path):
    commit_record(tmp_path, {"gone.yaml": S.sha256("g\n"), "a.yaml": S.sha256("a\n")})
    write(tmp_path, "a.yaml", "a\n")
    repo = planner(tmp_path)
    assert repo.plan({"gone.yaml": "g2\n", "a.yaml": "a\n"}) == {}
    assert repo.result["removed_by_user"] == ["gone.yaml"] and repo.result["created"] == []


def test_plan_restores_a_removed_file_only_when_asked(tmp_path):
    commit_record(tmp_path, {"gone.yaml": S.sha256("g\n")})
    repo = planner(tmp_path, restore_removed=True)
    writes = repo.plan({"gone.yaml": "g2\n"})
    assert writes["gone.yaml"] == (None, "g2\n")
    assert repo.result["restored"] == ["gone.yaml"] and repo.result["removed_by_user"] == []
    assert S.parse_managed(writes[".gitops/managed.yaml"][1]) == {"gone.yaml": S.sha256("g2\n")}


def test_plan_never_records_again_a_file_whose_line_the_user_removed(tmp_path):
    commit_record(tmp_path, {"mine.yaml": S.sha256("m\n"), "gone.yaml": S.sha256("g\n")})
    write(tmp_path, "mine.yaml", "m\n")
    _commit_tree(tmp_path)
    # The user removes both lines; mine.yaml stays unchanged, gone.yaml was never written.
    commit_record(tmp_path, {})
    repo = planner(tmp_path, force=True)
    assert repo.plan({"mine.yaml": "m\n", "gone.yaml": "g\n"}) == {}
    assert repo.result["taken_over"] == ["gone.yaml", "mine.yaml"]
    assert repo.stale_taken_over == []
    repo = planner(tmp_path, force=True)
    assert repo.plan({"mine.yaml": "m2\n", "gone.yaml": "g\n"}) == {}
    assert repo.stale_taken_over == ["mine.yaml"], "a changed generator output for a taken-over file is warned about"


def test_plan_hands_a_taken_over_file_back_as_a_conflict_when_it_differs(tmp_path):
    commit_record(tmp_path, {"mine.yaml": S.sha256("m\n")})
    write(tmp_path, "mine.yaml", "m\n")
    _commit_tree(tmp_path)
    commit_record(tmp_path, {})
    write(tmp_path, "mine.yaml", "edited\n")
    repo = planner(tmp_path, restore_removed=True)
    assert repo.plan({"mine.yaml": "m\n"}) == {}
    assert repo.result["conflicts"] == ["mine.yaml"] and repo.result["restored"] == []
    assert repo.conflict_diffs["mine.yaml"] == ("edited\n", "m\n")


def test_plan_reads_committed_content_not_the_work_tree(tmp_path):
    write(tmp_path, "a.yaml", "a\n")
    commit_record(tmp_path, {"a.yaml": S.sha256("a\n")})
    repo = planner(tmp_path)
    # What a checkout with core.autocrlf=true leaves in the work tree does not count.
    with open(os.path.join(repo.workdir, "a.yaml"), "w") as f:
        f.write("a\r\n")
    assert repo.plan({"a.yaml": "a\n"}) == {} and repo.result["conflicts"] == []


# ---------------------------------------------------------------------------- paths outside the work tree
@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../x", "a//b", "./a", ".git/config", "a/.GIT/x", "a\\b", ""])
def test_paths_that_are_not_plain_relative_paths_are_refused(path):
    with pytest.raises(S.UnsafePath):
        S.check_relative(path)


def test_tree_problem_looks_at_every_component():
    tree = {"clusters/c1/projects": ("120000", "x"), "README.md": ("120000", "y"), "vendor": ("160000", "z"),
            "a/file": ("100644", "w"), "ok/file.yaml": ("100644", "v")}
    dirs = {"clusters", "clusters/c1", "a", "ok"}
    assert S.tree_problem("clusters/c1/projects/apps.yaml", tree, dirs)[0] == "clusters/c1/projects"
    assert "symbolic link" in S.tree_problem("README.md", tree, dirs)[1]
    assert "submodule" in S.tree_problem("vendor/x.yaml", tree, dirs)[1]
    assert S.tree_problem("a/file/x.yaml", tree, dirs) == ("a/file", "is a file in the repository where the generated files need a directory")
    assert "directory" in S.tree_problem("ok", tree, dirs)[1]
    assert S.tree_problem("ok/file.yaml", tree, dirs) is None and S.tree_problem("new/x.yaml", tree, dirs) is None


def test_fs_problem_refuses_links_anywhere_even_inside(tmp_path):
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    os.symlink("real", str(root / "inside"))
    os.symlink(str(tmp_path), str(root / "out"))
    (root / "file").write_text("x")
    assert S.fs_problem(str(root), "inside/x.yaml") == ("inside", "is a symbolic link in the work tree")
    assert S.fs_problem(str(root), "out/x.yaml")[0] == "out"
    assert S.fs_problem(str(root), "file/x.yaml") == ("file", "is not a directory in the work tree")
    assert S.fs_problem(str(root), "real") == ("real", "is not a regular file in the work tree")
    assert S.fs_problem(str(root), "real/new/x.yaml") is None


def test_write_in_tree_never_follows_a_link_that_appeared_after_the_checks(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(str(outside), str(root / "d"))
    with pytest.raises(S.UnsafePath, match="d is not a plain directory"):
        S.write_in_tree(str(root), "d/x.yaml", b"x")
    os.symlink(str(outside / "f"), str(root / "f"))
    with pytest.raises(S.UnsafePath, match="not a regular file"):
        S.write_in_tree(str(root), "f", b"x")
    assert os.listdir(str(outside)) == []
    S.write_in_tree(str(root), "new/deep/x.yaml", b"ok\n")
    assert (root / "new/deep/x.yaml").read_bytes() == b"ok\n"


# ------------------------------------------------------------------ Git's edits of YAML files
CM = "---\nkind: ConfigMap\ndata:\n  admin.enabled: \"false\"\n  exec.enabled: \"false\"\n"


def test_plan_equivalent_edit_is_neither_a_conflict_nor_a_change(tmp_path):
    edited = "kind: ConfigMap\ndata:\n  exec.enabled: 'false'  # same data, other order and quoting\n  admin.enabled: 'false'\n"
    commit_record(tmp_path, {"cm.yaml": S.sha256("---\nold: 1\n")})
    write(tmp_path, "cm.yaml", edited)
    repo = planner(tmp_path)
    assert repo.plan({"cm.yaml": CM}) == {}
    assert repo.result["conflicts"] == [] and repo.result["disagreements"] == [] and repo.result["unchanged"] == 1
    # With another write in the same run, the record takes Git's content over: the file is ours again.
    writes = repo.plan({"cm.yaml": CM, "other.yaml": "x: 1\n"})
    assert "cm.yaml" not in writes
    assert S.parse_managed(writes[".gitops/managed.yaml"][1])["cm.yaml"] == S.sha256(edited)


def test_plan_edited_yaml_lists_disagreements_and_keeps_the_file(tmp_path):
    edited = CM.replace('admin.enabled: "false"', 'admin.enabled: "true"')
    commit_record(tmp_path, {"cm.yaml": S.sha256(CM)})
    write(tmp_path, "cm.yaml", edited)
    repo = planner(tmp_path)
    assert repo.plan({"cm.yaml": CM}) == {}
    assert repo.result["conflicts"] == ["cm.yaml"]
    assert repo.result["disagreements"] == [
        {"path": "cm.yaml", "field": "data.admin.enabled", "inventory": "false", "repository": "true"}]
    # The inventory changes another key of the same file: Git's file still wins as a whole, both are reported.
    newer = CM.replace('exec.enabled: "false"', 'exec.enabled: "true"')
    assert repo.plan({"cm.yaml": newer}) == {}
    assert [d["field"] for d in repo.result["disagreements"]] == ["data.admin.enabled", "data.exec.enabled"]
    # force (the propose mode's review branch) writes the inventory's values.
    repo = planner(tmp_path, force=True)
    assert repo.plan({"cm.yaml": CM})["cm.yaml"] == (edited, CM) and repo.result["disagreements"] == []


def test_clusters_changed_names_the_cluster_folders_written(tmp_path):
    repo = planner(tmp_path)
    assert repo.clusters_changed({}) == []
    assert repo.clusters_changed({"clusters/a/argocd/argocd-cm.yaml": 1, "clusters/b/kustomization.yaml": 1, "README.md": 1,
                                  ".gitops/clusters/c.yaml": 1, ".gitops/managed.yaml": 1}) == ["a", "b"]


def test_plan_edit_the_inventory_later_agrees_with_is_no_change(tmp_path):
    edited = CM.replace('admin.enabled: "false"', 'admin.enabled: "true"')
    commit_record(tmp_path, {"cm.yaml": S.sha256(CM)})
    write(tmp_path, "cm.yaml", edited)
    repo = planner(tmp_path)
    assert repo.plan({"cm.yaml": edited}) == {}
    assert repo.result["conflicts"] == [] and repo.result["unchanged"] == 1
    writes = repo.plan({"cm.yaml": edited, "other.yaml": "x: 1\n"})
    assert S.parse_managed(writes[".gitops/managed.yaml"][1])["cm.yaml"] == S.sha256(edited)
