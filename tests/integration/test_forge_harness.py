# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test forge is a real one: Gitea answers, its users and tokens are what the harness says,
private repositories stay private, and a protected branch refuses a direct push over smart HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from forge import MASK, ForgeAPIError, ForgeClient


def test_server_answers_on_loopback(forge):
    assert forge.base_url.startswith("http://127.0.0.1:")
    assert forge.anonymous().get("/version")["version"] == "1.26.0"
    assert forge.server.alive()


def test_three_users_with_their_admin_flags_and_tokens(forge):
    expected = {"forge-admin": True, "platform": False, "developer": False}
    for name, is_admin in expected.items():
        assert forge.get_user(name)["is_admin"] is is_admin, name
        # Each token authenticates as its own user.
        assert forge.users[name].client.get("/user")["login"] == name
    assert (forge.admin.admin, forge.platform.admin, forge.developer.admin) == (True, False, False)
    # A token the forge did not issue is refused: authentication is real.
    with pytest.raises(ForgeAPIError) as err:
        ForgeClient(forge.base_url, token="0" * 40).get("/user")
    assert err.value.status == 401
    # Only the administrator reaches the admin API.
    with pytest.raises(ForgeAPIError) as err:
        forge.platform.client.get("/admin/users")
    assert err.value.status == 403
    # Tokens never show in what a failing test prints (booleans only here, so a failure shows none).
    leaked = [u.name for u in forge.users.values()
              if u.token in repr(u) or u.password in repr(u) or forge.scrub(f"token {u.token}") != f"token {MASK}"]
    assert not leaked


def test_platform_user_creates_a_private_repository(forge, forge_org):
    repo = forge.create_repo(forge_org, forge.unique("infra"))
    data = forge.get_repo(repo)
    assert data["private"] is True
    assert data["owner"]["login"] == forge_org
    assert data["default_branch"] == "main"
    # Private: neither anonymous callers nor a user without access see it.
    for client in (forge.anonymous(), forge.developer.client):
        with pytest.raises(ForgeAPIError) as err:
            client.get(f"/repos/{repo}")
        assert err.value.status == 404


