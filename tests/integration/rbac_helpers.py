# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces of the RBAC suites: realistic bad bindings, and the API server's own answers.

The seeded objects all carry the label ``rbac-test=true`` (namespaces start with ``rbac-t-``) so a
suite can remove exactly what it created. Between suites only the RBAC objects are removed; the
empty namespaces stay for the next suite (deleting and re-creating them means waiting for the
namespace controller) and the last suite removes them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import kubernetes

from conftest import ROOT, kubectl

sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac  # noqa: E402

TEST_LABEL = {"rbac-test": "true"}
NAMESPACES = ["rbac-t-a", "rbac-t-b", "rbac-t-c"]
RBAC = "rbac.authorization.k8s.io"
RBAC_V1 = "rbac.authorization.k8s.io/v1"


def _meta(name, namespace=None, labels=None):
    meta = {"name": name, "labels": dict(TEST_LABEL, **(labels or {}))}
    if namespace:
        meta["namespace"] = namespace
    return meta


def cluster_role(name, rules, labels=None, aggregate_labels=None):
    obj = {"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": _meta(name, labels=labels), "rules": rules}
    if aggregate_labels:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate_labels}]}
        obj.pop("rules")
    return obj


def role(namespace, name, rules):
    return {"apiVersion": RBAC_V1, "kind": "Role", "metadata": _meta(name, namespace), "rules": rules}


def crb(name, role_name, subjects, labels=None):
    return {
        "apiVersion": RBAC_V1,
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name, labels=labels),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role_name},
        "subjects": subjects,
    }


