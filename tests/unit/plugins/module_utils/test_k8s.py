# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes connection of _k8s: request timeout, kubeconfig check, error translation.

The errors are real: they come from real calls of the Kubernetes client to servers on loopback
(one that accepts connections and never answers, one that answers the first bytes and then stops,
TLS servers whose certificate the kubeconfig does not trust or that is made out to another name, a
closed port). Only the module object given to fail() is a stand-in.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    ApiServerTimeout,
    GitopsK8sError,
    GitopsK8sModule,
    auth_argument_spec,
    create_client,
    describe_exception,
    kubeconfig_problem,
    request_timeout_problem,
)

DOING = "Reading ConfigMap argocd/argocd-cm"


# ------------------------------------------------------------------------------ certificates
def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn="test CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(ca, names):
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (
        x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


# ------------------------------------------------------------------------------ servers
class Server:
    """A TCP server on loopback, run by a thread; ``behaviour(conn)`` serves one connection."""

    def __init__(self, behaviour, tls=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.tls = tls
        self.conns = []
        self.stopped = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stopped.is_set():
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                self.conns.append(conn)
            self.behaviour(conn, self.stopped)
        except (OSError, ssl.SSLError):
            pass

    def close(self):
        self.stopped.set()
        self.sock.close()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass


def never_answer(conn, stopped):
    """Read what the client sends and keep the connection open without a byte in return."""
    conn.settimeout(0.2)
    while not stopped.is_set():
        try:
            if not conn.recv(65536):
                return
        except socket.timeout:
            continue


def headers_then_silence(conn, stopped):
    """Answer the status line and headers of a JSON body, then send nothing more."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"major\": ")
    never_answer(conn, stopped)


DISCOVERY = {
    "/version": {"major": "1", "minor": "36", "gitVersion": "v1.36.3"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": True, "kind": "ConfigMap", "verbs": ["get", "list"]},
    ]},
}


def answer_discovery(conn, stopped):
    """Answer the discovery documents of a tiny API server (one resource type, ConfigMaps)."""
    conn.settimeout(2)
    buffer = b""
    while not stopped.is_set():
        data = conn.recv(65536)
        if not data:
            return
        buffer += data
        while b"\r\n\r\n" in buffer:
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1].decode().split("?")[0]
            doc = DISCOVERY.get(path)
            status = b"200 OK" if doc else b"404 Not Found"
            body = json.dumps(doc or {"kind": "Status", "code": 404, "message": "not found"}).encode()
            conn.sendall(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                         % (status, len(body), body))


def tls_context(tmp_path, leaf):
    cert, key = leaf
    certfile, keyfile = tmp_path / "server.pem", tmp_path / "server.key"
    certfile.write_bytes(pem(cert))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certfile), str(keyfile))
    return ctx


@pytest.fixture
def servers():
    started = []

    def start(behaviour, tls=None):
        server = Server(behaviour, tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_kubeconfig(tmp_path, server, ca=None, tls_server_name=None, name="kubeconfig"):
    cluster = {"server": server}
    if ca is not None:
        cluster["certificate-authority-data"] = base64.b64encode(pem(ca)).decode()
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": "test", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
    }
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def connect(kubeconfig, timeout=30.0, **params):
    params.setdefault("kubeconfig", kubeconfig)
    params["request_timeout"] = timeout
    return create_client(params)


def failure_of(call):
    try:
        call()
    except Exception as exc:  # pylint: disable=broad-except
        return exc
    raise AssertionError("the call did not fail")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in list(os.environ):
        if var.startswith("K8S_AUTH_") or var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
            monkeypatch.delenv(var)


# ------------------------------------------------------------------------------ request timeout
def test_server_that_never_answers_fails_within_the_timeout(servers, tmp_path):
    silent = servers(never_answer)
    kc = write_kubeconfig(tmp_path, f"https://127.0.0.1:{silent.port}")
    started = time.monotonic()
    exc = failure_of(lambda: connect(kc, timeout=1.0))
    elapsed = time.monotonic() - started
    # The discovery request the client makes while it is created (GET /version) is bounded too,
    # and a request that timed out is not sent again (the default urllib3 retries would make it 4 s).
    assert elapsed < 1.8, elapsed
    assert isinstance(exc, ApiServerTimeout), repr(exc)
    msg = describe_exception(exc, "Connecting to the Kubernetes API")
    assert f"https://127.0.0.1:{silent.port}" in msg
    assert "did not answer within 1 s" in msg
    assert "request_timeout" in msg and "K8S_AUTH_REQUEST_TIMEOUT" in msg
    assert "could not be reached" not in msg


def test_plain_http_server_that_never_answers(servers, tmp_path):
    silent = servers(never_answer)
    kc = write_kubeconfig(tmp_path, f"http://127.0.0.1:{silent.port}")
    started = time.monotonic()
    exc = failure_of(lambda: connect(kc, timeout=0.5))
    assert time.monotonic() - started < 1.3
    assert "did not answer within 0.5 s" in describe_exception(exc, DOING)


def test_every_request_of_a_client_is_bounded_and_a_silent_server_is_not_asked_again(servers, tmp_path):
    answering = servers(answer_discovery)
    kc = write_kubeconfig(tmp_path, f"http://127.0.0.1:{answering.port}")
    client = connect(kc, timeout=1.0)
    rest = client.client.client.rest_client
    # The client was created (discovery asked /version of the answering server); now the same
    # client is pointed at a server that stops in the middle of its answer.
    stalling = servers(headers_then_silence)
    started = time.monotonic()
    exc = failure_of(lambda: rest.request("GET", f"http://127.0.0.1:{stalling.port}/api"))
    assert time.monotonic() - started < 1.8
    assert isinstance(exc, ApiServerTimeout)
    msg = describe_exception(exc, DOING)
    assert msg.startswith(DOING + ": ")
    assert "did not answer within 1 s" in msg and "request_timeout" in msg
    # Callers that swallow an error and go on (optional lookups) do not wait a second time.
    started = time.monotonic()
    again = failure_of(lambda: rest.request("GET", f"http://127.0.0.1:{answering.port}/version"))
    assert time.monotonic() - started < 0.2
    assert isinstance(again, ApiServerTimeout)
    assert "did not answer within 1 s" in describe_exception(again, DOING)


def test_parallel_requests_share_the_bound(servers, tmp_path):
    answering = servers(answer_discovery)
    client = connect(write_kubeconfig(tmp_path, f"http://127.0.0.1:{answering.port}"), timeout=1.0)
    rest = client.client.client.rest_client
    silent = servers(never_answer)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(failure_of, lambda: rest.request("GET", f"http://127.0.0.1:{silent.port}/api/v1/pods"))
                   for _attempt in range(4)]
        errors = [f.result() for f in futures]
    assert time.monotonic() - started < 1.8
    assert all(isinstance(e, ApiServerTimeout) for e in errors), errors


def test_an_answering_server_is_used_normally(servers, tmp_path):
    answering = servers(answer_discovery)
    client = connect(write_kubeconfig(tmp_path, f"http://127.0.0.1:{answering.port}"), timeout=2.0)
    assert client.configuration.host == f"http://127.0.0.1:{answering.port}"
    assert client.client.version["kubernetes"]["gitVersion"] == "v1.36.3"
    assert client.resource("ConfigMap", "v1").name == "configmaps"


def test_request_timeout_option():
    spec = auth_argument_spec()["request_timeout"]
    assert spec["type"] == "float" and spec["default"] == 30
    assert spec["fallback"][1] == ["K8S_AUTH_REQUEST_TIMEOUT"]
    assert request_timeout_problem(30.0) is None and request_timeout_problem(0.5) is None
    for bad in (0, -1, float("inf"), float("nan")):
        problem = request_timeout_problem(bad)
        assert problem and "request_timeout" in problem and "greater than 0" in problem, bad


# ------------------------------------------------------------------------------ certificates and sockets
def test_certificate_of_another_authority(servers, tmp_path):
    server_ca, other_ca = make_ca("cluster CA"), make_ca("some other CA")
    tls = servers(never_answer, tls=tls_context(tmp_path, make_leaf(server_ca, ["127.0.0.1", "localhost"])))
    kc = write_kubeconfig(tmp_path, f"https://127.0.0.1:{tls.port}", ca=other_ca[0])
    started = time.monotonic()
    exc = failure_of(lambda: connect(kc))
    assert time.monotonic() - started < 1.0    # refused at once, not retried
    msg = describe_exception(exc, "Connecting to the Kubernetes API")
    assert f"https://127.0.0.1:{tls.port}" in msg
    assert "was reached" in msg and "TLS certificate was refused" in msg
    assert "unable to get local issuer certificate" in msg
    assert "certificate-authority" in msg
    assert "could not be reached" not in msg and "check that the cluster is running" not in msg.lower()


def test_self_signed_certificate(servers, tmp_path):
    own = make_ca("localhost")
    tls = servers(never_answer, tls=tls_context(tmp_path, make_leaf(own, ["127.0.0.1"])))
    # The kubeconfig trusts another CA than the one that signed the server's certificate.
    kc = write_kubeconfig(tmp_path, f"https://127.0.0.1:{tls.port}", ca=make_ca()[0])
    msg = describe_exception(failure_of(lambda: connect(kc)), DOING)
    assert "TLS certificate was refused" in msg and "certificate-authority" in msg


def test_certificate_for_another_name(servers, tmp_path):
    ca = make_ca()
    tls = servers(never_answer, tls=tls_context(tmp_path, make_leaf(ca, ["api.other.example"])))
    kc = write_kubeconfig(tmp_path, f"https://127.0.0.1:{tls.port}", ca=ca[0])
    msg = describe_exception(failure_of(lambda: connect(kc)), DOING)
    assert "was reached" in msg and "TLS certificate was refused" in msg
    assert "IP address mismatch" in msg and "127.0.0.1" in msg
    assert "not valid for the host name or address" in msg
    # The same through tls-server-name: the name checked is the one the kubeconfig gives.
    kc2 = write_kubeconfig(tmp_path, f"https://127.0.0.1:{tls.port}", ca=ca[0], tls_server_name="api.wrong.example", name="kc2")
    msg2 = describe_exception(failure_of(lambda: connect(kc2)), DOING)
    assert "Hostname mismatch" in msg2 and "api.wrong.example" in msg2


def test_plain_http_answer_on_a_tls_url(servers, tmp_path):
    garbage = servers(lambda conn, stopped: (conn.recv(65536), conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")))
    kc = write_kubeconfig(tmp_path, f"https://127.0.0.1:{garbage.port}")
    msg = describe_exception(failure_of(lambda: connect(kc)), DOING)
    assert "TLS" in msg and f"127.0.0.1:{garbage.port}" in msg
    assert "certificate was refused" not in msg


def test_closed_port(tmp_path):
    port = closed_port()
    kc = write_kubeconfig(tmp_path, f"https://127.0.0.1:{port}")
    exc = failure_of(lambda: connect(kc))
    msg = describe_exception(exc, "Connecting to the Kubernetes API")
    assert f"API server could not be reached at https://127.0.0.1:{port}" in msg
    assert "connection refused" in msg.lower()
    assert "Check that the cluster is running" in msg


def test_unknown_context_is_a_configuration_error(tmp_path):
    kc = write_kubeconfig(tmp_path, "https://127.0.0.1:1")
    exc = failure_of(lambda: connect(kc, context="no-such-context"))
    msg = describe_exception(exc, "Connecting to the Kubernetes API")
    assert "no-such-context" in msg and "could not be configured" in msg


def test_api_errors_keep_their_translation(servers, tmp_path):
    def forbidden(conn, stopped):
        conn.recv(65536)
        body = json.dumps({"kind": "Status", "message": "configmaps is forbidden: User cannot list", "code": 403}).encode()
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    server = servers(forbidden)
    exc = failure_of(lambda: connect(write_kubeconfig(tmp_path, f"http://127.0.0.1:{server.port}")))
    msg = describe_exception(exc, DOING)
    assert "403 Forbidden" in msg and "configmaps is forbidden" in msg


# ------------------------------------------------------------------------------ kubeconfig check
def test_missing_kubeconfig_option(tmp_path):
    path = str(tmp_path / "absent.yaml")
    msg = kubeconfig_problem({"kubeconfig": path})
    assert "The kubeconfig file absent.yaml given by the option kubeconfig does not exist" in msg
    # The option is no_log: the whole path would be masked in the output, so it is named in two parts.
    assert path not in msg and f"directory {tmp_path} exists" in msg
    assert "nothing was changed" in msg and "kubeconfig option" in msg


def test_missing_kubeconfig_in_a_missing_directory(tmp_path):
    msg = kubeconfig_problem({"kubeconfig": "/nonexistent/kubeconfig.yaml"})
    assert "The kubeconfig file kubeconfig.yaml given by the option kubeconfig does not exist" in msg
    assert "directory /nonexistent does not exist either" in msg


def test_missing_kubeconfig_from_k8s_auth_kubeconfig(tmp_path, monkeypatch):
    path = str(tmp_path / "from-env.yaml")
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", path)
    monkeypatch.setenv("KUBECONFIG", write_kubeconfig(tmp_path, "https://127.0.0.1:1"))
    msg = kubeconfig_problem({"kubeconfig": None})
    assert f"The kubeconfig file {path} given by the environment variable K8S_AUTH_KUBECONFIG does not exist" in msg


def test_missing_kubeconfig_from_kubeconfig_variable(tmp_path, monkeypatch):
    first, second = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([first, second]))
    msg = kubeconfig_problem({})
    assert "None of the kubeconfig files given by the environment variable KUBECONFIG exists" in msg
    assert first in msg and second in msg and f"directory {tmp_path} exists" in msg
    # One of the files there is enough, as for the Kubernetes client and kubectl.
    write_kubeconfig(tmp_path, "https://127.0.0.1:1", name="b.yaml")
    assert kubeconfig_problem({}) is None


def test_empty_kubeconfig_variable(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "")
    msg = kubeconfig_problem({})
    assert "KUBECONFIG" in msg and "empty" in msg


def test_missing_default_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    msg = kubeconfig_problem({})
    assert "~/.kube/config" in msg and str(tmp_path / ".kube") in msg and "does not exist" in msg
    assert "kubeconfig" in msg and "K8S_AUTH_KUBECONFIG" in msg and "KUBECONFIG" in msg
    # In a pod the client uses the service account instead.
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert kubeconfig_problem({}) is None


def test_empty_kubeconfig_option_is_named(tmp_path, monkeypatch):
    # kubernetes.core reads an empty option as unset and goes on to ~/.kube/config: the message says so.
    monkeypatch.setenv("HOME", str(tmp_path))
    msg = kubeconfig_problem({"kubeconfig": ""})
    assert "the option kubeconfig is empty" in msg and "~/.kube/config" in msg


def test_tilde_is_expanded_like_the_client_does(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert "does not exist" in kubeconfig_problem({"kubeconfig": "~/kc.yaml"})
    write_kubeconfig(tmp_path, "https://127.0.0.1:1", name="kc.yaml")
    assert kubeconfig_problem({"kubeconfig": "~/kc.yaml"}) is None
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", "~/kc.yaml")
    assert kubeconfig_problem({}) is None


def test_kubeconfig_that_is_a_directory(tmp_path):
    msg = kubeconfig_problem({"kubeconfig": str(tmp_path)})
    assert "is a directory" in msg


def test_no_kubeconfig_needed(tmp_path):
    assert kubeconfig_problem({"kubeconfig": {"apiVersion": "v1", "kind": "Config"}}) is None
    assert kubeconfig_problem({"host": "https://127.0.0.1:1", "api_key": "token"}) is None
    assert kubeconfig_problem({"kubeconfig": write_kubeconfig(tmp_path, "https://127.0.0.1:1")}) is None


def test_missing_kubeconfig_fails_before_any_connection(tmp_path):
    exc = failure_of(lambda: connect(str(tmp_path / "absent.yaml")))
    assert isinstance(exc, GitopsK8sError)
    assert "The kubeconfig file absent.yaml given by the option kubeconfig does not exist" in exc.msg


# ------------------------------------------------------------------------------ results
class _Recorder:
    """Stands in for AnsibleModule: holds the parameters and records what fail_json got."""

    check_mode = False

    def __init__(self, params):
        self.params = params
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs


def test_fail_keeps_the_traceback_of_the_cause(tmp_path):
    port = closed_port()
    kc = write_kubeconfig(tmp_path, f"https://127.0.0.1:{port}")
    module = GitopsK8sModule.__new__(GitopsK8sModule)
    module._module = _Recorder({"kubeconfig": kc, "request_timeout": 5.0})
    module._client = None
    module._client_error = None
    with pytest.raises(GitopsK8sError) as caught:
        module.client
    module.fail(caught.value, objects=[])
    failed = module._module.failed
    assert "API server could not be reached" in failed["msg"]
    assert "ConnectionRefusedError" in failed["exception"] and "Traceback" in failed["exception"]
    assert failed["objects"] == []
    # The client is not created a second time in the same run.
    with pytest.raises(GitopsK8sError) as again:
        module.client
    assert again.value is caught.value
