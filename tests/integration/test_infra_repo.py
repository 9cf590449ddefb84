# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gitops.bootstrap.infra_repo against real git servers on loopback (file://, smart HTTP with
basic auth through git http-backend, OpenSSH sshd), driven through Ansible."""

from __future__ import absolute_import, division, print_function

import os
import time

import pytest

from gitservers import BareRepo, HttpGitServer, SshGitServer, git, free_port
from infra_repo_helpers import remote_cache, run_module, run_validate

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
    started = False
    if not kubeconfig:
        proc = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "hack", "localcluster.py"), "up", "repo1"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            pytest.fail("could not start the local cluster repo1:\n" + proc.stderr)
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
        subprocess.run([sys.executable, os.path.join(REPO_ROOT, "hack", "localcluster.py"), "down", "repo1"],
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
