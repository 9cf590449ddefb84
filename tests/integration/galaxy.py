# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tests of the built collection share (test_packaging, test_execution_environment).

``make test-galaxy`` builds the tarball (GITOPS_COLLECTION_TARBALL) and the virtualenv of the
ecosystem's tools (GITOPS_GALAXY_VENV: galaxy-importer, antsibull-docs, ansible-builder, bindep).
The fixtures reach every test module through tests/integration/conftest.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def required_env(name: str) -> str:
    """The value of an environment variable that ``make test-galaxy`` sets; the test fails without it."""
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"{name} is not set: run these tests with `make test-galaxy`")
    return value


def galaxy_tool(galaxy_bin: Path, name: str) -> Path:
    """A program of the galaxy tools' virtualenv, which must be installed there."""
    tool = galaxy_bin / name
    assert tool.exists(), f"{galaxy_bin.parent} has no {name}: run `make galaxy-tools`"
    return tool


@pytest.fixture(scope="module")
def tarball() -> Path:
    """The collection tarball built by ``make test-galaxy``."""
    path = Path(required_env("GITOPS_COLLECTION_TARBALL")).resolve()
    assert path.is_file(), f"{path} does not exist"
    return path


@pytest.fixture(scope="module")
def galaxy_bin() -> Path:
    """The bin/ folder of the galaxy tools' virtualenv."""
    venv = Path(required_env("GITOPS_GALAXY_VENV"))
    assert (venv / "bin" / "python").exists(), f"{venv} is not a virtualenv"
    return venv / "bin"
