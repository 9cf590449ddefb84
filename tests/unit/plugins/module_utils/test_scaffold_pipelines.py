# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generated pipelines run the plan and never apply: the workflows pass actionlint.

No Actions or Jenkins runner runs here; what the plan step runs (playbooks/plan.yml) is proven
against the real forge and cluster by tests/integration/test_plan.py. actionlint is built by
``make actionlint`` ($GITOPS_ACTIONLINT); ``make test-unit`` builds it first and the Makefile exports the variable, so there the lint always runs.
"""

from __future__ import annotations

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
