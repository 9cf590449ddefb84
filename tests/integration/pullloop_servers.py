# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git servers on loopback for the pull-loop tests: ``git daemon`` and OpenSSH's ``sshd``, and
repositories on the test forge (Gitea, ``tests/integration/forge.py``) that Argo CD reads.

Both servers serve bare repositories from one directory, on free high ports of 127.0.0.1, as
processes in their own process groups that ``stop()`` ends (also when a test failed), with
everything they started (sshd's per-connection children leave the group: they are found by
the marker variable in their environment, as for the Argo CD components).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hack"))
from argocd_controllers import MARKER_ENV, kill_marked, process_cmdline  # noqa: E402


class ServerError(Exception):
    """A server could not be started; the message says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, what: str, log_path: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"{what} exited with code {proc.returncode}: {_tail(log_path)}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ServerError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s: {_tail(log_path)}")


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "\n".join(fh.read().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def git(*args: str, cwd: str | None = None, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    run_env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="Pull Loop", GIT_AUTHOR_EMAIL="loop@example.invalid",
                   GIT_COMMITTER_NAME="Pull Loop", GIT_COMMITTER_EMAIL="loop@example.invalid")
    run_env.update(env or {})
    proc = subprocess.run(["git", *args], cwd=cwd, env=run_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if check and proc.returncode != 0:
        raise ServerError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


class _Server:
    def __init__(self, root: str, marker: str | None = None):
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = ""
        self.marker = marker or f"{type(self).__name__.lower()}-{os.getpid()}-{os.urandom(6).hex()}"

    def _spawn(self, argv: list[str], name: str) -> None:
        self.log_path = os.path.join(self.root, f"{name}.log")
        env = dict(os.environ, **{MARKER_ENV: self.marker})
        with open(self.log_path, "ab") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                         env=env)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.proc = None
        # Per-connection children in sessions of their own (sshd) carry the marker.
        kill_marked(self.marker)


class GitDaemon(_Server):
    """``git daemon`` exporting every bare repository under ``base`` (read-only, anonymous)."""

    def __init__(self, base: str, root: str, marker: str | None = None):
        super().__init__(root, marker)
        self.base = base

    def start(self) -> "GitDaemon":
        os.makedirs(self.root, exist_ok=True)
        self._spawn(["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={self.port}", f"--base-path={self.base}",
                     "--export-all", "--informative-errors", self.base], "git-daemon")
        wait_listening(self.port, self.proc, "git daemon", self.log_path)
        return self

    def url(self, repo: str) -> str:
        return f"git://127.0.0.1:{self.port}/{repo}"


class SSHServer(_Server):
    """OpenSSH ``sshd`` for git over SSH, with its own host key and authorized keys, as this user."""

    def __init__(self, base: str, root: str, marker: str | None = None):
        super().__init__(root, marker)
        self.base = base
        self.user = getpass.getuser()
        self.host_key = os.path.join(root, "ssh_host_ed25519_key")
        self.authorized_keys = os.path.join(root, "authorized_keys")

    def start(self) -> "SSHServer":
        sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
        if not sshd:
            raise ServerError("sshd is not installed; install it (Debian: apt-get install openssh-server) or run "
                              "`make test-pull-loop`, which installs it")
        os.makedirs(self.root, exist_ok=True)
        if not os.path.exists(self.host_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pull-loop-host", "-f", self.host_key], check=True)
        open(self.authorized_keys, "a").close()
        config = os.path.join(self.root, "sshd_config")
        with open(config, "w", encoding="utf-8") as fh:
            fh.write("\n".join([
                f"Port {self.port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {self.host_key}",
                f"PidFile {os.path.join(self.root, 'sshd.pid')}",
                f"AuthorizedKeysFile {self.authorized_keys}",
                f"AllowUsers {self.user}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "X11Forwarding no",
                "AllowTcpForwarding no",
                "PermitTTY no",
                "LogLevel VERBOSE",
                "",
            ]))
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self._spawn([sshd, "-D", "-e", "-f", config], "sshd")
        wait_listening(self.port, self.proc, "sshd", self.log_path)
        return self

    def authorize(self, public_key: str) -> None:
        with open(self.authorized_keys, "a", encoding="utf-8") as fh:
            fh.write(f"restrict {public_key.strip()}\n")

    def known_hosts_line(self) -> str:
        with open(self.host_key + ".pub", encoding="utf-8") as fh:
            kind, key = fh.read().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}"

    def url(self, repo: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{os.path.join(self.base, repo)}"

    def log(self) -> str:
        return _tail(self.log_path, 60)


def new_keypair(directory: str, name: str) -> tuple[str, str]:
    """An ed25519 key pair (private key in OpenSSH format, public key line)."""
    path = os.path.join(directory, name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path], check=True)
    with open(path, encoding="utf-8") as fh:
        private = fh.read()
    with open(path + ".pub", encoding="utf-8") as fh:
        public = fh.read().strip()
    return private, public


class WorkingCopy:
    """A clone of the infra repository that tests commit to and push from, as a person would.

    ENV is the environment of every git command (for a forge: its SSH command with the push key).
    """

    def __init__(self, path: str, remote: str, env: dict | None = None):
        self.path = path
        self.remote = remote
        self.env = env

    def clone(self) -> "WorkingCopy":
        git("clone", "--quiet", self.remote, self.path, env=self.env)
        return self

    def pull(self) -> None:
        git("pull", "--quiet", "--ff-only", cwd=self.path, env=self.env)

    def write(self, rel: str, content: str) -> None:
        path = os.path.join(self.path, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content)

    def read(self, rel: str) -> str:
        with open(os.path.join(self.path, rel), encoding="utf-8") as fh:
            return fh.read()

    def remove(self, rel: str) -> None:
        git("rm", "--quiet", rel, cwd=self.path)

    def commit(self, message: str) -> str:
        git("add", "-A", cwd=self.path)
        git("commit", "--quiet", "-m", message, cwd=self.path)
        return self.head()

    def push(self) -> None:
        git("push", "--quiet", "origin", "HEAD", cwd=self.path, env=self.env)

    def revert(self, sha: str) -> str:
        git("revert", "--no-edit", sha, cwd=self.path)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.path).stdout.strip()


def processes_referring_to(path: str) -> list[tuple[int, str]]:
    """Live processes whose command line, environment or working directory names PATH (pid, command line).

    Independent of how the harness tracks its processes: anything it started works in, or was
    given a file from, its work directory, and so does whatever those processes start.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
                if fh.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read().decode("utf-8", "replace")
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                cwd = ""
        except OSError:
            continue
        argv = process_cmdline(pid)
        if any(path in a for a in argv) or path in environ or cwd == path or cwd.startswith(path + "/"):
            found.append((pid, " ".join(argv)[:200]))
    return found


