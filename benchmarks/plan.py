#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time of the plan of a pull request: one that reaches 1 cluster, and one that reaches 10.

Scaffolds an infra repository of 10 clusters (dev1 .. dev10, environment dev, apps web and api,
platform component namespaces) in a scratch folder, then times ``ansible-playbook
playbooks/plan.yml`` (what the pipeline runs; no dry run, no forge) for:

- 1 cluster: a change of clusters/dev1/ (the web Application of dev1 gets another sync option);
- 10 clusters: a change of apps/web/overlays/dev/, which every cluster's web Application renders.

    benchmarks/plan.py                 3 runs of each (default)
    benchmarks/plan.py --runs 5 --json results.json

Prints each run, min / median / max per case, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold  # noqa: E402

CACHE = os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.expanduser("~/.cache/gitops-bootstrap"))
KUSTOMIZE = os.path.join(CACHE, "bin", "kustomize-v5.8.1", "kustomize")
ENV = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid", GIT_COMMITTER_NAME="bench",
           GIT_COMMITTER_EMAIL="bench@example.invalid", ANSIBLE_NOCOLOR="1")


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True, text=True).stdout.strip()


def edit(repo, path, old, new):
    full = os.path.join(repo, path)
    with open(full, encoding="utf-8") as f:
        text = f.read()
    if old not in text:
        raise SystemExit(f"{path} no longer holds {old!r}")
    with open(full, "w", encoding="utf-8") as f:
        f.write(text.replace(old, new, 1))


def scaffold(repo, clusters):
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")
    for i in range(1, clusters + 1):
        files = _scaffold.render_files({"cluster": f"dev{i}", "repo_url": "https://git.example/infra.git",
                                        "apps": ["web", "api"], "platform_components": ["namespaces"]})
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(repo, path)) or repo, exist_ok=True)
            with open(os.path.join(repo, path), "w", encoding="utf-8") as f:
                f.write(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "scaffold")
    git(repo, "checkout", "-q", "-b", "one")
    edit(repo, "clusters/dev1/apps/web.yaml", "      - ServerSideApply=true\n", "      - ServerSideApply=true\n      - PruneLast=true\n")
    git(repo, "commit", "-q", "-am", "one cluster")
    git(repo, "checkout", "-q", "-b", "ten", "main")
    edit(repo, "apps/web/overlays/dev/kustomization.yaml", "count: 1", "count: 2")
    git(repo, "commit", "-q", "-am", "ten clusters")


def run(repo, head, report):
    extra = {"gitops_plan_repo": repo, "gitops_plan_base": "main", "gitops_plan_head": head, "gitops_plan_kustomize": KUSTOMIZE}
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", os.path.join(ROOT, "playbooks", "plan.yml"), "-e", json.dumps(extra)],
                          cwd=ROOT, env=dict(ENV, GITOPS_PLAN_REPORT=report), capture_output=True, text=True, check=False,
                          timeout=600)
    elapsed = time.monotonic() - start
    if proc.returncode != 2:
        raise SystemExit(f"plan of {head} exited {proc.returncode} (expected 2):\n{proc.stdout[-3000:]}")
    with open(report + ".json", encoding="utf-8") as f:
        plan = json.load(f)
    return elapsed, len(plan["clusters"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        repo = os.path.join(tmp, "infra")
        scaffold(repo, 10)
        for case, head, want in (("1 cluster", "one", 1), ("10 clusters", "ten", 10)):
            times = []
            for i in range(args.runs):
                elapsed, reached = run(repo, head, os.path.join(tmp, "plan"))
                if reached != want:
                    raise SystemExit(f"{case}: the plan reached {reached} cluster(s)")
                times.append(elapsed)
                print(f"{case}: run {i + 1}: {elapsed:.2f} s", flush=True)
            results[case] = {"runs": times, "min": min(times), "median": statistics.median(times), "max": max(times)}
            print(f"{case}: min {min(times):.2f} s, median {statistics.median(times):.2f} s, max {max(times):.2f} s", flush=True)
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPU(s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"results": results, "loadavg": load}, f, indent=2)


if __name__ == "__main__":
    main()
