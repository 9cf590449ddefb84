# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gitea pipeline of the scaffold: review files where Gitea reads them, in the syntax it reads.

Gitea 1.26 reads the code owners from ``CODEOWNERS``, ``docs/CODEOWNERS`` or
``.gitea/CODEOWNERS`` of the default branch; it splits each line into tokens (a backslash
escapes the next character, ``#`` starts a comment), compiles the first token as a regular
expression anchored at both ends and requests the review of the owners of every matching line.
``gitea_owners`` below follows that reading; that Gitea really requests the review is proven
against the live Gitea by tests/integration/test_forge_pull_request.py.
"""

from __future__ import annotations

import re

import yaml

from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold

SPEC = {"cluster": "dev", "repo_url": "https://git.example.com/platform/infra.git", "apps": [{"name": "web"}],
        "owners": ["@platform"], "prod_owners": ["@platform/prod"]}


def render(pipeline: str) -> dict:
    return _scaffold.render_files(dict(SPEC, pipeline=pipeline))


def tokens(line: str) -> list[str]:
    out, token, escape = [], "", False
    for char in line.strip().replace("\t", " "):
        if escape:
            token, escape = token + char, False
        elif char == "\\":
            escape = True
        elif char == "#":
            break
        elif char == " ":
            if token:
                out.append(token)
            token = ""
        else:
            token += char
    return out + ([token] if token else [])


def gitea_owners(codeowners: str, path: str) -> set[str]:
    owners = set()
    for line in codeowners.splitlines():
        parts = tokens(line)
        if len(parts) < 2:
            continue
        try:
            pattern = re.compile(f"^{parts[0].lstrip('/')}$")
        except re.error:
            continue  # Gitea drops the line with a warning
        if pattern.match(path):
            owners.update(parts[1:])
    return owners


def test_review_files_where_gitea_reads_them():
    files = render("gitea")
    assert {".gitea/CODEOWNERS", ".gitea/pull_request_template.md", ".gitea/workflows/validate.yaml"} <= set(files)
    assert not any(p.startswith((".github/", ".gitlab")) or p == "CODEOWNERS" for p in files)
    assert "see `.gitea/CODEOWNERS`" in files["README.md"]
    assert files[".gitea/pull_request_template.md"] == render("github")[".github/pull_request_template.md"]


def test_codeowners_as_gitea_matches_them():
    text = render("gitea")[".gitea/CODEOWNERS"]
    assert gitea_owners(text, "README.md") == {"@platform"}
    assert gitea_owners(text, "clusters/dev/apps/web.yaml") == {"@platform"}
    assert gitea_owners(text, ".gitops/managed.yaml") == {"@platform"}
    assert gitea_owners(text, "apps/web/overlays/dev/kustomization.yaml") == {"@platform"}
    # the last environment's overlays: only their own owners, as the last match does on GitHub
    assert gitea_owners(text, "apps/web/overlays/prod/kustomization.yaml") == {"@platform/prod"}
    # every pattern compiles (Gitea drops a line whose pattern does not, such as GitHub's "*")
    for line in text.splitlines():
        parts = tokens(line)
        if len(parts) >= 2:
            re.compile(parts[0])
    assert gitea_owners(render("github")[".github/CODEOWNERS"], "README.md") == set()


def test_gitea_workflow_runs_the_github_jobs_and_steps():
    gitea = yaml.safe_load(render("gitea")[".gitea/workflows/validate.yaml"])
    github = yaml.safe_load(render("github")[".github/workflows/validate.yaml"])
    assert gitea["jobs"].keys() == github["jobs"].keys() == {"validate", "dry-run", "plan"}
    for job in github["jobs"]:
        github["jobs"][job].pop("environment", None)
        gitea_steps = [{k: v for k, v in s.items() if k != "run"} for s in gitea["jobs"][job]["steps"]]
        github_steps = [{k: v for k, v in s.items() if k != "run"} for s in github["jobs"][job]["steps"]]
        assert gitea_steps == github_steps
    assert "environment" not in gitea["jobs"]["dry-run"]  # Gitea has no deployment environments
    assert gitea[True] == github[True]  # "on:" (YAML 1.1 reads the key as true)
    assert "repository secret DEV_KUBECONFIG" in render("gitea")[".gitea/workflows/validate.yaml"]
