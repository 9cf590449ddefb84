# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline handling of the upstream Argo CD install manifests.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Everything here works on plain data (no cluster access), so the module argocd_install and
the filter plugins share one implementation and unit tests cover it without a cluster:
which files make up a flavour, checksum verification, parsing, the rewrite to another
namespace (upstream ClusterRoleBindings hard-code the namespace ``argocd`` in their
subjects), merging our keys into the upstream ConfigMaps, and finding secrets written
inline where a ``$`` reference belongs.
"""


import copy
import hashlib
import json
import re

from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError

try:
    import yaml

    HAS_YAML = True
    try:
        _YAML_LOADER = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover - PyYAML without libyaml
        _YAML_LOADER = yaml.SafeLoader
except ImportError:  # pragma: no cover
    HAS_YAML = False
    _YAML_LOADER = None


# The namespace the upstream manifests are written for.
UPSTREAM_NAMESPACE = "argocd"

# Files of each flavour, relative to ``manifests/`` of the upstream repository, in apply order.
FLAVOUR_FILES = {
    "cluster": ["install.yaml"],
    "namespace": [
        "crds/application-crd.yaml",
        "crds/applicationset-crd.yaml",
        "crds/appproject-crd.yaml",
        "namespace-install.yaml",
    ],
    "ha": ["ha/install.yaml"],
    "core": ["core-install.yaml"],
}

# Kinds that are not namespaced, for offline rendering (the module asks the API server instead).
CLUSTER_SCOPED_KINDS = frozenset(
    [
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "PersistentVolume",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
    ]
)

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")

# Keys whose values are secrets when they appear in OIDC or Dex configuration.
_SECRET_KEY_RE = re.compile(r"(secret|password|passwd|token|privatekey|private_key|bindpw|apikey|api_key|credential)", re.I)


class ManifestError(GitopsInputError):
    """Bad manifests or bad input; the message says what to do."""


def flavour_files(flavour):
    try:
        return list(FLAVOUR_FILES[flavour])
    except KeyError:
        raise ManifestError("unknown flavour %r; choose one of %s" % (flavour, ", ".join(sorted(FLAVOUR_FILES))))


def sha256_hex(data):
    if not isinstance(data, bytes):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def verify_checksum(name, data, checksums, required=True):
    """Check ``data`` (bytes) of manifest file ``name`` against ``checksums`` ({name: sha256}).

    Returns a dict describing the file. Raises ManifestError on a mismatch, and when
    ``required`` and no checksum is known for the file.
    """
    actual = sha256_hex(data)
    expected = (checksums or {}).get(name)
    if expected is None:
        if required:
            raise ManifestError(
                "no sha256 checksum is known for manifest file %s, so it cannot be verified. Give its checksum "
                "(argocd_manifest_checksums) or, for a manifest you built yourself, turn verification off "
                "(argocd_manifest_verify_checksum: false)." % name
            )
        return {"file": name, "sha256": actual, "verified": False}
    expected = expected.strip().lower()
    if expected.startswith("sha256:"):
        expected = expected[len("sha256:"):]
    if actual != expected:
        raise ManifestError(
            "checksum mismatch for manifest file %s: expected sha256 %s, got %s. The file is not the one the pinned "
            "version publishes (corrupted download, tampering, or a local copy of another version); nothing was "
            "applied. Fetch the file again or point the manifest source at the right version." % (name, expected, actual)
        )
    return {"file": name, "sha256": actual, "verified": True}


def parse_documents(text, source="manifest"):
    """Parse a multi-document YAML text into a list of object dicts (empty documents and Lists flattened)."""
    if not HAS_YAML:  # pragma: no cover
        raise ManifestError("PyYAML is required to read the Argo CD manifests")
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        raw = list(yaml.load_all(text, Loader=_YAML_LOADER))
    except yaml.YAMLError as exc:
        raise ManifestError("%s is not valid YAML: %s" % (source, exc))
    docs = []
    for doc in raw:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError("%s holds a YAML document that is not a Kubernetes object: %r" % (source, str(doc)[:80]))
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            docs.extend(i for i in doc["items"] if i)
            continue
        for field in ("apiVersion", "kind"):
            if not doc.get(field):
                raise ManifestError("%s holds an object without %s: %s" % (source, field, json.dumps(doc)[:120]))
        if not (doc.get("metadata") or {}).get("name"):
            raise ManifestError("%s holds a %s without metadata.name" % (source, doc.get("kind")))
        docs.append(doc)
    return docs


def is_namespaced(obj, namespaced=None):
    """``namespaced`` is an optional callable (api_version, kind) -> bool from discovery."""
    if namespaced is not None:
        return namespaced(obj["apiVersion"], obj["kind"])
    return obj["kind"] not in CLUSTER_SCOPED_KINDS


def rewrite_namespace(docs, namespace, namespaced=None, upstream_namespace=UPSTREAM_NAMESPACE, keep_given=False):
    """Return copies of ``docs`` placed in ``namespace``.

    Namespaced objects get ``metadata.namespace`` (with ``keep_given``, only those that name none:
    the caller's own objects, which may live in other namespaces); ServiceAccount subjects of
    (Cluster)RoleBindings that name the upstream namespace are pointed at ``namespace``.
    """
    out = []
    for doc in docs:
        doc = copy.deepcopy(doc)
        meta = doc.setdefault("metadata", {})
        if is_namespaced(doc, namespaced):
            if not (keep_given and meta.get("namespace")):
                meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if doc["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            for subject in doc.get("subjects") or []:
                # RoleBinding subjects without a namespace already mean the binding's own namespace.
                if subject.get("kind") == "ServiceAccount" and subject.get("namespace") == upstream_namespace:
                    subject["namespace"] = namespace
        out.append(doc)
    return out


def stringify(value):
    """ConfigMap values are strings; turn YAML booleans and numbers into the strings Argo CD expects."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def merge_config_maps(docs, config_maps):
    """Merge ``config_maps`` ({name: {key: value}}) into the ConfigMaps of ``docs`` in place.

    Upstream keys not named are kept. Raises ManifestError for a ConfigMap the manifests do not contain.
    """
    by_name = dict((d["metadata"]["name"], d) for d in docs if d["kind"] == "ConfigMap")
    for name in sorted(config_maps or {}):
        data = config_maps[name] or {}
        if not data:
            continue
        if name not in by_name:
            raise ManifestError(
                "ConfigMap %s is not part of these manifests (it holds: %s); this flavour has no such component "
                "configuration." % (name, ", ".join(sorted(by_name)))
            )
        target = by_name[name].get("data") or {}
        for key in sorted(data):
            target[key] = stringify(data[key])
        by_name[name]["data"] = target
    return docs


# The ConfigMap of the SSH host keys the repo server trusts.
KNOWN_HOSTS_CONFIG_MAP = "argocd-ssh-known-hosts-cm"


def append_known_hosts(docs, lines, config_map=KNOWN_HOSTS_CONFIG_MAP, key="ssh_known_hosts"):
    """Append SSH known_hosts ``lines`` to the upstream list, skipping lines already present."""
    lines = [line.strip() for line in (lines or []) if line and line.strip()]
    if not lines:
        return docs
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == config_map:
            data = doc.setdefault("data", {}) or {}
            doc["data"] = data
            current = data.get(key) or ""
            present = set(x.strip() for x in current.splitlines() if x.strip())
            extra = []
            for line in lines:
                if line not in present:
                    present.add(line)
                    extra.append(line)
            if extra:
                if current and not current.endswith("\n"):
                    current += "\n"
                data[key] = current + "\n".join(extra) + "\n"
            return docs
    raise ManifestError("ConfigMap %s is not part of these manifests; SSH known hosts cannot be added" % config_map)


def find_inline_secrets(value, path=""):
    """Return the paths of secret-looking keys whose value is not a ``$`` reference.

    Argo CD resolves values that start with ``$`` from argocd-secret (or ``$<secret>:<key>``
    from another Secret labelled app.kubernetes.io/part-of: argocd). Anything else under a
    key such as clientSecret would put the secret in clear text into a ConfigMap.
    """
    found = []
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            sub = value[key]
            sub_path = "%s.%s" % (path, key) if path else str(key)
            if isinstance(sub, (dict, list)):
                found.extend(find_inline_secrets(sub, sub_path))
            elif _SECRET_KEY_RE.search(str(key)) and sub not in (None, "", False, True):
                if not (isinstance(sub, str) and sub.startswith("$")):
                    found.append(sub_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(find_inline_secrets(item, "%s[%d]" % (path, index)))
    return found


def group_of(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


def object_id(obj):
    """A stable identifier: group/Kind/namespace/name (namespace empty for cluster-scoped)."""
    meta = obj.get("metadata") or {}
    return "%s/%s/%s/%s" % (group_of(obj["apiVersion"]), obj["kind"], meta.get("namespace") or "", meta["name"])


def render(text_or_docs, namespace=UPSTREAM_NAMESPACE, config_maps=None, known_hosts=None, source="manifest"):
    """Offline rendering: parse (when given text), rewrite the namespace, merge config and known hosts."""
    if isinstance(text_or_docs, (str, bytes)):
        docs = parse_documents(text_or_docs, source)
    else:
        docs = [d for d in text_or_docs if d]
    docs = rewrite_namespace(docs, namespace)
    merge_config_maps(docs, config_maps or {})
    if known_hosts:
        append_known_hosts(docs, known_hosts)
    return docs


def crd_digest(obj):
    """Replace the large OpenAPI schemas of a CRD by their digest, for readable diffs."""
    if not obj or obj.get("kind") != "CustomResourceDefinition":
        return obj
    obj = copy.deepcopy(obj)
    for version in (obj.get("spec") or {}).get("versions") or []:
        schema = version.get("schema")
        if schema is not None:
            version["schema"] = "<openAPIV3Schema sha256:%s>" % sha256_hex(json.dumps(schema, sort_keys=True))
    return obj


def workload_problems(obj):
    """Return None when a Deployment/StatefulSet/DaemonSet has fully rolled out, else a short reason."""
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    generation = meta.get("generation") or 0
    observed = status.get("observedGeneration") or 0
    if observed < generation:
        return "the controller has not yet observed generation %s (observed %s)" % (generation, observed)
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled") or 0
        if (status.get("updatedNumberScheduled") or 0) < desired or (status.get("numberAvailable") or 0) < desired:
            return "%s/%s pods updated and available" % (status.get("numberAvailable") or 0, desired)
        return None
    replicas = spec.get("replicas")
    if replicas is None:
        replicas = 1
    updated = status.get("updatedReplicas") or 0
    available = status.get("availableReplicas") or 0
    current = status.get("replicas") or 0
    ready = status.get("readyReplicas") or 0
    if kind == "StatefulSet":
        strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
        if strategy == "RollingUpdate":
            if updated < replicas:
                return "%s/%s replicas updated" % (updated, replicas)
            if status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
                return "rolling update to revision %s not finished" % status.get("updateRevision")
        if ready < replicas or available < replicas:
            return "%s/%s replicas ready" % (ready, replicas)
        return None
    if updated < replicas:
        return "%s/%s replicas updated" % (updated, replicas)
    if current > updated:
        return "%s old replicas still terminating" % (current - updated)
    if available < replicas:
        return "%s/%s replicas available" % (available, replicas)
    return None


def describe_conditions(obj):
    """``Type=Status (Reason: message)`` for each condition of an object's status."""
    parts = []
    for cond in (obj.get("status") or {}).get("conditions") or []:
        text = "%s=%s" % (cond.get("type"), cond.get("status"))
        detail = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
        if detail:
            text += " (%s)" % detail
        parts.append(text)
    return "; ".join(parts)


APPLIED_HASH_ANNOTATION = "gitops.bootstrap/applied-config-sha256"


def config_hash(obj):
    """The sha256 of an object as we apply it (without the hash annotation itself)."""
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations")
    if annotations is not None:
        annotations.pop(APPLIED_HASH_ANNOTATION, None)
        if not annotations:
            meta.pop("annotations")
    return sha256_hex(json.dumps(obj, sort_keys=True, separators=(",", ":")))


def without_hash(obj):
    """A copy of ``obj`` without the hash annotation (an object applied on another manager's behalf)."""
    obj = copy.deepcopy(obj)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    annotations.pop(APPLIED_HASH_ANNOTATION, None)
    if not annotations and "annotations" in (obj.get("metadata") or {}):
        del obj["metadata"]["annotations"]
    return obj


def with_hash(obj):
    """A copy of ``obj`` carrying the hash of its own applied configuration as an annotation."""
    digest = config_hash(obj)
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    annotations[APPLIED_HASH_ANNOTATION] = digest
    meta["annotations"] = annotations
    return obj


def _empty(value):
    return value is None or value == {} or value == []


def is_subset(desired, live):
    """True when every field set in ``desired`` has the same value in ``live``.

    Lists must have the same length and match element by element; empty maps, lists and nulls in
    ``desired`` match an absent field (the API server drops them).
    """
    if isinstance(desired, dict):
        if live is None:
            return all(_empty(v) for v in desired.values())
        if not isinstance(live, dict):
            return False
        for key, value in desired.items():
            if key not in live:
                if _empty(value):
                    continue
                return False
            if not is_subset(value, live[key]):
                return False
        return True
    if isinstance(desired, list):
        if live is None:
            return not desired
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(d, l) for d, l in zip(desired, live))
    if desired is None:
        return live is None
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    return desired == live


def up_to_date(desired_with_hash, live):
    """True when applying ``desired_with_hash`` again cannot change ``live``.

    Our last apply recorded the hash of the configuration it applied; when that hash is the
    current one, no field we owned before can be dropped now, and when every field we apply
    holds our value, the apply would change nothing.
    """
    if not live:
        return False
    want = ((desired_with_hash.get("metadata") or {}).get("annotations") or {}).get(APPLIED_HASH_ANNOTATION)
    have = ((live.get("metadata") or {}).get("annotations") or {}).get(APPLIED_HASH_ANNOTATION)
    if not want or want != have:
        return False
    return is_subset(desired_with_hash, live)


def set_replicas(docs, overrides=None):
    """Make the replica count of every Deployment and StatefulSet explicit.

    Upstream leaves most Deployments without ``spec.replicas`` (the API default is 1); written out,
    the count is owned by our field manager, so a workload scaled down out of band is drift that the
    next apply repairs. ``overrides`` ({workload name: count}) changes the count.
    """
    overrides = dict(overrides or {})
    names = set()
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        name = doc["metadata"]["name"]
        names.add(name)
        spec = doc.setdefault("spec", {})
        if name in overrides:
            spec["replicas"] = int(overrides[name])
        elif spec.get("replicas") is None:
            spec["replicas"] = 1
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ManifestError(
            "replica counts were given for %s, which these manifests do not contain (their workloads: %s)"
            % (", ".join(unknown), ", ".join(sorted(names)))
        )
    return docs
