#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet benchmark of playbooks/bootstrap.yml (not a test: it prints figures for the README).

    benchmarks/fleet.py [--sizes 1,2,5,10] [--spokes 10] [--prefix h14] [--forks N] [--keep]
                        [--profile [--cprofile]] [--revision REV] [--out DIR] [--json FILE]

In one run, for each fleet size N of --sizes: N fresh local clusters (started one after the other,
named PREFIX-N-1 .. PREFIX-N-N), a bare infra repository over file://, then bootstrap.yml over the
whole fleet once (the first bootstrap) and once more (the no-op re-run, which must report changed=0
on every cluster). Then a hub with --spokes spokes, inventoried as docs/hub_and_spoke.md describes
(group `spokes` with gitops_skip_argocd and argocd_spoke_hub_host; the hub runs Argo CD), first run
and no-op re-run of the same bootstrap.yml. The clusters of a size are deleted before the next one
starts unless --keep.

For every run: wall time, and the controller's CPU as /usr/bin/time counts it (user + sys of
ansible-playbook and every process it waited for: forks, modules, git; the deltas of
getrusage(RUSAGE_CHILDREN) around the run), CPU per cluster, the ratio of the wall time to that of
the smallest size, and the 1-minute load average before and after. Forks are max(5, hosts of the
run) unless --forks is given (it must then be at least the number of hosts). A table is printed as
the runs end, a JSON summary at the end (and written to --json).

--profile adds, on the clusters of the smallest size, a no-op re-run that is not part of
the figures, with the profile_tasks callback, every module run through an interpreter wrapper
that records its CPU, and the controller's own CPU split from its children's; with --cprofile, one more
under cProfile (the controller process only). It also times a bare Python start-up and the imports a module of
this collection pays (-X importtime). Everything goes to --out (default .build/bench-fleet).

Run it from a checkout after `make venv controlplane`; it uses the virtualenv's ansible-playbook
and the local control plane (hack/localcluster.py).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
LOCALCLUSTER = os.path.join(ROOT, "hack", "localcluster.py")
MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS", os.path.abspath(os.path.join(ROOT, "..", "shared", "argocd")))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python")
# the collection under test: this checkout, or an export of one revision (--revision)
TREE = {"root": ROOT, "collections": os.path.join(ROOT, ".build", "collections"), "revision": "working tree"}
RUN_TIMEOUT = 3600
# a cluster starts in seconds on a quiet machine; on a loaded one kwokctl may retry for minutes
CLUSTER_TIMEOUT = 900
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def sh(cmd: list[str], timeout: int = CLUSTER_TIMEOUT) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout).stdout.strip()


def cluster_up(name: str, attempts: int = 2) -> str:
    """Start a fresh cluster NAME (deleting one of that name first); its kubeconfig path. On a loaded
    machine a start can fail (a component not ready in time): it is tried once more from scratch."""
    for attempt in range(1, attempts + 1):
        sh([sys.executable, LOCALCLUSTER, "down", name])
        try:
            return sh([sys.executable, LOCALCLUSTER, "up", name]).splitlines()[-1]
        except subprocess.CalledProcessError as exc:
            if attempt == attempts:
                raise
            print(f"<!-- cluster {name} did not start ({(exc.stderr or '').strip().splitlines()[-1:]}); trying again -->", flush=True)
    raise AssertionError("unreachable")


def cluster_down(name: str) -> None:
    subprocess.run([sys.executable, LOCALCLUSTER, "down", name], capture_output=True, check=False, timeout=CLUSTER_TIMEOUT)


def common_vars(tmp: str) -> dict:
    repo = os.path.join(tmp, "infra.git")
    sh(["git", "init", "-q", "--bare", "-b", "main", repo])
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": PYTHON,
        "gitops_infra_repo_url": "file://" + repo,
        "argocd_manifest_source": os.path.join(MANIFESTS, "v3.5.1"),
        "rbac_lockdown_mode": "enforce",
        "rbac_lockdown_break_glass_groups": ["platform-oncall"],
        "rbac_lockdown_developer_groups": [{"name": "developers"}],
        # the report goes with the run, not to the home of whoever runs the benchmark
        "gitops_fleet_report_path": os.path.join(tmp, "fleet-report"),
    }


