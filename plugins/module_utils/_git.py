# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git plumbing for the infra repository: fetch, commit, push through the git CLI.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Credentials never touch the repository: the SSH key and known_hosts reach ``ssh`` through
``GIT_SSH_COMMAND`` and an HTTPS token reaches git through a ``GIT_ASKPASS`` helper that reads
it from the environment of the one git process. Nothing is written into ``.git/config``; the
remote URL stored there is the URL without credentials.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex
import stat

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit  # type: ignore[no-redef]

REMOTE = "origin"

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?[^/:\s]+:(?!//)")

ASKPASS_SCRIPT = """#!/bin/sh
# Answers git's credential prompts from this process's environment only.
case "$1" in
  Username*|username*) printf '%s\\n' "$GITOPS_GIT_USERNAME" ;;
  *) printf '%s\\n' "$GITOPS_GIT_PASSWORD" ;;
esac
"""


class GitError(Exception):
    """A git operation failed; the message says what was done and what to do."""


class PushRejected(GitError):
    """The remote refused the push because its branch moved on."""


class RebaseConflict(GitError):
    """Rebasing our commit onto the remote branch hit a conflict."""


def is_remote_url(repo):
    """True for ssh://, https://, http://, git://, file:// URLs and scp-like ``user@host:path``."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", repo):
        return True
    return bool(_SCP_LIKE.match(repo)) and not os.path.exists(repo)


def url_scheme(repo):
    """ssh, https, http, git or file."""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", repo)
    if m:
        scheme = m.group(1).lower()
        return "ssh" if scheme in ("ssh", "git+ssh", "ssh+git") else scheme
    return "ssh"


def check_url_has_no_secret(repo):
    """Refuse URLs that carry a password or token: it would land in .git/config and in logs."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", repo):
        parts = urlsplit(repo)
        if parts.password is not None:
            raise GitError(
                "the repository URL contains a password or token; remove it from the URL and pass it as "
                "https_token (it is then given to git through an askpass helper and never stored)"
            )