def test_protected_branch_refuses_a_direct_push_of_the_developer(forge, forge_org, forge_tmp):
    repo = forge.create_repo(forge_org, forge.unique("infra"))
    forge.add_collaborator(repo, forge.developer.name, "write")
    wc = forge.clone(repo, os.path.join(forge_tmp, "wc"), forge.developer)

    # Before any rule the developer may push to main: the refusal below is the rule's doing.
    with open(os.path.join(wc, "first.txt"), "w", encoding="utf-8") as fh:
        fh.write("first\n")
    forge.git(forge.developer, "add", "first.txt", cwd=wc)
    forge.git(forge.developer, "commit", "-q", "-m", "first", cwd=wc)
    forge.git(forge.developer, "push", "-q", "origin", "main", cwd=wc)
    assert forge.branch_sha(repo) == forge.git(None, "rev-parse", "HEAD", cwd=wc).stdout.strip()

    rule = forge.protect_branch(repo, "main", enable_push=False, required_approvals=1)
    assert rule["rule_name"] == "main" and rule["enable_push"] is False
    assert [r["rule_name"] for r in forge.branch_protections(repo)] == ["main"]
    protected_sha = forge.branch_sha(repo)

    with open(os.path.join(wc, "second.txt"), "w", encoding="utf-8") as fh:
        fh.write("second\n")
    forge.git(forge.developer, "add", "second.txt", cwd=wc)
    forge.git(forge.developer, "commit", "-q", "-m", "second", cwd=wc)
    refused = forge.git(forge.developer, "push", "origin", "main", cwd=wc, check=False)
    assert refused.returncode != 0
    assert "protected branch" in refused.stderr.lower(), refused.stderr
    assert forge.branch_sha(repo) == protected_sha
    # git's output passed through the scrubber without a hit: the token was never in a URL.
    assert MASK not in refused.stderr

    # The same commit on a branch of its own is accepted: only main is protected.
    branch = forge.unique("change")
    forge.git(forge.developer, "push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=wc)
    assert forge.branch_sha(repo, branch) == forge.git(None, "rev-parse", "HEAD", cwd=wc).stdout.strip()


class _Receiver(BaseHTTPRequestHandler):
    received: list

    def do_POST(self):  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append({"event": self.headers.get("X-Gitea-Event"), "body": json.loads(body or b"{}")})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_review_status_checks_webhook_and_deploy_key_helpers(forge, forge_org, forge_tmp):
    """The helpers the forge tests build on: approvals, required statuses, merge, webhook deliveries."""
    repo = forge.create_repo(forge_org, forge.unique("infra"))
    forge.add_collaborator(repo, forge.developer.name, "write")
    forge.protect_branch(repo, "main", enable_push=False, required_approvals=1, enable_status_check=True,
                         status_check_contexts=["ci/validate"], dismiss_stale_approvals=True)

    received: list = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        secret = "webhook-secret-" + forge.unique("s")
        hook = forge.create_webhook(repo, f"http://127.0.0.1:{server.server_address[1]}/api/webhook", secret=secret)
        # A second hook to a loopback port nobody listens on: its deliveries are recorded as failed.
        closed = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        closed_port = closed.server_address[1]
        closed.server_close()
        dead_hook = forge.create_webhook(repo, f"http://127.0.0.1:{closed_port}/api/webhook", secret=secret)

        branch = forge.unique("change")
        sha = forge.commit_files(repo, {"apps/app.yaml": "kind: Test\n"}, branch="main", new_branch=branch,
                                 as_user=forge.developer)
        pull = forge.open_pull(repo, branch, title="Add an app")
        assert pull["head"]["sha"] == sha

        refused = forge.merge_pull(repo, pull["number"], check=False)
        assert refused.status in (405, 409), refused
        forge.approve_pull(repo, pull["number"])
        refused = forge.merge_pull(repo, pull["number"], check=False)
        assert refused.status in (405, 409), "merged without the required status check"
        forge.set_commit_status(repo, sha, "success", "ci/validate", as_user=forge.developer)
        forge.merge_pull(repo, pull["number"])
        assert forge.get_pull(repo, pull["number"])["merged"] is True

        deliveries = forge.wait_for_deliveries(hook["id"], count=2)
        assert all(d["succeeded"] and d["status"] == 200 for d in deliveries), [d["response"] for d in deliveries]
        assert {d["event"] for d in deliveries} == {"push"}
        assert any(r["body"].get("ref") == "refs/heads/main" for r in received)
        assert all(secret not in json.dumps(d) for d in deliveries)
        failed = forge.wait_for_deliveries(dead_hook["id"], count=2)
        assert not any(d["succeeded"] for d in failed)
        assert all(d["status"] == 0 and "connection refused" in d["response"]["body"] for d in failed), failed
    finally:
        server.shutdown()
        server.server_close()

    # A read-only deploy key clones over the built-in SSH server (host key pinned) and cannot push.
    key_path = os.path.join(forge_tmp, "deploy_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "argocd", "-f", key_path], check=True, timeout=60)
    with open(key_path + ".pub", encoding="utf-8") as fh:
        key = forge.add_deploy_key(repo, "argocd", fh.read().strip())
    assert key["read_only"] is True
    assert forge.ssh_known_hosts().startswith(f"[127.0.0.1]:{forge.ssh_port} ssh-ed25519 ")
    wc = os.path.join(forge_tmp, "ssh-wc")
    forge.git_ssh(key_path, "clone", "--quiet", forge.ssh_url(repo), wc)
    assert os.path.isfile(os.path.join(wc, "apps", "app.yaml"))
    pushed = forge.git_ssh(key_path, "push", "origin", "HEAD:refs/heads/by-deploy-key", cwd=wc, check=False)
    assert pushed.returncode != 0
    assert "is not authorized to write" in pushed.stderr, pushed.stderr
