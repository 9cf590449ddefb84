# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module that talks to a cluster, through ansible-playbook, when the cluster cannot be used.

- a server on loopback that accepts connections and never answers: each module fails within its
  request timeout (set for the whole action group, as an option, or by K8S_AUTH_REQUEST_TIMEOUT),
  naming the server, the time and the option that raises it;
- the kubeconfig of the local control plane with another CA, or with a server name that its
  certificate does not list: the server was reached and its certificate refused, and why;
- a kubeconfig that does not exist, given by the option kubeconfig, by K8S_AUTH_KUBECONFIG and
  by KUBECONFIG: named with where it was given.

Every task runs in check mode, so nothing could change even where a connection succeeded.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import run_playbook

# One task of each module that talks to a cluster, with arguments that pass its offline checks.
MODULE_ARGS = {
    "argocd_install": {"state": "absent", "namespace": "hf-absent"},
    "argocd_application": {"name": "demo", "namespace": "hf-absent", "project": "default",
                           "repo_url": "https://git.example.com/infra.git", "path": "apps", "destination_namespace": "demo"},
    "argocd_project": {"name": "team-a", "namespace": "hf-absent", "source_repos": [], "destinations": []},
    "argocd_repository": {"name": "repo-infra", "namespace": "hf-absent", "url": "https://git.example.com/infra.git"},
    "argocd_rbac": {"namespace": "hf-absent",
                    "policies": [{"subject": "role:team-a", "resource": "applications", "action": "get", "object": "team-a/*"}]},
    "argocd_info": {"namespace": "hf-absent"},
    "argocd_cluster": {"name": "cluster-spoke", "namespace": "hf-absent", "server": "https://spoke.example.com:6443",
                       "bearer_token": "not-a-real-token"},
    "k8s_rbac_audit": {"include_rules": False},
    "k8s_access_review": {"checks": [{"groups": ["developers"], "verb": "list", "resource": "pods", "namespace": "default",
                                      "expect": False}]},
}
# What a task may take beyond its request timeout, over the same task that fails before any
# request (the start of ansible's worker and of the module process, imports: several seconds on a
# busy machine, so it is measured, not assumed). A second wait for the same server would exceed it.
MARGIN = 2.5


def task(prefix: str, module: str, **args) -> dict:
    return {"name": f"{prefix} {module}", f"gitops.bootstrap.{module}": dict(MODULE_ARGS[module], **args),
            "ignore_errors": True, "check_mode": True}


# The connection code is shared: where every module has been shown to go through it, a variant of
# the same case is run by a few modules of each kind (install, Argo CD objects, RBAC review).
SOME = ("argocd_install", "argocd_rbac", "k8s_access_review")


def tasks(prefix: str, modules=tuple(MODULE_ARGS), **args) -> list[dict]:
    return [task(prefix, module, **args) for module in modules]


def play(tasks_: list[dict], defaults: dict | None = None, environment: dict | None = None) -> dict:
    body = {"hosts": "localhost", "gather_facts": False, "tasks": tasks_}
    if defaults:
        body["module_defaults"] = {"group/gitops.bootstrap.gitops": defaults}
    if environment:
        body["environment"] = environment
    return body


def run(plays: list[dict], timeout: float):
    return run_playbook(yaml.safe_dump(plays, sort_keys=False), timeout=timeout)


def results(result, prefix: str, modules=tuple(MODULE_ARGS)) -> dict[str, tuple[dict, float]]:
    """module -> (its task result, seconds the task took), for the tasks named with prefix."""
    out = {}
    for task in result.tasks():
        name = task["task"]["name"]
        if not name.startswith(prefix + " "):
            continue
        duration = task["task"].get("duration") or {}
        start = datetime.datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
        out[name[len(prefix) + 1:]] = (task["hosts"]["localhost"], (end - start).total_seconds())
    assert sorted(out) == sorted(modules), (sorted(out), result)
    return out


@pytest.fixture
def clean_environment(monkeypatch):
    """No kubeconfig from the environment of the test run itself."""
    for var in ("K8S_AUTH_KUBECONFIG", "KUBECONFIG", "K8S_AUTH_REQUEST_TIMEOUT", "K8S_AUTH_CONTEXT"):
        monkeypatch.delenv(var, raising=False)


