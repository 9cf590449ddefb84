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
import tempfile
import time
import urllib.request

KUBERNETES_VERSION = os.environ.get("LOCALCLUSTER_KUBERNETES_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("LOCALCLUSTER_ETCD_VERSION", "v3.6.8")
KWOK_VERSION = os.environ.get("LOCALCLUSTER_KWOK_VERSION", "v0.7.0")

CACHE = os.path.expanduser(
    os.environ.get("GITOPS_BOOTSTRAP_CACHE", os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "gitops-bootstrap"))
)
K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


class LocalClusterError(Exception):
    """An error with a message a person can act on."""


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build").set_defaults(func=cmd_build)
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
