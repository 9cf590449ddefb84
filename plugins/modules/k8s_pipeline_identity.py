#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_pipeline_identity
short_description: A pipeline identity that may only send server-side dry runs
version_added: 0.2.0
description:
  - Creates a ServiceAccount for the pipeline that runs the plan, gives it the RBAC verbs a server-side dry run needs
    (a Role and RoleBinding in each of O(namespaces), or a ClusterRole and ClusterRoleBinding with O(cluster_wide)), and
    binds a ValidatingAdmissionPolicy (validation action Deny) that refuses every write of that ServiceAccount that is
    not a dry run, with a message that says why.
  - A server-side dry run needs the same verbs as a real write; the policy is what keeps the credential from changing
    the cluster around Git and Argo CD.
  - Optionally returns a bounded-lifetime token (TokenRequest) and writes a kubeconfig file for the identity.
  - V(absent) removes the binding, the policy, the RBAC objects and the ServiceAccount (found by their labels).
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
attributes:
  check_mode:
    details:
      - Every write is a server-side dry run; no token is requested and no kubeconfig is written.
  diff_mode:
    details:
      - The diff never shows a token.
  idempotent:
    details:
      - The kubeconfig file is rewritten only when its content (token aside) differs or its token has less than half of
        O(token_seconds) left; a token asked for with O(token=true) is new on each run and counts as no change.
options:
  name:
    description: Name of the ServiceAccount (a DNS label).
    type: str
    required: true
  namespace:
    description: Namespace of the ServiceAccount (it must exist).
    type: str
    required: true
  state:
    description: V(present) creates or updates the identity; V(absent) removes what this module created for it.
    type: str
    choices: [present, absent]
    default: present
  namespaces:
    description:
      - Namespaces the identity may dry-run into (a Role and RoleBinding in each). Exactly one of this and
        O(cluster_wide) must be given; namespaces that no longer appear lose their Role.
    type: list
    elements: str
    default: []
  cluster_wide:
    description: Give the verbs on every namespace and on cluster-scoped objects (a ClusterRole and ClusterRoleBinding).
    type: bool
    default: false
  verbs:
    description: The verbs granted on every resource; the writes among them are only ever allowed as dry runs.
    type: list
    elements: str
    choices: [get, list, create, patch, update]
    default: [get, list, create, patch, update]
  token:
    description: Request a token for the ServiceAccount (TokenRequest) and return it in RV(token).
    type: bool
    default: false
  token_seconds:
    description: Lifetime of the token in seconds, between 600 and 86400.
    type: int
    default: 3600
  kubeconfig_path:
    description:
      - Write a kubeconfig for the identity here (mode 0600; its directory must exist). The server and its CA are those
        of the connection this module uses.
    type: path
"""

EXAMPLES = r"""
- name: The plan's credential on the dev cluster may only dry-run into the apps' namespaces
  gitops.bootstrap.k8s_pipeline_identity:
    kubeconfig: ~/.kube/dev
    namespace: gitops-pipeline
    name: plan
    namespaces: [shop, payments]
    token_seconds: 3600
    kubeconfig_path: /run/pipeline/dev.kubeconfig

- name: A token for this run only (the task is no_log, the token is in the result)
  gitops.bootstrap.k8s_pipeline_identity:
    kubeconfig: ~/.kube/dev
    namespace: gitops-pipeline
    name: plan
    namespaces: [shop, payments]
    token: true
    token_seconds: 900
  no_log: true
  register: pipeline

- name: Remove it
  gitops.bootstrap.k8s_pipeline_identity:
    kubeconfig: ~/.kube/dev
    namespace: gitops-pipeline
    name: plan
    state: absent
"""

RETURN = r"""
changed:
  description: Whether an object was created, updated or deleted, or the kubeconfig file written.
  returned: always
  type: bool
objects:
  description: Every object, with C(kind), C(namespace), C(name) and C(action) (V(create), V(update), V(delete), V(unchanged)).
  returned: always
  type: list
  elements: dict
user:
  description: The identity as the API server names it.
  returned: success
  type: str
  sample: system:serviceaccount:gitops-pipeline:plan
policy:
  description: Name of the dry-run-only ValidatingAdmissionPolicy (and of its binding).
  returned: success
  type: str
token:
  description: The token, with O(token=true) outside check mode.
  returned: when requested
  type: str
token_expires:
  description: Expiry of the returned or written token (RFC 3339).
  returned: when a token was requested
  type: str
kubeconfig:
  description: Path of the kubeconfig file and whether it was written (C(path), C(written)).
  returned: when O(kubeconfig_path) is set
  type: dict
