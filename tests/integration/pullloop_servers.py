# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git servers on loopback for the pull-loop tests: ``git daemon`` and OpenSSH's ``sshd``.

Both serve bare repositories from one directory, on free high ports of 127.0.0.1, as
processes in their own process groups that ``stop()`` ends (also when a test failed).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time


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
    def __init__(self, root: str):
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = ""

    def _spawn(self, argv: list[str], name: str) -> None:
        self.log_path = os.path.join(self.root, f"{name}.log")
        with open(self.log_path, "ab") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

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


class GitDaemon(_Server):
    """``git daemon`` exporting every bare repository under ``base`` (read-only, anonymous)."""

    def __init__(self, base: str, root: str):
        super().__init__(root)
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

    def __init__(self, base: str, root: str):
        super().__init__(root)
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
    """A clone of the infra repository that tests commit to and push from, as a person would."""

    def __init__(self, path: str, remote: str):
        self.path = path
        self.remote = remote

    def clone(self) -> "WorkingCopy":
        git("clone", "--quiet", self.remote, self.path)
        return self

    def pull(self) -> None:
        git("pull", "--quiet", "--ff-only", cwd=self.path)

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
        git("push", "--quiet", "origin", "HEAD", cwd=self.path)

    def revert(self, sha: str) -> str:
        git("revert", "--no-edit", sha, cwd=self.path)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.path).stdout.strip()
