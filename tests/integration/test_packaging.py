"""The collection as its users and the ecosystem's tools see it: the built tarball.

Run by ``make test-galaxy``, which builds the tarball (GITOPS_COLLECTION_TARBALL) and the
virtualenv of galaxy-importer and antsibull-docs (GITOPS_GALAXY_VENV). Offline; no cluster.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from galaxy import required_env

ROOT = Path(__file__).resolve().parents[2]

# What a user of the collection needs, and nothing else (galaxy.yml build_ignore keeps the rest out).
ALLOWED_TOP = {
    "MANIFEST.json", "FILES.json", "README.md", "LICENSE", "requirements.txt", "requirements.yml",
    "bindep.txt", "plugins", "roles", "playbooks", "meta", "docs", "changelogs",
}
# Development files that only work in a checkout, wherever they sit in the tree.
FORBIDDEN = re.compile(
    r"(^|/)(Makefile|mk|hack|molecule|tests|benchmarks|\.ci|\.git[^/]*|ansible\.cfg|requirements-test\.txt"
    r"|\.ansible-lint|\.yamllint|__pycache__|[^/]*\.pyc|inventory\.local)(/|$)"
)

# The playbooks that act on the group 'clusters' (or the group given in the variable).
GROUP_PLAYBOOKS = {
    "argocd_install.yml": "argocd_hosts",
    "argocd_uninstall.yml": "argocd_hosts",
    "rbac_audit.yml": "rbac_audit_hosts",
    "rbac_restore.yml": "rbac_restore_hosts",
}


@pytest.fixture(scope="module")
def extracted(tarball: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("collection")
    dest = root / "ansible_collections" / "gitops" / "bootstrap"
    dest.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of the checkout's ANSIBLE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "GALAXY_IMPORTER_"))}
    env.update(ANSIBLE_NOCOLOR="1", **extra)
    return env


def test_tarball_holds_what_a_user_needs_and_nothing_else(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = [m.name for m in tar.getmembers()]
    top = {n.split("/", 1)[0] for n in names}
    assert top <= ALLOWED_TOP, f"the tarball ships {sorted(top - ALLOWED_TOP)}: add them to build_ignore in galaxy.yml"
    dev = sorted(n for n in names if FORBIDDEN.search(n))
    assert not dev, f"the tarball ships development files: {dev}"
    for needed in ("README.md", "LICENSE", "meta/runtime.yml", "changelogs/changelog.yaml", "requirements.txt",
                   "plugins/modules/infra_repo.py", "playbooks/bootstrap.yml"):
        assert needed in names, f"{needed} is missing from the tarball"
    for role in sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir()):
        assert f"roles/{role}/README.md" in names, f"role {role} has no README.md"
    size = tarball.stat().st_size
    print(f"\n{tarball.name}: {size} bytes ({size / 1024:.0f} KiB), {len(names)} entries")


def test_changelog_records_the_release_of_galaxy_yml() -> None:
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())
    assert version in (changes.get("releases") or {}), f"changelogs/changelog.yaml records no release {version}"


def test_galaxy_importer_passes_without_warning(tarball: Path, galaxy_bin: Path, tmp_path: Path) -> None:
    config = required_env("GALAXY_IMPORTER_CONFIG")
    env = _clean_env(GALAXY_IMPORTER_CONFIG=config, PATH=f"{galaxy_bin}:{os.environ['PATH']}",
                     ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    proc = subprocess.run([str(galaxy_bin / "python"), "-m", "galaxy_importer.main", str(tarball)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    problems = [line for line in out.splitlines() if re.match(r"\s*(ERROR|WARNING)\b", line)]
    assert not problems, "\n".join(problems)
    assert "Import completed" in out or "Collection loading complete" in out, out


# galaxy-importer's own ansible-lint call is bounded by a fixed 180 s, which a loaded 2-core
# machine can pass; the importer runs with RUN_ANSIBLE_LINT off and this test runs the same
# command (arguments of galaxy_importer/loaders/collection.py) on the same extracted tarball.
GALAXY_LINT_ARGS = ["--profile", "production", "--exclude", "tests/integration/", "--exclude", "tests/unit/",
                    "--format=pep8", "--nocolor", "-x",
                    "yaml,var-naming,avoid-dot-notation,import-task-no-when,single-entry-point,use-loop", "--offline"]


def test_ansible_lint_as_galaxy_runs_it_is_clean(extracted: Path, galaxy_bin: Path, tmp_path: Path) -> None:
    env = _clean_env(PATH=f"{galaxy_bin}:{os.environ['PATH']}", ANSIBLE_COLLECTIONS_PATH=str(extracted.parents[2]),
                     ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_HOME=str(tmp_path / "ansible-home"),
                     XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([str(galaxy_bin / "ansible-lint"), *GALAXY_LINT_ARGS], cwd=extracted, env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not proc.stdout.strip(), proc.stdout


def test_antsibull_docs_lint_is_clean(extracted: Path, galaxy_bin: Path) -> None:
    # antsibull-docs copies each collection with `git ls-files` when it sits in a git work tree:
    # kubernetes.core, linked from the main virtualenv (ignored by this checkout's git), would be
    # copied empty. The ceiling keeps git from taking the virtualenvs for part of the checkout.
    env = _clean_env(PATH=f"{galaxy_bin}:{os.environ['PATH']}",
                     ANSIBLE_COLLECTIONS_PATH=str(extracted.parents[2]),
                     GIT_CEILING_DIRECTORIES=f"{ROOT / '.build'}:{ROOT / '.venv'}")
    proc = subprocess.run([str(galaxy_bin / "antsibull-docs"), "lint-collection-docs", "--plugin-docs", "."],
                          cwd=extracted, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def _install_commands() -> list[str]:
    """The shell lines of the README's Install section that build, install and read the collection."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Install", 1)[1].split("\n### ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    lines = [line.split(" #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith(("ansible-galaxy collection build",
                                                       "ansible-galaxy collection install --force",
                                                       "ansible-doc"))]


