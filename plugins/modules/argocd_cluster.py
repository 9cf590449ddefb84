#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: argocd_cluster
short_description: Manage an Argo CD declarative cluster Secret
version_added: 0.1.0
description:
  - Manages a declarative Argo CD cluster Secret (label C(argocd.argoproj.io/secret-type=cluster)) in the namespace
    of an Argo CD instance, so that this instance deploys to another cluster (hub and spoke).
  - The Secret holds the keys C(name), C(server), C(namespaces), C(clusterResources), C(project) and C(config), a JSON
    document with the bearer token and the TLS settings (C(tlsClientConfig) with C(caData), C(insecure) and C(serverName))
    Argo CD uses to reach the cluster's API server.
  - O(namespaces) limits Argo CD to those namespaces of the cluster; it must match what the credentials are allowed to
    do there. The role C(gitops.bootstrap.argocd_spoke) creates a least-privilege ServiceAccount on the cluster and
    registers it with this module.
  - The bearer token is C(no_log). Diffs and the returned object show it as C(<hidden>) (C(<hidden, changed>) in the new
    state of a diff when it changes); a changed token is still detected and reported as a change.
  - Inputs are checked offline first (names, URL, namespaces, CA certificate, conflicting TLS settings).
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
      - The bearer token is masked in the diff; the rest of C(config) is shown.
options:
  name:
    description: Name of the Secret.
    type: str
    required: true
  namespace:
    description: Namespace of the Argo CD instance (the hub) that manages the cluster.
  state:
    description: Whether the cluster Secret should exist. V(absent) deletes it; Argo CD then forgets the cluster.
    type: str
    choices: [present, absent]
    default: present
  server:
    description:
      - URL of the cluster's API server as Argo CD reaches it, for example V(https://spoke.example.com:6443).
      - Argo CD identifies clusters by this URL; two cluster Secrets must not name the same server.
      - Required when O(state=present).
    type: str
  cluster_name:
    description:
      - Name of the cluster in Argo CD (the C(name) key), used by Applications in C(spec.destination.name).
      - Defaults to O(name).
    type: str
  bearer_token:
    description:
      - Bearer token Argo CD authenticates with, typically the token of a ServiceAccount of the cluster.
      - Required when O(state=present).
    type: str
  ca_data:
    description:
      - CA certificate(s) that signed the API server's serving certificate, either PEM text or its base64 encoding
        (the C(certificate-authority-data) of a kubeconfig).
      - Without it, Argo CD verifies the server with the system's trust store.
      - Not called C(ca_cert) because that name is the Kubernetes API connection option.
    type: str
  insecure:
    description:
      - Skip verification of the API server's certificate. Avoid; give O(ca_data) instead. Cannot be combined with O(ca_data).
    type: bool
    default: false
  tls_server_name:
    description: Server name to verify the API server's certificate against when it differs from the host of O(server).
    type: str
  namespaces:
    description:
      - Namespaces of the cluster Argo CD may manage. Argo CD then watches and deploys only there, which lets its
        credentials be limited to those namespaces.
      - Omit to let Argo CD manage the whole cluster (its credentials then need cluster-wide rights). An empty list is
        refused, because Argo CD would read it as "every namespace".
    type: list
    elements: str
  cluster_resources:
    description:
      - With O(namespaces), whether Argo CD also manages cluster-scoped resources (the C(clusterResources) key).
      - Only meaningful together with O(namespaces).
    type: bool
  project:
    description: Restrict the cluster to one AppProject (a project-scoped cluster).
    type: str
  labels:
    description:
      - Extra labels of the Secret. Argo CD ApplicationSet cluster generators select clusters by them.
    type: dict
  annotations:
    description: Extra annotations of the Secret, for example C(argocd.argoproj.io/skip-reconcile).
    type: dict
notes:
  - The Secret is written with server-side apply under the field manager C(gitops.bootstrap); keys this module no longer
    sends (for example O(project) removed) are removed from the Secret.
