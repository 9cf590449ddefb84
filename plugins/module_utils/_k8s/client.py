# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to the Kubernetes API server, and what its errors mean.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

The connection is made in one place, create_client(): kubernetes.core's own steps (connection
options and K8S_AUTH_* variables, kubeconfig, headers, dynamic client and discovery), with every
request of the client bounded by request_timeout, discovery included. Before it, one kubeconfig
check for the whole collection (kubeconfig_problem) names a missing file and where it was given.
Errors are translated into one sentence a person can act on (describe_exception), classified by
the exception types of their cause chain. The requests themselves are made by service.py.
"""

from __future__ import annotations


import copy
import math
import os
import socket
import ssl
import threading
import time
import traceback
from types import SimpleNamespace
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsK8sError

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
        AUTH_ARG_SPEC,
    )
    # AnsibleK8SModule is the base of runner.GitopsK8sModule.
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import (  # pylint: disable=unused-import
        AnsibleK8SModule,
    )
    # The steps of kubernetes.core's get_api_client(), taken one by one so that the REST client
    # is bounded before the dynamic client makes its first (discovery) request.
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        K8SClient,
        _create_auth_spec,
        _create_configuration,
        _create_headers,
        _set_header,
    )
    HAS_KUBERNETES_COLLECTION = True
    K8S_COLLECTION_ERROR = None
    K8S_COLLECTION_TRACEBACK = None
except ImportError as e:  # pragma: no cover - exercised only without kubernetes.core
    HAS_KUBERNETES_COLLECTION = False
    K8S_COLLECTION_ERROR = e
    K8S_COLLECTION_TRACEBACK = traceback.format_exc()
    AUTH_ARG_SPEC = {}

    class AnsibleK8SModule(object):  # type: ignore[no-redef]
        def __init__(self, **kwargs):
            self._module = AnsibleModule(**kwargs)

try:
    # NotFoundError is what the service (service.py) tells apart from other errors.
    from kubernetes.dynamic.exceptions import (  # pylint: disable=unused-import
        DynamicApiError,
        NotFoundError,
        ResourceNotFoundError,
    )
    from kubernetes.config import ConfigException
    import kubernetes.client
    # kubernetes.core's dynamic client and discovery need the kubernetes package.
    from ansible_collections.kubernetes.core.plugins.module_utils.k8sdynamicclient import (
        K8SDynamicClient,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.client.discovery import (
        LazyDiscoverer,
    )
    from kubernetes.client.rest import RESTClientObject
    from urllib3.exceptions import (
        ConnectTimeoutError,
        HTTPError as Urllib3HTTPError,
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError as Urllib3SSLError,
        TimeoutError as Urllib3TimeoutError,
    )
    from urllib3.util.retry import Retry
except ImportError:  # pragma: no cover
    RESTClientObject = object
    Retry = object

    class MaxRetryError(Exception):  # type: ignore[no-redef]
        pass

    ConnectTimeoutError = NewConnectionError = ProtocolError = ReadTimeoutError = MaxRetryError
    Urllib3SSLError = Urllib3TimeoutError = MaxRetryError

    class DynamicApiError(Exception):  # type: ignore[no-redef]
        pass

    class NotFoundError(DynamicApiError):  # type: ignore[no-redef]
        pass

    class ResourceNotFoundError(Exception):  # type: ignore[no-redef]
        pass

    class ConfigException(Exception):  # type: ignore[no-redef]
        pass

    class Urllib3HTTPError(Exception):  # type: ignore[no-redef]
        pass


# ------------------------------------------------------------------------------ connection
REQUEST_TIMEOUT_OPTION = "request_timeout"
REQUEST_TIMEOUT_ENV = "K8S_AUTH_REQUEST_TIMEOUT"
DEFAULT_REQUEST_TIMEOUT = 30
ACTION_GROUP = "group/gitops.bootstrap.gitops"
_RAISE_TIMEOUT = (
    f"raise the option {REQUEST_TIMEOUT_OPTION} (seconds; for every module at once with module_defaults of "
    f"{ACTION_GROUP}, or the environment variable {REQUEST_TIMEOUT_ENV})"
)
_KUBECONFIG_ADVICE = (
    "Point the kubeconfig option (or K8S_AUTH_KUBECONFIG, or KUBECONFIG) at the kubeconfig of the target cluster."
)


def auth_argument_spec():
    """kubernetes.core's connection options, and the request timeout every module of the collection has."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec[REQUEST_TIMEOUT_OPTION] = {
        "type": "float",
        "default": DEFAULT_REQUEST_TIMEOUT,
        "fallback": (env_fallback, [REQUEST_TIMEOUT_ENV]),
    }
    return spec


