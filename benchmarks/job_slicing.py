#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of playbooks/bootstrap.yml as one run and as concurrent job slices (not a test: it
prints figures for docs/awx.md).

    benchmarks/job_slicing.py [CLUSTERS [SLICES]]        (default 3 clusters, 2 slices)

On fresh local clusters each time, with one infra repository (a bare repository over file://):
  1. one run over every cluster (forks 5), then its no-op re-run;
  2. the same fleet, new clusters and a new repository, as SLICES runs started at the same time,
     each with --limit of its slice (host i in slice i mod SLICES, as AWX slices an inventory),
     then the no-op re-run of every slice at once.
Wall time is from the start of the first run to the end of the last; CPU is that of the
ansible-playbook processes and their children (user + sys). Run it from a checkout after
`make venv controlplane`; the clusters are named bench-slice-N and bench-slice-sN
(GITOPS_BENCH_PREFIX) and deleted at the end.
"""

import concurrent.futures
import os
import resource
import subprocess
import sys
import tempfile
import time

from bootstrap import ROOT, VENV_BIN, inventory, up

LOCALCLUSTER = os.path.join(ROOT, "hack", "localcluster.py")
PREFIX = os.environ.get("GITOPS_BENCH_PREFIX", "bench-slice")


def run(inv, limit=None):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"], ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", inv, os.path.join(ROOT, "playbooks", "bootstrap.yml"), "--forks", "5"]
    if limit:
        cmd += ["--limit", limit]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                          check=False, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError("bootstrap failed:\n" + proc.stdout[-4000:])
    return [line for line in proc.stdout.splitlines() if "changed=" in line and ":" in line]


def measured(runs):
    """Start every (inventory, limit) of RUNS at the same time; wall and CPU seconds, recap lines."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        recaps = list(pool.map(lambda r: run(*r), runs))
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, [line for recap in recaps for line in recap]


def fleet(tmp, names):
    clusters = {name: up(name) for name in names}
    return inventory(tmp, clusters)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    slices = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    one = [f"{PREFIX}-{i + 1}" for i in range(count)]
    sliced = [f"{PREFIX}-s{i + 1}" for i in range(count)]
    parts = [sliced[i::slices] for i in range(slices)]
    print(f"bootstrap.yml, {count} clusters, {slices} slices, {os.cpu_count()} cores")
    print("| run | wall (s) | controller CPU (s) | load average after |")
    print("| --- | --- | --- | --- |", flush=True)

    def row(what, runs):
        wall, cpu, recap = measured(runs)
        print(f"| {what} | {wall:.1f} | {cpu:.1f} | {os.getloadavg()[0]:.1f} |")
        for line in recap:
            print(f"<!-- {line.strip()} -->")
        sys.stdout.flush()

    try:
        with tempfile.TemporaryDirectory(prefix="bench-slicing-") as tmp:
            os.makedirs(os.path.join(tmp, "one"))
            inv = fleet(os.path.join(tmp, "one"), one)
            row("one run, first bootstrap", [(inv, None)])
            row("one run, no-op re-run", [(inv, None)])
            os.makedirs(os.path.join(tmp, "sliced"))
            inv = fleet(os.path.join(tmp, "sliced"), sliced)
            row(f"{slices} slices at once, first bootstrap", [(inv, ",".join(p)) for p in parts])
            row(f"{slices} slices at once, no-op re-run", [(inv, ",".join(p)) for p in parts])
    finally:
        for name in one + sliced:
            subprocess.run([sys.executable, LOCALCLUSTER, "down", name], capture_output=True, check=False)


if __name__ == "__main__":
    main()
