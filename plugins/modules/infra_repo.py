#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: infra_repo
short_description: Scaffold and maintain the GitOps infra repository of a cluster
version_added: 0.1.0
author:
  - gitops.bootstrap contributors (@gitops-bootstrap)
description:
  - Creates or updates the single infra repository that Argo CD in each cluster pulls from, with the layout
    C(clusters/<cluster>/{argocd,projects,apps}), C(platform/<component>/), C(apps/<app>/base) and
    C(apps/<app>/overlays/<environment>), a C(README.md) that explains how to change infrastructure (branch,
    pull request, review, merge), C(CODEOWNERS), a pull request template, a validation pipeline (GitHub Actions,
    GitLab CI or Gitea Actions) and C(.gitops/validate.py), which runs the same checks locally with C(make validate).
  - Generated files are recorded with their SHA-256 in C(.gitops/managed.yaml). A re-run updates a generated
    file only while the user has not edited it; an edited file is kept and reported in RV(conflicts) unless
    O(force=true). Files the module did not generate are never changed or deleted.
  - A generated file the user deleted or renamed is left alone and reported in RV(removed_by_user); a file whose
    line the user removed from C(.gitops/managed.yaml) is the user's from then on and reported in RV(taken_over).
    Neither comes back unless O(restore_removed=true).
  - Every path the module reads or writes must be a regular file inside the work tree. A managed path any
    component of which is a symbolic link (in the committed tree or in the work tree, wherever it points), a
    submodule, or resolves outside the work tree fails the run before anything is read or written.
  - A run with nothing to change makes no commit and reports C(changed=false).
  - A YAML file the user edited that carries the same data as the generated one (other key order, quoting or
    comments) is neither a conflict nor a change. For a YAML file that differs, RV(disagreements) lists every field
    whose value differs, with Git's value and the inventory's; the file stays as Git has it (Git's edit wins the
    whole file, other keys the inventory changes in it included) until the inventory renders the same data or
    O(force=true) (for example on a review branch, to propose the inventory's values in a pull request).
  - The target is a local directory (initialised when missing or empty; commits stay local) or a remote URL
    (C(ssh://), C(user@host:path), C(https://), C(http://), C(git://) or C(file://)) cloned into a work directory;
    the commit is pushed to O(branch), or to O(review_branch) for review through a pull request.
  - With O(pull_request=true) the commit goes to O(review_branch) and the module opens a pull request (on GitLab a
    merge request) into O(branch) on the forge (O(forge), O(api_url), O(token)). Its title and body say what it
    changes against O(branch) (files created, updated) and why (per cluster, bootstrap or update; files kept
    because people edited them, files people removed or took over that were left alone). A re-run with nothing new
    changes nothing; a re-run with new changes adds a commit to the branch and rewrites the body of the open pull
    request. Once it is merged or closed, the next run starts from O(branch) again; with nothing left to propose it
    changes nothing, else it pushes the branch anew (with a lease on the head it saw) and opens a new pull request.
  - In that mode the forge is read before anything is fetched or pushed, so a wrong token, an owner or repository
    that does not exist, or a forge that cannot be reached fails the run with nothing pushed. An empty repository
    first gets an empty commit on O(branch), the base the pull request needs.
  - When the remote branch moves on between fetch and push (another run for another cluster, a person), the run
    fetches the new head, plans again from scratch on top of it (reads the files and the record, regenerates,
    merges its entries into the record), commits and pushes again. A file this run was going to write that the
    other commit edited or removed fails the run with nothing pushed.
  - Git runs with an isolated configuration (no system or global config file, no C(GIT_*) variable of the
    caller; line endings, attributes, hooks, signing and the default branch pinned on the command line), and
    file contents are read from and written to git's object store as they are, so the result never depends on
    the user's or the repository's git settings.
  - Credentials (SSH key, HTTPS token) are handed to git through C(GIT_SSH_COMMAND) and a C(GIT_ASKPASS)
    helper for the duration of the run; they are never written into C(.git/config) or returned.
  - Requires the C(git) command line, version 2.32 or later, on the host that runs the module (and C(ssh) for SSH URLs).
options:
  repo:
    description:
      - The infra repository. A local directory path, or a remote URL over SSH, HTTPS, HTTP, git or file.
      - A URL must not contain a password or token; use O(https_token).
    type: str
    required: true
  branch:
    description:
      - The branch that Argo CD follows (the C(targetRevision) of the generated Applications) and that commits go to.
      - On a remote that has branches, the branch must exist; on an empty remote it is created.
    type: str
    default: main
  review_branch:
    description:
      - Commit to this branch instead of O(branch) and push it, for review through a pull request (protected
        default branch). It is created from O(branch), or continued when it already exists on the remote.
      - With O(pull_request=true) the default is V(gitops/bootstrap), one branch and one pull request for every
        cluster of a run. The branch belongs to the module; once its pull request is merged or closed it is
        started again from O(branch).
    type: str
  pull_request:
    description:
      - Open a pull request (merge request) from O(review_branch) into O(branch) on the forge, or update the open one.
      - Needs a remote O(repo), O(forge), O(token), and O(api_url) for Gitea.
      - The commit is pushed with the git credentials (O(ssh_private_key), O(https_token), ...); the pull request
        is opened with O(token). On Gitea and GitHub the same token may serve both.
    type: bool
    default: false
  forge:
    description:
      - Kind of forge that hosts the repository, for O(pull_request=true).
      - V(gitea) is exercised against a live Gitea server by the collection's tests; V(github) and V(gitlab) are
        implemented against their documented REST APIs and tested with recorded request and response pairs only.
    type: str
    choices: [gitea, github, gitlab]
  api_url:
    description:
      - Base URL of the forge, as for M(gitops.bootstrap.forge_repository). Gitea, the server URL or its C(/api/v1)
        URL (required); GitHub, default V(https://api.github.com); GitLab, default V(https://gitlab.com).
      - Redirects are never followed, so that the token is only ever sent to this host.
    type: str
  token:
    description:
      - API token of the forge user who opens the pull request (at least read access to the repository and the
        right to open pull requests; Gitea scopes C(write:repository) and C(write:issue) for labels, C(read:user);
        GitHub C(repo) or fine-grained Pull requests write; GitLab C(api)).
      - Never logged, never written anywhere; required with O(pull_request=true).
    type: str
  forge_timeout:
    description: Seconds to wait for the forge on every API call (connect and each read).
    type: int
    default: 20
  validate_certs:
    description: Verify the forge API's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: PEM file of the CA certificates to trust for the forge API's TLS certificate.
    type: path
  forge_owner:
    description:
      - Owner of the repository on the forge (user, organisation; GitLab, group path). Default is read from O(repo)
        (the path segment before the name; GitLab, every segment before it).
    type: str
  forge_repository:
    description: Name of the repository on the forge. Default is the last path segment of O(repo), without C(.git).
    type: str
  pull_request_title:
    description:
      - "Title of the pull request. Default names the clusters, for example V(gitops.bootstrap: bootstrap cluster dev)
        or V(gitops.bootstrap: bootstrap cluster prod; update cluster dev)."
    type: str
  pull_request_labels:
    description:
      - Labels of the pull request (added when missing, never removed). Missing labels are created on the
        repository (GitHub and GitLab create them themselves).
    type: list
    elements: str
    default: []
  work_dir:
    description:
      - For a remote O(repo), the directory holding the clone. Kept after the run; it must be empty, missing,
        or a clean clone of O(repo).
      - Default is a temporary directory that is removed after the run.
    type: path
  cluster:
    description:
      - Name of the cluster whose folder C(clusters/<cluster>/) is generated. A DNS-1123 label.
      - Other clusters' folders are never touched, so bootstrapping another cluster adds only its folder.
    type: str
    required: true
  cluster_environment:
    description:
      - The environment the cluster runs; its C(apps/) Applications point at C(apps/<app>/overlays/<environment>).
      - Default is the first of O(environments).
    type: str
  environments:
    description: Environments in promotion order (each change is promoted from one to the next by pull request).
    type: list
    elements: str
    default: [dev, staging, prod]
  platform_components:
    description:
      - Folders C(platform/<component>/) to create, each with an Application in every bootstrapped cluster.
      - The component C(namespaces) holds a Namespace per application in O(apps).
    type: list
    elements: str
    default: [namespaces]
  apps:
    description: Applications to scaffold under C(apps/<name>/) with a base and an overlay per environment.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Application name, a DNS-1123 label; also its namespace.
        type: str
        required: true
      image:
        description: Container image (without tag).
        type: str
        default: nginxinc/nginx-unprivileged
      tag:
        description: Image tag pinned in every overlay (promotion copies it from one overlay to the next).
        type: str
        default: 1.27-alpine
      port:
        description: Container port.
        type: int
        default: 8080
  argocd_version:
    description:
      - Argo CD release pinned in C(clusters/<cluster>/argocd/kustomization.yaml) (self-management). A release tag.
    type: str
    default: v3.5.1
  argocd_namespace:
    description: Namespace of Argo CD; the generated Applications and AppProjects live there.
    type: str
    default: argocd
  argocd_repo_url:
    description:
      - The URL Argo CD reads the repository from (C(repoURL) of the generated Applications and AppProjects).
      - Default is O(repo) for a remote, and C(file://<path>) for a local directory.
    type: str
  kubernetes_version:
    description:
      - Kubernetes version of the clusters, C(vMAJOR.MINOR.PATCH). Manifests are schema-checked against its
        minor version; the pipeline installs this kubectl.
    type: str
    default: v1.36.3
  pipeline:
    description:
      - Which pipeline definition and review files to generate, where the forge reads them.
      - V(github), C(.github/CODEOWNERS), C(.github/pull_request_template.md), C(.github/workflows/validate.yaml).
      - V(gitlab), C(.gitlab/CODEOWNERS), C(.gitlab/merge_request_templates/Default.md), C(.gitlab-ci.yml).
      - V(gitea), C(.gitea/CODEOWNERS) (Gitea reads C(CODEOWNERS), C(docs/CODEOWNERS) or C(.gitea/CODEOWNERS) of the
        default branch, as regular expressions over the changed paths), C(.gitea/pull_request_template.md) and
        C(.gitea/workflows/validate.yaml) (Gitea Actions, the same jobs as the GitHub workflow; their checks are
        reported as C(validate / validate (pull_request)) and C(validate / dry-run (pull_request))).
      - V(jenkins), a C(CODEOWNERS) at the top and a C(Jenkinsfile) (stages validate and, for a pull request, plan).
      - V(none), a C(CODEOWNERS) at the top only.
    type: str
    choices: [github, gitlab, gitea, jenkins, none]
    default: github
  owners:
    description: Code owners of the repository (C(CODEOWNERS)).
    type: list
    elements: str
    default: ['@platform-team']
  prod_owners:
    description: Code owners of the overlays of the last environment. Default is O(owners).
    type: list
    elements: str
  force:
    description: Overwrite generated files the user has edited (and files that exist but were not generated by this module).
    type: bool
    default: false
  fail_on_conflict:
    description: Fail, with nothing committed, when a file the module would write was edited by the user.
    type: bool
    default: false
  commit_message:
    description: Commit message. Default names the cluster.
    type: str
  author_name:
    description: Commit author and committer name.
    type: str
    default: gitops.bootstrap
  author_email:
    description: Commit author and committer email.
    type: str
    default: gitops-bootstrap@localhost
  push_retries:
    description:
      - How many times a push rejected because the remote branch moved on is planned again on top of the new
        head and retried (with a short random pause, so that concurrent runs spread out).
    type: int
    default: 10
  restore_removed:
    description:
      - Recreate generated files that the user deleted or renamed (RV(removed_by_user)), and hand back to the
        generator files that the user took over by removing their line from C(.gitops/managed.yaml)
        (RV(taken_over)). A taken-over file whose content differs from the generated one is then a conflict
        like any edited file (kept unless O(force=true)).
      - Without it such files are reported and left alone.
    type: bool
    default: false
  timeout:
    description:
      - Seconds each git command may take, network operations included (fetch, push), before it is stopped and
        the run fails naming the server that did not answer. Also bounds the SSH connection (C(ConnectTimeout),
        at most 30 s) and stalled HTTP transfers (C(http.lowSpeedTime), at most 30 s).
    type: int
    default: 120
  ssh_private_key:
    description: Private key (content) for SSH URLs, e.g. a deploy key with write access. Mutually exclusive with O(ssh_key_file).
    type: str
  ssh_key_file:
    description: Path of the private key for SSH URLs.
    type: path
  ssh_known_hosts:
    description:
      - known_hosts lines pinning the SSH server's host key, such as C([git.example.com]:2222 ssh-ed25519 AAAA...).
      - Without O(ssh_known_hosts) and O(ssh_known_hosts_file), the user's C(~/.ssh/known_hosts) is used.
    type: list
    elements: str
  ssh_known_hosts_file:
    description: A known_hosts file pinning the SSH server's host key.
    type: path
  ssh_host_key_checking:
    description:
      - C(strict) refuses unknown and changed host keys. C(accept-new) trusts a key seen for the first time
        (trust on first use). C(no) disables the check and is only for throw-away test servers.
    type: str
    choices: [strict, accept-new, 'no']
    default: strict
  https_username:
    description: User name for HTTPS URLs (GitHub accepts C(x-access-token) with a token, GitLab C(oauth2)).
    type: str
    default: git
  https_token:
    description: Token or password for HTTPS URLs, given to git through an askpass helper, never stored.
    type: str
  argocd_config:
    description:
      - Argo CD's own configuration, rendered into the cluster folder so that Argo CD applies it from Git (the
        self-management Application) instead of the Argo CD role applying it directly. Absent or empty, the
        files are the scaffold's alone.
      - The ConfigMaps become kustomize patches of the upstream ones in C(clusters/<cluster>/argocd/), listed under
        C(patches:) of its C(kustomization.yaml), keys sorted, values double-quoted so they stay strings, multi-line
        values (C(policy.csv), C(oidc.config)) as literal blocks. C(argocd-cm) always holds the scaffold's keys
        (annotation tracking, no anonymous access, no exec) unless the map sets them.
      - Bad input (a value that is not a string, an unknown ConfigMap, an object without kind or name, two objects
        for one file) fails the run naming the entry, before anything is read or written.
      - Needs PyYAML on the host that runs the module.
    type: dict
    suboptions:
      config_maps:
        description:
          - ConfigMap name (V(argocd-cm), V(argocd-cmd-params-cm), V(argocd-rbac-cm)) to its data, as the Argo CD
            role's C(gitops.bootstrap.argocd_config_maps) filter returns them. A map without keys is not rendered.
        type: dict
      projects:
        description:
          - AppProject objects (C(apiVersion), C(kind), C(metadata), C(spec)) as the C(gitops.bootstrap.argocd_project_objects)
            filter builds them, each written to C(clusters/<cluster>/projects/<name>.yaml) with the sync wave C(-1)
            and listed in that folder's C(kustomization.yaml). C(apps.yaml) stays the scaffold's unless a project named
            C(apps) is given.
        type: list
        elements: dict
      objects:
        description:
          - Other objects of C(clusters/<cluster>/argocd/), such as the Ingress of C(argocd-server) from the
            C(gitops.bootstrap.argocd_ingress_object) filter, each in C(<kind>.yaml) (C(<kind>-<name>.yaml) when the
            kind repeats) and listed under C(resources:).
        type: list
        elements: dict
      patches:
        description:
          - Objects of the upstream install with the fields to change, such as the application controller's ClusterRole
            reduced to reading from the C(gitops.bootstrap.argocd_controller_objects) filter, written to files of
            C(clusters/<cluster>/argocd/) like O(argocd_config.objects) and listed under C(patches) of its
            kustomization. A strategic merge patch replaces a list without a merge key, such as a role's C(rules), whole.
        type: list
        elements: dict
      access:
        description:
          - The access the RBAC lock-down wants to exist (the read-only ClusterRole, the break-glass and developer
            bindings, as the C(gitops.bootstrap.rbac_lockdown) role's C(repository_config) tasks render them), written as
            one List in C(clusters/<cluster>/access/access.yaml) and applied by the Application
            C(clusters/<cluster>/apps/access.yaml) (project C(platform), pruned and self-healed), so that an object
            the inventory no longer wants leaves Git and Argo CD removes it.
          - Given, even empty, the folder is rendered; left out, the files are the scaffold's alone.
        type: list
        elements: dict
      identities:
        description:
          - The identities Argo CD syncs team projects as (sync impersonation). Per project and destination namespace a
            ServiceAccount, a Role and its RoleBinding, and the namespaces, as the
            C(gitops.bootstrap.argocd_sync_identity_objects) filter builds them with part V(teams)), written as one List
            in C(clusters/<cluster>/sync-identities/identities.yaml) and applied by the Application
            C(clusters/<cluster>/apps/sync-identities.yaml) (project C(platform), pruned and self-healed). Each object
            keeps its namespace.
          - Given, even empty, the folder is rendered; left out, the files are the scaffold's alone.
        type: list
        elements: dict
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
    details:
      - The remote is fetched into a temporary directory (or O(work_dir) is fetched) but nothing is written,
        committed or pushed.
      - With O(pull_request=true) the forge is read; no pull request is opened or changed, no label created.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    details:
      - One diff per file that is created or updated.
      - A file kept because the user edited it (RV(conflicts)) gets a diff too, from what is in the repository to
        what the generator would write, with headers that say it was not written.
      - With O(pull_request=true), one more for the pull request's body when it is opened or rewritten.
  idempotent:
    support: full
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
notes:
  - The generated validation (C(make validate) in the infra repository) needs Python 3 with
    C(pip install -r .gitops/requirements.txt) and C(kubectl) or C(kustomize). C(make validate OFFLINE=1) never
    downloads; remote resources (the pinned Argo CD install manifest) are then read from C(.gitops/cache/remote/)
    or the directory in E(GITOPS_REMOTE_CACHE).
  - HTTP without TLS is accepted for loopback test servers; use HTTPS for real servers.
seealso:
  - name: Infra repository layout
    description: The layout, the generated files and the validation, in the collection docs.
    link: https://github.com/gitops-bootstrap/gitops.bootstrap/blob/main/docs/infra_repo.md
"""

EXAMPLES = r"""
---
- name: Bootstrap the infra repository for cluster prod-eu1 over SSH with a pinned host key
  gitops.bootstrap.infra_repo:
    repo: ssh://git@git.example.com/platform/infra.git
    cluster: prod-eu1
    cluster_environment: prod
    apps:
      - name: web
    ssh_private_key: "{{ lookup('ansible.builtin.file', 'deploy_key') }}"
    ssh_known_hosts:
      - git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample
  register: infra

- name: Propose the change on a branch for review instead of pushing to main
  gitops.bootstrap.infra_repo:
    repo: https://github.com/example/infra.git
    https_username: x-access-token
    https_token: "{{ github_token }}"
    cluster: dev
    review_branch: gitops/bootstrap-dev
  register: proposal

- name: Show the branch and commit to open a pull request for
  ansible.builtin.debug:
    msg: "{{ proposal.branch }} at {{ proposal.commit }}"

- name: Bootstrap cluster dev through a pull request on Gitea (a bot proposes, the platform team merges)
  gitops.bootstrap.infra_repo:
    repo: https://git.example.com/platform/infra.git
    https_username: gitops-bot
    https_token: "{{ vault_gitea_bot_token }}"
    cluster: dev
    pipeline: gitea
    owners: ["@platform/admins"]
    pull_request: true
    forge: gitea
    api_url: https://git.example.com
    token: "{{ vault_gitea_bot_token }}"
    pull_request_labels: [gitops]
  register: proposal

- name: Show the pull request to review
  ansible.builtin.debug:
    msg: "review {{ proposal.pull_request.url }} ({{ proposal.pull_request.state }})"
  when: proposal.pull_request

- name: Scaffold into a local directory (initialised when empty), GitLab CI flavour
  gitops.bootstrap.infra_repo:
    repo: /srv/infra
    cluster: lab
    pipeline: gitlab
"""

RETURN = r"""
commit:
  description: The commit made by this run, or the current head of the branch when nothing changed (null for an empty repository).
  returned: always
  type: str
  sample: 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39
branch:
  description: The branch committed to (O(review_branch) when set, else O(branch)).
  returned: always
  type: str
  sample: main
pull_request:
  description:
    - With O(pull_request=true), the pull request (merge request) of O(review_branch) into O(branch) after the run.
    - The open one; or, when nothing is left to propose, the last one (typically C(merged)); null when there is none.
    - In check mode, what would be opened (C(number) and C(url) null) or updated.
  returned: when O(pull_request=true)
  type: dict
  contains:
    number: {description: 'Number (GitLab, the iid).', type: int, returned: always}
    url: {description: 'Web page of the pull request.', type: str, returned: always}
    state: {description: 'C(open), C(merged) or C(closed).', type: str, returned: always}
    title: {description: 'Title.', type: str, returned: always}
    head: {description: 'Head branch.', type: str, returned: always}
    base: {description: 'Base branch.', type: str, returned: always}
    labels: {description: 'Labels.', type: list, elements: str, returned: always}
    mergeable: {description: 'Whether the forge can merge it without conflict (null when not known).', type: bool, returned: always}
    created: {description: 'This run opened it (check mode, would open it).', type: bool, returned: always}
    updated: {description: 'This run changed its title, body or labels (check mode, would change them).', type: bool, returned: always}
  sample: {number: 7, url: 'https://git.example.com/platform/infra/pulls/7', state: open, title: 'gitops.bootstrap: bootstrap cluster dev',
           head: gitops/bootstrap, base: main, labels: [gitops], mergeable: true, created: true, updated: false}
pushed:
  description: Whether a commit was pushed to the remote.
  returned: always
  type: bool
created:
  description: Files created (or that would be created in check mode).
  returned: always
  type: list
  elements: str
  sample: [clusters/prod-eu1/kustomization.yaml]
updated:
  description: Generated files updated because the generator's output changed and the user had not edited them.
  returned: always
  type: list
  elements: str
forced:
  description: Files overwritten despite user edits because of O(force).
  returned: always
  type: list
  elements: str
conflicts:
  description: Files left as they are because the user edited them (or created them); the generated content was not written.
  returned: always
  type: list
  elements: str
  sample: [README.md]
unchanged:
  description: Number of generated files already up to date.
  returned: always
  type: int
rebased:
  description:
    - How many times the push was rejected because the remote branch moved on, and the run planned and
      committed again on top of the new head.
  returned: always
  type: int
removed_by_user:
  description:
    - Generated files recorded in C(.gitops/managed.yaml) that are no longer in the repository (the user deleted
      or renamed them). They are left alone, with a warning; O(restore_removed=true) recreates them.
  returned: always
  type: list
  elements: str
  sample: [clusters/prod-eu1/apps/web.yaml]
taken_over:
  description:
    - Files the generator once recorded whose line the user has since removed from C(.gitops/managed.yaml). They
      belong to the user and are neither written nor recorded again (warning when the generated content has
      changed). O(restore_removed=true) hands them back.
  returned: always
  type: list
  elements: str
  sample: [README.md]
restored:
  description: Files recreated or handed back to the generator because of O(restore_removed).
  returned: always
  type: list
  elements: str
layout:
  description: Paths of the cluster in the repository and what Argo CD needs to sync it.
  returned: always
  type: dict
  contains:
    cluster:
      description: Cluster name.
      type: str
    root:
      description: Path of the cluster folder, the path of its root Application.
      type: str
      sample: clusters/prod-eu1
    argocd:
      description: Folder of Argo CD's own installation.
      type: str
    projects:
      description: Folder of the AppProjects.
      type: str
    apps:
      description: Folder of the Applications.
      type: str
    environment:
      description: The cluster's environment.
      type: str
    repo_url:
      description: The URL Argo CD reads the repository from.
      type: str
    target_revision:
      description: The branch Argo CD follows.
      type: str
    argocd_version:
      description: The pinned Argo CD version.
      type: str
    argocd_namespace:
      description: Argo CD's namespace.
      type: str
disagreements:
  description:
    - For every YAML file kept because the user edited it (RV(conflicts)), each field whose parsed value differs
      between what the inventory renders and what Git has; a side that lacks the field has null. Also in the warnings.
    - Field paths join keys with dots (V(data.admin.enabled)) and list items by index (V(spec.destinations[0].namespace));
      with several documents in the file the path starts with the document's index (V([1].metadata.name)). A file
      Git holds in a form that does not parse is one entry with field null.
  returned: always
  type: list
  elements: dict
  contains:
    path: {description: File in the repository., type: str, returned: always}
    field: {description: Field path inside the file (null for the whole file)., type: str, returned: always}
    inventory: {description: What the inventory renders (kept out of the repository)., type: raw, returned: always}
    repository: {description: What Git has (kept)., type: raw, returned: always}
  sample: [{path: clusters/dev/argocd/argocd-cm.yaml, field: data.admin.enabled, inventory: 'false', repository: 'true'}]
clusters_changed:
  description:
    - Clusters whose folder C(clusters/<cluster>/) the commit changes (in check mode, would change); with
      O(pull_request=true), the clusters whose folder the pull request changes when it merges. Empty when nothing changes.
  returned: always
  type: list
  elements: str
  sample: [dev]
work_dir:
  description: The work directory holding the clone, when O(work_dir) was given or the target is local.
  returned: when kept
  type: str
"""

import os
import random
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout
from ansible_collections.gitops.bootstrap.plugins.module_utils import _names
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold_argocd
from ansible_collections.gitops.bootstrap.plugins.module_utils._git import (
    DEFAULT_TIMEOUT,
    Git,
    GitAuth,
    GitError,
    PushRejected,
    REMOTE,
    check_url_has_no_secret,
    is_remote_url,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._infra_pr import (
    ARG_SPEC as PULL_REQUEST_ARG_SPEC,
    DEFAULT_REVIEW_BRANCH,
    PullRequestError,
    PullRequestFlow,
    _diff as branch_diff,
)

# The lists of the result that one plan fills (emptied when a push race makes the run plan again).
PLAN_LISTS = ("created", "updated", "forced", "conflicts", "removed_by_user", "taken_over", "restored", "disagreements")


class InfraRepoError(Exception):
    pass


class InfraRepo(object):
    """Read the repository, compute the files, diff, then write/commit/push unless in check mode."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check_mode = module.check_mode
        self.tmp = None
        self.git = None
        self.workdir = None
        self.base = None
        self.read_ref = None
        self.fs_check = False
        self.original_branch = None
        self.remote = is_remote_url(self.p["repo"])
        self.pr = None
        self.lease = None  # the remote head of a review branch started again from the base
        if self.p.get("pull_request"):
            if not self.p["review_branch"]:
                self.p["review_branch"] = DEFAULT_REVIEW_BRANCH
            self.pr = PullRequestFlow(self.p, warn=module.warn, check_mode=self.check_mode)
        self.result = {
            "changed": False, "commit": None, "branch": self.p["review_branch"] or self.p["branch"],
            "pushed": False, "unchanged": 0, "rebased": 0, "clusters_changed": [],
        }
        if self.pr is not None:
            self.result["pull_request"] = None
        self._reset_plan()

    def _reset_plan(self):
        for key in PLAN_LISTS:
            self.result[key] = []
        self.result["unchanged"] = 0
        self.conflict_diffs = {}
        self.stale_taken_over = []
        self._tree_cache = None

    # ----------------------------------------------------------- inputs
    def spec(self):
        p = self.p
        if self.remote:
            repo_url = p["argocd_repo_url"] or p["repo"]
        else:
            repo_url = p["argocd_repo_url"] or "file://" + os.path.abspath(p["repo"])
        spec = {
            "cluster": p["cluster"], "cluster_environment": p["cluster_environment"],
            "environments": p["environments"], "apps": p["apps"], "platform_components": p["platform_components"],
            "argocd_version": p["argocd_version"], "argocd_namespace": p["argocd_namespace"], "repo_url": repo_url,
            "target_revision": p["branch"], "kubernetes_version": p["kubernetes_version"], "pipeline": p["pipeline"],
            "owners": p["owners"], "prod_owners": p["prod_owners"], "argocd_config": p.get("argocd_config"),
        }
        try:
            files = _scaffold.render_files(spec)
            spec = _scaffold.normalise_spec(spec)
        except _layout.LayoutError as e:
            raise InfraRepoError(str(e))
        for name in ("branch", "review_branch"):
            value = p[name]
            if value is not None and not _names.is_valid(value, "git_branch"):
                raise InfraRepoError("invalid %s: %s" % (name, _names.name_error(value, "git_branch", name)))
        if p["review_branch"] and p["review_branch"] == p["branch"]:
            raise InfraRepoError("review_branch must differ from branch (%s)" % p["branch"])
        if self.pr is not None and not self.remote:
            raise InfraRepoError(
                f"pull_request=true needs a remote repo URL (the forge's clone URL), not the local directory {p['repo']}")
        layout = _layout.cluster_layout(spec["cluster"])
        layout.update({
            "environment": spec["cluster_environment"], "repo_url": repo_url, "target_revision": p["branch"],
            "argocd_version": spec["argocd_version"], "argocd_namespace": spec["argocd_namespace"],
        })
        self.result["layout"] = layout
        return files

    # ----------------------------------------------------------- preparing the work tree
    def _timeout(self):
        timeout = self.p.get("timeout", DEFAULT_TIMEOUT)
        if timeout is None or timeout <= 0:
            raise InfraRepoError(f"timeout must be a positive number of seconds, got {timeout!r}")
        return timeout

    def _new_git(self, workdir):
        timeout = self._timeout()
        auth = GitAuth(
            self.tmp, ssh_key_file=self.p["ssh_key_file"], ssh_private_key=self.p["ssh_private_key"],
            ssh_known_hosts=self.p["ssh_known_hosts"], ssh_known_hosts_file=self.p["ssh_known_hosts_file"],
            ssh_host_key_checking=self.p["ssh_host_key_checking"], https_username=self.p["https_username"],
            https_token=self.p["https_token"], connect_timeout=min(timeout, 30))
        return Git(None, workdir, auth, self.p["author_name"], self.p["author_email"], timeout=timeout)

    def _require_clean(self, where):
        # Tracked files only: an untracked file elsewhere is never read, written or committed (the index
        # is built from the generated content), and one at a generated path is refused by the path checks.
        status = self.git.run(["status", "--porcelain", "--untracked-files=no"], "reading the work tree status")[1].rstrip("\n")
        if status:
            files = [line[3:] for line in status.splitlines()][:5]
            raise InfraRepoError(
                "%s has uncommitted changes (%s); commit, stash or discard them first, or use another directory"
                % (where, ", ".join(files)))

    def prepare_remote(self):
        url = self.p["repo"]
        try:
            check_url_has_no_secret(url)
        except GitError as e:
            raise InfraRepoError(str(e))
        if self.p["work_dir"]:
            self.workdir = os.path.abspath(self.p["work_dir"])
            self.result["work_dir"] = self.workdir
        else:
            self.workdir = os.path.join(self.tmp, "repo")
        self.git = self._new_git(self.workdir)
        if os.path.isdir(self.workdir) and os.listdir(self.workdir):
            if not self.git.is_work_tree(self.workdir):
                raise InfraRepoError("work_dir %s is not empty and is not a git repository; give an empty or missing directory" % self.workdir)
            existing = self.git.remote_url()
            if existing and existing != url:
                raise InfraRepoError("work_dir %s is a clone of %s, not of %s; use another work_dir" % (self.workdir, existing, url))
            self._require_clean("work_dir %s" % self.workdir)
        else:
            if not os.path.isdir(self.workdir):
                os.makedirs(self.workdir, 0o700)
            self.git.init(self.p["branch"])
        self.git.set_remote(url)
        self.git.fetch(url)
        if self.pr is not None and not self._remote_branches():
            # an empty repository: the pull request needs its base branch first
            self.pr.seed_base(self.git, url)
            if not self.check_mode:
                self.result["changed"] = True
                self.git.fetch(url)
        self._checkout_remote_base()

    def _remote_branches(self):
        out = self.git.out(["for-each-ref", "--format=%(refname:strip=3)", "refs/remotes/%s/" % REMOTE], "listing remote branches")
        return [b for b in out.splitlines() if b and b != "HEAD"]

    def _checkout_remote_base(self):
        branch, review = self.p["branch"], self.p["review_branch"]
        branches = self._remote_branches()
        target = review or branch
        fresh = self.pr is not None and self.pr.starts_fresh()
        self.lease = None
        if fresh and review in branches:
            # the branch's pull request was merged or closed: build on the base again, and replace the
            # branch only if it still is where this run saw it
            self.lease = self.git.rev("%s/%s" % (REMOTE, review))
        if review and review in branches and not fresh:
            base = "%s/%s" % (REMOTE, review)
        elif branch in branches:
            base = "%s/%s" % (REMOTE, branch)
        elif branches:
            raise InfraRepoError(
                "branch %r does not exist on %s (it has: %s); set branch to the branch Argo CD should follow"
                % (branch, self.p["repo"], ", ".join(sorted(branches)[:10])))
        else:
            base = None  # empty remote: the first commit creates the branch
        if base:
            self.git.checkout_from(target, base)
        else:
            self.git.run(["symbolic-ref", "HEAD", "refs/heads/%s" % target], "preparing branch %s" % target)
            # A work tree left from a rejected first push: start again from an empty index.
            self.git.run(["read-tree", "--empty"], "emptying the index")
        self.base = base
        self.read_ref = "HEAD" if base else None
        self.fs_check = True

    def prepare_local(self):
        path = os.path.abspath(self.p["repo"])
        self.workdir = path
        self.result["work_dir"] = path
        self.git = self._new_git(path)
        self.base = None
        empty = not os.path.exists(path) or (os.path.isdir(path) and not os.listdir(path))
        if os.path.exists(path) and not os.path.isdir(path):
            raise InfraRepoError("repo %s is a file, not a directory or a URL" % path)
        if empty:
            if self.check_mode:
                self.git = None  # nothing to read: everything would be created
                return
            if not os.path.isdir(path):
                os.makedirs(path)
            self.git.init(self.p["branch"])
        elif not self.git.is_work_tree(path):
            raise InfraRepoError(
                "repo %s is not a git repository (and not empty); run 'git init' there, give an empty directory, "
                "or give the top directory of the repository" % path)
        self._require_clean("repo %s" % path)
        branch, review = self.p["branch"], self.p["review_branch"]
        head = self.git.rev("HEAD")
        self.original_branch = self.git.current_branch()
        target = review or branch
        self.fs_check = True
        if head is None:
            self.git.run(["symbolic-ref", "HEAD", "refs/heads/%s" % target], "preparing branch %s" % target)
            return
        if self.git.rev("refs/heads/%s" % branch) is None:
            raise InfraRepoError("branch %r does not exist in %s; set branch to an existing branch" % (branch, path))
        review_exists = bool(review) and self.git.rev("refs/heads/%s" % review) is not None
        self.base = target
        self.read_ref = "HEAD"
        if self.original_branch == target:
            return
        if self.check_mode:
            # Read the branch the run would commit to without switching the user's work tree; the work
            # tree holds another branch, so only the committed tree is checked.
            self.read_ref = f"refs/heads/{review if review_exists else branch}"
            self.fs_check = False
            return
        if review and not review_exists:
            self.git.run(["checkout", "--quiet", "-b", review, branch], "creating branch %s" % review)
        else:
            self.git.run(["checkout", "--quiet", target], "checking out %s" % target)

    # ----------------------------------------------------------- reading
    def _tree(self):
        """Entries and directories of the tree the run reads (listed once per plan)."""
        if self._tree_cache is None:
            tree = self.git.tree(self.read_ref) if self.git is not None else {}
            dirs = set()
            for entry in tree:
                parts = entry.split("/")
                for i in range(1, len(parts)):
                    dirs.add("/".join(parts[:i]))
            self._tree_cache = (tree, dirs)
            self.tree = tree
        return self._tree_cache

    def snapshot(self, paths, tolerate=()):
        """The committed content of ``paths`` at the ref the run reads: {path: text or None}.

        Read from git's object store, never from the work tree: no filter, attribute or line-ending
        setting changes what is compared, and nothing outside the repository is ever opened. Refuses
        (before reading anything) a path that is not a regular file inside the work tree, except the
        paths in ``tolerate`` (files the user took over): those are neither read nor refused, and
        come back as None.
        """
        tree, dirs = self._tree()
        problems = []
        skipped = set()
        for path in paths:
            try:
                found = _scaffold.tree_problem(path, tree, dirs)
                where = "repository"
                if found is None and self.fs_check and self.workdir and os.path.isdir(self.workdir):
                    found = _scaffold.fs_problem(self.workdir, path)
                    where = "work tree"
                    if found is None and path not in tree and os.path.lexists(os.path.join(self.workdir, path)):
                        found = (path, "exists in the work tree but is not committed")
            except _scaffold.UnsafePath as e:
                found, where = (path, str(e)), "repository"
            if found and path in tolerate:
                skipped.add(path)
            elif found:
                problems.append((path, found[0], found[1], where))
        if problems:
            raise InfraRepoError(self._unsafe_message(problems))
        oids = {path: tree[path][1] for path in paths if path in tree and path not in skipped}
        blobs = self.git.blobs(oids.values()) if oids else {}
        out = {}
        for path in paths:
            data = blobs.get(oids.get(path))
            if data is None:
                out[path] = None
                continue
            try:
                out[path] = data.decode("utf-8")
            except UnicodeDecodeError:
                out[path] = data.decode("latin-1") + "\0binary"
        return out

    def _unsafe_message(self, problems):
        by_component = {}
        for path, component, reason, where in problems:
            by_component.setdefault((component, reason, where), []).append(path)
        parts = []
        for (component, reason, where), paths in sorted(by_component.items()):
            target = None
            if "symbolic link" in reason:
                entry = self.tree.get(component)
                if entry and where == "repository":
                    target = self.git.blobs([entry[1]]).get(entry[1], b"").decode("utf-8", "replace")
                else:
                    target = _scaffold.link_target(self.workdir, component)
            shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
            what = f"{component} {reason}" + (f" (-> {target})" if target else "")
            if component == paths[0] and len(paths) == 1:
                parts.append(what)
            else:
                parts.append(f"{what}, on the way to {shown}")
        return (
            f"refusing to read or write generated files outside plain files of the work tree: {'; '.join(parts)}. "
            "The module never follows a symbolic link or writes into a submodule, wherever it points; nothing was "
            "read, written or committed. Replace each of these by a plain directory or file (git rm the link, commit, "
            "push), or keep it and take the files beneath it over by removing their lines from "
            f"{_layout.MANAGED_FILE}, then re-run")

    # ----------------------------------------------------------- planning
    def plan(self, desired):
        """{path: (before, after)} to write, filling the result lists; nothing is written here."""
        self._reset_plan()
        paths = sorted(desired)
        managed_text = self.snapshot([_layout.MANAGED_FILE])[_layout.MANAGED_FILE]
        managed = _scaffold.parse_managed(managed_text)
        history = set()
        if self.git is not None:
            history = _scaffold.recorded_in_lines(self.git.added_lines(self.read_ref, _layout.MANAGED_FILE))
        force, restore = self.p["force"], self.p.get("restore_removed", False)
        # Files the user took over are never written, so a link on their way is the user's business.
        taken = set() if restore else {path for path in paths if path not in managed and path in history}
        contents = self.snapshot(paths, tolerate=taken)
        new_managed = dict(managed)
        writes = {}
        equivalent = {}
        r = self.result
        for path in paths:
            content = desired[path]
            want = _scaffold.sha256(content)
            current = contents[path]
            recorded = managed.get(path)
            taken_over = recorded is None and path in history
            if taken_over and not restore:
                r["taken_over"].append(path)
                if current is not None and current != content:
                    self.stale_taken_over.append(path)
                continue
            if current is None:
                if recorded is not None and not restore:
                    r["removed_by_user"].append(path)
                    continue
                writes[path] = (None, content)
                r["created"].append(path)
                if recorded is not None or taken_over:
                    r["restored"].append(path)
                new_managed[path] = want
                continue
            if current == content:
                r["unchanged"] += 1
                if taken_over:
                    r["restored"].append(path)
                if recorded is not None and recorded != want:
                    equivalent[path] = want  # an edit the inventory now agrees with: recorded with the next commit
                else:
                    new_managed[path] = want
                continue
            user_edited = recorded is None or _scaffold.sha256(current) != recorded
            if user_edited and _scaffold_argocd.equivalent(path, current, content):
                # Git's edit carries the inventory's data: nothing to write, nothing to report; the record
                # takes Git's content over with the next commit this run makes.
                r["unchanged"] += 1
                equivalent[path] = _scaffold.sha256(current)
                continue
            if not user_edited:
                writes[path] = (current, content)
                r["updated"].append(path)
                new_managed[path] = want
            elif force:
                writes[path] = (current, content)
                r["forced"].append(path)
                if taken_over:
                    r["restored"].append(path)
                new_managed[path] = want
            else:
                r["conflicts"].append(path)
                r["disagreements"].extend(_scaffold_argocd.disagreements(path, content, current))
                self.conflict_diffs[path] = (current, content)
        if writes:
            new_managed.update(equivalent)
        new_text = _scaffold.dump_managed(new_managed)
        if new_text != managed_text and (writes or new_managed != managed):
            writes[_layout.MANAGED_FILE] = (managed_text, new_text)
            if managed_text is None:
                r["created"].append(_layout.MANAGED_FILE)
            else:
                r["updated"].append(_layout.MANAGED_FILE)
        return writes

    def check_conflicts(self):
        if self.p["fail_on_conflict"] and self.result["conflicts"]:
            raise InfraRepoError(
                "files edited by the user would be overwritten: %s; nothing was committed. Keep them (fail_on_conflict=false) "
                "or overwrite them (force=true)" % ", ".join(self.result["conflicts"]))

    def diff(self, writes):
        diffs = [
            {"before_header": path if before is not None else "/dev/null", "after_header": path,
             "before": before or "", "after": after}
            for path, (before, after) in sorted(writes.items())
        ]
        for path, (current, generated) in sorted(self.conflict_diffs.items()):
            diffs.append({
                "before_header": f"{path} (in the repository, edited by the user: kept)",
                "after_header": f"{path} (what the generator would write: not written, conflict)",
                "before": current, "after": generated,
            })
        return diffs

    def warn(self):
        r = self.result
        for entry in r["disagreements"][:50]:
            self.module.warn(f"{_scaffold_argocd.describe(entry)}; the file stays as Git has it (force=true, on a review "
                             "branch, proposes the inventory's value)")
        if len(r["disagreements"]) > 50:
            self.module.warn(f"{len(r['disagreements']) - 50} more disagreements between Git and the inventory (see disagreements)")
        if r["conflicts"]:
            self.module.warn(
                "kept %d file(s) edited outside the generator: %s (use force=true to overwrite)"
                % (len(r["conflicts"]), ", ".join(r["conflicts"])))
        if r["removed_by_user"]:
            self.module.warn(
                f"left alone {len(r['removed_by_user'])} generated file(s) that were removed or renamed in the repository: "
                f"{', '.join(r['removed_by_user'])}. They are not recreated; restore_removed=true recreates them, and "
                f"removing their lines from {_layout.MANAGED_FILE} takes them over for good")
        if self.stale_taken_over:
            self.module.warn(
                f"left alone {len(self.stale_taken_over)} file(s) taken over by the user (their lines were removed from "
                f"{_layout.MANAGED_FILE}) although the generator's content for them changed: "
                f"{', '.join(self.stale_taken_over)}; restore_removed=true hands them back to the generator")

    # ----------------------------------------------------------- writing
    def commit(self, writes):
        """Write the files into the work tree and commit exactly their content (no filter, no conversion)."""
        paths = sorted(writes)
        try:
            for path in paths:
                _scaffold.write_in_tree(self.workdir, path, writes[path][1].encode("utf-8"))
        except _scaffold.UnsafePath as e:
            raise InfraRepoError(f"{e}; nothing was committed") from None
        oids = self.git.write_blobs([writes[path][1].encode("utf-8") for path in paths], self.tmp)
        tree = getattr(self, "tree", {})
        entries = [("100755" if tree.get(path, ("",))[0] == "100755" else "100644", oid, path)
                   for path, oid in zip(paths, oids)]
        self.git.stage(entries)
        commit = self.git.commit_index(self.commit_message())
        self.git.refresh()
        return commit

    def commit_message(self):
        if self.p["commit_message"]:
            return self.p["commit_message"]
        return "gitops.bootstrap: scaffold infra repository for cluster %s\n\nGenerated by %s; see .gitops/managed.yaml." % (
            self.p["cluster"], _scaffold.GENERATOR)

    def push(self, desired, writes):
        """Push; when the branch moved on, plan again on top of its new head. Returns the final writes."""
        target = self.p["review_branch"] or self.p["branch"]
        url = self.p["repo"]
        attempts = 0
        while True:
            try:
                self.git.push(url, target, lease=self.lease)
                self.result["pushed"] = True
                return writes
            except PushRejected:
                if attempts >= self.p["push_retries"]:
                    raise InfraRepoError(
                        f"the remote branch {target} kept moving: push rejected {attempts + 1} times; nothing was pushed, "
                        "re-run later (or raise push_retries)")
                attempts += 1
                self.result["rebased"] = attempts
                time.sleep(random.uniform(0.05, 0.4) * attempts)
                self.git.fetch(url)
                if self.pr is not None:
                    self.pr.refresh()  # another run may have opened the pull request meanwhile
                self._checkout_remote_base()
                planned = set(writes) - {_layout.MANAGED_FILE}
                writes = self.plan(desired)
                lost = sorted(planned & set(self.result["conflicts"] + self.result["removed_by_user"] + self.result["taken_over"]))
                if lost:
                    raise InfraRepoError(
                        f"another commit landed on {target} after this run started and it conflicts with the generated files "
                        f"({', '.join(lost)}): it edited or removed files this run was writing; nothing was pushed. Re-run to "
                        "regenerate on top of the new commit (the edited files are then kept and reported), or resolve by hand")
                self.check_conflicts()
                if not writes:
                    return writes  # the new head already holds what this run would write
                self.commit(writes)

    # ----------------------------------------------------------- pull request
    def propose(self):
        """Open or update the pull request of the review branch; whether the forge changed (would change)."""
        base_exists = self.git.rev(f"refs/remotes/{REMOTE}/{self.p['branch']}") is not None
        plan = {key: list(self.result[key]) for key in PLAN_LISTS}
        changed = self.pr.ensure(self.git, cluster=self.result["layout"]["cluster"],
                                 environment=self.result["layout"]["environment"], plan=plan,
                                 base_exists=base_exists)
        self.result["pull_request"] = self.pr.result
        return changed

    def clusters_changed(self, writes):
        """Clusters whose folder the commit (check mode: would) change; with a pull request, the pull request."""
        paths = set(writes)
        base = f"refs/remotes/{REMOTE}/{self.p['branch']}"
        if self.pr is not None and self.git is not None and self.git.rev("HEAD") and self.git.rev(base):
            added, modified, deleted = branch_diff(self.git, base, "HEAD")
            paths.update(added + modified + deleted)
        prefix = _layout.CLUSTERS_DIR + "/"
        return sorted({path[len(prefix):].split("/", 1)[0] for path in paths if path.startswith(prefix) and path.count("/") >= 2})

    # ----------------------------------------------------------- main flow
    def run(self):
        desired = self.spec()
        self.tmp = tempfile.mkdtemp(prefix="gitops-infra-repo-")
        os.chmod(self.tmp, 0o700)
        try:
            if self.pr is not None:
                self.pr.preflight()  # the forge is read before anything is fetched or pushed
            if self.remote:
                self.prepare_remote()
            else:
                self.prepare_local()
            writes = self.plan(desired)
            self.check_conflicts()
            if self.git is not None:
                self.result["commit"] = self.git.rev("HEAD")
            if writes and not self.check_mode:
                commit = self.commit(writes)
                self.result["commit"] = commit or self.git.rev("HEAD")
                if self.remote:
                    writes = self.push(desired, writes)
                    self.result["commit"] = self.git.rev("HEAD")
                elif self.original_branch and self.original_branch != (self.p["review_branch"] or self.p["branch"]):
                    # Leave the local repository on the branch it was on; the commit waits on its branch.
                    self.git.run(["checkout", "--quiet", self.original_branch], "checking out %s" % self.original_branch)
            self.warn()
            self.result["clusters_changed"] = self.clusters_changed(writes)
            proposed = self.propose() if self.pr is not None else False
            self.result["changed"] = bool(writes) or proposed or bool(self.pr is not None and self.pr.seeded)
            if self.module._diff:
                self.result["diff"] = self.diff(writes)
                if self.pr is not None and self.pr.body_diff:
                    self.result["diff"].append(self.pr.body_diff)
            return self.result
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    argument_spec = dict(
        repo=dict(type="str", required=True),
        branch=dict(type="str", default="main"),
        review_branch=dict(type="str"),
        work_dir=dict(type="path"),
        cluster=dict(type="str", required=True),
        cluster_environment=dict(type="str"),
        environments=dict(type="list", elements="str", default=["dev", "staging", "prod"]),
        platform_components=dict(type="list", elements="str", default=["namespaces"]),
        apps=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            image=dict(type="str", default=_scaffold.DEFAULT_APP_IMAGE),
            tag=dict(type="str", default=_scaffold.DEFAULT_APP_TAG),
            port=dict(type="int", default=_scaffold.DEFAULT_APP_PORT),
        )),
        argocd_version=dict(type="str", default=_layout.DEFAULT_ARGOCD_VERSION),
        argocd_namespace=dict(type="str", default=_layout.DEFAULT_ARGOCD_NAMESPACE),
        argocd_repo_url=dict(type="str"),
        kubernetes_version=dict(type="str", default="v1.36.3"),
        pipeline=dict(type="str", choices=["github", "gitlab", "gitea", "jenkins", "none"], default="github"),
        owners=dict(type="list", elements="str", default=["@platform-team"]),
        prod_owners=dict(type="list", elements="str"),
        force=dict(type="bool", default=False),
        fail_on_conflict=dict(type="bool", default=False),
        restore_removed=dict(type="bool", default=False),
        commit_message=dict(type="str"),
        author_name=dict(type="str", default="gitops.bootstrap"),
        author_email=dict(type="str", default="gitops-bootstrap@localhost"),
        push_retries=dict(type="int", default=10),
        timeout=dict(type="int", default=DEFAULT_TIMEOUT),
        ssh_private_key=dict(type="str", no_log=True),
        ssh_key_file=dict(type="path"),
        ssh_known_hosts=dict(type="list", elements="str"),
        ssh_known_hosts_file=dict(type="path"),
        ssh_host_key_checking=dict(type="str", choices=["strict", "accept-new", "no"], default="strict"),
        https_username=dict(type="str", default="git"),
        https_token=dict(type="str", no_log=True),
        argocd_config=dict(type="dict", options=dict(
            config_maps=dict(type="dict"),
            projects=dict(type="list", elements="dict"),
            objects=dict(type="list", elements="dict"),
            patches=dict(type="list", elements="dict"),
            access=dict(type="list", elements="dict"),
            identities=dict(type="list", elements="dict"),
        )),
    )
    argument_spec.update(PULL_REQUEST_ARG_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("ssh_private_key", "ssh_key_file"), ("ssh_known_hosts", "ssh_known_hosts_file")],
        required_if=[("pull_request", True, ("forge", "token"))],
    )
    if module.get_bin_path("git") is None:
        module.fail_json(msg="the git command line is required on the host running gitops.bootstrap.infra_repo; install git")
    repo = InfraRepo(module)
    try:
        result = repo.run()
    except (InfraRepoError, GitError, PullRequestError) as e:
        repo.result["msg"] = str(e)
        # a failure after the push (opening the pull request) leaves the pushed branch: a change
        seeded = repo.pr is not None and repo.pr.seeded and not repo.check_mode
        repo.result["changed"] = bool(repo.result.get("pushed")) or seeded
        if getattr(e, "exception", None):
            repo.result["exception"] = e.exception
        module.fail_json(**repo.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
