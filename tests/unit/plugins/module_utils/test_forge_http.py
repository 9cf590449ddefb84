# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The forge JSON client: error translation, masking, bounded timeouts, no redirects.

The network cases use real loopback sockets (a closed port, a port that accepts and never
answers, a small HTTP server that answers what the test asks for).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeAPIError, ForgeAuthError, ForgeConflictError, ForgeNotFoundError, ForgePermissionError,
    ForgeUnreachableError, JsonClient, Masker)

TOKEN = "tok-0123456789abcdef"


class Server:
    """Answers each request with the next (status, headers, body) of ``answers``."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                status, headers, body = server.answers.pop(0)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body.encode() if isinstance(body, str) else body)

            do_GET = do_POST = do_PATCH = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(*answers):
        servers.append(Server(answers))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def client(url, timeout=2.0):
    return JsonClient(url, headers={"Authorization": f"token {TOKEN}"}, timeout=timeout, masker=Masker([TOKEN]),
                      what="Gitea")


JSON = {"Content-Type": "application/json"}


def test_json_round_trip_and_auth_header(serve):
    srv = serve((201, JSON, json.dumps({"id": 3})))
    resp = client(srv.url).request("POST", "/repos", body={"name": "x"}, query={"a": 1})
    assert resp.status == 201 and resp.data == {"id": 3}
    method, path, headers, body = srv.requests[0]
    assert (method, path, json.loads(body)) == ("POST", "/repos?a=1", {"name": "x"})
    assert headers["Authorization"] == f"token {TOKEN}"


@pytest.mark.parametrize("status,exc,words", [
    (401, ForgeAuthError, "rejected the token"),
    (403, ForgePermissionError, "permission denied"),
    (404, ForgeNotFoundError, "not found"),
    (422, ForgeConflictError, "refused the request"),
    (500, ForgeAPIError, "answered HTTP 500"),
])
def test_errors_are_translated_and_masked(serve, status, exc, words):
    srv = serve((status, JSON, json.dumps({"message": f"token {TOKEN} is no good"})))
    with pytest.raises(exc) as err:
        client(srv.url).request("GET", "/user")
    assert words in err.value.msg and "is no good" in err.value.msg
    assert TOKEN not in err.value.msg and "********" in err.value.msg
    assert err.value.status == status


def test_allowed_status_returns(serve):
    srv = serve((404, JSON, json.dumps({"message": "no"})))
    assert client(srv.url).request("GET", "/repos/x/y", allow=(404,)).status == 404


def test_redirects_are_not_followed(serve):
    target = serve((200, JSON, "{}"))
    srv = serve((301, {"Location": target.url + "/elsewhere"}, ""))
    with pytest.raises(ForgeAPIError, match="redirected to .*elsewhere.* not followed"):
        client(srv.url).request("GET", "/repos/x/y")
    assert target.requests == []  # the token never went there


def test_html_instead_of_json_is_named(serve):
    srv = serve((200, {"Content-Type": "text/html"}, "<html>login</html>"))
    with pytest.raises(ForgeAPIError, match="not JSON; is .* the API URL"):
        client(srv.url).request("GET", "/user")


def test_pagination_stops_at_a_short_page(serve):
    srv = serve((200, JSON, json.dumps([1, 2])), (200, JSON, json.dumps([3])))
    assert client(srv.url).get_pages("/items", size=2) == [1, 2, 3]
    assert [r[1] for r in srv.requests] == ["/items?page=1&per_page=2", "/items?page=2&per_page=2"]


def test_closed_port_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ForgeUnreachableError, match="connection refused"):
        client(f"http://127.0.0.1:{port}").request("GET", "/user")


def test_silent_port_times_out_within_the_bound():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        start = time.monotonic()
        with pytest.raises(ForgeUnreachableError, match="did not answer within 0.5 s"):
            client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5).request("GET", "/user")
        assert time.monotonic() - start < 5
    finally:
        silent.close()


def test_masker_masks_nested_values_longest_first():
    masker = Masker(["abcd", "abcdef", None, "x"])
    assert masker.mask({"a": ["abcdef", "zabcdz"], "n": 1}) == {"a": ["********", "z********z"], "n": 1}
    assert masker.mask("x marks") == "x marks"  # too short to be a secret
