# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real forge for the integration tests: Gitea on loopback, three users, an API client.

``Forge.start()`` starts one Gitea server (``hack/gitea.py``: SQLite, loopback only, webhooks
allowed to loopback, the built-in SSH server on loopback) and creates three users, each with
an API token:

- ``forge.admin``: site administrator (``gitea admin user create --admin``), token scope ``all``;
- ``forge.platform``: the platform team, owns organisations and repositories, sets branch
  protection, deploy keys and webhooks (not a site administrator);
- ``forge.developer``: a developer, a collaborator who pushes branches and opens pull requests.

The session fixture ``forge`` shares one server across every test module of a pytest run;
each test takes its own names (``forge.unique()``, fixture ``forge_org``) so tests do not
see each other's objects. The server stops when the session ends, and the kernel stops it
if the test process dies first.

The server lives under ``$GITOPS_BOOTSTRAP_CACHE/gitea/servers/<GITOPS_TEST_FORGE>-<pid>/``
(default name ``forge``), so ``hack/gitea.py list`` shows it while it runs. A test that needs
other app.ini settings starts its own: ``Forge.start(settings={"webhook": {...}})``.

Secrets stay out of test output: users and clients print without their tokens, API errors
and git output pass through ``forge.scrub()``, and git authenticates with a header passed in
the environment, never in a URL or an argument.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import secrets
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "hack"))
import gitea as gitea_hack  # noqa: E402  (hack/gitea.py)

API_TIMEOUT = 30.0
MASK = "********"

ADMIN_NAME = "forge-admin"
PLATFORM_NAME = "platform"
DEVELOPER_NAME = "developer"
# What each role's token may do (Gitea's token scopes).
ADMIN_SCOPES = ("all",)
PLATFORM_SCOPES = ("write:organization", "write:repository", "write:issue", "write:user", "read:misc")
DEVELOPER_SCOPES = ("write:repository", "write:issue", "read:organization", "read:user")

# A bot that proposes changes and reports on pull requests: a collaborator's rights, no administration.
BOT_SCOPES = ("write:repository", "write:issue", "read:user", "read:organization")
# The play that runs gitops.bootstrap.forge_repository with the options in the variable forge_args.
FORGE_REPOSITORY_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: forge repository
      gitops.bootstrap.forge_repository: "{{ forge_args }}"
