#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of playbooks/bootstrap.yml (not a test: it prints figures for the README).

    benchmarks/bootstrap.py

In one run, on fresh local clusters each time:
  1. full bootstrap of one cluster;
  2. full bootstrap of two clusters in one run (forks 5, so in parallel);
  3. the no-op re-run of the whole bootstrap, for each cluster alone.
Run it from a checkout after `make venv controlplane`; it uses the virtualenv's ansible-playbook.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
LOCALCLUSTER = os.path.join(ROOT, "hack", "localcluster.py")
MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS", os.path.abspath(os.path.join(ROOT, "..", "shared", "argocd")))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw).stdout.strip()


def up(name):
    sh([sys.executable, LOCALCLUSTER, "down", name])
    return sh([sys.executable, LOCALCLUSTER, "up", name]).splitlines()[-1]


def inventory(tmp, clusters):
    repo = os.path.join(tmp, "infra.git")
    sh(["git", "init", "-q", "--bare", "-b", "main", repo])
    hosts = {name: {"gitops_kubeconfig": kc} for name, kc in clusters.items()}
    inv = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": os.path.join(VENV_BIN, "python"),
                "gitops_infra_repo_url": "file://" + repo,
                "argocd_manifest_source": os.path.join(MANIFESTS, "v3.5.1"),
                "rbac_lockdown_mode": "enforce",
                "rbac_lockdown_break_glass_groups": ["platform-oncall"],
                "rbac_lockdown_developer_groups": [{"name": "developers"}],
            },
            "hosts": hosts,
        }
    }
    path = os.path.join(tmp, "inventory.json")
    with open(path, "w") as fh:
        json.dump(inv, fh)
    return path


def bootstrap(inv, limit=None):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"], ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", inv, os.path.join(ROOT, "playbooks", "bootstrap.yml"), "--forks", "5"]
    if limit:
        cmd += ["--limit", limit]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit("bootstrap failed:\n" + proc.stdout[-4000:])
    recap = [line for line in proc.stdout.splitlines() if "changed=" in line and ":" in line]
    return elapsed, recap


def main():
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-bootstrap-") as tmp:
        one = {"bench-one": up("bench-one")}
        t_one, _ = bootstrap(inventory(os.path.join(tmp), one))
        sh([sys.executable, LOCALCLUSTER, "down", "bench-one"])
        rows.append(("full bootstrap, one cluster", t_one))

        tmp2 = os.path.join(tmp, "two")
        os.makedirs(tmp2)
        two = {"bench-a": up("bench-a"), "bench-b": up("bench-b")}
        inv2 = inventory(tmp2, two)
        t_two, _ = bootstrap(inv2)
        rows.append(("full bootstrap, two clusters in one run (forks 5)", t_two))
        for name in two:
            t_noop, recap = bootstrap(inv2, limit=name)
            if not all("changed=0" in line for line in recap):
                sys.exit("the re-run of %s was not a no-op:\n%s" % (name, "\n".join(recap)))
            rows.append(("no-op re-run of the whole bootstrap, %s alone" % name, t_noop))
        for name in two:
            sh([sys.executable, LOCALCLUSTER, "down", name])

    print("| figure | seconds |\n| --- | --- |")
    for label, secs in rows:
        print("| %s | %.0f |" % (label, secs))
    print("\ntwo clusters / one cluster: %.2fx" % (t_two / t_one))
    print("machine: %d cores, load average at the end %.1f" % (os.cpu_count(), os.getloadavg()[0]))


if __name__ == "__main__":
    main()