def request_timeout_problem(value) -> str | None:
    """Why a request timeout cannot be used, or None. There is no value that means 'wait forever'."""
    if value is None or not math.isfinite(value) or value <= 0:
        return (
            f"{REQUEST_TIMEOUT_OPTION} must be a number of seconds greater than 0 (got {value!r}): it bounds every "
            "request to the Kubernetes API server, and no value waits forever."
        )
    return None


def _credentials_without_kubeconfig(auth: dict) -> bool:
    """kubernetes.core connects without any kubeconfig when a host and its credentials are given."""
    if not auth.get("host"):
        return False
    return bool(
        auth.get("api_key") or (auth.get("username") and auth.get("password")) or (auth.get("cert_file") and auth.get("key_file"))
    )


def kubeconfig_source(params: dict) -> tuple[str, str, bool] | None:
    """Where the Kubernetes client will read its kubeconfig from, as (origin, value, masked).

    The order is kubernetes.core's: the option kubeconfig, then K8S_AUTH_KUBECONFIG; without either
    (and without context) the service account of a pod; then KUBECONFIG, then ~/.kube/config.
    ``masked`` is true for the option: it is no_log, and Ansible masks its value wherever it appears.
    None when no kubeconfig file is needed (in-memory kubeconfig, host with credentials, in a pod).
    """
    auth = _create_auth_spec(SimpleNamespace(params=params))
    if _credentials_without_kubeconfig(auth):
        return None
    value = auth.get("kubeconfig")
    if isinstance(value, dict):
        return None
    if value:
        if params.get("kubeconfig") is not None:
            return "option kubeconfig", value, True
        return "environment variable K8S_AUTH_KUBECONFIG", value, False
    if not auth.get("context") and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    if "KUBECONFIG" in os.environ:
        return "environment variable KUBECONFIG", os.environ["KUBECONFIG"], False
    option = "is empty" if params.get("kubeconfig") == "" else "is unset"
    return (f"default location (the option kubeconfig {option}, K8S_AUTH_KUBECONFIG and KUBECONFIG are unset)",
            "~/.kube/config", False)


