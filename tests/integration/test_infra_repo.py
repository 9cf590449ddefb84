# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gitops.bootstrap.infra_repo against real git servers on loopback (file://, smart HTTP with
basic auth through git http-backend, OpenSSH sshd), driven through Ansible."""


import os
import stat
import time

import pytest

from gitservers import BareRepo, HttpGitServer, SilentServer, SshGitServer, git, free_port
from infra_repo_helpers import remote_cache, run_module, run_modules_concurrently, run_validate

APPS = [{"name": "hello"}]


@pytest.fixture
def bare(tmp_path):
    return BareRepo(tmp_path / "infra.git")


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "http-root"
    root.mkdir()
    server = HttpGitServer(root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory):
    server = SshGitServer(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def base_args(repo, cluster="dev1", **kw):
    args = {"repo": repo, "cluster": cluster, "apps": APPS}
    args.update(kw)
    return args


# --------------------------------------------------------------------------- file://
def test_first_bootstrap_pushes_the_layout(bare):
    r = run_module(base_args(bare.url))
    assert not r.failed, r.result
    assert r["changed"] and r["pushed"]
    assert r["commit"] == bare.head("main")
    assert r["branch"] == "main"
    files = bare.files()
    for path in ("README.md", ".github/CODEOWNERS", ".github/pull_request_template.md", ".github/workflows/validate.yaml",
                 "Makefile", ".gitops/validate.py", ".gitops/managed.yaml", "clusters/dev1/kustomization.yaml",
                 "clusters/dev1/argocd/kustomization.yaml", "clusters/dev1/projects/apps.yaml",
                 "clusters/dev1/apps/argocd.yaml", "clusters/dev1/apps/hello.yaml", "platform/namespaces/kustomization.yaml",
                 "apps/hello/base/deployment.yaml", "apps/hello/overlays/dev/kustomization.yaml",
                 "apps/hello/overlays/staging/kustomization.yaml", "apps/hello/overlays/prod/kustomization.yaml"):
        assert path in files, path
    argocd = bare.show("clusters/dev1/argocd/kustomization.yaml")
    assert "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml" in argocd
    assert "path: apps/hello/overlays/dev" in bare.show("clusters/dev1/apps/hello.yaml")
    assert '"%s"' % bare.url in bare.show("clusters/dev1/apps/hello.yaml")
    managed = bare.show(".gitops/managed.yaml")
    assert '"clusters/dev1/apps/argocd.yaml": ' in managed
    assert r["layout"]["root"] == "clusters/dev1"
    assert r["layout"]["argocd"] == "clusters/dev1/argocd"
    assert bare.commit_count() == 1


def test_rerun_without_change_makes_no_commit(bare):
    first = run_module(base_args(bare.url))
    assert first["changed"]
    second = run_module(base_args(bare.url))
    assert not second.failed, second.result
    assert second["changed"] is False
    assert second["pushed"] is False
    assert second["commit"] == first["commit"] == bare.head()
    assert bare.commit_count() == 1
    assert second["created"] == [] and second["updated"] == []


def test_check_mode_and_diff_mode_tell_the_truth(bare, tmp_path):
    r = run_module(base_args(bare.url), check=True, diff=True)
    assert not r.failed, r.result
    assert r["changed"] is True
    assert bare.head() is None, "check mode pushed something"
    assert "clusters/dev1/kustomization.yaml" in r["created"]
    diffs = {d["after_header"]: d for d in r["diff"]}
    assert "resources:\n  - projects\n  - apps\n" in diffs["clusters/dev1/kustomization.yaml"]["after"]
    assert diffs["clusters/dev1/kustomization.yaml"]["before_header"] == "/dev/null"

    run_module(base_args(bare.url))
    head = bare.head()
    # A new option value: check mode names exactly the files that would change, and how.
    r = run_module(base_args(bare.url, argocd_version="v3.4.7"), check=True, diff=True)
    assert r["changed"] is True
    assert bare.head() == head
    assert set(r["updated"]) == {"README.md", "clusters/dev1/argocd/kustomization.yaml", ".gitops/clusters/dev1.yaml",
                                 ".gitops/managed.yaml"}
    d = {x["after_header"]: x for x in r["diff"]}["clusters/dev1/argocd/kustomization.yaml"]
    assert "v3.5.1" in d["before"] and "v3.4.7" in d["after"]
    # And the real run does what check mode announced.
    real = run_module(base_args(bare.url, argocd_version="v3.4.7"))
    assert sorted(real["updated"]) == sorted(r["updated"])
    assert bare.changed_files() == sorted(r["updated"])


def test_user_edit_is_kept_and_reported_then_force_overwrites(bare, tmp_path):
    run_module(base_args(bare.url))
    edited_readme = "# Our infra\n\nWe wrote this ourselves.\n"
    bare.push_change(tmp_path / "someone", {"README.md": edited_readme})
    head = bare.head()
    # Unchanged options: the edit is not a change to make.
    r = run_module(base_args(bare.url))
    assert r["changed"] is False and r["conflicts"] == ["README.md"]
    assert bare.head() == head
    assert any("README.md" in w for w in r.get("warnings", []))
    # New version: the unedited generated files are updated, the edited README is kept.
    r = run_module(base_args(bare.url, argocd_version="v3.4.7"))
    assert not r.failed, r.result
    assert r["changed"] and r["conflicts"] == ["README.md"]
    assert "clusters/dev1/argocd/kustomization.yaml" in r["updated"]
    assert bare.show("README.md") == edited_readme.rstrip("\n")
    assert "v3.4.7" in bare.show("clusters/dev1/argocd/kustomization.yaml")
    # fail_on_conflict: nothing committed.
    head = bare.head()
    r = run_module(base_args(bare.url, argocd_version="v3.3.14", fail_on_conflict=True))
    assert r.failed and "README.md" in r["msg"] and "nothing was committed" in r["msg"]
    assert bare.head() == head
    # force overwrites.
    r = run_module(base_args(bare.url, argocd_version="v3.4.7", force=True))
    assert r["changed"] and r["forced"] == ["README.md"]
    assert "How to change the infrastructure" in bare.show("README.md")
    r = run_module(base_args(bare.url, argocd_version="v3.4.7"))
    assert r["changed"] is False and r["conflicts"] == []


def test_never_deletes_user_files_and_adopts_a_non_empty_repo(bare, tmp_path):
    bare.push_change(tmp_path / "someone", {
        "README.md": "# Legacy infra\n",
        "legacy/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\n",
        "Makefile": "all:\n\techo legacy\n",
    })
    head = bare.head()
    r = run_module(base_args(bare.url))
    assert not r.failed, r.result
    assert r["changed"] and sorted(r["conflicts"]) == ["Makefile", "README.md"]
    files = bare.files()
    assert "legacy/deployment.yaml" in files and "clusters/dev1/kustomization.yaml" in files
    assert bare.show("README.md") == "# Legacy infra"
    assert git("rev-parse", "main~1", cwd=bare.path) == head
    # The user's files are not recorded as ours.
    managed = bare.show(".gitops/managed.yaml")
    assert '"README.md"' not in managed and "legacy/" not in managed


def test_second_cluster_adds_only_its_folder(bare):
    run_module(base_args(bare.url, cluster="dev1"))
    before = bare.files()
    r = run_module(base_args(bare.url, cluster="prod-eu1", cluster_environment="prod"))
    assert not r.failed, r.result
    changed = bare.changed_files()
    assert all(p.startswith("clusters/prod-eu1/") or p in (".gitops/managed.yaml", ".gitops/clusters/prod-eu1.yaml")
               for p in changed), changed
    assert set(before) <= set(bare.files())
    assert "path: apps/hello/overlays/prod" in bare.show("clusters/prod-eu1/apps/hello.yaml")
    # Both clusters stay managed: re-running either is a no-op.
    assert run_module(base_args(bare.url, cluster="dev1"))["changed"] is False
    assert run_module(base_args(bare.url, cluster="prod-eu1", cluster_environment="prod"))["changed"] is False


def test_review_branch_mode(bare, tmp_path):
    run_module(base_args(bare.url))
    main_head = bare.head()
    r = run_module(base_args(bare.url, cluster="staging1", cluster_environment="staging", review_branch="gitops/add-staging1"))
    assert not r.failed, r.result
    assert r["changed"] and r["pushed"]
    assert r["branch"] == "gitops/add-staging1"
    assert r["commit"] == bare.head("gitops/add-staging1")
    assert bare.head("main") == main_head, "review mode pushed to main"
    assert "clusters/staging1/kustomization.yaml" in bare.files("gitops/add-staging1")
    # Re-run while the pull request is open: no new commit.
    again = run_module(base_args(bare.url, cluster="staging1", cluster_environment="staging", review_branch="gitops/add-staging1"))
    assert again["changed"] is False and again["commit"] == r["commit"]


def test_local_directory_target(tmp_path):
    path = tmp_path / "infra"
    r = run_module(base_args(str(path)), check=True)
    assert r["changed"] and not path.exists()
    r = run_module(base_args(str(path)))
    assert r["changed"] and not r["pushed"]
    assert git("rev-parse", "HEAD", cwd=str(path)) == r["commit"]
    assert git("status", "--porcelain", cwd=str(path)) == ""
    assert '"file://%s"' % path in (path / "clusters/dev1/apps/argocd.yaml").read_text()
    assert run_module(base_args(str(path)))["changed"] is False


# --------------------------------------------------------------------------- concurrency
def test_concurrent_commit_is_rebased_and_pushed(http_server, tmp_path):
    bare = BareRepo(os.path.join(http_server.root, "infra.git"))
    args = base_args(http_server.url("infra.git"), https_token=http_server.token)
    assert not run_module(args).failed
    other = tmp_path / "other"
    http_server.after_first_fetch = lambda: bare.push_change(other, {"docs/notes.md": "# Notes\n"}, message="concurrent")
    r = run_module(dict(args, argocd_version="v3.4.7"))
    assert not r.failed, r.result
    assert r["rebased"] == 1 and r["pushed"]
    assert r["commit"] == bare.head()
    assert git("log", "-1", "--format=%s", "main~1", cwd=bare.path) == "concurrent"
    assert "docs/notes.md" in bare.files() and "v3.4.7" in bare.show("clusters/dev1/argocd/kustomization.yaml")


def test_concurrent_conflicting_commit_is_a_clear_error(http_server, tmp_path):
    bare = BareRepo(os.path.join(http_server.root, "infra.git"))
    args = base_args(http_server.url("infra.git"), https_token=http_server.token)
    assert not run_module(args).failed
    theirs = "---\n# pinned by hand\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
    http_server.after_first_fetch = lambda: bare.push_change(
        tmp_path / "other", {"clusters/dev1/argocd/kustomization.yaml": theirs}, message="concurrent edit")
    r = run_module(dict(args, argocd_version="v3.4.7"))
    assert r.failed
    assert "conflicts" in r["msg"] and "nothing was pushed" in r["msg"]
    assert "clusters/dev1/argocd/kustomization.yaml" in r["msg"]
    assert git("log", "-1", "--format=%s", "main", cwd=bare.path) == "concurrent edit"


# --------------------------------------------------------------------------- HTTP + token
def test_https_token_through_askpass_never_stored(http_server, tmp_path):
    bare = BareRepo(os.path.join(http_server.root, "infra.git"))
    work = tmp_path / "work"
    r = run_module(base_args(http_server.url("infra.git"), https_token=http_server.token, work_dir=str(work)))
    assert not r.failed, r.result
    assert r["pushed"] and r["commit"] == bare.head()
    assert http_server.token not in r.stdout + r.stderr
    config = (work / ".git" / "config").read_text()
    assert http_server.token not in config and "askpass" not in config.lower()
    for root, dummy, names in os.walk(str(work / ".git")):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                assert http_server.token.encode() not in f.read(), os.path.join(root, name)
    # The kept work dir is reused on the next run.
    assert run_module(base_args(http_server.url("infra.git"), https_token=http_server.token, work_dir=str(work)))["changed"] is False


def test_wrong_token_is_refused(http_server):
    bare = BareRepo(os.path.join(http_server.root, "infra.git"))
    r = run_module(base_args(http_server.url("infra.git"), https_token="not-the-token"))
    assert r.failed and "refused the credentials" in r["msg"]
    assert "not-the-token" not in r.stdout
    assert bare.head() is None


def test_token_in_url_is_rejected(http_server):
    url = http_server.url("infra.git").replace("http://", "http://git:%s@" % http_server.token)
    r = run_module(base_args(url))
    assert r.failed and "https_token" in r["msg"]


def test_unreachable_remote(tmp_path):
    r = run_module(base_args("http://127.0.0.1:%d/infra.git" % free_port(), https_token="x"))
    assert r.failed
    assert "cannot be reached" in r["msg"], r["msg"]


# --------------------------------------------------------------------------- SSH
def test_ssh_deploy_key_with_pinned_host_key(ssh_server, tmp_path):
    bare = BareRepo(tmp_path / "infra.git")
    args = base_args(ssh_server.url(bare.path), ssh_private_key=ssh_server.private_key(),
                     ssh_known_hosts=[ssh_server.known_hosts_line()])
    r = run_module(args)
    assert not r.failed, r.result
    assert r["pushed"] and r["commit"] == bare.head()
    assert "PRIVATE KEY" not in r.stdout
    assert run_module(args)["changed"] is False


def test_ssh_wrong_key(ssh_server, tmp_path):
    bare = BareRepo(tmp_path / "infra.git")
    r = run_module(base_args(ssh_server.url(bare.path), ssh_private_key=ssh_server.private_key(other=True),
                             ssh_known_hosts=[ssh_server.known_hosts_line()]))
    assert r.failed and "refused the credentials" in r["msg"], r["msg"]
    assert bare.head() is None


def test_ssh_host_key_mismatch(ssh_server, tmp_path):
    bare = BareRepo(tmp_path / "infra.git")
    r = run_module(base_args(ssh_server.url(bare.path), ssh_private_key=ssh_server.private_key(),
                             ssh_known_hosts=[ssh_server.known_hosts_line(other=True)]))
    assert r.failed and "host key" in r["msg"], r["msg"]
    assert bare.head() is None


def test_ssh_unknown_host_is_refused_by_default(ssh_server, tmp_path):
    bare = BareRepo(tmp_path / "infra.git")
    known = tmp_path / "empty_known_hosts"
    known.write_text("")
    r = run_module(base_args(ssh_server.url(bare.path), ssh_private_key=ssh_server.private_key(),
                             ssh_known_hosts_file=str(known)))
    assert r.failed and "host key" in r["msg"]
    assert bare.head() is None


# --------------------------------------------------------------------------- bad input
def test_path_that_is_not_a_git_repository(tmp_path):
    d = tmp_path / "notes"
    d.mkdir()
    (d / "todo.txt").write_text("x\n")
    r = run_module(base_args(str(d)))
    assert r.failed and "is not a git repository" in r["msg"]
    assert sorted(os.listdir(str(d))) == ["todo.txt"]


def test_dirty_work_dir(bare, tmp_path):
    work = tmp_path / "work"
    assert not run_module(base_args(bare.url, work_dir=str(work))).failed
    head = bare.head()
    (work / "README.md").write_text("local edit not committed\n")
    r = run_module(base_args(bare.url, work_dir=str(work), argocd_version="v3.4.7"))
    assert r.failed and "uncommitted changes" in r["msg"] and "README.md" in r["msg"]
    assert bare.head() == head
    assert (work / "README.md").read_text() == "local edit not committed\n"


def test_invalid_cluster_name(bare):
    r = run_module(base_args(bare.url, cluster="Prod_EU1"))
    assert r.failed and "invalid cluster name 'Prod_EU1'" in r["msg"]
    assert bare.head() is None


def test_unpinned_argocd_version_is_refused(bare):
    r = run_module(base_args(bare.url, argocd_version="stable"))
    assert r.failed and "argocd_version" in r["msg"]
    assert bare.head() is None


# --------------------------------------------------------------------------- nothing read or written outside the work tree
OUTSIDE = "content of a file outside the repository that the module must never read"


def _outside_dir(tmp_path):
    """A directory outside every repository, with files at the names the module generates."""
    d = tmp_path / "outside"
    for rel in ("projects/apps.yaml", "projects/kustomization.yaml", "README.md", "platform/namespaces/kustomization.yaml"):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text("%s (%s)\n" % (OUTSIDE, rel))
    return d


def _state(root):
    """Every entry below ``root`` with its content (links as links, never followed)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, str(root))
            if os.path.islink(full):
                found[rel] = ("link", os.readlink(full))
            elif os.path.isfile(full):
                with open(full, "rb") as f:
                    found[rel] = ("file", f.read(), stat.S_IMODE(os.stat(full).st_mode))
            else:
                found[rel] = ("dir",)
    return found


