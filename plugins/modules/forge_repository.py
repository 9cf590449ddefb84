#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: forge_repository
short_description: Ensure the infra repository on Gitea, GitHub or GitLab is reviewed, read by Argo CD and wired to its webhook
version_added: 0.1.0
description:
  - Ensures, on the forge, that the infra repository exists (created private when missing; an
    existing repository is adopted, never recreated, and its visibility is never changed; a
    mismatch is reported).
  - Protects the default branch so that changes go through reviewed pull requests, with no direct
    pushes except the identities in O(push_allowlist_users) and O(push_allowlist_teams),
    O(required_approvals) approvals, approvals dismissed by new commits, O(required_status_checks)
    must pass, and code owners' review where the forge supports it.
  - Existing protection is merged, never weakened; stricter live settings are kept (more
    approvals, more checks, settings this module does not manage, rules of other branches).
    A live rule that grants more than asked (direct pushes for everyone, or for identities
    outside the allowlist) is a conflict, reported in RV(conflicts) and as a warning and kept,
    unless O(protection_conflict=replace).
  - Registers a read-only deploy key for Argo CD, from O(deploy_key_public) or from the private
    key file O(deploy_key_path), which is generated (ed25519, mode 0600) when it does not exist.
    The private key never appears in the output; pass the file to
    M(gitops.bootstrap.argocd_repository).
  - Creates a push webhook to Argo CD's C(/api/webhook) with O(webhook_secret). The forge never
    returns a webhook secret, so the module keeps a salted PBKDF2 fingerprint of it on the
    webhook (Gitea, the webhook's name; GitLab, its description; GitHub, the query parameter
    C(gitops_secret) of the delivery URL, which Argo CD ignores); a changed secret is detected
    and applied. Store the same secret in C(argocd-secret) under RV(argocd_secret_key).
  - After creating or changing the webhook, or with O(webhook_test=true), the forge sends a test
    event and the module reads the forge's record of the delivery; a failed delivery fails the
    task with the forge's status code and error.
  - Every check that can be made before a change is made first (token, owner, permissions,
    allowlist identities, key and webhook conflicts), so bad input changes nothing.
  - Only the Gitea provider is exercised against a live server by the collection's tests; the
    GitHub and GitLab providers follow their documented REST APIs and are tested with recorded
    request and response pairs.
author:
  - gitops.bootstrap contributors (@gitops-bootstrap)
extends_documentation_fragment:
  - gitops.bootstrap.forge
  - gitops.bootstrap.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the forge and reports what would change; nothing is written and no key file is generated.
  diff_mode:
    support: full
    details:
      - Repository, branch protection, deploy key and webhook, before and after; secrets are never shown.
  idempotent:
    support: full
    details:
      - A webhook test delivery is not a change. With O(webhook_test=true) every run sends one.
  action_group:
    description: Use C(group/gitops.bootstrap.forge) in C(module_defaults) to set the forge connection once.
    membership:
      - gitops.bootstrap.forge
