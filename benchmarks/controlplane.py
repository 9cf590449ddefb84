#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the local control plane (not a test: it reports figures for the README).

    benchmarks/controlplane.py [--cold] [--starts N]

--cold       also time a cold build of every binary, with empty Go build and module caches
             in a temporary directory (downloads every module again; several minutes)
--starts N   number of warm start-to-ready measurements (default 5)

Prints the figures as a Markdown table: cold build time, warm start-to-ready time of one
cluster (binaries cached; from `up` to API ready, KWOK nodes Ready and the default
ServiceAccount present) and the resident memory of a running control plane (sum of RSS of
etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok-controller).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOCALCLUSTER = os.path.join(HERE, "..", "hack", "localcluster.py")
sys.path.insert(0, os.path.join(HERE, "..", "hack"))
import localcluster  # noqa: E402  pylint: disable=wrong-import-position

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def run(args, env=None):
    proc = subprocess.run([sys.executable, LOCALCLUSTER] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"localcluster {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout.strip()


def cold_build():
    with tempfile.TemporaryDirectory(prefix="cp-bench-") as tmp:
        env = dict(os.environ, GITOPS_BOOTSTRAP_CACHE=os.path.join(tmp, "cache"), GOCACHE=os.path.join(tmp, "gocache"),
                   GOMODCACHE=os.path.join(tmp, "gomodcache"))
        t0 = time.monotonic()
        run(["build"], env=env)
        elapsed = time.monotonic() - t0
        subprocess.run(["chmod", "-R", "u+w", tmp], check=False)
        return elapsed


def rss_of_cluster(name):
    """Sum the RSS of the processes whose command line names this cluster's work directory."""
    marker = localcluster.cluster_dir(name)
    total = 0
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().split(b"\0")
            if not any(marker.encode() in part for part in cmd):
                continue
            exe = os.path.basename(cmd[0].decode())
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        kib = int(line.split()[1])
                        total += kib
                        found[exe] = found.get(exe, 0) + kib
        except OSError:
            continue
    return total, found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()

    rows = []
    if args.cold:
        rows.append(("cold build of all binaries (empty Go caches)", f"{cold_build():.0f} s"))
    run(["build"])
    name = "bench-cp"
    run(["down", name])
    starts = []
    for _ in range(args.starts):
        t0 = time.monotonic()
        run(["up", name])
        starts.append(time.monotonic() - t0)
        run(["down", name])
    rows.append((f"warm start-to-ready, one cluster (median of {len(starts)})", f"{statistics.median(starts):.1f} s "
                 f"(min {min(starts):.1f}, max {max(starts):.1f})"))
    run(["up", name])
    time.sleep(10)  # let the controllers settle before reading memory
    total, found = rss_of_cluster(name)
    run(["down", name])
    rows.append(("resident memory of a running control plane", f"{total / 1024:.0f} MiB"))
    detail = ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in sorted(found.items()))
    print("| figure | value |\n| --- | --- |")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print(f"\nper process: {detail}")
    print(f"machine: {os.cpu_count()} cores; Kubernetes {localcluster.KUBERNETES_VERSION}, etcd {localcluster.ETCD_VERSION}, "
          f"KWOK {localcluster.KWOK_VERSION}")


if __name__ == "__main__":
    main()
