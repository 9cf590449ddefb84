"""bootstrap.yml and rbac_audit.yml run as AWX runs them: through ansible-runner, from the installed collection.

A private data directory as AWX lays it out: the project (a playbook that imports the collection's by
FQCN), the inventory, env/envvars and env/extravars filled by the credential types of
docs/awx/credential_types/ (rendered as AWX renders them, tests/integration/awx_injectors.py), and the
collection installed from the built tarball (GITOPS_COLLECTION_TARBALL, else built from the checkout).
The cluster is a local control plane, the infra repository a smart-HTTP git server on loopback that takes
a token. Run by ``make test-runner``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from awx_injectors import inject, load
from conftest import ARGOCD_MANIFESTS, ROOT as _ROOT, kubectl, start_local_cluster, stop_local_cluster
from gitservers import BareRepo, HttpGitServer

CLUSTER = os.environ.get("GITOPS_TEST_RUNNER_CLUSTER", "runner")
TOKEN = "runner-s3cr3t-token-7f3a9c"
REPO_PASSWORD = "runner-s3cr3t-repo-password-41d2"

ROOT = Path(_ROOT)

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITOPS_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")),
    reason="this test starts its own local cluster",
)


def _runner_bin() -> Path:
    venv = Path(os.environ.get("GITOPS_GALAXY_VENV", ROOT / ".build" / "galaxy-venv"))
    path = venv / "bin" / "ansible-runner"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make galaxy-tools` (or this test with `make test-runner`)")
    return path


def _self_contained(kubeconfig: Path) -> str:
    """The kubeconfig with its certificate and key files inlined, as one pastes it into an AWX credential."""
    config = yaml.safe_load(kubeconfig.read_text())
    for section, entry, keys in (("clusters", "cluster", ("certificate-authority",)),
                                 ("users", "user", ("client-certificate", "client-key"))):
        for item in config[section]:
            for key in keys:
                if key in item[entry]:
                    item[entry][f"{key}-data"] = base64.b64encode(Path(item[entry].pop(key)).read_bytes()).decode()
    return yaml.safe_dump(config)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("runner")
    kubeconfig = Path(start_local_cluster(CLUSTER))
    kubeconfig_text = _self_contained(kubeconfig)
    git_root = base / "git"
    git_root.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(git_root / "infra.git")], check=True, timeout=60)
    server = HttpGitServer(git_root, username="gitops", token=TOKEN)

    pdd = base / "pdd"
    (pdd / "project").mkdir(parents=True)
    (pdd / "env").mkdir()
    (pdd / "inventory" / "group_vars").mkdir(parents=True)
    # outside the checkout (its ansible.cfg names a collections path) and with none of its ANSIBLE_* settings
    home = base / "home"
    home.mkdir()
    env_build = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env_build["HOME"] = str(home)
    if os.environ.get("GITOPS_COLLECTION_TARBALL"):
        tarball = Path(os.environ["GITOPS_COLLECTION_TARBALL"])
    else:
        proc = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(base / "dist"), str(ROOT)],
                              cwd=base, capture_output=True, text=True, timeout=300, check=False, env=env_build)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        built = sorted((base / "dist").glob("gitops-bootstrap-*.tar.gz"))
        assert built, f"ansible-galaxy built no tarball in {base / 'dist'}: {proc.stdout}"
        tarball = built[0]
    proc = subprocess.run(["ansible-galaxy", "collection", "install", "--no-deps", "-p", str(pdd / "requirements_collections"),
                           str(tarball)], cwd=base, capture_output=True, text=True, timeout=300, check=False, env=env_build)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (pdd / "requirements_collections" / "ansible_collections" / "gitops" / "bootstrap" / "MANIFEST.json").is_file(), proc.stdout

    (pdd / "project" / "bootstrap.yml").write_text(
        "---\n- name: GitOps bootstrap\n  ansible.builtin.import_playbook: gitops.bootstrap.bootstrap\n")
    (pdd / "project" / "rbac_audit.yml").write_text(
        "---\n- name: RBAC audit\n  ansible.builtin.import_playbook: gitops.bootstrap.rbac_audit\n")
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {"clusters": {"children": {"dev": {"hosts": {CLUSTER: {}}}}}},
    }}))
    (pdd / "inventory" / "group_vars" / "clusters.yml").write_text(yaml.safe_dump({
        "gitops_infra_repo_url": server.url("infra.git"),
        "gitops_infra_repo_branch": "main",
        "argocd_version": "v3.5.1",
        "argocd_manifest_source": os.path.join(ARGOCD_MANIFESTS, "v3.5.1"),
        "argocd_repositories": [
            {"name": "apps-repo", "url": "https://git.example.invalid/platform/apps.git", "username": "argocd", "password": REPO_PASSWORD},
        ],
        "rbac_lockdown_mode": "audit",
    }))
    # The job's credentials, as AWX injects them into the private data directory.
    env_k, vars_k = inject(load("kubeconfig"), {"kubeconfig": kubeconfig_text}, pdd)
    env_t, vars_t = inject(load("infra_repo_token"), {"token": TOKEN, "username": "gitops"}, pdd)
    (pdd / "env" / "envvars").write_text(yaml.safe_dump({
        **env_k, **env_t,
        "ANSIBLE_COLLECTIONS_PATH": str(pdd / "requirements_collections"),
        "ANSIBLE_NOCOLOR": "1",
    }))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump({**vars_k, **vars_t}))
    secrets = [TOKEN, REPO_PASSWORD]
    user = yaml.safe_load(kubeconfig_text)["users"][0]["user"]
    secrets.append(user["client-key-data"])
    secrets += [line for line in base64.b64decode(user["client-key-data"]).decode().splitlines() if len(line) > 40][:3]

    # The job's environment: AWX's, with none of this checkout's settings, no PWD, HOME of the job.
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "GITOPS_", "K8S_AUTH_")) and k not in ("PWD", "KUBECONFIG")}
    run_env.update(HOME=str(home), PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    yield {"pdd": pdd, "env": run_env, "home": home, "server": server, "git_root": git_root,
           "kubeconfig": str(kubeconfig), "secrets": secrets}
    server.stop()
    stop_local_cluster(CLUSTER)


def _run(setup, playbook: str, ident: str) -> Path:
    proc = subprocess.run([str(_runner_bin()), "run", str(setup["pdd"]), "-p", playbook, "--ident", ident],
                          cwd="/", env=setup["env"], capture_output=True, text=True, timeout=900, check=False)
    artifacts = setup["pdd"] / "artifacts" / ident
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert (artifacts / "rc").read_text().strip() == "0"
    assert (artifacts / "status").read_text().strip() == "successful"
    return artifacts


def _events(artifacts: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]


def _no_secret_in(directory: Path, secrets: list[str]) -> None:
    hits = []
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        hits += [f"{path.relative_to(directory)}: {s[:6]}..." for s in secrets if s.encode() in data]
    assert not hits, f"secret values in the artifacts: {hits}"


def test_bootstrap_through_ansible_runner(setup) -> None:
    artifacts = _run(setup, "bootstrap.yml", "bootstrap")
    events = _events(artifacts)
    kinds = {e["event"] for e in events}
    assert {"playbook_on_start", "playbook_on_task_start", "runner_on_ok", "playbook_on_stats"} <= kinds, kinds
    stats = next(e for e in events if e["event"] == "playbook_on_stats")["event_data"]
    assert CLUSTER in stats["ok"] and not stats.get("failures") and not stats.get("dark"), stats
    assert any(e["event"] == "runner_on_ok" and e["event_data"].get("host") == CLUSTER and "infra_repo" in e["event_data"].get("task_action", "")
               for e in events), "no infra_repo task ran for the cluster"
    # it landed: the layout in the repository (pushed with the token), Argo CD's root application in the cluster
    files = BareRepo(str(setup["git_root"] / "infra.git")).files()
    assert any(f.startswith(f"clusters/{CLUSTER}/") for f in files), files
    app = kubectl(setup["kubeconfig"], "-n", "argocd", "get", "applications.argoproj.io", "root", "-o", "json")
    assert json.loads(app.stdout)["spec"]["source"]["path"].startswith(f"clusters/{CLUSTER}")
    _no_secret_in(artifacts, setup["secrets"])


def test_rbac_audit_report_lands_in_the_documented_directory(setup) -> None:
    artifacts = _run(setup, "rbac_audit.yml", "rbac_audit")
    report = setup["home"] / ".local" / "state" / "gitops-bootstrap" / "rbac-audit" / f"rbac-audit-{CLUSTER}.md"
    assert report.is_file(), f"no report at {report}"
    assert not Path(f"/rbac-audit-{CLUSTER}.md").exists(), "the report landed in /"
    assert not list((setup["pdd"] / "project").glob("rbac-audit-*")), "the report landed in the project directory"
    assert oct(report.parent.stat().st_mode & 0o777) == "0o700"
    _no_secret_in(artifacts, setup["secrets"])