# ------------------------------------------------------------------------------ a server that never answers
class SilentServer:
    """Accepts every connection on loopback, reads what comes and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.stop.set()
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def kubeconfig_copy(src: str, dest, **cluster_changes) -> str:
    with open(src) as fh:
        config = yaml.safe_load(fh)
    for cluster in config["clusters"]:
        for key, value in cluster_changes.items():
            if value is None:
                cluster["cluster"].pop(key, None)
            else:
                cluster["cluster"][key] = value
    dest.write_text(yaml.safe_dump(config))
    return str(dest)


def server_of(kubeconfig_path: str) -> str:
    with open(kubeconfig_path) as fh:
        return yaml.safe_load(fh)["clusters"][0]["cluster"]["server"]


def test_server_that_never_answers(kubeconfig, silent_server, tmp_path, clean_environment):
    server = f"https://127.0.0.1:{silent_server.port}"
    silent = kubeconfig_copy(kubeconfig, tmp_path / "silent.yaml", server=server)
    absent = str(tmp_path / "absent.yaml")
    # Play 1: each module once against the silent server, the timeout set once for all of them through
    # the action group (argocd_info sets its own as an option); before it, the same task failing
    # without any request, to measure what the task costs besides its requests.
    first = []
    for module in MODULE_ARGS:
        first.append(task("baseline", module, kubeconfig=absent))
        first.append(task("group", module, **({"request_timeout": 2} if module == "argocd_info" else {})))
    # Play 2: no option, the timeout comes from K8S_AUTH_REQUEST_TIMEOUT.
    env_modules = SOME
    second = tasks("env", env_modules)
    plays = [
        play(first, defaults={"kubeconfig": silent, "request_timeout": 4}),
        play(second, defaults={"kubeconfig": silent}, environment={"K8S_AUTH_REQUEST_TIMEOUT": "2"}),
    ]
    result = run(plays, timeout=400)
    baseline = results(result, "baseline")
    for prefix, modules in (("group", tuple(MODULE_ARGS)), ("env", env_modules)):
        for module, (res, took) in results(result, prefix, modules).items():
            timeout = 2 if prefix == "env" or module == "argocd_info" else 4
            base_res, base_took = baseline[module]
            msg = res.get("msg", "")
            where = f"{prefix} {module}: {msg!r} after {took:.1f} s (the same task without a request: {base_took:.1f} s)"
            assert res.get("failed"), where
            assert "does not exist" in base_res.get("msg", ""), base_res
            assert f"API server at {server} accepted the connection but did not answer within {timeout} s" in msg, where
            assert "request_timeout" in msg and "K8S_AUTH_REQUEST_TIMEOUT" in msg and "group/gitops.bootstrap.gitops" in msg, where
            # The module's own measure of its wait, and the wall time of the whole task.
            waited = float(msg.split("gave up after ", 1)[1].split(" s", 1)[0])
            assert timeout - 0.1 <= waited < timeout + 0.5, where
            assert took - base_took < timeout + MARGIN, where


# ------------------------------------------------------------------------------ certificates
def other_ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the cluster's CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_refused(kubeconfig, tmp_path, clean_environment):
    server = server_of(kubeconfig)
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_text(other_ca_pem())
    wrong_ca = kubeconfig_copy(kubeconfig, tmp_path / "wrong-ca.yaml", **{
        "certificate-authority": str(other_ca), "certificate-authority-data": None})
    wrong_name = kubeconfig_copy(kubeconfig, tmp_path / "wrong-name.yaml", **{"tls-server-name": "api.not-this-cluster.example"})
    plays = [
        play(tasks("ca"), defaults={"kubeconfig": wrong_ca}),
        play(tasks("name", SOME + ("argocd_info",)), defaults={"kubeconfig": wrong_name}),
    ]
    result = run(plays, timeout=300)
    for prefix, why, modules in (("ca", "unable to get local issuer certificate", tuple(MODULE_ARGS)),
                                 ("name", "Hostname mismatch, certificate is not valid for 'api.not-this-cluster.example'",
                                  SOME + ("argocd_info",))):
        for module, (res, took) in results(result, prefix, modules).items():
            msg = res.get("msg", "")
            where = f"{prefix} {module}: {msg!r}"
            assert res.get("failed"), where
            assert f"the Kubernetes API server at {server} was reached, but its TLS certificate was refused: {why}" in msg, where
            assert "could not be reached" not in msg and "check that the cluster is running" not in msg.lower(), where
            assert took < 10, where
        advice = results(result, prefix, modules)["argocd_info"][0]["msg"]
        if prefix == "ca":
            assert "not signed by the certificate authority the kubeconfig trusts" in advice
        else:
            assert "not valid for the host name or address the client checked" in advice


# ------------------------------------------------------------------------------ missing kubeconfig
def test_missing_kubeconfig_three_ways(tmp_path, clean_environment):
    by_option = tmp_path / "absent-option.yaml"
    by_k8s_auth = tmp_path / "absent-k8s-auth.yaml"
    by_kubeconfig = tmp_path / "gone" / "absent-kubeconfig.yaml"
    plays = [
        play(tasks("option"), defaults={"kubeconfig": str(by_option)}),
        play(tasks("k8s_auth", SOME), environment={"K8S_AUTH_KUBECONFIG": str(by_k8s_auth)}),
        play(tasks("kubeconfig", SOME), environment={"KUBECONFIG": str(by_kubeconfig)}),
    ]
    result = run(plays, timeout=400)
    expected = {
        # The option is no_log: its value is masked wherever it appears, so the file and its folder are named apart.
        "option": f"The kubeconfig file absent-option.yaml given by the option kubeconfig does not exist (directory {tmp_path} exists)",
        "k8s_auth": f"The kubeconfig file {by_k8s_auth} given by the environment variable K8S_AUTH_KUBECONFIG does not exist "
                    f"(directory {tmp_path} exists)",
        "kubeconfig": f"The kubeconfig file {by_kubeconfig} given by the environment variable KUBECONFIG does not exist "
                      f"(directory {tmp_path / 'gone'} does not exist either)",
    }
    for prefix, start in expected.items():
        modules = tuple(MODULE_ARGS) if prefix == "option" else SOME
        for module, (res, _took) in results(result, prefix, modules).items():
            msg = res.get("msg", "")
            where = f"{prefix} {module}: {msg!r}"
            assert res.get("failed"), where
            assert msg.startswith(start), where
            assert "nothing was changed" in msg and "********" not in msg, where
    assert not os.path.exists(by_option) and not os.path.exists(tmp_path / "gone")


def test_role_tasks_of_kubernetes_core_are_bounded_by_the_task_timeout(kubeconfig, silent_server, tmp_path, clean_environment):
    """kubernetes.core bounds no request: the argocd_spoke role bounds each task that uses it instead."""
    silent = kubeconfig_copy(kubeconfig, tmp_path / "silent.yaml", server=f"https://127.0.0.1:{silent_server.port}")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {"hub": {"gitops_kubeconfig": kubeconfig}, "spoke": {"gitops_kubeconfig": silent}},
        "vars": {"ansible_connection": "local"},
    }}))
    playbook = [{"hosts": "spoke", "gather_facts": False, "roles": [{
        "role": "gitops.bootstrap.argocd_spoke", "argocd_spoke_hub_host": "hub", "argocd_spoke_namespaces": ["demo"],
        "argocd_spoke_task_timeout": 5}]}]
    result = run_playbook(yaml.safe_dump(playbook, sort_keys=False), inventory=str(inventory), timeout=300)
    assert result.rc != 0, result
    msgs = " ".join(result.failed_msgs())
    assert "Timed out after 5 second" in msgs, msgs
    # The failing task is the spoke's first request, on the spoke's host: the run says which cluster.
    answered = [t for t in result.tasks() if t["task"]["name"].endswith("Spoke API server answers")]
    assert answered and answered[0]["hosts"]["spoke"].get("failed"), result
    assert result.failures("spoke") == 1, result
    duration = answered[0]["task"]["duration"]
    start = datetime.datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
    # The worker's and the module's start-up come on top of the 5 s; a request left unbounded would hang.
    assert (end - start).total_seconds() < 5 + 10, duration


def test_rbac_lockdown_tasks_of_kubernetes_core_are_bounded_by_the_task_timeout(
        kubeconfig, silent_server, tmp_path, clean_environment):
    silent = kubeconfig_copy(kubeconfig, tmp_path / "silent.yaml", server=f"https://127.0.0.1:{silent_server.port}")
    playbook = [{"hosts": "localhost", "gather_facts": False, "roles": [{
        "role": "gitops.bootstrap.rbac_lockdown", "rbac_lockdown_kubeconfig": silent, "rbac_lockdown_mode": "audit",
        "rbac_lockdown_task_timeout": 5}]}]
    result = run_playbook(yaml.safe_dump(playbook, sort_keys=False), timeout=300)
    assert result.rc != 0, result
    assert "Timed out after 5 second" in " ".join(result.failed_msgs()), result
    listed = [t for t in result.tasks() if t["task"]["name"].endswith("Namespaces are listed")]
    assert listed and listed[0]["hosts"]["localhost"].get("failed"), result
    duration = listed[0]["task"]["duration"]
    start = datetime.datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
    assert (end - start).total_seconds() < 5 + 10, duration
