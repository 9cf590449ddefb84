#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real forge on loopback: Gitea built from its Go module, for tests and the demo.

Builds ``code.gitea.io/gitea`` through a throwaway wrapper module in the cache (never in the
repository) with the SQLite build tags, caches the binary keyed by version, and runs named
servers on 127.0.0.1 with a throwaway configuration (SQLite, no mail, no outbound calls,
webhooks allowed to loopback only, the built-in SSH server on loopback).

    hack/gitea.py build              build (or reuse) the gitea binary, print its path
    hack/gitea.py up NAME [--no-ssh] start server NAME, print its base URL
    hack/gitea.py down NAME          stop server NAME and delete its data
    hack/gitea.py list               list the servers of this machine
    hack/gitea.py path               print the path of the gitea binary

Version: GITOPS_GITEA_VERSION (default v1.26.0; v1.27 and later declare another module path).
Binary: $GITOPS_BOOTSTRAP_CACHE/bin/gitea-<version>/gitea. Servers:
$GITOPS_BOOTSTRAP_CACHE/gitea/servers/<name>/ (app.ini, data, logs, gitea.pid).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import localcluster as lc  # noqa: E402  (sibling script)
from localcluster import LocalClusterError  # noqa: E402
from argocd_controllers import (  # noqa: E402
    HostService, free_port, is_local_target, module_info, parse_gomod, read_json, run_cli, tail_file, write_wrapper)

GITEA_MODULE = "code.gitea.io/gitea"
GITEA_VERSION = os.environ.get("GITOPS_GITEA_VERSION", "v1.26.0")
# SQLite through cgo; sqlite_unlock_notify is what Gitea's own release builds use with it.
BUILD_TAGS = "sqlite sqlite_unlock_notify"


class GiteaError(LocalClusterError):
    """An error with a message a person can act on."""


