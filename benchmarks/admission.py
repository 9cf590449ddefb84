#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the admission guard adds to every write: server-side applies with and without it.

On local cluster ``admbench`` (started if needed), an allowed identity (the kubeconfig's, given to
the guard as a system user) server-side applies a ConfigMap (each apply changes one value, so each
is a real write) N times without the guard and N times with it, the guard bound in enforce mode by
gitops.bootstrap.k8s_admission_guard. The writes alternate in rounds (binding deleted, writes;
binding created again, writes), each round waiting until the API server applies the change, so
that the load of a shared machine weighs on both sides alike. Prints the median of each round,
median and 95th percentile over all writes of each side, and the load average (uptime).

    benchmarks/admission.py                   200 writes each side, in 4 rounds (default)
    benchmarks/admission.py --writes 500 --rounds 5 --keep
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import kubectl, run_playbook, start_local_cluster, stop_local_cluster  # noqa: E402

NAMESPACE = "adm-bench"
GUARD = "adm-bench-guard"


def uptime() -> str:
    return subprocess.run(["uptime"], stdout=subprocess.PIPE, text=True, check=False).stdout.strip()


def guard(kubeconfig: str, state: str, system_user: str) -> None:
    play = json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "guard", "gitops.bootstrap.k8s_admission_guard": {
        "kubeconfig": kubeconfig, "name": GUARD, "state": state, "mode": "enforce", "break_glass_groups": ["adm-bench-platform"],
        "system_users": [system_user], "probe_namespace": NAMESPACE}}]}]) + "\n"
    run = run_playbook(play)
    if run.rc != 0:
        raise SystemExit(f"k8s_admission_guard state={state} failed: {run.failed_msgs()}")


def wait_guard(kubeconfig: str, active: bool, timeout: float = 60) -> None:
    """Until a person's write (a user in system:masters) is refused by the guard (active), or no longer refused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = kubectl(kubeconfig, "--as=adm-bench-person", "--as-group=system:masters", "-n", NAMESPACE, "create", "configmap",
                       "adm-bench-probe", check=False)
        refused = proc.returncode != 0 and "admission guard" in proc.stderr
        if proc.returncode == 0:
            kubectl(kubeconfig, "-n", NAMESPACE, "delete", "configmap", "adm-bench-probe", check=False)
        if refused == active:
            return
        time.sleep(0.5)
    raise SystemExit(f"the guard did not become {'active' if active else 'inactive'} within {timeout} s")


def phase(api, writes: int, label: str) -> list[float]:
    times = []
    for i in range(writes):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "adm-bench", "namespace": NAMESPACE},
                "data": {"value": f"{label}-{i}"}}
        start = time.perf_counter()
        api.patch_namespaced_config_map("adm-bench", NAMESPACE, body, field_manager="adm-bench", force=True,
                                        _content_type="application/apply-patch+yaml", _request_timeout=30)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"writes": len(times), "median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(0, int(round(0.95 * len(ordered))) - 1)], 2), "max_ms": round(ordered[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the writes without and with the guard")
    parser.add_argument("--cluster", default="admbench")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    from kubernetes import client, config

    kubeconfig = start_local_cluster(args.cluster)
    try:
        system_user = json.loads(kubectl(kubeconfig, "auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]["username"]
        kubectl(kubeconfig, "create", "namespace", NAMESPACE, check=False)
        api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
        phase(api, 20, "warmup")
        guard(kubeconfig, "present", system_user)
        binding = json.loads(kubectl(kubeconfig, "get", "validatingadmissionpolicybinding", GUARD, "-o", "json").stdout)
        binding = {"apiVersion": binding["apiVersion"], "kind": binding["kind"], "metadata": {"name": GUARD}, "spec": binding["spec"]}
        results = {"load_before": uptime(), "rounds": []}
        samples = {"without_guard": [], "with_guard": []}
        chunk = max(1, args.writes // args.rounds)
        for index in range(args.rounds):
            # Alternate, so that the load of the shared machine weighs on both sides alike.
            kubectl(kubeconfig, "delete", "validatingadmissionpolicybinding", GUARD)
            wait_guard(kubeconfig, False)
            off = phase(api, chunk, f"off{index}")
            kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(binding))
            wait_guard(kubeconfig, True)
            on = phase(api, chunk, f"on{index}")
            samples["without_guard"] += off
            samples["with_guard"] += on
            results["rounds"].append({"without_median_ms": round(statistics.median(off), 2), "with_median_ms": round(statistics.median(on), 2)})
        results["load_after"] = uptime()
        guard(kubeconfig, "absent", system_user)
        results["without_guard"] = summary(samples["without_guard"])
        results["with_guard"] = summary(samples["with_guard"])
    finally:
        if not args.keep:
            stop_local_cluster(args.cluster)
    base = results["without_guard"]["median_ms"]
    results["added_at_median_percent"] = round((results["with_guard"]["median_ms"] - base) / base * 100, 1)
    for index, r in enumerate(results["rounds"]):
        print(f"round {index + 1}: median without {r['without_median_ms']:.2f} ms, with {r['with_median_ms']:.2f} ms")
    for key in ("without_guard", "with_guard"):
        r = results[key]
        print(f"{key:20s} {r['writes']} writes  median {r['median_ms']:.2f} ms  p95 {r['p95_ms']:.2f} ms  max {r['max_ms']:.2f} ms")
    print(f"added at the median: {results['added_at_median_percent']:+.1f}%")
    print(f"load before: {results['load_before']}")
    print(f"load after:  {results['load_after']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
