# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real git servers on loopback for the infra_repo tests.

- ``BareRepo``: a bare repository reached over ``file://``.
- ``HttpGitServer``: ``git http-backend`` behind Python's HTTP server with basic
  authentication (user + token), on 127.0.0.1. It is plain HTTP on loopback; the module's
  token path (askpass helper) is the same for HTTPS. A hook can run once after the first
  fetch, to land a commit between the module's fetch and its push.
- ``SshGitServer``: OpenSSH ``sshd`` on a high loopback port with a generated host key and
  one authorized deploy key.
- ``SilentServer``: a TCP server on loopback that accepts connections and never answers (a
  hung git server, a proxy that swallows requests).

The helpers here run git with no global or system configuration, so the machine's settings
never change what a test sets up.
"""


import base64
import os
import shutil
import socket
import subprocess
import threading
import time

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "someone",
    "GIT_AUTHOR_EMAIL": "someone@example.test",
    "GIT_COMMITTER_NAME": "someone",
    "GIT_COMMITTER_EMAIL": "someone@example.test",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(*args, cwd=None, check=True):
    env = dict(os.environ)
    env.update(GIT_ENV)
    proc = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgSign=false"] + list(args),
                          cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("git %s failed: %s" % (" ".join(args), proc.stderr))
    return proc.stdout.strip()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BareRepo(object):
    """A bare repository and helpers to look at it like a reviewer would."""

    def __init__(self, path):
        self.path = str(path)
        git("init", "--quiet", "--bare", "--initial-branch=main", self.path)

    @property
    def url(self):
        return "file://" + self.path

    def head(self, branch="main"):
        out = git("rev-parse", "--verify", "--quiet", "refs/heads/%s" % branch, cwd=self.path, check=False)
        return out or None

    def branches(self):
        out = git("for-each-ref", "--format=%(refname:short)", "refs/heads/", cwd=self.path)
        return sorted(out.split())

    def files(self, ref="main"):
        return sorted(git("ls-tree", "-r", "--name-only", ref, cwd=self.path).split("\n"))

    def show(self, path, ref="main"):
        return git("show", "%s:%s" % (ref, path), cwd=self.path)

    def commit_count(self, ref="main"):
        if not self.head(ref):
            return 0
        return int(git("rev-list", "--count", ref, cwd=self.path))

    def changed_files(self, ref="main"):
        """Files changed by the last commit of ``ref``."""
        return sorted(git("diff-tree", "--no-commit-id", "--name-only", "-r", ref, cwd=self.path).split())

    def push_change(self, workdir, files, message="change by someone", branch="main", delete=(), moves=None,
                    symlinks=None):
        """Clone, write ``files`` ({path: content}), delete ``delete``, ``git mv`` each of ``moves``
        ({old: new}), replace each path of ``symlinks`` ({path: target}) by a symbolic link, commit
        and push, as another person would."""
        workdir = str(workdir)
        if os.path.exists(workdir):
            shutil.rmtree(workdir)
        git("clone", "--quiet", self.url, workdir)
        if self.head(branch):
            git("checkout", "--quiet", branch, cwd=workdir)
        else:
            git("checkout", "--quiet", "--orphan", branch, cwd=workdir)
        for path, content in files.items():
            full = os.path.join(workdir, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(content)
        for path in delete:
            os.unlink(os.path.join(workdir, path))
        for old, new in (moves or {}).items():
            os.makedirs(os.path.dirname(os.path.join(workdir, new)), exist_ok=True)
            git("mv", old, new, cwd=workdir)
        for path, target in (symlinks or {}).items():
            full = os.path.join(workdir, path)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            elif os.path.lexists(full):
                os.unlink(full)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            os.symlink(target, full)
        git("add", "-A", cwd=workdir)
        git("commit", "--quiet", "-m", message, cwd=workdir)
        git("push", "--quiet", "origin", "HEAD:refs/heads/%s" % branch, cwd=workdir)
        return git("rev-parse", "HEAD", cwd=workdir)


class HttpGitServer(object):
    """``git http-backend`` (smart HTTP) with basic auth, serving the bare repos under ``root``."""

    def __init__(self, root, username="git", token="s3cr3t-token-for-tests"):
        self.root = str(root)
        self.username = username
        self.token = token
        self.after_first_fetch = None  # callable run once, in the first fetch (upload-pack), before its answer
        self._held = None  # (barrier, how many fetches still to hold), see hold_first_fetches
        self.requests = []
        self._lock = threading.Lock()
        self.port = free_port()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def _authorized(self):
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                try:
                    user, dummy, password = base64.b64decode(header[6:]).decode().partition(":")
                except ValueError:
                    return None
                if user == server.username and password == server.token:
                    return user
                return None

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self):
                path, dummy, query = self.path.partition("?")
                server.requests.append((self.command, path))
                user = self._authorized()
                if user is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self._body()
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": server.root,
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": user,
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                }
                proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
                if self.command == "POST" and path.endswith("/git-upload-pack"):
                    # Land the concurrent commit after the module read the refs and before it gets the
                    # answer: its push then meets a branch that moved on, every time.
                    with server._lock:
                        hook, server.after_first_fetch = server.after_first_fetch, None
                    if hook:
                        hook()
                    server._hold()
                head, dummy, payload = proc.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.split(b"\r\n"):
                    name, dummy, value = line.decode("latin-1").partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def hold_first_fetches(self, count, timeout=120):
        """Answer none of the next ``count`` fetches (upload-pack requests) before all of them have
        asked: ``count`` clients that fetch at about the same time then all read the same state."""
        self._held = [threading.Barrier(count, timeout=timeout), count]

    def _hold(self):
        with self._lock:
            held = self._held
            if held is None or held[1] <= 0:
                return
            held[1] -= 1
        try:
            held[0].wait()
        except threading.BrokenBarrierError:
            pass

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SshGitServer(object):
    """OpenSSH sshd on 127.0.0.1:<high port>, host key and deploy key generated for the test."""

    def __init__(self, workdir):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not os.path.exists(self.sshd):
            raise RuntimeError("sshd not found: install openssh-server (make test-infra-repo does)")
        self.host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        self.client_key = os.path.join(self.dir, "deploy_key")
        self.other_key = os.path.join(self.dir, "other_key")
        self.other_host_key = os.path.join(self.dir, "other_host_key")
        for key in (self.host_key, self.client_key, self.other_key, self.other_host_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", os.path.basename(key), "-f", key], check=True)
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        shutil.copyfile(self.client_key + ".pub", self.authorized_keys)
        os.chmod(self.authorized_keys, 0o600)
        self.port = free_port()
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write("\n".join([
                "Port %d" % self.port,
                "ListenAddress 127.0.0.1",
                "HostKey %s" % self.host_key,
                "PidFile %s" % os.path.join(self.dir, "sshd.pid"),
                "AuthorizedKeysFile %s" % self.authorized_keys,
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "AllowUsers %s" % self.user,
                "LogLevel ERROR",
                "",
            ]))
        os.makedirs("/run/sshd", exist_ok=True)
        self.log = open(os.path.join(self.dir, "sshd.log"), "w")
        self.proc = subprocess.Popen([self.sshd, "-D", "-e", "-f", config], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited: %s" % open(os.path.join(self.dir, "sshd.log")).read())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("sshd did not start listening on port %d" % self.port)

    def _pub(self, key):
        with open(key + ".pub") as f:
            kind, blob = f.read().split()[:2]
        return kind, blob

    def known_hosts_line(self, other=False):
        kind, blob = self._pub(self.other_host_key if other else self.host_key)
        return "[127.0.0.1]:%d %s %s" % (self.port, kind, blob)

    def url(self, repo_path):
        return "ssh://%s@127.0.0.1:%d%s" % (self.user, self.port, repo_path)

    def private_key(self, other=False):
        with open(self.other_key if other else self.client_key) as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class SilentServer(object):
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (nor closes them)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self._stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self._stopped:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def stop(self):
        self._stopped = True
        self.sock.close()
        for conn in self.connections:
            conn.close()
