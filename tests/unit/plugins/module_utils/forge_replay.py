# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replay of recorded forge request/response pairs for the unit tests.

A fixture (``fixtures/forge/<name>.json``) is a list of exchanges, in the order the module
makes them::

    {"request": {"method": "POST", "path": "/repos/o/r/keys", "query": {...}, "body": {...}},
     "response": {"status": 201, "headers": {...}, "body": {...}}}

``Replay`` is a transport for ``JsonClient``: every call must be the next recorded request
(method, path, query and, when recorded, the JSON body), or the test fails, so a fixture
pins the whole conversation, writes included. In recorded bodies the string ``"<<any>>"``
matches any value and ``"<<fp>>"`` any secret fingerprint.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qsl, urlsplit

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "forge")
_FP = re.compile(r"fp1\.[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{16}")


def load(name: str) -> list[dict]:
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as fh:
        return json.load(fh)


def _match(recorded, actual, where: str) -> None:
    if recorded == "<<any>>":
        return
    if isinstance(recorded, str) and "<<fp>>" in recorded and isinstance(actual, str):
        pattern = re.escape(recorded).replace(re.escape("<<fp>>"), _FP.pattern)
        assert re.fullmatch(pattern, actual), f"{where}: {actual!r} does not match {recorded!r}"
        return
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        assert set(recorded) == set(actual), f"{where}: keys {sorted(actual)} != recorded {sorted(recorded)}"
        for key in recorded:
            _match(recorded[key], actual[key], f"{where}.{key}")
        return
    if isinstance(recorded, list):
        assert isinstance(actual, list) and len(actual) == len(recorded), f"{where}: {actual!r} != {recorded!r}"
        for i, (r, a) in enumerate(zip(recorded, actual)):
            _match(r, a, f"{where}[{i}]")
        return
    assert recorded == actual, f"{where}: {actual!r} != recorded {recorded!r}"


class Replay:
    """A transport answering from recorded exchanges, in order."""

    def __init__(self, exchanges: list[dict], base: str):
        self.exchanges = list(exchanges)
        self.base = base.rstrip("/")
        self.position = 0
        self.sent: list[dict] = []

    def __call__(self, method, url, data, headers, timeout):
        assert timeout and timeout > 0, "every call needs a bounded timeout"
        assert url.startswith(self.base), f"{url} is not under {self.base}"
        parts = urlsplit(url[len(self.base):])
        query = dict(parse_qsl(parts.query))
        body = None
        if data:
            text = data.decode("utf-8")
            body = json.loads(text) if headers.get("Content-Type") == "application/json" else dict(parse_qsl(text))
        self.sent.append({"method": method, "path": parts.path, "query": query, "body": body, "headers": headers})
        assert self.position < len(self.exchanges), f"unexpected extra call {method} {parts.path} {query}"
        exchange = self.exchanges[self.position]
        self.position += 1
        req = exchange["request"]
        where = f"call {self.position} ({req['method']} {req['path']})"
        assert (method, parts.path) == (req["method"], req["path"]), f"{where}: got {method} {parts.path}"
        _match(req.get("query", {}), query, f"{where} query")
        if "body" in req:
            _match(req["body"], body, f"{where} body")
        resp = exchange["response"]
        raw = resp.get("body")
        if raw is None:
            payload = b""
        elif isinstance(raw, str) and resp.get("text"):
            payload = raw.encode("utf-8")
        else:
            payload = json.dumps(raw).encode("utf-8")
        headers_out = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        headers_out.setdefault("content-type", "application/json" if not resp.get("text") else "text/html")
        return resp["status"], headers_out, payload

    def done(self) -> None:
        left = self.exchanges[self.position:]
        assert not left, f"{len(left)} recorded calls were not made, first: {left[0]['request']}"


class Recorder:
    """Wraps a real transport and keeps every exchange (for re-recording the Gitea fixtures)."""

    def __init__(self, transport, base: str, scrub):
        self.transport = transport
        self.base = base.rstrip("/")
        self.scrub = scrub
        self.exchanges: list[dict] = []

    def __call__(self, method, url, data, headers, timeout):
        status, hdrs, raw = self.transport(method, url, data, headers, timeout)
        parts = urlsplit(url[len(self.base):])
        request = {"method": method, "path": parts.path, "query": dict(parse_qsl(parts.query))}
        if data:
            text = data.decode("utf-8")
            request["body"] = json.loads(text) if headers.get("Content-Type") == "application/json" else dict(parse_qsl(text))
        text = raw.decode("utf-8", "replace") if raw else ""
        response = {"status": status}
        keep = {k: v for k, v in hdrs.items() if k in ("location", "content-type", "x-total-count")}
        if keep:
            response["headers"] = keep
        if text:
            try:
                response["body"] = json.loads(text)
            except ValueError:
                response["body"], response["text"] = text, True
        # fingerprints carry a random salt: a recorded request matches any fingerprint
        request = json.loads(_FP.sub("<<fp>>", json.dumps(request)))
        self.exchanges.append(json.loads(self.scrub(json.dumps({"request": request, "response": response}))))
        return status, hdrs, raw


# ---------------------------------------------------------------------------- test helpers

SECRET = "unit-test-webhook-secret-0001"
TOKEN = "unit-test-token-0123456789abcdef"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdTXlUzQYh0nQb8oyF5Y8Fuh9yFFpajlWcDzVq3zB+P argocd"
BASES = {"gitea": "http://gitea.test", "github": "https://api.github.com",
         "gitlab": "https://gitlab.example.com/api/v4"}


def provider(forge: str, fixture: str, web_fixture: str | None = None, web_password: str | None = None):
    """A provider of FORGE whose network is the replay of FIXTURE; returns (provider, replay, web replay)."""
    from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import Masker

    replay = Replay(load(fixture), BASES[forge])
    masker = Masker([TOKEN, SECRET, web_password])
    common = dict(timeout=5, masker=masker, transport=replay, sleep=lambda s: None)
    web = None
    if forge == "gitea":
        from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.gitea import GiteaProvider
        web = Replay(load(web_fixture), "http://gitea.test") if web_fixture else None
        return GiteaProvider("http://gitea.test", TOKEN, web_password=web_password, web_transport=web,
                             **common), replay, web
    if forge == "github":
        from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.github import GitHubProvider
        return GitHubProvider(BASES[forge], TOKEN, **common), replay, None
    from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.gitlab import GitLabProvider
    return GitLabProvider("https://gitlab.example.com", TOKEN, **common), replay, None


def settings(owner: str, name: str, *, checks=("validate",), key=True, webhook="https://argocd.example.com/api/webhook",
             protection=True, **extra):
    from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import Settings, WantedProtection

    s = Settings(owner=owner, name=name)
    if protection:
        s.protection = WantedProtection(branch="main", push_users=[], push_teams=[], required_approvals=1,
                                        status_checks=list(checks), code_owner_review=True,
                                        conflict=extra.pop("conflict", "report"))
    if key:
        s.deploy_key_enabled, s.deploy_key_public = True, PUBLIC_KEY
    if webhook:
        s.webhook_url, s.webhook_secret = webhook, SECRET
    for k, v in extra.items():
        setattr(s, k, v)
    return s
