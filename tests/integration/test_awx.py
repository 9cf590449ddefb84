"""The AWX / Automation Platform credential types of docs/awx/credential_types/: their injectors give the
playbooks exactly the variables and environment they read. Offline; run by ``make test-galaxy``.
The same injections drive a real bootstrap through ansible-runner in test_ansible_runner.py.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import yaml
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from awx_injectors import CREDENTIAL_TYPES, ROOT, inject, load

BOOTSTRAP = (ROOT / "playbooks" / "bootstrap.yml").read_text()
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----\n"
KNOWN_HOSTS = "git.example.com,192.0.2.7 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest\n[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest2"

# credential type -> (its inputs in a test, the extra variables and environment it must inject)
EXPECTED = {
    "kubeconfig": ({"kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n"}, {"gitops_kubeconfig"}, {"K8S_AUTH_KUBECONFIG"}),
    "infra_repo_ssh": ({"ssh_private_key": KEY, "known_hosts": KNOWN_HOSTS},
                       {"gitops_infra_repo_ssh_key", "gitops_infra_repo_known_hosts"}, set()),
    "infra_repo_token": ({"token": "tok-0123456789"}, {"gitops_infra_repo_https_token", "gitops_infra_repo_https_username"}, set()),
}


def _templates(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _templates(value)
    elif isinstance(node, list):
        for value in node:
            yield from _templates(value)
    else:
        yield node


def test_every_credential_type_is_tested() -> None:
    assert {p.stem for p in CREDENTIAL_TYPES.glob("*.yml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_injectors_read_only_declared_fields_and_secrets_are_secret(name: str) -> None:
    ctype = load(name)
    assert set(ctype) <= {"name", "description", "kind", "inputs", "injectors"}, "awx.awx.credential_type takes these keys"
    assert ctype["kind"] == "cloud"
    fields = {f["id"]: f for f in ctype["inputs"]["fields"]}
    for field in fields.values():
        assert field["type"] == "string" and field.get("label"), field
        if re.search(r"key|token|kubeconfig", field["id"]):
            assert field.get("secret") is True, f"{name}: {field['id']} must be secret (AWX then never shows it again)"
    assert set(ctype["inputs"]["required"]) == set(fields), f"{name}: an empty input would inject an empty value"
    env = ImmutableSandboxedEnvironment()
    for template in _templates(ctype["injectors"]):
        used = meta.find_undeclared_variables(env.parse(template))
        assert used <= set(fields) | {"tower"}, f"{name}: {template} reads {used - set(fields)}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_injected_names_are_exactly_what_the_playbooks_read(name: str, tmp_path: Path) -> None:
    inputs, want_vars, want_env = EXPECTED[name]
    env, extra_vars = inject(load(name), inputs, tmp_path)
    assert set(extra_vars) == want_vars
    assert set(env) == want_env
    for var in extra_vars:
        # bootstrap.yml reads each per host (hostvars[cluster_host].<var>) or as a play variable
        assert re.search(rf"(\.|\b){var}\s*\|", BOOTSTRAP), f"bootstrap.yml does not read {var}"
    # the modules take kubernetes.core's auth spec (K8S_AUTH_<option>); the client names the variable in its advice
    client = (ROOT / "plugins" / "module_utils" / "_k8s" / "client.py").read_text()
    for var in env:
        assert var in client, f"the modules do not read the environment variable {var}"


def test_kubeconfig_is_a_private_file_named_by_both_injections(tmp_path: Path) -> None:
    inputs = EXPECTED["kubeconfig"][0]
    env, extra_vars = inject(load("kubeconfig"), inputs, tmp_path)
    path = Path(extra_vars["gitops_kubeconfig"])
    assert env["K8S_AUTH_KUBECONFIG"] == str(path)
    assert path.parent == tmp_path and path.read_text() == inputs["kubeconfig"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_ssh_credential_fits_the_infra_repo_role_options(tmp_path: Path) -> None:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # pylint: disable=import-outside-toplevel

    _env, extra_vars = inject(load("infra_repo_ssh"), EXPECTED["infra_repo_ssh"][0], tmp_path)
    spec = yaml.safe_load((ROOT / "roles" / "infra_repo" / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    wanted = {k: {kk: vv for kk, vv in options[k].items() if kk in ("type", "elements")}
              for k in ("infra_repo_ssh_private_key", "infra_repo_ssh_known_hosts")}
    result = ArgumentSpecValidator(wanted).validate({"infra_repo_ssh_private_key": extra_vars["gitops_infra_repo_ssh_key"],
                                                     "infra_repo_ssh_known_hosts": extra_vars["gitops_infra_repo_known_hosts"]})
    assert not result.error_messages, result.error_messages
    assert result.validated_parameters["infra_repo_ssh_private_key"] == KEY
    # every line as given: a plain string would be split at the comma of 'host,address'
    assert "\n".join(result.validated_parameters["infra_repo_ssh_known_hosts"]).splitlines() == KNOWN_HOSTS.splitlines()
    split = ArgumentSpecValidator(wanted).validate({"infra_repo_ssh_known_hosts": KNOWN_HOSTS})
    assert split.validated_parameters["infra_repo_ssh_known_hosts"][0] == "git.example.com"


def test_token_credential_defaults_the_user_name(tmp_path: Path) -> None:
    _env, extra_vars = inject(load("infra_repo_token"), {"token": "t-1"}, tmp_path)
    assert extra_vars == {"gitops_infra_repo_https_token": "t-1", "gitops_infra_repo_https_username": "git"}
    _env, extra_vars = inject(load("infra_repo_token"), {"token": "t-1", "username": "x-access-token"}, tmp_path)
    assert extra_vars["gitops_infra_repo_https_username"] == "x-access-token"
