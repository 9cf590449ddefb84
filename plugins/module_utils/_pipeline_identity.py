# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline's identity: a ServiceAccount that may only send dry-run requests.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

A server-side dry run needs the same RBAC verbs as a real write. The identity built here gets
them (a Role per namespace, or one ClusterRole), and a ValidatingAdmissionPolicy of its own
(``_admission.dry_run_only_policy``) refuses every one of its writes that is not a dry run.
Pure builders and the kubeconfig text; the requests are made by k8s_pipeline_identity.
"""

from __future__ import annotations

import base64
import json

from ansible_collections.gitops.bootstrap.plugins.module_utils import _admission as adm
from ansible_collections.gitops.bootstrap.plugins.module_utils._names import name_error

IDENTITY_LABEL = "gitops.bootstrap/pipeline-identity"
IDENTITY_NS_LABEL = "gitops.bootstrap/pipeline-identity-namespace"
ALLOWED_VERBS = ("get", "list", "create", "patch", "update")
DEFAULT_VERBS = list(ALLOWED_VERBS)
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 86400


class PipelineIdentityInputError(adm.AdmissionInputError):
    """Input that cannot become a pipeline identity; the message says what to change."""


def identity_labels(namespace: str, name: str) -> dict:
    return {adm.MANAGED_LABEL: adm.MANAGED_VALUE, IDENTITY_LABEL: name, IDENTITY_NS_LABEL: namespace}


def label_selector(namespace: str, name: str) -> str:
    return f"{IDENTITY_LABEL}={name},{IDENTITY_NS_LABEL}={namespace}"


def object_names(namespace: str, name: str) -> dict:
    """Names of what the identity consists of (the ClusterRole and policy are cluster-scoped: they carry the namespace)."""
    base = f"gitops-pipeline-{namespace}-{name}"
    return {"role": f"gitops-pipeline-{name}", "cluster_role": base, "policy": f"{base}-dry-run-only"}


def validate(params: dict) -> None:
    """Raise PipelineIdentityInputError for input that cannot become an identity; nothing is sent before."""
    problem = name_error(params.get("name"), "dns1123_label", "name") or name_error(params.get("namespace"), "dns1123_label", "namespace")
    if problem:
        raise PipelineIdentityInputError(f"{problem}. Nothing was changed.")
    if len(object_names(params["namespace"], params["name"])["policy"]) > 253:
        raise PipelineIdentityInputError("namespace and name together are too long for the policy's name (253 characters). Nothing was changed.")
    if params.get("state") == "absent":
        return
    namespaces = params.get("namespaces") or []
    for index, value in enumerate(namespaces):
        problem = name_error(value, "dns1123_label", f"namespaces[{index}]")
        if problem:
            raise PipelineIdentityInputError(f"{problem}. Nothing was changed.")
    if not namespaces and not params.get("cluster_wide"):
        raise PipelineIdentityInputError(
            "namespaces is empty and cluster_wide is false: the identity could dry-run nothing. List the namespaces the plan "
            "dry-runs into, or set cluster_wide: true. Nothing was changed."
        )
    if namespaces and params.get("cluster_wide"):
        raise PipelineIdentityInputError("Give either namespaces or cluster_wide: true, not both. Nothing was changed.")
    verbs = params.get("verbs") or []
    if not verbs:
        raise PipelineIdentityInputError(f"verbs is empty; give some of {', '.join(ALLOWED_VERBS)}. Nothing was changed.")
    bad = sorted(set(verbs) - set(ALLOWED_VERBS))
    if bad:
        raise PipelineIdentityInputError(
            f"verbs {bad} are not allowed: a dry run of the plan needs only {', '.join(ALLOWED_VERBS)}. Nothing was changed."
        )
    seconds = params.get("token_seconds")
    if not isinstance(seconds, int) or not MIN_TOKEN_SECONDS <= seconds <= MAX_TOKEN_SECONDS:
        raise PipelineIdentityInputError(
            f"token_seconds {seconds!r} is out of range: a token of the pipeline lives between {MIN_TOKEN_SECONDS} and "
            f"{MAX_TOKEN_SECONDS} seconds (24 h); ask for a new one per run instead. Nothing was changed."
        )


def service_account(namespace: str, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "labels": identity_labels(namespace, name)}}


def rules(verbs) -> list[dict]:
    return [{"apiGroups": ["*"], "resources": ["*"], "verbs": sorted(set(verbs))}]


def rbac_objects(params: dict) -> list[dict]:
    """The Role and RoleBinding of each namespace, or the ClusterRole and ClusterRoleBinding."""
    namespace, name = params["namespace"], params["name"]
    names = object_names(namespace, name)
    meta_labels = identity_labels(namespace, name)
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    api = adm.RBAC_API_VERSION
    if params.get("cluster_wide"):
        role = names["cluster_role"]
        return [
            {"apiVersion": api, "kind": "ClusterRole", "metadata": {"name": role, "labels": meta_labels}, "rules": rules(params["verbs"])},
            {"apiVersion": api, "kind": "ClusterRoleBinding", "metadata": {"name": role, "labels": meta_labels},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subject},
        ]
    out = []
    role = names["role"]
    for target in sorted(set(params["namespaces"])):
        out.append({"apiVersion": api, "kind": "Role", "metadata": {"name": role, "namespace": target, "labels": meta_labels},
                    "rules": rules(params["verbs"])})
        out.append({"apiVersion": api, "kind": "RoleBinding", "metadata": {"name": role, "namespace": target, "labels": meta_labels},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}, "subjects": subject})
    return out


def refusal_reason(namespace: str, name: str) -> str:
    return (f"it is the pipeline identity {namespace}/{name}, which previews changes (server-side dry run); "
            "changes reach the cluster through the infra repository and Argo CD")


def admission_objects(namespace: str, name: str) -> list[dict]:
    """The dry-run-only policy of the identity and its Deny binding."""
    policy_name = object_names(namespace, name)["policy"]
    policy = adm.dry_run_only_policy(policy_name, users=[adm.service_account_user(namespace, name)], reason=refusal_reason(namespace, name))
    binding = adm.build_binding(policy_name, policy_name, ["Deny"])
    for obj in (policy, binding):
        obj["metadata"]["labels"].update(identity_labels(namespace, name))
    return [policy, binding]


def probe_configmap(namespace: str, name: str, token: str) -> dict:
    """The ConfigMap a real write of the identity tries to create, to prove that its policy refuses it."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"gitops-pipeline-probe-{token}", "namespace": namespace, "labels": identity_labels(namespace, name)},
            "data": {"probe": "refused by the dry-run-only policy"}}


def token_request(seconds: int) -> dict:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}}


def token_expiry(token: str) -> int | None:
    """The exp claim of a service account token (not verified: only to know whether a kubeconfig needs a new one)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        value = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (IndexError, ValueError, AttributeError, TypeError):
        return None
    return value if isinstance(value, int) else None


def kubeconfig(server: str, ca_data: bytes | None, insecure: bool, namespace: str, name: str, token: str) -> dict:
    cluster: dict = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode("ascii")
    elif insecure:
        cluster["insecure-skip-tls-verify"] = True
    context = f"{namespace}-{name}"
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
    }


def without_token(config: dict) -> dict:
    """The kubeconfig with its token taken out (what is compared to decide whether the file must be written)."""
    out = json.loads(json.dumps(config))
    for user in out.get("users") or []:
        if isinstance(user, dict) and isinstance(user.get("user"), dict):
            user["user"].pop("token", None)
    return out


def kubeconfig_token(config: dict) -> str | None:
    try:
        return config["users"][0]["user"]["token"]
    except (KeyError, IndexError, TypeError):
        return None