# (the committed link, its target) per kind of link at a managed path
SYMLINK_CASES = {
    "directory-to-outside": ("clusters/dev1/projects", lambda outside: str(outside / "projects")),
    "file-to-outside": ("README.md", lambda outside: str(outside / "README.md")),
    "parent-to-outside": ("platform", lambda outside: str(outside / "platform")),
    "directory-inside-the-tree": ("clusters/dev1/projects", lambda outside: "../../docs/projects"),
}


@pytest.mark.parametrize("case", sorted(SYMLINK_CASES))
def test_managed_path_through_a_symlink_is_refused_in_every_mode(bare, tmp_path, case):
    link, target = SYMLINK_CASES[case]
    assert not run_module(base_args(bare.url)).failed
    outside = _outside_dir(tmp_path)
    inside = {"docs/projects/apps.yaml": "# ours, shared on purpose\n"} if case == "directory-inside-the-tree" else {}
    bare.push_change(tmp_path / "someone", inside, symlinks={link: target(outside)}, message="link %s" % link)
    head, before = bare.head(), _state(outside)
    # A new option value gives the run files to update; force and check mode must refuse just the same.
    for mode, kw in (("normal", {}), ("force", {"force": True}), ("check", {"force": True})):
        r = run_module(base_args(bare.url, argocd_version="v3.4.7", **kw), check=mode == "check", diff=mode == "check")
        assert r.failed, (mode, r.result)
        assert "%s is a symbolic link in the repository" % link in r["msg"], (mode, r["msg"])
        assert "nothing was read, written or committed" in r["msg"] and "git rm" in r["msg"], r["msg"]
        assert OUTSIDE not in r.stdout + r.stderr, mode
        assert _state(outside) == before, "%s: the run changed files outside the repository" % mode
        assert bare.head() == head
        if inside:
            assert bare.show("docs/projects/apps.yaml") == "# ours, shared on purpose"
    # What the message offers besides removing the link: take the files beneath it over.
    beneath = [line for line in bare.show(".gitops/managed.yaml").splitlines()
               if line.startswith(('  "%s/' % link, '  "%s":' % link))]
    assert beneath, "no generated file beneath %s" % link
    record = [line for line in bare.show(".gitops/managed.yaml").splitlines() if line not in beneath]
    bare.push_change(tmp_path / "someone", {".gitops/managed.yaml": "\n".join(record) + "\n"}, message="take over")
    r = run_module(base_args(bare.url, argocd_version="v3.4.7"))
    assert not r.failed, r.result
    assert r["changed"] and len(r["taken_over"]) == len(beneath) and all(p.startswith(link) for p in r["taken_over"])
    assert "v3.4.7" in bare.show("clusters/dev1/argocd/kustomization.yaml")
    assert OUTSIDE not in r.stdout + r.stderr
    assert _state(outside) == before