options:
  owner:
    description:
      - User or organisation (GitLab, group path, for example V(platform/infra)) that owns the repository.
    type: str
    required: true
  name:
    description: Name of the repository.
    type: str
    required: true
  description:
    description: Description given to a repository the module creates.
    type: str
    default: ''
  private:
    description:
      - Visibility of a repository the module creates.
      - An existing repository keeps its visibility; a difference is reported in RV(mismatches).
    type: bool
    default: true
  default_branch:
    description:
      - Default branch of a repository the module creates (GitHub picks the owner's default itself).
      - The live default branch of an existing repository is the one protected; a difference is
        reported in RV(mismatches).
    type: str
    default: main
  branch_protection:
    description: Manage the protection of the default branch.
    type: bool
    default: true
  push_allowlist_users:
    description:
      - Users who may still push directly to the default branch (for example a release bot).
      - Empty (the default) means nobody may push directly; changes arrive through pull requests only.
      - Gitea keeps only users with write access to the repository in an allowlist; the module
        checks that and refuses otherwise. GitHub allows bypass lists only on repositories of an
        organisation. GitLab needs Premium for user and group entries.
    type: list
    elements: str
    default: []
  push_allowlist_teams:
    description:
      - Teams (GitHub team slugs, Gitea team names, GitLab group paths) who may still push directly.
    type: list
    elements: str
    default: []
  required_approvals:
    description:
      - Number of approvals a pull request needs (1 to 10; GitHub allows at most 6).
      - A higher number already set on the forge is kept.
    type: int
    default: 1
  required_status_checks:
    description:
      - Status checks (commit status contexts) that must pass before a pull request can be merged,
        for example the jobs of the generated pipeline (V(validate), V(dry-run)) and the plan check
        (V(gitops/plan), the context a plan pipeline sets through the providers' C(set_commit_status)).
      - Checks already required on the forge are kept.
      - On GitLab the checks cannot be required by name; any entry turns on "pipelines must succeed".
    type: list
    elements: str
    default: []
  require_code_owner_review:
    description:
      - Require the review of the code owners (CODEOWNERS).
      - GitHub C(require_code_owner_reviews); GitLab C(code_owner_approval_required) (Premium);
        Gitea C(block_on_official_review_requests), which blocks the merge while the review Gitea
        requested from the code owners is open (Gitea reads C(CODEOWNERS), C(docs/CODEOWNERS) and
        C(.gitea/CODEOWNERS), not C(.github/CODEOWNERS)).
    type: bool
    default: true
  protection_conflict:
    description:
      - What to do with a live branch rule that grants direct pushes beyond the allowlist.
      - V(report) keeps it and reports it in RV(conflicts) and as a warning (the other settings are still applied).
      - V(replace) replaces it by the wanted setting.
    type: str
    choices: [report, replace]
    default: report
  deploy_key_public:
    description:
      - OpenSSH public key line of Argo CD's deploy key. Mutually exclusive with O(deploy_key_path).
      - Without both, no deploy key is managed.
      - Treated as C(no_log), so that a private key given here by mistake is never echoed; a
        private key is refused.
    type: str
  deploy_key_path:
    description:
      - Private key file of Argo CD's deploy key on the controller; its public half is registered.
      - When the file does not exist it is generated (ed25519, no passphrase, mode 0600; never
        overwritten). An existing file must not be readable by other users.
    type: path
  deploy_key_title:
    description: Title of the deploy key on the forge.
    type: str
    default: argocd
  deploy_key_conflict:
    description:
      - What to do when another key is registered under O(deploy_key_title), or our key is registered with write access.
      - V(report) fails before any change and says what was found; V(replace) removes that key and registers ours read-only.
    type: str
    choices: [report, replace]
    default: report
  webhook_url:
    description:
      - URL of Argo CD's webhook receiver as the forge reaches it, ending in C(/api/webhook).
      - Without it, no webhook is managed.
    type: str
  webhook_secret:
    description:
      - Shared secret of the webhook (at least 16 characters); required with O(webhook_url).
      - Store the same value in C(argocd-secret) under RV(argocd_secret_key).
    type: str
  webhook_validate_certs:
    description:
      - Whether the forge verifies Argo CD's TLS certificate when it delivers (GitHub C(insecure_ssl),
        GitLab C(enable_ssl_verification)). Gitea has no per-webhook setting; it is ignored there.
    type: bool
    default: true
  webhook_test:
    description:
      - Send a test delivery and check its outcome on every run, not only after the webhook was created or changed.
    type: bool
    default: false
  webhook_test_timeout:
    description: Seconds to wait for the forge to record the test delivery.
    type: int
    default: 30
  gitea_web_password:
    description:
      - Gitea only. Gitea's REST API does not report webhook deliveries; with the password of the
        token's user the module signs in to the web UI to send the test delivery (also for an
        empty repository) and to read its outcome.
      - Without it, the outcome of a Gitea test delivery is reported as C(unknown).
    type: str
