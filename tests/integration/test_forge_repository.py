# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gitops.bootstrap.forge_repository against a real Gitea (tests/integration/forge.py).

Every assertion about the forge reads the forge back through its API (or, for webhook
deliveries, the forge's own delivery records); the module's own report is never taken as proof.
The webhook receiver checks the signature the way Argo CD's webhook handler does for Gogs
events (``X-Gogs-Signature``, HMAC-SHA256 of the body), so a delivery only succeeds with the
right secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, run_playbook
from forge import FORGE_REPOSITORY_PLAY as PLAY

MODULE = "gitops.bootstrap.forge_repository"


class ArgoReceiver:
    """A loopback stand-in for Argo CD's /api/webhook that verifies Gogs signatures."""

    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                want = hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                ok = self.path == "/api/webhook" and hmac.compare_digest(want, self.headers.get("X-Gogs-Signature", ""))
                receiver.received.append({"event": self.headers.get("X-Gogs-Event"), "ok": ok})
                self.send_response(200 if ok else 400)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"Webhook processing failed: HMAC verification failed")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/webhook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(forge):
    secret = forge.remember_secret("whsec-" + os.urandom(12).hex())
    recv = ArgoReceiver(secret)
    yield recv
    recv.close()


@pytest.fixture
def keydir():
    with tempfile.TemporaryDirectory(prefix="hh-keys-") as path:
        yield path


def free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def module_args(forge, org, name, user=None, **extra) -> dict:
    user = user or forge.platform
    args = {"forge": "gitea", "api_url": forge.base_url, "token": user.token, "owner": org, "name": name,
            "timeout": 10}
    args.update(extra)
    return args


def run(args: dict, check: bool = False, diff: bool = True, verbosity: str | None = None):
    if verbosity:
        return run_verbose(args, verbosity, check=check)
    return run_playbook(PLAY, extra_vars={"forge_args": args}, check=check, diff=diff)