seealso:
  - module: gitops.bootstrap.argocd_repository
  - name: Hub and spoke
    description: The role C(gitops.bootstrap.argocd_spoke) and docs/hub_and_spoke.md of this collection.
    link: https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
"""

EXAMPLES = r"""
---
- name: Cluster prod-eu-1 is managed by the hub, limited to two namespaces
  gitops.bootstrap.argocd_cluster:
    kubeconfig: ~/.kube/hub.yaml
    name: cluster-prod-eu-1
    cluster_name: prod-eu-1
    server: https://prod-eu-1.example.com:6443
    bearer_token: "{{ spoke_token }}"
    ca_data: "{{ lookup('file', 'prod-eu-1-ca.pem') }}"
    namespaces: [shop, payments]
    cluster_resources: false
    labels:
      env: prod

- name: The cluster is no longer managed
  gitops.bootstrap.argocd_cluster:
    kubeconfig: ~/.kube/hub.yaml
    name: cluster-old
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster Secret after the run, C(data) decoded; the bearer token inside C(config) is replaced by C(<hidden>).
    - None after O(state=absent).
  returned: success
  type: dict
server:
  description: The API server URL of the cluster.
  returned: when O(state=present)
  type: str
"""

import base64
import binascii
import hashlib
import json
import re

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
    GitopsK8sModule,
    clean_object,
    run_module,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    ObjectManager,
    FIELD_MANAGER,
    SECRET_TYPE_LABEL,
    check_errors,
    dns1123_label_error,
    dns1123_subdomain_error,
    text_diff,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._secrets import MASK, MASK_CHANGED, decode_secret_data, mask_secret

SECRET_TYPE = "cluster"
PLAIN_KEYS = ("name", "server", "namespaces", "clusterResources", "project")
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")  # matched whole (fullmatch)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")


def _b64(value):
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def normalise_ca(value):
    """Return (base64 of the PEM text, error) for PEM text or base64-encoded PEM."""
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        try:
            text = base64.b64decode("".join(text.split()), validate=True).decode("utf-8").strip()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None, "ca_data is neither PEM text (-----BEGIN CERTIFICATE-----) nor the base64 encoding of PEM text."
    if not _PEM_CERT.search(text):
        return None, "ca_data does not contain a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)."
    return _b64(text + "\n"), None


def cluster_config(token, ca_b64, insecure, server_name):
    """The JSON document of the config key, serialised the same way on every run."""
    tls = {"insecure": bool(insecure)}
    if ca_b64:
        tls["caData"] = ca_b64
    if server_name:
        tls["serverName"] = server_name
    config = {"bearerToken": token, "tlsClientConfig": tls}
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def _masked_config(text, other_text):
    """The config JSON with its credentials replaced by a mask (changed ones marked)."""
    try:
        config = json.loads(text) if text else {}
        other = json.loads(other_text) if other_text else None
    except ValueError:
        return MASK_CHANGED if other_text is not None and other_text != text else MASK
    if not isinstance(config, dict):
        return MASK
    shown = {}
    for key, value in config.items():
        if key == "tlsClientConfig" and isinstance(value, dict):
            tls = dict(value)
            other_tls = (other or {}).get("tlsClientConfig") if isinstance(other, dict) else None
            if isinstance(tls.get("caData"), str):
                # Not secret, but long: shown by its digest, which still changes when the CA does.
                tls["caData"] = "sha256:" + hashlib.sha256(tls["caData"].encode("utf-8")).hexdigest()[:16]
            for secret_key in ("keyData", "certData"):
                if secret_key in tls:
                    changed = other is not None and (other_tls or {}).get(secret_key) != tls[secret_key]
                    tls[secret_key] = MASK_CHANGED if changed else MASK
            shown[key] = tls
        elif key in ("bearerToken", "password", "username", "awsAuthConfig", "execProviderConfig"):
            changed = other is not None and other.get(key) != value
            shown[key] = MASK_CHANGED if changed else MASK
        else:
            shown[key] = value
    return json.dumps(shown, sort_keys=True, separators=(",", ":"))


def masked_cluster_secret(obj, other=None):
    """A copy of a cluster Secret for output: plain keys decoded, the credentials in config masked (_secrets).

    When other (the counterpart in a diff) is given, a credential that differs from it is shown
    as MASK_CHANGED, so a diff tells that it changed without showing it.
    """
    return mask_secret(clean_object(obj), other=other, plain_keys=PLAIN_KEYS, reveal={"config": _masked_config})


class ClusterManager(ObjectManager):
    KIND = "Secret"

    def __init__(self, module):
        super().__init__(module)
        self.ca_b64 = None

    # -- offline --------------------------------------------------------------------------
    def validate(self):
        p = self.params
        errors = [dns1123_subdomain_error(self.name, "Secret name"), dns1123_label_error(self.namespace, "namespace")]
        if p["state"] == "absent":
            check_errors(errors, "Cluster %s is invalid" % self.name)
            return
        server = p.get("server")
        if not server:
            errors.append("server is required when state is present.")
        elif not _URL.fullmatch(server):
            errors.append("server %r must be the https:// URL of the cluster's API server, for example https://spoke.example.com:6443." % server)
        elif server.startswith("http://"):
            errors.append("server %r uses plain http; the bearer token would travel unencrypted. Use the https:// URL." % server)
        if not p.get("bearer_token"):
            errors.append("bearer_token is required when state is present (the token of the ServiceAccount Argo CD uses on the cluster).")
        elif p["bearer_token"] != p["bearer_token"].strip() or any(c in p["bearer_token"] for c in "\r\n"):
            errors.append("bearer_token contains white space or line breaks; pass the token itself.")
        if p.get("cluster_name") is not None and not p["cluster_name"].strip():
            errors.append("cluster_name must not be empty.")
        if p.get("ca_data"):
            self.ca_b64, error = normalise_ca(p["ca_data"])
            errors.append(error)
            if p.get("insecure"):
                errors.append("insecure=true cannot be combined with ca_data: give ca_data and leave insecure false.")
        namespaces = p.get("namespaces")
        if namespaces is not None:
            if not namespaces:
                errors.append(
                    "namespaces is an empty list, which Argo CD reads as every namespace. List the namespaces Argo CD may manage, "
                    "or omit namespaces to give it the whole cluster."
                )
            for ns in namespaces:
                errors.append(dns1123_label_error(ns, "namespaces entry"))
        elif p.get("cluster_resources") is not None:
            errors.append(
                "cluster_resources applies only together with namespaces: without namespaces Argo CD manages every namespace and "
                "every cluster-scoped resource. Add namespaces or drop cluster_resources."
            )
        if p.get("project") is not None:
            errors.append(dns1123_subdomain_error(p["project"], "project"))
        check_errors(errors, "Cluster %s is invalid" % self.name)

    def desired_secret(self):
        p = self.params
        values = {
            "name": p.get("cluster_name") or self.name,
            "server": p["server"],
            "config": cluster_config(p["bearer_token"], self.ca_b64, p.get("insecure"), p.get("tls_server_name")),
        }
        if p.get("namespaces"):
            values["namespaces"] = ",".join(sorted(set(p["namespaces"])))
        if p.get("cluster_resources") is not None:
            values["clusterResources"] = "true" if p["cluster_resources"] else "false"
        if p.get("project"):
            values["project"] = p["project"]
        labels = dict((k, str(v)) for k, v in (p.get("labels") or {}).items())
        labels[SECRET_TYPE_LABEL] = SECRET_TYPE
        metadata = {"name": self.name, "namespace": self.namespace, "labels": labels}
        if p.get("annotations"):
            metadata["annotations"] = dict((k, str(v)) for k, v in p["annotations"].items())
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": metadata,
            "data": dict((k, _b64(v)) for k, v in values.items()),
        }

    # -- checks against the live hub --------------------------------------------------------
    def check_live(self, live):
        if live is None:
            return
        live_type = ((live.get("metadata") or {}).get("labels") or {}).get(SECRET_TYPE_LABEL)
        if live_type != SECRET_TYPE:
            what = "has no %s label" % SECRET_TYPE_LABEL if live_type is None else "is an Argo CD %s Secret" % live_type
            raise GitopsK8sError(
                "%s exists but %s, so it is not an Argo CD cluster Secret; refusing to take it over. Choose another name or "
                "delete it first." % (self.ref, what)
            )

    def check_namespace(self):
        """Fail early with a useful message when the Argo CD namespace does not exist."""
        try:
            ns = self.module.get("Namespace", "v1", self.namespace)
        except GitopsK8sError as exc:
            if "403" in exc.msg:
                return  # the hub identity may only see its own namespace; let the apply speak
            raise
        if ns is None:
            raise GitopsK8sError(
                "Namespace %s does not exist on the Argo CD cluster: install Argo CD there first (role gitops.bootstrap.argocd), "
                "or set namespace to the namespace Argo CD runs in." % self.namespace
            )

    def check_duplicate_server(self):
        """Argo CD keys clusters by server URL; a second Secret for the same URL makes one of them win silently."""
        try:
            secrets = self.module.list("Secret", "v1", namespace=self.namespace, label_selector="%s=%s" % (SECRET_TYPE_LABEL, SECRET_TYPE))
        except GitopsK8sError:
            return
        for secret in secrets:
            meta = secret.get("metadata") or {}
            if meta.get("name") == self.name:
                continue
            server = decode_secret_data({"server": (secret.get("data") or {}).get("server", "")}).get("server")
            if server and server.rstrip("/") == self.params["server"].rstrip("/"):
                raise GitopsK8sError(
                    "Secret %s/%s already registers server %s with Argo CD; Argo CD keeps one cluster per server URL. Remove that "
                    "Secret or use it as name." % (self.namespace, meta.get("name"), self.params["server"])
                )

    # -- run ------------------------------------------------------------------------------
    def run(self):
        self.validate()
        if self.params["state"] == "absent":
            live = self.module.get("Secret", "v1", self.name, self.namespace)
            self.check_live(live)
            before = self.module.delete("Secret", "v1", self.name, self.namespace) if live is not None else None
            result = {"changed": before is not None, "cluster": None}
            if self.module._diff:
                result["diff"] = self.secret_diff(before, None)
            return result

        self.check_namespace()
        live = self.module.get("Secret", "v1", self.name, self.namespace)
        self.check_live(live)
        self.check_duplicate_server()
        changed, before, after = self.module.apply(self.desired_secret(), field_manager=FIELD_MANAGER)
        result = {"changed": changed, "cluster": masked_cluster_secret(after), "server": self.params["server"]}
        if self.module._diff:
            result["diff"] = self.secret_diff(before, after)
        return result

    def secret_diff(self, before, after):
        before, after = clean_object(before), clean_object(after)
        return text_diff(self.ref, masked_cluster_secret(before), masked_cluster_secret(after, other=before or {}), note="credentials hidden")


def build_argument_spec():
    """The module options (without the connection options added by GitopsK8sModule)."""
    return dict(
        name=dict(type="str", required=True),
        namespace=_argspec.argocd_namespace(),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        server=dict(type="str"),
        cluster_name=dict(type="str"),
        bearer_token=dict(type="str", no_log=True),
        ca_data=dict(type="str"),
        insecure=dict(type="bool", default=False),
        tls_server_name=dict(type="str"),
        namespaces=dict(type="list", elements="str"),
        cluster_resources=dict(type="bool"),
        project=dict(type="str"),
        labels=dict(type="dict"),
        annotations=dict(type="dict"),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, ClusterManager, "Registering the cluster with Argo CD")


if __name__ == "__main__":
    main()