def test_readme_install_commands_work_from_the_checkout_and_elsewhere(tmp_path: Path) -> None:
    commands = _install_commands()
    assert [c.split()[0:3] for c in commands] == [
        ["ansible-galaxy", "collection", "build"],
        ["ansible-galaxy", "collection", "install"],
        ["ansible-doc", "gitops.bootstrap.infra_repo"],
    ], commands
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(HOME=str(home), PATH=os.environ["PATH"])

    def run(command: str, cwd: Path) -> str:
        proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, f"`{command}` in {cwd} failed:\n{proc.stdout}{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.stdout

    build, install, doc = commands
    run(build, ROOT)
    # Installed twice (--force over an existing install), from the checkout and from elsewhere.
    for cwd in (ROOT, elsewhere):
        run(install, cwd)
        installed = home / ".ansible" / "collections" / "ansible_collections" / "gitops" / "bootstrap"
        assert (installed / "MANIFEST.json").is_file(), f"`{install}` in {cwd} installed nothing at {installed}"
        assert not installed.is_symlink()
    assert (ROOT / ".git").exists(), "the checkout itself must survive the install"
    for cwd in (ROOT, elsewhere):
        out = run(doc, cwd)
        assert "gitops.bootstrap.infra_repo" in out and "infra" in out.lower(), out
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("playbook", sorted(GROUP_PLAYBOOKS))
def test_playbook_without_clusters_fails_and_says_so(playbook: str, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"dev": {"hosts": {"dev-eu-1": {}}}}}}))
    var = GROUP_PLAYBOOKS[playbook]
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / playbook)],
                          cwd=ROOT, env={**os.environ, "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True,
                          timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{playbook} exited 0 with no cluster to act on:\n{out}"
    assert "No host of the inventory is in 'clusters'" in out, out
    assert f"-e {var}=<group>" in out, out
    # A group named with the variable is the one checked, and named in the message.
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / playbook),
                           "-e", f"{var}=nowhere"],
                          cwd=ROOT, env={**os.environ, "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True,
                          timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "No host of the inventory is in 'nowhere'" in out, out
