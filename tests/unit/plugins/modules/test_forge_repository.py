# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""forge_repository as Ansible runs it: the real AnsibleModule, its argument spec, exit and fail.

Bad input must fail with one clear message before any call to the forge (the transport here
fails the test when it is called); secrets never reach the module's output.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from unittest import mock

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge import runner
from ansible_collections.gitops.bootstrap.plugins.modules import forge_repository

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "module_utils"))
from forge_replay import PUBLIC_KEY, SECRET, TOKEN, Replay, load  # noqa: E402

PRIVATE_HEADER = "-----BEGIN OPENSSH PRIVATE KEY-----"


def no_network(*args, **kwargs):
    raise AssertionError("the forge was called although the input is bad")


def run(capsys, args: dict, transport=no_network, check_mode=False, diff=False):
    params = {"forge": "gitea", "api_url": "http://gitea.test", "token": TOKEN, "owner": "platform-org",
              "name": "infra"}
    params.update(args)
    if check_mode:
        params["_ansible_check_mode"] = True
    if diff:
        params["_ansible_diff"] = True

    def with_transport(module):
        runner.run_module(module, transport=transport, sleep=lambda _: None)

    with patch_module_args(params), pytest.raises(SystemExit), \
            mock.patch.object(forge_repository, "run_module", with_transport):
        forge_repository.main()
    out = capsys.readouterr().out
    return json.loads(out), out


@pytest.mark.parametrize("args,words", [
    ({"webhook_url": "https://argocd.example.com/", "webhook_secret": SECRET}, "does not end in /api/webhook"),
    ({"webhook_url": "https://argocd.example.com/api/webhook", "webhook_secret": "short"}, "at least 16 characters"),
    ({"webhook_url": "ftp://argocd.example.com/api/webhook", "webhook_secret": SECRET}, "not an http:// or https:// URL"),
    ({"required_approvals": 0}, "at least one approval"),
    ({"push_allowlist_users": [""]}, "never means 'everyone'"),
    ({"api_url": None}, "api_url is required for forge=gitea"),
    ({"api_url": "https://user:pw@gitea.test"}, "must not carry credentials"),
    ({"owner": "../etc"}, "not a valid name"),
    ({"name": "infra.git"}, "not a valid name"),
    ({"webhook_test": True}, "webhook_test needs webhook_url"),
    ({"gitea_web_password": "pw-123456", "forge": "github", "api_url": None}, "only used with forge=gitea"),
    ({"deploy_key_path": "/nonexistent-dir-hh/key"}, "does not exist"),
    ({"timeout": 0}, "timeout must be between"),
])
def test_bad_input_fails_before_any_call(capsys, args, words):
    result, out = run(capsys, args)
    assert result["failed"] is True and words in result["msg"], result["msg"]
    assert TOKEN not in out


def test_private_key_given_as_public_key_is_refused_without_echo(capsys):
    secret_body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    result, out = run(capsys, {"deploy_key_public": f"{PRIVATE_HEADER}\n{secret_body}\n-----END OPENSSH PRIVATE KEY-----"})
    assert "holds a private key" in result["msg"]
    assert secret_body not in out


def test_key_file_readable_by_others_is_refused(capsys, tmp_path):
    path = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    os.chmod(path, 0o644)
    result, out = run(capsys, {"deploy_key_path": str(path)})
    assert "readable by other users" in result["msg"] and "chmod 600" in result["msg"]
    assert path.read_text().splitlines()[1] not in out


def test_required_together_and_mutually_exclusive_are_checked_by_ansible(capsys, tmp_path):
    result = run(capsys, {"webhook_url": "https://argocd.example.com/api/webhook"})[0]
    assert "webhook_secret" in result["msg"]
    result = run(capsys, {"deploy_key_public": "ssh-ed25519 AAAA", "deploy_key_path": str(tmp_path / "k")})[0]
    assert "mutually exclusive" in result["msg"]


def test_forge_errors_are_masked_and_carry_a_traceback(capsys, monkeypatch):
    from ansible.module_utils._internal import _traceback

    # Tracebacks enabled as a -vvv run enables them. Patch the switch itself: once any test has
    # imported the controller's display, it points at the controller's setting instead of the
    # module's cached events.
    monkeypatch.setattr(_traceback, "_is_traceback_enabled", lambda event: event == _traceback.TracebackEvent.ERROR)

    def echo_token(method, url, data, headers, timeout):
        return 401, {"content-type": "application/json"}, json.dumps(
            {"message": f"token {TOKEN} expired; secret {SECRET}"}).encode()

    result, out = run(capsys, {"webhook_url": "https://argocd.example.com/api/webhook", "webhook_secret": SECRET},
                      transport=echo_token)
    assert "rejected the token (HTTP 401" in result["msg"] and "expired" in result["msg"]
    assert result["error_type"] == "ForgeAuthError" and "Traceback" in result["exception"]
    assert result["changed"] is False and result["applied"] == []
    assert TOKEN not in out and SECRET not in out


def test_check_mode_with_a_key_file_to_generate_creates_nothing(capsys, tmp_path):
    path = tmp_path / "argocd"
    replay = Replay(load("gitea_create_check"), "http://gitea.test")
    result, out = run(capsys, {"deploy_key_path": str(path), "required_status_checks": ["validate"],
                               "webhook_url": "http://argocd.test:8080/api/webhook", "webhook_secret": SECRET},
                      transport=replay, check_mode=True, diff=True)
    replay.done()
    assert result["changed"] is True and not path.exists()
    assert result["actions"][0] == f"generate the ed25519 deploy key file {path}"
    assert result["deploy_key"]["generated"] is True and result["deploy_key"]["fingerprint"] is None
    assert result["diff"]["after"]["webhook"]["secret"] == "<hidden, changed>"
    assert result["argocd_secret_key"] == "webhook.gogs.secret"
    assert SECRET not in out and TOKEN not in out


def test_rerun_returns_no_diff_without_diff_mode(capsys, tmp_path):
    path = tmp_path / "argocd"
    replay = Replay(load("gitea_rerun"), "http://gitea.test")
    # the recorded key is public only; a rerun with the public key changes nothing
    result = run(capsys, {"deploy_key_public": PUBLIC_KEY, "required_status_checks": ["validate"],
                          "webhook_url": "http://argocd.test:8080/api/webhook", "webhook_secret": SECRET},
                 transport=replay)[0]
    replay.done()
    assert result["changed"] is False and "diff" not in result
    assert result["repository"]["full_name"] == "platform-org/infra"
    assert not path.exists()


def test_generated_key_file_is_private(tmp_path):
    from ansible_collections.gitops.bootstrap.plugins.module_utils._forge import sshkey

    path = tmp_path / "argocd"
    public = sshkey.generate(str(path), "argocd")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().startswith(PRIVATE_HEADER)
    assert public.startswith("ssh-ed25519 ") and public.endswith(" argocd")
    assert sshkey.public_key_of(str(path), "argocd") == public
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True, check=True).stdout
    assert derived.split()[:2] == public.split()[:2]
    with pytest.raises(Exception, match="appeared"):
        sshkey.generate(str(path), "argocd")  # never overwrites


def test_passphrase_protected_key_is_named(tmp_path):
    from ansible_collections.gitops.bootstrap.plugins.module_utils._forge import sshkey

    path = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a-passphrase", "-f", str(path)], check=True)
    with pytest.raises(Exception, match="encrypted with a passphrase"):
        sshkey.public_key_of(str(path))
