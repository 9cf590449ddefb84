# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git plumbing for the infra repository: fetch, read, commit, push through the git CLI.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Credentials never touch the repository: the SSH key and known_hosts reach ``ssh`` through
``GIT_SSH_COMMAND`` and an HTTPS token reaches git through a ``GIT_ASKPASS`` helper that reads
it from the environment of the one git process. Nothing is written into ``.git/config``; the
remote URL stored there is the URL without credentials.

Every git process runs with an isolated configuration, so the result never depends on the
running user's or the repository's settings: no system or global config file, the settings that
change line endings, hooks, signing, attributes or the default branch pinned on the command
line, identity and credentials passed explicitly, and no ``GIT_*`` variable of the caller's
environment. Each git process is bounded by a timeout (the whole process group is killed when it
runs out), and network transfers also by git's own low-speed and SSH connect limits.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

REMOTE = "origin"
DEFAULT_TIMEOUT = 120

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?[^/:\s]+:(?!//)")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")

ASKPASS_SCRIPT = """#!/bin/sh
# Answers git's credential prompts from this process's environment only.
case "$1" in
  Username*|username*) printf '%s\\n' "$GITOPS_GIT_USERNAME" ;;
  *) printf '%s\\n' "$GITOPS_GIT_PASSWORD" ;;
esac
"""

# Settings pinned on every git command line (they win over any config file). They cover what
# changes the bytes git stores or reads (line endings, attributes, filters of the work tree), what
# runs code or may fail on the user's machine (hooks, signing, fsmonitor, background gc), and what
# changes the output the module parses (colours, diff prefixes, path quoting).
ISOLATED_CONFIG = (
    "credential.helper=",
    "core.askPass=",
    "core.autocrlf=false",
    "core.eol=lf",
    "core.safecrlf=false",
    "core.attributesFile=/dev/null",
    "core.excludesFile=/dev/null",
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.quotePath=false",
    "core.ignoreCase=false",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "push.gpgSign=false",
    "init.defaultBranch=main",
    "advice.detachedHead=false",
    "color.ui=false",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.renames=false",
    "log.showSignature=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "ssh.variant=ssh",
)


class GitError(Exception):
    """A git operation failed; the message says what was done and what to do."""


class PushRejected(GitError):
    """The remote refused the push because its branch moved on."""


class GitTimeout(GitError):
    """A git process did not finish within the timeout."""


Runner = Callable[..., "tuple[int, bytes, bytes]"]


def run_process(cmd: list[str], cwd: str | None = None, env: dict[str, str] | None = None,
                data: bytes | None = None, timeout: float | None = None) -> tuple[int, bytes, bytes]:
    """Run ``cmd`` in its own process group; on timeout kill the group (git, ssh, the http helper).

    Raises GitTimeout when ``timeout`` seconds pass; returns (rc, stdout, stderr) as bytes.
    """
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        cmd, cwd=cwd, env=env, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        raise GitTimeout(f"git did not finish within {timeout:g} s") from None
    return proc.returncode, out or b"", err or b""


def is_remote_url(repo: str) -> bool:
    """True for ssh://, https://, http://, git://, file:// URLs and scp-like ``user@host:path``."""
    if _URL.match(repo):
        return True
    return bool(_SCP_LIKE.match(repo)) and not os.path.exists(repo)


def url_scheme(repo: str) -> str:
    """ssh, https, http, git or file."""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", repo)
    if m:
        scheme = m.group(1).lower()
        return "ssh" if scheme in ("ssh", "git+ssh", "ssh+git") else scheme
    return "ssh"


def server_of(repo: str) -> str:
    """The server a URL talks to, as people name it: ``host:port`` (or the path of a file:// URL)."""
    if _URL.match(repo):
        parts = urlsplit(repo)
        if parts.scheme.lower() == "file":
            return parts.path or repo
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            port = {"ssh": 22, "https": 443, "http": 80, "git": 9418}.get(url_scheme(repo))
        return f"{host}:{port}" if port else host
    m = re.match(r"^(?:[^@/\s]+@)?([^/:\s]+):", repo)
    return f"{m.group(1)}:22" if m else repo


def check_url_has_no_secret(repo: str) -> None:
    """Refuse URLs that carry a password or token: it would land in .git/config and in logs."""
    if _URL.match(repo):
        parts = urlsplit(repo)
        if parts.password is not None:
            raise GitError(
                "the repository URL contains a password or token; remove it from the URL and pass it as "
                "https_token (it is then given to git through an askpass helper and never stored)"
            )


class GitAuth:
    """Builds the environment that gives git its credentials for one run.

    ``tmpdir`` is a private directory (mode 0700) that the caller removes afterwards.
    ``connect_timeout`` bounds the SSH connection and banner exchange, in seconds.
    """

    def __init__(self, tmpdir: str, ssh_key_file: str | None = None, ssh_private_key: str | None = None,
                 ssh_known_hosts: list[str] | str | None = None, ssh_known_hosts_file: str | None = None,
                 ssh_host_key_checking: str = "strict", https_username: str | None = None,
                 https_token: str | None = None, connect_timeout: int = 20) -> None:
        self.tmpdir = tmpdir
        self.ssh_key_file = ssh_key_file
        self.ssh_private_key = ssh_private_key
        self.ssh_known_hosts = ssh_known_hosts
        self.ssh_known_hosts_file = ssh_known_hosts_file
        self.ssh_host_key_checking = ssh_host_key_checking
        self.https_username = https_username
        self.https_token = https_token
        self.connect_timeout = max(1, int(connect_timeout))
        self._env: dict[str, str] | None = None

    def _write_private(self, name: str, content: str, mode: int = stat.S_IRUSR | stat.S_IWUSR) -> str:
        path = os.path.join(self.tmpdir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def ssh_command(self) -> str:
        alive = max(1, min(15, self.connect_timeout))
        opts = [
            "ssh",
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={self.connect_timeout}",
            "-o", f"ServerAliveInterval={alive}",
            "-o", "ServerAliveCountMax=3",
        ]
        key = self.ssh_key_file
        if self.ssh_private_key:
            content = self.ssh_private_key
            if not content.endswith("\n"):
                content += "\n"
            key = self._write_private("id_deploy", content)
        if key:
            opts += ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
        known = self.ssh_known_hosts_file
        if self.ssh_known_hosts:
            content = self.ssh_known_hosts
            if isinstance(content, (list, tuple)):
                content = "\n".join(content)
            known = self._write_private("known_hosts", content.rstrip("\n") + "\n")
        checking = {"strict": "yes", "accept-new": "accept-new", "no": "no"}[self.ssh_host_key_checking]
        opts += ["-o", f"StrictHostKeyChecking={checking}"]
        if self.ssh_host_key_checking == "no":
            opts += ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        elif known:
            opts += ["-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null"]
        return " ".join(shlex.quote(o) for o in opts)

    def env(self) -> dict[str, str]:
        """Variables set for every git call of this run (on top of the cleaned environment)."""
        if self._env is not None:
            return self._env
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_SSH_COMMAND": self.ssh_command(),
            "LC_ALL": "C",
            "LANGUAGE": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_OPTIONAL_LOCKS": "0",
        }
        if self.https_token:
            env["GIT_ASKPASS"] = self._write_private("askpass.sh", ASKPASS_SCRIPT, stat.S_IRWXU)
            env["GITOPS_GIT_USERNAME"] = self.https_username or "git"
            env["GITOPS_GIT_PASSWORD"] = self.https_token
        self._env = env
        return env

    def secrets(self) -> list[str]:
        return [s for s in (self.https_token, self.ssh_private_key) if s]


def isolated_environ(base: dict[str, str], update: dict[str, str]) -> dict[str, str]:
    """``base`` without any GIT_* variable or askpass helper of the caller, plus ``update``."""
    env = {k: v for k, v in base.items() if not k.startswith("GIT_") and k not in ("SSH_ASKPASS", "EMAIL")}
    env.update(update)
    return env


def explain(text: str, limit: int = 2000) -> str:
    """git's messages, as one line per statement: every line that says what happened, no hints.

    git often ends with a generic line (``Please make sure you have the correct access rights and
    the repository exists.``) after the one that names the cause; both are kept.
    """
    statements: list[str] = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith(("hint:", "To ", "Done")) or re.match(r"^(remote: )?\s*$", line):
            continue
        line = re.sub(r"\s+", " ", line)
        starts = re.match(r"^(fatal|error|warning|remote|ssh|kex_exchange_identification|Connection|"
                          r"!|\[rejected\]|\[remote rejected\])\b", line)
        if statements and not starts and (not statements[-1].endswith((".", ":")) or re.match(r"^[a-z]", line)):
            statements[-1] += " " + line
        else:
            statements.append(line)
    out = ""
    for statement in statements:
        if out:
            out += " " if out.endswith((".", "!", "?")) else "; "
        out += statement
    if len(out) > limit:
        out = out[: limit - 3] + "..."
    return out


class Git:
    """The git CLI in one work tree.

    ``run`` has the signature of ``run_process``: ``run(cmd, cwd=, env=, data=, timeout=)`` returning
    ``(rc, stdout_bytes, stderr_bytes)`` and raising GitTimeout.
    """

    def __init__(self, run: Runner | None, workdir: str, auth: GitAuth, author_name: str = "gitops.bootstrap",
                 author_email: str = "gitops-bootstrap@localhost", timeout: int = DEFAULT_TIMEOUT) -> None:
        self._run = run or run_process
        self.workdir = workdir
        self.auth = auth
        self.author_name = author_name
        self.author_email = author_email
        self.timeout = timeout
        self.server = ""  # the server of the current network operation, for timeout messages

    # -- low level
    def _mask(self, text: str) -> str:
        for secret in self.auth.secrets():
            text = text.replace(secret, "********")
        return text

    def command(self, args: Iterable[str]) -> list[str]:
        low_speed_time = max(1, min(30, int(self.timeout)))
        cmd = ["git"]
        for setting in ISOLATED_CONFIG + (
                f"user.name={self.author_name}", f"user.email={self.author_email}",
                "http.lowSpeedLimit=1", f"http.lowSpeedTime={low_speed_time}"):
            cmd += ["-c", setting]
        return cmd + list(args)

    def environ(self) -> dict[str, str]:
        update = dict(self.auth.env())
        update.update({
            "GIT_AUTHOR_NAME": self.author_name, "GIT_AUTHOR_EMAIL": self.author_email,
            "GIT_COMMITTER_NAME": self.author_name, "GIT_COMMITTER_EMAIL": self.author_email,
            "GIT_EDITOR": ":", "GIT_PAGER": "cat",
        })
        return isolated_environ(dict(os.environ), update)

    def run_bytes(self, args: list[str], doing: str, cwd: str | None = None, check: bool = True,
                  data: bytes | None = None) -> tuple[int, bytes, str]:
        try:
            rc, out, err = self._run(self.command(args), cwd=cwd or self.workdir, env=self.environ(),
                                     data=data, timeout=self.timeout)
        except GitTimeout:
            raise GitTimeout(self.timeout_message(doing)) from None
        if isinstance(out, str):
            out = out.encode("utf-8")
        err_text = self._mask(err.decode("utf-8", "replace") if isinstance(err, bytes) else (err or ""))
        if check and rc != 0:
            raise GitError(f"{doing} failed (git {args[0]}, exit {rc}): "
                           f"{explain(err_text) or self._mask(out.decode('utf-8', 'replace')).strip() or 'no message'}")
        return rc, out, err_text

    def run(self, args: list[str], doing: str, cwd: str | None = None, check: bool = True,
            data: bytes | None = None) -> tuple[int, str, str]:
        rc, out, err = self.run_bytes(args, doing, cwd=cwd, check=check, data=data)
        return rc, self._mask(out.decode("utf-8", "replace")), err

    def out(self, args: list[str], doing: str) -> str:
        return self.run(args, doing)[1].strip()

    def timeout_message(self, doing: str) -> str:
        if self.server:
            return (f"{doing}: the server {self.server} did not answer within {self.timeout:g} s; check that it is up "
                    f"and that the URL and port are right, or raise the option timeout (now {self.timeout:g} s)")
        return f"{doing}: git did not finish within {self.timeout:g} s; raise the option timeout (now {self.timeout:g} s)"

    # -- queries
    def is_work_tree(self, path: str) -> bool:
        rc, out, dummy = self.run(["rev-parse", "--is-inside-work-tree"], f"inspecting {path}", cwd=path, check=False)
        if rc != 0 or out.strip() != "true":
            return False
        rc, top, dummy = self.run(["rev-parse", "--show-toplevel"], f"inspecting {path}", cwd=path, check=False)
        return rc == 0 and os.path.realpath(top.strip()) == os.path.realpath(path)

    def status_porcelain(self) -> str:
        return self.run(["status", "--porcelain", "--untracked-files=all"], "reading the work tree status")[1].rstrip("\n")

    def rev(self, ref: str) -> str | None:
        rc, out, dummy = self.run(["rev-parse", "--verify", "--quiet", ref + "^{commit}"], f"resolving {ref}", check=False)
        return out.strip() if rc == 0 else None

    def current_branch(self) -> str | None:
        rc, out, dummy = self.run(["symbolic-ref", "--quiet", "--short", "HEAD"], "reading the current branch", check=False)
        return out.strip() if rc == 0 else None

    def remote_url(self) -> str | None:
        rc, out, dummy = self.run(["remote", "get-url", REMOTE], "reading the remote URL", check=False)
        return out.strip() if rc == 0 else None

    def tree(self, ref: str | None) -> dict[str, tuple[str, str]]:
        """Every entry of the tree of ``ref``, recursively: {path: (mode, object id)} (empty for None)."""
        if ref is None:
            return {}
        rc, out, dummy = self.run_bytes(["ls-tree", "-r", "-z", "--full-tree", ref], f"listing the files of {ref}")
        entries = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, dummy, path = record.partition(b"\t")
            mode, dummy, rest = meta.decode("ascii").partition(" ")
            oid = rest.split(" ")[-1]
            entries[path.decode("utf-8", "surrogateescape")] = (mode, oid)
        return entries

    def blobs(self, oids: Iterable[str]) -> dict[str, bytes]:
        """The content of objects, read from the object store (no filter, no work tree)."""
        wanted = sorted(set(oids))
        if not wanted:
            return {}
        rc, out, dummy = self.run_bytes(["cat-file", "--batch"], "reading the committed files",
                                        data="".join(o + "\n" for o in wanted).encode("ascii"))
        found: dict[str, bytes] = {}
        pos = 0
        while pos < len(out):
            end = out.index(b"\n", pos)
            header = out[pos:end].decode("ascii").split(" ")
            pos = end + 1
            if len(header) < 3:  # "<oid> missing"
                continue
            size = int(header[2])
            found[header[0]] = out[pos:pos + size]
            pos += size + 1
        return found

    def added_lines(self, ref: str | None, path: str) -> list[str]:
        """Every line ever added to ``path`` in the history of ``ref`` (oldest first)."""
        if ref is None:
            return []
        rc, out, dummy = self.run(
            ["log", "--reverse", "-p", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "-U0",
             "--format=", ref, "--", path], f"reading the history of {path}", check=False)
        if rc != 0:
            return []
        return [line[1:] for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]

    # -- operations
    def init(self, branch: str) -> None:
        self.run(["init", "--quiet", f"--initial-branch={branch}"], f"initialising a repository in {self.workdir}")

    def set_remote(self, url: str) -> None:
        if self.remote_url() is None:
            self.run(["remote", "add", REMOTE, url], "adding the remote")
        else:
            self.run(["remote", "set-url", REMOTE, url], "setting the remote URL")

    def fetch(self, url: str) -> None:
        """Fetch every branch of ``url`` into refs/remotes/origin/ (from the URL itself, not from a
        remote's configuration, which a kept work directory could have changed)."""
        self.server = server_of(url)
        try:
            rc, dummy, err = self.run(
                ["fetch", "--quiet", "--prune", "--no-tags", url, f"+refs/heads/*:refs/remotes/{REMOTE}/*"],
                f"fetching from {url}", check=False)
        finally:
            self.server = ""
        if rc != 0:
            raise GitError(describe_remote_error(url, err, timeout=self.timeout))

    def checkout_from(self, branch: str, start: str) -> None:
        """Make ``branch`` point at ``start`` (a commit) and check it out, with a clean tree."""
        self.run(["checkout", "--quiet", "--force", "-B", branch, start], f"checking out {branch}")

    def write_blobs(self, contents: list[bytes], tmpdir: str) -> list[str]:
        """Store ``contents`` as blobs exactly as given (no filter, no line-ending conversion)."""
        if not contents:
            return []
        paths = []
        with tempfile.TemporaryDirectory(dir=tmpdir) as d:
            for i, content in enumerate(contents):
                p = os.path.join(d, str(i))
                with open(p, "wb") as f:
                    f.write(content)
                paths.append(p)
            out = self.run(["hash-object", "-w", "--no-filters", "--stdin-paths"], "storing the generated files",
                           data="".join(p + "\n" for p in paths).encode())[1]
        oids = out.split()
        if len(oids) != len(contents):
            raise GitError(f"storing the generated files failed: git returned {len(oids)} ids for {len(contents)} files")
        return oids

    def stage(self, entries: list[tuple[str, str, str]]) -> None:
        """Put (mode, object id, path) entries into the index."""
        data = b"".join(f"{mode} {oid}\t{path}".encode("utf-8", "surrogateescape") + b"\0" for mode, oid, path in entries)
        self.run(["update-index", "--add", "-z", "--index-info"], "staging the generated files", data=data)

    def commit_index(self, message: str) -> str | None:
        """Commit the index; None when it holds no change."""
        rc, dummy, dummy2 = self.run(["diff", "--cached", "--quiet", "--no-ext-diff"], "checking staged changes", check=False)
        if rc == 0:
            return None
        self.run(["commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message], "committing")
        return self.rev("HEAD")

    def refresh(self) -> None:
        self.run(["update-index", "-q", "--refresh"], "refreshing the index", check=False)

    def push(self, url: str, branch: str, lease: str | None = None) -> None:
        """Push HEAD to ``branch``; with ``lease`` (a commit id) the branch is replaced, but only while it
        still points at that commit (a moved branch is a rejection like a non-fast-forward)."""
        args = ["push", "--porcelain", "--no-verify"]
        if lease:
            args.append(f"--force-with-lease=refs/heads/{branch}:{lease}")
        self.server = server_of(url)
        try:
            rc, out, err = self.run(args + [url, f"HEAD:refs/heads/{branch}"], f"pushing to {url}", check=False)
        finally:
            self.server = ""
        if rc == 0:
            return
        text = out + err
        if re.search(r"\[rejected\]|non-fast-forward|fetch first|\[remote rejected\].*(?:cannot lock|failed to update ref)"
                     r"|cannot lock ref|reference already exists", text):
            raise PushRejected(f"the remote branch {branch} moved on while this run was committing")
        raise GitError(describe_remote_error(url, err + ("\n" + out if out.strip() else ""), doing="pushing to",
                                             timeout=self.timeout))


def describe_remote_error(url: str, err: str, doing: str = "fetching from", timeout: float | None = None) -> str:
    """What failed (git's own lines that say what happened), the likely cause, what to do."""
    err = (err or "").strip()
    low = err.lower()
    hint = ""
    if "host key verification failed" in low or "remote host identification has changed" in low:
        hint = ("the SSH host key of the server is unknown or does not match; pass the server's key in "
                "ssh_known_hosts (or ssh_known_hosts_file) after checking its fingerprint")
    elif "permission denied" in low or "authentication failed" in low or "could not read username" in low \
            or "could not read password" in low or "403" in low or "401" in low:
        hint = "the server refused the credentials; check ssh_private_key/ssh_key_file or https_username/https_token and the key's access"
    elif "banner exchange" in low or "operation too slow" in low or "timed out" in low or "timeout" in low:
        limit = f" within {timeout:g} s" if timeout else ""
        hint = (f"the server {server_of(url)} did not answer{limit}; check that it is up and that the URL and port are "
                f"right, or raise the option timeout")
    elif "connection refused" in low or "could not resolve" in low or "no route to host" in low \
            or "failed to connect" in low or "unable to connect" in low:
        hint = f"the server {server_of(url)} cannot be reached; check the URL, the port and the network"
    elif "does not appear to be a git repository" in low or "not found" in low or "repository not found" in low:
        hint = "the repository does not exist at that URL; create it (empty is fine) or fix the URL"
    msg = f"{doing.capitalize()} {url} failed: {explain(err) or 'unknown error'}"
    if hint:
        msg += " -- " + hint
    return msg
