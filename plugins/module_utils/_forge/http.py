# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small JSON HTTP client for forge REST APIs, and the exceptions of the forge package.

Every call has a bounded timeout (connect and each read), redirects are never followed (a
token must not travel to another host; a redirect is reported with its target instead), and
every message that leaves this module passes through a :class:`Masker` that replaces the
token, the webhook secret and any other registered secret by ``********``.

The network is reached through a *transport*: a callable
``transport(method, url, data, headers, timeout) -> (status, headers, body)``. The default one
uses Ansible's ``open_url``; unit tests give a transport that replays recorded pairs.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url

REDACTED = "********"


# ---------------------------------------------------------------------------- exceptions

class ForgeError(Exception):
    """Base of every error of the forge package; ``msg`` is what the user reads."""

    def __init__(self, msg: str, *, status: int | None = None, details: dict | None = None):
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        return self.msg


class ForgeInputError(ForgeError):
    """The module's input cannot work (found before anything was changed)."""


class ForgeUnreachableError(ForgeError):
    """The forge could not be reached: refused, unknown host, TLS failure, no answer in time."""


class ForgeAuthError(ForgeError):
    """The forge rejected the token (HTTP 401)."""


class ForgePermissionError(ForgeError):
    """The token is valid but lacks a permission or a scope (HTTP 403, or checked up front)."""


class ForgeNotFoundError(ForgeError):
    """An object the module needs does not exist (HTTP 404)."""


class ForgeConflictError(ForgeError):
    """Live state conflicts with the request and the module was told not to replace it."""


class ForgeAPIError(ForgeError):
    """Any other failed or unexpected API answer."""


class ForgeDeliveryError(ForgeError):
    """The forge could not deliver the webhook's test event."""


# ---------------------------------------------------------------------------- masking

class Masker:
    """Replaces registered secrets in any text; secrets shorter than 4 characters are ignored."""

    def __init__(self, secrets: list[str | None] | None = None):
        self._secrets: list[str] = []
        for secret in secrets or []:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            # longest first, so that a secret containing another one is masked whole
            self._secrets.sort(key=len, reverse=True)

    def mask(self, value: Any) -> Any:
        """Mask strings, and strings inside lists and dicts (returns a copy)."""
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self.mask(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask(v) for v in value]
        return value


# ---------------------------------------------------------------------------- transport

Transport = Callable[..., "tuple[int, dict[str, str], bytes]"]