def rb(namespace, name, role_kind, role_name, subjects):
    return {
        "apiVersion": RBAC_V1,
        "kind": "RoleBinding",
        "metadata": _meta(name, namespace),
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def user(name):
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def sa(name, namespace=None):
    s = {"kind": "ServiceAccount", "name": name}
    if namespace:
        s["namespace"] = namespace
    return s


def bad_bindings():
    """The realistic mistakes the audit must find, each a different shape of the problem."""
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)} for ns in NAMESPACES]
    objs += [
        # a user bound to cluster-admin
        crb("rbac-t-alice-admin", "cluster-admin", [user("rbac-t-alice")]),
        # a group with edit in a namespace (a RoleBinding to a ClusterRole)
        rb("rbac-t-a", "team-a-edit", "ClusterRole", "edit", [group("rbac-t-team-a")]),
        # a role with escalate
        cluster_role("rbac-t-escalator", [{"apiGroups": [RBAC], "resources": ["clusterroles", "roles"], "verbs": ["get", "list", "escalate"]}]),
        crb("rbac-t-bob-escalate", "rbac-t-escalator", [user("rbac-t-bob")]),
        # a wildcard role, bound to people and to a service account of the namespace
        role("rbac-t-b", "wildcard", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
        rb("rbac-t-b", "wildcard-mixed", "Role", "wildcard", [group("rbac-t-team-b"), user("rbac-t-carol"), sa("deployer")]),
        # an aggregated role
        cluster_role("rbac-t-ops", [], aggregate_labels={"rbac-t/aggregate-to-ops": "true"}),
        cluster_role(
            "rbac-t-ops-secrets",
            [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
            labels={"rbac-t/aggregate-to-ops": "true"},
        ),
        cluster_role(
            "rbac-t-ops-exec",
            [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
            ],
            labels={"rbac-t/aggregate-to-ops": "true"},
        ),
        crb("rbac-t-ops", "rbac-t-ops", [group("rbac-t-ops")]),
        # a read-only RoleBinding to a ClusterRole: listed, no findings, never removed
        rb("rbac-t-c", "dave-view", "ClusterRole", "view", [user("rbac-t-dave")]),
    ]
    return objs


def edge_cases():
    """Bindings that exercise the authorizer's matching rules, for the engine-versus-API-server comparison."""
    return [
        cluster_role(
            "rbac-t-edges",
            [
                {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config"], "verbs": ["get", "update"]},
                {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update", "patch"]},
                {"nonResourceURLs": ["/logs/*", "/version"], "verbs": ["get"]},
                {"apiGroups": ["*"], "resources": ["events"], "verbs": ["list"]},
            ],
        ),
        crb("rbac-t-edges", "rbac-t-edges", [user("rbac-t-erin"), sa("robot", "rbac-t-c")]),
        rb("rbac-t-c", "edges-local", "ClusterRole", "rbac-t-edges", [sa("builder"), group("rbac-t-team-c")]),
        # a User subject spelled like a service account is that service account
        rb("rbac-t-a", "sa-as-user", "ClusterRole", "view", [user("system:serviceaccount:rbac-t-a:reader")]),
        crb("rbac-t-node-proxy", "system:node-proxier", [group("rbac-t-proxies")]),
        cluster_role(
            "rbac-t-np",
            [
                {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
            ],
        ),
        rb("rbac-t-c", "np-in-namespace", "ClusterRole", "rbac-t-np", [user("rbac-t-frank")]),
        crb("rbac-t-np", "rbac-t-np", [user("rbac-t-gina")]),
    ]


# ------------------------------------------------------------------------------------ cluster
def api_client(kubeconfig):
    return kubernetes.config.new_client_from_config(config_file=kubeconfig)


def apply(kubeconfig, objs):
    kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=rbac-test",
        "-f",
        "-",
        input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}),
    )


def cleanup(kubeconfig, namespaces=False):
    """Delete the seeded RBAC objects; with namespaces, the seeded namespaces too (without waiting)."""
    kubectl(kubeconfig, "delete", "clusterrolebindings,clusterroles", "-l", "rbac-test=true", "--ignore-not-found")
    kubectl(kubeconfig, "delete", "rolebindings,roles", "-A", "-l", "rbac-test=true", "--ignore-not-found")
    if namespaces:
        kubectl(kubeconfig, "delete", "namespaces", "-l", "rbac-test=true", "--ignore-not-found", "--wait=false")


def seed(kubeconfig, objs, timeout=120):
    """Apply the objects; namespaces still terminating from an earlier run are waited for first."""
    names = [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"]
    deadline = time.time() + timeout
    while names:
        out = kubectl(kubeconfig, "get", "namespaces", *names, "--ignore-not-found", "-o", "json").stdout
        items = json.loads(out).get("items", []) if out.strip() else []
        if not any((i.get("status") or {}).get("phase") == "Terminating" for i in items):
            break
        if time.time() > deadline:
            raise AssertionError("namespaces %s are still terminating after %ss" % (names, timeout))
        time.sleep(1)
    apply(kubeconfig, objs)


def wait_for_aggregation(kubeconfig, name, timeout=60):
    client = kubernetes.client.RbacAuthorizationV1Api(api_client(kubeconfig))
    deadline = time.time() + timeout
    while time.time() < deadline:
        obj = client.read_cluster_role(name)
        if obj.rules:
            return obj
        time.sleep(0.5)
    raise AssertionError("the aggregation controller did not fill ClusterRole %s within %ss" % (name, timeout))


def read_objects(kubeconfig):
    """The four RBAC lists of the cluster as the API server returns them."""
    out = {}
    for kind, arg, plural in (
        ("Role", "roles", "roles"),
        ("ClusterRole", "cluster_roles", "clusterroles"),
        ("RoleBinding", "role_bindings", "rolebindings"),
        ("ClusterRoleBinding", "cluster_role_bindings", "clusterrolebindings"),
    ):
        items = json.loads(kubectl(kubeconfig, "get", plural + "." + RBAC, "-A", "-o", "json").stdout)["items"]
        for item in items:
            item["kind"] = kind
        out[arg] = items
    return out


def read_snapshot(kubeconfig):
    """The RBAC objects of the cluster, in the engine."""
    return rbac.RbacSnapshot(**read_objects(kubeconfig))


class Authorizer:
    """The API server's answers (SubjectAccessReview), asked a few at a time."""

    def __init__(self, kubeconfig):
        self.api = kubernetes.client.AuthorizationV1Api(api_client(kubeconfig))
        self.calls = 0

    def allowed(self, identity, request):
        spec = {}
        if request.non_resource_url is not None:
            spec["nonResourceAttributes"] = {"verb": request.verb, "path": request.non_resource_url}
        else:
            spec["resourceAttributes"] = request.resource_attributes()
        if identity.user:
            spec["user"] = identity.user
        if identity.groups:
            spec["groups"] = identity.groups
        self.calls += 1
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        resp = self.api.create_subject_access_review(body)
        return bool(resp.status.allowed)

    def many(self, pairs, workers=4):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda p: self.allowed(*p), pairs))


# ------------------------------------------------------------------------------------ Argo CD
def argocd_rbac_objects(version="v3.5.1", namespace="argocd"):
    """The application controller's ServiceAccount, ClusterRole and ClusterRoleBinding and argocd-rbac-cm,
    taken from the real upstream install manifest (only what the RBAC tests need)."""
    import yaml

    from conftest import ARGOCD_MANIFESTS

    path = os.path.join(ARGOCD_MANIFESTS, version, "install.yaml")
    wanted = {
        ("ServiceAccount", "argocd-application-controller"),
        ("ClusterRole", "argocd-application-controller"),
        ("ClusterRoleBinding", "argocd-application-controller"),
        ("ConfigMap", "argocd-rbac-cm"),
    }
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace)}]
    with open(path) as handle:
        for doc in yaml.safe_load_all(handle):
            if not doc or (doc.get("kind"), doc["metadata"].get("name")) not in wanted:
                continue
            doc["metadata"].setdefault("labels", {}).update(TEST_LABEL)
            if doc["kind"] in ("ServiceAccount", "ConfigMap"):
                doc["metadata"]["namespace"] = namespace
            if doc["kind"] == "ClusterRoleBinding":
                for subject in doc["subjects"]:
                    subject["namespace"] = namespace
            objs.append(doc)
    assert len(objs) == len(wanted) + 1, "install.yaml of %s no longer has %s" % (version, sorted(wanted))
    return objs