"""

import json
import os
import secrets
import tempfile
import time

from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission as adm
from ansible_collections.gitops.bootstrap.plugins.module_utils import _pipeline_identity as pid
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, GitopsK8sModule, K8sService, run_manager
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.client import create_client

# Seconds within which a new dry-run-only policy must be enforced before any right is granted.
POLICY_WAIT = 30

ORDER_ABSENT = (
    ("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1"),
    ("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
    ("ClusterRole", "rbac.authorization.k8s.io/v1"),
    ("RoleBinding", "rbac.authorization.k8s.io/v1"),
    ("Role", "rbac.authorization.k8s.io/v1"),
    ("ServiceAccount", "v1"),
)


def _key(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


class IdentityManager:
    def __init__(self, module: GitopsK8sModule):
        self.module = module
        self.p = module.params
        self.objects: list[dict] = []
        self.before: dict = {}
        self.after: dict = {}
        self.file_changed = False

    def record(self, kind: str, namespace: str | None, name: str, before, after) -> None:
        changed = before != after
        action = "unchanged" if not changed else ("create" if before is None else ("delete" if after is None else "update"))
        self.objects.append({"kind": kind, "namespace": namespace, "name": name, "action": action})
        if changed:
            key = _key(kind, namespace, name)
            self.before[key], self.after[key] = before, after

    def result(self, **extra) -> dict:
        out = {"changed": self.file_changed or any(o["action"] != "unchanged" for o in self.objects), "objects": self.objects}
        out.update(extra)
        if self.module._diff:
            out["diff"] = {"before": self.before, "after": self.after}
        return out

    def _delete(self, kind: str, api: str, name: str, namespace: str | None) -> None:
        before = self.module.service.delete(kind, api, name, namespace)
        if before is not None:
            self.record(kind, namespace, name, before, None)

    def _labelled(self, kind: str, api: str) -> list[tuple[str | None, str]]:
        items = self.module.service.list(kind, api, label_selector=pid.label_selector(self.p["namespace"], self.p["name"]))
        return sorted((i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items)

    def absent(self) -> dict:
        for kind, api in ORDER_ABSENT:
            for namespace, name in self._labelled(kind, api):
                self._delete(kind, api, name, namespace)
        return self.result()

    def present(self) -> dict:
        p = self.p
        service = self.module.service
        if service.get("Namespace", "v1", p["namespace"]) is None:
            raise pid.PipelineIdentityInputError(f"Namespace {p['namespace']} does not exist; create it first. Nothing was changed.")
        missing = [n for n in p["namespaces"] if service.get("Namespace", "v1", n) is None]
        if missing:
            raise pid.PipelineIdentityInputError(f"namespaces {missing} do not exist; create them or drop them from namespaces. Nothing was changed.")
        # The policy first, and in force before the identity holds any right: the API server
        # enforces a new policy only once its informer has it, a moment after the write.
        admission = pid.admission_objects(p["namespace"], p["name"])
        wanted = admission + [pid.service_account(p["namespace"], p["name"])] + pid.rbac_objects(p)
        keep = set()
        for index, obj in enumerate(wanted):
            meta = obj["metadata"]
            keep.add((obj["kind"], meta.get("namespace"), meta["name"]))
            _changed, before, after = service.apply(obj)
            self.record(obj["kind"], meta.get("namespace"), meta["name"], before, after)
            if index == len(admission) - 1 and not self.module.check_mode:
                self.wait_policy_in_force()
        # RBAC of an earlier run that is no longer wanted (a namespace dropped, namespaced <-> cluster-wide).
        for kind, api in ORDER_ABSENT[2:6]:
            for namespace, name in self._labelled(kind, api):
                if (kind, namespace, name) not in keep:
                    self._delete(kind, api, name, namespace)
        out = {"user": f"system:serviceaccount:{p['namespace']}:{p['name']}", "policy": pid.object_names(p["namespace"], p["name"])["policy"]}
        if self.module.check_mode:
            return self.result(**out)
        token = None
        if p["token"]:
            token, expires = self.request_token()
            out.update(token=token, token_expires=expires)
        if p["kubeconfig_path"]:
            out["kubeconfig"] = self.write_kubeconfig(token)
        return self.result(**out)

    def wait_policy_in_force(self) -> None:
        """Return once the API server refuses a real write of the identity; raise after POLICY_WAIT seconds.

        The probe is a real (not dry-run) create of a labelled ConfigMap, impersonating the identity
        in group system:masters so that RBAC lets it through whatever the identity holds: only the
        policy can refuse it. A probe the server still accepted is deleted at once.
        """
        p = self.p
        user = adm.service_account_user(p["namespace"], p["name"])
        params = dict(self.module.params, impersonate_user=user, impersonate_groups=["system:masters"])
        holder: dict = {}

        def connect():
            if "client" not in holder:
                holder["client"] = create_client(params)
            return holder["client"]

        probe_service = K8sService(connect)
        probe = pid.probe_configmap(p["namespace"], p["name"], secrets.token_hex(4))
        reason = pid.refusal_reason(p["namespace"], p["name"])
        deadline = time.monotonic() + POLICY_WAIT
        while True:
            try:
                probe_service.server_side_apply(probe)
            except GitopsK8sError as exc:
                if reason in exc.msg:
                    return
                if "impersonat" in exc.msg.lower():
                    raise GitopsK8sError(
                        f"Proving that the dry-run-only policy is in force needs to impersonate {user} and was refused; "
                        "run with an identity that may impersonate users and groups (cluster-admin may). The policy is "
                        "written; the identity holds no right yet.") from exc
                raise
            self.module.service.delete("ConfigMap", "v1", probe["metadata"]["name"], p["namespace"])
            if time.monotonic() >= deadline:
                raise GitopsK8sError(
                    f"The API server did not enforce the dry-run-only policy of {user} within {POLICY_WAIT} s, so no right "
                    "was granted. Check that it serves ValidatingAdmissionPolicy (Kubernetes 1.30 or later) and run again.")
            time.sleep(0.5)

    def request_token(self) -> tuple[str, str]:
        p = self.p
        answer = self.module.service.post_path(
            f"/api/v1/namespaces/{p['namespace']}/serviceaccounts/{p['name']}/token", pid.token_request(p["token_seconds"]),
            f"Requesting a token for ServiceAccount {p['namespace']}/{p['name']}",
        )
        token = (answer.get("status") or {}).get("token")
        if not token:
            raise GitopsK8sError("The API server answered the token request without a token; nothing was written.")
        return token, (answer.get("status") or {}).get("expirationTimestamp", "")

    def _connection(self) -> tuple[str, bytes | None, bool]:
        config = self.module.client.configuration
        ca_data = None
        if getattr(config, "ssl_ca_cert", None):
            with open(config.ssl_ca_cert, "rb") as fh:
                ca_data = fh.read()
        return config.host, ca_data, not getattr(config, "verify_ssl", True)

    def write_kubeconfig(self, token: str | None) -> dict:
        p = self.p
        path = p["kubeconfig_path"]
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise pid.PipelineIdentityInputError(f"kubeconfig_path: directory {directory} does not exist; create it first.")
        if os.path.islink(path) or os.path.exists(path) and not os.path.isfile(path):
            raise pid.PipelineIdentityInputError(f"kubeconfig_path {path} is a link or not a regular file; give the path of a file.")
        server, ca_data, insecure = self._connection()
        current = None
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    current = json.load(fh)
            except (OSError, ValueError):
                current = None
        old_token = pid.kubeconfig_token(current) if isinstance(current, dict) else None
        if old_token:
            self.module.module.no_log_values.add(old_token)
        probe = pid.kubeconfig(server, ca_data, insecure, p["namespace"], p["name"], "")
        expiry = pid.token_expiry(old_token) if old_token else None
        fresh = expiry is not None and expiry - time.time() > p["token_seconds"] / 2
        mode_ok = os.path.isfile(path) and (os.stat(path).st_mode & 0o777) == 0o600
        if isinstance(current, dict) and fresh and mode_ok and pid.without_token(current) == pid.without_token(probe):
            return {"path": path, "written": False}
        if token is None:
            token = self.request_token()[0]
        text = json.dumps(pid.kubeconfig(server, ca_data, insecure, p["namespace"], p["name"], token), indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.file_changed = True
        return {"path": path, "written": True}

    def run(self) -> dict:
        pid.validate(self.p)
        if self.p["state"] == "absent":
            return self.absent()
        return self.present()


def build_argument_spec() -> dict:
    return dict(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        namespaces=dict(type="list", elements="str", default=[]),
        cluster_wide=dict(type="bool", default=False),
        verbs=dict(type="list", elements="str", choices=list(pid.ALLOWED_VERBS), default=list(pid.DEFAULT_VERBS)),
        token=dict(type="bool", default=False, no_log=False),
        token_seconds=dict(type="int", default=3600, no_log=False),
        kubeconfig_path=dict(type="path"),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    manager = IdentityManager(module)
    run_manager(module, manager.run, "Creating the pipeline identity", details=lambda: {"objects": manager.objects})


if __name__ == "__main__":
    main()
