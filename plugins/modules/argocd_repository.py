#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: argocd_repository
short_description: Manage Argo CD repository and credential template Secrets
version_added: 0.1.0
description:
  - Manages a declarative Argo CD repository Secret (label C(argocd.argoproj.io/secret-type=repository))
    or credential template (C(repo-creds)), whose credentials Argo CD uses for every repository URL
    starting with O(url).
  - Credentials are HTTPS username and password or token, an SSH private key, a TLS client
    certificate, or a GitHub App. Secret values are C(no_log); diffs and returned objects show them
    as C(<hidden>) (C(<hidden, changed>) in the new state of a diff when the value changes), and a
    changed secret value is still detected and reported as a change.
  - SSH host keys given in O(known_hosts) are added to C(argocd-ssh-known-hosts-cm) (key
    C(ssh_known_hosts)) without dropping the lines already there.
  - A CA certificate given in O(repo_ca_cert) is stored in C(argocd-tls-certs-cm) under the repository host name.
  - Inputs are checked offline first (URL and credential kinds that fit together, key and certificate
    formats, known_hosts lines).
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
  - gitops.bootstrap.argocd_namespace
attributes:
  diff_mode:
    details:
      - Secret values are masked in the diff.
options:
  name:
    description: Name of the Secret.
    type: str
    required: true
  state:
    description:
      - Whether the Secret should exist.
      - V(absent) deletes the Secret only; host keys and CA certificates stay because other repositories
        on the same host may need them.
    type: str
    choices: [present, absent]
    default: present
  type:
    description: V(repository) for one repository, V(repo-creds) for a credential template matched by URL prefix.
    type: str
    choices: [repository, repo-creds]
    default: repository
  url:
    description: Repository URL (or URL prefix for V(repo-creds)). Required when O(state=present).
    type: str
  repo_type:
    description: Kind of repository.
    type: str
    choices: [git, helm]
    default: git
  project:
    description: Limit the credentials to one AppProject.
    type: str
  repo_username:
    description:
      - HTTPS user name (any non-empty name for token authentication with most servers).
      - Not called C(username) because that name is the Kubernetes API connection option.
    type: str
  repo_password:
    description:
      - HTTPS password or access token.
      - Not called C(password) because that name is the Kubernetes API connection option.
    type: str
  ssh_private_key:
    description: SSH private key (OpenSSH or PEM format); needs an SSH URL.
    type: str
  known_hosts:
    description:
      - SSH known_hosts lines (C(host key-type key)) to add to C(argocd-ssh-known-hosts-cm). Lines already present are kept.
    type: list
    elements: str
  tls_client_cert_data:
    description: TLS client certificate (PEM).
    type: str
  tls_client_cert_key:
    description: Key of the TLS client certificate (PEM).
    type: str
  github_app_id:
    description: GitHub App ID.
    type: str
  github_app_installation_id:
    description: GitHub App installation ID.
    type: str
  github_app_private_key:
    description: GitHub App private key (PEM).
    type: str
  github_app_enterprise_base_url:
    description: API base URL of a GitHub Enterprise server, for example V(https://github.example.com/api/v3).
    type: str
  repo_ca_cert:
    description:
      - PEM CA certificate(s) to trust for the repository host, stored in C(argocd-tls-certs-cm).
      - Not called C(ca_cert) because that name is the Kubernetes API connection option.
    type: str
  insecure:
    description: Skip host key or TLS certificate verification. Avoid; give O(known_hosts) or O(repo_ca_cert) instead.
    type: bool
  enable_lfs:
    description: Fetch Git LFS objects.
    type: bool
  repo_proxy:
    description:
      - HTTP(S) proxy URL Argo CD uses to reach the repository.
      - Not called C(proxy) because that name is the Kubernetes API connection option.
    type: str
  labels:
    description: Extra labels of the Secret.
    type: dict
notes:
  - Argo CD does not follow HTTP redirects of Git servers; give the final URL (GitLab needs the C(.git) suffix).
seealso:
  - module: gitops.bootstrap.argocd_application
"""

EXAMPLES = r"""
---
- name: Infra repository over SSH with its host key
  gitops.bootstrap.argocd_repository:
    name: repo-infra
    url: git@git.example.com:platform/infra.git
    ssh_private_key: "{{ lookup('file', 'deploy_key') }}"
    known_hosts:
      - git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl

- name: Token for every repository of an organisation, with a private CA
  gitops.bootstrap.argocd_repository:
    name: creds-example-org
    type: repo-creds
    url: https://git.example.com/example-org/
    repo_username: argocd
    repo_password: "{{ vault_git_token }}"
    repo_ca_cert: "{{ lookup('file', 'example-ca.pem') }}"
"""

RETURN = r"""
repository:
  description: The Secret after the run; non-secret keys decoded, secret values replaced by C(<hidden>).
  returned: success
  type: dict
known_hosts_added:
  description: known_hosts lines added in this run.
  returned: success
  type: list
  elements: str
"""

import base64

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
    clean_object,
    run_module,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    ObjectManager,
    ArgoCDModule,
    KNOWN_HOSTS_CONFIGMAP,
    KNOWN_HOSTS_KEY,
    PART_OF_LABEL,
    SECRET_TYPE_LABEL,
    TLS_CERTS_CONFIGMAP,
    check_errors,
    configmap_data_text,
    dns1123_label_error,
    dns1123_subdomain_error,
    field_manager_for,
    FIELD_MANAGER,
    is_ssh_url,
    known_hosts_line_error,
    masked_secret,
    merge_known_hosts,
    text_diff,
    repo_host,
)


def _b64(value):
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _looks_like_private_key(text):
    return "-----BEGIN" in text and "PRIVATE KEY-----" in text


class RepositoryManager(ObjectManager):
    KIND = "Secret"

    # -- offline --------------------------------------------------------------------------
    def validate(self):
        p = self.params
        errors = [dns1123_subdomain_error(self.name, "Secret name"), dns1123_label_error(self.namespace, "namespace")]
        if p["state"] == "absent":
            check_errors(errors, "Repository %s is invalid" % self.name)
            return
        url = p.get("url")
        if not url:
            errors.append("url is required when state is present.")
        ssh = is_ssh_url(url)
        if p.get("ssh_private_key"):
            if url and not ssh:
                errors.append("ssh_private_key needs an SSH URL (git@host:path or ssh://...), but url is %s." % url)
            if p["repo_type"] == "helm":
                errors.append("Helm repositories are fetched over HTTPS; ssh_private_key cannot be used with repo_type=helm.")
            if not _looks_like_private_key(p["ssh_private_key"]):
                errors.append("ssh_private_key does not look like a private key (expected a -----BEGIN ... PRIVATE KEY----- block).")
        if url and ssh and (p.get("repo_password") or p.get("github_app_private_key") or p.get("tls_client_cert_key")):
            errors.append("url %s is an SSH URL; HTTPS credentials (repo_password, GitHub App, TLS client certificate) cannot be used with it." % url)
        if p.get("github_app_private_key") and not _looks_like_private_key(p["github_app_private_key"]):
            errors.append("github_app_private_key does not look like a PEM private key.")
        if p.get("tls_client_cert_key") and not _looks_like_private_key(p["tls_client_cert_key"]):
            errors.append("tls_client_cert_key does not look like a PEM private key.")
        if p.get("tls_client_cert_data") and "-----BEGIN CERTIFICATE-----" not in p["tls_client_cert_data"]:
            errors.append("tls_client_cert_data does not look like a PEM certificate.")
        kinds = [k for k in ("repo_password", "ssh_private_key", "github_app_private_key") if p.get(k)]
        if len(kinds) > 1:
            errors.append("give one kind of credentials, not %s." % " and ".join(kinds))
        for line in p.get("known_hosts") or []:
            errors.append(known_hosts_line_error(line))
        if p.get("repo_ca_cert") is not None:
            if "-----BEGIN CERTIFICATE-----" not in p["repo_ca_cert"]:
                errors.append("repo_ca_cert does not look like a PEM certificate (-----BEGIN CERTIFICATE-----).")
            if url and ssh:
                errors.append("repo_ca_cert is for HTTPS repositories; url %s is an SSH URL." % url)
            if url and not repo_host(url)[0]:
                errors.append("cannot tell the host of url %s for repo_ca_cert." % url)
        if p.get("repo_proxy") and not p["repo_proxy"].startswith(("http://", "https://")):
            errors.append("repo_proxy %r must be an http:// or https:// URL." % p["repo_proxy"])
        check_errors(errors, "Repository %s is invalid" % self.name)

    def desired_secret(self):
        p = self.params
        values = {
            "url": p["url"],
            "type": p["repo_type"],
            "project": p.get("project"),
            "username": p.get("repo_username"),
            "password": p.get("repo_password"),
            "sshPrivateKey": p.get("ssh_private_key"),
            "tlsClientCertData": p.get("tls_client_cert_data"),
            "tlsClientCertKey": p.get("tls_client_cert_key"),
            "githubAppID": p.get("github_app_id"),
            "githubAppInstallationID": p.get("github_app_installation_id"),
            "githubAppPrivateKey": p.get("github_app_private_key"),
            "githubAppEnterpriseBaseUrl": p.get("github_app_enterprise_base_url"),
            "proxy": p.get("repo_proxy"),
        }
        for option, key in (("insecure", "insecure"), ("enable_lfs", "enableLfs")):
            if p.get(option) is not None:
                values[key] = "true" if p[option] else "false"
        labels = dict((k, str(v)) for k, v in (p.get("labels") or {}).items())
        labels[SECRET_TYPE_LABEL] = p["type"]
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": labels},
            "data": dict((k, _b64(v)) for k, v in values.items() if v not in (None, "")),
        }

    # -- run ------------------------------------------------------------------------------
    def run(self):
        self.validate()
        if self.params["state"] == "absent":
            before = self.module.delete("Secret", "v1", self.name, self.namespace)
            result = {"changed": before is not None, "repository": None, "known_hosts_added": []}
            if self.module._diff:
                result["diff"] = [self.secret_diff(before, None)]
            return result

        diffs = []
        live = self.module.get("Secret", "v1", self.name, self.namespace)
        if live is not None:
            live_type = ((live.get("metadata") or {}).get("labels") or {}).get(SECRET_TYPE_LABEL)
            if live_type is None:
                raise GitopsK8sError(
                    "%s exists but is not an Argo CD repository Secret (no %s label); refusing to take it over. "
                    "Choose another name or delete it first." % (self.ref, SECRET_TYPE_LABEL)
                )
        changed, before, after = self.module.apply(self.desired_secret(), field_manager=FIELD_MANAGER)
        diffs.append(self.secret_diff(before, after))

        added = []
        if self.params.get("known_hosts"):
            kh_changed, added, kh_diff = self.ensure_known_hosts()
            changed = changed or kh_changed
            if kh_diff:
                diffs.append(kh_diff)
        if self.params.get("repo_ca_cert") is not None:
            ca_changed, ca_diff = self.ensure_ca()
            changed = changed or ca_changed
            diffs.append(ca_diff)

        warnings = []
        if is_ssh_url(self.params["url"]) and not self.params.get("insecure"):
            cm = self.module.get("ConfigMap", "v1", KNOWN_HOSTS_CONFIGMAP, self.namespace)
            text = ((cm or {}).get("data") or {}).get(KNOWN_HOSTS_KEY) or ""
            host, port = repo_host(self.params["url"])
            if self.module.check_mode and added:
                text += "\n" + "\n".join(added)
            wanted = "[%s]:%s" % (host, port) if port and port != "22" else host
            if host and not any(wanted in line.split()[0].split(",") for line in text.splitlines() if line.strip() and not line.startswith("#")):
                warnings.append(
                    "No SSH host key for %s in %s: Argo CD will refuse to connect. Add it with the known_hosts option." % (wanted, KNOWN_HOSTS_CONFIGMAP)
                )

        result = {"changed": changed, "repository": masked_secret(after), "known_hosts_added": added}
        if warnings:
            result["warnings"] = warnings
        if self.module._diff:
            result["diff"] = diffs
        return result

    def ensure_known_hosts(self):
        live = self.module.get("ConfigMap", "v1", KNOWN_HOSTS_CONFIGMAP, self.namespace)
        existing = ((live or {}).get("data") or {}).get(KNOWN_HOSTS_KEY)
        merged, added = merge_known_hosts(existing, self.params["known_hosts"])
        if not added and live is not None:
            return False, [], None
        definition = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": KNOWN_HOSTS_CONFIGMAP, "namespace": self.namespace, "labels": {PART_OF_LABEL: "argocd"}},
            "data": {KNOWN_HOSTS_KEY: merged or ""},
        }
        changed, before, after = self.module.apply(definition, field_manager=field_manager_for("%s/%s" % (KNOWN_HOSTS_CONFIGMAP, KNOWN_HOSTS_KEY)))
        return changed, added, self.cm_diff(KNOWN_HOSTS_CONFIGMAP, before, after)

    def ensure_ca(self):
        host = repo_host(self.params["url"])[0]
        pem = self.params["repo_ca_cert"].strip() + "\n"
        definition = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": TLS_CERTS_CONFIGMAP, "namespace": self.namespace, "labels": {PART_OF_LABEL: "argocd"}},
            "data": {host: pem},
        }
        changed, before, after = self.module.apply(definition, field_manager=field_manager_for("%s/%s" % (TLS_CERTS_CONFIGMAP, host)))
        return changed, self.cm_diff(TLS_CERTS_CONFIGMAP, before, after)

    def cm_diff(self, name, before, after):
        return text_diff(f"ConfigMap {self.namespace}/{name}", before, after, view=configmap_data_text)

    def secret_diff(self, before, after):
        before, after = clean_object(before), clean_object(after)
        return text_diff(self.ref, masked_secret(before), masked_secret(after, other=before or {}), note="secret values hidden")


def build_argument_spec():
    """The module options (without the connection options added by ArgoCDModule)."""
    argument_spec = dict(
        name=dict(type="str", required=True),
        namespace=_argspec.argocd_namespace(),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        type=dict(type="str", choices=["repository", "repo-creds"], default="repository"),
        url=dict(type="str"),
        repo_type=dict(type="str", choices=["git", "helm"], default="git"),
        project=dict(type="str"),
        repo_username=dict(type="str"),
        repo_password=dict(type="str", no_log=True),
        ssh_private_key=dict(type="str", no_log=True),
        known_hosts=dict(type="list", elements="str", no_log=False),
        tls_client_cert_data=dict(type="str"),
        tls_client_cert_key=dict(type="str", no_log=True),
        github_app_id=dict(type="str"),
        github_app_installation_id=dict(type="str"),
        github_app_private_key=dict(type="str", no_log=True),
        github_app_enterprise_base_url=dict(type="str"),
        repo_ca_cert=dict(type="str"),
        insecure=dict(type="bool"),
        enable_lfs=dict(type="bool"),
        repo_proxy=dict(type="str"),
        labels=dict(type="dict"),
    )
    return argument_spec


def main():
    argument_spec = build_argument_spec()
    module = ArgoCDModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ("url",))],
        required_together=[
            ("repo_username", "repo_password"),
            ("tls_client_cert_data", "tls_client_cert_key"),
            ("github_app_id", "github_app_installation_id", "github_app_private_key"),
        ],
    )
    run_module(module, RepositoryManager, "Managing the Argo CD repository")


if __name__ == "__main__":
    main()