def test_ignored_symlink_in_a_local_work_tree_is_refused(tmp_path):
    """A link git does not track (ignored, so the tree looks clean) at a path the run would create."""
    path = tmp_path / "infra"
    assert not run_module(base_args(str(path))).failed
    outside = _outside_dir(tmp_path)
    (path / ".git" / "info" / "exclude").write_text("/apps/web\n")
    os.symlink(str(outside / "projects"), str(path / "apps" / "web"))
    head, before = git("rev-parse", "HEAD", cwd=str(path)), _state(outside)
    args = base_args(str(path), apps=APPS + [{"name": "web"}])
    for check in (True, False):
        r = run_module(args, check=check, diff=check)
        assert r.failed, r.result
        assert "apps/web is a symbolic link in the work tree" in r["msg"], r["msg"]
        assert _state(outside) == before
        assert git("rev-parse", "HEAD", cwd=str(path)) == head


# --------------------------------------------------------------------------- concurrent runs for different clusters
def test_concurrent_runs_for_different_clusters_all_land(http_server):
    bare = BareRepo(os.path.join(http_server.root, "infra.git"))
    url = http_server.url("infra.git")
    clusters = ["c1", "c2", "c3", "c4", "c5"]
    arg_list = [base_args(url, cluster=c, https_token=http_server.token) for c in clusters]
    # Every run reads the same empty repository, so every push but one meets a branch that moved on.
    http_server.hold_first_fetches(len(clusters))
    first = run_modules_concurrently(arg_list)
    for cluster, r in zip(clusters, first):
        assert not r.failed, (cluster, r["msg"])
        assert r["changed"] and r["pushed"], cluster
    files = bare.files()
    managed = bare.show(".gitops/managed.yaml")
    for cluster in clusters:
        for path in ("clusters/%s/kustomization.yaml" % cluster, "clusters/%s/apps/hello.yaml" % cluster,
                     ".gitops/clusters/%s.yaml" % cluster):
            assert path in files, path
            assert '"%s": ' % path in managed, path
    assert '"README.md": ' in managed
    assert bare.commit_count() == len(clusters)
    assert sum(r["rebased"] for r in first) >= len(clusters) - 1, [r["rebased"] for r in first]
    # A second round of all of them at once changes nothing.
    again = run_modules_concurrently(arg_list)
    for cluster, r in zip(clusters, again):
        assert not r.failed, (cluster, r["msg"])
        assert r["changed"] is False and r["created"] == [] and r["updated"] == [] and r["conflicts"] == [], (cluster, r.result)
    assert bare.commit_count() == len(clusters)


