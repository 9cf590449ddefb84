#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of a full RBAC audit (not a test: it reports figures for the README).

    benchmarks/rbac_audit.py [--cluster NAME] [--bindings 2000] [--roles 500] [--runs 3] [--lockdown] [--keep]

Starts (or reuses) the local cluster NAME (default rbac2; KUBECONFIG wins when set), seeds it with
ROLES roles (half ClusterRoles, half Roles spread over 50 namespaces, 4 to 12 rules each, some
with wildcards, resourceNames or aggregation) and BINDINGS bindings (a quarter
ClusterRoleBindings, the rest RoleBindings, 1 to 4 subjects each: users, groups, service
accounts), then times `gitops.bootstrap.k8s_rbac_audit` listing everything (default bindings
included), answering a who-can question and writing a JSON report.

Prints a Markdown table: the module task as Ansible reports it (reading the four lists from the
API server plus evaluation), the engine alone on the same objects, and the size of the result.
The target is a full audit under 10 seconds. With --lockdown, the role gitops.bootstrap.rbac_lockdown
then locks the seeded cluster down (enforce mode, break-glass group bench-platform, backup in
namespace bench-lockdown-backup) and the restore playbook puts everything back; both are timed,
with the size of the backup, and the bindings are compared with the API server's before and after.
What that lock-down created is removed at the end (bindings it removed from other objects of the
cluster come back with the restore).

The seeding (seed_objects, seed) is also used by tests/integration/test_rbac_lockdown.py.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
LOCALCLUSTER = os.path.join(ROOT, "hack", "localcluster.py")
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
LABEL = "rbac-bench=true"
RBAC = "rbac.authorization.k8s.io"

VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
RESOURCES = [
    ("", "pods"),
    ("", "pods/log"),
    ("", "pods/exec"),
    ("", "services"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "serviceaccounts/token"),
    ("", "events"),
    ("", "persistentvolumeclaims"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("apps", "deployments/scale"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    (RBAC, "roles"),
    (RBAC, "rolebindings"),
    ("argoproj.io", "applications"),
    ("policy", "poddisruptionbudgets"),
]


def kubectl_path():
    cache = os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.expanduser("~/.cache/gitops-bootstrap"))
    version = os.environ.get("LOCALCLUSTER_KUBERNETES_VERSION", "v1.36.3")
    path = os.path.join(cache, "bin", "kubernetes-%s" % version, "kubectl")
    return path if os.path.exists(path) else "kubectl"


def kubectl(kubeconfig, *args, input_text=None):
    proc = subprocess.run(
        [kubectl_path(), "--kubeconfig", kubeconfig] + list(args),
        input=input_text,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit("kubectl %s failed: %s" % (" ".join(args[:3]), proc.stderr[-2000:]))
    return proc.stdout


def meta(name, namespace=None, labels=None):
    m = {"name": name, "labels": dict({"rbac-bench": "true"}, **(labels or {}))}
    if namespace:
        m["namespace"] = namespace
    return m


def random_rules(rng, namespaced):
    rules = []
    for _rule in range(rng.randint(4, 12)):
        picks = rng.sample(RESOURCES, rng.randint(1, 4))
        groups = sorted(set(g for g, _r in picks))
        rule = {"apiGroups": groups, "resources": [r for _g, r in picks], "verbs": rng.sample(VERBS, rng.randint(1, 5))}
        roll = rng.random()
        if roll < 0.04:
            rule = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
        elif roll < 0.10:
            rule["resourceNames"] = ["obj-%d" % rng.randint(0, 9)]
        rules.append(rule)
    if not namespaced and rng.random() < 0.05:
        rules.append({"nonResourceURLs": ["/metrics", "/logs/*"], "verbs": ["get"]})
    return rules


def seed_objects(n_roles, n_bindings, seed=7):
    rng = random.Random(seed)
    namespaces = ["bench-%02d" % i for i in range(50)]
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns)} for ns in namespaces]
    cluster_roles = []
    roles = []
    for i in range(n_roles // 2):
        name = "bench-cr-%03d" % i
        labels = {"bench/aggregate": "true"} if i % 25 == 0 else {}
        objs.append({"apiVersion": RBAC + "/v1", "kind": "ClusterRole", "metadata": meta(name, labels=labels), "rules": random_rules(rng, False)})
        cluster_roles.append(name)
    for i in range(5):
        name = "bench-agg-%d" % i
        objs.append(
            {
                "apiVersion": RBAC + "/v1",
                "kind": "ClusterRole",
                "metadata": meta(name),
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"bench/aggregate": "true"}}]},
            }
        )
        cluster_roles.append(name)
    for i in range(n_roles - len(cluster_roles)):
        ns = namespaces[i % len(namespaces)]
        name = "bench-role-%03d" % i
        objs.append({"apiVersion": RBAC + "/v1", "kind": "Role", "metadata": meta(name, ns), "rules": random_rules(rng, True)})
        roles.append((ns, name))
    builtin = ["view", "edit", "admin", "cluster-admin"]

    def subjects(ns):
        out = []
        for _subject in range(rng.randint(1, 4)):
            kind = rng.choice(["User", "User", "Group", "ServiceAccount"])
            if kind == "User":
                out.append({"kind": "User", "apiGroup": RBAC, "name": "user-%03d" % rng.randint(0, 599)})
            elif kind == "Group":
                out.append({"kind": "Group", "apiGroup": RBAC, "name": "group-%02d" % rng.randint(0, 79)})
            else:
                out.append({"kind": "ServiceAccount", "name": "sa-%02d" % rng.randint(0, 19), "namespace": ns or rng.choice(namespaces)})
        return out

    n_crb = n_bindings // 4
    for i in range(n_crb):
        role = rng.choice(cluster_roles + builtin[:3])
        objs.append(
            {
                "apiVersion": RBAC + "/v1",
                "kind": "ClusterRoleBinding",
                "metadata": meta("bench-crb-%04d" % i),
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
                "subjects": subjects(None),
            }
        )
    for i in range(n_bindings - n_crb):
        if rng.random() < 0.5:
            ns, role = rng.choice(roles)
            ref = {"apiGroup": RBAC, "kind": "Role", "name": role}
        else:
            ns = rng.choice(namespaces)
            ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": rng.choice(cluster_roles + builtin)}
        objs.append(
            {"apiVersion": RBAC + "/v1", "kind": "RoleBinding", "metadata": meta("bench-rb-%04d" % i, ns), "roleRef": ref, "subjects": subjects(ns)}
        )
    return objs


