#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real Argo CD controllers as host processes next to a local cluster.

The local clusters run no containers (KWOK marks pods Running), so the Argo CD pods the
collection installs never execute. To prove that the configuration the collection writes makes
Argo CD pull and apply, this script builds the real ``argocd`` multi-call binary from the
Argo CD Go module and runs ``argocd-repo-server`` and ``argocd-application-controller`` (plus
Redis, and on request ``argocd-server`` for its webhook receiver) on this machine, pointed at the
cluster by a kubeconfig that carries the token of the component's own ServiceAccount, with the
environment the installed workloads declare (``argocd-cm``/``argocd-cmd-params-cm`` keys resolved
the way the kubelet would).

    hack/argocd_controllers.py build                 build (or reuse) argocd and kustomize
    hack/argocd_controllers.py probe VERSION         resolve an Argo CD version's module graph only
    hack/argocd_controllers.py run --kubeconfig K    run the controllers until interrupted
                                                     (--server: argocd-server too, plain HTTP on loopback)
    hack/argocd_controllers.py path                  print the directory holding the binaries

Versions: GITOPS_ARGOCD_BUILD_VERSION (default v3.5.1). Binaries are cached under
$GITOPS_BOOTSTRAP_CACHE/bin/argocd-<version>/ and kustomize-<version>/.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import localcluster as lc  # noqa: E402  (sibling script)
from localcluster import LocalClusterError  # noqa: E402

ARGOCD_MODULE = "github.com/argoproj/argo-cd/v3"
ARGOCD_VERSION = os.environ.get("GITOPS_ARGOCD_BUILD_VERSION", "v3.5.1")
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"

# Upstream builds its gitops-engine from the copy inside the Argo CD repository
# (`replace <engine> => ./gitops-engine`). A module zip carries no nested module, so the wrapper
# needs the engine as a module the proxy serves. The version upstream's go.mod requires is a
# placeholder that is not served for the in-repository module path. Known served versions whose
# source matches the release's in-repository copy closely enough to build it (see
# docs/pull_loop.md for what differs) are listed here; GITOPS_ARGOCD_ENGINE overrides
# (module@version).
ENGINE_PINS = {
    "v3.5.1": ("github.com/argoproj/argo-cd/gitops-engine", "v0.0.0-20260914071520-c9c369efcc5b"),
}

COMPONENTS = ("argocd-application-controller", "argocd-repo-server", "argocd-server", "argocd-git-ask-pass")
# Helper scripts the Argo CD image installs next to the binary (the repo server runs them).
IMAGE_SCRIPTS = ("gpg-wrapper.sh", "git-verify-wrapper.sh")