# --------------------------------------------------------------------------- files the user removed or took over
def test_file_removed_or_renamed_by_the_user_is_reported_not_recreated(bare, tmp_path):
    assert not run_module(base_args(bare.url)).failed
    bare.push_change(tmp_path / "someone", {}, delete=["README.md"],
                     moves={"clusters/dev1/apps/hello.yaml": "clusters/dev1/apps/web.yaml"}, message="ours now")
    head = bare.head()
    gone = ["README.md", "clusters/dev1/apps/hello.yaml"]
    r = run_module(base_args(bare.url))
    assert not r.failed, r.result
    assert r["changed"] is False and bare.head() == head
    assert sorted(r["removed_by_user"]) == gone and r["created"] == []
    assert any("clusters/dev1/apps/hello.yaml" in w and "restore_removed" in w for w in r.get("warnings", [])), r.get("warnings")
    # A change elsewhere lands and still does not bring them back.
    r = run_module(base_args(bare.url, argocd_version="v3.4.7"))
    assert not r.failed and r["changed"], r.result
    assert sorted(r["removed_by_user"]) == gone
    assert not set(gone) & set(bare.files())
    assert "clusters/dev1/apps/web.yaml" in bare.files()
    # Only when asked.
    r = run_module(base_args(bare.url, argocd_version="v3.4.7", restore_removed=True))
    assert not r.failed and r["changed"], r.result
    assert sorted(r["restored"]) == gone and r["removed_by_user"] == []
    assert "How to change the infrastructure" in bare.show("README.md")
    assert "clusters/dev1/apps/web.yaml" in bare.files(), "the user's renamed copy was touched"
    r = run_module(base_args(bare.url, argocd_version="v3.4.7"))
    assert r["changed"] is False and r["removed_by_user"] == [] and r["restored"] == []


def test_file_taken_over_by_removing_its_record_line_stays_the_users(bare, tmp_path):
    assert not run_module(base_args(bare.url)).failed
    taken = [".github/CODEOWNERS", "clusters/dev1/apps/hello.yaml"]
    record = [line for line in bare.show(".gitops/managed.yaml").splitlines()
              if not any(line.startswith('  "%s": ' % path) for path in taken)]
    # CODEOWNERS is kept as it is, hello.yaml is deleted as well.
    bare.push_change(tmp_path / "someone", {".gitops/managed.yaml": "\n".join(record) + "\n"},
                     delete=["clusters/dev1/apps/hello.yaml"], message="take over CODEOWNERS and hello.yaml")
    head = bare.head()
    r = run_module(base_args(bare.url))
    assert not r.failed, r.result
    assert r["changed"] is False and bare.head() == head, r.result
    assert sorted(r["taken_over"]) == taken
    assert "clusters/dev1/apps/hello.yaml" not in bare.files()
    # The generated CODEOWNERS changes: the user's is neither updated, nor forced, nor recorded again.
    for kw in ({}, {"force": True}):
        r = run_module(base_args(bare.url, owners=["@other-team"], **kw))
        assert not r.failed, r.result
        assert ".github/CODEOWNERS" not in r["updated"] + r["forced"] + r["conflicts"], r.result
        assert sorted(r["taken_over"]) == taken
        assert any(".github/CODEOWNERS" in w and "taken over" in w for w in r.get("warnings", [])), r.get("warnings")
        assert "@other-team" not in bare.show(".github/CODEOWNERS")
        assert not any(('"%s": ' % path) in bare.show(".gitops/managed.yaml") for path in taken)
    assert bare.head() == head
    # Handed back only when asked.
    r = run_module(base_args(bare.url, restore_removed=True))
    assert not r.failed and r["changed"], r.result
    assert sorted(r["restored"]) == taken and r["taken_over"] == []
    assert all(('"%s": ' % path) in bare.show(".gitops/managed.yaml") for path in taken)
    assert "clusters/dev1/apps/hello.yaml" in bare.files()
    assert run_module(base_args(bare.url))["changed"] is False


# --------------------------------------------------------------------------- the user's git configuration
def _failing_hooks(d):
    d.mkdir(parents=True, exist_ok=True)
    for hook in ("pre-commit", "commit-msg", "post-commit", "post-checkout", "pre-push", "reference-transaction"):
        (d / hook).write_text("#!/bin/sh\necho 'hook %s refuses' >&2\nexit 1\n" % hook)
        os.chmod(str(d / hook), 0o755)
    return str(d)


GLOBAL_CONFIGS = {
    # Line endings converted on checkout, and an attributes file that asks for CRLF.
    "line-endings": lambda home, url: (
        "[core]\n\tautocrlf = true\n\tattributesFile = %s\n" % (home / "attributes"), "* text eol=crlf\n"),
    # Hooks that refuse everything, and signing with a program that fails.
    "hooks-and-signing": lambda home, url: (
        "[core]\n\thooksPath = %s\n[commit]\n\tgpgSign = true\n[push]\n\tgpgSign = true\n[gpg]\n\tprogram = false\n"
        % _failing_hooks(home / "hooks"), None),
    # Another default branch, and the repository's URL rewritten to one that does not exist.
    "branch-and-url-rewrite": lambda home, url: (
        '[init]\n\tdefaultBranch = master\n[url "file:///nonexistent/"]\n\tinsteadOf = %s\n' % url, None),
}