def apply_list(kubeconfig, items):
    """Server-side apply of the objects as one List (one request stream)."""
    kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--field-manager=rbac-bench",
        "-f",
        "-",
        input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )


def seed(kubeconfig, objs):
    # Namespaces first, then RBAC objects in chunks of 500.
    namespaces = [o for o in objs if o["kind"] == "Namespace"]
    rest = [o for o in objs if o["kind"] != "Namespace"]
    apply_list(kubeconfig, namespaces)
    for i in range(0, len(rest), 500):
        apply_list(kubeconfig, rest[i : i + 500])


def count(kubeconfig):
    out = {}
    for kind in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
        data = json.loads(kubectl(kubeconfig, "get", "%s.%s" % (kind, RBAC), "-A", "-o", "json"))
        out[kind] = data["items"]
    return out


def run_play(play, extra_vars=None):
    """Run a playbook (a list of plays, or a path) with the json callback; returns (result, seconds)."""
    path = play
    if not isinstance(play, str):
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
            handle.write(json.dumps(play))
            path = handle.name
    env = dict(
        os.environ,
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".build", "collections")),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
    )
    cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", path]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, check=False)
    wall = time.monotonic() - t0
    if path is not play:
        os.unlink(path)
    data = json.loads(proc.stdout[proc.stdout.find("{") :])
    return data, wall


def bindings_state(kubeconfig):
    """roleRef and subjects (in order) of every seeded binding, as the API server returns them."""
    out = {}
    for kind in ("rolebindings", "clusterrolebindings"):
        for item in json.loads(kubectl(kubeconfig, "get", "%s.%s" % (kind, RBAC), "-A", "-l", LABEL, "-o", "json"))["items"]:
            meta = item["metadata"]
            out[(item["kind"], meta.get("namespace"), meta["name"])] = (item["roleRef"], item.get("subjects") or [])
    return out


LOCKDOWN_VARS = {
    "rbac_lockdown_mode": "enforce",
    "rbac_lockdown_break_glass_groups": ["bench-platform"],
    "rbac_lockdown_break_glass_binding": "bench-break-glass",
    "rbac_lockdown_readonly_role": "bench-readonly",
    "rbac_lockdown_backup_namespace": "bench-lockdown-backup",
    "rbac_lockdown_argocd_enabled": False,
}


