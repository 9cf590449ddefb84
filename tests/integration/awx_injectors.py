"""Credential injection as AWX does it, for the credential types of docs/awx/credential_types/.

AWX renders a credential type's injectors with Jinja (a sandboxed environment) over the credential's
inputs: each ``file`` template is written to a file of the job's private data directory, whose path the
other templates read as ``tower.filename`` (``tower.filename.<name>`` for ``template.<name>``); ``env``
values become the job's environment, ``extra_vars`` (nested lists and mappings rendered leaf by leaf)
its extra variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[2]
CREDENTIAL_TYPES = ROOT / "docs" / "awx" / "credential_types"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((CREDENTIAL_TYPES / f"{name}.yml").read_text())


def inject(credential_type: dict[str, Any], inputs: dict[str, str], private_data_dir: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """(env, extra_vars) of a job that uses a credential of this type with these inputs."""
    fields = {f["id"]: f for f in credential_type["inputs"]["fields"]}
    unknown = set(inputs) - set(fields)
    if unknown:
        raise ValueError(f"inputs {sorted(unknown)} are no fields of {credential_type['name']}")
    namespace: dict[str, Any] = {k: f["default"] for k, f in fields.items() if "default" in f}
    namespace.update(inputs)
    missing = [k for k in credential_type["inputs"].get("required", []) if not namespace.get(k)]
    if missing:
        raise ValueError(f"{credential_type['name']} needs {missing}")
    sandbox = ImmutableSandboxedEnvironment()
    injectors = credential_type.get("injectors", {})
    files: dict[str, str] = {}
    for key, template in injectors.get("file", {}).items():
        fd = os.open(private_data_dir / f"awx_{key.replace('.', '_')}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        path = private_data_dir / f"awx_{key.replace('.', '_')}"
        with os.fdopen(fd, "w") as handle:
            handle.write(sandbox.from_string(template).render(**namespace))
        files[key] = str(path)
    if "template" in files:
        namespace["tower"] = {"filename": files["template"]}
    elif files:
        namespace["tower"] = {"filename": {k.split(".", 1)[1]: v for k, v in files.items()}}

    def render(node: Any) -> Any:
        if isinstance(node, dict):
            return {render(k): render(v) for k, v in node.items()}
        if isinstance(node, list):
            return [render(v) for v in node]
        return sandbox.from_string(node).render(**namespace)

    env = {k: render(v) for k, v in injectors.get("env", {}).items()}
    extra_vars = render(injectors.get("extra_vars", {}))
    return env, extra_vars