"""

GIT_IDENTITY = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "forge test",
    "GIT_AUTHOR_EMAIL": "forge-test@example.invalid",
    "GIT_COMMITTER_NAME": "forge test",
    "GIT_COMMITTER_EMAIL": "forge-test@example.invalid",
}


class ForgeAPIError(AssertionError):
    """A forge API call answered with an unexpected status (or not at all)."""

    def __init__(self, method: str, path: str, status: int | None, message: str, data=None):
        self.method = method
        self.path = path
        self.status = status
        self.data = data
        shown = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{method} {path}: {shown}: {message}")


@dataclass
class ForgeResponse:
    status: int
    data: object
    headers: dict


class ForgeClient:
    """A small JSON client of the Gitea REST API (/api/v1) with a bounded timeout.

    Authenticates with a token (``Authorization: token ...``) or, for the calls that need it
    (creating tokens), with basic authentication. Never prints its credentials.
    """

    def __init__(self, base_url: str, token: str | None = None, basic: tuple[str, str] | None = None,
                 timeout: float = API_TIMEOUT, scrub=None):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._basic = basic
        self.timeout = timeout
        self._scrub = scrub or (lambda text: text)

    def __repr__(self) -> str:
        who = "token" if self._token else ("basic" if self._basic else "anonymous")
        return f"ForgeClient({self.base_url}, auth={who})"

    def request(self, method: str, path: str, body=None, query: dict | None = None,
                expect: tuple[int, ...] | None = (200, 201, 204)) -> ForgeResponse:
        """Call METHOD /api/v1PATH; raise ForgeAPIError unless the status is in EXPECT (None: any)."""
        url = f"{self.base_url}/api/v1{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"token {self._token}"
        elif self._basic:
            raw = f"{self._basic[0]}:{self._basic[1]}".encode("utf-8")
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw_body, resp_headers = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            status, raw_body, resp_headers = exc.code, exc.read(), dict(exc.headers or {})
        except (urllib.error.URLError, OSError) as exc:
            raise ForgeAPIError(method, path, None, self._scrub(f"could not reach {self.base_url}: {exc}")) from None
        text = raw_body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = text
        if expect is not None and status not in expect:
            message = parsed.get("message") if isinstance(parsed, dict) and parsed.get("message") else text[:2000]
            raise ForgeAPIError(method, path, status, self._scrub(str(message)), parsed)
        return ForgeResponse(status, parsed, resp_headers)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw).data

    def post(self, path: str, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw).data

    def put(self, path: str, body=None, **kw):
        return self.request("PUT", path, body, **kw).data

    def patch(self, path: str, body=None, **kw):
        return self.request("PATCH", path, body if body is not None else {}, **kw).data

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw).data


@dataclass
class ForgeUser:
    """A forge user with its password and API token (neither is shown by repr)."""

    name: str
    email: str
    password: str = field(repr=False)
    token: str = field(repr=False)
    admin: bool
    scopes: tuple[str, ...]
    client: ForgeClient = field(repr=False)


def _repo_path(repo: str) -> str:
    owner, _slash, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"give a repository as 'owner/name', not {repo!r}")
    return f"/repos/{urllib.parse.quote(owner)}/{urllib.parse.quote(name)}"


class Forge:
    """A running Gitea with an administrator, a platform-team user and a developer user."""

    def __init__(self, server: gitea_hack.GiteaServer):
        self.server = server
        self._secrets: set[str] = set()
        self._counter = itertools.count(1)
        self._run_id = secrets.token_hex(2)
        self.users: dict[str, ForgeUser] = {}
        self.admin: ForgeUser | None = None
        self.platform: ForgeUser | None = None
        self.developer: ForgeUser | None = None
        self.version: str = ""

    # -- life cycle -----------------------------------------------------------------------------
    @classmethod
    def start(cls, workdir: str | None = None, ssh: bool = True, settings: dict | None = None,
              name: str | None = None) -> "Forge":
        """Start a server (under the cache's servers directory unless WORKDIR is given) with the three users."""
        if workdir is None:
            base = name or f"{os.environ.get('GITOPS_TEST_FORGE', 'forge')}-{os.getpid()}"
            gitea_hack.check_name(base)
            workdir = gitea_hack.server_dir(base)
            if os.path.exists(workdir):
                gitea_hack.server_down(base)
        server = gitea_hack.GiteaServer(workdir, ssh=ssh, settings=settings, die_with_parent=True)
        forge = cls(server)
        try:
            server.start()
            forge.version = forge.anonymous().get("/version")["version"]
            forge._create_users()
        except BaseException:
            server.stop(remove=True)
            raise
        return forge

    def stop(self) -> None:
        self.server.stop(remove=True)

    def __enter__(self) -> "Forge":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _create_users(self) -> None:
        password = self._secret(secrets.token_urlsafe(18))
        token = self._secret(self.server.create_admin(ADMIN_NAME, f"{ADMIN_NAME}@example.invalid", password,
                                                      token_name="harness", scopes=",".join(ADMIN_SCOPES)))
        self.admin = self._register(ADMIN_NAME, f"{ADMIN_NAME}@example.invalid", password, token, True, ADMIN_SCOPES)
        self.platform = self.create_user(PLATFORM_NAME, scopes=PLATFORM_SCOPES)
        self.developer = self.create_user(DEVELOPER_NAME, scopes=DEVELOPER_SCOPES)

    def _register(self, name, email, password, token, admin, scopes) -> ForgeUser:
        user = ForgeUser(name, email, password, token, admin, tuple(scopes), self.client(token))
        self.users[name] = user
        return user

    def _secret(self, value: str) -> str:
        self._secrets.add(value)
        return value

    # -- secrets and clients --------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """TEXT with every password and token of this forge replaced by a mask."""
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, MASK)
            text = text.replace(base64.b64encode(value.encode()).decode(), MASK)
        return text

    def remember_secret(self, value: str) -> str:
        """Mask VALUE (a webhook secret, a private key) in everything the harness reports."""
        return self._secret(value)

    def client(self, token: str | None = None, basic: tuple[str, str] | None = None) -> ForgeClient:
        return ForgeClient(self.base_url, token=token, basic=basic, scrub=self.scrub)

    def anonymous(self) -> ForgeClient:
        return self.client()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (no trailing slash)."""
        return self.server.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def ssh_port(self) -> int | None:
        return self.server.ssh_port

    def ssh_known_hosts(self) -> str:
        """A known_hosts line for the built-in SSH server."""
        return f"[127.0.0.1]:{self.ssh_port} {self.server.ssh_host_public_key()}"

    def unique(self, prefix: str = "t") -> str:
        """A name no other test of this run uses (organisations, repositories, branches)."""
        return f"{prefix}-{self._run_id}-{next(self._counter)}"

    def _as(self, user: ForgeUser | None) -> ForgeClient:
        return (user or self.platform).client

    # -- users ----------------------------------------------------------------------------------
    def create_user(self, name: str, scopes=DEVELOPER_SCOPES, admin: bool = False) -> ForgeUser:
        """Create a user through the admin API and give it a token with SCOPES (basic auth as the user)."""
        email = f"{name}@example.invalid"
        password = self._secret(secrets.token_urlsafe(18))
        self.admin.client.post("/admin/users", {"username": name, "email": email, "password": password,
                                                "must_change_password": False, "send_notify": False,
                                                "visibility": "public"})
        if admin:
            self.admin.client.patch(f"/admin/users/{name}", {"admin": True, "login_name": name, "source_id": 0})
        token = self.create_token(name, password, "harness", scopes)
        return self._register(name, email, password, token, admin, scopes)

    def create_token(self, username: str, password: str, token_name: str, scopes) -> str:
        """A new API token of USERNAME, created with basic authentication as that user."""
        basic = self.client(basic=(username, password))
        data = basic.post(f"/users/{username}/tokens", {"name": token_name, "scopes": list(scopes)})
        return self._secret(data["sha1"])

    def token_for(self, user: ForgeUser, scopes, token_name: str | None = None) -> str:
        """Another token of USER with other SCOPES (a read-only token, a token without admin rights)."""
        return self.create_token(user.name, user.password, token_name or self.unique("token"), scopes)

    def get_user(self, name: str) -> dict:
        """The user as the site administrator sees it (is_admin included)."""
        return self.admin.client.get(f"/users/{urllib.parse.quote(name)}")

    # -- organisations, teams, repositories -----------------------------------------------------
    def create_org(self, name: str | None = None, as_user: ForgeUser | None = None, visibility: str = "private") -> str:
        name = name or self.unique("org")
        self._as(as_user).post("/orgs", {"username": name, "visibility": visibility})
        return name

    def create_team(self, org: str, name: str, permission: str = "write", members=(), repos=(),
                    as_user: ForgeUser | None = None, units=("repo.code", "repo.pulls", "repo.issues")) -> int:
        client = self._as(as_user)
        team = client.post(f"/orgs/{org}/teams", {"name": name, "permission": permission, "units": list(units),
                                                  "includes_all_repositories": False})
        for member in members:
            self.add_team_member(team["id"], member, as_user=as_user)
        for repo in repos:
            client.put(f"/teams/{team['id']}/repos/{repo}")
        return team["id"]

    def add_team_member(self, team_id: int, username: str, as_user: ForgeUser | None = None) -> None:
        self._as(as_user).put(f"/teams/{team_id}/members/{urllib.parse.quote(username)}")

    def create_repo(self, owner: str | None = None, name: str | None = None, private: bool = True,
                    auto_init: bool = True, as_user: ForgeUser | None = None) -> str:
        """Create a repository (in organisation OWNER, or the user's own) and return 'owner/name'."""
        client = self._as(as_user)
        name = name or self.unique("repo")
        body = {"name": name, "private": private, "auto_init": auto_init, "default_branch": "main"}
        if auto_init:
            body["readme"] = "Default"
        user = as_user or self.platform
        if owner and owner != user.name:
            data = client.post(f"/orgs/{owner}/repos", body)
        else:
            data = client.post("/user/repos", body)
        return data["full_name"]

    def get_repo(self, repo: str, as_user: ForgeUser | None = None) -> dict:
        return self._as(as_user).get(_repo_path(repo))

    def add_collaborator(self, repo: str, username: str, permission: str = "write", as_user: ForgeUser | None = None) -> None:
        self._as(as_user).put(f"{_repo_path(repo)}/collaborators/{urllib.parse.quote(username)}", {"permission": permission})

    # -- branches, files, commits ---------------------------------------------------------------
    def protect_branch(self, repo: str, branch: str = "main", as_user: ForgeUser | None = None, **rule) -> dict:
        """Create a branch protection rule; RULE holds Gitea's fields (enable_push, required_approvals, ...)."""
        body = {"rule_name": branch, "enable_push": False}
        body.update(rule)
        return self._as(as_user).post(f"{_repo_path(repo)}/branch_protections", body)

    def branch_protections(self, repo: str, as_user: ForgeUser | None = None) -> list:
        return self._as(as_user).get(f"{_repo_path(repo)}/branch_protections")

    def branch_sha(self, repo: str, branch: str = "main", as_user: ForgeUser | None = None) -> str:
        return self._as(as_user).get(f"{_repo_path(repo)}/branches/{urllib.parse.quote(branch, safe='')}")["commit"]["id"]

    def create_branch(self, repo: str, branch: str, from_branch: str = "main", as_user: ForgeUser | None = None) -> None:
        self._as(as_user).post(f"{_repo_path(repo)}/branches", {"new_branch_name": branch, "old_branch_name": from_branch})

    def commit_files(self, repo: str, files: dict[str, str], branch: str = "main", new_branch: str | None = None,
                     message: str = "change", as_user: ForgeUser | None = None) -> str:
        """Commit FILES (path: text; created or updated) through the contents API and return the commit id."""
        client = self._as(as_user)
        ops = []
        for path, content in files.items():
            existing = client.request("GET", f"{_repo_path(repo)}/contents/{urllib.parse.quote(path)}",
                                      query={"ref": branch}, expect=(200, 404))
            op = {"operation": "create", "path": path, "content": base64.b64encode(content.encode()).decode()}
            if existing.status == 200 and isinstance(existing.data, dict):
                op.update(operation="update", sha=existing.data["sha"])
            ops.append(op)
        body = {"files": ops, "branch": branch, "message": message}
        if new_branch:
            body["new_branch"] = new_branch
        return client.post(f"{_repo_path(repo)}/contents", body)["commit"]["sha"]

    # -- pull requests and statuses ------------------------------------------------------------
    def open_pull(self, repo: str, head: str, base: str = "main", title: str = "change", body: str = "",
                  as_user: ForgeUser | None = None) -> dict:
        return self._as(as_user or self.developer).post(f"{_repo_path(repo)}/pulls",
                                                        {"head": head, "base": base, "title": title, "body": body})

    def get_pull(self, repo: str, number: int, as_user: ForgeUser | None = None) -> dict:
        return self._as(as_user).get(f"{_repo_path(repo)}/pulls/{number}")

    def approve_pull(self, repo: str, number: int, as_user: ForgeUser | None = None, body: str = "approved") -> dict:
        return self._as(as_user).post(f"{_repo_path(repo)}/pulls/{number}/reviews", {"event": "APPROVED", "body": body})

    def merge_pull(self, repo: str, number: int, as_user: ForgeUser | None = None, style: str = "merge",
                   check: bool = True, wait: float = 30.0) -> ForgeResponse:
        """Merge a pull request; with CHECK false, return the refusal (405, 409) instead of raising.

        Right after a push the forge is still computing whether the pull request merges cleanly
        and answers "try again later"; that answer is retried for up to WAIT seconds.
        """
        deadline = time.time() + wait
        while True:
            resp = self._as(as_user).request("POST", f"{_repo_path(repo)}/pulls/{number}/merge",
                                             {"Do": style, "delete_branch_after_merge": False}, expect=None)
            message = resp.data.get("message", "") if isinstance(resp.data, dict) else str(resp.data or "")
            if resp.status == 405 and "try again later" in message.lower() and time.time() < deadline:
                time.sleep(0.5)
                continue
            break
        if check and resp.status not in (200, 204):
            raise ForgeAPIError("POST", f"{_repo_path(repo)}/pulls/{number}/merge", resp.status, self.scrub(message), resp.data)
        return resp

    def set_commit_status(self, repo: str, sha: str, state: str = "success", context: str = "ci",
                          description: str = "", target_url: str = "", as_user: ForgeUser | None = None) -> dict:
        """Report a status (pending, success, error, failure, warning) for commit SHA."""
        return self._as(as_user).post(f"{_repo_path(repo)}/statuses/{sha}",
                                      {"state": state, "context": context, "description": description,
                                       "target_url": target_url})

    # -- webhooks and deploy keys ---------------------------------------------------------------
    def create_webhook(self, repo: str, url: str, secret: str = "", events=("push",), hook_type: str = "gitea",
                       branch_filter: str = "", as_user: ForgeUser | None = None) -> dict:
        if secret:
            self._secret(secret)
        config = {"url": url, "content_type": "json", "http_method": "post"}
        if secret:
            config["secret"] = secret
        return self._as(as_user).post(f"{_repo_path(repo)}/hooks",
                                      {"type": hook_type, "config": config, "events": list(events), "active": True,
                                       "branch_filter": branch_filter})

    def hook_deliveries(self, hook_id: int) -> list[dict]:
        """The deliveries (hook tasks) of webhook HOOK_ID, oldest first, read from the forge's database.

        Gitea's API has no endpoint for a webhook's delivery history (its web UI reads this
        table). Each entry: id, uuid, event, finished (the attempt is over and recorded),
        succeeded (answered 2xx), status (HTTP status, 0 when the request failed), request (url,
        http_method, headers with Authorization masked, body), response (status, headers, body;
        "Delivery: <error>" in body when the request failed), payload.
        """
        uri = f"file:{self.server.db_path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            rows = db.execute("SELECT id, uuid, event_type, is_delivered, is_succeed, request_content, response_content, "
                              "payload_content FROM hook_task WHERE hook_id = ? ORDER BY id", (hook_id,)).fetchall()
        out = []
        for row_id, uuid, event, claimed, succeeded, request, response, payload in rows:
            # Gitea marks a task delivered when it claims it, and records request and response
            # once the attempt is over.
            req = _loads(request) or {}
            resp = _loads(response) or {}
            headers = req.get("headers") if isinstance(req, dict) else None
            for key in list(headers or {}):
                if key.lower() == "authorization":
                    headers[key] = MASK
            out.append({"id": row_id, "uuid": uuid, "event": event, "finished": bool(claimed) and bool(request),
                        "succeeded": bool(succeeded), "status": (resp.get("status") or 0) if isinstance(resp, dict) else 0,
                        "request": req, "response": resp, "payload": _loads(payload)})
        return out

    def wait_for_deliveries(self, hook_id: int, count: int = 1, timeout: float = 30.0) -> list[dict]:
        """Wait until COUNT deliveries of HOOK_ID are finished (succeeded or not); return the finished ones."""
        deadline = time.time() + timeout
        while True:
            done = [d for d in self.hook_deliveries(hook_id) if d["finished"]]
            if len(done) >= count:
                return done
            if time.time() > deadline:
                raise AssertionError(f"webhook {hook_id}: {len(done)} of {count} deliveries finished within {timeout:.0f}s")
            time.sleep(0.2)

    def add_deploy_key(self, repo: str, title: str, public_key: str, read_only: bool = True,
                       as_user: ForgeUser | None = None) -> dict:
        return self._as(as_user).post(f"{_repo_path(repo)}/keys", {"title": title, "key": public_key, "read_only": read_only})

    # -- git over smart HTTP and SSH ------------------------------------------------------------
    def git_url(self, repo: str) -> str:
        """The smart-HTTP clone URL (no credentials in it)."""
        return f"{self.base_url}/{repo}.git"

    def ssh_url(self, repo: str) -> str:
        return f"ssh://git@127.0.0.1:{self.ssh_port}/{repo}.git"

    def git_env(self, user: ForgeUser | None) -> dict:
        """Environment for git as USER over HTTP: basic auth (name + token) as a header from the environment."""
        env = dict(os.environ)
        env.update(GIT_IDENTITY)
        for key in [k for k in env if k.startswith("GIT_CONFIG_KEY_") or k.startswith("GIT_CONFIG_VALUE_")]:
            del env[key]
        config = [("init.defaultBranch", "main"), ("commit.gpgSign", "false"), ("credential.helper", "")]
        if user is not None:
            raw = base64.b64encode(f"{user.name}:{user.token}".encode()).decode()
            self._secret(raw)
            config.append((f"http.{self.base_url}/.extraHeader", f"Authorization: Basic {raw}"))
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    def git(self, user: ForgeUser | None, *args: str, cwd: str | None = None, check: bool = True,
            timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run git as USER (None: anonymous) over HTTP; output scrubbed of secrets; CHECK raises on failure."""
        return self._run_git(args, env or self.git_env(user), user.name if user else "anonymous", cwd, check, timeout)

    def ssh_env(self, private_key: str) -> dict:
        """Environment for git over the forge's SSH server with PRIVATE_KEY (a deploy key), host key pinned."""
        known = os.path.join(self.server.workdir, "known_hosts")
        if not os.path.exists(known):
            with open(known, "w", encoding="utf-8") as fh:
                fh.write(self.ssh_known_hosts() + "\n")
        env = self.git_env(None)
        env["GIT_SSH_COMMAND"] = (f"ssh -i {shlex.quote(private_key)} -o IdentitiesOnly=yes -o BatchMode=yes "
                                  f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={shlex.quote(known)} "
                                  "-o ConnectTimeout=20")
        return env

    def git_ssh(self, private_key: str, *args: str, cwd: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess:
        """Run git with PRIVATE_KEY against ssh_url() addresses; output scrubbed; CHECK raises on failure."""
        return self._run_git(args, self.ssh_env(private_key), f"key {os.path.basename(private_key)}", cwd, check, timeout)

    def _run_git(self, args, env, who, cwd, check, timeout) -> subprocess.CompletedProcess:
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        proc = subprocess.CompletedProcess(proc.args, proc.returncode, self.scrub(proc.stdout), self.scrub(proc.stderr))
        if check and proc.returncode != 0:
            raise AssertionError(f"git {self.scrub(' '.join(args))} as {who} failed (exit {proc.returncode}): "
                                 f"{proc.stderr.strip()}")
        return proc

    def clone(self, repo: str, dest: str, user: ForgeUser | None = None) -> str:
        self.git(user, "clone", "--quiet", self.git_url(repo), dest)
        return dest


def _loads(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# ----------------------------------------------------------------------------------- fixtures
_SHARED_LOCK = threading.Lock()
_SHARED: dict = {"forge": None, "users": 0}


@contextlib.contextmanager
def shared_forge():
    """One Forge per process: the first user starts it, the last one to leave stops it."""
    with _SHARED_LOCK:
        if _SHARED["forge"] is None:
            _SHARED["forge"] = Forge.start()
        _SHARED["users"] += 1
        forge = _SHARED["forge"]
    try:
        yield forge
    finally:
        with _SHARED_LOCK:
            _SHARED["users"] -= 1
            if _SHARED["users"] == 0:
                _SHARED["forge"] = None
                forge.stop()


@pytest.fixture(scope="session")
def forge():
    """The session's Forge (started once, even when several test modules import this fixture)."""
    try:
        with shared_forge() as running:
            yield running
    except gitea_hack.LocalClusterError as exc:
        pytest.fail(f"the test forge could not start: {exc}")


@pytest.fixture
def forge_org(forge):
    """A new private organisation of this test, owned by the platform user."""
    return forge.create_org()


@pytest.fixture
def forge_tmp():
    """A scratch directory for working copies, removed after the test."""
    with tempfile.TemporaryDirectory(prefix="forge-wc-") as path:
        yield path
