#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the gitops.bootstrap.argocd role against kubectl's server-side apply.

On one fresh local cluster, in one run, it times:

1. the first install by the role (ansible-playbook wall time);
2. a no-op re-run of the role (the whole role: validate, install, configure, verify);
3. a no-op run of the install step alone (the role's argocd_install task with the same arguments:
   one module run applying the upstream objects, the ConfigMap keys, AppProjects and Applications);
4. ``kubectl apply --server-side --force-conflicts`` of the same upstream manifest into the same
   namespace (kubectl is the control plane's, built by hack/localcluster.py).

Runs 2-4 are repeated (``--repeat``) and the median is reported, with the ratios to kubectl.

    python3 benchmarks/argocd_install.py                 # starts and deletes cluster argocd-bench
    KUBECONFIG=... python3 benchmarks/argocd_install.py  # uses that cluster (namespace argocd)

Run it from the repository root after ``make venv`` (it uses .venv/bin/ansible-playbook).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CACHE = os.path.expanduser(os.environ.get("GITOPS_BOOTSTRAP_CACHE") or "~/.cache/gitops-bootstrap")
KUBECTL = os.path.join(CACHE, "bin", "kubernetes-v1.36.3", "kubectl")
MANIFESTS = os.environ.get("GITOPS_ARGOCD_MANIFESTS") or os.path.abspath(os.path.join(ROOT, "..", "shared", "argocd"))
VERSION = "v3.5.1"

ROLE_VARS = """
    argocd_manifest_source: "{manifests}/{version}"
    argocd_version: "{version}"
    argocd_infra_repo_url: https://git.example.test/platform/infra.git
    argocd_url: https://argocd.bench.example.test
    argocd_admin_groups: [platform-admins]
    argocd_repositories:
      - name: infra
        url: https://git.example.test/platform/infra.git
        username: bot
        password: benchmark-token
    argocd_projects:
      - name: team-a
        source_repos: [https://git.example.test/team-a/apps.git]
        destinations: [{{server: https://kubernetes.default.svc, namespace: team-a}}]
"""

ROLE_PLAYBOOK = """---
- name: Argo CD is installed by the role
  hosts: bench
  gather_facts: false
  vars:""" + ROLE_VARS + """  roles:
    - role: gitops.bootstrap.argocd
"""

# The role's install task alone, with the arguments the role gives it (the upstream objects,
# the ConfigMap keys, the AppProjects and Applications): one argocd_install module run.
MODULE_PLAYBOOK = """---
- name: The install step alone
  hosts: bench
  gather_facts: false
  vars:""" + ROLE_VARS + """  tasks:
    - name: The role's install step
      ansible.builtin.include_role:
        name: gitops.bootstrap.argocd
        tasks_from: install
"""

INVENTORY = """bench ansible_connection=local ansible_python_interpreter={python}
"""


def log(msg):
    print("[bench] %s" % msg, file=sys.stderr, flush=True)


def run(cmd, env, what):
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit("%s failed (exit %d)" % (what, proc.returncode))
    return elapsed, proc.stdout


def changed_count(output):
    match = re.search(r"bench\s*:\s*ok=\d+\s+changed=(\d+)", output)
    return int(match.group(1)) if match else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each no-op measurement (median reported)")
    parser.add_argument("--cluster", default="argocd-bench", help="name of the local cluster to start")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object as well")
    args = parser.parse_args(argv)

    venv_bin = os.path.join(ROOT, ".venv", "bin")
    playbook_cmd = os.path.join(venv_bin, "ansible-playbook")
    if not os.path.exists(playbook_cmd):
        raise SystemExit("no %s: run `make venv` first" % playbook_cmd)
    if not os.path.exists(KUBECTL):
        raise SystemExit("no kubectl at %s: run `make controlplane` first" % KUBECTL)
    if not os.path.isdir(os.path.join(MANIFESTS, VERSION)):
        raise SystemExit("no upstream manifests at %s (set GITOPS_ARGOCD_MANIFESTS)" % os.path.join(MANIFESTS, VERSION))

    started = False
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig:
        log("starting cluster %s" % args.cluster)
        kubeconfig = subprocess.run([sys.executable, "hack/localcluster.py", "up", args.cluster], cwd=ROOT, check=True,
                                    stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
        started = True
    env = dict(os.environ)
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "K8S_AUTH_KUBECONFIG": kubeconfig,
        "KUBECONFIG": kubeconfig,
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".build", "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_STDOUT_CALLBACK": "default",
    })
    figures = {}
    try:
        with tempfile.TemporaryDirectory(prefix="argocd-bench-") as tmp:
            inventory = os.path.join(tmp, "inventory")
            role_pb = os.path.join(tmp, "role.yml")
            module_pb = os.path.join(tmp, "module.yml")
            with open(inventory, "w", encoding="utf-8") as fh:
                fh.write(INVENTORY.format(python=os.path.join(venv_bin, "python")))
            with open(role_pb, "w", encoding="utf-8") as fh:
                fh.write(ROLE_PLAYBOOK.format(manifests=MANIFESTS, version=VERSION))
            with open(module_pb, "w", encoding="utf-8") as fh:
                fh.write(MODULE_PLAYBOOK.format(manifests=MANIFESTS, version=VERSION))
            role = [playbook_cmd, "-i", inventory, role_pb]
            module = [playbook_cmd, "-i", inventory, module_pb]
            kubectl = [KUBECTL, "apply", "--server-side", "--force-conflicts", "-n", "argocd",
                       "-f", os.path.join(MANIFESTS, VERSION, "install.yaml")]

            log("first install by the role")
            figures["first_install_s"], out = run(role, env, "first install")
            figures["first_install_changed"] = changed_count(out)

            noop_role, noop_module, kubectl_times = [], [], []
            for i in range(args.repeat):
                log("round %d/%d: role no-op, install step no-op, kubectl server-side apply" % (i + 1, args.repeat))
                elapsed, out = run(role, env, "no-op role run")
                if changed_count(out) != 0:
                    raise SystemExit("the re-run of the role reported changes: %s" % out[-1500:])
                noop_role.append(elapsed)
                elapsed, out = run(module, env, "no-op install step")
                if changed_count(out) != 0:
                    raise SystemExit("the install step alone reported changes: %s" % out[-1500:])
                noop_module.append(elapsed)
                elapsed, _out = run(kubectl, env, "kubectl apply --server-side")
                kubectl_times.append(elapsed)
            figures["noop_role_s"] = statistics.median(noop_role)
            figures["noop_install_step_s"] = statistics.median(noop_module)
            figures["kubectl_server_side_apply_s"] = statistics.median(kubectl_times)
            figures["ratio_noop_role_to_kubectl"] = figures["noop_role_s"] / figures["kubectl_server_side_apply_s"]
            figures["ratio_noop_install_step_to_kubectl"] = figures["noop_install_step_s"] / figures["kubectl_server_side_apply_s"]
            figures["repeat"] = args.repeat
            figures["cpus"] = os.cpu_count()
            figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    finally:
        if started:
            subprocess.run([sys.executable, "hack/localcluster.py", "down", args.cluster], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with open(os.path.join(MANIFESTS, VERSION, "install.yaml"), encoding="utf-8") as fh:
        objects = len(re.findall(r"^kind: ", fh.read(), re.M))
    print("Argo CD %s, cluster flavour, %d objects of install.yaml; medians of %d runs" % (VERSION, objects, args.repeat))
    print("  first install (role, ansible-playbook)         %7.1f s" % figures["first_install_s"])
    print("  no-op re-run (whole role)                      %7.1f s" % figures["noop_role_s"])
    print("  no-op install step (argocd_install alone)      %7.1f s" % figures["noop_install_step_s"])
    print("  kubectl apply --server-side, same manifests    %7.1f s" % figures["kubectl_server_side_apply_s"])
    print("  ratio no-op role / kubectl                     %7.2f" % figures["ratio_noop_role_to_kubectl"])
    print("  ratio no-op install step / kubectl             %7.2f" % figures["ratio_noop_install_step_to_kubectl"])
    print("  (load average %.2f on %d CPUs)" % (figures["load_average_1m"], figures["cpus"]))
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
