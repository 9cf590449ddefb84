# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""infra_repo_on_disagreement: propose, against the real Gitea of tests/integration/forge.py.

A reviewed change in Git sets a value the inventory also renders; the role keeps Git's value on
the default branch and proposes the inventory's value in a pull request from its own branch
(never a direct push); a re-run updates nothing and opens no second pull request. Every claim
is read back from the forge's API.
"""

from __future__ import annotations

import urllib.parse

from conftest import run_playbook
from forge import BOT_SCOPES

CM_PATH = "clusters/dev/argocd/argocd-cm.yaml"
BRANCH = "gitops/inventory-dev"
PLAY = """
- name: Infra repo with Argo CD's configuration
  hosts: localhost
  gather_facts: false
  vars:
    infra_repo_argocd_config:
      config_maps: "{{ {'admin_enabled': false, 'reconciliation_timeout': '120s'} | gitops.bootstrap.argocd_config_maps }}"
  roles:
    - role: gitops.bootstrap.infra_repo
"""


def test_propose_opens_one_pull_request_with_the_inventory_s_values(forge):
    org = forge.create_org()
    repo = forge.create_repo(org, "infra", auto_init=True)
    bot = forge.create_user(forge.unique("bot"), scopes=BOT_SCOPES)
    forge.add_collaborator(repo, bot.name, "write")
    base = {"infra_repo_url": forge.git_url(repo), "infra_repo_cluster": "dev", "infra_repo_pipeline": "gitea",
            "infra_repo_https_username": bot.name, "infra_repo_https_token": bot.token, "infra_repo_timeout": 60}
    forge_vars = {"infra_repo_forge": "gitea", "infra_repo_forge_api_url": forge.base_url, "infra_repo_forge_token": bot.token,
                  "infra_repo_forge_timeout": 10}

    def run(**extra):
        res = run_playbook(PLAY, extra_vars=dict(base, **extra), timeout=300)
        for secret in (bot.token, urllib.parse.quote(bot.token)):
            assert secret not in res.stdout and secret not in res.stderr
        return res

    def task(res, name):
        return res.task_result(f"gitops.bootstrap.infra_repo : {name}")

    def pulls():
        return forge.admin.client.get(f"/repos/{repo}/pulls", query={"state": "all", "limit": 50})

    def show(path, ref):
        resp = forge.admin.client.request("GET", f"/repos/{repo}/raw/{urllib.parse.quote(path)}", query={"ref": ref},
                                          expect=(200, 404))
        return resp.data if resp.status == 200 else None

    res = run()
    assert res.failures() == 0, res
    rendered = show(CM_PATH, "main")
    assert 'admin.enabled: "false"' in rendered
    # A reviewed change in Git enables the admin user.
    forge.commit_files(repo, {CM_PATH: rendered.replace('admin.enabled: "false"', 'admin.enabled: "true"')},
                       message="enable the admin user (reviewed)", as_user=forge.platform)
    main_head = forge.branch_sha(repo, "main")

    res = run(infra_repo_on_disagreement="propose", **forge_vars)
    assert res.failures() == 0, res
    assert task(res, "Result of the infra repository run is kept")["ansible_facts"]["infra_repo_result"]["changed"] is False
    assert forge.branch_sha(repo, "main") == main_head, "propose pushed to the default branch"
    assert 'admin.enabled: "true"' in show(CM_PATH, "main")
    (pull,) = pulls()
    assert pull["state"] == "open" and pull["head"]["ref"] == BRANCH and pull["base"]["ref"] == "main"
    assert pull["title"] == "gitops.bootstrap: the inventory's values for cluster dev"
    assert 'admin.enabled: "false"' in show(CM_PATH, BRANCH)
    said = [r.get("msg", "") for r in task(res, "Values Git holds against the inventory are reported (Git's value kept)")["results"]]
    assert len(said) == 1 and 'data.admin.enabled: Git has "true"' in said[0] and 'the inventory has "false"' in said[0]
    assert f"proposed in a pull request from {BRANCH}" in said[0]
    reported = task(res, "Pull request with the inventory's values is reported")["msg"]
    assert reported.startswith("opened: ") and "merging it changes clusters dev" in reported
    branch_head = forge.branch_sha(repo, BRANCH)

    # A re-run: the same pull request, nothing pushed, changed=0.
    res = run(infra_repo_on_disagreement="propose", **forge_vars)
    assert res.failures() == 0, res
    assert res.changed() == 0
    assert len(pulls()) == 1 and forge.branch_sha(repo, BRANCH) == branch_head and forge.branch_sha(repo, "main") == main_head
