#!/usr/bin/env python3
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the test suites of `make test` in parallel lanes.

    hack/run_suites.py --jobs 2 test-lint test-unit test-pull-loop ...

Most suites spend their time waiting on local clusters and controllers rather than on the
CPU, so two lanes on two cores take far less wall time than one. Every suite:

- runs as `make <suite>` with its output in .build/test-logs/<suite>.log, printed whole when
  it ends, so the logs of two suites never interleave;
- records its own GITOPS_CLUSTER_OWNER, and the local clusters it left are deleted when it
  ends (those of the other lane are not touched);
- runs even when another has failed.

The longest suites start first: their durations of the last run on this machine are kept in
the cache (GITOPS_BOOTSTRAP_CACHE/suite-times.json), with DEFAULT_SECONDS for a machine that
has timed none; suites timed nowhere come last, in the given order.
At the end the tail of every failed suite's log is printed again, then the summary, and the
exit code is 1 when a suite failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.join(ROOT, ".build", "test-logs")
CACHE = os.environ.get("GITOPS_BOOTSTRAP_CACHE") or os.path.expanduser("~/.cache/gitops-bootstrap")
TIMES = os.path.join(CACHE, "suite-times.json")
FAILED_TAIL = 80
# Seconds each suite took in the last full rehearsal (two lanes on a 2-core machine, load 3 to 6);
# used to start the longest first on a machine that has timed none yet (the cache of the last run
# overrides them): a suite missing here would start last and stretch the run.
DEFAULT_SECONDS = {
    "test-bootstrap": 1640, "test-rbac": 1400, "test-pull-loop": 500, "test-single-source": 390, "test-argocd-role": 300,
    "test-fleet": 300, "test-argocd-modules": 290, "test-infra-repo": 265, "test-hub-spoke": 200, "test-forge": 190,
    "test-plan": 150, "test-sanity": 120, "test-galaxy": 80, "test-lint": 77, "test-runner": 40, "test-unit": 25,
    "test-controlplane": 20, "test-docs": 16,
}


def load_times() -> dict[str, float]:
    try:
        with open(TIMES, encoding="utf-8") as fh:
            data = json.load(fh)
        return {k: float(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_times(times: dict[str, float]) -> None:
    try:
        os.makedirs(CACHE, exist_ok=True)
        tmp = TIMES + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(times, fh, indent=1, sort_keys=True)
        os.replace(tmp, TIMES)
    except OSError as exc:
        print(f"note: suite times not saved ({exc})", flush=True)


def order(suites: list[str], times: dict[str, float]) -> list[str]:
    """Longest known first; suites never timed keep their place relative to each other, after."""
    known = sorted((s for s in suites if s in times), key=lambda s: -times[s])
    return known + [s for s in suites if s not in times]


def delete_clusters(owner: str) -> None:
    listing = subprocess.run([sys.executable, "hack/localcluster.py", "list", "--owner", owner], cwd=ROOT,
                             capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        name = line.split("\t", 1)[0].strip()
        if name:
            subprocess.run([sys.executable, "hack/localcluster.py", "down", name], cwd=ROOT, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Runner:
    def __init__(self, suites: list[str], jobs: int, owner: str):
        self.queue = list(suites)
        self.jobs = max(1, jobs)
        self.owner = owner
        self.lock = threading.Lock()
        self.results: dict[str, tuple[bool, float]] = {}

    def next_suite(self) -> str | None:
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def run_one(self, suite: str) -> None:
        log_path = os.path.join(LOGS, f"{suite}.log")
        env = dict(os.environ, GITOPS_CLUSTER_OWNER=f"{self.owner}-{suite}")
        start = time.time()
        with self.lock:
            print(f"=== {suite}: started", flush=True)
        with open(log_path, "w", encoding="utf-8") as log:
            try:
                proc = subprocess.run(["make", "--no-print-directory", suite], cwd=ROOT, env=env, stdout=log,
                                      stderr=subprocess.STDOUT, check=False)
                ok = proc.returncode == 0
            finally:
                delete_clusters(env["GITOPS_CLUSTER_OWNER"])
        took = time.time() - start
        with self.lock:
            self.results[suite] = (ok, took)
            with open(log_path, encoding="utf-8", errors="replace") as log:
                sys.stdout.write(f"=== {suite}: output\n")
                sys.stdout.write(log.read())
            print(f"=== {suite}: {'passed' if ok else 'FAILED'} in {took:.0f}s", flush=True)

    def lane(self) -> None:
        while True:
            suite = self.next_suite()
            if suite is None:
                return
            self.run_one(suite)

    def run(self) -> None:
        lanes = [threading.Thread(target=self.lane, name=f"lane-{i}") for i in range(self.jobs)]
        for t in lanes:
            t.start()
        for t in lanes:
            t.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "2")),
                        help="suites run at the same time (default: TEST_JOBS or 2)")
    parser.add_argument("suites", nargs="+")
    args = parser.parse_args(argv)
    os.makedirs(LOGS, exist_ok=True)
    times = dict(DEFAULT_SECONDS, **load_times())
    owner = f"make-test-{os.getpid()}-{int(time.time())}"
    runner = Runner(order(args.suites, times), args.jobs, owner)
    t0 = time.time()
    try:
        runner.run()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    finally:
        for suite in args.suites:
            delete_clusters(f"{owner}-{suite}")
    total = time.time() - t0
    measured = load_times()
    measured.update({s: took for s, (_ok, took) in runner.results.items()})
    save_times(measured)
    failed = [s for s in args.suites if not runner.results.get(s, (False, 0))[0]]
    passed = [s for s in args.suites if s not in failed]
    for suite in failed:
        path = os.path.join(LOGS, f"{suite}.log")
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                tail = fh.read().splitlines()[-FAILED_TAIL:]
        except OSError:
            tail = ["(no log)"]
        print(f"=== {suite}: last {len(tail)} lines of {os.path.relpath(path, ROOT)}")
        print("\n".join(tail))
    print(f"=== all suites: {total:.0f}s wall with {args.jobs} lane(s)")
    for suite in args.suites:
        ok, took = runner.results.get(suite, (False, 0.0))
        print(f"  {suite:<24} {'passed' if ok else 'FAILED'} {took:6.0f}s")
    print("passed suites: " + " ".join(passed))
    if failed:
        print("FAILED suites: " + " ".join(failed))
    print(f"suites: {len(passed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