def _where(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    return f"directory {folder} {'exists' if os.path.isdir(folder) else 'does not exist either'}"


def _shown(raw: str, path: str, masked: bool) -> str:
    # A masked value would print as ********: name the file, and its directory apart.
    return os.path.basename(path) if masked else raw


def kubeconfig_problem(params: dict) -> str | None:
    """Why the kubeconfig the client would read cannot be used, or None. The one check of the collection.

    Like the Kubernetes client, a path may start with ~ and the value may list several files
    (separated by ':'); the files that exist are used, so only a list none of which exists fails.
    """
    source = kubeconfig_source(params)
    if source is None:
        return None
    origin, value, masked = source
    paths = [p for p in value.split(os.pathsep) if p]
    if not paths:
        return (
            f"The {origin} is set but empty, so there is no kubeconfig to read and nothing was changed. Set it to the "
            "kubeconfig file of the target cluster, unset it to use ~/.kube/config, or set the kubeconfig option."
        )
    missing = []
    for raw in paths:
        path = os.path.expanduser(raw)
        shown = _shown(raw, path, masked)
        if os.path.isdir(path):
            return (
                f"The kubeconfig {shown} given by the {origin} is a directory, not a file (in directory "
                f"{os.path.dirname(os.path.abspath(path))}), so the cluster cannot be reached and nothing was changed. "
                f"{_KUBECONFIG_ADVICE}"
            )
        if os.path.exists(path):
            if not os.access(path, os.R_OK):
                return (
                    f"The kubeconfig file {shown} given by the {origin} cannot be read by this user ({_where(path)}), "
                    f"so the cluster cannot be reached and nothing was changed. Make it readable for this user. {_KUBECONFIG_ADVICE}"
                )
            return None
        missing.append((shown, path))
    if len(missing) == 1:
        shown, path = missing[0]
        return (
            f"The kubeconfig file {shown} given by the {origin} does not exist ({_where(path)}), so the cluster cannot "
            f"be reached and nothing was changed. {_KUBECONFIG_ADVICE}"
        )
    listed = "; ".join(f"{shown} ({_where(path)})" for shown, path in missing)
    return (
        f"None of the kubeconfig files given by the {origin} exists: {listed}. The cluster cannot be reached and "
        f"nothing was changed. {_KUBECONFIG_ADVICE}"
    )


class ApiServerTimeout(Exception):
    """A request that the API server did not answer within the request timeout."""

    def __init__(self, server: str, method: str, path: str, timeout: float, elapsed: float, connected: bool = True,
                 repeated: bool = False):
        self.server = server
        self.method = method
        self.path = path
        self.timeout = timeout
        self.elapsed = elapsed
        self.connected = connected
        self.repeated = repeated
        super().__init__(f"{method} {server}{path}: no answer within {timeout:g} s")


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """exc and what caused it: urllib3's reason, explicit causes, then the exceptions being handled."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        todo.append(getattr(current, "reason", None))
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        todo.append(current.__cause__)
        todo.append(current.__context__)
    return seen


def _first(chain: list[BaseException], kind, exclude=()):
    for exc in chain:
        if isinstance(exc, kind) and not isinstance(exc, exclude):
            return exc
    return None


def _timeout_cause(exc: BaseException):
    """The timeout behind exc (urllib3's read or connect timeout, a socket timeout), or None."""
    chain = _exception_chain(exc)
    # NewConnectionError derives from ConnectTimeoutError but is a refused or unresolved connection.
    found = _first(chain, (ReadTimeoutError, ConnectTimeoutError), exclude=(NewConnectionError,))
    if found is None and _first(chain, NewConnectionError) is None:
        found = _first(chain, (socket.timeout, TimeoutError))
    return found


def _seconds(timeout) -> float:
    if isinstance(timeout, tuple):
        return float(max(t for t in timeout if t is not None))
    return float(timeout)


class _Retry(Retry):
    """urllib3's retries, except that nothing is sent again after a timeout or a refused certificate:
    another try would only double the wait, or meet the same certificate."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        final = isinstance(error, (Urllib3TimeoutError, Urllib3SSLError)) and not isinstance(error, NewConnectionError)
        if final:
            raise MaxRetryError(_pool, url, error) from error
        return super().increment(method=method, url=url, response=response, error=error, _pool=_pool, _stacktrace=_stacktrace)


class _BoundedRESTClient(RESTClientObject):
    """The REST client of the kubernetes package with a timeout on every request.

    Every request of the client goes through here: discovery, the dynamic client, the threads of
    argocd_install. The answer is read here too, so that a server that stops in the middle of it
    fails the same way. After one timeout, the server is not asked again in this run: callers that
    skip an optional lookup on error would otherwise wait once more for each.
    """

    def __init__(self, configuration, timeout: float):
        super().__init__(configuration)
        self.request_timeout = timeout
        self.timed_out: ApiServerTimeout | None = None
        self._lock = threading.Lock()

    def request(self, method, url, *args, _request_timeout=None, **kwargs):
        parts = urlsplit(url)
        server, path = f"{parts.scheme}://{parts.netloc}", parts.path or "/"
        earlier = self.timed_out
        if earlier is not None:
            raise ApiServerTimeout(earlier.server, method.upper(), path, earlier.timeout, earlier.elapsed,
                                   connected=earlier.connected, repeated=True)
        timeout = _request_timeout or self.request_timeout
        started = time.monotonic()
        try:
            response = super().request(method, url, *args, _request_timeout=timeout, **kwargs)
            if "watch=true" not in (parts.query or "").lower():
                response.read()
            return response
        except Exception as exc:  # pylint: disable=broad-except
            cause = _timeout_cause(exc)
            if cause is None:
                raise
            failure = ApiServerTimeout(server, method.upper(), path, _seconds(timeout), time.monotonic() - started,
                                       connected=not isinstance(cause, ConnectTimeoutError))
            with self._lock:
                if self.timed_out is None:
                    self.timed_out = failure
            raise failure from exc


def create_client(params: dict, dry_run: bool = False):
    """kubernetes.core's client (K8SClient over its dynamic client), every request of which is bounded.

    The same steps as kubernetes.core's get_api_client(): connection options and K8S_AUTH_* variables,
    kubeconfig or in-cluster configuration, impersonation headers, the dynamic client with its
    discovery. The REST client is bounded before the dynamic client makes its first request.
    """
    problem = kubeconfig_problem(params)
    if problem:
        raise GitopsK8sError(problem)
    timeout = params.get(REQUEST_TIMEOUT_OPTION)
    timeout = DEFAULT_REQUEST_TIMEOUT if timeout is None else timeout
    problem = request_timeout_problem(timeout)
    if problem:
        raise GitopsK8sError(problem)
    holder = SimpleNamespace(params=params)
    configuration = _create_configuration(_create_auth_spec(holder))
    if configuration.retries is None:
        configuration.retries = _Retry(total=3)
    api_client = kubernetes.client.ApiClient(configuration)
    api_client.rest_client.close()
    api_client.rest_client = _BoundedRESTClient(configuration, float(timeout))
    for header, value in _create_headers(holder).items():
        _set_header(api_client, header, value)
    dynamic = K8SDynamicClient(api_client, discoverer=LazyDiscoverer)
    return K8SClient(configuration=configuration, client=dynamic, dry_run=dry_run)


def describe_api_error(exc):
    """The server's own words for an API error, without the HTTP noise."""
    body = getattr(exc, "body", None)
    if body:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            import json

            parsed = json.loads(body)
            if isinstance(parsed, dict) and parsed.get("message"):
                return parsed["message"]
        except ValueError:
            pass
        return str(body)
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or getattr(exc, "summary", lambda: None)()
    if status:
        return "HTTP %s %s" % (status, reason or "")
    return str(exc)


# OpenSSL verification results (X509_V_ERR_*) that have a cause a person can fix.
_CERT_UNTRUSTED = (2, 18, 19, 20, 21)       # unknown issuer, self-signed, chain not trusted
_CERT_OUT_OF_DATE = (9, 10)                 # not yet valid, expired
_CERT_WRONG_NAME = (62, 64)                 # host name or IP address mismatch


def _server_of(chain: list[BaseException]) -> str | None:
    """scheme://host:port of the server a urllib3 error is about."""
    for exc in chain:
        pool = getattr(exc, "pool", None)
        host = getattr(pool, "host", None)
        if host:
            host = f"[{host}]" if ":" in host else host
            return f"{getattr(pool, 'scheme', 'https')}://{host}:{pool.port}"
    return None


def _describe_certificate(server: str, error: ssl.SSLCertVerificationError) -> str:
    reason = (getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)).rstrip(".")
    code = getattr(error, "verify_code", None)
    if code in _CERT_WRONG_NAME:
        advice = (
            "The certificate is not valid for the host name or address the client checked (the server URL of the "
            "kubeconfig, or its tls-server-name): use a name the certificate was issued for, or the right URL."
        )
    elif code in _CERT_UNTRUSTED:
        advice = (
            "The certificate is not signed by the certificate authority the kubeconfig trusts (certificate-authority-data "
            "or certificate-authority of its cluster entry, or the option ca_cert): give the CA of this cluster, or check "
            "that the server URL is this cluster's."
        )
    elif code in _CERT_OUT_OF_DATE:
        advice = "The certificate is outside its validity period: check the clock of this machine and the API server's certificate."
    else:
        advice = "Check the certificate authority and the server URL of the kubeconfig."
    return (
        f"the Kubernetes API server at {server} was reached, but its TLS certificate was refused: {reason} "
        f"(OpenSSL verify error {code}). {advice}"
    )


def describe_timeout(exc: ApiServerTimeout) -> str:
    """What a request timeout means, and how to give the server more time."""
    request = f"{exc.method} {exc.path}"
    if exc.connected:
        text = (
            f"the Kubernetes API server at {exc.server} accepted the connection but did not answer within {exc.timeout:g} s "
            f"({request}; gave up after {exc.elapsed:.1f} s). It may be overloaded or stopped, or the address may not be "
            "an API server."
        )
    else:
        text = (
            f"the Kubernetes API server at {exc.server} did not accept the connection within {exc.timeout:g} s ({request}). "
            "Check that the cluster is running and that the network lets this machine through."
        )
    if exc.repeated:
        text += " An earlier request of this run already waited that long, so the server was not asked again."
    return f"{text} If it is only slow, {_RAISE_TIMEOUT}."


def describe_transport_error(exc: BaseException) -> str | None:
    """The sentence for a request that got no HTTP answer (no route, refused, TLS, timeout), or None.

    Classified by the exception types of the cause chain (urllib3's MaxRetryError.reason, the ssl
    and socket errors under it), not by their text.
    """
    chain = _exception_chain(exc)
    timeout = _first(chain, ApiServerTimeout)
    if timeout is not None:
        return describe_timeout(timeout)
    server = _server_of(chain) or "its address"
    cert = _first(chain, ssl.SSLCertVerificationError)
    if cert is not None:
        return _describe_certificate(server, cert)
    if _first(chain, ConnectionRefusedError) is not None:
        return (
            f"the Kubernetes API server could not be reached at {server}: connection refused, nothing listens there. "
            "Check that the cluster is running and that the kubeconfig points at the right server."
        )
    unresolved = _first(chain, socket.gaierror)
    if unresolved is not None:
        return (
            f"the Kubernetes API server could not be reached at {server}: its host name does not resolve "
            f"({unresolved.strerror or unresolved}). Check the server URL of the kubeconfig and the name resolution of this machine."
        )
    tls = _first(chain, ssl.SSLError)
    if tls is not None:
        reason = getattr(tls, "reason", None) or str(tls)
        if reason == "WRONG_VERSION_NUMBER":
            reason += ": what answers there does not speak TLS"
        return (
            f"a TLS connection to the Kubernetes API server at {server} could not be set up ({reason}). Check that the "
            "server URL (https:// and port) is the API server's, and the proxy settings if one is used."
        )
    if _timeout_cause(exc) is not None:
        return (
            f"the Kubernetes API server at {server} did not answer within the request timeout ({_short(exc)}). "
            f"If it is only slow, {_RAISE_TIMEOUT}."
        )
    connection = _first(chain, NewConnectionError)
    os_error = _first(chain, OSError, exclude=(FileNotFoundError, PermissionError))
    if connection is not None:
        detail = getattr(os_error, "strerror", None) or _short(connection)
        return (
            f"the Kubernetes API server could not be reached at {server}: {detail}. Check that the cluster is running, "
            "that the kubeconfig points at the right server, and the network between this machine and the cluster."
        )
    closed = _first(chain, ProtocolError)
    if closed is not None:
        return (
            f"the Kubernetes API server at {server} closed the connection without answering ({_short(closed)}). Check that "
            "the server URL is the API server's (an http:// URL on a TLS port ends like this)."
        )
    if _first(chain, MaxRetryError) is not None or isinstance(exc, Urllib3HTTPError):
        return (
            f"the Kubernetes API server could not be reached at {server} ({_short(exc)}). Check that the cluster is "
            "running and that the kubeconfig points at the right server."
        )
    return None


def describe_exception(exc, doing):
    """Turn any client, config or API exception into one actionable sentence."""
    if isinstance(exc, GitopsK8sError):
        return exc.msg
    transport = describe_transport_error(exc)
    if transport:
        return f"{doing}: {transport}"
    config = _first(_exception_chain(exc), ConfigException)
    if config is not None:
        return (
            f"{doing}: the Kubernetes client could not be configured: {config}. Check that the kubeconfig file exists and is "
            "readable (option kubeconfig, or K8S_AUTH_KUBECONFIG / KUBECONFIG), and that context names an entry in it."
        )
    status = getattr(exc, "status", None)
    reason = describe_api_error(exc)
    if status == 401:
        return f"{doing}: the API server rejected the credentials (401 Unauthorized): {reason}. Refresh the kubeconfig credentials."
    if status == 403:
        return (
            f"{doing}: the API server refused the request (403 Forbidden): {reason}. The identity in the kubeconfig needs RBAC "
            "permission for this; run with an identity that has it."
        )
    if status == 409:
        return f"{doing}: conflict (409): {reason}."
    if status == 422:
        return f"{doing}: the API server rejected the object as invalid (422): {reason}. Fix the fields it names."
    if isinstance(exc, ResourceNotFoundError):
        return (
            f"{doing}: the API server does not serve this resource type ({exc}). If it is a custom resource, install its "
            "CRD first (for Argo CD types, run the gitops.bootstrap.argocd role)."
        )
    if status:
        return f"{doing}: the API server answered {status}: {reason}"
    return f"{doing}: {exc}"


def _short(exc):
    text = str(exc)
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" ()")
    return text[:300]