@pytest.mark.parametrize("case", sorted(GLOBAL_CONFIGS))
def test_users_global_git_configuration_does_not_change_the_result(bare, tmp_path, case):
    home = tmp_path / "home"
    home.mkdir()
    config, attributes = GLOBAL_CONFIGS[case](home, bare.url)
    (home / ".gitconfig").write_text(config)
    if attributes:
        (home / "attributes").write_text(attributes)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "GIT_AUTHOR_NAME": "someone else", "GIT_COMMITTER_EMAIL": "someone@else.test"}
    first = run_module(base_args(bare.url), env_update=env)
    assert not first.failed, first.result
    assert first["changed"] and first["pushed"] and first["conflicts"] == []
    assert git("log", "-1", "--format=%an <%ae> / %cn <%ce>", cwd=bare.path) == (
        "gitops.bootstrap <gitops-bootstrap@localhost> / gitops.bootstrap <gitops-bootstrap@localhost>")
    assert "\r" not in git("cat-file", "-p", "main:README.md", cwd=bare.path)
    again = run_module(base_args(bare.url), env_update=env)
    assert not again.failed, again.result
    assert again["changed"] is False, again.result
    assert again["conflicts"] == [] and again["updated"] == [] and again["created"] == []
    assert bare.commit_count() == 1


def test_repository_git_configuration_does_not_change_the_result(tmp_path):
    """A local repository whose own .git/config converts line endings, runs refusing hooks and signs."""
    path = tmp_path / "infra"
    path.mkdir()
    git("init", "--quiet", "--initial-branch=main", str(path))
    (path / "notes.md").write_text("# Our notes\n")
    git("add", "notes.md", cwd=str(path))
    git("commit", "--quiet", "-m", "notes", cwd=str(path))
    hooks = _failing_hooks(tmp_path / "hooks")
    for key, value in (("core.autocrlf", "true"), ("core.hooksPath", hooks), ("commit.gpgSign", "true"),
                       ("gpg.program", "false")):
        git("config", key, value, cwd=str(path))
    first = run_module(base_args(str(path)))
    assert not first.failed, first.result
    assert first["changed"] and first["conflicts"] == []
    assert git("log", "-1", "--format=%an", cwd=str(path)) == "gitops.bootstrap"
    again = run_module(base_args(str(path)))
    assert not again.failed, again.result
    assert again["changed"] is False and again["conflicts"] == [] and again["updated"] == [], again.result
    assert git("status", "--porcelain", cwd=str(path)) == ""


# --------------------------------------------------------------------------- errors, user names, conflict diffs
def test_git_error_keeps_the_lines_that_say_what_happened(ssh_server, tmp_path):
    url = ssh_server.url(str(tmp_path / "missing.git"))
    r = run_module(base_args(url, ssh_private_key=ssh_server.private_key(), ssh_known_hosts=[ssh_server.known_hosts_line()]))
    assert r.failed
    # The line that names the cause, not only git's generic last line.
    assert "does not appear to be a git repository" in r["msg"], r["msg"]
    assert "the repository exists" in r["msg"] and "the repository does not exist at that URL" in r["msg"]
    assert "PRIVATE KEY" not in r.stdout + r.stderr


def test_bootstrap_playbook_takes_the_https_user_name_from_the_inventory(tmp_path):
    import json
    import subprocess
    import sys
    from infra_repo_helpers import REPO_ROOT, ansible_env

    root = tmp_path / "http-root"
    root.mkdir()
    server = HttpGitServer(root, username="x-access-token")
    try:
        bare = BareRepo(root / "infra.git")
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(json.dumps({"all": {"hosts": {"ha-c1": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "gitops_infra_repo_url": server.url("infra.git"), "gitops_infra_repo_https_username": "x-access-token",
            "gitops_infra_repo_https_token": server.token}}}}))
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
               os.path.join(REPO_ROOT, "playbooks", "bootstrap.yml"), "--tags", "infra_repo"]
        proc = subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "clusters/ha-c1/kustomization.yaml" in bare.files()
        assert server.token not in proc.stdout + proc.stderr
    finally:
        server.stop()


def test_check_mode_diff_shows_a_conflicted_file_without_writing_it(bare, tmp_path):
    assert not run_module(base_args(bare.url)).failed
    edited = "# Our infra\n\nWe wrote this ourselves.\n"
    bare.push_change(tmp_path / "someone", {"README.md": edited})
    head = bare.head()
    r = run_module(base_args(bare.url, argocd_version="v3.4.7"), check=True, diff=True)
    assert not r.failed, r.result
    assert r["conflicts"] == ["README.md"]
    (d,) = [x for x in r["diff"] if x["before_header"].startswith("README.md")]
    assert d["before"] == edited
    assert "How to change the infrastructure" in d["after"] and "v3.4.7" in d["after"]
    assert "not written" in d["after_header"]
    assert bare.head() == head and bare.show("README.md") == edited.rstrip("\n")


# --------------------------------------------------------------------------- a server that never answers
@pytest.mark.parametrize("scheme", ["http", "ssh"])
def test_silent_server_fails_within_the_timeout_naming_it(scheme):
    server = SilentServer()
    try:
        if scheme == "http":
            args = base_args("http://127.0.0.1:%d/infra.git" % server.port, https_token="x", timeout=5)
        else:
            args = base_args("ssh://git@127.0.0.1:%d/infra.git" % server.port, ssh_host_key_checking="no", timeout=5)
        start = time.monotonic()
        r = run_module(args, timeout=90)
        elapsed = time.monotonic() - start
    finally:
        server.stop()
    assert r.failed, r.result
    assert "127.0.0.1:%d did not answer within 5 s" % server.port in r["msg"], r["msg"]
    assert "raise the option timeout" in r["msg"], r["msg"]
    # 5 s of git plus the start of ansible and of the module; well under the default 120 s.
    assert elapsed < 30, elapsed


# --------------------------------------------------------------------------- the generated validation
@pytest.mark.parametrize("pipeline", ["github", "gitlab"])
def test_generated_validation_green_on_scaffold_red_on_broken_manifest(bare, tmp_path, pipeline):
    r = run_module(base_args(bare.url, pipeline=pipeline, platform_components=["namespaces", "policies"]))
    assert not r.failed, r.result
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", bare.url, str(checkout))
    cache = remote_cache(tmp_path)
    green = run_validate(checkout, cache)
    assert green.returncode == 0, green.stdout + green.stderr
    assert "all checks passed" in green.stdout
    assert "clusters/dev1/argocd (6" in green.stdout  # the pinned upstream install rendered with our patch

    # A wrong type in a Deployment, an unknown field in an Application: red, naming both.
    dep = checkout / "apps/hello/base/deployment.yaml"
    dep.write_text(dep.read_text().replace("replicas: 1", "replicas: one"))
    app = checkout / "clusters/dev1/apps/hello.yaml"
    app.write_text(app.read_text().replace("  project: apps", "  projekt: apps"))
    red = run_validate(checkout, cache)
    assert red.returncode != 0
    assert "Deployment hello (apps/v1): spec.replicas: 'one' is not of type" in red.stdout
    assert "Application hello (argoproj.io/v1alpha1): spec: Additional properties are not allowed ('projekt'" in red.stdout