class GitAuth(object):
    """Builds the environment that gives git its credentials for one run.

    ``tmpdir`` is a private directory (mode 0700) that the caller removes afterwards.
    """

    def __init__(self, tmpdir, ssh_key_file=None, ssh_private_key=None, ssh_known_hosts=None,
                 ssh_known_hosts_file=None, ssh_host_key_checking="strict", https_username=None,
                 https_token=None, connect_timeout=20):
        self.tmpdir = tmpdir
        self.ssh_key_file = ssh_key_file
        self.ssh_private_key = ssh_private_key
        self.ssh_known_hosts = ssh_known_hosts
        self.ssh_known_hosts_file = ssh_known_hosts_file
        self.ssh_host_key_checking = ssh_host_key_checking
        self.https_username = https_username
        self.https_token = https_token
        self.connect_timeout = connect_timeout
        self._env = None

    def _write_private(self, name, content, mode=stat.S_IRUSR | stat.S_IWUSR):
        path = os.path.join(self.tmpdir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def ssh_command(self):
        opts = [
            "ssh",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=%d" % self.connect_timeout,
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
        opts += ["-o", "StrictHostKeyChecking=%s" % checking]
        if self.ssh_host_key_checking == "no":
            opts += ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        elif known:
            opts += ["-o", "UserKnownHostsFile=%s" % known, "-o", "GlobalKnownHostsFile=/dev/null"]
        return " ".join(shlex.quote(o) for o in opts)

    def env(self):
        """Environment variables for every git call of this run."""
        if self._env is not None:
            return self._env
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_SSH_COMMAND": self.ssh_command(),
            "LC_ALL": "C",
            "LANGUAGE": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        if self.https_token:
            env["GIT_ASKPASS"] = self._write_private("askpass.sh", ASKPASS_SCRIPT, stat.S_IRWXU)
            env["GITOPS_GIT_USERNAME"] = self.https_username or "git"
            env["GITOPS_GIT_PASSWORD"] = self.https_token
        self._env = env
        return env

    def secrets(self):
        return [s for s in (self.https_token, self.ssh_private_key) if s]


class Git(object):
    """The git CLI in one work tree.

    ``run`` has the signature of ``AnsibleModule.run_command``.
    """

    def __init__(self, run, workdir, auth, author_name="gitops.bootstrap", author_email="gitops-bootstrap@localhost"):
        self._run = run
        self.workdir = workdir
        self.auth = auth
        self.author_name = author_name
        self.author_email = author_email

    # -- low level
    def _mask(self, text):
        for secret in self.auth.secrets():
            text = text.replace(secret, "********")
        return text

    def run(self, args, doing, cwd=None, check=True):
        cmd = [
            "git",
            "-c", "credential.helper=",
            "-c", "core.askPass=",
            "-c", "commit.gpgSign=false",
            "-c", "user.name=%s" % self.author_name,
            "-c", "user.email=%s" % self.author_email,
            "-c", "init.defaultBranch=main",
            "-c", "advice.detachedHead=false",
        ] + list(args)
        rc, out, err = self._run(cmd, cwd=cwd or self.workdir, environ_update=self.auth.env())
        out, err = self._mask(out or ""), self._mask(err or "")
        if check and rc != 0:
            raise GitError("%s failed (git %s, exit %d): %s" % (doing, args[0], rc, (err or out).strip()))
        return rc, out, err

    def out(self, args, doing):
        return self.run(args, doing)[1].strip()

    # -- queries
    def is_work_tree(self, path):
        rc, out, dummy = self.run(["rev-parse", "--is-inside-work-tree"], "inspecting %s" % path, cwd=path, check=False)
        if rc != 0 or out.strip() != "true":
            return False
        rc, top, dummy = self.run(["rev-parse", "--show-toplevel"], "inspecting %s" % path, cwd=path, check=False)
        return rc == 0 and os.path.realpath(top.strip()) == os.path.realpath(path)

    def status_porcelain(self):
        return self.run(["status", "--porcelain", "--untracked-files=all"], "reading the work tree status")[1].rstrip("\n")

    def rev(self, ref):
        rc, out, dummy = self.run(["rev-parse", "--verify", "--quiet", ref + "^{commit}"], "resolving %s" % ref, check=False)
        return out.strip() if rc == 0 else None

    def current_branch(self):
        rc, out, dummy = self.run(["symbolic-ref", "--quiet", "--short", "HEAD"], "reading the current branch", check=False)
        return out.strip() if rc == 0 else None

    def remote_url(self):
        rc, out, dummy = self.run(["remote", "get-url", REMOTE], "reading the remote URL", check=False)
        return out.strip() if rc == 0 else None

    # -- operations
    def init(self, branch):
        self.run(["init", "--quiet", "--initial-branch=%s" % branch], "initialising a repository in %s" % self.workdir)

    def set_remote(self, url):
        if self.remote_url() is None:
            self.run(["remote", "add", REMOTE, url], "adding the remote")
        else:
            self.run(["remote", "set-url", REMOTE, url], "setting the remote URL")

    def fetch(self, url_for_messages):
        rc, dummy, err = self.run(
            ["fetch", "--quiet", "--prune", REMOTE, "+refs/heads/*:refs/remotes/%s/*" % REMOTE], "fetching", check=False)
        if rc != 0:
            raise GitError(describe_remote_error(url_for_messages, err))

    def checkout_from(self, branch, start):
        """Make ``branch`` point at ``start`` (a commit) and check it out, with a clean tree."""
        self.run(["checkout", "--quiet", "--force", "-B", branch, start], "checking out %s" % branch)

    def checkout_orphan(self, branch):
        self.run(["checkout", "--quiet", "--orphan", branch], "creating branch %s" % branch)

    def commit(self, paths, message):
        self.run(["add", "--"] + sorted(paths), "staging the generated files")
        rc, dummy, dummy2 = self.run(["diff", "--cached", "--quiet"], "checking staged changes", check=False)
        if rc == 0:
            return None
        self.run(["commit", "--quiet", "--no-verify", "-m", message], "committing")
        return self.rev("HEAD")

    def push(self, url_for_messages, branch):
        rc, out, err = self.run(
            ["push", "--porcelain", REMOTE, "HEAD:refs/heads/%s" % branch], "pushing", check=False)
        if rc == 0:
            return
        text = out + err
        if re.search(r"\[rejected\]|non-fast-forward|fetch first|\[remote rejected\].*(?:cannot lock|failed to update ref)", text):
            raise PushRejected("the remote branch %s moved on while this run was committing" % branch)
        raise GitError(describe_remote_error(url_for_messages, err or out, doing="pushing to"))

    def rebase_onto(self, upstream):
        rc, out, err = self.run(["rebase", "--quiet", upstream], "rebasing onto %s" % upstream, check=False)
        if rc != 0:
            self.run(["rebase", "--abort"], "aborting the rebase", check=False)
            conflicted = re.findall(r"CONFLICT \([^)]*\): .*? in (\S+)", out + err)
            raise RebaseConflict(
                "another commit landed on %s after this run started and it conflicts with the generated files%s; "
                "nothing was pushed. Re-run to regenerate on top of the new commit, or resolve by hand"
                % (upstream, (" (" + ", ".join(sorted(set(conflicted))) + ")") if conflicted else ""))


def describe_remote_error(url, err, doing="fetching from"):
    """One sentence: what failed, the likely cause, what to do."""
    err = (err or "").strip()
    low = err.lower()
    hint = ""
    if "host key verification failed" in low or "remote host identification has changed" in low:
        hint = ("the SSH host key of the server is unknown or does not match; pass the server's key in "
                "ssh_known_hosts (or ssh_known_hosts_file) after checking its fingerprint")
    elif "permission denied" in low or "authentication failed" in low or "could not read username" in low \
            or "could not read password" in low or "403" in low or "401" in low:
        hint = "the server refused the credentials; check ssh_private_key/ssh_key_file or https_username/https_token and the key's access"
    elif "connection refused" in low or "could not resolve" in low or "timed out" in low or "no route to host" in low \
            or "failed to connect" in low or "unable to connect" in low:
        hint = "the server cannot be reached; check the URL, the port and the network"
    elif "does not appear to be a git repository" in low or "not found" in low or "repository not found" in low:
        hint = "the repository does not exist at that URL; create it (empty is fine) or fix the URL"
    msg = "%s %s failed: %s" % (doing.capitalize(), url, err.splitlines()[-1] if err else "unknown error")
    if hint:
        msg += " -- " + hint
    return msg
