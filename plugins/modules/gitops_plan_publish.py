#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: gitops_plan_publish
short_description: Post a plan to its pull request and set its commit status
version_added: 0.1.0
description:
  - Posts the Markdown of M(gitops.bootstrap.gitops_plan) to a pull request as one comment, found again by its
    marker and updated in place on every new push (never a second comment), and sets a commit status on the
    head commit of the pull request (context O(context)), which a branch protection can require.
  - The status is V(success) when the plan ran, V(failure) when a manifest is broken or a dry run refused an
    object (O(state), taken from the plan's RV(gitops.bootstrap.gitops_plan#module:status)).
  - Nothing is written when the comment and the status already say the same.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - gitops.bootstrap.forge
options:
  owner:
    description: User or organisation that owns the repository.
    type: str
    required: true
  name:
    description: Name of the repository.
    type: str
    required: true
  pull_request:
    description: Number of the pull request.
    type: int
    required: true
  markdown:
    description: The plan as Markdown (RV(gitops.bootstrap.gitops_plan#module:markdown)). Exclusive with O(markdown_path).
    type: str
  markdown_path:
    description: File that holds the plan as Markdown. Exclusive with O(markdown).
    type: path
  state:
    description: The commit status to set.
    type: str
    choices: [success, failure, error, pending]
    required: true
  description:
    description: Short text of the commit status (cut to 140 characters).
    type: str
    default: ""
  target_url:
    description: Link of the commit status (for example the pipeline run).
    type: str
    default: ""
  context:
    description: Name of the commit status, the check a branch protection requires.
    type: str
    default: gitops/plan
  marker:
    description: "Identifies the one comment of the plan (letters, digits and C(. _ : / @ + = -))."
    type: str
    default: gitops-plan
  sha:
    description: Commit to set the status on; defaults to the head commit of the pull request.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: none
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
"""

EXAMPLES = r"""
---
- name: The plan is on the pull request
  gitops.bootstrap.gitops_plan_publish:
    forge: gitea
    api_url: https://git.example.com
    token: "{{ forge_token }}"
    owner: platform
    name: infra
    pull_request: 42
    markdown: "{{ plan.markdown }}"
    state: "{{ plan.status }}"
"""

RETURN = r"""
comment:
  description: The comment (C(id), C(url), C(author), C(action) created/updated/unchanged).
  returned: success
  type: dict
commit_status:
  description: The status (C(sha), C(context), C(state), C(description), C(target_url), C(changed)).
  returned: success
  type: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitops.bootstrap.plugins.module_utils._argspec import forge_connection_options
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import ForgeError, ForgeInputError, Masker
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.pulls import pull_requests_for
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.runner import build_provider, check_connection


def publish(params: dict, masker: Masker, transport=None) -> dict:
    text = params["markdown"]
    if params["markdown_path"]:
        try:
            with open(params["markdown_path"], encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise ForgeInputError(f"markdown_path {params['markdown_path']}: cannot read it ({exc.strerror})") from None
    if not (text or "").strip():
        raise ForgeInputError("the plan's Markdown is empty: give markdown (the result of gitops_plan) or markdown_path")
    check_connection(params, token_holder="the pipeline's forge user")
    provider = build_provider(params, masker, transport=transport)
    repo = provider.get_repo(params["owner"], params["name"])
    if repo is None:
        raise ForgeInputError(f"repository {params['owner']}/{params['name']} does not exist on {provider.label} "
                              "(or the token cannot see it)")
    pulls = pull_requests_for(provider)
    pr = pulls.get(repo, params["pull_request"])
    sha = params["sha"] or pr.head_sha
    comment = pulls.upsert_comment(repo, pr.number, params["marker"], text)
    description = params["description"] or ("the plan ran" if params["state"] == "success" else "the plan found errors")
    status = pulls.set_status(repo, sha, params["state"], params["context"], description, params["target_url"])
    return {"changed": comment.action != "unchanged" or status.changed, "comment": comment.view(),
            "commit_status": status.view(), "pull_request": pr.number}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **forge_connection_options(),
            owner=dict(type="str", required=True),
            name=dict(type="str", required=True),
            pull_request=dict(type="int", required=True),
            markdown=dict(type="str"),
            markdown_path=dict(type="path"),
            state=dict(type="str", required=True, choices=["success", "failure", "error", "pending"]),
            description=dict(type="str", default=""),
            target_url=dict(type="str", default=""),
            context=dict(type="str", default="gitops/plan"),
            marker=dict(type="str", default="gitops-plan"),
            sha=dict(type="str"),
        ),
        mutually_exclusive=[("markdown", "markdown_path")],
        required_one_of=[("markdown", "markdown_path")],
        supports_check_mode=False,
    )
    masker = Masker([module.params.get("token")])
    try:
        result = publish(module.params, masker)
    except ForgeError as exc:
        module.fail_json(msg=masker.mask(exc.msg), exception=masker.mask(traceback.format_exc()), error_type=type(exc).__name__)
    module.exit_json(**masker.mask(result))


if __name__ == "__main__":
    main()
