# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue between ``forge_repository``'s options and the forge engine.

``run_module`` is the whole body of the module: options are checked offline first, then the
provider is built, the engine runs, and any ``ForgeError`` becomes one ``fail_json`` with the
traceback attached (shown at ``-vvv``). Everything that leaves here is masked.
"""

from __future__ import annotations

import os
import time
import traceback
from urllib.parse import urlsplit

from ansible_collections.gitops.bootstrap.plugins.module_utils import _names
from ansible_collections.gitops.bootstrap.plugins.module_utils._argspec import forge_connection_options, forge_timeout_problem
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge import sshkey
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import (
    ForgeRepository,
    Settings,
    WantedProtection,
    normalise_public_key,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import (
    ForgeError,
    ForgeInputError,
    Masker,
)

# Connection options, documented by the gitops.bootstrap.forge doc fragment.
FORGE_ARG_SPEC = forge_connection_options()

DEFAULT_API_URL = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}


def _check_name(value: str, what: str, nested: bool = False) -> None:
    parts = value.split("/") if nested else [value]
    for part in parts:
        if not _names.is_valid(part, "forge_name") or part in (".", "..") or part.endswith((".git", ".atom")):
            raise ForgeInputError(
                f"{what} '{value}' is not a valid name: use letters, digits, '.', '_' and '-' "
                f"(starting with a letter or digit{', groups separated by /' if nested else ''})")


def _check_url(value: str, what: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForgeInputError(f"{what} '{value}' is not an http:// or https:// URL")
    if parts.username or parts.password:
        raise ForgeInputError(f"{what} must not carry credentials in the URL")


def check_connection(params: dict, timeout_option: str = "timeout",
                     token_holder: str = "a repository administrator") -> None:
    """Offline: the connection options of ``forge_connection_options`` are complete and well-formed.

    Every module that talks to a forge calls this before the first request, so that a missing URL,
    an empty token or an unbounded timeout gets the same message everywhere.
    """
    forge = params["forge"]
    if forge == "gitea" and not params.get("api_url"):
        raise ForgeInputError("api_url is required for forge=gitea (the Gitea server URL)")
    _check_url(params.get("api_url") or DEFAULT_API_URL[forge], "api_url")
    if not (params.get("token") or "").strip():
        raise ForgeInputError(f"token is empty: give the API token of {token_holder}")
    problem = forge_timeout_problem(params.get(timeout_option), timeout_option)
    if problem:
        raise ForgeInputError(problem)


def settings_from_params(params: dict) -> tuple[Settings, str | None]:
    """Settings for the engine, and the key file to generate (None when it exists or is not used)."""
    forge = params["forge"]
    check_connection(params)
    _check_name(params["owner"], "owner", nested=forge == "gitlab")
    _check_name(params["name"], "name")
    if params.get("gitea_web_password") and forge != "gitea":
        raise ForgeInputError("gitea_web_password is only used with forge=gitea")

    protection = None
    if params["branch_protection"]:
        approvals = params["required_approvals"]
        if approvals < 1 or approvals > 10:
            raise ForgeInputError("required_approvals must be between 1 and 10: a pull request needs at least "
                                  "one approval (the extra pair of eyes)")
        for value in params["push_allowlist_users"] + params["push_allowlist_teams"] + params["required_status_checks"]:
            if not value or not value.strip():
                raise ForgeInputError("push_allowlist_users, push_allowlist_teams and required_status_checks must "
                                      "not contain empty names (an empty value never means 'everyone')")
        protection = WantedProtection(
            branch=params["default_branch"], push_users=list(params["push_allowlist_users"]),
            push_teams=list(params["push_allowlist_teams"]), required_approvals=approvals,
            status_checks=list(params["required_status_checks"]),
            code_owner_review=params["require_code_owner_review"], conflict=params["protection_conflict"])

    settings = Settings(
        owner=params["owner"], name=params["name"], private=params["private"],
        description=params.get("description") or "", default_branch=params["default_branch"],
        protection=protection, deploy_key_title=params["deploy_key_title"],
        deploy_key_conflict=params["deploy_key_conflict"], webhook_test=params["webhook_test"],
        webhook_wait=float(params["webhook_test_timeout"]), webhook_ssl_verify=params["webhook_validate_certs"])

    generate_at = None
    if params.get("deploy_key_public"):
        text = params["deploy_key_public"]
        if "PRIVATE KEY" in text:
            raise ForgeInputError("deploy_key_public holds a private key; give the public key line (or the "
                                  "private key file as deploy_key_path)")
        settings.deploy_key_public = normalise_public_key(text)
        settings.deploy_key_enabled = True
    elif params.get("deploy_key_path"):
        path = params["deploy_key_path"]
        settings.deploy_key_enabled = True
        if os.path.exists(path):
            settings.deploy_key_public = sshkey.public_key_of(path, params["deploy_key_title"])
        else:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                raise ForgeInputError(f"deploy_key_path {path}: directory {directory} does not exist")
            if not os.access(directory, os.W_OK):
                raise ForgeInputError(f"deploy_key_path {path}: directory {directory} is not writable")
            generate_at = path

    if params.get("webhook_url"):
        url = params["webhook_url"]
        _check_url(url, "webhook_url")
        if not urlsplit(url).path.rstrip("/").endswith("/api/webhook"):
            raise ForgeInputError(f"webhook_url '{url}' does not end in /api/webhook, the path where Argo CD's API "
                                  "server receives forge events")
        secret = params.get("webhook_secret") or ""
        if len(secret) < 16:
            raise ForgeInputError("webhook_secret must be at least 16 characters (generate it, e.g. with "
                                  "lookup('ansible.builtin.password', '/dev/null length=40'))")
        settings.webhook_url = url
        settings.webhook_secret = secret
    elif params.get("webhook_test"):
        raise ForgeInputError("webhook_test needs webhook_url")
    return settings, generate_at


def build_provider(params: dict, masker: Masker, transport=None, web_transport=None, sleep=time.sleep,
                   timeout_option: str = "timeout"):
    """The provider of ``params['forge']`` (imported lazily: one forge per run)."""
    forge = params["forge"]
    common = dict(timeout=float(params[timeout_option]), masker=masker, validate_certs=params["validate_certs"],
                  ca_path=params.get("ca_path"), transport=transport, sleep=sleep)
    api_url = params.get("api_url") or DEFAULT_API_URL[forge]
    if forge == "gitea":
        from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.gitea import GiteaProvider
        return GiteaProvider(api_url, params["token"], web_password=params.get("gitea_web_password"),
                             web_transport=web_transport, **common)
    if forge == "github":
        from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.github import GitHubProvider
        return GitHubProvider(api_url, params["token"], **common)
    from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.gitlab import GitLabProvider
    return GitLabProvider(api_url, params["token"], **common)


def run_module(module, transport=None, web_transport=None, sleep=time.sleep) -> None:
    """Run forge_repository with an ``AnsibleModule``; exits through exit_json or fail_json."""
    params = module.params
    masker = Masker([params.get("token"), params.get("webhook_secret"), params.get("gitea_web_password")])
    result: dict = {"changed": False}
    engine = None
    try:
        settings, generate_at = settings_from_params(params)
        provider = build_provider(params, masker, transport, web_transport, sleep)
        prepare_key = (lambda: sshkey.generate(generate_at, params["deploy_key_title"])) if generate_at else None
        engine = ForgeRepository(provider, settings, check_mode=module.check_mode, warn=module.warn,
                                 prepare_key=prepare_key, sleep=sleep)
        if generate_at:
            engine.actions.append(f"generate the ed25519 deploy key file {generate_at}")
        result = engine.run()
        if "deploy_key" in result:
            result["deploy_key"]["private_key_path"] = params.get("deploy_key_path")
            result["deploy_key"]["generated"] = bool(generate_at)
    except ForgeError as exc:
        details = masker.mask(exc.details)
        applied = list(engine.applied) if engine is not None else []
        module.fail_json(msg=masker.mask(exc.msg), exception=masker.mask(traceback.format_exc()),
                         error_type=type(exc).__name__, changed=bool(applied), applied=masker.mask(applied),
                         **details)
    diff = result.pop("diff", None)
    if module._diff and diff is not None:
        result["diff"] = {
            "before": diff["before"], "after": diff["after"],
            "before_header": f"{params['owner']}/{params['name']} on {params['forge']} (before)",
            "after_header": f"{params['owner']}/{params['name']} on {params['forge']} (after, secrets hidden)",
        }
    module.exit_json(**masker.mask(result))