class ForgeRepo:
    """A repository on the test forge that Argo CD reads over the forge's SSH server.

    ``create()`` makes it private under the platform user, gives the developer user write access
    (branches and pull requests), registers a write deploy key for the harness's own pushes, and
    generates Argo CD's key pair (``argocd_key``/``argocd_pub``), which is registered read-only
    by the collection (forge_repository), not here. ``merge()`` brings a change in the way a team
    does: the developer commits to a branch and opens a pull request, the platform user approves
    and merges it.
    """

    PUSH_KEY_TITLE = "pull-loop push"

    def __init__(self, forge, name: str, workdir: str):
        self.forge = forge
        self.name = name
        self.workdir = workdir
        self.owner = forge.platform.name
        self.full_name = f"{self.owner}/{name}"
        self.push_key_path = os.path.join(workdir, f"{name}-push")
        self.argocd_key = ""
        self.argocd_pub = ""
        self._merges = 0

    def create(self, auto_init: bool = False) -> "ForgeRepo":
        os.makedirs(self.workdir, exist_ok=True)
        self.forge.create_repo(name=self.name, private=True, auto_init=auto_init)
        self.forge.add_collaborator(self.full_name, self.forge.developer.name, "write")
        private, public = new_keypair(self.workdir, os.path.basename(self.push_key_path))
        self.forge.remember_secret(private)
        self.forge.add_deploy_key(self.full_name, self.PUSH_KEY_TITLE, public, read_only=False)
        self.argocd_key, self.argocd_pub = new_keypair(self.workdir, f"{self.name}-argocd")
        self.forge.remember_secret(self.argocd_key)
        return self

    @property
    def url(self) -> str:
        """The SSH URL Argo CD reads (and the harness pushes to)."""
        return self.forge.ssh_url(self.full_name)

    @property
    def html_url(self) -> str:
        return f"{self.forge.base_url}/{self.full_name}"

    def known_hosts_line(self) -> str:
        return self.forge.ssh_known_hosts()

    def git_env(self) -> dict:
        """Environment for git against ``url`` with the push key (host key pinned)."""
        return self.forge.ssh_env(self.push_key_path)

    def working_copy(self, path: str) -> WorkingCopy:
        return WorkingCopy(path, self.url, env=self.git_env())

    def head(self, branch: str = "main") -> str:
        return self.forge.branch_sha(self.full_name, branch)

    def merge(self, files: dict[str, str], message: str) -> tuple[str, float]:
        """Developer branch, pull request, approval, merge; return (main's new head, time the merge returned)."""
        self._merges += 1
        branch = f"change-{os.getpid()}-{self._merges}-{os.urandom(2).hex()}"
        self.forge.commit_files(self.full_name, files, branch="main", new_branch=branch, message=message,
                                as_user=self.forge.developer)
        pull = self.forge.open_pull(self.full_name, head=branch, title=message, as_user=self.forge.developer)
        self.forge.approve_pull(self.full_name, pull["number"], as_user=self.forge.platform)
        self.forge.merge_pull(self.full_name, pull["number"], as_user=self.forge.platform)
        merged_at = time.time()
        return self.head(), merged_at

    # -- webhooks -------------------------------------------------------------------------------
    def hooks(self) -> list[dict]:
        return self.forge.platform.client.get(f"/repos/{self.full_name}/hooks")

    def set_hook_active(self, hook_id: int, active: bool) -> None:
        self.forge.platform.client.patch(f"/repos/{self.full_name}/hooks/{hook_id}", {"active": active})

    def delete_hook(self, hook_id: int) -> None:
        self.forge.platform.client.delete(f"/repos/{self.full_name}/hooks/{hook_id}")

    def test_hook(self, hook_id: int) -> None:
        """Ask the forge to deliver a push event of the default branch's head through HOOK_ID."""
        self.forge.platform.client.post(f"/repos/{self.full_name}/hooks/{hook_id}/tests")
