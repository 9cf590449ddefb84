#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time from a merge on the forge to the change being live in the cluster: webhook against poll.

Starts a Gitea on loopback (tests/integration/forge.py) and bootstraps local cluster ``loop4``
with the collection, the infra repository on the forge (pullloop_env.PullLoop in forge mode):
infra_repo pushes the scaffold, the Argo CD role installs Argo CD with its default
reconciliation settings (120 s; the jitter unset, so Argo CD's 60 s), forge_repository registers
Argo CD's read-only deploy key and the webhook to argocd-server (a host process on loopback, like
the controllers), whose secret the harness writes into argocd-secret.

Then, in one run on the same cluster, merges alternate between two modes: *webhook* (the hook
active) and *poll* (the hook deactivated on the forge, so Argo CD learns of the merge only when
it polls). Each merge is a pull request of the developer user, approved and merged by the
platform user through the API; the time runs from the return of the merge call until the API
server serves the new value of a ConfigMap in the app's dev overlay. A poll merge comes at a
random moment of Argo CD's polling cycle (about twice the timeout plus the jitter, see
benchmarks/pull_loop.py), a webhook merge a few random seconds after the previous change went live.

    benchmarks/webhook.py                      5 merges of each mode (default)
    benchmarks/webhook.py --merges 8 --json results.json

Prints one line per merge and min / median / mean / max per mode, with the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pull_loop import (  # noqa: E402
    ARGOCD_DEFAULT_JITTER, CONFIGMAP, OVERLAY, bench_kustomization, collection_reconciliation, live_budget, polling_cycle,
    summary, summary_line, wait_live, write_results)
from pullloop_env import PullLoop  # noqa: E402

WEBHOOK_SPACING = 10.0  # seconds: a webhook merge waits uniform(0, this) after the previous change went live


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def measure(merges: int, cluster: str, poll: float, seed: int) -> dict:
    from forge import Forge
    from kubernetes import client, config

    reconciliation, jitter = collection_reconciliation()
    cycle, budget = polling_cycle(reconciliation, jitter), live_budget(reconciliation, jitter)
    forge = Forge.start(name=f"bench-webhook-{os.getpid()}")
    loop = PullLoop(cluster, reconciliation=reconciliation, jitter=jitter, forge=forge)
    samples: dict[str, list[float]] = {"webhook": [], "poll": []}
    loads = [load()]
    try:
        t0 = time.time()
        loop.setup()
        setup_s = time.time() - t0
        print(f"set-up {setup_s:.0f}s (timings: { {k: round(v) for k, v in loop.timings.items()} })", flush=True)
        repo, hook_id = loop.forge_repo, loop.forge_result["webhook"]["id"]
        api = config.new_client_from_config(config_file=loop.kubeconfig)
        core = client.CoreV1Api(api)
        kust = bench_kustomization(loop.wc)
        rng = random.Random(seed)
        modes = ["webhook", "poll"] * merges
        active = True
        for i, mode in enumerate(["webhook"] + modes):  # a warm-up merge first
            want_active = mode == "webhook"
            if want_active != active:
                repo.set_hook_active(hook_id, want_active)
                active = want_active
            time.sleep(rng.uniform(0, cycle if mode == "poll" else WEBHOOK_SPACING) if i else 0)
            files = {f"{OVERLAY}/bench.yaml": CONFIGMAP % i, f"{OVERLAY}/kustomization.yaml": kust}
            _dummy, merged = repo.merge(files, f"bench: seq {i} ({mode})")
            took = wait_live(core, loop, i, merged, budget, poll, f"merge {i} ({mode})")
            if i == 0:
                print(f"  warm-up merge: {took:.1f}s", flush=True)
                continue
            samples[mode].append(took)
            print(f"  merge {i} ({mode}): live after {took:.1f}s (load {load()})", flush=True)
        loads.append(load())
    finally:
        loop.close()
        forge.stop()
    return {
        "reconciliation": reconciliation,
        "jitter": jitter or f"unset (Argo CD default {ARGOCD_DEFAULT_JITTER}s)",
        "setup_seconds": round(setup_s, 1),
        "webhook": summary(samples["webhook"], "merges"),
        "poll": summary(samples["poll"], "merges"),
        "load_average": {"start": loads[0], "end": loads[-1]},
        "forge": forge.version,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merges", type=int, default=5, help="merges of each mode (default 5)")
    parser.add_argument("--cluster", default="loop4")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between two reads of the cluster")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random spacing")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.merges < 1:
        parser.error("--merges must be at least 1")
    result = measure(args.merges, args.cluster, args.poll, args.seed)
    for mode in ("webhook", "poll"):
        r = result[mode]
        print(f"{mode}: {summary_line(r, 'merges', 'merges')}", flush=True)
    print(f"timeout.reconciliation={result['reconciliation']} jitter={result['jitter']}; load average "
          f"{result['load_average']['start']} at the start, {result['load_average']['end']} at the end", flush=True)
    write_results(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
