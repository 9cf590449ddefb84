# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Connection options of the modules that talk to a forge (Gitea, GitHub, GitLab)."""

    DOCUMENTATION = r"""
options:
  forge:
    description:
      - Kind of forge.
      - V(gitea) is exercised against a live Gitea server by the collection's tests; V(github) and
        V(gitlab) are implemented against their documented REST APIs and tested with recorded
        request and response pairs only.
    type: str
    choices: [gitea, github, gitlab]
    required: true
  api_url:
    description:
      - Base URL of the forge.
      - For Gitea the server URL (V(https://git.example.com)) or its API URL (ending in C(/api/v1)); required.
      - For GitHub the API URL; defaults to V(https://api.github.com); GitHub Enterprise Server
        uses V(https://HOST/api/v3).
      - For GitLab the server URL or its API URL (ending in C(/api/v4)); defaults to V(https://gitlab.com).
      - Redirects are never followed, so that the token is only ever sent to this host.
    type: str
  token:
    description:
      - API token of the forge user the module acts as.
      - It needs administrator rights on the repository (Gitea C(admin), GitHub C(admin), GitLab
        Maintainer) to set branch protection, deploy keys and webhooks, and the right to create
        repositories under O(owner) when the repository does not exist yet.
      - Gitea scopes C(write:repository) and C(read:user) (C(write:organization) to create in an
        organisation); GitHub classic C(repo) (or a fine-grained token with Administration, Contents,
        Webhooks write); GitLab C(api).
    type: str
    required: true
  timeout:
    description:
      - Seconds to wait for the forge on every call (connect and each read). A forge that does not
        answer in time is reported, never waited for without end.
    type: int
    default: 20
  validate_certs:
    description: Verify the forge's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: PEM file of the CA certificates to trust for the forge's TLS certificate.
    type: path
"""