def write_inventory(tmp: str, inv: dict) -> str:
    path = os.path.join(tmp, "inventory.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(inv, fh, indent=1)
    return path


def fleet_inventory(tmp: str, clusters: dict[str, str]) -> str:
    return write_inventory(tmp, {"all": {"vars": common_vars(tmp),
                                         "hosts": {name: {"gitops_kubeconfig": kc} for name, kc in clusters.items()}}})


def hub_inventory(tmp: str, hub: tuple[str, str], spokes: dict[str, str]) -> str:
    return write_inventory(tmp, {"all": {"vars": common_vars(tmp), "children": {
        "hubs": {"hosts": {hub[0]: {"gitops_kubeconfig": hub[1]}}},
        "spokes": {
            "vars": {"gitops_skip_argocd": True, "argocd_spoke_hub_host": hub[0], "argocd_spoke_namespaces": ["apps"]},
            "hosts": {name: {"gitops_kubeconfig": kc} for name, kc in spokes.items()},
        },
    }}})


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def playbook(inv: str, forks: int, log: str, env_extra: dict | None = None, launcher: list[str] | None = None) -> dict:
    """Run bootstrap.yml over INV; wall and CPU seconds, the recap per host, the load before and after."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=TREE["collections"],
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"], ANSIBLE_NOCOLOR="1", **(env_extra or {}))
    cmd = (launcher or [os.path.join(VENV_BIN, "ansible-playbook")]) + [
        "-i", inv, os.path.join(TREE["root"], "playbooks", "bootstrap.yml"), "--forks", str(forks)]
    load_before = os.getloadavg()[0]
    cpu0 = children_cpu()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=TREE["root"],
                          check=False, timeout=RUN_TIMEOUT)
    wall = time.monotonic() - t0
    cpu = children_cpu() - cpu0
    with open(log, "w", encoding="utf-8") as fh:
        fh.write(proc.stdout)
    recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)), "failed": int(m.group(5))}
             for m in map(RECAP.match, proc.stdout.splitlines()) if m}
    return {"rc": proc.returncode, "wall": wall, "cpu": cpu, "recap": recap, "load_before": load_before,
            "load_after": os.getloadavg()[0], "log": log, "output": proc.stdout}


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rows: list[dict] = []
        self.base: dict[str, float] = {}
        self.failed = False

    def forks(self, hosts: int) -> int:
        if self.args.forks is None:
            return max(5, hosts)
        if self.args.forks < hosts:
            raise SystemExit(f"--forks {self.args.forks} is less than the {hosts} hosts of a run: give at least {hosts}")
        return self.args.forks

    def measure(self, label: str, kind: str, inv: str, hosts: int, clusters: int, log: str) -> dict:
        forks = self.forks(hosts)
        res = playbook(inv, forks, log)
        row = {"fleet": label, "run": kind, "clusters": clusters, "forks": forks, "rc": res["rc"],
               "wall_s": round(res["wall"], 1), "cpu_s": round(res["cpu"], 1), "cpu_per_cluster_s": round(res["cpu"] / clusters, 2),
               "load_before": round(res["load_before"], 1), "load_after": round(res["load_after"], 1),
               "changed": sum(r["changed"] for r in res["recap"].values()), "log": log}
        if res["rc"] != 0 or len(res["recap"]) != hosts:
            row["error"] = f"ansible-playbook exited {res['rc']} with {len(res['recap'])} of {hosts} hosts in its recap; see {log}"
            print(res["output"][-3000:], file=sys.stderr)
            self.failed = True
        elif kind == "no-op re-run" and row["changed"]:
            row["error"] = "not a no-op: " + ", ".join(f"{h} changed={r['changed']}" for h, r in res["recap"].items() if r["changed"])
            self.failed = True
        key = kind if label.startswith("fleet") else None
        if key and key not in self.base:
            self.base[key] = res["wall"]
        row["wall_ratio"] = round(res["wall"] / self.base[key], 2) if key else None
        self.rows.append(row)
        ratio = f"{row['wall_ratio']:.2f}x" if row["wall_ratio"] is not None else "-"
        print(f"| {label} | {kind} | {forks} | {row['wall_s']:.1f} | {ratio} | {row['cpu_s']:.1f} | {row['cpu_per_cluster_s']:.1f} |"
              f" {row['load_before']:.1f} / {row['load_after']:.1f} |" + (f" {row['error']}" if "error" in row else ""), flush=True)
        return row

    def start(self, label: str, names: list[str]) -> dict[str, str] | None:
        """Start the clusters NAMES one after the other; None (and a row saying why) when one does not start."""
        t0 = time.monotonic()
        clusters = {}
        for name in names:
            try:
                clusters[name] = cluster_up(name)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                stderr = exc.stderr.strip() if isinstance(exc.stderr, str) else ""
                error = f"cluster {name} did not start ({exc.__class__.__name__}){': ' + stderr.splitlines()[-1] if stderr else ''}"
                self.rows.append({"fleet": label, "run": "clusters", "error": error})
                print(f"| {label} | clusters | - | - | - | - | - | - | {error}", flush=True)
                self.failed = True
                return None
        print(f"<!-- {len(names)} cluster(s) started one after the other in {time.monotonic() - t0:.0f} s -->", flush=True)
        return clusters

    def fleet(self, size: int, tmp: str, profile: bool) -> None:
        names = [f"{self.args.prefix}-{size}-{i}" for i in range(1, size + 1)]
        try:
            label = f"fleet of {size}"
            clusters = self.start(label, names)
            if clusters is None:
                return
            work = os.path.join(tmp, f"fleet-{size}")
            os.makedirs(work)
            inv = fleet_inventory(work, clusters)
            first = self.measure(label, "first bootstrap", inv, size, size, os.path.join(self.args.out, f"fleet-{size}-first.log"))
            if "error" not in first:
                self.measure(label, "no-op re-run", inv, size, size, os.path.join(self.args.out, f"fleet-{size}-noop.log"))
                if profile:
                    self.profile(inv, work)
        finally:
            if not self.args.keep:
                for name in names:
                    cluster_down(name)

    def hub_and_spokes(self, count: int, tmp: str) -> None:
        hub = f"{self.args.prefix}-hub"
        spokes = [f"{self.args.prefix}-spoke-{i}" for i in range(1, count + 1)]
        try:
            label = f"hub + {count} spokes"
            clusters = self.start(label, [hub] + spokes)
            if clusters is None:
                return
            work = os.path.join(tmp, "hub")
            os.makedirs(work)
            inv = hub_inventory(work, (hub, clusters.pop(hub)), clusters)
            first = self.measure(label, "first bootstrap", inv, count + 1, count + 1, os.path.join(self.args.out, "hub-first.log"))
            if "error" not in first:
                self.measure(label, "no-op re-run", inv, count + 1, count + 1, os.path.join(self.args.out, "hub-noop.log"))
        finally:
            if not self.args.keep:
                for name in [hub] + spokes:
                    cluster_down(name)

    def profile(self, inv: str, work: str) -> None:
        """Two extra no-op re-runs of the same fleet: per task and per module, then cProfile of the controller."""
        out = self.args.out
        modules_log = os.path.join(out, "profile-modules.tsv")
        open(modules_log, "w", encoding="utf-8").close()
        # Every module runs through this wrapper: the module's own CPU (user, sys) is appended per run.
        wrapper = os.path.join(work, "python-timed")
        with open(wrapper, "w", encoding="utf-8") as fh:
            # `times` runs in this shell (not in a pipe's subshell, which has no children): its second line is
            # the CPU of the module's interpreter and of what that waited for.
            log = shlex.quote(modules_log)
            fh.write("#!/bin/bash\n"
                     f"{shlex.quote(PYTHON)} \"$@\"\nrc=$?\n"
                     f"times > {log}.$$\n"
                     f"{{ read -r _; read -r user system; }} < {log}.$$\n"
                     f"rm -f {log}.$$\n"
                     f"printf '%s\\t%s %s\\n' \"${{1##*/}}\" \"$user\" \"$system\" >> {log}\n"
                     "exit $rc\n")
        os.chmod(wrapper, 0o755)
        with open(inv, encoding="utf-8") as fh:
            data = json.load(fh)
        data["all"]["vars"]["ansible_python_interpreter"] = wrapper
        timed_inv = os.path.join(work, "inventory-timed.json")
        with open(timed_inv, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        # The controller's own CPU against that of the processes it waited for (forks and their modules).
        split = os.path.join(out, "profile-controller.json")
        launcher = [PYTHON, "-c",
                    "import atexit, json, os, resource, runpy, sys\n"
                    "pid = os.getpid()\n"
                    "def done():\n"
                    "    if os.getpid() == pid:\n"
                    "        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
                    f"        json.dump({{'self_user': s.ru_utime, 'self_sys': s.ru_stime, 'children_user': c.ru_utime, 'children_sys': c.ru_stime}},"
                    f" open({split!r}, 'w'))\n"
                    "atexit.register(done)\n"
                    f"sys.argv = [{os.path.join(VENV_BIN, 'ansible-playbook')!r}] + sys.argv[1:]\n"
                    "runpy.run_path(sys.argv[0], run_name='__main__')\n"]
        env = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks", "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
               "PROFILE_TASKS_SORT_ORDER": "descending"}
        res = playbook(timed_inv, 5, os.path.join(out, "profile-tasks.log"), env_extra=env, launcher=launcher)
        report = {"wall_s": round(res["wall"], 1), "cpu_s": round(res["cpu"], 1), "rc": res["rc"],
                  "load_before": round(res["load_before"], 1), "load_after": round(res["load_after"], 1)}
        if os.path.exists(split):
            with open(split, encoding="utf-8") as fh:
                report["controller"] = {k: round(v, 2) for k, v in json.load(fh).items()}
        per_module: dict[str, list[float]] = {}
        with open(modules_log, encoding="utf-8") as fh:
            for line in fh:
                name, _, times = line.rstrip("\n").partition("\t")
                user, _, system = times.partition(" ")
                per_module.setdefault(name.removeprefix("AnsiballZ_").removesuffix(".py"), []).append(_seconds(user) + _seconds(system))
        report["module_runs"] = sum(len(v) for v in per_module.values())
        report["module_cpu_s"] = round(sum(sum(v) for v in per_module.values()), 2)
        report["modules"] = sorted(({"module": k, "runs": len(v), "cpu_s": round(sum(v), 2), "median_s": round(statistics.median(v), 2)}
                                    for k, v in per_module.items()), key=lambda m: -m["cpu_s"])
        report["tasks"] = _profile_tasks(res["output"])[:25]
        report["startup"] = startup_costs()
        if self.args.cprofile:
            # cProfile of the controller process (its forks inherit the profiler, their figures are lost).
            prof = os.path.join(out, "profile-controller.prof")
            cprof = playbook(inv, 5, os.path.join(out, "profile-cprofile.log"),
                             launcher=[PYTHON, "-m", "cProfile", "-o", prof, os.path.join(VENV_BIN, "ansible-playbook")])
            report["cprofile"] = {"wall_s": round(cprof["wall"], 1), "rc": cprof["rc"], "file": prof}
            if os.path.exists(prof):
                report["cprofile"]["top"] = _cprofile_top(prof)
        with open(os.path.join(out, "profile.json"), "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
        self.profile_report = report
        print(f"<!-- profile of a no-op re-run: {os.path.join(out, 'profile.json')} -->", flush=True)


def _seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+)m([\d.]+)s", text.strip())
    return int(m.group(1)) * 60 + float(m.group(2)) if m else 0.0


def _profile_tasks(output: str) -> list[dict]:
    """The task lines profile_tasks prints at the end: name and seconds, slowest first."""
    tasks = []
    for line in output.splitlines():
        m = re.match(r"^(.+?) -+ (\d+\.\d+)s$", line.strip())
        if m and not line.startswith("==="):
            tasks.append({"task": m.group(1).strip(), "s": float(m.group(2))})
    seen, out = set(), []
    for t in sorted(tasks, key=lambda t: -t["s"]):
        if t["task"] not in seen:
            seen.add(t["task"])
            out.append(t)
    return out


def _cprofile_top(path: str) -> list[dict]:
    stats = pstats.Stats(path)
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append({"function": f"{filename.rsplit('site-packages/', 1)[-1]}:{line}({func})",
                     "calls": nc, "tottime_s": round(tt, 2), "cumtime_s": round(ct, 2)})
    return sorted(rows, key=lambda r: -r["cumtime_s"])[:60]


def startup_costs(repeat: int = 5) -> dict:
    """CPU of a bare interpreter start and of the imports a Kubernetes module of this collection pays (medians)."""
    env = dict(os.environ, PYTHONPATH=TREE["collections"])
    cases = {
        "python -c pass": "pass",
        "import ansible.module_utils.basic": "import ansible.module_utils.basic",
        "import kubernetes.client": "import kubernetes.client",
        "import kubernetes.dynamic + config": "import kubernetes.dynamic, kubernetes.config",
        "import gitops k8s module_utils": "import ansible.module_utils.basic; from ansible_collections.gitops.bootstrap.plugins.module_utils import _k8s",
    }
    out = {}
    for label, code in cases.items():
        samples = []
        for _ in range(repeat):
            cpu0 = children_cpu()
            proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env, check=False, timeout=120)
            if proc.returncode != 0:
                samples = None
                out[label] = {"error": proc.stderr.strip().splitlines()[-1:]}
                break
            samples.append(children_cpu() - cpu0)
        if samples:
            out[label] = {"cpu_median_s": round(statistics.median(samples), 3)}
    # the heaviest imports of the module case, as -X importtime lists them (cumulative microseconds)
    proc = subprocess.run([PYTHON, "-X", "importtime", "-c", cases["import gitops k8s module_utils"]], capture_output=True, text=True,
                          env=env, check=False, timeout=120)
    top = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            top.append({"module": m.group(4), "cumulative_ms": round(int(m.group(2)) / 1000, 1), "depth": len(m.group(3)) // 2})
    out["importtime_top"] = sorted((t for t in top if t["depth"] <= 2), key=lambda t: -t["cumulative_ms"])[:15]
    return out


def export(revision: str, tmp: str) -> None:
    """Export REVISION of this repository into TMP as the collection gitops.bootstrap, and use it."""
    commit = sh(["git", "-C", ROOT, "rev-parse", "--verify", revision + "^{commit}"])
    tree = os.path.join(tmp, "collections", "ansible_collections", "gitops", "bootstrap")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], capture_output=True, check=True, timeout=CLUSTER_TIMEOUT)
    subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True, timeout=CLUSTER_TIMEOUT)
    TREE.update(root=tree, collections=os.path.join(tmp, "collections"), revision=commit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,2,5,10", help="fleet sizes, comma-separated (default 1,2,5,10)")
    parser.add_argument("--spokes", type=int, default=10, help="spokes of the hub-and-spoke run; 0 for none (default 10)")
    parser.add_argument("--prefix", default=os.environ.get("GITOPS_BENCH_PREFIX", "bench-fleet"), help="cluster name prefix")
    parser.add_argument("--forks", type=int, default=None, help="forks of every run (default max(5, hosts of the run))")
    parser.add_argument("--keep", action="store_true", help="keep the clusters of each size")
    parser.add_argument("--profile", action="store_true", help="profile a no-op re-run on the smallest fleet")
    parser.add_argument("--cprofile", action="store_true", help="with --profile, one more no-op re-run with the controller under cProfile")
    parser.add_argument("--out", default=os.path.join(ROOT, ".build", "bench-fleet"), help="logs and profiles")
    parser.add_argument("--json", default=None, help="also write the JSON summary to this file")
    parser.add_argument("--revision", default=None,
                        help="benchmark this git revision of the collection (exported to a scratch folder) instead of the working tree")
    args = parser.parse_args()
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--sizes must be whole numbers separated by commas, not {args.sizes!r}")
    if not sizes and not args.spokes:
        parser.error("nothing to run: give --sizes or --spokes")
    if any(s < 1 for s in sizes) or args.spokes < 0:
        parser.error("fleet sizes must be at least 1 and --spokes at least 0")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", args.prefix):
        parser.error(f"--prefix {args.prefix!r} is not a short DNS label (lower-case letters, digits, '-')")
    largest = max(sizes + ([args.spokes + 1] if args.spokes else []))
    if args.forks is not None and args.forks < largest:
        parser.error(f"--forks {args.forks} is less than the {largest} hosts of the largest run: give at least {largest}, or leave it out")
    if not shutil.which("git"):
        parser.error("git is not on PATH")
    os.makedirs(args.out, exist_ok=True)
    args.out = os.path.abspath(args.out)

    bench = Bench(args)
    started = time.time()
    print(f"bootstrap.yml fleet benchmark: {os.cpu_count()} cores, load average at the start {os.getloadavg()[0]:.1f}")
    print("| fleet | run | forks | wall (s) | wall / smallest fleet | controller CPU (s) | CPU per cluster (s) | load before / after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        if args.revision:
            export(args.revision, tmp)
        else:
            TREE["revision"] = "working tree at " + sh(["git", "-C", ROOT, "rev-parse", "HEAD"])
        print(f"collection: {TREE['revision']}", flush=True)
        for i, size in enumerate(sizes):
            bench.fleet(size, tmp, args.profile and i == 0)
        if args.spokes:
            bench.hub_and_spokes(args.spokes, tmp)
    summary = {"cores": os.cpu_count(), "collection": TREE["revision"], "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
               "duration_s": round(time.time() - started), "load_at_end": [round(v, 1) for v in os.getloadavg()],
               "runs": bench.rows}
    if getattr(bench, "profile_report", None):
        summary["profile"] = os.path.join(args.out, "profile.json")
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 1 if bench.failed else 0


if __name__ == "__main__":
    sys.exit(main())