def log(msg: str) -> None:
    print(f"[gitea] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- build
def gitea_bindir(version: str | None = None) -> str:
    return lc.bindir("gitea", version or GITEA_VERSION)


def gitea_bin(version: str | None = None) -> str:
    return os.path.join(gitea_bindir(version), "gitea")


def buildinfo_path(version: str | None = None) -> str:
    return os.path.join(gitea_bindir(version), "BUILDINFO.json")


def read_buildinfo(version: str | None = None) -> dict:
    return read_json(buildinfo_path(version))


def go_binary() -> str:
    go = shutil.which("go")
    if not go:
        raise GiteaError("the Go toolchain ('go') is not on PATH; Gitea is built from its Go module. Install Go 1.26 or "
                         "newer and run again.")
    return go


def c_compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc or not shutil.which(cc.split()[0]):
        shown = f" (CC={cc} is not an executable)" if cc else ""
        raise GiteaError(f"no C compiler found{shown}: Gitea's SQLite driver is built with cgo. "
                         "Install one (Debian: apt-get install gcc) or set CC, and run again.")
    return cc


def gitea_module(version: str, scratch: str) -> dict:
    """Download the Gitea module (its source and go.mod) and return `go mod download -json` output."""
    info = module_info(GITEA_MODULE, version, scratch)
    if info.get("Error") or not info.get("GoMod") or not info.get("Dir"):
        reason = (info.get("Error") or "no source directory in the answer").strip().splitlines()[-1].strip()
        raise GiteaError(f"the Go module proxy does not serve {GITEA_MODULE}@{version} ({reason}); check GOPROXY and the "
                         "network, or choose a served version with GITOPS_GITEA_VERSION (v1.27 and later declare the "
                         "module path gitea.dev and cannot be required under this name)")
    return info


def wrapper_replaces(gomod_path: str, version: str) -> list[tuple[str, str]]:
    """The replace lines of Gitea's own go.mod, which the wrapper must carry to build the same graph."""
    with open(gomod_path, encoding="utf-8") as fh:
        text = fh.read()
    m = re.search(r"^module\s+(\S+)", text, flags=re.M)
    if not m or m.group(1) != GITEA_MODULE:
        raise GiteaError(f"{GITEA_MODULE}@{version} declares the module path {m.group(1) if m else '(none)'}; "
                         f"it cannot be required as {GITEA_MODULE}. Choose another GITOPS_GITEA_VERSION (v1.26.x).")
    _, replaces = parse_gomod(text)
    local = [f"{left} => {right}" for left, right in replaces if is_local_target(right)]
    if local:
        raise GiteaError(f"Gitea {version} replaces modules with directories of its own repository ({', '.join(local)}); "
                         "a module download does not carry them. Choose another GITOPS_GITEA_VERSION.")
    return replaces


def go_build_env() -> dict:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env["GOFLAGS"] = env["GOFLAGS"] + " -mod=mod"
    env["CGO_ENABLED"] = "1"
    env["CC"] = c_compiler()
    return env


def run_go_progress(args: list[str], cwd: str, what: str, every: float = 20.0) -> None:
    """Run go with its output read as it comes, printing a progress line every EVERY seconds."""
    cmd = [go_binary()] + args
    if shutil.which("nice"):
        cmd = ["nice", "-n", os.environ.get("GITOPS_BUILD_NICE", "15")] + cmd
    log(f"{what}: go {shlex.join(args)}")
    proc = subprocess.Popen(cmd, cwd=cwd, env=go_build_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    counts = {"downloaded": 0, "compiled": 0}

    def reader() -> None:
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if line.startswith("go: downloading "):
                counts["downloaded"] += 1
            elif line and not line.startswith(("go: ", "#", " ", "\t")) and ":" not in line:
                counts["compiled"] += 1

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    t0 = time.time()
    try:
        while proc.poll() is None:
            if thread.is_alive():
                thread.join(timeout=every)
            else:
                try:
                    proc.wait(timeout=every)
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                log(f"{what}: {time.time() - t0:.0f}s, {counts['compiled']} packages compiled, "
                    f"{counts['downloaded']} modules downloaded")
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        raise
    thread.join(timeout=10)
    if proc.returncode != 0:
        out = "\n".join(lines)
        tail = "\n".join(lines[-30:])
        hint = ""
        if re.search(r"(403 Forbidden|404 Not Found|410 Gone|dial tcp|no such host|unknown revision|i/o timeout)", out):
            hint = " A module could not be downloaded: check that the Go module proxy (GOPROXY) is reachable and serves it."
        elif re.search(r"cgo: C compiler|exec: \"(gcc|cc)\"", out):
            hint = " The C compiler for cgo is missing: install gcc."
        raise GiteaError(f"{what} failed (go exited {proc.returncode}).{hint}\n--- last lines of go output ---\n{tail}")


def binary_ready(version: str) -> bool:
    info = read_buildinfo(version)
    return os.path.exists(gitea_bin(version)) and bool(info.get("static_root")) and \
        os.path.isdir(os.path.join(info["static_root"], "options", "locale"))


def build_gitea(version: str | None = None) -> str:
    """Build (or reuse) the gitea binary of VERSION and return its path."""
    version = version or GITEA_VERSION
    if binary_ready(version):
        log(f"gitea {version}: cached in {gitea_bindir(version)}")
        return gitea_bin(version)
    work = os.path.join(lc.CACHE, "work", f"gitea-{version}")
    os.makedirs(os.path.dirname(work), exist_ok=True)
    # One build at a time on this machine (cores are shared); a second caller waits and reuses it.
    with open(os.path.join(os.path.dirname(work), ".gitea-build.lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another build of gitea {version} is running on this machine; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if binary_ready(version):
            log(f"gitea {version}: built by the other run, cached in {gitea_bindir(version)}")
            return gitea_bin(version)
        return _build_gitea(version, work)


def _build_gitea(version: str, work: str) -> str:
    t0 = time.time()
    out = gitea_bindir(version)
    binary = gitea_bin(version)
    go_binary()
    c_compiler()
    log(f"downloading {GITEA_MODULE}@{version}")
    with tempfile.TemporaryDirectory(prefix="gitea-probe-") as scratch:
        info = gitea_module(version, scratch)
    notes = dict(read_buildinfo(version))
    notes.update({"module": GITEA_MODULE, "version": version, "static_root": info["Dir"], "tags": BUILD_TAGS})
    if not os.path.exists(binary):
        replaces = wrapper_replaces(info["GoMod"], version)
        wrapper = os.path.join(work, "wrapper")
        write_wrapper(wrapper, GITEA_MODULE, version, replaces, [GITEA_MODULE])
        log(f"wrapper module in {wrapper} (requires {GITEA_MODULE} {version}, {len(replaces)} replace lines of its go.mod)")
        os.makedirs(out, exist_ok=True)
        tmp = os.path.join(out, ".gitea.partial")
        log(f"building gitea {version} with tags '{BUILD_TAGS}'; a cold build takes about 3 minutes on 2 idle cores")
        tb = time.time()
        run_go_progress(["build", "-v", "-trimpath", "-tags", BUILD_TAGS, "-ldflags",
                         f"-s -w -X main.Version={version.lstrip('v')}", "-o", tmp, GITEA_MODULE],
                        wrapper, f"building gitea {version}")
        os.replace(tmp, binary)
        notes["build_seconds"] = round(time.time() - tb, 1)
        notes["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            notes["load_average"] = [round(x, 2) for x in os.getloadavg()]
        except OSError:
            pass
    tmpinfo = buildinfo_path(version) + ".tmp"
    with open(tmpinfo, "w", encoding="utf-8") as fh:
        json.dump(notes, fh, indent=2)
    os.replace(tmpinfo, buildinfo_path(version))
    log(f"gitea {version} ready in {time.time() - t0:.0f}s: {binary}")
    return binary


# ------------------------------------------------------------------------------- servers
SERVERS_DIR = os.path.join(lc.CACHE, "gitea", "servers")
STATE_FILE = "server.json"
PID_FILE = "gitea.pid"
CREDENTIALS_FILE = "admin.json"
ADMIN_USER = "forge-admin"
# A server created while GITOPS_CLUSTER_OWNER is set records it, as local clusters do.
OWNER_ENV = lc.OWNER_ENV
PR_SET_PDEATHSIG = 1


def require_binary(version: str) -> tuple[str, str]:
    """The gitea binary and the directory holding its options/ (the module's source)."""
    if not binary_ready(version):
        raise GiteaError(f"the gitea {version} binary is not built yet (or the Go module cache lost its source); "
                         "run `make gitea` (or `hack/gitea.py build`) first")
    return gitea_bin(version), read_buildinfo(version)["static_root"]


def ini_text(sections: dict[str, dict[str, str]], preamble: dict[str, str]) -> str:
    out = [f"{k} = {v}" for k, v in preamble.items()] + [""]
    for section, values in sections.items():
        out.append(f"[{section}]")
        out += [f"{k} = {v}" for k, v in values.items()]
        out.append("")
    return "\n".join(out)


def _check_setting(section: str, key: str, value: str) -> None:
    for what, text in (("section", section), ("key", key), ("value", value)):
        if not isinstance(text, str) or "\n" in text or "\r" in text or (what != "value" and not text.strip()):
            raise GiteaError(f"invalid app.ini {what} {text!r} in [{section}] {key}: give one line of text")


def _die_with_parent() -> None:
    """In the child: ask the kernel for SIGTERM when the process that started it ends."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class GiteaServer(HostService):
    """One Gitea server on 127.0.0.1 with a throwaway configuration under WORKDIR.

    Everything it writes stays in WORKDIR: app.ini (custom/conf), the SQLite database, the
    repositories, the SSH host key, its log. ``die_with_parent`` makes the kernel stop it when
    the process that started it ends (test sessions); the CLI's ``up`` leaves it running and
    ``down`` stops it through its pid file.
    """

    def __init__(self, workdir: str, version: str | None = None, ssh: bool = True, settings: dict | None = None,
                 die_with_parent: bool = False, startup_timeout: float = 180.0):
        self.workdir = os.path.abspath(workdir)
        self.version = version or GITEA_VERSION
        self.ssh = ssh
        self.settings = {s: dict(v) for s, v in (settings or {}).items()}
        for section, values in self.settings.items():
            for key, value in values.items():
                _check_setting(section, key, value)
        self.die_with_parent = die_with_parent
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.ssh_port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.owner = os.environ.get(OWNER_ENV, "")
        self._secret_key = secrets.token_hex(32)
        self._internal_token = secrets.token_urlsafe(48)

    # -- paths ----------------------------------------------------------------------------------
    @property
    def config_path(self) -> str:
        return os.path.join(self.workdir, "custom", "conf", "app.ini")

    @property
    def data_dir(self) -> str:
        return os.path.join(self.workdir, "data")

    @property
    def db_path(self) -> str:
        return os.path.join(self.data_dir, "gitea.db")

    @property
    def log_file(self) -> str:
        return os.path.join(self.workdir, "log", "gitea.log")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.workdir, PID_FILE)

    @property
    def host_key_path(self) -> str:
        return os.path.join(self.data_dir, "ssh", "gitea.ed25519")

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT, without a trailing slash."""
        if self.port is None:
            raise GiteaError("the server has not been started")
        return f"http://127.0.0.1:{self.port}"

    # -- configuration --------------------------------------------------------------------------
    def config(self) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        import pwd

        _, static_root = require_binary(self.version)
        preamble = {}
        if os.geteuid() == 0:
            # Gitea refuses to run as root otherwise; CI machines run the tests as root.
            preamble["I_AM_BEING_UNSAFE_RUNNING_AS_ROOT"] = "true"
        preamble.update({"APP_NAME": "gitops.bootstrap test forge", "RUN_MODE": "prod",
                         "RUN_USER": pwd.getpwuid(os.geteuid()).pw_name, "WORK_PATH": self.workdir})
        server = {
            "PROTOCOL": "http", "HTTP_ADDR": "127.0.0.1", "HTTP_PORT": str(self.port), "DOMAIN": "127.0.0.1",
            "ROOT_URL": f"http://127.0.0.1:{self.port}/",
            # The git hooks call the internal API here; "localhost" may resolve to ::1, where nothing listens.
            "LOCAL_ROOT_URL": f"http://127.0.0.1:{self.port}/",
            "OFFLINE_MODE": "true", "APP_DATA_PATH": self.data_dir, "LFS_START_SERVER": "false",
            # Built without bindata: locales, licences and templates are read from the module's source.
            "STATIC_ROOT_PATH": static_root, "GRACEFUL_HAMMER_TIME": "5s",
        }
        if self.ssh:
            server.update({"DISABLE_SSH": "false", "START_SSH_SERVER": "true", "SSH_DOMAIN": "127.0.0.1",
                           "SSH_LISTEN_HOST": "127.0.0.1", "SSH_PORT": str(self.ssh_port),
                           "SSH_LISTEN_PORT": str(self.ssh_port), "BUILTIN_SSH_SERVER_USER": "git",
                           "SSH_SERVER_HOST_KEYS": self.host_key_path})
        else:
            server["DISABLE_SSH"] = "true"
        sections = {
            "server": server,
            "database": {"DB_TYPE": "sqlite3", "PATH": self.db_path, "SQLITE_TIMEOUT": "5000"},
            "security": {"INSTALL_LOCK": "true", "SECRET_KEY": self._secret_key, "INTERNAL_TOKEN": self._internal_token,
                         "PASSWORD_COMPLEXITY": "off", "PASSWORD_CHECK_PWN": "false", "MIN_PASSWORD_LENGTH": "8",
                         # Tokens only in headers, never in query strings (they would land in logs).
                         "DISABLE_QUERY_AUTH_TOKEN": "true"},
            "service": {"DISABLE_REGISTRATION": "true", "REQUIRE_SIGNIN_VIEW": "false", "ENABLE_NOTIFY_MAIL": "false",
                        "DEFAULT_ALLOW_CREATE_ORGANIZATION": "true", "NO_REPLY_ADDRESS": "noreply.invalid",
                        "ENABLE_BASIC_AUTHENTICATION": "true"},
            "repository": {"DEFAULT_BRANCH": "main", "ENABLE_PUSH_CREATE_USER": "false", "ENABLE_PUSH_CREATE_ORG": "false"},
            "repository.signing": {"SIGNING_KEY": "none"},
            "webhook": {"ALLOWED_HOST_LIST": "loopback", "DELIVER_TIMEOUT": "5", "SKIP_TLS_VERIFY": "false"},
            "mailer": {"ENABLED": "false"},
            "actions": {"ENABLED": "false"},
            "packages": {"ENABLED": "false"},
            "indexer": {"ISSUE_INDEXER_TYPE": "db", "REPO_INDEXER_ENABLED": "false"},
            "session": {"PROVIDER": "memory"},
            "cache": {"ADAPTER": "memory"},
            "api": {"ENABLE_SWAGGER": "false"},
            "oauth2": {"ENABLED": "false"},
            "cron": {"ENABLED": "false"},
            "cron.update_checker": {"ENABLED": "false"},
            "log": {"MODE": "console", "LEVEL": "Info", "ROOT_PATH": os.path.join(self.workdir, "log")},
        }
        for section, values in self.settings.items():
            sections.setdefault(section, {}).update(values)
        return preamble, sections

    def write_config(self) -> None:
        preamble, sections = self.config()
        os.makedirs(os.path.dirname(self.config_path), exist_ok=True)
        fd = os.open(self.config_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(ini_text(sections, preamble))
        os.replace(self.config_path + ".tmp", self.config_path)

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITEA")}
        env.update({"GITEA_WORK_DIR": self.workdir, "GITEA_CUSTOM": os.path.join(self.workdir, "custom"),
                    "HOME": os.path.join(self.data_dir, "home"), "LANG": "C.UTF-8"})
        return env

    def gitea(self, *args: str, timeout: float = 300, secrets_in_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """Run a gitea CLI command against this server's configuration; raise with its output on failure."""
        binary, _ = require_binary(self.version)
        cmd = [binary, "--config", self.config_path, "--work-path", self.workdir, *args]
        try:
            proc = subprocess.run(cmd, env=self.env(), cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise GiteaError(f"gitea {' '.join(args[:3])} did not finish within {timeout:.0f}s") from exc
        if proc.returncode != 0:
            out = proc.stdout.strip()
            for secret in secrets_in_args:
                out = out.replace(secret, "********")
            raise GiteaError(f"gitea {' '.join(args[:3])} failed (exit {proc.returncode}):\n{out[-3000:]}")
        return proc

    # -- life cycle -----------------------------------------------------------------------------
    def _start(self) -> None:
        binary, _ = require_binary(self.version)
        for sub in ("log", os.path.join("data", "home"), os.path.join("data", "ssh")):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        if self.ssh and not os.path.exists(self.host_key_path) and shutil.which("ssh-keygen"):
            # An ed25519 host key is made at once; Gitea's own default is a 4096-bit RSA key.
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gitea-test-forge", "-f", self.host_key_path],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        os.makedirs(SERVERS_DIR, exist_ok=True)
        t0 = time.time()
        with open(os.path.join(SERVERS_DIR, ".start.lock"), "w") as lock:
            # Free ports are picked and taken under one lock, so two servers starting at once do not collide.
            fcntl.flock(lock, fcntl.LOCK_EX)
            for attempt in range(1, 4):
                self.port = free_port()
                self.ssh_port = free_port() if self.ssh else None
                while self.ssh and self.ssh_port == self.port:
                    self.ssh_port = free_port()
                self.write_config()
                if not os.path.exists(self.db_path):
                    self.gitea("migrate")
                self._spawn(binary)
                try:
                    self.wait_ready(self.startup_timeout)
                    break
                except GiteaError:
                    clash = "address already in use" in tail_file(self.log_file, 80)
                    self._kill()
                    if not clash or attempt == 3:
                        raise
                    log(f"a port was taken by another process while gitea started; trying other ports ({attempt + 1}/3)")
        self.save_state()
        log(f"gitea {self.version} ready in {time.time() - t0:.1f}s at {self.base_url}"
            + (f" (ssh on 127.0.0.1:{self.ssh_port})" if self.ssh else ""))

    def _spawn(self, binary: str) -> None:
        with open(self.log_file, "ab") as fh:
            self.proc = subprocess.Popen(
                [binary, "--config", self.config_path, "--work-path", self.workdir, "web"],
                env=self.env(), cwd=self.workdir, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_die_with_parent if self.die_with_parent else None)
        self.pid = self.proc.pid
        with open(self.pid_file, "w", encoding="utf-8") as fh:
            fh.write(f"{self.pid}\n")

    def wait_ready(self, timeout: float) -> dict:
        """Poll /api/v1/version until it answers; return its JSON."""
        deadline = time.time() + timeout
        last = "no answer yet"
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise GiteaError(f"gitea exited with code {self.proc.returncode} while starting.\n"
                                 f"--- last lines of {self.log_file} ---\n{tail_file(self.log_file)}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/v1/version", timeout=3) as resp:
                    body = json.loads(resp.read().decode("utf-8"))
                    if resp.status == 200 and body.get("version"):
                        return body
                    last = f"HTTP {resp.status}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.3)
        raise GiteaError(f"gitea did not answer {self.base_url}/api/v1/version within {timeout:.0f}s (last: {last}).\n"
                         f"--- last lines of {self.log_file} ---\n{tail_file(self.log_file)}")

    def alive(self) -> bool:
        """Whether the process of the pid file is this server's gitea."""
        pid = self.pid or read_pid(self.pid_file)
        if not pid:
            return False
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            return False
        return self.config_path.encode() in argv

    def _kill(self) -> None:
        pid = self.pid or read_pid(self.pid_file)
        if pid and self.alive():
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.time() + 20
            while time.time() < deadline and self.alive():
                if self.proc is not None:
                    try:
                        self.proc.wait(timeout=0.2)
                    except subprocess.TimeoutExpired:
                        pass
                else:
                    time.sleep(0.2)
            if self.alive():
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if pid:
            # git processes of the group that outlived gitea.
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        self.pid = None
        try:
            os.remove(self.pid_file)
        except OSError:
            pass

    def stop(self, remove: bool = False) -> None:
        """Stop the server (process group, pid file); with REMOVE, delete its work directory."""
        self._kill()
        if remove:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "GiteaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"version": self.version, "url": self.base_url, "port": self.port, "ssh_port": self.ssh_port,
                "pid": self.pid, "workdir": self.workdir, "owner": self.owner}

    def save_state(self) -> None:
        path = os.path.join(self.workdir, STATE_FILE)
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(self.state(), fh, indent=2)
        os.replace(path + ".tmp", path)

    @classmethod
    def load(cls, workdir: str) -> "GiteaServer":
        with open(os.path.join(workdir, STATE_FILE), encoding="utf-8") as fh:
            state = json.load(fh)
        server = cls(workdir, version=state.get("version"), ssh=bool(state.get("ssh_port")))
        server.port, server.ssh_port, server.pid = state.get("port"), state.get("ssh_port"), read_pid(server.pid_file)
        server.owner = state.get("owner", "")
        return server

    def ssh_host_public_key(self) -> str:
        """The SSH host key (OpenSSH public key line) of the built-in SSH server."""
        if not self.ssh:
            raise GiteaError("this server runs without SSH")
        try:
            with open(self.host_key_path + ".pub", encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError:
            pass
        raise GiteaError(f"no SSH host key at {self.host_key_path}.pub (ssh-keygen missing when the server was made?)")

    # -- users ----------------------------------------------------------------------------------
    def create_admin(self, username: str, email: str, password: str, token_name: str = "admin",
                     scopes: str = "all") -> str:
        """Create a site administrator with `gitea admin user create` and return its new API token."""
        proc = self.gitea("admin", "user", "create", "--admin", "--username", username, "--email", email,
                          "--password", password, "--must-change-password=false", "--access-token",
                          "--access-token-name", token_name, "--access-token-scopes", scopes,
                          secrets_in_args=(password,))
        m = re.search(r"Access token was successfully created\.*\s+(\S+)", proc.stdout)
        if not m:
            raise GiteaError(f"gitea admin user create printed no access token for {username}")
        return m.group(1)


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return int(fh.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def server_dir(name: str) -> str:
    return os.path.join(SERVERS_DIR, name)


def check_name(name: str) -> None:
    if not lc.CLUSTER_NAME_RE.match(name or ""):
        raise GiteaError(f"invalid server name {name!r}: use lower-case letters, digits and '-', at most 32 characters")


def known_servers() -> list[str]:
    try:
        return sorted(n for n in os.listdir(SERVERS_DIR) if os.path.isfile(os.path.join(SERVERS_DIR, n, STATE_FILE)))
    except OSError:
        return []


def server_up(name: str, ssh: bool = True) -> GiteaServer:
    check_name(name)
    workdir = server_dir(name)
    if os.path.isfile(os.path.join(workdir, STATE_FILE)):
        old = GiteaServer.load(workdir)
        if old.alive():
            old.wait_ready(30)
            log(f"gitea server {name} is already running at {old.base_url}; reusing it")
            return old
        log(f"gitea server {name} exists but is not running (left by a crashed run?); replacing it")
        old.stop(remove=True)
    elif os.path.exists(workdir):
        shutil.rmtree(workdir, ignore_errors=True)
    server = GiteaServer(workdir, ssh=ssh)
    server.start()
    try:
        password = secrets.token_urlsafe(18)
        token = server.create_admin(ADMIN_USER, f"{ADMIN_USER}@example.invalid", password, token_name="up")
        path = os.path.join(workdir, CREDENTIALS_FILE)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"url": server.base_url, "username": ADMIN_USER, "password": password, "token": token}, fh)
        log(f"site administrator {ADMIN_USER}; its password and API token are in {path} (mode 0600)")
    except BaseException:
        server.stop(remove=True)
        raise
    return server


def server_down(name: str) -> None:
    check_name(name)
    workdir = server_dir(name)
    if not os.path.exists(workdir):
        log(f"gitea server {name} does not exist; nothing to do")
        return
    if os.path.isfile(os.path.join(workdir, STATE_FILE)):
        GiteaServer.load(workdir).stop(remove=True)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"gitea server {name} stopped and deleted")


def cmd_up(args) -> int:
    print(server_up(args.name, ssh=args.ssh).base_url)
    return 0


def cmd_down(args) -> int:
    if args.all:
        names = known_servers()
    elif args.name:
        names = [args.name]
    else:
        raise GiteaError("name the server to stop, or pass --all")
    for name in names:
        if args.owner is not None and GiteaServer.load(server_dir(name)).owner != args.owner:
            continue
        server_down(name)
    return 0


def cmd_list(args) -> int:
    for name in known_servers():
        server = GiteaServer.load(server_dir(name))
        if args.owner is not None and server.owner != args.owner:
            continue
        status = "running" if server.alive() else "stopped"
        ssh = f"ssh=127.0.0.1:{server.ssh_port}" if server.ssh_port else "ssh=off"
        print(f"{name}\t{status}\t{server.base_url}\t{ssh}")
    return 0


def cmd_build(args) -> int:
    print(build_gitea(args.version))
    return 0


def cmd_path(args) -> int:
    print(gitea_bin(args.version))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or reuse) the gitea binary and print its path")
    b.add_argument("--version", default=GITEA_VERSION)
    b.set_defaults(func=cmd_build)
    p = sub.add_parser("path", help="print the path of the gitea binary")
    p.add_argument("--version", default=GITEA_VERSION)
    p.set_defaults(func=cmd_path)
    up = sub.add_parser("up", help="start a named server on a free loopback port and print its base URL")
    up.add_argument("name")
    up.add_argument("--no-ssh", dest="ssh", action="store_false", help="no built-in SSH server (DISABLE_SSH)")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop a named server and delete its data")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true", help="every server of this machine")
    down.add_argument("--owner", default=None, help=f"with --all: only those started while {OWNER_ENV} had this value")
    down.set_defaults(func=cmd_down)
    ls = sub.add_parser("list", help="list the servers of this machine")
    ls.add_argument("--owner", default=None, help=f"only those started while {OWNER_ENV} had this value")
    ls.set_defaults(func=cmd_list)
    return run_cli(parser.parse_args(argv), "gitea")


if __name__ == "__main__":
    sys.exit(main())
