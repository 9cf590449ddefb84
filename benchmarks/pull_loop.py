#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time from `git push` to the change being live in the cluster, without webhooks.

Bootstraps local cluster ``loop2`` with the collection (as tests/integration/test_pull_loop.py
does), runs the real Argo CD controllers as host processes, then repeatedly pushes a commit that
changes a ConfigMap value in the app's dev overlay and measures, from the moment ``git push``
returns, how long until the API server serves the new value. Argo CD learns about the commit
only by polling (no webhook). Its controller re-checks an application when the informer resyncs
(every ``timeout.reconciliation``, delayed by up to the jitter) and refreshes it only if the last
comparison is more than ``timeout.reconciliation`` old. The previous periodic refresh set that time
a little after its own resync, so every other resync is skipped: an application is polled about
every twice the timeout (plus jitter). By default each push comes at a random moment of that cycle
after the previous change went live (``--spacing random``); ``--spacing immediate`` pushes right
after it, the worst case.

    benchmarks/pull_loop.py                         the Argo CD role's defaults, then 10s without jitter
    benchmarks/pull_loop.py --reconciliation 30s --iterations 8
    benchmarks/pull_loop.py --json results.json

Prints one line per push and a summary per setting (min / median / mean / max seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from pullloop_env import APP, PullLoop  # noqa: E402

OVERLAY = f"apps/{APP}/overlays/dev"
# timeout.reconciliation.jitter when argocd-cm does not set it (argocd-application-controller's default).
ARGOCD_DEFAULT_JITTER = 60
CONFIGMAP = """---
apiVersion: v1
kind: ConfigMap
metadata:
  name: bench
data:
  seq: "%d"
"""


def role_defaults() -> dict:
    with open(os.path.join(ROOT, "roles", "argocd", "defaults", "main.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def collection_reconciliation() -> tuple[str, str]:
    """The reconciliation timeout and jitter the Argo CD role sets by default ('' = Argo CD's own default)."""
    defaults = role_defaults()
    return str(defaults.get("argocd_reconciliation_timeout") or ""), str((defaults.get("argocd_cm") or {}).get("timeout.reconciliation.jitter", ""))


def seconds(text: str) -> float:
    text = str(text).strip()
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def polling_cycle(reconciliation: str, jitter: str) -> float:
    """Seconds between two polls of one application: about twice the timeout, plus the jitter (see above)."""
    return 2 * seconds(reconciliation) + (seconds(jitter) if jitter else ARGOCD_DEFAULT_JITTER)


def live_budget(reconciliation: str, jitter: str) -> float:
    """How long a change may take to be live before the benchmark gives up."""
    return 3 * (seconds(reconciliation) + (seconds(jitter) if jitter else ARGOCD_DEFAULT_JITTER)) + 120


def summary(samples: list[float], count_key: str = "iterations") -> dict:
    return {
        count_key: len(samples),
        "min": round(min(samples), 1),
        "median": round(statistics.median(samples), 1),
        "mean": round(statistics.mean(samples), 1),
        "max": round(max(samples), 1),
        "samples": [round(s, 1) for s in samples],
    }


def summary_line(r: dict, count_key: str, what: str) -> str:
    return f"min {r['min']}s, median {r['median']}s, mean {r['mean']}s, max {r['max']}s over {r[count_key]} {what}"


def bench_kustomization(wc) -> str:
    """The dev overlay's kustomization with the benchmark's ConfigMap among its resources (after a pull)."""
    wc.pull()
    kust = wc.read(f"{OVERLAY}/kustomization.yaml")
    if "bench.yaml" not in kust:
        kust = kust.replace("resources:\n  - ../../base\n", "resources:\n  - ../../base\n  - bench.yaml\n")
    return kust


def wait_live(core, loop, seq: int, since: float, budget: float, poll: float, what: str) -> float:
    """Seconds from SINCE until the cluster serves sequence number SEQ (RuntimeError after BUDGET)."""
    want = str(seq)
    while read_seq(core, APP) != want:
        loop.host.check_running()
        if time.time() - since > budget:
            raise RuntimeError(f"{what} not live within {budget:.0f}s; Argo CD says: {loop.app_reason(APP)}")
        time.sleep(poll)
    return time.time() - since


def read_seq(core, namespace: str) -> str | None:
    from kubernetes.client.exceptions import ApiException

    try:
        cm = core.read_namespaced_config_map("bench", namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return (cm.data or {}).get("seq")


def measure(reconciliation: str, jitter: str, iterations: int, cluster: str, poll: float, timeout: float,
            spacing: str = "random", seed: int = 1) -> dict:
    from kubernetes import client, config

    loop = PullLoop(cluster, reconciliation=reconciliation, jitter=jitter)
    samples = []
    try:
        t0 = time.time()
        loop.setup()
        setup_s = time.time() - t0
        api = config.new_client_from_config(config_file=loop.kubeconfig)
        core = client.CoreV1Api(api)
        kust = bench_kustomization(loop.wc)
        rng = random.Random(seed)
        # Argo CD polls an application about every 2 x timeout (+ jitter), see above; a push at a
        # random moment of that cycle is what a person merging a change sees.
        cycle = polling_cycle(reconciliation, jitter)
        for i in range(iterations + 1):
            if i and spacing == "random":
                time.sleep(rng.uniform(0, cycle))
            loop.wc.write(f"{OVERLAY}/bench.yaml", CONFIGMAP % i)
            loop.wc.write(f"{OVERLAY}/kustomization.yaml", kust)
            loop.wc.commit(f"bench: seq {i}")
            loop.wc.push()
            took = wait_live(core, loop, i, time.time(), timeout, poll, f"push {i}")
            if i == 0:
                print(f"  warm-up push: {took:.1f}s", flush=True)
                continue
            samples.append(took)
            print(f"  push {i}: live after {took:.1f}s", flush=True)
    finally:
        loop.close()
    return {
        "reconciliation": reconciliation,
        "jitter": jitter or "unset (Argo CD default 60s)",
        "setup_seconds": round(setup_s, 1),
        **summary(samples),
        "spacing": spacing,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reconciliation", action="append",
                        help="timeout.reconciliation to measure (repeatable); default: the role's default, then 10s")
    parser.add_argument("--jitter", default=None, help="timeout.reconciliation.jitter with --reconciliation (default 0s)")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--cluster", default="loop2")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between two reads of the cluster")
    parser.add_argument("--spacing", choices=["random", "immediate"], default="random",
                        help="wait a random part of Argo CD's polling cycle before each push (default), or push as soon as "
                             "the previous change is live (the worst case: Argo CD has just polled)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random spacing")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    role_rec, role_jitter = collection_reconciliation()
    if args.reconciliation:
        settings = [(rec, args.jitter if args.jitter is not None else "0s") for rec in args.reconciliation]
    else:
        # What the collection configures, then the short setting the tests use.
        settings = [(role_rec, role_jitter), ("10s", "0s")]
    results = []
    for rec, jitter in settings:
        shown = jitter or f"Argo CD default ({ARGOCD_DEFAULT_JITTER}s)"
        print(f"timeout.reconciliation={rec} jitter={shown}:", flush=True)
        results.append(measure(rec, jitter, args.iterations, args.cluster, args.poll, live_budget(rec, jitter),
                               args.spacing, args.seed))
        r = results[-1]
        print(f"  => {summary_line(r, 'iterations', 'pushes')} (set-up {r['setup_seconds']}s)", flush=True)
    write_results(args.json, results)
    return 0


def write_results(path: str | None, results) -> None:
    """The results as JSON in PATH (--json), when given."""
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    sys.exit(main())