notes:
  - Tokens, the webhook secret, the password and the private key are never returned, logged in
    diffs or quoted in error messages.
  - A failure carries its Python traceback, shown with C(-vvv) (ansible-core 2.19 and later also
    need C(ANSIBLE_DISPLAY_TRACEBACK=error)).
  - Redirects of the forge's API are not followed, so that the token is never sent to another host.
seealso:
  - module: gitops.bootstrap.argocd_repository
  - module: gitops.bootstrap.infra_repo
"""

EXAMPLES = r"""
---
- name: Infra repository on Gitea, reviewed, readable by Argo CD, webhook into Argo CD
  gitops.bootstrap.forge_repository:
    forge: gitea
    api_url: https://git.example.com
    token: "{{ vault_gitea_admin_token }}"
    owner: platform
    name: infra
    required_approvals: 1
    required_status_checks: [validate, dry-run]
    deploy_key_path: "{{ playbook_dir }}/.secrets/argocd_deploy_key"
    webhook_url: https://argocd.example.com/api/webhook
    webhook_secret: "{{ vault_argocd_webhook_secret }}"
  register: forge

- name: Argo CD reads the repository with the deploy key
  gitops.bootstrap.argocd_repository:
    name: repo-infra
    url: "{{ forge.repository.ssh_url }}"
    ssh_private_key: "{{ lookup('ansible.builtin.file', playbook_dir ~ '/.secrets/argocd_deploy_key') }}"

- name: GitHub organisation repository, release bot may push directly, report-only on conflicts
  gitops.bootstrap.forge_repository:
    forge: github
    token: "{{ vault_github_token }}"
    owner: example-org
    name: infra
    push_allowlist_users: [release-bot]
    required_approvals: 2
    required_status_checks: [validate]
    deploy_key_public: "{{ lookup('ansible.builtin.file', 'argocd_deploy_key.pub') }}"
"""

RETURN = r"""
repository:
  description: The repository on the forge.
  returned: always
  type: dict
  contains:
    owner: {description: 'Owner (user, organisation or group path).', type: str, returned: always}
    name: {description: 'Repository name.', type: str, returned: always}
    full_name: {description: 'C(owner/name).', type: str, returned: always}
    private: {description: 'Live visibility (the wanted one in check mode before creation).', type: bool, returned: always}
    default_branch: {description: 'The default branch, the one protected.', type: str, returned: always}
    empty: {description: 'The repository has no commit yet.', type: bool, returned: when the repository exists}
    html_url: {description: 'Web page.', type: str, returned: when the repository exists}
    clone_url: {description: 'HTTPS clone URL.', type: str, returned: when the repository exists}
    ssh_url: {description: 'SSH clone URL, for Argo CD with the deploy key.', type: str, returned: when the repository exists}
    created: {description: 'This run created it (in check mode, would create it).', type: bool, returned: always}
  sample: {owner: platform, name: infra, full_name: platform/infra, private: true, default_branch: main, created: false}
branch_protection:
  description:
    - Protection of the default branch after the run, in the module's terms, with the forge
      settings they map to in C(forge_settings). C(deferred) instead when the forge cannot protect
      the branch yet (on GitHub the branch does not exist before the first push).
  returned: when O(branch_protection=true)
  type: dict
  sample:
    branch: main
    rule: main
    direct_push: nobody
    push_allowlist_users: []
    push_allowlist_teams: []
    push_allowlist_other: []
    required_approvals: 1
    dismiss_stale_approvals: true
    required_status_checks: [validate]
    code_owner_review: true
    forge_settings: {required_approvals: required_approvals}
deploy_key:
  description: The Argo CD deploy key (public data only).
  returned: when O(deploy_key_public) or O(deploy_key_path) is given
  type: dict
  contains:
    id: {description: 'Key id on the forge (null in check mode before it exists).', type: raw, returned: always}
    title: {description: 'Title on the forge.', type: str, returned: always}
    read_only: {description: 'Always true.', type: bool, returned: always}
    fingerprint: {description: 'SHA256 fingerprint (null in check mode before the key file exists).', type: str, returned: always}
    public_key: {description: 'Public key line registered (masked when it came from the no_log O(deploy_key_public)).', type: str, returned: always}
    private_key_path: {description: 'O(deploy_key_path), the file to give to Argo CD.', type: str, returned: always}
    generated: {description: 'The key file is generated in this run.', type: bool, returned: always}