def remove_lockdown(kubeconfig):
    """What the benchmark's lock-down created: its break-glass binding, read-only role and backup namespace."""
    kubectl(kubeconfig, "delete", "clusterrolebinding", LOCKDOWN_VARS["rbac_lockdown_break_glass_binding"], "--ignore-not-found")
    kubectl(kubeconfig, "delete", "clusterrole", LOCKDOWN_VARS["rbac_lockdown_readonly_role"], "--ignore-not-found")
    kubectl(kubeconfig, "delete", "namespace", LOCKDOWN_VARS["rbac_lockdown_backup_namespace"], "--ignore-not-found", "--timeout=120s")


def run_lockdown(kubeconfig):
    """Lock the seeded cluster down with the role, then restore; returns the figures."""
    remove_lockdown(kubeconfig)
    try:
        return _lockdown_and_restore(kubeconfig)
    finally:
        remove_lockdown(kubeconfig)


def _lockdown_and_restore(kubeconfig):
    before = bindings_state(kubeconfig)
    variables = dict(LOCKDOWN_VARS, rbac_lockdown_kubeconfig=kubeconfig)
    play = [{"hosts": "localhost", "gather_facts": False, "vars": variables, "roles": ["gitops.bootstrap.rbac_lockdown"]}]
    data, lockdown_s = run_play(play)
    tasks = dict((t["task"]["name"].split(" : ")[-1], t["hosts"]["localhost"]) for t in data["plays"][0]["tasks"])
    failed = [r.get("msg") for r in tasks.values() if r.get("failed")]
    if failed:
        sys.exit("the lock-down failed: %s" % failed[0])
    saved = tasks["Originals of the bindings to change are saved in the backup and checked, before any binding changes"]["backup"]
    applied = tasks["People lose the bindings only they held, and are removed from the bindings they share"]
    locked = bindings_state(kubeconfig)
    data, restore_s = run_play(
        os.path.join(ROOT, "playbooks", "rbac_restore.yml"),
        {"rbac_restore_hosts": "localhost", "rbac_lockdown_kubeconfig": kubeconfig, "rbac_restore_namespace": LOCKDOWN_VARS["rbac_lockdown_backup_namespace"]},
    )
    result = {}
    for play_result in data["plays"]:
        for task in play_result["tasks"]:
            if task["task"]["name"] == "Subjects the lock-down removed are back, what the bindings hold now is kept":
                result = task["hosts"]["localhost"]
    if "restored" not in result:
        sys.exit("the restore failed: %s" % result.get("msg", result))
    after = bindings_state(kubeconfig)
    return {
        "lockdown_s": lockdown_s,
        "restore_s": restore_s,
        "deleted": len(applied["deleted"]),
        "patched": len(applied["patched"]),
        "left": len(locked),
        "backup": saved,
        "restored": len(result["restored"]),
        "conflicts": len(result["conflicts"]),
        "identical": after == before,
    }