def log(msg: str) -> None:
    print(f"[argocd-controllers] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- build
def argocd_bindir(version: str | None = None) -> str:
    return lc.bindir("argocd", version or ARGOCD_VERSION)


def argocd_bin(version: str | None = None) -> str:
    return os.path.join(argocd_bindir(version), "argocd")


def kustomize_bin(version: str) -> str:
    return os.path.join(lc.bindir("kustomize", version), "kustomize")


def module_info(module: str, version: str, scratch: str) -> dict:
    """`go mod download -json module@version`: the module's Dir, GoMod, or an Error."""
    os.makedirs(scratch, exist_ok=True)
    with open(os.path.join(scratch, "go.mod"), "w", encoding="utf-8") as fh:
        fh.write("module localcluster.invalid/probe\n\ngo 1.26\n")
    env = dict(os.environ, GOFLAGS="-mod=mod")
    proc = subprocess.run([lc.go_binary(), "mod", "download", "-json", f"{module}@{version}"], cwd=scratch, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        info = {"Error": proc.stdout.strip() or f"go mod download exited {proc.returncode}"}
    if proc.returncode != 0 and not info.get("Error"):
        info["Error"] = proc.stdout.strip()
    return info


def parse_gomod(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Return (requires, replaces) of a go.mod; replaces as (left side, right side) pairs."""
    requires: dict[str, str] = {}
    replaces: list[tuple[str, str]] = []
    block = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block:
            if line == ")":
                block = None
                continue
            body = line
        else:
            m = re.match(r"^(require|replace)\s+\($", line)
            if m:
                block = m.group(1)
                continue
            m = re.match(r"^(require|replace)\s+(.*)$", line)
            if not m:
                continue
            block_once, body = m.group(1), m.group(2)
            _add_gomod_line(block_once, body, requires, replaces)
            continue
        _add_gomod_line(block, body, requires, replaces)
    return requires, replaces


def _add_gomod_line(kind: str, body: str, requires: dict, replaces: list) -> None:
    if kind == "require":
        parts = body.split()
        if len(parts) >= 2:
            requires[parts[0]] = parts[1]
    elif kind == "replace" and "=>" in body:
        left, right = (s.strip() for s in body.split("=>", 1))
        replaces.append((left, right))


def is_local_target(target: str) -> bool:
    return target.startswith("./") or target.startswith("../") or target.startswith("/")


def resolve_engine(version: str, gomod: str, scratch: str) -> tuple[list[tuple[str, str]], dict]:
    """Work out the wrapper's replace lines for an Argo CD release.

    Returns (replaces, notes): the upstream replace lines with module targets, plus one for each
    in-repository module (gitops-engine) pointing at a version the module proxy serves.
    """
    requires, replaces = parse_gomod(gomod)
    kept = [(left, right) for left, right in replaces if not is_local_target(right)]
    notes: dict = {"argocd": version, "engine": []}
    for left, right in replaces:
        if not is_local_target(right):
            continue
        module = left.split()[0]
        wanted = requires.get(module)
        candidates: list[tuple[str, str, str]] = []
        override = os.environ.get("GITOPS_ARGOCD_ENGINE")
        if override and "@" in override:
            omod, over = override.split("@", 1)
            candidates.append((omod, over, "GITOPS_ARGOCD_ENGINE"))
        if wanted:
            candidates.append((module, wanted, "the version the release's go.mod requires"))
        if version in ENGINE_PINS and ENGINE_PINS[version][0] == module:
            candidates.append((ENGINE_PINS[version][0], ENGINE_PINS[version][1], "pinned in hack/argocd_controllers.py"))
        tried = []
        chosen = None
        for cmod, cver, why in candidates:
            info = module_info(cmod, cver, scratch)
            if info.get("Error"):
                tried.append(f"{cmod}@{cver} ({why}): {info['Error'].splitlines()[-1].strip()}")
                continue
            chosen = (cmod, cver, why)
            break
        if not chosen:
            raise LocalClusterError(
                f"Argo CD {version} builds {module} from its own repository ({left} => {right}), and no version of it "
                "could be downloaded from the Go module proxy:\n  " + "\n  ".join(tried or ["(no candidate version)"])
                + "\nSet GITOPS_ARGOCD_ENGINE=<module>@<version> to a served version whose source matches the release, "
                "or choose another release with GITOPS_ARGOCD_BUILD_VERSION."
            )
        cmod, cver, why = chosen
        kept.append((module, f"{cmod} {cver}"))
        notes["engine"].append({"module": module, "upstream": f"{left} => {right}", "used": f"{cmod}@{cver}", "why": why,
                                "rejected": tried})
        log(f"{module}: using {cmod}@{cver} ({why})")
    return kept, notes


def write_wrapper(workdir: str, module: str, version: str, replaces: list[tuple[str, str]], imports: list[str]) -> None:
    os.makedirs(workdir, exist_ok=True)
    for stale in ("go.mod", "go.sum"):
        try:
            os.remove(os.path.join(workdir, stale))
        except OSError:
            pass
    lines = ["module localcluster.invalid/wrapper", "", "go 1.26", "", f"require {module} {version}", ""]
    if replaces:
        lines += ["replace ("] + [f"\t{left} => {right}" for left, right in replaces] + [")", ""]
    with open(os.path.join(workdir, "go.mod"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    with open(os.path.join(workdir, "tools.go"), "w", encoding="utf-8") as fh:
        fh.write("//go:build tools\n\npackage tools\n\nimport (\n")
        fh.writelines(f'\t_ "{imp}"\n' for imp in imports)
        fh.write(")\n")


def run_go_nice(args: list[str], cwd: str, what: str) -> None:
    """Like localcluster.run_go, at low priority: the build machine is shared."""
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env["GOFLAGS"] = env["GOFLAGS"] + " -mod=mod"
    env["CGO_ENABLED"] = "0"
    log(f"{what}: go {' '.join(args)}")
    cmd = [lc.go_binary()] + args
    if shutil.which("nice"):
        cmd = ["nice", "-n", os.environ.get("GITOPS_BUILD_NICE", "15")] + cmd
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        out = proc.stdout.strip()
        tail = "\n".join(out.splitlines()[-30:])
        hint = ""
        if re.search(r"(403 Forbidden|404 Not Found|410 Gone|dial tcp|no such host|unknown revision)", out):
            hint = (" A module could not be downloaded: check that the Go module proxy (GOPROXY) is reachable and serves "
                    "the pinned versions.")
        elif re.search(r"(undefined:|too many arguments|not enough arguments|cannot use|has no field or method)", out):
            hint = (" The sources do not compile together: a replaced module's API differs from the one this release "
                    "was written against.")
        raise LocalClusterError(f"{what} failed (go exited {proc.returncode}).{hint}\n--- last lines of go output ---\n{tail}")


def argocd_ldflags(version: str, notes: dict) -> str:
    pkg = f"{ARGOCD_MODULE}/common"
    extra = ",".join(f"{e['module']}={e['used']}" for e in notes.get("engine", []))
    flags = ["-s", "-w", f"-X {pkg}.version={version.lstrip('v')}", f"-X {pkg}.buildDate=1970-01-01T00:00:00Z"]
    if extra:
        flags.append(f"-X {pkg}.extraBuildInfo=module-build;{extra}")
    return " ".join(flags)


def tool_version(moddir: str, key: str, default: str) -> str:
    path = os.path.join(moddir, "hack", "tool-versions.sh")
    try:
        with open(path, encoding="utf-8") as fh:
            m = re.search(rf"^{re.escape(key)}=([0-9.]+)\s*$", fh.read(), flags=re.M)
    except OSError:
        m = None
    return "v" + m.group(1) if m else default


def buildinfo_path(version: str | None = None) -> str:
    return os.path.join(argocd_bindir(version), "BUILDINFO.json")


def read_json(path: str) -> dict:
    """The JSON object in PATH; {} when it is missing or unreadable (a build record not written yet)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def read_buildinfo(version: str | None = None) -> dict:
    return read_json(buildinfo_path(version))


def probe(version: str) -> dict:
    """Resolve the module graph of an Argo CD release (go mod tidy) without compiling."""
    work = os.path.join(lc.CACHE, "work", f"argocd-{version}")
    info = module_info(ARGOCD_MODULE, version, os.path.join(work, "probe"))
    if info.get("Error") or not info.get("GoMod"):
        raise LocalClusterError(f"could not download {ARGOCD_MODULE}@{version}: {info.get('Error')}")
    with open(info["GoMod"], encoding="utf-8") as fh:
        gomod = fh.read()
    replaces, notes = resolve_engine(version, gomod, os.path.join(work, "probe"))
    wrapper = os.path.join(work, "wrapper")
    write_wrapper(wrapper, ARGOCD_MODULE, version, replaces, [f"{ARGOCD_MODULE}/cmd"])
    run_go_nice(["mod", "tidy"], wrapper, f"resolving Argo CD {version}")
    notes["moddir"] = info.get("Dir")
    notes["wrapper"] = wrapper
    return notes


def build_argocd(version: str | None = None) -> str:
    version = version or ARGOCD_VERSION
    out = argocd_bindir(version)
    binary = os.path.join(out, "argocd")
    info = read_buildinfo(version)
    if (os.path.exists(binary) and info.get("kustomize") and os.path.exists(kustomize_bin(info["kustomize"]))
            and all(os.path.exists(os.path.join(out, s)) for s in IMAGE_SCRIPTS)):
        log(f"argocd {version}: cached in {out}")
        link_components(out)
        return out
    t0 = time.time()
    notes = probe(version)
    wrapper = notes["wrapper"]
    os.makedirs(out, exist_ok=True)
    if not os.path.exists(binary):
        log(f"building argocd {version} (one binary for every Argo CD component); a cold build takes 10-20 minutes")
        tmp = os.path.join(out, ".argocd.partial")
        tb = time.time()
        run_go_nice(["build", "-trimpath", "-ldflags", argocd_ldflags(version, notes), "-o", tmp, f"{ARGOCD_MODULE}/cmd"],
                    wrapper, f"building argocd {version}")
        os.replace(tmp, binary)
        notes["argocd_build_seconds"] = round(time.time() - tb, 1)
    copy_image_scripts(notes.get("moddir") or "", out)
    kver = os.environ.get("GITOPS_KUSTOMIZE_VERSION") or tool_version(notes.get("moddir") or "", "kustomize5_version", "v5.8.1")
    notes["kustomize"] = kver
    build_kustomize(kver)
    link_components(out)
    notes["total_seconds"] = round(time.time() - t0, 1)
    notes["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    old = read_buildinfo(version)
    for k in ("argocd_build_seconds",):
        if k not in notes and k in old:
            notes[k] = old[k]
    notes.pop("wrapper", None)
    notes.pop("moddir", None)
    with open(buildinfo_path(version), "w", encoding="utf-8") as fh:
        json.dump(notes, fh, indent=2)
    log(f"argocd {version} ready in {time.time() - t0:.0f}s under {out}")
    return out


def build_kustomize(version: str) -> str:
    out = lc.bindir("kustomize", version)
    binary = os.path.join(out, "kustomize")
    if os.path.exists(binary):
        return binary
    work = os.path.join(lc.CACHE, "work", f"kustomize-{version}")
    info = module_info(KUSTOMIZE_MODULE, version, os.path.join(work, "probe"))
    if info.get("Error") or not info.get("GoMod"):
        raise LocalClusterError(f"could not download {KUSTOMIZE_MODULE}@{version}: {info.get('Error')}")
    with open(info["GoMod"], encoding="utf-8") as fh:
        _, replaces = parse_gomod(fh.read())
    local = [f"{a} => {b}" for a, b in replaces if is_local_target(b)]
    if local:
        raise LocalClusterError(f"kustomize {version} replaces modules with local directories ({', '.join(local)}); "
                                "choose another version with GITOPS_KUSTOMIZE_VERSION")
    wrapper = os.path.join(work, "wrapper")
    write_wrapper(wrapper, KUSTOMIZE_MODULE, version, replaces, [KUSTOMIZE_MODULE])
    run_go_nice(["mod", "tidy"], wrapper, f"resolving kustomize {version}")
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, ".kustomize.partial")
    run_go_nice(["build", "-trimpath", "-ldflags", f"-s -w -X sigs.k8s.io/kustomize/api/provenance.version={version}",
                 "-o", tmp, KUSTOMIZE_MODULE], wrapper, f"building kustomize {version}")
    os.replace(tmp, binary)
    return binary


def copy_image_scripts(moddir: str, out: str) -> None:
    for name in IMAGE_SCRIPTS:
        src = os.path.join(moddir, "hack", name)
        if not os.path.exists(src):
            raise LocalClusterError(f"{src} is missing from the Argo CD module; the repo server needs it")
        tmp = os.path.join(out, f".{name}.partial")
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, os.path.join(out, name))


def link_components(out: str) -> None:
    for name in COMPONENTS:
        link = os.path.join(out, name)
        if os.path.islink(link) or os.path.exists(link):
            continue
        os.symlink("argocd", link)


# ------------------------------------------------------------------------------- run
# Paths inside the containers that Argo CD lets an environment variable move. A host process
# gets the same files under its own root directory instead.
PATH_ENV = {
    "/app/config": "ARGOCD_APP_CONF_PATH",
    "/app/config/ssh": "ARGOCD_SSH_DATA_PATH",
    "/app/config/tls": "ARGOCD_TLS_DATA_PATH",
    "/app/config/gpg/source": "ARGOCD_GPG_DATA_PATH",
    "/app/config/gpg/keys": "ARGOCD_GNUPGHOME",
    "/home/argocd": "HOME",
    "/tmp": "TMPDIR",
}
# A Service name the host cannot resolve, and the environment variable that replaces it.
SERVICE_ENV = {
    "argocd-application-controller": {"ARGOCD_APPLICATION_CONTROLLER_REPO_SERVER": "repo-server", "REDIS_SERVER": "redis"},
    "argocd-repo-server": {"REDIS_SERVER": "redis"},
    "argocd-server": {"ARGOCD_SERVER_REPO_SERVER": "repo-server", "REDIS_SERVER": "redis"},
}
# Environment variables of argocd-server that the host process must not get: the listen addresses
# are given as flags (loopback). ARGOCD_SERVER_METRICS_LISTEN_ADDRESS is, in Argo CD v3.5.1, read
# as the *name* of the metrics address flag, so any value would rename --metrics-address.
SERVER_ENV_DROPPED = ("ARGOCD_SERVER_LISTEN_ADDRESS", "ARGOCD_SERVER_METRICS_LISTEN_ADDRESS")
SA_TOKEN_SECONDS = 24 * 3600
# Every process the harness starts carries this variable (value: the harness's id) in its
# environment, and so does everything those processes start, also daemons that leave the process
# group (gpg-agent, which gpg starts for the repo server, detaches into a session of its own).
# Ids are paths: a caller that owns several harnesses gives them "<its id>/<name>" and finds them
# all with tree=True.
MARKER_ENV = "GITOPS_ARGOCD_HOST_ID"


def process_environ(pid: int) -> dict[str, str]:
    """The environment a process started with ({} when it is gone or not readable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            raw = fh.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


def process_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def marked_pids(marker: str, tree: bool = False) -> list[int]:
    """Processes whose environment carries MARKER_ENV=marker (TREE: also marker/<anything>), zombies excluded."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        value = process_environ(pid).get(MARKER_ENV)
        if value is None or not (value == marker or (tree and value.startswith(marker + "/"))):
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
                if fh.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        pids.append(pid)
    return pids


def kill_marked(marker: str, timeout: float = 10.0, tree: bool = False) -> list[tuple[int, list[str]]]:
    """SIGTERM, then SIGKILL, every process that carries the marker; return those found (pid, command line)."""
    found = [(pid, process_cmdline(pid)) for pid in marked_pids(marker, tree)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in marked_pids(marker, tree):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.time() + timeout
        while marked_pids(marker, tree) and time.time() < deadline:
            time.sleep(0.1)
        if not marked_pids(marker, tree):
            break
    return found


# Files a GnuPG home directory holds once gpg has used it (keyrings, the agent's socket when
# /run/user/<uid> does not exist).
GNUPG_HOME_FILES = ("pubring.kbx", "trustdb.gpg", "private-keys-v1.d", "S.gpg-agent")


def gnupg_homes(root: str) -> list[str]:
    """The GnuPG home directories under ROOT (a gpg-agent may serve each of them)."""
    homes = []
    for dirpath, dirnames, filenames in os.walk(root):
        if any(name in filenames or name in dirnames for name in GNUPG_HOME_FILES):
            homes.append(dirpath)
    return homes


def stop_gpg_agents(homes: list[str], timeout: float = 10.0) -> list[str]:
    """Ask the gpg-agent of every home in HOMES to exit (gpgconf --kill, GnuPG's own way); return the homes asked.

    The agent gpg starts detaches into a session of its own, out of reach of the process group,
    and whatever environment marker its starter carried is lost when a caller starts gpg with an
    environment of its own. Addressed by its home directory it is found either way.
    """
    gpgconf = shutil.which("gpgconf")
    if not gpgconf:
        return []
    asked = []
    for home in homes:
        if not os.path.isdir(home):
            continue
        try:
            subprocess.run([gpgconf, "--homedir", home, "--kill", "gpg-agent"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=timeout, check=False,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GNUPGHOME": home})
        except subprocess.TimeoutExpired:
            log(f"gpgconf --kill gpg-agent for {home} did not return within {timeout:.0f}s")
            continue
        asked.append(home)
    return asked


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, what: str, log_file: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LocalClusterError(f"{what} exited with code {proc.returncode} before listening on port {port}.\n"
                                    f"--- last lines of {log_file} ---\n{tail_file(log_file)}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise LocalClusterError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s.\n"
                            f"--- last lines of {log_file} ---\n{tail_file(log_file)}")


def wait_healthy(port: int, proc: subprocess.Popen, what: str, log_file: str, timeout: float = 90) -> None:
    """Poll the component's /healthz (its readiness probe in the manifests) until it answers 200."""
    import urllib.error
    import urllib.request

    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        if proc.poll() is not None:
            raise LocalClusterError(f"{what} exited with code {proc.returncode} while starting.\n"
                                    f"--- last lines of {log_file} ---\n{tail_file(log_file)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.3)
    raise LocalClusterError(f"{what} did not become healthy within {timeout:.0f}s (last answer: {last}).\n"
                            f"--- last lines of {log_file} ---\n{tail_file(log_file)}")


def tail_file(path: str, lines: int = 40) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "\n".join(fh.read().splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Kube:
    """kubectl against one kubeconfig (the built kubectl of the local control plane when present)."""

    def __init__(self, kubeconfig: str):
        self.kubeconfig = kubeconfig
        built = lc.k8s_bin("kubectl")
        self.binary = built if os.path.exists(built) else (shutil.which("kubectl") or built)

    def run(self, args: list[str], input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.binary, "--kubeconfig", self.kubeconfig] + args, input=input_text, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if check and proc.returncode != 0:
            raise LocalClusterError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def get(self, kind: str, name: str, namespace: str) -> dict | None:
        proc = self.run(["-n", namespace, "get", kind, name, "-o", "json"], check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise LocalClusterError(f"reading {kind} {namespace}/{name} failed: {proc.stderr.strip()}")
        return json.loads(proc.stdout)


class Workload:
    """One Argo CD component as a host process, set up the way the kubelet would set up its pod."""

    def __init__(self, host: "ArgoCDHost", kind: str, name: str):
        self.host = host
        self.kind = kind
        self.name = name
        self.obj = host.kube.get(kind, name, host.namespace)
        if not self.obj:
            shown = {"deployment": "Deployment", "statefulset": "StatefulSet"}.get(kind, kind)
            raise LocalClusterError(
                f"{shown} {host.namespace}/{name} does not exist: install Argo CD into namespace {host.namespace} first "
                "(role gitops.bootstrap.argocd) before starting its controllers")
        self.pod = self.obj["spec"]["template"]["spec"]
        self.container = self.pod["containers"][0]
        self.root = os.path.join(host.workdir, name)
        self.mounts: dict[str, str] = {}
        self.proc: subprocess.Popen | None = None
        self.log_file = os.path.join(host.workdir, "logs", f"{name}.log")

    @property
    def service_account(self) -> str:
        return self.pod.get("serviceAccountName") or self.pod.get("serviceAccount") or "default"

    # -- volumes -------------------------------------------------------------------------------
    def host_path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def sync_volumes(self, container: dict | None = None) -> None:
        """Write the ConfigMap and Secret volumes of the container under its root, as the kubelet does."""
        container = container or self.container
        volumes = {v["name"]: v for v in self.pod.get("volumes") or []}
        for mount in container.get("volumeMounts") or []:
            vol = volumes.get(mount["name"])
            if vol is None:
                continue
            target = self.host_path(mount["mountPath"])
            self.mounts[mount["mountPath"]] = target
            os.makedirs(target, exist_ok=True)
            if "configMap" in vol or "secret" in vol:
                self._write_source(vol, target)

    def _write_source(self, vol: dict, target: str) -> None:
        if "configMap" in vol:
            src, kind, name = vol["configMap"], "configmap", vol["configMap"].get("name")
        else:
            src, kind, name = vol["secret"], "secret", vol["secret"].get("secretName")
        obj = self.host.kube.get(kind, name, self.host.namespace)
        if obj is None:
            if src.get("optional"):
                return
            raise LocalClusterError(f"{self.name} mounts {kind} {self.host.namespace}/{name}, which does not exist")
        data = dict(obj.get("data") or {})
        if kind == "secret":
            data = {k: base64.b64decode(v).decode("utf-8", errors="replace") for k, v in data.items()}
        else:
            data.update({k: base64.b64decode(v).decode("latin-1") for k, v in (obj.get("binaryData") or {}).items()})
        items = src.get("items")
        files = {it["path"]: data[it["key"]] for it in items if it["key"] in data} if items else data
        for rel, content in files.items():
            path = os.path.join(target, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                with open(path, encoding="utf-8") as fh:
                    if fh.read() == content:
                        continue
            except OSError:
                pass
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(content)
            os.chmod(tmp, 0o600 if kind == "secret" else 0o644)
            os.replace(tmp, path)

    # -- environment ---------------------------------------------------------------------------
    def resolve_env(self, container: dict | None = None) -> dict[str, str]:
        container = container or self.container
        env: dict[str, str] = {}
        cache: dict[tuple[str, str], dict | None] = {}

        def source(kind: str, name: str) -> dict | None:
            if (kind, name) not in cache:
                cache[(kind, name)] = self.host.kube.get(kind, name, self.host.namespace)
            return cache[(kind, name)]

        for item in container.get("env") or []:
            name = item["name"]
            if "value" in item:
                env[name] = expand_vars(item["value"], env)
                continue
            ref = item.get("valueFrom") or {}
            if "configMapKeyRef" in ref or "secretKeyRef" in ref:
                is_cm = "configMapKeyRef" in ref
                r = ref["configMapKeyRef"] if is_cm else ref["secretKeyRef"]
                obj = source("configmap" if is_cm else "secret", r["name"])
                data = (obj or {}).get("data") or {}
                if r["key"] in data:
                    env[name] = data[r["key"]] if is_cm else base64.b64decode(data[r["key"]]).decode("utf-8")
                elif not r.get("optional"):
                    what = f"{'ConfigMap' if is_cm else 'Secret'} {self.host.namespace}/{r['name']} key {r['key']}"
                    raise LocalClusterError(f"{self.name}: environment variable {name} needs {what}, which does not exist "
                                            "(the kubelet would not start the container either)")
            elif "fieldRef" in ref:
                path = ref["fieldRef"]["fieldPath"]
                env[name] = {"metadata.namespace": self.host.namespace, "metadata.name": f"{self.name}-0",
                             "spec.serviceAccountName": self.service_account}.get(path, "")
        # Values that are container paths point into the mounted volumes on the host.
        for var, value in list(env.items()):
            for path, target in sorted(self.mounts.items(), key=lambda kv: -len(kv[0])):
                if value == path or value.startswith(path + "/"):
                    env[var] = target + value[len(path):]
                    break
        for path, var in PATH_ENV.items():
            if path in self.mounts and var not in env:
                env[var] = self.mounts[path]
        return env

    def command(self, container: dict | None = None, env: dict | None = None) -> list[str]:
        container = container or self.container
        argv = list(container.get("command") or []) + list(container.get("args") or [])
        return [expand_vars(a, env or {}) for a in argv]


def expand_vars(value: str, env: dict) -> str:
    """The kubelet's $(VAR) expansion ($$ escapes)."""
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", repl, value)


class HostService:
    """Host processes started together by ``_start``; a start that fails stops what it had started."""

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class ArgoCDHost(HostService):
    """Redis, the repo server, the application controller (and argocd-server) of an installed Argo CD, as host processes.

    Everything they read comes from the cluster: the workloads' container specs as the role
    installed them, the ConfigMaps and Secrets their environment and volumes refer to, and
    tokens of their own ServiceAccounts (so the cluster's RBAC applies to them as it would in
    pods). Two things stand in for the pod network: loopback ports replace the Service names
    argocd-redis and argocd-repo-server, and ARGOCD_FAKE_IN_CLUSTER with a kubeconfig replaces
    the in-cluster configuration.

    ``server=True`` (or ``start_server()`` later) adds argocd-server, for its webhook receiver
    ``/api/webhook``: plain HTTP on 127.0.0.1 (``--insecure``, as behind a TLS-terminating
    ingress), so that a forge on loopback can deliver to ``server_url``. Its API keeps Argo CD's
    authentication; the webhook receiver checks the forge's signature with the
    ``webhook.<forge>.secret`` keys of argocd-secret, which the server reads at start and re-reads
    (restarting itself in-process) when they change. ``server.secretkey`` is written into
    argocd-secret by the server itself on its first start, as in a pod.

    ``stop()`` ends every process the harness started and everything they started, also daemons
    that left the process group: each process carries MARKER_ENV=<id> in its environment.
    """

    def __init__(self, kubeconfig: str, namespace: str = "argocd", workdir: str | None = None, version: str | None = None,
                 extra_env: dict | None = None, resync_volumes: float = 5.0, server: bool = False, marker: str | None = None):
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.version = version or ARGOCD_VERSION
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="argocd-host-")
        os.makedirs(os.path.join(self.workdir, "logs"), exist_ok=True)
        self.kube = Kube(kubeconfig)
        self.extra_env = dict(extra_env or {})
        self.resync_volumes = resync_volumes
        # Until this time (time.time()), the volume sync writes nothing: a test stands in for a slow kubelet.
        self.volume_sync_held_until = 0.0
        self.with_server = server
        self.marker = marker or f"argocd-host-{os.getpid()}-{os.urandom(6).hex()}"
        self.ports: dict[str, int] = {}
        self.workloads: dict[str, Workload] = {}
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self._stop_sync = None
        self._sync_thread = None
        self._bin_path = ""
        self._gnupg_homes: set[str] = set()

    # -- set-up --------------------------------------------------------------------------------
    def binaries_path(self) -> str:
        info = read_buildinfo(self.version)
        binary = argocd_bin(self.version)
        scripts = all(os.path.exists(os.path.join(argocd_bindir(self.version), s)) for s in IMAGE_SCRIPTS)
        if not os.path.exists(binary) or not scripts or not info.get("kustomize") or not os.path.exists(kustomize_bin(info["kustomize"])):
            raise LocalClusterError(f"the Argo CD {self.version} binaries are not built yet; run "
                                    f"`hack/argocd_controllers.py build` (or `make argocd-binaries`) first")
        link_components(argocd_bindir(self.version))
        return os.pathsep.join([argocd_bindir(self.version), os.path.dirname(kustomize_bin(info["kustomize"]))])

    def sa_kubeconfig(self, service_account: str) -> str:
        """A kubeconfig that authenticates as the ServiceAccount, like a pod's projected token."""
        path = os.path.join(self.workdir, "kubeconfig", f"{service_account}.yaml")
        if os.path.exists(path):
            return path
        raw = json.loads(self.kube.run(["config", "view", "--raw", "--minify", "-o", "json"]).stdout)
        cluster = raw["clusters"][0]["cluster"]
        token = self.kube.run(["-n", self.namespace, "create", "token", service_account,
                               f"--duration={SA_TOKEN_SECONDS}s"]).stdout.strip()
        cfg = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "local", "cluster": cluster}],
            "users": [{"name": service_account, "user": {"token": token}}],
            "contexts": [{"name": "pod", "context": {"cluster": "local", "user": service_account, "namespace": self.namespace}}],
            "current-context": "pod",
        }
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(cfg, fh)
        return path

    def process_env(self, workload: Workload, env: dict, bin_path: str) -> dict:
        full = {
            "PATH": bin_path + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": os.path.join(workload.root, "home"),
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            "KUBECONFIG": self.sa_kubeconfig(workload.service_account),
            "POD_NAMESPACE": self.namespace,
        }
        os.makedirs(full["HOME"], exist_ok=True)
        full.update(env)
        for var, service in SERVICE_ENV.get(workload.name, {}).items():
            full[var] = f"127.0.0.1:{self.ports[service]}"
        full.update(self.extra_env)
        full[MARKER_ENV] = self.marker
        return full

    def spawn(self, name: str, argv: list[str], env: dict, cwd: str) -> subprocess.Popen:
        log_file = os.path.join(self.workdir, "logs", f"{name}.log")
        env = dict(env, **{MARKER_ENV: self.marker})
        self._gnupg_homes.update(env[var] for var in ("GNUPGHOME", "ARGOCD_GNUPGHOME") if env.get(var))
        fh = open(log_file, "ab")  # noqa: SIM115  (owned by the child for its lifetime)
        try:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        finally:
            fh.close()
        self.procs = [(n, p) for n, p in self.procs if n != name or p.poll() is None]
        self.procs.append((name, proc))
        return proc

    # -- components -----------------------------------------------------------------------------
    def _start(self) -> None:
        self._bin_path = self.binaries_path()
        if not os.path.isfile(self.kubeconfig):
            raise LocalClusterError(f"the kubeconfig {self.kubeconfig} does not exist; give the kubeconfig of the cluster Argo CD "
                                    "is installed in (a local one: `hack/localcluster.py kubeconfig NAME`)")
        redis = Workload(self, "deployment", "argocd-redis")
        repo = Workload(self, "deployment", "argocd-repo-server")
        ctrl = Workload(self, "statefulset", "argocd-application-controller")
        self.workloads = {w.name: w for w in (redis, repo, ctrl)}
        for key in ("redis", "repo-server", "repo-server-metrics", "controller-metrics"):
            self.ports[key] = free_port()
        self._start_redis(redis)
        self._start_repo_server(repo)
        self._start_controller(ctrl)
        if self.with_server:
            self._start_server()
        self._start_volume_sync()
        log(f"Argo CD {self.version} {'components' if self.with_server else 'controllers'} running for namespace "
            f"{self.namespace}; logs in {self.workdir}/logs")

    def _start_redis(self, redis: Workload) -> None:
        # Its init containers first (they create the password Secret), then redis-server.
        for init in redis.pod.get("initContainers") or []:
            redis.sync_volumes(init)
            env = redis.resolve_env(init)
            argv = redis.command(init, env)
            if argv and os.path.basename(argv[0]) == "argocd":
                argv = [argocd_bin(self.version)] + argv[1:]
                penv = self.process_env(redis, env, self._bin_path)
                log(f"init container {init['name']}: {' '.join(argv[1:])}")
                proc = subprocess.run(argv, env=penv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
                if proc.returncode != 0:
                    raise LocalClusterError(f"init container {init['name']} of argocd-redis failed:\n{proc.stdout.strip()[-2000:]}")
        redis_server = shutil.which("redis-server")
        if not redis_server:
            raise LocalClusterError("redis-server is not installed; install it (Debian: apt-get install redis-server) "
                                    "or run `make test-pull-loop`, which installs it")
        redis.sync_volumes()
        renv = redis.resolve_env()
        rargv = redis.command(env=renv)
        # The image's entrypoint is redis-server; the container args are its options.
        if rargv and os.path.basename(rargv[0]).startswith("redis-server"):
            rargv = rargv[1:]
        argv = [redis_server] + rargv + ["--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--dir", redis.root]
        os.makedirs(redis.root, exist_ok=True)
        proc = self.spawn("argocd-redis", argv, dict(os.environ, **renv), redis.root)
        wait_port(self.ports["redis"], proc, "redis-server", redis.log_file)

    def _component_argv(self, workload: Workload, env: dict, default: str) -> list[str]:
        argv = workload.command(env=env)
        return [os.path.join(argocd_bindir(self.version), os.path.basename(argv[0]) if argv else default)] + argv[1:]

    def _start_repo_server(self, repo: Workload) -> None:
        repo.sync_volumes()
        env = repo.resolve_env()
        argv = self._component_argv(repo, env, "argocd-repo-server")
        argv += ["--address", "127.0.0.1", "--port", str(self.ports["repo-server"]),
                 "--metrics-address", "127.0.0.1", "--metrics-port", str(self.ports["repo-server-metrics"])]
        proc = self.spawn("argocd-repo-server", argv, self.process_env(repo, env, self._bin_path), repo.root)
        wait_healthy(self.ports["repo-server-metrics"], proc, "argocd-repo-server", repo.log_file)
        wait_port(self.ports["repo-server"], proc, "argocd-repo-server", repo.log_file)

    def _start_controller(self, ctrl: Workload) -> None:
        ctrl.sync_volumes()
        env = ctrl.resolve_env()
        argv = self._component_argv(ctrl, env, "argocd-application-controller")
        argv += ["--metrics-port", str(self.ports["controller-metrics"])]
        proc = self.spawn("argocd-application-controller", argv, self.process_env(ctrl, env, self._bin_path), ctrl.root)
        wait_healthy(self.ports["controller-metrics"], proc, "argocd-application-controller", ctrl.log_file)

    def start_server(self) -> str:
        """Start argocd-server next to the running controllers (if not running yet); return its base URL."""
        if not self.procs:
            raise LocalClusterError("start the controllers (start()) before argocd-server")
        if not any(n == "argocd-server" and p.poll() is None for n, p in self.procs):
            self._start_server()
        return self.server_url

    def _start_server(self) -> None:
        server = Workload(self, "deployment", "argocd-server")
        self.workloads[server.name] = server
        for key in ("server", "server-metrics"):
            self.ports[key] = free_port()
        server.sync_volumes()
        env = server.resolve_env()
        for var in SERVER_ENV_DROPPED:
            env.pop(var, None)
        static = os.path.join(server.root, "shared", "app")
        os.makedirs(static, exist_ok=True)
        argv = self._component_argv(server, env, "argocd-server")
        # --insecure: plain HTTP (the forge on loopback would refuse the self-signed certificate the
        # server makes otherwise). No --disable-auth: the API keeps Argo CD's authentication, and the
        # webhook receiver needs none (it checks the forge's signature instead).
        argv += ["--insecure", "--address", "127.0.0.1", "--port", str(self.ports["server"]),
                 "--metrics-address", "127.0.0.1", "--metrics-port", str(self.ports["server-metrics"]),
                 "--staticassets", static]
        proc = self.spawn("argocd-server", argv, self.process_env(server, env, self._bin_path), server.root)
        wait_healthy(self.ports["server"], proc, "argocd-server", server.log_file, timeout=120)

    @property
    def server_url(self) -> str:
        """http://127.0.0.1:PORT of argocd-server (its webhook receiver is server_url + '/api/webhook')."""
        if "server" not in self.ports:
            raise LocalClusterError("argocd-server is not running; start it with start_server() (or server=True)")
        return f"http://127.0.0.1:{self.ports['server']}"

    @property
    def webhook_url(self) -> str:
        return f"{self.server_url}/api/webhook"

    def restart(self, name: str) -> None:
        """Stop one component and start it again with the configuration the cluster holds now.

        Environment variables are read once at process start (the kubelet would restart the
        pod): a changed argocd-cm or argocd-cmd-params-cm key reaches a component this way.
        """
        starters = {"argocd-application-controller": self._start_controller, "argocd-repo-server": self._start_repo_server}
        if name == "argocd-server":
            self._stop_component(name)
            self._start_server()
            return
        if name not in starters or name not in self.workloads:
            raise LocalClusterError(f"cannot restart {name}: not one of {', '.join(sorted(starters) + ['argocd-server'])}")
        self._stop_component(name)
        workload = self.workloads[name]
        workload.obj = self.kube.get(workload.kind, name, self.namespace) or workload.obj
        workload.pod = workload.obj["spec"]["template"]["spec"]
        workload.container = workload.pod["containers"][0]
        starters[name](workload)

    def _stop_component(self, name: str) -> None:
        for pname, proc in self.procs:
            if pname != name:
                continue
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.procs = [(n, p) for n, p in self.procs if n != name]
        if name == "argocd-repo-server":
            # Its successor starts with a fresh keyring and an agent of its own.
            stop_gpg_agents(self.gnupg_homes())

    def hold_volume_sync(self, seconds: float) -> None:
        """Write no ConfigMap or Secret volume for SECONDS, as a kubelet late to notice a change."""
        self.volume_sync_held_until = time.time() + seconds

    def _start_volume_sync(self) -> None:
        import threading

        self._stop_sync = threading.Event()

        def loop():
            while not self._stop_sync.wait(self.resync_volumes):
                if time.time() < self.volume_sync_held_until:
                    continue
                for w in list(self.workloads.values()):
                    try:
                        w.sync_volumes()
                    except Exception as exc:  # noqa: BLE001  (keep syncing; the kubelet retries too)
                        if not self._stop_sync.is_set():
                            log(f"volume sync of {w.name}: {exc}")

        self._sync_thread = threading.Thread(target=loop, name="argocd-volume-sync", daemon=True)
        self._sync_thread.start()

    # -- status and tear-down -------------------------------------------------------------------
    def check_running(self) -> None:
        """Raise with the log tail of any component that has exited."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                path = os.path.join(self.workdir, "logs", f"{name}.log")
                raise LocalClusterError(f"{name} exited with code {proc.returncode}.\n--- last lines of {path} ---\n{tail_file(path)}")

    def logs(self, name: str, lines: int = 60) -> str:
        return tail_file(os.path.join(self.workdir, "logs", f"{name}.log"), lines)

    def processes(self) -> list[tuple[int, list[str]]]:
        """Every live process the harness started, and those they started that carry its marker (pid, command line).

        A process that rewrites its title over its environment (redis-server) shows no marker;
        the harness knows it as its own child.
        """
        pids = set(marked_pids(self.marker)) | {p.pid for n, p in self.procs if p.poll() is None}
        return [(pid, process_cmdline(pid)) for pid in sorted(pids)]

    def gnupg_homes(self) -> list[str]:
        """The GnuPG homes of the components: those their environment names, and any gpg used under the work directory."""
        homes = set(self._gnupg_homes)
        if os.path.isdir(self.workdir):
            homes.update(gnupg_homes(self.workdir))
        return sorted(homes)

    def stop(self) -> None:
        if self._stop_sync is not None:
            self._stop_sync.set()
            if self._sync_thread is not None:
                self._sync_thread.join(timeout=30)
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 15
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        # Children of the process groups (git, ssh, kustomize) that outlived their parent.
        for name, proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        # The repo server's gpg-agent left the group: shut down through its home directory, then
        # whatever else left the groups and still carries the marker.
        stop_gpg_agents(self.gnupg_homes())
        left = kill_marked(self.marker)
        if left:
            names = sorted({os.path.basename(argv[0]) if argv else str(pid) for pid, argv in left})
            log(f"stopped {len(left)} process(es) that had left their component's process group: {', '.join(names)}")
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "ArgoCDHost":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------------- CLI
def cmd_build(_args) -> int:
    build_argocd()
    print(argocd_bindir())
    return 0


def cmd_probe(args) -> int:
    notes = probe(args.version)
    notes.pop("wrapper", None)
    print(json.dumps(notes, indent=2))
    return 0


def cmd_path(_args) -> int:
    print(argocd_bindir())
    return 0


def cmd_run(args) -> int:
    host = ArgoCDHost(args.kubeconfig, args.namespace, workdir=args.workdir, server=args.server)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with host:
        if args.server:
            print(f"argocd-server on {host.server_url} (webhook receiver {host.webhook_url})", file=sys.stderr)
        print(f"Argo CD controllers running; logs in {host.workdir}/logs; Ctrl-C stops them", file=sys.stderr)
        try:
            while not stop:
                host.check_running()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build (or reuse) the argocd and kustomize binaries").set_defaults(func=cmd_build)
    p = sub.add_parser("probe", help="resolve an Argo CD release's module graph (go mod tidy) without compiling")
    p.add_argument("version")
    p.set_defaults(func=cmd_probe)
    sub.add_parser("path", help="print the directory of the argocd binary").set_defaults(func=cmd_path)
    r = sub.add_parser("run", help="run Redis, the repo server and the application controller (and argocd-server) until interrupted")
    r.add_argument("--kubeconfig", required=True)
    r.add_argument("--namespace", default="argocd")
    r.add_argument("--workdir", default=None)
    r.add_argument("--server", action="store_true",
                   help="also run argocd-server (plain HTTP on 127.0.0.1, for webhooks from a forge on loopback)")
    r.set_defaults(func=cmd_run)
    return run_cli(parser.parse_args(argv), "argocd-controllers")


def run_cli(args, prog: str) -> int:
    """Run the sub-command ARGS.func; its error is one line on stderr and the exit status."""
    try:
        return args.func(args)
    except LocalClusterError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
