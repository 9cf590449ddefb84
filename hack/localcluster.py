#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local Kubernetes control plane for tests and the demo.

Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the
k8s.io/kubernetes Go module, etcd from go.etcd.io/etcd/server/v3 and KWOK from
sigs.k8s.io/kwok, caches them outside the repository keyed by version, and drives named
clusters with ``kwokctl --runtime binary``.

    hack/localcluster.py build            build (or reuse) every binary
    hack/localcluster.py up NAME          start cluster NAME, print its kubeconfig path
    hack/localcluster.py down NAME        stop and delete cluster NAME
    hack/localcluster.py kubeconfig NAME  print the kubeconfig path of NAME
    hack/localcluster.py list             list the clusters known to kwokctl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

KUBERNETES_VERSION = os.environ.get("LOCALCLUSTER_KUBERNETES_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("LOCALCLUSTER_ETCD_VERSION", "v3.6.8")
KWOK_VERSION = os.environ.get("LOCALCLUSTER_KWOK_VERSION", "v0.7.0")

CACHE = os.path.expanduser(
    os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "gitops-bootstrap"))
)
K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


class LocalClusterError(Exception):
    """An error with a message a person can act on."""


# A cluster created while GITOPS_CLUSTER_OWNER is set records that value, so that a test run
# can delete exactly the clusters it created and leave those of other runs alone.
OWNER_ENV = "GITOPS_CLUSTER_OWNER"
OWNER_FILE = "gitops-owner"


def log(msg: str) -> None:
    print(f"[localcluster] {msg}", file=sys.stderr, flush=True)


def bindir(component: str, version: str) -> str:
    return os.path.join(CACHE, "bin", f"{component}-{version}")


def k8s_bin(name: str) -> str:
    return os.path.join(bindir("kubernetes", KUBERNETES_VERSION), name)


def etcd_bin() -> str:
    return os.path.join(bindir("etcd", ETCD_VERSION), "etcd")


def kwok_bin(name: str) -> str:
    return os.path.join(bindir("kwok", KWOK_VERSION), name)


def go_binary() -> str:
    go = shutil.which("go")
    if not go:
        raise LocalClusterError(
            "the Go toolchain ('go') is not on PATH; the local control plane is built from Go modules. "
            "Install Go 1.26 or newer (Debian: apt-get install golang, or your usual Go install) and run again."
        )
    return go