def test_generated_validation_catches_lint_and_render_errors(bare, tmp_path):
    run_module(base_args(bare.url))
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", bare.url, str(checkout))
    cache = remote_cache(tmp_path)
    k = checkout / "apps/hello/overlays/staging/kustomization.yaml"
    k.write_text(k.read_text().replace("../../base", "../../missing-base"))
    (checkout / "platform/namespaces/extra.yaml").write_text("---\nkey:   value\nkey: again\n")
    red = run_validate(checkout, cache)
    assert red.returncode != 0
    assert "render of apps/hello/overlays/staging failed" in red.stdout
    assert "duplication of key" in red.stdout  # yamllint


def test_generated_validation_offline_needs_the_cache(bare, tmp_path):
    run_module(base_args(bare.url))
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", bare.url, str(checkout))
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    red = run_validate(checkout, str(empty))
    assert red.returncode != 0
    assert "is not in the cache" in red.stdout and "--offline" in red.stdout


def test_promotion_helper(bare, tmp_path):
    run_module(base_args(bare.url))
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", bare.url, str(checkout))
    dev = checkout / "apps/hello/overlays/dev/kustomization.yaml"
    dev.write_text(dev.read_text().replace('newTag: "1.27-alpine"', 'newTag: "1.28-alpine"'))
    out = run_validate(checkout, remote_cache(tmp_path), "promote", "APP=hello", "FROM=dev", "TO=staging")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "newTag: 1.28-alpine" in (checkout / "apps/hello/overlays/staging/kustomization.yaml").read_text()
    assert '1.27-alpine' in (checkout / "apps/hello/overlays/prod/kustomization.yaml").read_text()
    assert run_validate(checkout, remote_cache(tmp_path)).returncode == 0


# --------------------------------------------------------------------------- server-side dry-run
@pytest.fixture(scope="module")
def dev_cluster():
    """The local control plane as the dev cluster (cluster name repo1), with Argo CD's CRDs and
    the namespaces the main branch already created there, as on a dev cluster in sync with main."""
    import subprocess
    import sys
    from infra_repo_helpers import ARGOCD_MANIFESTS, KUBECTL_DIR, REPO_ROOT

    kubeconfig = os.environ.get("GITOPS_TEST_KUBECONFIG")
    name = os.environ.get("INFRA_REPO_TEST_CLUSTER", "repo1")
    started = False
    if not kubeconfig:
        proc = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "hack", "localcluster.py"), "up", name],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            pytest.fail("could not start the local cluster %s:\n%s" % (name, proc.stderr))
        kubeconfig = proc.stdout.strip().splitlines()[-1]
        started = True
    kubectl = [os.path.join(KUBECTL_DIR, "kubectl"), "--kubeconfig", kubeconfig]
    crds = os.path.join(ARGOCD_MANIFESTS, "v3.5.1", "crds")
    proc = subprocess.run(kubectl + ["apply", "--server-side", "-f", crds], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    deadline = time.time() + 60
    while True:
        proc = subprocess.run(kubectl + ["wait", "--for=condition=Established", "crd", "--all", "--timeout=20s"],
                              capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            break
        assert time.time() < deadline, proc.stderr
        time.sleep(1)
    for ns in ("argocd", "hello"):
        subprocess.run(kubectl + ["create", "namespace", ns], capture_output=True, text=True, check=False)
    yield kubeconfig
    if started and os.environ.get("GITOPS_KEEP_CLUSTERS") != "1":
        subprocess.run([sys.executable, os.path.join(REPO_ROOT, "hack", "localcluster.py"), "down", name],
                       capture_output=True, text=True, check=False)


def test_generated_dry_run_against_the_dev_cluster(bare, tmp_path, dev_cluster):
    run_module(base_args(bare.url))
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", bare.url, str(checkout))
    cache = remote_cache(tmp_path)
    env = {"KUBECONFIG": dev_cluster}
    # Every cluster folder, as for the first pull request.
    full = run_validate(checkout, cache, "dry-run", env_update=env)
    assert full.returncode == 0, full.stdout + full.stderr
    assert "ok   clusters/dev1/argocd" in full.stdout and "ok   clusters/dev1:" in full.stdout

    # A change on a branch: only what it touches is sent, and the API server's verdict counts.
    git("checkout", "--quiet", "-b", "change", cwd=str(checkout))
    svc = checkout / "apps/hello/base/service.yaml"
    svc.write_text(svc.read_text().replace("port: 80", "port: 8080"))
    ok = run_validate(checkout, cache, "dry-run", "BASE=origin/main", env_update=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   apps/hello/overlays/dev" in ok.stdout and "clusters/dev1/argocd" not in ok.stdout

    # Valid against the schema (any string), refused by the API server.
    svc.write_text(svc.read_text().replace("spec:\n", "spec:\n  type: Bogus\n"))
    assert run_validate(checkout, cache).returncode == 0
    bad = run_validate(checkout, cache, "dry-run", "BASE=origin/main", env_update=env)
    assert bad.returncode != 0
    assert "server-side dry-run of apps/hello/overlays/dev failed" in bad.stdout and "Bogus" in bad.stdout


# --------------------------------------------------------------------------- the role
def test_role_converges_idempotently_and_exposes_the_layout(bare, tmp_path):
    import json
    import subprocess
    import sys
    from infra_repo_helpers import REPO_ROOT, ansible_env

    play = tmp_path / "play.yml"
    play.write_text(
        "---\n- name: Infra repo\n  hosts: localhost\n  gather_facts: false\n  roles:\n    - role: gitops.bootstrap.infra_repo\n"
        "  post_tasks:\n    - name: Layout\n      ansible.builtin.debug:\n        var: infra_repo_layout\n")
    extra = json.dumps({"infra_repo_url": bare.url, "infra_repo_cluster": "dev1", "infra_repo_apps": APPS,
                        "ansible_python_interpreter": sys.executable})
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", extra, str(play)]
    env = ansible_env()
    env["ANSIBLE_ROLES_PATH"] = os.path.join(REPO_ROOT, "roles")
    runs = []
    for dummy in range(2):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs.append(json.loads(proc.stdout))
    assert runs[0]["stats"]["localhost"]["changed"] >= 1
    assert runs[1]["stats"]["localhost"]["changed"] == 0
    layout = runs[1]["plays"][0]["tasks"][-1]["hosts"]["localhost"]["infra_repo_layout"]
    assert layout["root"] == "clusters/dev1" and layout["argocd"] == "clusters/dev1/argocd"
    assert layout["repo_url"] == bare.url and layout["target_revision"] == "main"
    assert bare.commit_count() == 1

    bad_vars = json.dumps({"infra_repo_url": bare.url, "infra_repo_cluster": "Bad_Name", "ansible_python_interpreter": sys.executable})
    bad = subprocess.run(cmd[:-3] + ["-e", bad_vars, str(play)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode != 0 and "invalid cluster name 'Bad_Name'" in bad.stdout
    assert bare.commit_count() == 1


def test_role_declares_the_scaffolded_self_management_application(bare, tmp_path):
    """The argocd role's self-management Application and clusters/<cluster>/apps/argocd.yaml agree on every field
    both set, so the root application (which syncs the file) and the role (which applies its own) never take a
    field from each other; both leave the SSH known hosts the role writes to the live value."""
    import json
    import subprocess
    import sys
    import yaml
    from infra_repo_helpers import REPO_ROOT, ansible_env

    assert not run_module(base_args(bare.url, argocd_namespace="gitops-argocd")).failed
    scaffolded = yaml.safe_load(bare.show("clusters/dev1/apps/argocd.yaml"))
    role = os.path.join(REPO_ROOT, "roles", "argocd")
    play = tmp_path / "play.yml"
    play.write_text(
        "---\n- name: The argocd role's Applications\n  hosts: localhost\n  gather_facts: false\n"
        "  vars_files:\n    - %s/defaults/main.yml\n    - %s/vars/main.yml\n"
        "  tasks:\n    - name: Applications\n      ansible.builtin.debug:\n        var: argocd__config_objects\n" % (role, role))
    extra = json.dumps({"argocd_cluster_name": "dev1", "argocd_namespace": "gitops-argocd", "argocd_infra_repo_url": bare.url,
                        "argocd_infra_repo_revision": "main", "ansible_python_interpreter": sys.executable})
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", extra, str(play)]
    proc = subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    objects = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["argocd__config_objects"]
    (declared,) = [o for o in objects if o["kind"] == "Application" and o["metadata"]["name"] == "argocd"]

    assert declared["metadata"]["namespace"] == scaffolded["metadata"]["namespace"] == "gitops-argocd"
    for field in ("project", "source", "destination", "ignoreDifferences"):
        assert declared["spec"][field] == scaffolded["spec"][field], field
    assert declared["spec"]["syncPolicy"]["syncOptions"] == scaffolded["spec"]["syncPolicy"]["syncOptions"]
    for key, value in scaffolded["spec"]["syncPolicy"]["automated"].items():
        assert declared["spec"]["syncPolicy"]["automated"][key] == value, key
    assert scaffolded["spec"]["ignoreDifferences"] == [
        {"kind": "ConfigMap", "name": "argocd-ssh-known-hosts-cm", "namespace": "gitops-argocd", "jsonPointers": ["/data/ssh_known_hosts"]}]
    assert scaffolded["spec"]["syncPolicy"]["syncOptions"] == ["ServerSideApply=true", "RespectIgnoreDifferences=true"]


# --------------------------------------------------------------------------- Argo CD's configuration in Git
POLICY_CSV = "p, role:deployer, applications, sync, */*, allow\ng, platform-admins, role:admin\n"


def argocd_config(repo_url, **cm):
    """argocd_config in the shape the argocd role's filters give it (argocd_config_maps, argocd_project_objects,
    argocd_ingress_object); the role test below builds it with the filters themselves."""
    data = {"admin.enabled": "false", "timeout.reconciliation": "120s"}
    data.update(cm)
    return {
        "config_maps": {
            "argocd-cm": data,
            "argocd-cmd-params-cm": {},
            "argocd-rbac-cm": {"policy.csv": POLICY_CSV, "policy.default": "", "policy.matchMode": "glob", "scopes": "[groups]"},
        },
        "projects": [{
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "team-a", "namespace": "argocd"},
            "spec": {"description": "Team A", "sourceRepos": [repo_url],
                     "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-a"}]},
        }],
        "objects": [{
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "argocd-server", "labels": {"app.kubernetes.io/part-of": "argocd"}},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "argocd.example.test", "http": {"paths": [{
                "path": "/", "pathType": "Prefix", "backend": {"service": {"name": "argocd-server", "port": {"name": "https"}}}}]}}]},
        }],
    }