def cleanup_lockdown(kubeconfig, namespaces=False):
    """Remove what the lock-down role created (labelled) besides the seeded objects."""
    label = "gitops.bootstrap/component=rbac-lockdown"
    kubectl(kubeconfig, "delete", "clusterrolebindings,clusterroles", "-l", label, "--ignore-not-found")
    kubectl(kubeconfig, "delete", "rolebindings", "-A", "-l", label, "--ignore-not-found")
    kubectl(kubeconfig, "delete", "configmaps", "-A", "-l", label, "--ignore-not-found")
    if namespaces:
        kubectl(kubeconfig, "delete", "namespaces", "-l", label, "--ignore-not-found", "--wait=false")
    cleanup(kubeconfig, namespaces=namespaces)


# ------------------------------------------------------------------------------------ backups
BACKUP_NAMESPACE = "gitops-bootstrap-system"
BACKUP_NAME = "rbac-lockdown-backup"


def read_backup(kubeconfig, namespace=BACKUP_NAMESPACE, name=BACKUP_NAME):
    """The lock-down backup as stored, decoded here by its documented format (not by the collection's code).

    The index ConfigMap holds ``format`` and ``index.json`` (the parts, each with its SHA-256, and the
    SHA-256 of the whole document); each part ConfigMap holds a slice of the gzip stream in
    ``binaryData.part``. Returns ``index``, ``parts`` (the part ConfigMaps) and ``document``.
    """
    import base64
    import gzip
    import hashlib

    index_cm = json.loads(kubectl(kubeconfig, "get", "configmap", "-n", namespace, name, "-o", "json").stdout)
    assert index_cm["data"]["format"] == "gitops.bootstrap/rbac-lockdown-backup/v2", index_cm["data"].keys()
    index = json.loads(index_cm["data"]["index.json"])
    parts, chunks = [], []
    for part in index["parts"]:
        obj = json.loads(kubectl(kubeconfig, "get", "configmap", "-n", namespace, part["name"], "-o", "json").stdout)
        data = base64.b64decode(obj["binaryData"]["part"])
        assert hashlib.sha256(data).hexdigest() == part["sha256"], part["name"]
        parts.append(obj)
        chunks.append(data)
    raw = gzip.decompress(b"".join(chunks))
    assert hashlib.sha256(raw).hexdigest() == index["sha256"]
    document = json.loads(raw)
    assert document["format"] == "gitops.bootstrap/rbac-lockdown-backup" and document["version"] == 2
    return {"index_object": index_cm, "index": index, "parts": parts, "document": document}


def legacy_backup_configmap(bindings, namespace=BACKUP_NAMESPACE, name=BACKUP_NAME):
    """The backup ConfigMap as the collection wrote it before backups had parts: one data key per
    binding, the binding as JSON text."""
    data = {}
    for obj in bindings:
        meta = obj["metadata"]
        data[rbac.backup_key(obj["kind"], meta["name"], meta.get("namespace"))] = json.dumps(rbac.clean_binding(obj), sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "gitops.bootstrap", "gitops.bootstrap/component": "rbac-lockdown"},
        },
        "data": data,
    }


def binding_state(kubeconfig, selector):
    """Every binding matching the label selector: (kind, namespace, name) -> roleRef, subjects (in order), labels, annotations."""
    out = {}
    for plural in ("clusterrolebindings", "rolebindings"):
        items = json.loads(kubectl(kubeconfig, "get", plural + "." + RBAC, "-A", "-l", selector, "-o", "json").stdout)["items"]
        for item in items:
            meta = item["metadata"]
            annotations = dict(meta.get("annotations") or {})
            annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
            out[(item["kind"], meta.get("namespace"), meta["name"])] = {
                "roleRef": item["roleRef"],
                "subjects": item.get("subjects") or [],
                "labels": meta.get("labels") or {},
                "annotations": annotations,
            }
    return out