webhook:
  description: The Argo CD webhook and the outcome of its test delivery.
  returned: when O(webhook_url) is given
  type: dict
  contains:
    id: {description: 'Webhook id (null in check mode before it exists).', type: raw, returned: always}
    url: {description: 'Delivery URL (without the fingerprint parameter).', type: str, returned: always}
    events: {description: 'Events sent.', type: list, elements: str, returned: always}
    active: {description: 'Always true.', type: bool, returned: always}
    secret_fingerprint: {description: 'Salted PBKDF2 fingerprint of the secret kept on the forge.', type: str, returned: always}
    delivery:
      description:
        - C(status) is C(ok), C(failed) (the task then fails), C(pending) (not delivered within
          O(webhook_test_timeout)), C(unknown) (Gitea without O(gitea_web_password)), C(skipped)
          (nothing to send yet) or C(not tested); C(status_code) and C(message) as the forge recorded them.
      type: dict
      returned: always
argocd_secret_key:
  description:
    - Key of C(argocd-secret) under which Argo CD reads the webhook secret of this forge
      (Gitea sends Gogs-compatible events).
  returned: always
  type: str
  sample: webhook.gogs.secret
conflicts:
  description: Live settings that grant more than asked, and what was done with them (C(kept), C(replaced), C(refused)).
  returned: always
  type: list
  elements: dict
  sample: [{object: branch_protection, rule: main, setting: direct_push, live: everyone with write access may push directly, wanted: nobody, action: kept}]
mismatches:
  description: Settings of an existing repository that differ from the options and are never changed (visibility, default branch).
  returned: always
  type: list
  elements: dict
  sample: [{setting: visibility, live: public, wanted: private}]
actions:
  description: What the run did (or, in check mode, would do), one line each.
  returned: always
  type: list
  elements: str
  sample: [create private repository platform/infra, protect branch 'main', add read-only deploy key 'argocd']
applied:
  description: On failure, the changes made before the failing step.
  returned: failure
  type: list
  elements: str
forge:
  description: The forge kind.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.runner import (
    FORGE_ARG_SPEC,
    run_module,
)


def build_argument_spec() -> dict:
    spec = dict(FORGE_ARG_SPEC)
    spec.update(
        owner=dict(type="str", required=True),
        name=dict(type="str", required=True),
        description=dict(type="str", default=""),
        private=dict(type="bool", default=True),
        default_branch=dict(type="str", default="main"),
        branch_protection=dict(type="bool", default=True),
        push_allowlist_users=dict(type="list", elements="str", default=[]),
        push_allowlist_teams=dict(type="list", elements="str", default=[]),
        required_approvals=dict(type="int", default=1),
        required_status_checks=dict(type="list", elements="str", default=[]),
        require_code_owner_review=dict(type="bool", default=True),
        protection_conflict=dict(type="str", choices=["report", "replace"], default="report"),
        # a public key is no secret, but a private key pasted here by mistake must not be echoed
        deploy_key_public=dict(type="str", no_log=True),
        deploy_key_path=dict(type="path", no_log=False),
        deploy_key_title=dict(type="str", default="argocd", no_log=False),
        deploy_key_conflict=dict(type="str", choices=["report", "replace"], default="report", no_log=False),
        webhook_url=dict(type="str"),
        webhook_secret=dict(type="str", no_log=True),
        webhook_validate_certs=dict(type="bool", default=True),
        webhook_test=dict(type="bool", default=False),
        webhook_test_timeout=dict(type="int", default=30),
        gitea_web_password=dict(type="str", no_log=True),
    )
    return spec


def main() -> None:
    module = AnsibleModule(
        argument_spec=build_argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("deploy_key_public", "deploy_key_path")],
        required_together=[("webhook_url", "webhook_secret")],
    )
    run_module(module)


if __name__ == "__main__":
    main()