def open_url_transport(validate_certs: bool = True, ca_path: str | None = None, cookies=None) -> Transport:
    """The real network: Ansible's ``open_url`` without redirects, proxies from the environment."""

    def send(method: str, url: str, data: bytes | None, headers: dict[str, str], timeout: float):
        try:
            resp = open_url(
                url, data=data, headers=headers, method=method, timeout=timeout,
                validate_certs=validate_certs, ca_path=ca_path, follow_redirects="none",
                use_netrc=False, cookies=cookies, http_agent="gitops.bootstrap-forge",
            )
            return resp.getcode(), {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except HTTPError as exc:
            body = b""
            try:
                body = exc.read() or b""
            except Exception:  # the error body is a courtesy; its absence changes nothing
                pass
            hdrs = {k.lower(): v for k, v in (exc.headers or {}).items()}
            return exc.code, hdrs, body

    return send


def _network_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"unknown host ({reason.strerror or reason})"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({reason})"
    return str(reason) or exc.__class__.__name__


# ---------------------------------------------------------------------------- client

@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    data: Any = None
    text: str = ""


def server_message(data: Any, text: str) -> str:
    """The human part of an error body (Gitea, GitHub and GitLab all use ``message``)."""
    if isinstance(data, dict):
        parts = []
        for key in ("message", "error", "error_description"):
            value = data.get(key)
            if isinstance(value, dict):
                value = "; ".join(f"{k}: {v}" for k, v in value.items())
            elif isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            if value:
                parts.append(str(value))
        for err in data.get("errors") or []:
            if isinstance(err, dict):
                parts.append(err.get("message") or ", ".join(f"{k}={v}" for k, v in err.items()))
            else:
                parts.append(str(err))
        if parts:
            return "; ".join(parts)
    return (text or "").strip()[:300]


class JsonClient:
    """JSON over HTTP to one API base URL, with one set of auth headers."""

    def __init__(self, base_url: str, *, headers: dict[str, str], timeout: float, masker: Masker,
                 transport: Transport | None = None, validate_certs: bool = True,
                 ca_path: str | None = None, what: str = "the forge"):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.timeout = timeout
        self.masker = masker
        self.what = what
        self.transport = transport or open_url_transport(validate_certs, ca_path)
        self.calls: list[str] = []  # "METHOD path" of every call, for -vvv and the tests

    def url(self, path: str, query: dict | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query, doseq=True)
        return url

    def send(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """One exchange; network failures become :class:`ForgeUnreachableError`."""
        try:
            return self.transport(method, url, data, headers, self.timeout)
        except ForgeError:
            raise
        except (URLError, OSError, socket.timeout, ssl.SSLError, ConnectionError) as exc:
            reason = _network_reason(exc)
            if reason == "timeout":
                msg = (f"{self.what} at {self.base_url} did not answer within {self.timeout:g} s "
                       f"({method} {self.masker.mask(url)}); check the URL and that the server is up, "
                       "or raise the timeout option")
            else:
                msg = (f"cannot reach {self.what} at {self.base_url}: {reason} "
                       f"({method} {self.masker.mask(url)}); check the URL and that the server is up")
            raise ForgeUnreachableError(self.masker.mask(msg)) from exc

    def request(self, method: str, path: str, *, body: Any = None, query: dict | None = None,
                allow: tuple[int, ...] = ()) -> Response:
        """Send a JSON request; 2xx and the statuses in ``allow`` return, others raise."""
        url = self.url(path, query)
        headers = dict(self.headers)
        headers.setdefault("Accept", "application/json")
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        self.calls.append(f"{method} {path}")
        status, resp_headers, raw = self.send(method, url, data, headers)
        text = raw.decode("utf-8", "replace") if raw else ""
        parsed: Any = None
        if text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        resp = Response(status, resp_headers, parsed, text)
        if 200 <= status < 300 or status in allow:
            if 200 <= status < 300 and text.strip() and parsed is None:
                raise ForgeAPIError(self.masker.mask(
                    f"{method} {path}: {self.what} answered HTTP {status} with a body that is not JSON; "
                    f"is {self.base_url} the API URL? ({text[:120]!r})"), status=status)
            return resp
        raise self.error(method, path, resp)

    def error(self, method: str, path: str, resp: Response) -> ForgeError:
        """Translate an HTTP failure into the exception type that says what to do."""
        detail = self.masker.mask(server_message(resp.data, resp.text))
        where = f"{method} {path}"
        status = resp.status
        if 300 <= status < 400:
            target = self.masker.mask(resp.headers.get("location", "?"))
            return ForgeAPIError(
                f"{where}: {self.what} redirected to {target} (HTTP {status}); redirects are not followed "
                "so that the token never travels elsewhere: use the final URL (a renamed or moved "
                "repository, or http:// instead of https://)", status=status)
        if status == 401:
            return ForgeAuthError(
                f"{self.what} rejected the token (HTTP 401 on {where}: {detail or 'unauthorized'}); "
                "check that the token is right, not expired and not revoked", status=status)
        if status == 403:
            return ForgePermissionError(
                f"{where}: permission denied by {self.what} (HTTP 403: {detail or 'forbidden'}); the "
                "token's user or the token's scopes lack the right for this operation", status=status)
        if status == 404:
            return ForgeNotFoundError(f"{where}: not found on {self.what} (HTTP 404: {detail or 'not found'})",
                                      status=status)
        if status in (409, 422):
            return ForgeConflictError(f"{where}: {self.what} refused the request (HTTP {status}: {detail})",
                                      status=status)
        return ForgeAPIError(f"{where}: {self.what} answered HTTP {status}: {detail or 'no details'}",
                             status=status)

    def get_pages(self, path: str, *, page_param: str = "page", size_param: str = "per_page",
                  size: int = 100, query: dict | None = None, max_pages: int = 50) -> list:
        """Every item of a paginated list (stops at the first short page)."""
        items: list = []
        for page in range(1, max_pages + 1):
            q = dict(query or {})
            q[page_param] = page
            q[size_param] = size
            resp = self.request("GET", path, query=q)
            batch = resp.data or []
            if not isinstance(batch, list):
                raise ForgeAPIError(f"GET {path}: expected a list from {self.what}, got {type(batch).__name__}")
            items.extend(batch)
            if len(batch) < size:
                return items
        raise ForgeAPIError(f"GET {path}: more than {max_pages} pages of {size} items; refusing to read on")
