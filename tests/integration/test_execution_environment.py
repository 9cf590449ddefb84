"""The execution environment: ansible-builder's build context for this collection, and what it installs.

Run by ``make test-galaxy`` (GITOPS_COLLECTION_TARBALL, GITOPS_GALAXY_VENV, which holds ansible-builder
and bindep). No container engine is used: the image build itself is not run. What the build's stages do
with the context is run here instead, on this machine: the galaxy stage installs the collection from the
context, and the builder stage's own introspection script (copied into the context by ansible-builder)
reads the Python and system requirements of the installed collections.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from galaxy import galaxy_tool

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"), ANSIBLE_HOME=str(tmp / "ansible-home"))
    return env


@pytest.fixture(scope="module")
def context(galaxy_bin: Path, tmp_path_factory) -> Path:
    """`ansible-builder create` with the repository's execution-environment.yml, as its comment says."""
    ctx = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run([str(galaxy_tool(galaxy_bin, "ansible-builder")), "create", "-f", "execution-environment.yml",
                           "-c", str(ctx), "--output-filename", "Containerfile"],
                          cwd=ROOT, env=_env(ctx.parent), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ctx


def test_collection_metadata_points_at_shipped_requirement_files(tarball: Path) -> None:
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["version"] == 1
    deps = meta["dependencies"]
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert "meta/execution-environment.yml" in names
    for kind in ("python", "system"):
        assert deps[kind] in names, f"meta/execution-environment.yml names {deps[kind]}, which the tarball does not ship"


def test_build_context_holds_the_collection_and_kubernetes_core(context: Path, tarball: Path) -> None:
    containerfile = (context / "Containerfile").read_text()
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    shipped = context / "_build" / "collections" / tarball.name
    assert tarball.name == f"gitops-bootstrap-{version}.tar.gz"
    assert shipped.is_file(), f"the build context has no {tarball.name}: execution-environment.yml names another version"
    assert hashlib.sha256(shipped.read_bytes()).digest() == hashlib.sha256(tarball.read_bytes()).digest()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    entries = {c["name"]: c for c in requirements}
    assert entries[f"collections/{tarball.name}"]["type"] == "file"
    assert "kubernetes.core" in entries
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile, "the builder stage no longer reads the collections' requirements"
    pins = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile).group(1).split()
    core = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("ansible-core=="))
    assert core in pins, f"the EE installs {pins}, the collection is tested with {core}"
    assert any(p.startswith("ansible-runner==") for p in pins)


def test_build_stages_install_the_collection_with_its_python_and_system_requirements(context: Path, galaxy_bin: Path) -> None:
    build = context / "_build"
    collections = context.parent / "usr-share-ansible" / "collections"
    # The galaxy stage (WORKDIR /build): the collection from the context. kubernetes.core would come from
    # Galaxy; offline, the copy of the main virtualenv stands in for it.
    proc = subprocess.run([str(galaxy_tool(galaxy_bin, "ansible-galaxy")), "collection", "install", "--no-deps", "-p", str(collections),
                           "collections/" + next((build / "collections").iterdir()).name],
                          cwd=build, env=_env(context.parent), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (collections / "ansible_collections" / "gitops" / "bootstrap" / "MANIFEST.json").is_file()
    import ansible_collections.kubernetes.core as kcore  # pylint: disable=import-outside-toplevel
    (collections / "ansible_collections" / "kubernetes").mkdir()
    (collections / "ansible_collections" / "kubernetes" / "core").symlink_to(list(kcore.__path__)[0])

    # The builder stage: the introspection script of the context over the installed collections.
    out_pip, out_bindep = context.parent / "requirements.txt", context.parent / "bindep.txt"
    proc = subprocess.run([str(galaxy_tool(galaxy_bin, "python")), str(build / "scripts" / "introspect.py"), "introspect",
                           f"--write-pip={out_pip}", f"--write-bindep={out_bindep}", str(collections)],
                          env=_env(context.parent), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pip_lines = out_pip.read_text().splitlines()
    ours = {re.split(r"[=<>~! ]", line, maxsplit=1)[0].lower() for line in pip_lines if line.endswith("from collection gitops.bootstrap")}
    assert {"kubernetes", "jmespath"} <= ours, pip_lines
    # the EE's own ansible-core is kept: the collection's pins of ansible and ansible-core are left out
    assert not ours & {"ansible", "ansible-core"}, pip_lines
    bindep_lines = out_bindep.read_text().splitlines()
    ours_system = [line for line in bindep_lines if line.endswith("from collection gitops.bootstrap")]
    for package in ("git ", "openssh-clients ", "openssh-client "):
        assert any(line.startswith(package) for line in ours_system), bindep_lines


def test_bindep_lists_git_and_an_ssh_client_on_this_platform(galaxy_bin: Path) -> None:
    proc = subprocess.run([str(galaxy_tool(galaxy_bin, "bindep")), "--file", str(ROOT / "bindep.txt"), "--list_all", "newline"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(proc.stdout.split()) == {"git", "openssh-client"}, proc.stdout