def run_go(args: list[str], cwd: str, what: str) -> None:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env["GOFLAGS"] = env["GOFLAGS"] + " -mod=mod"
    env["CGO_ENABLED"] = "0"
    log(f"{what}: go {' '.join(args)}")
    proc = subprocess.run([go_binary()] + args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
        hint = ""
        if re.search(r"(dial tcp|connection refused|no such host|404 Not Found|410 Gone|unknown revision|reading .*: .*)", proc.stdout):
            hint = (
                " A module could not be downloaded: check that the Go module proxy (GOPROXY) is reachable from this "
                "machine and serves the pinned versions, or set LOCALCLUSTER_*_VERSION to a served version."
            )
        raise LocalClusterError(f"{what} failed (go exited {proc.returncode}).{hint}\n--- last lines of go output ---\n{tail}")


def write_wrapper(workdir: str, requires: dict[str, str], replaces: dict[str, str], imports: list[str]) -> None:
    os.makedirs(workdir, exist_ok=True)
    lines = ["module localcluster.invalid/wrapper", "", "go 1.26", "", "require ("]
    lines += [f"\t{mod} {ver}" for mod, ver in sorted(requires.items())]
    lines += [")", ""]
    if replaces:
        lines += ["replace ("]
        lines += [f"\t{mod} => {target}" for mod, target in sorted(replaces.items())]
        lines += [")", ""]
    with open(os.path.join(workdir, "go.mod"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    # A tools file keeps the main packages in the module graph for `go mod tidy`.
    with open(os.path.join(workdir, "tools.go"), "w", encoding="utf-8") as fh:
        fh.write("//go:build tools\n\npackage tools\n\nimport (\n")
        fh.writelines(f'\t_ "{imp}"\n' for imp in imports)
        fh.write(")\n")


def module_gomod(module: str, version: str, scratch: str) -> str:
    """Return the text of a module's go.mod, downloaded through the module proxy."""
    os.makedirs(scratch, exist_ok=True)
    with open(os.path.join(scratch, "go.mod"), "w", encoding="utf-8") as fh:
        fh.write("module localcluster.invalid/probe\n\ngo 1.26\n")
    env = dict(os.environ, GOFLAGS="-mod=mod")
    proc = subprocess.run([go_binary(), "mod", "download", "-json", f"{module}@{version}"], cwd=scratch, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        info = {"Error": proc.stdout.strip()}
    if proc.returncode != 0 or info.get("Error") or not info.get("GoMod"):
        raise LocalClusterError(
            f"could not download the Go module {module}@{version}: {info.get('Error', proc.stdout.strip())}. "
            "Check that the Go module proxy is reachable and serves this version."
        )
    with open(info["GoMod"], encoding="utf-8") as fh:
        return fh.read()


def build_kubernetes() -> None:
    out = bindir("kubernetes", KUBERNETES_VERSION)
    missing = [b for b in K8S_BINARIES if not os.path.exists(os.path.join(out, b))]
    if not missing:
        log(f"kubernetes {KUBERNETES_VERSION}: cached in {out}")
        return
    work = os.path.join(CACHE, "work", f"kubernetes-{KUBERNETES_VERSION}")
    gomod = module_gomod("k8s.io/kubernetes", KUBERNETES_VERSION, os.path.join(work, "probe"))
    staging_version = "v0." + KUBERNETES_VERSION.split(".", 1)[1]
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", gomod, flags=re.M)
    if not staging:
        raise LocalClusterError(f"k8s.io/kubernetes@{KUBERNETES_VERSION} lists no staging modules; is this a Kubernetes release?")
    replaces = {m: f"{m} {staging_version}" for m in staging}
    imports = [f"k8s.io/kubernetes/cmd/{b}" for b in K8S_BINARIES]
    wrapper = os.path.join(work, "wrapper")
    write_wrapper(wrapper, {"k8s.io/kubernetes": KUBERNETES_VERSION}, replaces, imports)
    run_go(["mod", "tidy"], wrapper, f"resolving k8s.io/kubernetes {KUBERNETES_VERSION} (staging modules at {staging_version})")
    os.makedirs(out, exist_ok=True)
    for i, b in enumerate(missing, 1):
        log(f"building {b} {KUBERNETES_VERSION} ({i}/{len(missing)}); a cold build takes several minutes")
        tmp = os.path.join(out, f".{b}.partial")
        run_go(["build", "-trimpath", "-ldflags", _k8s_ldflags(), "-o", tmp, f"k8s.io/kubernetes/cmd/{b}"], wrapper, f"building {b}")
        os.replace(tmp, os.path.join(out, b))


def _k8s_ldflags() -> str:
    ver = KUBERNETES_VERSION
    major, minor = ver.lstrip("v").split(".")[:2]
    pkgs = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]
    flags = ["-s", "-w"]
    for p in pkgs:
        flags += [f"-X {p}.gitVersion={ver}", f"-X {p}.gitMajor={major}", f"-X {p}.gitMinor={minor}",
                  f"-X {p}.gitTreeState=clean", f"-X {p}.buildDate=1970-01-01T00:00:00Z"]
    return " ".join(flags)


def build_etcd() -> None:
    out = bindir("etcd", ETCD_VERSION)
    if os.path.exists(os.path.join(out, "etcd")):
        log(f"etcd {ETCD_VERSION}: cached in {out}")
        return
    work = os.path.join(CACHE, "work", f"etcd-{ETCD_VERSION}", "wrapper")
    write_wrapper(work, {"go.etcd.io/etcd/server/v3": ETCD_VERSION}, {}, ["go.etcd.io/etcd/server/v3"])
    run_go(["mod", "tidy"], work, f"resolving etcd {ETCD_VERSION}")
    os.makedirs(out, exist_ok=True)
    log(f"building etcd {ETCD_VERSION}")
    tmp = os.path.join(out, ".etcd.partial")
    run_go(["build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, "go.etcd.io/etcd/server/v3"], work, "building etcd")
    os.replace(tmp, os.path.join(out, "etcd"))


def build_kwok() -> None:
    out = bindir("kwok", KWOK_VERSION)
    if all(os.path.exists(os.path.join(out, b)) for b in ("kwok", "kwokctl")):
        log(f"kwok {KWOK_VERSION}: cached in {out}")
        return
    work = os.path.join(CACHE, "work", f"kwok-{KWOK_VERSION}", "wrapper")
    write_wrapper(work, {"sigs.k8s.io/kwok": KWOK_VERSION}, {}, ["sigs.k8s.io/kwok/cmd/kwok", "sigs.k8s.io/kwok/cmd/kwokctl"])
    run_go(["mod", "tidy"], work, f"resolving kwok {KWOK_VERSION}")
    os.makedirs(out, exist_ok=True)
    for b in ("kwok", "kwokctl"):
        log(f"building {b} {KWOK_VERSION}")
        tmp = os.path.join(out, f".{b}.partial")
        run_go(["build", "-trimpath", "-ldflags", f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}",
                "-o", tmp, f"sigs.k8s.io/kwok/cmd/{b}"], work, f"building {b}")
        os.replace(tmp, os.path.join(out, b))


def cmd_build(_args) -> int:
    t0 = time.time()
    build_etcd()
    build_kwok()
    build_kubernetes()
    log(f"all binaries ready in {time.time() - t0:.0f}s under {os.path.join(CACHE, 'bin')}")
    return 0



# ------------------------------------------------------------------------------- clusters
NODE_COUNT = int(os.environ.get("LOCALCLUSTER_NODES", "3"))
CLUSTER_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")


def kwok_workdir() -> str:
    return os.path.join(CACHE, "kwok")


def cluster_dir(name: str) -> str:
    return os.path.join(kwok_workdir(), "clusters", name)


def kubeconfig_path(name: str) -> str:
    return os.path.join(cluster_dir(name), "kubeconfig.yaml")


def kwok_env() -> dict:
    env = dict(os.environ)
    env["KWOK_WORKDIR"] = kwok_workdir()
    env["KWOK_KUBE_VERSION"] = KUBERNETES_VERSION
    env["KWOK_RUNTIME"] = "binary"
    # kwokctl shells out to kubectl for a few operations; use the one built with the control plane.
    env["PATH"] = bindir("kubernetes", KUBERNETES_VERSION) + os.pathsep + env.get("PATH", "")
    return env


def kwokctl(args: list[str], check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([kwok_bin("kwokctl")] + args, env=kwok_env(), text=True,
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)
    if check and proc.returncode != 0:
        raise LocalClusterError(f"kwokctl {' '.join(args)} failed (exit {proc.returncode}):\n{(proc.stdout or '').strip()[-3000:]}")
    return proc


def kubectl(name: str, args: list[str], input_text: str | None = None, check: bool = True, timeout: int = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run([k8s_bin("kubectl"), "--kubeconfig", kubeconfig_path(name)] + args, input=input_text,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if check and proc.returncode != 0:
        raise LocalClusterError(f"kubectl {' '.join(args)} on cluster {name} failed: {proc.stderr.strip()}")
    return proc


def require_binaries() -> None:
    needed = [k8s_bin(b) for b in K8S_BINARIES] + [etcd_bin(), kwok_bin("kwok"), kwok_bin("kwokctl")]
    missing = [p for p in needed if not os.path.exists(p)]
    if missing:
        raise LocalClusterError(
            "the control plane binaries are not built yet (missing: " + ", ".join(os.path.basename(m) for m in missing)
            + "). Run `make controlplane` (or `hack/localcluster.py build`) first."
        )


def known_clusters() -> list[str]:
    if not os.path.exists(kwok_bin("kwokctl")):
        return []
    proc = kwokctl(["get", "clusters"], check=False)
    return [line.strip() for line in (proc.stdout or "").splitlines() if line.strip() and " " not in line.strip()]


def cluster_healthy(name: str) -> bool:
    if not os.path.exists(kubeconfig_path(name)):
        return False
    if set(COMPONENTS) - running_components(name):
        return False
    try:
        proc = kubectl(name, ["get", "--raw", "/readyz"], check=False, timeout=15)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and proc.stdout.strip() == "ok"


COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller")


def running_components(name: str) -> set[str]:
    """The components of cluster NAME that have a live process."""
    marker = os.path.join(cluster_dir(name), "bin", "").encode()
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                exe = fh.read().split(b"\0")[0]
        except OSError:
            continue
        if exe.startswith(marker):
            found.add(os.path.basename(exe.decode()))
    return found


def require_components(name: str) -> None:
    missing = [c for c in COMPONENTS if c not in running_components(name)]
    if missing:
        raise LocalClusterError(f"cluster {name}: {', '.join(missing)} not running (a port taken by another process?); "
                                f"see the logs under {cluster_dir(name)}/logs")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def node_manifest(index: int) -> str:
    node = f"kwok-node-{index}"
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {
                "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": node, "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "", "type": "kwok",
                "topology.kubernetes.io/zone": f"zone-{index % 3}",
            },
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "nodeInfo": {"architecture": "amd64", "kubeletVersion": "fake", "kubeProxyVersion": "fake",
                         "operatingSystem": "linux"},
            "phase": "Running",
        },
    })


def wait_nodes_ready(name: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while True:
        proc = kubectl(name, ["get", "nodes", "-o", "json"], check=False)
        ready = 0
        if proc.returncode == 0:
            for item in json.loads(proc.stdout).get("items", []):
                for cond in item.get("status", {}).get("conditions", []) or []:
                    if cond.get("type") == "Ready" and cond.get("status") == "True":
                        ready += 1
        if ready >= NODE_COUNT:
            return
        if time.time() > deadline:
            raise LocalClusterError(f"cluster {name}: only {ready}/{NODE_COUNT} KWOK nodes became Ready within {timeout:.0f}s; "
                                    f"see the kwok-controller log under {cluster_dir(name)}/logs")
        time.sleep(0.5)


def wait_default_serviceaccount(name: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while kubectl(name, ["-n", "default", "get", "serviceaccount", "default"], check=False).returncode != 0:
        if time.time() > deadline:
            raise LocalClusterError(f"cluster {name}: the controller manager did not create the default ServiceAccount "
                                    f"within {timeout:.0f}s; see {cluster_dir(name)}/logs")
        time.sleep(0.5)


def cluster_up(name: str, port: int | None = None, attempts: int = 3) -> str:
    """Start cluster NAME, serialised with other `up` calls on this machine.

    kwokctl picks a free port for each component when it creates a cluster; two clusters
    created at the same moment can pick the same one. A lock makes creations take turns,
    and a creation that still fails (a port taken by something else in between) is retried.
    """
    import fcntl

    os.makedirs(kwok_workdir(), exist_ok=True)
    with open(os.path.join(kwok_workdir(), ".create.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for attempt in range(1, attempts + 1):
            try:
                return _cluster_up(name, port)
            except LocalClusterError as exc:
                if attempt == attempts or (port is not None and not port_free(port)):
                    raise
                log(f"cluster {name} did not come up ({exc}); deleting it and trying again ({attempt + 1}/{attempts})")
                cluster_down(name)
    raise LocalClusterError(f"cluster {name} did not come up")  # not reached


def _cluster_up(name: str, port: int | None = None) -> str:
    if not CLUSTER_NAME_RE.match(name):
        raise LocalClusterError(f"invalid cluster name {name!r}: use lower-case letters, digits and '-', at most 32 characters")
    require_binaries()
    if name in known_clusters() or os.path.exists(cluster_dir(name)):
        if cluster_healthy(name):
            log(f"cluster {name} is already running; reusing it")
            return kubeconfig_path(name)
        log(f"cluster {name} exists but is not healthy (left by a crashed run?); trying to start it again")
        kwokctl(["start", "cluster", "--name", name, "--wait", "60s"], check=False)
        if cluster_healthy(name):
            log(f"cluster {name} recovered")
            ensure_nodes(name)
            return kubeconfig_path(name)
        log(f"cluster {name} could not be recovered; replacing it")
        kwokctl(["delete", "cluster", "--name", name, "--kubeconfig", kubeconfig_path(name) + ".ignored"], check=False)
        shutil.rmtree(cluster_dir(name), ignore_errors=True)
    if port is not None and not port_free(port):
        raise LocalClusterError(f"port {port} on 127.0.0.1 is already in use; choose another with --port, or leave it out to "
                                "pick a free port")
    args = [
        "create", "cluster", "--name", name, "--runtime", "binary",
        "--kube-apiserver-binary", k8s_bin("kube-apiserver"),
        "--kube-controller-manager-binary", k8s_bin("kube-controller-manager"),
        "--kube-scheduler-binary", k8s_bin("kube-scheduler"),
        "--etcd-binary", etcd_bin(),
        "--kwok-controller-binary", kwok_bin("kwok"),
        "--kube-authorization", "--kube-admission",
        # One instance of each: no leader election, whose lost leases on a loaded machine
        # would stop the controller manager or scheduler for good.
        "--extra-args", "kube-controller-manager=leader-elect=false",
        "--extra-args", "kube-scheduler=leader-elect=false",
        "--kubeconfig", os.path.join(cluster_dir(name) + ".kubeconfig-merge"),
        "--wait", "120s",
    ]
    if port is not None:
        args += ["--kube-apiserver-port", str(port)]
    t0 = time.time()
    log(f"starting cluster {name}")
    kwokctl(args)
    owner = os.environ.get(OWNER_ENV, "")
    if owner:
        with open(os.path.join(cluster_dir(name), OWNER_FILE), "w", encoding="utf-8") as fh:
            fh.write(owner + "\n")
    try:
        os.remove(cluster_dir(name) + ".kubeconfig-merge")
    except OSError:
        pass
    ensure_nodes(name)
    wait_default_serviceaccount(name)
    require_components(name)
    log(f"cluster {name} ready in {time.time() - t0:.1f}s; kubeconfig: {kubeconfig_path(name)}")
    return kubeconfig_path(name)


def ensure_nodes(name: str) -> None:
    docs = "\n---\n".join(node_manifest(i) for i in range(NODE_COUNT))
    kubectl(name, ["apply", "-f", "-"], input_text=docs)
    wait_nodes_ready(name)


def cluster_down(name: str) -> None:
    if name not in known_clusters() and not os.path.exists(cluster_dir(name)):
        log(f"cluster {name} does not exist; nothing to do")
        return
    kwokctl(["delete", "cluster", "--name", name, "--kubeconfig", cluster_dir(name) + ".kubeconfig-merge"], check=False)
    shutil.rmtree(cluster_dir(name), ignore_errors=True)
    try:
        os.remove(cluster_dir(name) + ".kubeconfig-merge")
    except OSError:
        pass
    log(f"cluster {name} deleted")


def cmd_up(args) -> int:
    print(cluster_up(args.name, args.port))
    return 0


def cmd_down(args) -> int:
    names = known_clusters() if args.all else [args.name]
    if not args.all and not args.name:
        raise LocalClusterError("name the cluster to delete, or pass --all")
    for name in names:
        cluster_down(name)
    return 0


def cmd_kubeconfig(args) -> int:
    path = kubeconfig_path(args.name)
    if not os.path.exists(path):
        raise LocalClusterError(f"cluster {args.name} has no kubeconfig; start it with `hack/localcluster.py up {args.name}`")
    print(path)
    return 0


def cluster_owner(name: str) -> str:
    """The GITOPS_CLUSTER_OWNER the cluster was created under ("" when none was set)."""
    try:
        with open(os.path.join(cluster_dir(name), OWNER_FILE), encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def cmd_list(args) -> int:
    for name in known_clusters():
        if args.owner is not None and cluster_owner(name) != args.owner:
            continue
        print(f"{name}\t{'ready' if cluster_healthy(name) else 'not-ready'}\t{kubeconfig_path(name)}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build (or reuse) every binary").set_defaults(func=cmd_build)
    up = sub.add_parser("up", help="start a named cluster and print its kubeconfig path")
    up.add_argument("name")
    up.add_argument("--port", type=int, default=None, help="kube-apiserver port (default: a free port)")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop and delete a named cluster")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true", help="delete every local cluster")
    down.set_defaults(func=cmd_down)
    kc = sub.add_parser("kubeconfig", help="print the kubeconfig path of a cluster")
    kc.add_argument("name")
    kc.set_defaults(func=cmd_kubeconfig)
    ls = sub.add_parser("list", help="list local clusters")
    ls.add_argument("--owner", default=None,
                    help=f"only the clusters created while {OWNER_ENV} had this value (make test uses it to clean up its own)")
    ls.set_defaults(func=cmd_list)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LocalClusterError as exc:
        print(f"localcluster: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("localcluster: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