CM_PATH = "clusters/dev1/argocd/argocd-cm.yaml"


def test_argocd_config_is_rendered_committed_and_validates(bare, tmp_path):
    import yaml

    r = run_module(base_args(bare.url, argocd_config=argocd_config(bare.url)))
    assert not r.failed, r.result
    assert r["changed"] and r["clusters_changed"] == ["dev1"] and r["disagreements"] == []
    files = bare.files()
    for path in (CM_PATH, "clusters/dev1/argocd/argocd-rbac-cm.yaml", "clusters/dev1/argocd/ingress.yaml",
                 "clusters/dev1/projects/team-a.yaml"):
        assert path in files, path
    assert "clusters/dev1/argocd/argocd-cmd-params-cm.yaml" not in files  # an empty map is not rendered
    kust = yaml.safe_load(bare.show("clusters/dev1/argocd/kustomization.yaml"))
    assert kust["patches"] == [{"path": "argocd-cm.yaml"}, {"path": "argocd-rbac-cm.yaml"}]
    assert kust["resources"][-1] == "ingress.yaml"
    assert 'admin.enabled: "false"' in bare.show(CM_PATH)
    assert "policy.csv: |\n    p, role:deployer" in bare.show("clusters/dev1/argocd/argocd-rbac-cm.yaml")
    assert yaml.safe_load(bare.show("clusters/dev1/projects/kustomization.yaml"))["resources"] == [
        "platform.yaml", "apps.yaml", "team-a.yaml"]
    # The generated repository's own checks render the patched upstream install and schema-check every object.
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", bare.url, str(checkout))
    green = run_validate(checkout, remote_cache(tmp_path))
    assert green.returncode == 0, green.stdout + green.stderr
    # Idempotent; check mode names the cluster a pending inventory change would change.
    again = run_module(base_args(bare.url, argocd_config=argocd_config(bare.url)))
    assert again["changed"] is False and again["clusters_changed"] == [] and bare.commit_count() == 1
    check = run_module(base_args(bare.url, argocd_config=argocd_config(bare.url, **{"exec.enabled": "true"})), check=True)
    assert check["changed"] and check["updated"] == [CM_PATH, ".gitops/managed.yaml"] and check["clusters_changed"] == ["dev1"]
    assert bare.commit_count() == 1