def run_verbose(args: dict, verbosity: str, check: bool = False) -> subprocess.CompletedProcess:
    """ansible-playbook with the default callback at -vvv: the full text a user would see."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        fh.write(PLAY)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as vars_file:
        json.dump({"forge_args": args}, vars_file)
    try:
        cmd = ["ansible-playbook", fh.name, "-i", "localhost,", "-c", "local", "--diff", verbosity,
               "-e", f"@{vars_file.name}"] + (["--check"] if check else [])
        env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1",
                   ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOCALHOST_WARNING="false")
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                              timeout=300, check=False)
    finally:
        os.unlink(fh.name)
        os.unlink(vars_file.name)


def result_of(res) -> dict:
    return res.task_result("forge repository")


def rules(forge, repo) -> list[dict]:
    return forge.admin.client.get(f"/repos/{repo}/branch_protections")


def hooks(forge, repo) -> list[dict]:
    return forge.admin.client.get(f"/repos/{repo}/hooks")


def keys(forge, repo) -> list[dict]:
    return forge.admin.client.get(f"/repos/{repo}/keys")


def forge_state(forge, repo) -> dict:
    """Everything the module may touch, as the forge reports it (timestamps dropped)."""
    repo_data = forge.admin.client.request("GET", f"/repos/{repo}", expect=(200, 404))
    if repo_data.status == 404:
        return {"repo": None}

    def strip(items):
        return [{k: v for k, v in i.items() if k not in ("updated_at", "created_at")} for i in items]

    return {"repo": {k: repo_data.data[k] for k in ("private", "default_branch", "empty")},
            "rules": strip(rules(forge, repo)), "hooks": strip(hooks(forge, repo)), "keys": strip(keys(forge, repo))}


# ------------------------------------------------------------------------------------ the happy path

def test_new_repository_protected_keyed_and_hooked_then_rerun_is_noop(forge, forge_org, receiver, keydir):
    name = "infra"
    repo = f"{forge_org}/{name}"
    key_path = os.path.join(keydir, "argocd")
    args = module_args(forge, forge_org, name, required_status_checks=["validate", "dry-run"],
                       deploy_key_path=key_path, webhook_url=receiver.url, webhook_secret=receiver.secret,
                       gitea_web_password=forge.platform.password)

    first = run(args)
    assert first.failures() == 0, first
    res = result_of(first)
    assert res["changed"] is True
    assert res["argocd_secret_key"] == "webhook.gogs.secret"
    assert res["repository"]["created"] is True

    # The forge: a private repository, one rule named after the default branch with our policy.
    data = forge.get_repo(repo)
    assert data["private"] is True and data["default_branch"] == "main"
    (rule,) = rules(forge, repo)
    assert rule["rule_name"] == "main"
    assert rule["enable_push"] is False
    assert rule["required_approvals"] == 1
    assert rule["dismiss_stale_approvals"] is True
    assert rule["enable_status_check"] is True and rule["status_check_contexts"] == ["validate", "dry-run"]
    assert rule["block_on_official_review_requests"] is True

    # The key file: generated, private, its public half registered read-only.
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    public = subprocess.run(["ssh-keygen", "-y", "-f", key_path], capture_output=True, text=True, check=True).stdout
    (key,) = keys(forge, repo)
    assert key["title"] == "argocd" and key["read_only"] is True
    assert key["key"].split()[:2] == public.split()[:2]
    assert res["deploy_key"]["generated"] is True and res["deploy_key"]["read_only"] is True

    # The webhook: push events to the receiver, delivered and verified with the secret.
    (hook,) = hooks(forge, repo)
    assert hook["config"]["url"] == receiver.url and hook["events"] == ["push"] and hook["active"]
    assert "fp1." in hook["name"]
    deliveries = forge.wait_for_deliveries(hook["id"], 1)
    assert deliveries[0]["succeeded"] is True
    assert receiver.received and receiver.received[-1]["ok"] is True
    assert res["webhook"]["delivery"]["status"] == "ok"
    assert res["webhook"]["delivery"]["status_code"] == 200

    # The private key never appears in what the module returned.
    private_text = open(key_path, encoding="ascii").read()
    body = private_text.split("-----")[2].strip().splitlines()[1]
    assert body not in first.stdout and body not in first.stderr

    before = forge_state(forge, repo)
    second = run(args)
    assert second.failures() == 0, second
    assert second.changed() == 0, result_of(second)["actions"]
    assert forge_state(forge, repo) == before
    assert len(forge.hook_deliveries(hook["id"])) == len(deliveries)


def test_direct_push_refused_and_pull_request_path_open(forge, forge_org, forge_tmp):
    repo = forge.create_repo(forge_org, "infra")
    forge.add_collaborator(repo, forge.developer.name, "write")
    res = run(module_args(forge, forge_org, "infra"))
    assert res.failures() == 0, res

    wc = forge.clone(repo, os.path.join(forge_tmp, "wc"), forge.developer)
    with open(os.path.join(wc, "cluster.yaml"), "w") as fh:
        fh.write("kind: Nothing\n")
    forge.git(forge.developer, "add", "cluster.yaml", cwd=wc)
    forge.git(forge.developer, "commit", "-qm", "straight to main", cwd=wc)
    pushed = forge.git(forge.developer, "push", "origin", "HEAD:main", cwd=wc, check=False)
    assert pushed.returncode != 0
    assert "protected" in pushed.stderr.lower()
    # a branch for a pull request is fine
    forge.git(forge.developer, "push", "origin", "HEAD:refs/heads/change", cwd=wc)


# ------------------------------------------------------------------------------------ check mode

def test_check_mode_changes_nothing_on_the_forge(forge, forge_org, receiver, keydir):
    key_path = os.path.join(keydir, "argocd")
    args = module_args(forge, forge_org, "infra", deploy_key_path=key_path, webhook_url=receiver.url,
                       webhook_secret=receiver.secret, required_status_checks=["validate"])
    planned = run(args, check=True)
    assert planned.failures() == 0, planned
    res = result_of(planned)
    assert res["changed"] is True
    assert any("create private repository" in a for a in res["actions"])
    assert forge_state(forge, f"{forge_org}/infra") == {"repo": None}
    assert not os.path.exists(key_path)

    # an existing repository with drift: reported, nothing written
    repo = forge.create_repo(forge_org, "adopted")
    forge.protect_branch(repo, "main", enable_push=True, required_approvals=0)
    before = forge_state(forge, repo)
    planned = run(module_args(forge, forge_org, "adopted", deploy_key_path=key_path, webhook_url=receiver.url,
                              webhook_secret=receiver.secret, protection_conflict="replace"), check=True)
    assert planned.failures() == 0, planned
    res = result_of(planned)
    assert res["changed"] is True
    assert res["diff"]["before"]["branch_protection"]["direct_push"] == "everyone"
    assert res["diff"]["after"]["branch_protection"]["direct_push"] == "nobody"
    assert forge_state(forge, repo) == before
    assert not receiver.received


# ------------------------------------------------------------------------------------ adoption and merge

def test_existing_repository_adopted_stricter_rules_kept_visibility_reported(forge, forge_org):
    repo = forge.create_repo(forge_org, "public-infra", private=False)
    forge.protect_branch(repo, "main", required_approvals=3, enable_status_check=True,
                         status_check_contexts=["lint"], block_on_rejected_reviews=True)
    forge.protect_branch(repo, "release/*", required_approvals=2)
    res = run(module_args(forge, forge_org, "public-infra", required_status_checks=["validate"]))
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["mismatches"] == [{"setting": "visibility", "live": "public", "wanted": "private"}]
    assert forge.get_repo(repo)["private"] is False  # never changed behind the user's back
    by_name = {r["rule_name"]: r for r in rules(forge, repo)}
    assert set(by_name) == {"main", "release/*"}
    main = by_name["main"]
    assert main["required_approvals"] == 3
    assert sorted(main["status_check_contexts"]) == ["lint", "validate"]
    assert main["block_on_rejected_reviews"] is True
    assert main["dismiss_stale_approvals"] is True
    assert by_name["release/*"]["required_approvals"] == 2
    assert run(module_args(forge, forge_org, "public-infra", required_status_checks=["validate"])).changed() == 0


def test_pattern_rule_seeds_the_branch_rule_which_takes_effect(forge, forge_org):
    repo = forge.create_repo(forge_org, "globbed")
    forge.protect_branch(repo, "*", required_approvals=2, block_on_rejected_reviews=True)
    res = run(module_args(forge, forge_org, "globbed"))
    assert res.failures() == 0, res
    by_name = {r["rule_name"]: r for r in rules(forge, repo)}
    assert set(by_name) == {"*", "main"}
    assert by_name["main"]["required_approvals"] == 2 and by_name["main"]["block_on_rejected_reviews"] is True
    branch = forge.admin.client.get(f"/repos/{repo}/branches/main")
    assert branch["effective_branch_protection_name"] == "main"
    assert run(module_args(forge, forge_org, "globbed")).changed() == 0


def test_conflicting_rule_reported_and_kept_then_replaced_on_request(forge, forge_org):
    repo = forge.create_repo(forge_org, "open")
    forge.protect_branch(repo, "main", enable_push=True, enable_push_whitelist=False)
    res = run(module_args(forge, forge_org, "open"))
    assert res.failures() == 0, res
    out = result_of(res)
    assert [c["setting"] for c in out["conflicts"]] == ["direct_push"]
    assert out["conflicts"][0]["action"] == "kept"
    assert any("direct" in w for w in out.get("warnings", []))
    (rule,) = rules(forge, repo)
    assert rule["enable_push"] is True and rule["enable_push_whitelist"] is False  # not silently replaced
    assert rule["required_approvals"] == 1  # the rest of the policy applied

    res = run(module_args(forge, forge_org, "open", protection_conflict="replace"))
    assert res.failures() == 0, res
    (rule,) = rules(forge, repo)
    assert rule["enable_push"] is False


def test_push_allowlist_checked_against_write_access(forge, forge_org):
    repo = forge.create_repo(forge_org, "allow")
    forge.add_collaborator(repo, forge.developer.name, "read")
    before = forge_state(forge, repo)
    res = run(module_args(forge, forge_org, "allow", push_allowlist_users=[forge.developer.name]))
    assert res.failures() == 1
    msg = " ".join(res.failed_msgs())
    assert f"'{forge.developer.name}' has read access" in msg and "Nothing was changed" in msg
    assert forge_state(forge, repo) == before

    forge.add_collaborator(repo, forge.developer.name, "write")
    res = run(module_args(forge, forge_org, "allow", push_allowlist_users=[forge.developer.name]))
    assert res.failures() == 0, res
    (rule,) = rules(forge, repo)
    assert rule["enable_push"] is True and rule["enable_push_whitelist"] is True
    assert rule["push_whitelist_usernames"] == [forge.developer.name]


# ------------------------------------------------------------------------------------ deploy key

def test_deploy_key_conflicts_refused_then_replaced(forge, forge_org, keydir):
    repo = forge.create_repo(forge_org, "keys")
    other = os.path.join(keydir, "other")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
    forge.add_deploy_key(repo, "argocd", open(other + ".pub").read())
    ours = os.path.join(keydir, "ours")
    args = module_args(forge, forge_org, "keys", deploy_key_path=ours)

    before = forge_state(forge, repo)
    res = run(args)
    assert res.failures() == 1
    assert "titled 'argocd' already exists with another key" in " ".join(res.failed_msgs())
    assert forge_state(forge, repo) == before and not os.path.exists(ours)

    res = run(dict(args, deploy_key_conflict="replace"))
    assert res.failures() == 0, res
    (key,) = keys(forge, repo)
    public = subprocess.run(["ssh-keygen", "-y", "-f", ours], capture_output=True, text=True, check=True).stdout
    assert key["key"].split()[:2] == public.split()[:2] and key["read_only"] is True

    # our key registered with write access: refused, then fixed on request
    forge.admin.client.delete(f"/repos/{repo}/keys/{key['id']}")
    forge.add_deploy_key(repo, "argocd", public, read_only=False)
    res = run(dict(args))
    assert res.failures() == 1 and "with write access" in " ".join(res.failed_msgs())
    assert keys(forge, repo)[0]["read_only"] is False
    res = run(dict(args, deploy_key_conflict="replace"))
    assert res.failures() == 0, res
    (key,) = keys(forge, repo)
    assert key["read_only"] is True
    assert run(args).changed() == 0


# ------------------------------------------------------------------------------------ webhook

def test_webhook_secret_change_applied_and_verified(forge, forge_org, receiver):
    name = "hooked"
    forge.create_repo(forge_org, name)
    repo = f"{forge_org}/{name}"
    args = module_args(forge, forge_org, name, webhook_url=receiver.url, webhook_secret=receiver.secret,
                       gitea_web_password=forge.platform.password)
    assert run(args).failures() == 0
    (old,) = hooks(forge, repo)

    new_secret = forge.remember_secret("whsec-new-" + os.urandom(12).hex())
    receiver.secret = new_secret
    res = run(dict(args, webhook_secret=new_secret))
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["changed"] is True and out["webhook"]["delivery"]["status"] == "ok"
    (new,) = hooks(forge, repo)
    assert new["id"] != old["id"]  # Gitea's API cannot change a secret: the webhook was replaced
    assert forge.wait_for_deliveries(new["id"], 1)[-1]["succeeded"] is True
    assert run(dict(args, webhook_secret=new_secret)).changed() == 0

    # the old secret no longer verifies: a run with it rewrites the webhook, and Argo CD
    # (here the receiver, which knows only the new secret) refuses the test delivery
    res = run(args)
    assert res.failures() == 1
    msg = " ".join(res.failed_msgs())
    assert "HTTP 400" in msg and "HMAC verification failed" in msg


def test_undeliverable_webhook_url_reported_and_nothing_left(forge, forge_org):
    repo = forge.create_repo(forge_org, "nowhere")
    url = f"http://127.0.0.1:{free_closed_port()}/api/webhook"
    res = run(module_args(forge, forge_org, "nowhere", webhook_url=url, webhook_secret="s" * 24,
                          gitea_web_password=forge.platform.password))
    assert res.failures() == 1
    msg = " ".join(res.failed_msgs())
    assert "could not deliver the test push" in msg and "connection refused" in msg
    assert hooks(forge, repo) == []  # the new webhook was removed again


def test_webhook_test_without_web_password_is_reported_unknown(forge, forge_org, receiver):
    forge.create_repo(forge_org, "blind")
    res = run(module_args(forge, forge_org, "blind", webhook_url=receiver.url, webhook_secret=receiver.secret))
    assert res.failures() == 0, res
    out = result_of(res)
    assert out["webhook"]["delivery"]["status"] == "unknown"
    assert any("does not report deliveries" in w for w in out.get("warnings", []))


# ------------------------------------------------------------------------------------ bad input

def test_wrong_token_is_one_clear_message(forge, forge_org):
    res = run(module_args(forge, forge_org, "infra", token="0" * 40))
    assert res.failures() == 1
    (msg,) = res.failed_msgs()
    assert "rejected the token (HTTP 401" in msg and "not expired" in msg
    assert forge_state(forge, f"{forge_org}/infra") == {"repo": None}


def test_revoked_token_is_refused_like_a_wrong_one(forge, forge_org):
    name = forge.unique("token")
    token = forge.token_for(forge.platform, ["write:repository", "read:user", "write:organization"], name)
    forge.client(basic=(forge.platform.name, forge.platform.password)).delete(
        f"/users/{forge.platform.name}/tokens/{name}")
    res = run(dict(module_args(forge, forge_org, "infra"), token=token))
    assert res.failures() == 1
    (msg,) = res.failed_msgs()
    assert "rejected the token (HTTP 401" in msg and "revoked" in msg


def test_token_without_write_scope_names_the_scope_and_changes_nothing(forge, forge_org):
    repo = forge.create_repo(forge_org, "scoped")
    forge.protect_branch(repo, "main", enable_push=True)
    before = forge_state(forge, repo)
    token = forge.token_for(forge.platform, ["read:repository", "read:user", "read:organization"])
    res = run(dict(module_args(forge, forge_org, "scoped"), token=token))
    assert res.failures() == 1
    (msg,) = res.failed_msgs()
    assert "HTTP 403" in msg and "write:repository" in msg and "scope" in msg
    assert forge_state(forge, repo) == before


def test_missing_owner_is_named(forge):
    res = run(module_args(forge, "no-such-org-hh", "infra"))
    assert res.failures() == 1
    (msg,) = res.failed_msgs()
    assert "owner 'no-such-org-hh' does not exist" in msg


def test_unreachable_forge_closed_port(forge, forge_org):
    args = module_args(forge, forge_org, "infra", api_url=f"http://127.0.0.1:{free_closed_port()}")
    res = run(args)
    assert res.failures() == 1
    (msg,) = res.failed_msgs()
    assert "cannot reach Gitea" in msg and "connection refused" in msg


def test_silent_forge_times_out_within_the_bound(forge_org, forge):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections in the kernel, never answers
    try:
        args = module_args(forge, forge_org, "infra", api_url=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=3)
        start = time.monotonic()
        res = run(args)
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert res.failures() == 1
    (msg,) = res.failed_msgs()
    assert "did not answer within 3 s" in msg
    assert elapsed < 60


def test_token_without_admin_rights_names_the_permission(forge, forge_org):
    repo = forge.create_repo(forge_org, "not-mine")
    forge.add_collaborator(repo, forge.developer.name, "write")
    before = forge_state(forge, repo)
    res = run(module_args(forge, forge_org, "not-mine", user=forge.developer))
    assert res.failures() == 1
    (msg,) = res.failed_msgs()
    assert f"'{forge.developer.name}' lacks the admin permission" in msg and "write access" in msg
    assert "Nothing was changed" in msg
    assert forge_state(forge, repo) == before


def test_secrets_never_in_verbose_output(forge, forge_org, receiver, keydir):
    key_path = os.path.join(keydir, "argocd")
    args = module_args(forge, forge_org, "secret-check", deploy_key_path=key_path, webhook_url=receiver.url,
                       webhook_secret=receiver.secret, gitea_web_password=forge.platform.password)
    outputs = [run_verbose(args, "-vvv", check=True), run_verbose(args, "-vvv"), run_verbose(args, "-vvv")]
    # and a failure path, whose message quotes the forge's error
    bad = dict(args, webhook_url=f"http://127.0.0.1:{free_closed_port()}/api/webhook", name="secret-fail")
    outputs.append(run_verbose(bad, "-vvv"))
    private = open(key_path, encoding="ascii").read()
    key_lines = [line for line in private.splitlines() if line and "-----" not in line]
    text = "\n".join(o.stdout for o in outputs)
    assert outputs[1].returncode == 0 and outputs[3].returncode != 0, text[-3000:]
    assert "changed=0" in outputs[2].stdout
    for secret in (forge.platform.token, receiver.secret, forge.platform.password):
        assert secret not in text
        assert urllib.parse.quote(secret) not in text
    for line in key_lines:
        assert line not in text