def run_audit(kubeconfig, report, returned):
    options = {
        "kubeconfig": kubeconfig,
        "include_default_bindings": True,
        "who_can": [{"verb": "get", "resource": "secrets", "namespace": "bench-07"}],
        "report_path": report,
        "report_format": "json",
    }
    if not returned:
        options["query"] = "summary"
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "full audit", "gitops.bootstrap.k8s_rbac_audit": options}]}]
    data, wall = run_play(play)
    task = data["plays"][0]["tasks"][0]
    res = task["hosts"]["localhost"]
    if res.get("failed"):
        sys.exit("the audit failed: %s" % res.get("msg"))
    start, end = task["task"]["duration"]["start"], task["task"]["duration"]["end"]
    from datetime import datetime

    def parse(ts):
        return datetime.strptime(ts.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")

    return (parse(end) - parse(start)).total_seconds(), wall, res


def engine_time(lists):
    from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac

    for kind, items in lists.items():
        singular = {"roles": "Role", "clusterroles": "ClusterRole", "rolebindings": "RoleBinding", "clusterrolebindings": "ClusterRoleBinding"}[kind]
        for item in items:
            item["kind"] = singular
    t0 = time.monotonic()
    snap = rbac.RbacSnapshot(lists["roles"], lists["clusterroles"], lists["rolebindings"], lists["clusterrolebindings"])
    result = rbac.Audit(snap, include_default_bindings=True).result()
    elapsed = time.monotonic() - t0
    return elapsed, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--cluster", default="rbac2")
    parser.add_argument("--bindings", type=int, default=2000)
    parser.add_argument("--roles", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lockdown", action="store_true", help="also time the lock-down (enforce) and the restore of the seeded cluster")
    parser.add_argument("--keep", action="store_true", help="leave the seeded objects (and the cluster) in place")
    args = parser.parse_args()

    kubeconfig = os.environ.get("KUBECONFIG")
    own = False
    if not kubeconfig:
        proc = subprocess.run([sys.executable, LOCALCLUSTER, "up", args.cluster], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            sys.exit("could not start local cluster %s:\n%s" % (args.cluster, proc.stderr))
        kubeconfig = proc.stdout.strip().splitlines()[-1]
        own = True
    try:
        objs = seed_objects(args.roles, args.bindings)
        t0 = time.monotonic()
        seed(kubeconfig, objs)
        seeded_in = time.monotonic() - t0
        lists = count(kubeconfig)
        n = dict((k, len(v)) for k, v in lists.items())
        # The aggregation controller fills the aggregated roles shortly after they are created.
        time.sleep(2)
        figures = {}
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "report.json")
            for returned in (False, True):
                tasks, walls = [], []
                for _run in range(args.runs):
                    task_s, wall_s, res = run_audit(kubeconfig, report, returned)
                    tasks.append(task_s)
                    walls.append(wall_s)
                figures[returned] = (tasks, walls)
            report_size = os.path.getsize(report)
        engine_s, result = engine_time(lists)
        summary = res["summary"]
        if len(result["subjects"]) != summary["subjects_listed"]:
            sys.exit("engine and module disagree on the number of subjects: %d vs %d" % (len(result["subjects"]), summary["subjects_listed"]))
        print("| RBAC audit benchmark | figure |")
        print("|---|---|")
        print(
            "| objects in the cluster | %d ClusterRoles, %d Roles, %d ClusterRoleBindings, %d RoleBindings (seeded in %.0f s) |"
            % (n["clusterroles"], n["roles"], n["clusterrolebindings"], n["rolebindings"], seeded_in)
        )
        print("| subjects evaluated | %d (findings: %d) |" % (summary["subjects_total"], summary["findings"]))
        for returned, label in ((False, "report file, summary returned (query)"), (True, "everything also returned to Ansible")):
            tasks, walls = figures[returned]
            print(
                "| full audit, %s: module task, best of %d | %.2f s (runs: %s; whole ansible-playbook process %.2f s) |"
                % (label, args.runs, min(tasks), ", ".join("%.2f" % t for t in tasks), min(walls))
            )
        print("| engine alone (evaluation of the same objects, no I/O) | %.2f s |" % engine_s)
        print("| JSON report size | %.1f MB |" % (report_size / 1e6))
        print("| target: full audit < 10 s | %s |" % ("met" if min(figures[False][0]) < 10 else "NOT met"))
        if args.lockdown:
            lock = run_lockdown(kubeconfig)
            backup = lock["backup"]
            print(
                "| lock-down, whole role (enforce): %d bindings deleted, %d patched | %.0f s |" % (lock["deleted"], lock["patched"], lock["lockdown_s"])
            )
            print(
                "| its backup | %d bindings, %.2f MB of JSON, %.0f kB compressed, %d ConfigMaps |"
                % (backup["entries"], backup["json_bytes"] / 1e6, backup["compressed_bytes"] / 1e3, backup["objects"])
            )
            print(
                "| restore playbook | %.0f s (%d bindings restored, %d conflicts; every binding as before: %s) |"
                % (lock["restore_s"], lock["restored"], lock["conflicts"], "yes" if lock["identical"] else "NO")
            )
        load = os.getloadavg()
        print("| machine | %d CPUs, load average %.1f during the run |" % (os.cpu_count() or 0, load[0]))
    finally:
        if not args.keep:
            subprocess.run(
                [kubectl_path(), "--kubeconfig", kubeconfig, "delete", "clusterrolebindings,clusterroles", "-l", LABEL, "--wait=false"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
            )
            subprocess.run(
                [kubectl_path(), "--kubeconfig", kubeconfig, "delete", "namespaces", "-l", LABEL, "--wait=false"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
            )
            if own:
                subprocess.run([sys.executable, LOCALCLUSTER, "down", args.cluster], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)


if __name__ == "__main__":
    main()