def test_git_edit_of_a_rendered_setting_is_kept_and_reported(bare, tmp_path):
    first = run_module(base_args(bare.url, argocd_config=argocd_config(bare.url)))
    assert first["changed"]
    edited = bare.show(CM_PATH).replace('admin.enabled: "false"', 'admin.enabled: "true"') + "\n"
    bare.push_change(tmp_path / "reviewer", {CM_PATH: edited}, message="enable the admin user (reviewed)")
    head = bare.head()
    expected = {"path": CM_PATH, "field": "data.admin.enabled", "inventory": "false", "repository": "true"}
    words = f"{CM_PATH} data.admin.enabled: Git has 'true' (kept), the inventory has 'false'"
    for dummy in range(2):
        r = run_module(base_args(bare.url, argocd_config=argocd_config(bare.url)))
        assert not r.failed, r.result
        assert r["changed"] is False and r["pushed"] is False and bare.head() == head
        assert r["disagreements"] == [expected] and r["conflicts"] == [CM_PATH] and r["clusters_changed"] == []
        assert sum(words in w for w in r.get("warnings", [])) == 1, r.get("warnings")
    assert bare.show(CM_PATH) + "\n" == edited

    # The inventory changes another key of the same file while Git's edit stands: the file stays as Git has it
    # (Git's edit holds the whole file, nothing is committed) and both differing keys are reported.
    r = run_module(base_args(bare.url, argocd_config=argocd_config(bare.url, **{"timeout.reconciliation": "30s"})))
    assert r["changed"] is False and bare.head() == head
    assert r["disagreements"] == [expected, {"path": CM_PATH, "field": "data.timeout.reconciliation",
                                             "inventory": "30s", "repository": "120s"}]
    assert 'timeout.reconciliation: "120s"' in bare.show(CM_PATH)

    # The inventory comes to agree with Git: no disagreement, no change.
    agree = argocd_config(bare.url, **{"admin.enabled": "true"})
    r = run_module(base_args(bare.url, argocd_config=agree))
    assert r["changed"] is False and r["conflicts"] == [] and r["disagreements"] == [] and bare.head() == head
    # Someone reformats the file (other key order, other quoting, no comments): same data, still no change.
    import yaml
    reformatted = "---\n" + yaml.safe_dump(yaml.safe_load(edited), sort_keys=True, default_style="'")
    bare.push_change(tmp_path / "formatter", {CM_PATH: reformatted}, message="reformat")
    head = bare.head()
    r = run_module(base_args(bare.url, argocd_config=agree))
    assert r["changed"] is False and r["conflicts"] == [] and r["disagreements"] == [] and bare.head() == head


def test_bad_argocd_config_fails_naming_the_entry_with_nothing_pushed(bare):
    config = argocd_config(bare.url)
    config["config_maps"]["argocd-cm"]["admin.enabled"] = False
    r = run_module(base_args(bare.url, argocd_config=config))
    assert r.failed and "config_maps.argocd-cm.admin.enabled must be a string" in r["msg"], r.result
    assert bare.head() is None
    config = argocd_config(bare.url)
    config["projects"][0]["metadata"]["name"] = "../escape"
    r = run_module(base_args(bare.url, argocd_config=config))
    assert r.failed and "projects[0] needs metadata.name" in r["msg"], r.result
    assert bare.head() is None


def test_role_renders_the_argocd_role_s_settings_and_reports_git_s_edits(bare, tmp_path):
    """The role's argocd_config built with the argocd role's own filters; a Git edit is printed naming both values
    and the run stays changed=0; propose without a forge is refused before anything changes."""
    import json
    import subprocess
    import sys
    from infra_repo_helpers import REPO_ROOT, ansible_env

    play = tmp_path / "play.yml"
    play.write_text("""---
- name: Infra repo with Argo CD's configuration
  hosts: localhost
  gather_facts: false
  vars:
    argo:
      admin_enabled: false
      reconciliation_timeout: 120s
      rbac_policy_default: ""
      rbac_scopes: [groups]
      rbac_policies: []
      rbac_groups: [{group: platform-admins, role: "role:admin"}]
    infra_repo_argocd_config:
      config_maps: "{{ argo | gitops.bootstrap.argocd_config_maps }}"
      projects: "{{ {'infra_repo_url': infra_repo_url, 'in_cluster_server': 'https://kubernetes.default.svc',
                     'projects': [{'name': 'team-a', 'source_repos': [infra_repo_url],
                                   'destinations': [{'server': 'https://kubernetes.default.svc', 'namespace': 'team-a'}]}]}
                   | gitops.bootstrap.argocd_role_projects | gitops.bootstrap.argocd_project_objects }}"
      objects: ["{{ {'host': 'argocd.example.test'} | gitops.bootstrap.argocd_ingress_object }}"]
  roles:
    - role: gitops.bootstrap.infra_repo
""")
    extra = {"infra_repo_url": bare.url, "infra_repo_cluster": "dev1", "infra_repo_apps": APPS,
             "ansible_python_interpreter": sys.executable}
    env = ansible_env()
    env["ANSIBLE_ROLES_PATH"] = os.path.join(REPO_ROOT, "roles")

    def play_run(**kw):
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", json.dumps(dict(extra, **kw)), str(play)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
        return proc, (json.loads(proc.stdout) if proc.stdout.lstrip().startswith("{") else None)

    def messages(out):
        found = []
        for task in out["plays"][0]["tasks"]:
            host = task["hosts"]["localhost"]
            found += [item.get("msg", "") for item in host.get("results", [])] + [host.get("msg", "")]
        return [m for m in found if m]

    proc, out = play_run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any("changes clusters dev1; Argo CD applies it" in m for m in messages(out)), messages(out)
    rendered = bare.show(CM_PATH)
    assert 'admin.enabled: "false"' in rendered and 'timeout.reconciliation: "120s"' in rendered
    assert "g, platform-admins, role:admin" in bare.show("clusters/dev1/argocd/argocd-rbac-cm.yaml")
    assert "platform-admins" not in bare.show("clusters/dev1/projects/team-a.yaml")
    assert "team-a.yaml" in bare.show("clusters/dev1/projects/kustomization.yaml")
    assert "argocd.example.test" in bare.show("clusters/dev1/argocd/ingress.yaml")

    bare.push_change(tmp_path / "reviewer", {CM_PATH: rendered.replace('admin.enabled: "false"', 'admin.enabled: "true"') + "\n"})
    head = bare.head()
    for dummy in range(2):
        proc, out = play_run()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert out["stats"]["localhost"]["changed"] == 0
        said = [m for m in messages(out) if "data.admin.enabled" in m]
        assert len(said) == 1 and f'{CM_PATH} data.admin.enabled: Git has "true" (kept, in {bare.url} on main), ' \
            'the inventory has "false" (not proposed: infra_repo_on_disagreement is report)' == said[0], said
    assert bare.head() == head

    proc, out = play_run(infra_repo_on_disagreement="propose")
    assert proc.returncode != 0
    assert "infra_repo_on_disagreement: propose opens a pull request with the inventory's values" in proc.stdout
    assert bare.head() == head
