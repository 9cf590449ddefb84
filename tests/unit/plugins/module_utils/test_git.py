# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credential plumbing and error messages of the git helper."""

from __future__ import absolute_import, division, print_function

import os
import stat

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
