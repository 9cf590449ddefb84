# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credential plumbing and error messages of the git helper."""


import os
import stat
import time

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _git as G


@pytest.mark.parametrize("url, remote", [
    ("ssh://git@host:2222/x.git", True), ("git@github.com:org/x.git", True), ("https://h/x.git", True),
    ("file:///srv/x.git", True), ("/srv/infra", False), ("infra", False), ("./a:b", False),
])
def test_is_remote_url(url, remote):
    assert G.is_remote_url(url) is remote


def test_url_with_token_is_refused():
    with pytest.raises(G.GitError, match="https_token"):
        G.check_url_has_no_secret("https://user:tok@host/x.git")
    G.check_url_has_no_secret("https://user@host/x.git")


def test_auth_env_keeps_secrets_out_of_files_and_command(tmp_path):
    auth = G.GitAuth(str(tmp_path), ssh_private_key="KEYDATA", ssh_known_hosts=["[h]:22 ssh-ed25519 AAA"],
                     https_token="TOKEN", https_username="x-access-token")
    env = auth.env()
    assert env["GITOPS_GIT_PASSWORD"] == "TOKEN"
    askpass = env["GIT_ASKPASS"]
    assert "TOKEN" not in open(askpass).read()
    assert stat.S_IMODE(os.stat(askpass).st_mode) == 0o700
    key = os.path.join(str(tmp_path), "id_deploy")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    cmd = env["GIT_SSH_COMMAND"]
    assert "StrictHostKeyChecking=yes" in cmd and "KEYDATA" not in cmd and "IdentitiesOnly=yes" in cmd
    assert "UserKnownHostsFile=%s" % os.path.join(str(tmp_path), "known_hosts") in cmd


def test_mask_hides_token_in_git_output(tmp_path):
    auth = G.GitAuth(str(tmp_path), https_token="TOKEN")
    git = G.Git(lambda cmd, cwd=None, env=None, data=None, timeout=None: (1, b"", b"fatal: https://TOKEN@h failed"),
                str(tmp_path), auth)
    with pytest.raises(G.GitError) as e:
        git.run(["fetch"], "fetching")
    assert "TOKEN" not in str(e.value) and "********" in str(e.value)


@pytest.mark.parametrize("err, hint", [
    ("Host key verification failed.", "host key"),
    ("git@h: Permission denied (publickey).", "refused the credentials"),
    ("fatal: Authentication failed for 'http://h/x'", "refused the credentials"),
    ("ssh: connect to host h port 1: Connection refused", "cannot be reached"),
    ("fatal: '/x.git' does not appear to be a git repository", "does not exist"),
])
def test_remote_errors_say_what_to_do(err, hint):
    assert hint in G.describe_remote_error("u", err)


# ---------------------------------------------------------------------------- isolation
def test_every_command_pins_the_settings_that_change_the_result(tmp_path):
    git = G.Git(None, str(tmp_path), G.GitAuth(str(tmp_path)), timeout=7)
    cmd = git.command(["status"])
    settings = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-c"]
    for setting in ("core.autocrlf=false", "core.eol=lf", "core.hooksPath=/dev/null", "core.attributesFile=/dev/null",
                    "commit.gpgSign=false", "init.defaultBranch=main", "http.lowSpeedLimit=1", "http.lowSpeedTime=7",
                    "user.name=gitops.bootstrap"):
        assert setting in settings, setting
    assert cmd[-1] == "status"


def test_environment_drops_the_callers_git_variables(tmp_path, monkeypatch):
    for name, value in (("GIT_DIR", "/elsewhere"), ("GIT_AUTHOR_NAME", "someone"), ("GIT_CONFIG_PARAMETERS", "'a.b=c'"),
                        ("GIT_INDEX_FILE", "/tmp/index"), ("SSH_ASKPASS", "/bin/true")):
        monkeypatch.setenv(name, value)
    git = G.Git(None, str(tmp_path), G.GitAuth(str(tmp_path), connect_timeout=5), author_name="bot")
    env = git.environ()
    assert "GIT_DIR" not in env and "GIT_INDEX_FILE" not in env and "GIT_CONFIG_PARAMETERS" not in env
    assert "SSH_ASKPASS" not in env
    assert env["GIT_AUTHOR_NAME"] == env["GIT_COMMITTER_NAME"] == "bot"
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert "ConnectTimeout=5" in env["GIT_SSH_COMMAND"] and "ServerAliveInterval=5" in env["GIT_SSH_COMMAND"]
    assert env["PATH"] == os.environ["PATH"]


# ---------------------------------------------------------------------------- timeouts
def test_run_process_kills_the_whole_process_group_on_timeout(tmp_path):
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    with pytest.raises(G.GitTimeout):
        G.run_process(["sh", "-c", "sleep 60 & echo $! > %s; wait" % pidfile], timeout=1)
    assert time.monotonic() - start < 10
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the child of the timed-out command still runs")


def test_timeout_message_names_the_server_and_the_option(tmp_path):
    def hang(cmd, cwd=None, env=None, data=None, timeout=None):
        raise G.GitTimeout("x")

    git = G.Git(hang, str(tmp_path), G.GitAuth(str(tmp_path)), timeout=9)
    with pytest.raises(G.GitTimeout, match=r"the server git\.example\.com:2222 did not answer within 9 s.*raise the option timeout"):
        git.fetch("ssh://git@git.example.com:2222/infra.git")
    with pytest.raises(G.GitTimeout, match=r"committing: git did not finish within 9 s; raise the option timeout"):
        git.run(["commit"], "committing")


@pytest.mark.parametrize("url, server", [
    ("ssh://git@h.example:2222/x.git", "h.example:2222"), ("git@github.com:org/x.git", "github.com:22"),
    ("https://h.example/x.git", "h.example:443"), ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
    ("https://[::1]:8443/x", "[::1]:8443"), ("file:///srv/x.git", "/srv/x.git"),
])
def test_server_of(url, server):
    assert G.server_of(url) == server


# ---------------------------------------------------------------------------- messages
def test_error_keeps_the_cause_not_only_the_last_line():
    err = ("fatal: '/srv/x.git' does not appear to be a git repository\n"
           "fatal: Could not read from remote repository.\n\n"
           "Please make sure you have the correct access rights\nand the repository exists.\n")
    msg = G.describe_remote_error("ssh://h/srv/x.git", err)
    assert "does not appear to be a git repository" in msg
    assert "Could not read from remote repository. Please make sure you have the correct access rights and the " \
           "repository exists." in msg
    assert "the repository does not exist at that URL" in msg


def test_explain_drops_hints_and_bounds_the_length():
    text = "hint: try this\nhint: or that\nerror: failed to push some refs to 'x'\n" + "remote: noise\n" * 500
    out = G.explain(text)
    assert "hint" not in out and out.startswith("error: failed to push some refs")
    assert len(out) <= 2000


def test_run_error_masks_secrets_in_every_line(tmp_path):
    auth = G.GitAuth(str(tmp_path), https_token="TOKEN")
    git = G.Git(lambda cmd, cwd=None, env=None, data=None, timeout=None: (
        128, b"", b"fatal: unable to access 'https://x:TOKEN@h/': 403\nerror: TOKEN rejected\n"), str(tmp_path), auth)
    with pytest.raises(G.GitError) as e:
        git.run(["fetch"], "fetching")
    assert "TOKEN" not in str(e.value) and "403" in str(e.value) and "rejected" in str(e.value)
