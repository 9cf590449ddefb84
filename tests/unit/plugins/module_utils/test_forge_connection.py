# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The forge connection options, written once and checked once for every module that reaches a forge.

forge_repository, gitops_plan_publish, gitops_promote and infra_repo's pull-request mode take the
same options (kind, URL, token, timeout, TLS) from ``_argspec.forge_connection_options`` and check
them with ``runner.check_connection`` before the first request: a bad value gets the same message
in each of them.
"""

from __future__ import annotations

import ast
import os

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec, _infra_pr
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge import runner
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import ForgeInputError

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(_argspec.__file__), "..", ".."))
GOOD = {"forge": "gitea", "api_url": "https://git.example.com", "token": "t0ken-value", "timeout": 20,
        "validate_certs": True, "ca_path": None}


def test_required_and_optional_variants_differ_only_where_they_should():
    required = _argspec.forge_connection_options()
    optional = _argspec.forge_connection_options(required=False, timeout_option="forge_timeout")
    assert required["forge"]["required"] and required["token"]["required"]
    assert not optional["forge"]["required"] and not optional["token"]["required"]
    assert optional["forge_timeout"] == required["timeout"] == {"type": "int", "default": 20}
    assert required["token"]["no_log"] and optional["token"]["no_log"]
    assert set(required) - {"timeout"} == set(optional) - {"forge_timeout"}
    # each call returns new dicts: a module may change its copy
    required["forge"]["choices"].append("other")
    assert _argspec.forge_connection_options()["forge"]["choices"] == ["gitea", "github", "gitlab"]


def test_every_forge_argument_spec_is_the_shared_one():
    assert {k: runner.FORGE_ARG_SPEC[k] for k in _argspec.forge_connection_options()} == _argspec.forge_connection_options()
    shared = _argspec.forge_connection_options(required=False, timeout_option="forge_timeout")
    assert {k: _infra_pr.ARG_SPEC[k] for k in shared} == shared


@pytest.mark.parametrize("module", ["gitops_plan_publish.py", "gitops_promote.py"])
def test_modules_build_their_forge_options_from_the_shared_piece(module):
    """No module writes the forge options out again: they come from forge_connection_options."""
    with open(os.path.join(COLLECTION, "plugins", "modules", module), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "forge_connection_options"]
    assert calls, f"{module} does not use forge_connection_options"
    literal_keys = {k.arg for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "dict"
                    for k in n.keywords if k.arg}
    assert not literal_keys & {"api_url", "token", "validate_certs", "ca_path"}, f"{module} spells forge options out again"


@pytest.mark.parametrize("change, option, message", [
    ({"api_url": None}, "timeout", "api_url is required for forge=gitea"),
    ({"api_url": "ftp://git.example.com"}, "timeout", "is not an http:// or https:// URL"),
    ({"api_url": "https://user:pw@git.example.com"}, "timeout", "must not carry credentials"),
    ({"token": "  "}, "timeout", "token is empty: give the API token of someone"),
    ({"timeout": 0}, "timeout", "timeout must be between 1 and 600 seconds (got 0)"),
    ({"timeout": 601}, "timeout", "timeout must be between 1 and 600 seconds (got 601)"),
    ({"forge_timeout": -1}, "forge_timeout", "forge_timeout must be between 1 and 600 seconds (got -1)"),
    ({"forge_timeout": None}, "forge_timeout", "forge_timeout must be between 1 and 600 seconds (got None)"),
])
def test_bad_connection_options_are_refused_with_one_message(change, option, message):
    params = dict(GOOD, **change)
    if option == "forge_timeout":
        params.setdefault("forge_timeout", params.pop("timeout"))
    with pytest.raises(ForgeInputError) as err:
        runner.check_connection(params, option, "someone")
    assert message in err.value.msg


@pytest.mark.parametrize("forge, api_url", [("gitea", "https://git.example.com"), ("github", None), ("gitlab", None)])
def test_good_connection_options_pass(forge, api_url):
    runner.check_connection(dict(GOOD, forge=forge, api_url=api_url), "timeout", "someone")
    params = dict(GOOD, forge=forge, api_url=api_url, forge_timeout=600)
    runner.check_connection(params, "forge_timeout", "someone")
