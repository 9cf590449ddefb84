# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run gitops.bootstrap.infra_repo through Ansible the way a user does, and read its result."""


import json
import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGOCD_MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS", os.path.join(os.path.dirname(REPO_ROOT), "shared", "argocd"))
CACHE = os.path.expanduser(os.environ.get("GITOPS_BOOTSTRAP_CACHE", "~/.cache/gitops-bootstrap"))
KUBECTL_DIR = os.path.join(CACHE, "bin", "kubernetes-v1.36.3")


def ansible_env():
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO_ROOT, ".build", "collections"))
    env.update({
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    return env


class Run(object):
    def __init__(self, result, stdout, stderr):
        self.result = result
        self.stdout = stdout
        self.stderr = stderr

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)

    @property
    def failed(self):
        return bool(self.result.get("failed"))


def _module_command(args, check=False, diff=False):
    bindir = os.path.dirname(sys.executable)
    cmd = [
        os.path.join(bindir, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
        "-e", "ansible_python_interpreter=%s" % sys.executable,
        "-m", "gitops.bootstrap.infra_repo", "-a", json.dumps(args),
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    return cmd


def _module_result(returncode, stdout, stderr):
    try:
        data = json.loads(stdout)
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no module result; rc=%d\nstdout:\n%s\nstderr:\n%s" % (returncode, stdout, stderr))
    return Run(result, stdout, stderr)


def run_module(args, check=False, diff=False, env_update=None, timeout=300):
    """Run the module once on localhost and return its result (also on failure).

    ``env_update`` is added to the environment of ansible (and so of the module and its git);
    a run that takes longer than ``timeout`` seconds is an assertion error.
    """
    env = ansible_env()
    env.update(env_update or {})
    try:
        proc = subprocess.run(_module_command(args, check, diff), env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise AssertionError("the module did not finish within %d s" % timeout)
    return _module_result(proc.returncode, proc.stdout, proc.stderr)


def run_modules_concurrently(arg_list, timeout=600):
    """Start one run of the module per entry of ``arg_list`` at the same time; their results in order."""
    procs = [subprocess.Popen(_module_command(args), env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for args in arg_list]
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise AssertionError("concurrent runs did not finish within %d s" % timeout)
        results.append(_module_result(proc.returncode, out, err))
    return results


def remote_cache(tmp_path, version="v3.5.1"):
    """A remote-resource cache holding the real upstream install manifest of ``version``, so the
    generated validation renders clusters/<cluster>/argocd/ offline."""
    src = os.path.join(ARGOCD_MANIFESTS, version, "install.yaml")
    if not os.path.exists(src):
        raise AssertionError("upstream Argo CD manifests not found at %s (set GITOPS_ARGOCD_MANIFESTS)" % src)
    d = os.path.join(str(tmp_path), "remote-cache")
    target = os.path.join(d, "raw.githubusercontent.com", "argoproj", "argo-cd", version, "manifests")
    os.makedirs(target, exist_ok=True)
    link = os.path.join(target, "install.yaml")
    if not os.path.exists(link):
        os.symlink(src, link)
    return d


def run_validate(repo_dir, cache_dir, *extra, env_update=None):
    """`make validate OFFLINE=1` in a checkout of the scaffolded repository."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), KUBECTL_DIR, env.get("PATH", "")])
    env["GITOPS_REMOTE_CACHE"] = cache_dir
    env.update(env_update or {})
    cmd = ["make", "--no-print-directory", "-C", str(repo_dir), "OFFLINE=1", "PYTHON=%s" % sys.executable] + list(extra)
    if not extra:
        cmd.append("validate")
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
