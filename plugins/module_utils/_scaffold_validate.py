# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validation script written into scaffolded infra repositories as .gitops/validate.py.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

The script itself is the module util ``_infra_validate.py``: a Python file that linters and
unit tests read as code. It runs in the infra repository (locally through ``make validate``
and in its pipeline), not in Ansible, so it is read here as data and never imported. The
generated file is ``SHEBANG`` followed by that file without its leading comment block (the
collection's licence header and the notes for linters), with one line changed: where PyYAML
is missing, the module util goes on (module utils import without their third-party packages)
and the program stops and says what to install.
"""

from __future__ import annotations

import importlib.util
import typing

SHEBANG = "#!/usr/bin/env python3\n"

# AnsiballZ puts into a module's payload the module utils that the module's code imports,
# found by reading the import statements; the import below is never run, it only tells the
# packer to ship the script's file, which read_script() then reads from the payload.
if typing.TYPE_CHECKING:
    from ansible_collections.gitops.bootstrap.plugins.module_utils import _infra_validate

    SCRIPT_MODULE = _infra_validate.__name__
else:
    SCRIPT_MODULE = "ansible_collections.gitops.bootstrap.plugins.module_utils._infra_validate"


# The one line in which the program differs from the module util (see the module docstring).
AS_MODULE_UTIL = "    yaml = None  # a module util imports without PyYAML; the generated program exits here instead\n"
AS_PROGRAM = '    sys.exit("error: PyYAML is missing: pip install -r .gitops/requirements.txt")\n'


def script_text(source: str) -> str:
    """The generated file from the module util's source: the leading comment block replaced by the
    shebang, the module util's PyYAML fallback by the program's exit."""
    lines = source.splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    body = lines[start:]
    if body.count(AS_MODULE_UTIL) != 1:
        raise ImportError(f"the validation script must hold the line {AS_MODULE_UTIL.strip()!r} once; "
                          "it is where the generated program exits without PyYAML")
    return SHEBANG + "".join(AS_PROGRAM if line == AS_MODULE_UTIL else line for line in body)


def read_script(module_name: str = SCRIPT_MODULE) -> str:
    """Read the script's file through its loader (a directory, or the zip of a module's payload)."""
    spec = importlib.util.find_spec(module_name)
    get_data = getattr(spec.loader, "get_data", None) if spec else None
    if not (spec and spec.origin and get_data):
        raise ImportError(f"cannot read {module_name}: the collection is incomplete; reinstall gitops.bootstrap")
    data = get_data(spec.origin)
    if not data:
        raise ImportError(f"cannot read {module_name} from {spec.origin}: reinstall gitops.bootstrap")
    return script_text(data.decode("utf-8"))


VALIDATE_PY = read_script()
