# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generated pipelines run the plan and never apply: the workflows pass actionlint.

No Actions or Jenkins runner runs here; what the plan step runs (playbooks/plan.yml) is proven
against the real forge and cluster by tests/integration/test_plan.py. actionlint is built by
``make actionlint`` ($GITOPS_ACTIONLINT); ``make test-unit`` builds it first and the Makefile exports the variable, so there the lint always runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold

SPEC = {"cluster": "dev", "repo_url": "https://git.example.com/platform/infra.git", "apps": [{"name": "web"}]}
ACTIONLINT = os.environ.get("GITOPS_ACTIONLINT") or ""


def render(pipeline: str) -> dict:
    return _scaffold.render_files(dict(SPEC, pipeline=pipeline))


@pytest.mark.parametrize("pipeline, path", [("github", ".github/workflows/validate.yaml"),
                                            ("gitea", ".gitea/workflows/validate.yaml")])
def test_workflow_passes_actionlint(tmp_path, pipeline, path):
    if not ACTIONLINT:
        pytest.skip("actionlint not built: make actionlint (make test-unit builds it)")
    assert os.access(ACTIONLINT, os.X_OK), f"GITOPS_ACTIONLINT={ACTIONLINT} is not executable: run make actionlint"
    target = tmp_path / ".github" / "workflows" / "validate.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(render(pipeline)[path])
    proc = subprocess.run([ACTIONLINT, "-no-color", str(target)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path):
    """The lint can fail: a workflow whose plan job needs a job that does not exist."""
    if not ACTIONLINT:
        pytest.skip("actionlint not built: make actionlint (make test-unit builds it)")
    target = tmp_path / "validate.yaml"
    target.write_text(render("github")[".github/workflows/validate.yaml"].replace("    needs: validate\n", "    needs: nosuchjob\n"))
    proc = subprocess.run([ACTIONLINT, "-no-color", str(target)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and "nosuchjob" in proc.stdout


@pytest.mark.parametrize("pipeline, path, forge", [("github", ".github/workflows/validate.yaml", "github"),
                                                   ("gitea", ".gitea/workflows/validate.yaml", "gitea")])
def test_workflow_plan_job_runs_the_plan_playbook(pipeline, path, forge):
    text = render(pipeline)[path]
    job = yaml.safe_load(text)["jobs"]["plan"]
    script = job["steps"][-1]["run"]
    assert "ansible-playbook gitops.bootstrap.plan" in script
    assert f"-e gitops_forge={forge}" in script
    assert "gitops_plan_pull_request=$PR_NUMBER" in script
    assert job["needs"] == "validate" and job["if"] == "github.event_name == 'pull_request'"
    # The token reaches the playbook through a file, never on its command line.
    assert "$PLAN_FORGE_TOKEN" not in script.split("ansible-playbook", 1)[1]
    assert "v5.8.1" in job["steps"][2]["run"]


@pytest.mark.parametrize("pipeline", ["github", "gitea", "gitlab", "jenkins"])
def test_no_pipeline_applies(pipeline):
    for path, text in render(pipeline).items():
        if path.endswith((".yaml", ".yml")) or path == "Jenkinsfile":
            for line in text.splitlines():
                if re.search(r"kubectl\s+apply", line):
                    assert "--dry-run=server" in line, f"{path}: {line}"


def test_jenkinsfile_validates_and_plans():
    files = render("jenkins")
    text = files["Jenkinsfile"]
    assert "CODEOWNERS" in files and ".github/workflows/validate.yaml" not in files
    stages = re.findall(r"stage\('([^']+)'\)", text)
    assert stages == ["validate", "plan"]
    assert "when { changeRequest() }" in text
    assert "ansible-playbook gitops.bootstrap.plan" in text and "make validate" in text
    assert "kubectl" not in text
    assert text.count("{") == text.count("}")


@pytest.mark.parametrize("pipeline", ["github", "gitea", "gitlab", "jenkins"])
def test_every_generated_yaml_file_passes_the_scaffolds_own_yamllint(pipeline):
    """The generated repository's validation runs yamllint with its own .yamllint.yaml on every push: a
    scaffold whose files it refuses fails its first pipeline run (a long line of a workflow did)."""
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    files = render(pipeline)
    config = YamlLintConfig(files[".yamllint.yaml"])
    problems = []
    for path, text in sorted(files.items()):
        if path.endswith((".yaml", ".yml")):
            problems += [f"{path}:{p.line}: {p.message}" for p in linter.run(text, config, path)
                         if p.level == "error"]
    assert not problems, "\n".join(problems)


def gitlab_plan_job() -> dict:
    return yaml.safe_load(render("gitlab")[".gitlab-ci.yml"])["plan"]


def test_gitlab_plan_job_runs_on_merge_requests_after_validate():
    ci = yaml.safe_load(render("gitlab")[".gitlab-ci.yml"])
    job = ci["plan"]
    assert ci["stages"] == ["validate", "dry-run", "plan"] and job["stage"] == "plan"
    assert job["needs"] == ["validate"] and job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["artifacts"]["paths"] == ["plan.md", "plan.json"] and job["artifacts"]["when"] == "always"
    script = "\n".join(job["script"])
    assert "v5.8.1" in script and "ansible-galaxy collection install gitops.bootstrap" in script


@pytest.mark.parametrize("playbook_rc, status, job_rc", [(0, "success", 0), (2, "success", 0), (1, "failure", 1),
                                                         (1, "error", 1), (4, "error", 4)])
def test_gitlab_plan_job_script_as_gitlab_runs_it(tmp_path, playbook_rc, status, job_rc):
    """The plan job's script lines run by bash as GitLab runs them (one shell, -e), with the variables GitLab
    gives a merge request pipeline and a stand-in ansible-playbook that records its arguments and writes
    plan.json: the playbook gets the merge request, the forge and the dev kubeconfig for every cluster of the
    first environment; the token reaches it in a file only; the job's exit status follows the plan's."""
    wc = tmp_path / "wc"
    for path, text in render("gitlab").items():
        (wc / path).parent.mkdir(parents=True, exist_ok=True)
        (wc / path).write_text(text)
    stub = tmp_path / "bin"
    stub.mkdir()
    for tool in ("pip", "ansible-galaxy", "curl", "tar", "git"):
        (stub / tool).write_text("#!/bin/sh\nexit 0\n")
        (stub / tool).chmod(0o755)
    (stub / "ansible-playbook").write_text(
        "#!/bin/sh\n"
        "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$STUB_ARGS\"\n"
        "case \"$3\" in @*) cat \"${3#@}\" > \"$STUB_ARGS.vars\";; esac\n"
        "printf '{\"status\": \"%s\"}' \"$STUB_STATUS\" > plan.json\n"
        "exit \"$STUB_RC\"\n")
    (stub / "ansible-playbook").chmod(0o755)
    kubeconfig = tmp_path / "dev-kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    token = "glpat-secret-value-0123456789"
    env = dict(os.environ, PATH=f"{stub}{os.pathsep}{os.environ['PATH']}", STUB_ARGS=str(tmp_path / "args"),
               STUB_STATUS=status, STUB_RC=str(playbook_rc), PLAN_FORGE_TOKEN=token, DEV_KUBECONFIG=str(kubeconfig),
               CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main", CI_MERGE_REQUEST_IID="7", CI_API_V4_URL="https://gitlab.example.com/api/v4",
               CI_PROJECT_NAMESPACE="platform/team", CI_PROJECT_PATH="platform/team/infra")
    script = "\n".join(gitlab_plan_job()["script"])
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=wc, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == job_rc, proc.stdout + proc.stderr
    args = (tmp_path / "args").read_text().splitlines()
    assert args[:2] == ["gitops.bootstrap.plan", "-e"] and args[2].startswith("@")
    for expected in ("gitops_plan_base=origin/main", "gitops_plan_pull_request=7", "gitops_forge=gitlab",
                     "gitops_forge_api_url=https://gitlab.example.com/api/v4", "gitops_forge_owner=platform/team",
                     "gitops_forge_repository=infra", f'{{"gitops_plan_kubeconfigs": {{"dev": "{kubeconfig}"}}}}'):
        assert expected in args, (expected, args)
    assert token not in "\n".join(args) and token not in proc.stdout + proc.stderr
    assert json.loads((tmp_path / "args.vars").read_text()) == {"gitops_forge_token": token}
    # The file that carried the token is gone once the playbook ran.
    assert not os.path.exists(args[2][1:])


def test_gitlab_plan_job_refuses_to_run_without_a_token(tmp_path):
    script = "\n".join(gitlab_plan_job()["script"])
    env = {k: v for k, v in os.environ.items() if k != "PLAN_FORGE_TOKEN"}
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and "set the CI/CD variable PLAN_FORGE_TOKEN" in proc.stdout
