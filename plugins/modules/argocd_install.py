#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: argocd_install
short_description: Install, upgrade or remove Argo CD from its upstream manifests
version_added: 0.1.0
author:
  - gitops.bootstrap contributors (@gitops-bootstrap)
description:
  - Reads the upstream Argo CD install manifests of one flavour from the upstream URL of a pinned version or from a
    local file or directory, verifies each file against its sha256 checksum before anything is applied, places every
    object in O(namespace) (including the ServiceAccount subjects that upstream ClusterRoleBindings hard-code to
    C(argocd)), merges configuration keys into the upstream ConfigMaps without dropping the keys upstream ships, and
    applies everything with server-side apply under one stable field manager.
  - CustomResourceDefinitions are applied first and waited for until they are C(Established); then the other objects are
    applied, and the Deployments and StatefulSets are waited for until they have rolled out. On a timeout the error names
    each workload that is not ready with its conditions and the state of its pods.
  - The objects applied are recorded in the ConfigMap C(gitops-bootstrap-argocd-install) of the namespace, so a later run
    with another version or flavour removes what the new manifests no longer contain, and O(state=absent) removes
    exactly what was installed.
  - In check mode every object is sent to the API server as a server-side dry run. Objects that cannot be validated yet
    because their namespace or their CustomResourceDefinition does not exist are reported as to be created without a
    call, and marked C(validated=false).
  - With O(state=absent), Argo CD is removed and the workloads it deployed keep running; the finalizers of Argo CD's
    Applications, ApplicationSets and AppProjects are removed first so no resource is deleted in cascade, unless
    O(cascade=true).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows each object that changes; Secret values are masked and the OpenAPI schemas of
        CustomResourceDefinitions are shown as their digest.
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) installs or upgrades Argo CD; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  namespace:
    description:
      - The namespace Argo CD runs in. It is created when missing.
    type: str
    default: argocd
  version:
    description:
      - The Argo CD version of the manifests, for example V(v3.5.1). Recorded with the install and returned.
    type: str
  flavour:
    description:
      - Which upstream manifests to install.
      - V(cluster) is C(install.yaml); V(namespace) is C(namespace-install.yaml) plus the CRDs from C(crds/);
        V(ha) is C(ha/install.yaml); V(core) is C(core-install.yaml) (no API server, UI, Dex or notifications).
    type: str
    choices: [cluster, namespace, ha, core]
    default: cluster
  source:
    description:
      - Where the manifests come from. An C(http://) or C(https://) URL is the base of the upstream C(manifests/) folder
        of one version, for example C(https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests); the flavour's
        files are fetched below it.
      - Any other value is a local path on the managed node, either a directory laid out like upstream's C(manifests/)
        folder or, for the V(cluster), V(ha) and V(core) flavours, the single manifest file itself.
      - Required with O(state=present); not used with O(state=absent), which removes what the install recorded in the
        namespace (or, without that record, the objects labelled C(app.kubernetes.io/part-of=argocd) there and the
        ClusterRoleBindings and ClusterRoles bound to its ServiceAccounts).
    type: str
  checksums:
    description:
      - >-
        The sha256 of each manifest file, keyed by its path relative to C(manifests/), for example
        C({"install.yaml": "795a..."}). A single local file is checked against the flavour's file.
      - A file whose checksum differs is an error and nothing is applied.
    type: dict
    default: {}
  verify_checksums:
    description:
      - When V(true), every file read must have a checksum in O(checksums) and match it.
      - Set V(false) only for manifests you built yourself.
    type: bool
    default: true
  config_maps:
    description:
      - >-
        Keys to set in the upstream ConfigMaps, keyed by ConfigMap name, for example
        C({"argocd-cm": {"admin.enabled": "false"}}). The keys upstream ships and that are not named here are kept.
      - Booleans and numbers are written as the strings Argo CD expects.
    type: dict
    default: {}
  known_hosts:
    description:
      - SSH known_hosts lines added to the upstream list in C(argocd-ssh-known-hosts-cm).
    type: list
    elements: str
    default: []
  replicas:
    description:
      - >-
        Replica counts of Deployments and StatefulSets by name, for example C({"argocd-repo-server": 2}).
      - Every workload gets an explicit count (upstream's, or 1 where upstream leaves it to the API default), so a
        workload scaled out of band is drift that the next run repairs.
    type: dict
    default: {}
  namespace_labels:
    description:
      - Labels of the namespace, for example Pod Security admission labels.
    type: dict
    default: {}
  namespace_annotations:
    description:
      - Annotations of the namespace.
    type: dict
    default: {}
  extra_objects:
    description:
      - More objects applied after the manifests, for example an Ingress for C(argocd-server). Namespaced objects without
        a namespace are placed in O(namespace). They are recorded with the install like the upstream objects.
    type: list
    elements: dict
    default: []
  absent_objects:
    description:
      - Objects that must not exist, deleted after the apply, for example C(argocd-initial-admin-secret).
    type: list
    elements: dict
    default: []
    suboptions:
      api_version:
        description: API version of the object.
        type: str
        default: v1
      kind:
        description: Kind of the object.
        type: str
        required: true
      name:
        description: Name of the object.
        type: str
        required: true
      namespace:
        description: Namespace of the object; defaults to O(namespace) for namespaced kinds.
        type: str
      only_with_labels:
        description: Delete the object only when it carries all these labels (so objects made by others are kept).
        type: dict
  field_manager:
    description:
      - The server-side apply field manager. Keep it stable across runs so fields removed from the manifests are removed
        from the cluster.
    type: str
    default: gitops.bootstrap.argocd-install
  force_conflicts:
    description:
      - Take over fields that another field manager set (as C(kubectl apply --server-side --force-conflicts)).
    type: bool
    default: true
  prune:
    description:
      - Delete objects of the previous install that the current manifests and O(extra_objects) no longer contain
        (after a version or flavour change). CustomResourceDefinitions, Namespaces, AppProjects and Applications are
        never pruned (deleting an Application with the resources finalizer deletes what it deployed); they are only
        dropped from the record.
    type: bool
    default: true
  wait:
    description:
      - Wait for the CustomResourceDefinitions to be established and the workloads to roll out (with O(state=absent), for
        the namespace to be gone; the Applications of O(cascade=true) are waited for in any case). Never waits in check
        mode.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for the workloads (and for each other wait).
    type: int
    default: 300
  download_timeout:
    description:
      - Timeout in seconds of each manifest download.
    type: int
    default: 60
  download_validate_certs:
    description:
      - Verify the TLS certificate of the download server.
    type: bool
    default: true
  parallel:
    description:
      - How many API requests run at once.
    type: int
    default: 8
  cache_dir:
    description:
      - Directory on the managed node where verified downloads and parsed manifests are cached by their sha256.
      - Defaults to C(gitops-bootstrap/argocd-manifests) under C($XDG_CACHE_HOME) or C(~/.cache).
    type: path
  cascade:
    description:
      - With O(state=absent), let Argo CD delete what its Applications deployed before Argo CD itself is removed. Each
        Application gets the C(resources-finalizer.argocd.argoproj.io) finalizer (when it has none) and is deleted,
        parents before the Applications they manage and after the ApplicationSets; the module then waits (also with
        O(wait=false)) until no Application is left, re-deleting any that something re-creates meanwhile. Only then are
        the controllers, their RBAC, the AppProjects and the rest removed, so the application controller keeps its
        identity and projects for as long as it deletes.
      - Argo CD itself is kept out of the cascade. An Application that manages nothing but Argo CD's own objects
        (anything in O(namespace), that namespace, the argoproj.io CRDs, the cluster-scoped objects of the install),
        such as the root app of apps or Argo CD's self-management, is deleted without cascade (its Argo CD finalizers are
        removed). Such objects managed by any other Application get the sync option C(Delete=false) first.
      - Needs a running application controller. The run fails before any change when the
        C(argocd-application-controller) workload has no ready replica, and after O(wait_timeout) seconds with the
        Applications still present, their C(DeletionError) conditions and finalizers; Argo CD itself is then not
        removed yet, and a later run goes on.
      - When V(false), the Argo CD finalizers are removed and the deployed workloads keep running.
    type: bool
    default: false
  keep_crds:
    description:
      - With O(state=absent), keep the Argo CD CustomResourceDefinitions. They are always kept when Argo CD custom
        resources exist in other namespaces (another Argo CD instance uses them).
    type: bool
    default: false
  keep_namespace:
    description:
      - With O(state=absent), keep the namespace (the installed objects are still deleted).
    type: bool
    default: false
requirements:
  - kubernetes >= 24.2.0
  - PyYAML
notes:
  - Secrets of the manifests are applied without data; their values never appear in the output.
seealso:
  - module: gitops.bootstrap.argocd_info
  - name: Argo CD installation
    description: Upstream documentation of the install manifests.
    link: https://argo-cd.readthedocs.io/en/stable/operator-manual/installation/
"""

EXAMPLES = r"""
---
- name: Argo CD v3.5.1 is installed from the upstream URL, verified against its checksum
  gitops.bootstrap.argocd_install:
    namespace: argocd
    version: v3.5.1
    flavour: cluster
    source: https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests
    checksums:
      install.yaml: 795a3a972224da6a7f9d32c3e946445f062b60fb46028476715affeb688236e3
    config_maps:
      argocd-cm:
        admin.enabled: "false"
        url: https://argocd.example.com
      argocd-cmd-params-cm:
        server.insecure: true

- name: Argo CD is installed in namespace gitops from a local copy of the manifests (air-gapped)
  gitops.bootstrap.argocd_install:
    namespace: gitops
    version: v3.5.1
    flavour: namespace
    source: /srv/mirror/argo-cd/v3.5.1/manifests
    checksums:
      crds/application-crd.yaml: 5dde0e229249b6b707beb98674c1deae3949d5c319a6c45b9f5a80c99618e40c
      crds/applicationset-crd.yaml: 7d282054f41ca2b71a22bab04a8caf0000e07e53a62432e6ea292dae5ab4f07d
      crds/appproject-crd.yaml: ab225266944322750136f1198d93786e4a79a0e43c8d149abfba44da30a3eac8
      namespace-install.yaml: d4502267b57f8047006b6405f4737c273d79762459670b51d202fd4fa6f48f5c
    absent_objects:
      - kind: Secret
        name: argocd-initial-admin-secret

- name: Argo CD is removed; the applications it deployed keep running
  gitops.bootstrap.argocd_install:
    namespace: argocd
    state: absent
"""

RETURN = r"""
version:
  description: The version installed (O(version)), or the version recorded by the install being removed.
  returned: always
  type: str
  sample: v3.5.1
flavour:
  description: The flavour installed or removed.
  returned: always
  type: str
  sample: cluster
namespace:
  description: The namespace of Argo CD.
  returned: always
  type: str
  sample: argocd
files:
  description: The manifest files read, with their sha256 and whether it was verified against a known checksum.
  returned: when manifests were read
  type: list
  elements: dict
  sample: [{"file": "install.yaml", "sha256": "795a3a97...", "verified": true, "source": "https://..."}]
objects:
  description:
    - One entry per object with the action taken (or, in check mode, that would be taken) C(create), C(update),
      C(unchanged) or C(delete), and whether the API server validated it (V(false) when it could not be sent as a dry
      run because its namespace or CRD does not exist yet).
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "Deployment", "name": "argocd-server", "namespace": "argocd", "action": "create", "validated": true}]
summary:
  description: How many objects were created, updated, left unchanged and deleted.
  returned: always
  type: dict
  sample: {"create": 0, "update": 1, "unchanged": 56, "delete": 0}
check_mode:
  description: Whether the module ran in check mode (also when check mode was set on the task or play).
  returned: always
  type: bool
namespace_existed:
  description: Whether the namespace existed before this run.
  returned: always
  type: bool
crds_existed:
  description: Whether all Argo CD CustomResourceDefinitions were established before this run.
  returned: always
  type: bool
workloads:
  description: The Deployments and StatefulSets of the install and whether they are ready.
  returned: when O(state=present)
  type: list
  elements: dict
  sample: [{"kind": "Deployment", "name": "argocd-server", "ready": true, "reason": ""}]
applications:
  description:
    - The Applications of the namespace found by O(state=absent), parents first, each with the resources it deployed
      outside Argo CD itself (from its status) and whether Argo CD deletes them (C(cascade)) or they are left running.
  returned: when O(state=absent)
  type: list
  elements: dict
  sample: [{"name": "web", "cascade": true, "resources": ["Deployment web/web", "Service web/web"]}]
timings:
  description: Seconds spent in each phase.
  returned: always
  type: dict
"""

import json
import os
import re
import time
import traceback

from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
    GitopsK8sModule,
    NotFoundError,
    ResourceNotFoundError,
    clean_object,
    describe_exception,
    mask_secret,
)
# RESOURCES_FINALIZER makes Argo CD delete what an Application deployed before the Application goes
# (also with a /foreground or /background suffix).
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    API_VERSION as APPLICATION_API,
    DEFAULT_SERVER as IN_CLUSTER_SERVER,
    RESOURCES_FINALIZER,
    name_is_valid,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import (
    CLUSTER_SCOPED_KINDS,
    ManifestError,
    WORKLOAD_KINDS,
    append_known_hosts,
    crd_digest,
    describe_conditions,
    flavour_files,
    merge_config_maps,
    object_id,
    object_ref,
    parse_documents,
    rewrite_namespace,
    set_replicas,
    sha256_hex,
    up_to_date,
    verify_checksum,
    with_hash,
    workload_problems,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._equivalence import keep_live_spelling

try:
    from concurrent.futures import ThreadPoolExecutor
except ImportError:  # pragma: no cover
    ThreadPoolExecutor = None


from ansible.module_utils.urls import open_url
from ansible.module_utils.common.text.converters import to_native


INVENTORY_NAME = "gitops-bootstrap-argocd-install"
# Kinds of the upstream manifests that live in the Argo CD namespace.
NAMESPACED_UPSTREAM_KINDS = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "ServiceAccount"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
)
ARGO_GROUP = "argoproj.io"
ARGO_CRS = (("Application", "applications"), ("ApplicationSet", "applicationsets"), ("AppProject", "appprojects"))
ARGO_FINALIZER_RE = re.compile(r"argocd\.argoproj\.io")
MANAGED_BY = {"app.kubernetes.io/managed-by": "gitops.bootstrap"}
SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"


def resource_ref(res):
    """``Kind namespace/name`` of an entry of an Application's status.resources."""
    if res.get("namespace"):
        return "%s %s/%s" % (res.get("kind"), res["namespace"], res.get("name"))
    return "%s %s" % (res.get("kind"), res.get("name"))


def is_argocd_object(res, namespace, cluster_objects):
    """Whether an object an in-cluster Application manages is part of Argo CD itself: anything in Argo CD's
    namespace (its Applications, AppProjects, settings), that namespace, the argoproj.io CRDs and the
    cluster-scoped objects of the install (``cluster_objects``: a set of (kind, name))."""
    name, kind = res.get("name"), res.get("kind")
    if res.get("namespace"):
        return res["namespace"] == namespace
    if kind == "Namespace" and not res.get("group"):
        return name == namespace
    if kind == "CustomResourceDefinition":
        return (name or "").endswith("." + ARGO_GROUP)
    return (kind, name) in cluster_objects


def plan_application(app, namespace, cluster_objects):
    """How the cascading uninstall deletes one Application.

    Returns ``(cascade, own, deployed)``: ``own`` are the objects of Argo CD itself among its resources, which Argo
    CD must not delete under its own feet (the uninstall removes them afterwards), ``deployed`` the others. An
    Application that deployed nothing but Argo CD itself (the root app-of-apps, Argo CD's self-management) is
    deleted without cascade; every other one lets Argo CD delete what it deployed.
    """
    dest = (app.get("spec") or {}).get("destination") or {}
    local = (dest.get("server") or "").rstrip("/") == IN_CLUSTER_SERVER or dest.get("name") == "in-cluster"
    resources = (app.get("status") or {}).get("resources") or []
    own = [r for r in resources if local and is_argocd_object(r, namespace, cluster_objects)]
    deployed = [r for r in resources if not (local and is_argocd_object(r, namespace, cluster_objects))]
    if deployed:
        return True, own, deployed
    if own or (local and dest.get("namespace") == namespace):
        return False, own, deployed
    return True, own, deployed


def parents_first(apps, namespace):
    """Applications ordered so that each comes after the Applications that manage it (app of apps): a parent
    deleted first can no longer re-create a child deleted after it."""
    names = set(a["metadata"]["name"] for a in apps)
    children = {}
    for app in apps:
        name = app["metadata"]["name"]
        children[name] = [r.get("name") for r in (app.get("status") or {}).get("resources") or []
                          if r.get("kind") == "Application" and r.get("group") == ARGO_GROUP
                          and r.get("namespace") == namespace and r.get("name") in names and r.get("name") != name]
    depth = dict((n, 0) for n in names)
    for _round in range(len(names)):  # bounded: a cycle cannot loop forever
        moved = False
        for parent, kids in children.items():
            for kid in kids:
                if depth[kid] < depth[parent] + 1 <= len(names):
                    depth[kid] = depth[parent] + 1
                    moved = True
        if not moved:
            break
    return sorted(apps, key=lambda a: (depth[a["metadata"]["name"]], a["metadata"]["name"]))


def with_resources_finalizer(finalizers):
    if any(f == RESOURCES_FINALIZER or f.startswith(RESOURCES_FINALIZER + "/") for f in finalizers):
        return list(finalizers)
    return list(finalizers) + [RESOURCES_FINALIZER]


def without_argocd_finalizers(finalizers):
    return [f for f in finalizers if not ARGO_FINALIZER_RE.search(f)]


def with_delete_false(sync_options):
    """The value of the sync-options annotation with ``Delete=false`` (Argo CD then never deletes the object in a
    cascade), keeping the other options."""
    options = [o.strip() for o in (sync_options or "").split(",") if o.strip() and not o.strip().startswith("Delete=")]
    return ",".join(options + ["Delete=false"])


def _raw(_client, data):
    """Serializer for the dynamic client: keep the decoded JSON as it is (fast for large CRDs)."""
    return data


# Kinds that leaving the desired set never deletes.
NEVER_PRUNED = ("CustomResourceDefinition", "Namespace", "AppProject", "Application")


class Action(object):
    """The result for one object."""

    def __init__(self, obj, action, validated=True, before=None, after=None):
        meta = obj.get("metadata") or {}
        self.obj = obj
        self.action = action
        self.validated = validated
        self.before = before
        self.after = after
        self.entry = {
            "api_version": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta.get("name"),
            "namespace": meta.get("namespace") or "",
            "action": action,
            "validated": validated,
        }


class ArgocdInstaller(object):
    def __init__(self, module):
        self.k8s = module
        self.module = module.module
        self.params = module.params
        self.check_mode = module.check_mode
        self.namespace = self.params["namespace"]
        self.actions = []
        self.warnings = []
        self.timings = {}
        self.files = []
        self._resources = {}
        self._dyn = None
        self._t0 = time.time()

    # ---------------------------------------------------------------- helpers
    def _mark(self, phase):
        now = time.time()
        self.timings[phase] = round(now - self._t0, 3)
        self._t0 = now

    @property
    def dyn(self):
        """The dynamic client of the module's connection (kubeconfig checked, every request bounded)."""
        if self._dyn is None:
            self._dyn = self.k8s.client.client
        return self._dyn

    def resource(self, api_version, kind):
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self.dyn.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                self._resources[key] = None
            except GitopsK8sError:
                raise
            except Exception as exc:  # pylint: disable=broad-except
                raise GitopsK8sError(describe_exception(exc, "Looking up the %s (%s) resource type" % (kind, api_version)))
        return self._resources[key]

    def forget_resource(self, api_version, kind):
        self._resources.pop((api_version, kind), None)
        try:
            self.dyn.resources.invalidate_cache()
        except Exception:  # pylint: disable=broad-except
            pass

    def namespaced(self, api_version, kind):
        res = self.resource(api_version, kind)
        if res is None:
            return kind not in CLUSTER_SCOPED_KINDS
        return bool(res.namespaced)

    def get(self, api_version, kind, name, namespace=None):
        res = self.resource(api_version, kind)
        if res is None:
            return None
        try:
            return self.dyn.get(res, name=name, namespace=namespace if res.namespaced else None, serializer=_raw)
        except NotFoundError:
            return None
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Reading %s %s" % (kind, "%s/%s" % (namespace, name) if namespace else name)))

    def list(self, api_version, kind, namespace=None, label_selector=None):
        res = self.resource(api_version, kind)
        if res is None:
            return []
        try:
            result = self.dyn.get(res, namespace=namespace, label_selector=label_selector, serializer=_raw)
        except NotFoundError:
            return []
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Listing %s" % kind))
        return result.get("items") or []

    def server_side_apply(self, obj):
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        params = {"field_manager": self.params["field_manager"], "force_conflicts": self.params["force_conflicts"]}
        if self.check_mode:
            params["dry_run"] = "All"
        try:
            return self.dyn.server_side_apply(res, body=obj, name=meta["name"], namespace=meta.get("namespace"), serializer=_raw, **params)
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Applying %s" % object_ref(obj)))

    def delete(self, obj, propagation_policy="Background"):
        res = self.resource(obj["apiVersion"], obj["kind"])
        if res is None:
            return
        meta = obj["metadata"]
        params = {"propagation_policy": propagation_policy, "serializer": _raw}
        if self.check_mode:
            params["dry_run"] = "All"
        try:
            self.dyn.delete(res, name=meta["name"], namespace=meta.get("namespace") if res.namespaced else None, **params)
        except NotFoundError:
            pass
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Deleting %s" % object_ref(obj)))

    def merge_patch(self, obj, body, doing):
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        try:
            return self.dyn.patch(res, body=body, name=meta["name"], namespace=meta.get("namespace") if res.namespaced else None,
                                  content_type="application/merge-patch+json", serializer=_raw)
        except NotFoundError:
            return None
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, "status", None) == 409:
                raise
            raise GitopsK8sError(describe_exception(exc, "%s %s" % (doing, object_ref(obj))))

    def update_finalizers(self, obj, change, doing="Removing the Argo CD finalizers of"):
        """Set the finalizers of an object to ``change(finalizers)``, from its live state; an update by someone
        else in between (Argo CD writes the status of its Applications all the time) is read again and retried."""
        meta = obj["metadata"]
        for attempt in range(6):
            live = self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            if live is None:
                return None
            current = (live.get("metadata") or {}).get("finalizers") or []
            wanted = change(current)
            if wanted == current:
                return live
            body = {"metadata": {"finalizers": wanted or None, "resourceVersion": live["metadata"].get("resourceVersion")}}
            try:
                return self.merge_patch(obj, body, doing)
            except Exception as exc:  # pylint: disable=broad-except
                if getattr(exc, "status", None) != 409 or attempt == 5:
                    raise GitopsK8sError(describe_exception(exc, "%s %s" % (doing, object_ref(obj))))
                time.sleep(0.2)
        return None

    def resolve_all(self, objs):
        """Look up the resource types of ``objs`` one after the other, before threads use them
        (discovery keeps a cache that is not meant to be filled by several threads at once)."""
        for obj in objs:
            self.resource(obj["apiVersion"], obj["kind"])

    def parallel(self, func, items):
        """Run func over items with a thread pool; the first error is raised after all have finished."""
        items = list(items)
        if not items:
            return []
        workers = max(1, min(self.params["parallel"], len(items)))
        if workers == 1 or ThreadPoolExecutor is None:
            return [func(i) for i in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(func, i) for i in items]
            results, errors = [], []
            for fut in futures:
                try:
                    results.append(fut.result())
                except Exception as exc:  # pylint: disable=broad-except
                    errors.append(exc)
                    results.append(None)
        if errors:
            raise errors[0]
        return results

    # ---------------------------------------------------------------- manifests
    def _download(self, url):
        try:
            resp = open_url(
                url,
                timeout=self.params["download_timeout"],
                validate_certs=self.params["download_validate_certs"],
                http_agent="gitops.bootstrap-argocd_install",
            )
            return resp.read()
        except Exception as exc:  # pylint: disable=broad-except
            code = getattr(exc, "code", None)
            if code == 404:
                raise ManifestError(
                    "%s does not exist (HTTP 404): the upstream repository has no such file for this version. Check the "
                    "version (argocd_version) and the flavour." % url
                )
            raise ManifestError(
                "could not download %s: %s. A cluster without internet access can use a local copy: set the manifest "
                "source (argocd_manifest_source) to a directory laid out like upstream's manifests/ folder." % (url, to_native(exc))
            )

    def load_manifests(self):
        source = self.params.get("source")
        flavour = self.params["flavour"]
        if not source:
            raise ManifestError("a manifest source is required (option source)")
        names = flavour_files(flavour)
        checksums = self.params["checksums"] or {}
        verify = self.params["verify_checksums"]
        blobs = []
        if re.match(r"^https?://", source):
            base = source.rstrip("/")
            for name in names:
                url = "%s/%s" % (base, name)
                cached = self._cache_read("%s.yaml" % checksums.get(name)) if verify and checksums.get(name) else None
                if cached is not None and sha256_hex(cached) == checksums[name]:
                    blobs.append((name, url, cached))
                    continue
                data = self._download(url)
                blobs.append((name, url, data))
        else:
            path = source
            if os.path.isdir(path):
                for name in names:
                    full = os.path.join(path, name)
                    if not os.path.isfile(full):
                        raise ManifestError(
                            "manifest directory %s has no file %s, which the %s flavour needs; the directory must be laid "
                            "out like upstream's manifests/ folder of one version." % (path, name, flavour)
                        )
                    with open(full, "rb") as fh:
                        blobs.append((name, full, fh.read()))
            elif os.path.isfile(path):
                if len(names) != 1:
                    raise ManifestError(
                        "the %s flavour needs several files (%s); point the manifest source at a directory instead of the "
                        "single file %s." % (flavour, ", ".join(names), path)
                    )
                with open(path, "rb") as fh:
                    blobs.append((names[0], path, fh.read()))
            else:
                raise ManifestError(
                    "the manifest source %s does not exist on the managed node; give an http(s) URL or an existing file or "
                    "directory." % source
                )
        # Verify every file before any parsing or apply: a mismatch leaves the cluster untouched.
        for name, origin, data in blobs:
            if verify:
                info = verify_checksum(name, data, checksums, required=True)
            else:
                info = {"file": name, "sha256": sha256_hex(data), "verified": False}
            info["source"] = origin
            self.files.append(info)
            if info["verified"] and origin.startswith(("http://", "https://")):
                self._cache_write("%s.yaml" % info["sha256"], data)
        docs = []
        for (name, origin, data), info in zip(blobs, self.files):
            docs.extend(self._parse_cached(data, origin, info["sha256"]))
        return docs

    # Parsed manifests and verified downloads are cached by their sha256 on the managed node, so a
    # re-run neither downloads nor parses the 2 MB of YAML again.
    def _cache_path(self, name):
        base = self.params.get("cache_dir")
        if not base:
            home_cache = os.path.join(os.environ.get("HOME") or "/tmp", ".cache")
            base = os.path.join(os.environ.get("XDG_CACHE_HOME") or home_cache, "gitops-bootstrap", "argocd-manifests")
        return os.path.join(base, name)

    def _cache_read(self, name):
        try:
            with open(self._cache_path(name), "rb") as fh:
                return fh.read()
        except (IOError, OSError):
            return None

    def _cache_write(self, name, data):
        path = self._cache_path(name)
        try:
            if not os.path.isdir(os.path.dirname(path)):
                os.makedirs(os.path.dirname(path), 0o700)
            tmp = "%s.%d.tmp" % (path, os.getpid())
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.rename(tmp, path)
        except (IOError, OSError):
            pass

    def _parse_cached(self, data, origin, digest):
        name = "%s.json" % digest
        cached = self._cache_read(name)
        if cached is not None:
            try:
                docs = json.loads(cached.decode("utf-8"))
                if isinstance(docs, list):
                    return docs
            except ValueError:
                pass
        docs = parse_documents(data, origin)
        self._cache_write(name, json.dumps(docs, separators=(",", ":")).encode("utf-8"))
        return docs

    def desired_objects(self):
        docs = self.load_manifests()
        merge_config_maps(docs, self.params["config_maps"])
        append_known_hosts(docs, self.params["known_hosts"])
        set_replicas(docs, self.params["replicas"])
        for extra in self.params["extra_objects"]:
            if not isinstance(extra, dict) or not extra.get("kind") or not extra.get("apiVersion") or not (extra.get("metadata") or {}).get("name"):
                raise ManifestError("each extra object needs apiVersion, kind and metadata.name; got %s" % json.dumps(extra)[:200])
        self._mark("read_manifests")
        return docs

    # ---------------------------------------------------------------- inventory
    def inventory_object(self, entries, version, flavour):
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": INVENTORY_NAME, "namespace": self.namespace, "labels": dict(MANAGED_BY)},
            "data": {
                "version": version or "",
                "flavour": flavour or "",
                "objects": json.dumps(sorted(entries), indent=0),
            },
        }

    @staticmethod
    def inventory_entries(inventory):
        if not inventory:
            return []
        try:
            entries = json.loads((inventory.get("data") or {}).get("objects") or "[]")
        except ValueError:
            return []
        return [tuple(e) for e in entries if isinstance(e, list) and len(e) == 4]

    @staticmethod
    def entry_of(obj):
        meta = obj["metadata"]
        return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])

    @staticmethod
    def stub_of(entry):
        api_version, kind, namespace, name = entry
        meta = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        return {"apiVersion": api_version, "kind": kind, "metadata": meta}

    # ---------------------------------------------------------------- present
    def present(self):
        docs = self.desired_objects()
        ns = self.namespace
        # Connect, learn which kinds are namespaced, and place every object.
        docs = rewrite_namespace(docs, ns, namespaced=self.namespaced)
        extras = rewrite_namespace(self.params["extra_objects"], ns, namespaced=self.namespaced)
        namespace_obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        if self.params["namespace_labels"]:
            namespace_obj["metadata"]["labels"] = dict((k, str(v)) for k, v in self.params["namespace_labels"].items())
        if self.params["namespace_annotations"]:
            namespace_obj["metadata"]["annotations"] = dict((k, str(v)) for k, v in self.params["namespace_annotations"].items())
        docs = [with_hash(d) for d in docs]
        extras = [with_hash(d) for d in extras]
        namespace_obj = with_hash(namespace_obj)
        crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
        others = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
        self._mark("discovery")

        live_ns = self.get("v1", "Namespace", ns)
        self.namespace_existed = live_ns is not None
        if live_ns and (live_ns.get("metadata") or {}).get("deletionTimestamp"):
            self._fail_terminating(live_ns)
        inventory = self.get("v1", "ConfigMap", INVENTORY_NAME, ns) if live_ns else None

        # Read everything first, so conflicts are found before the first write.
        everything = crds + others + extras
        befores = self.parallel(lambda o: self._get_obj(o, live_ns is not None), everything)
        before_of = dict((object_id(o), b) for o, b in zip(everything, befores))
        self.crds_existed = all(self._established(before_of[object_id(c)]) for c in crds)
        self._check_foreign_bindings(docs, before_of)
        self._mark("read_live")

        new_entries = [self.entry_of(o) for o in docs + extras]
        old_entries = self.inventory_entries(inventory)
        inventory_changed = False

        # 1. the namespace
        self._record(self._apply_one(namespace_obj, live_ns, True))
        # 2. a record of what is about to be applied, so a failure part-way leaves a complete inventory
        if not self.check_mode:
            union = sorted(set(old_entries) | set(new_entries))
            if set(union) != set(old_entries):
                inventory_changed = True
                self.server_side_apply(self.inventory_object(union, self.params.get("version"), self.params["flavour"]))
        # 3. CRDs, established before anything that may use them
        self._record_all(self.parallel(lambda o: self._apply_one(o, before_of[object_id(o)], True), crds))
        if crds and not self.check_mode and self.params["wait"]:
            self._wait_established(crds)
        self._mark("apply_crds")
        # 4. everything else; objects in a namespace that does not exist yet cannot be dry-run
        ns_ready = live_ns is not None or not self.check_mode
        self._record_all(self.parallel(
            lambda o: self._apply_one(o, before_of[object_id(o)], ns_ready or not o["metadata"].get("namespace")), others))
        for obj in extras:
            validated = ns_ready
            if self.resource(obj["apiVersion"], obj["kind"]) is None:
                self.forget_resource(obj["apiVersion"], obj["kind"])
                if self.resource(obj["apiVersion"], obj["kind"]) is None:
                    if not self.check_mode:
                        raise GitopsK8sError(
                            "The API server does not serve %s (%s), so extra object %s cannot be applied. Install its "
                            "CustomResourceDefinition first." % (obj["kind"], obj["apiVersion"], object_ref(obj))
                        )
                    validated = False
            self._record(self._apply_one(obj, before_of.get(object_id(obj)), validated and (ns_ready or not obj["metadata"].get("namespace"))))
        self._mark("apply")
        # 5. prune what a previous version or flavour installed and this one does not
        if self.params["prune"] and old_entries:
            stale = [e for e in old_entries if e not in set(new_entries) and e[1] not in NEVER_PRUNED]
            self.resolve_all([self.stub_of(e) for e in stale])
            self._record_all(self.parallel(self._prune_one, stale))
        # 6. the final record
        final = self.inventory_object(new_entries, self.params.get("version"), self.params["flavour"])
        if not self.check_mode and (inventory_changed or not inventory or (inventory.get("data") or {}) != final["data"]):
            self.server_side_apply(final)
        # 7. objects that must not exist
        self._delete_absent_objects(live_ns is not None)
        self._mark("prune")
        # 8. workloads rolled out
        workloads = [o for o in docs if o["kind"] in WORKLOAD_KINDS]
        self.workloads = []
        if not self.check_mode and self.params["wait"]:
            self.workloads = self._wait_workloads(workloads)
        else:
            self.workloads = [{"kind": o["kind"], "name": o["metadata"]["name"], "ready": None, "reason": "not waited"} for o in workloads]
        self._mark("wait")

    def _get_obj(self, obj, namespace_exists):
        meta = obj["metadata"]
        if meta.get("namespace") and not namespace_exists:
            return None
        return self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    @staticmethod
    def _established(crd):
        if not crd:
            return False
        for cond in (crd.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Established" and cond.get("status") == "True":
                return True
        return False

    def _fail_terminating(self, live_ns):
        meta = live_ns.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or []) + list((live_ns.get("spec") or {}).get("finalizers") or [])
        # Namespace deletion conditions are True when something blocks the deletion.
        conditions = describe_conditions({"status": {"conditions": [
            c for c in (live_ns.get("status") or {}).get("conditions") or [] if c.get("status") == "True"]}})
        raise GitopsK8sError(
            "Namespace %s is being deleted (deletion requested at %s) and is stuck terminating%s%s. Nothing was applied: "
            "objects cannot be created in a terminating namespace. Let the deletion finish (remove what blocks it, for "
            "example the finalizers listed), or install into another namespace, then run again."
            % (
                meta.get("name"),
                meta.get("deletionTimestamp"),
                "; finalizers: %s" % ", ".join(finalizers) if finalizers else "",
                "; conditions: %s" % conditions if conditions else "",
            )
        )

    def _check_foreign_bindings(self, docs, before_of):
        for obj in docs:
            if obj["kind"] != "ClusterRoleBinding":
                continue
            live = before_of.get(object_id(obj))
            if not live:
                continue
            wanted = set((s.get("name"), s.get("namespace")) for s in obj.get("subjects") or [] if s.get("kind") == "ServiceAccount")
            have = set((s.get("name"), s.get("namespace")) for s in live.get("subjects") or [] if s.get("kind") == "ServiceAccount")
            other = sorted(ns for name, ns in have - wanted if ns and ns != self.namespace)
            if other:
                raise GitopsK8sError(
                    "ClusterRoleBinding %s already binds the Argo CD ServiceAccount of namespace %s: a cluster-wide Argo CD "
                    "is installed there. Cluster-scoped objects of two cluster-wide installs share their names, so "
                    "installing into %s would take it over. Nothing was applied. Remove that install first, install "
                    "into the same namespace, or use the namespace flavour." % (obj["metadata"]["name"], ", ".join(other), self.namespace)
                )

    def _apply_one(self, obj, before, validated):
        # A live value that means the same as ours (argocd-rbac-cm policy lines in another order)
        # is kept as it is: the apply, its dry run and the diff then agree that nothing changes.
        obj = keep_live_spelling(obj, before)
        if not validated:
            # The server cannot dry-run it yet (namespace or CRD missing): report it honestly without a call.
            return Action(obj, "create" if before is None else "update", validated=False, before=None, after=obj)
        if up_to_date(obj, before):
            # Same configuration as our last apply and every field still holds our value: nothing to send.
            return Action(obj, "unchanged", validated=True, before=None, after=None)
        after = self.server_side_apply(obj)
        b, a = clean_object(before), clean_object(after)
        if b is None:
            action = "create"
        elif b != a:
            action = "update"
        else:
            action = "unchanged"
        return Action(obj, action, validated=True, before=b, after=a)

    def _record(self, action):
        if action is not None:
            self.actions.append(action)

    def _record_all(self, actions):
        for action in actions:
            self._record(action)

    def _prune_one(self, entry):
        stub = self.stub_of(entry)
        live = self.get(stub["apiVersion"], stub["kind"], stub["metadata"]["name"], stub["metadata"].get("namespace"))
        if live is None:
            return None
        self.delete(stub)
        return Action(stub, "delete", before=clean_object(live), after=None)

    def _delete_absent_objects(self, namespace_exists):
        for spec in self.params["absent_objects"]:
            obj = {"apiVersion": spec.get("api_version") or "v1", "kind": spec["kind"], "metadata": {"name": spec["name"]}}
            if self.namespaced(obj["apiVersion"], obj["kind"]):
                obj["metadata"]["namespace"] = spec.get("namespace") or self.namespace
                if obj["metadata"]["namespace"] == self.namespace and not namespace_exists:
                    continue
            live = self.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
            if live is None:
                continue
            wanted = spec.get("only_with_labels") or {}
            labels = (live.get("metadata") or {}).get("labels") or {}
            if any(labels.get(k) != str(v) for k, v in wanted.items()):
                continue
            self.delete(obj)
            self._record(Action(obj, "delete", before=clean_object(live), after=None))

    def _wait_established(self, crds):
        deadline = time.time() + min(self.params["wait_timeout"], 120)
        pending = list(crds)
        while True:
            lives = self.parallel(lambda c: self.get(c["apiVersion"], c["kind"], c["metadata"]["name"]), pending)
            pending = [c for c, live in zip(pending, lives) if not self._established(live)]
            if not pending:
                break
            if time.time() > deadline:
                details = []
                for c, live in zip(pending, lives):
                    details.append("%s: %s" % (c["metadata"]["name"], describe_conditions(live or {}) or "no conditions"))
                raise GitopsK8sError(
                    "CustomResourceDefinitions were not established within %ss: %s. Check the API server log and that "
                    "the CRDs are valid for this Kubernetes version." % (int(min(self.params["wait_timeout"], 120)), "; ".join(details))
                )
            time.sleep(0.25)
        # New types are served now; forget what discovery knew before.
        try:
            self.dyn.resources.invalidate_cache()
        except Exception:  # pylint: disable=broad-except
            pass

    def _wait_workloads(self, workloads):
        deadline = time.time() + self.params["wait_timeout"]
        state = {}
        while True:
            lives = self.parallel(lambda o: self.get(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]), workloads)
            state = {}
            for obj, live in zip(workloads, lives):
                state[object_id(obj)] = (obj, live, workload_problems(live) if live else "not found")
            if all(problem is None for _o, _l, problem in state.values()):
                break
            if time.time() > deadline:
                raise GitopsK8sError(self._unready_message(state))
            time.sleep(1)
        return [
            {"kind": obj["kind"], "name": obj["metadata"]["name"], "ready": problem is None, "reason": problem or ""}
            for obj, _live, problem in state.values()
        ]

    def _unready_message(self, state):
        lines = []
        for obj, live, problem in state.values():
            if problem is None:
                continue
            text = "%s: %s" % (object_ref(obj), problem)
            conditions = describe_conditions(live or {})
            if conditions:
                text += "; conditions: %s" % conditions
            pods = self._pod_states(live) if live else ""
            if pods:
                text += "; pods: %s" % pods
            lines.append(text)
        return (
            "Argo CD workloads did not become ready within %ss (%d of %d not ready):\n- %s\nThe objects were applied; "
            "check the conditions above (images that cannot be pulled, unschedulable pods, quotas), fix the cause and run "
            "again, or raise the wait timeout (argocd_wait_timeout)."
            % (self.params["wait_timeout"], len(lines), len(state), "\n- ".join(lines))
        )

    def _pod_states(self, live):
        selector = ((live.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not selector:
            return ""
        try:
            pods = self.list("v1", "Pod", namespace=live["metadata"]["namespace"],
                             label_selector=",".join("%s=%s" % kv for kv in sorted(selector.items())))
        except GitopsK8sError:
            return ""
        parts = []
        for pod in pods[:3]:
            status = pod.get("status") or {}
            reasons = []
            for cond in status.get("conditions") or []:
                if cond.get("status") != "True" and (cond.get("reason") or cond.get("message")):
                    reasons.append("%s: %s" % (cond.get("reason") or cond.get("type"), cond.get("message") or ""))
            for cs in status.get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason"):
                    reasons.append("%s %s: %s" % (cs.get("name"), waiting.get("reason"), waiting.get("message") or ""))
            parts.append("%s %s%s" % (pod["metadata"]["name"], status.get("phase"), " (%s)" % "; ".join(reasons) if reasons else ""))
        if not pods:
            return "none created"
        return ", ".join(parts)

    # ---------------------------------------------------------------- absent
    def discovered_entries(self, ns):
        """Without a record of the install: the objects labelled part of Argo CD in the namespace, the
        ClusterRoleBindings whose ServiceAccount subjects live there, and the ClusterRoles they bind."""
        entries = []
        selector = "app.kubernetes.io/part-of=argocd"
        for api_version, kind in NAMESPACED_UPSTREAM_KINDS:
            for item in self.list(api_version, kind, namespace=ns, label_selector=selector):
                entries.append((api_version, kind, ns, item["metadata"]["name"]))
        roles = set()
        for crb in self.list("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", label_selector=selector):
            if any(s.get("kind") == "ServiceAccount" and s.get("namespace") == ns for s in crb.get("subjects") or []):
                entries.append(("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", crb["metadata"]["name"]))
                roles.add((crb.get("roleRef") or {}).get("name"))
        for role in self.list("rbac.authorization.k8s.io/v1", "ClusterRole", label_selector=selector):
            if role["metadata"]["name"] in roles:
                entries.append(("rbac.authorization.k8s.io/v1", "ClusterRole", "", role["metadata"]["name"]))
        return entries

    def absent(self):
        ns = self.namespace
        live_ns = self.get("v1", "Namespace", ns)
        self.namespace_existed = live_ns is not None
        inventory = self.get("v1", "ConfigMap", INVENTORY_NAME, ns) if live_ns else None
        data = (inventory or {}).get("data") or {}
        self.version = data.get("version") or self.params.get("version")
        self.flavour = data.get("flavour") or self.params["flavour"]
        entries = self.inventory_entries(inventory) if inventory else self.discovered_entries(ns)
        if inventory:
            entries.append(self.entry_of(inventory))
        crd_names = ["%s.%s" % (plural, ARGO_GROUP) for _kind, plural in ARGO_CRS]
        self.resolve_all([self.stub_of(e) for e in entries]
                         + [{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}])
        crd_lives = self.parallel(lambda n: self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", n), crd_names)
        self.crds_existed = all(self._established(c) for c in crd_lives)
        self._mark("read_live")

        # Argo CD custom resources, here and elsewhere.
        ours, foreign = [], []
        for kind, _plural in ARGO_CRS:
            for item in self.list("argoproj.io/v1alpha1", kind):
                item["apiVersion"] = "argoproj.io/v1alpha1"
                item["kind"] = kind
                (ours if item["metadata"].get("namespace") == ns else foreign).append(item)
        remove_crds = not self.params["keep_crds"] and not foreign
        if foreign and not self.params["keep_crds"] and any(crd_lives):
            self.warnings.append(
                "Argo CD custom resources exist in other namespaces (%s), so the CustomResourceDefinitions are kept."
                % ", ".join(sorted(set(i["metadata"]["namespace"] for i in foreign)))
            )
        self.cluster_objects = set((e[1], e[3]) for e in entries if not e[2])
        apps = parents_first([i for i in ours if i["kind"] == "Application"], ns)
        plans = dict((a["metadata"]["name"], plan_application(a, ns, self.cluster_objects)) for a in apps)
        self.applications = [self._application_report(a, plans[a["metadata"]["name"]]) for a in apps]
        handled = set()
        if self.params["cascade"] and apps:
            self._cascade(ours, apps, plans, entries, handled)
        # Stop the controllers first, so nothing re-creates or cascades while the finalizers are removed.
        workloads = [self.stub_of(e) for e in entries if e[1] in WORKLOAD_KINDS]
        self._record_all(self.parallel(lambda st: self._delete_stub(st, "Foreground"), workloads))
        if workloads and not self.check_mode and self.params["wait"]:
            self._wait_gone(workloads, "the Argo CD workloads to stop")
        # Keep what Argo CD deployed: drop Argo CD's finalizers of each custom resource right before deleting it;
        # ApplicationSets first, then Applications with each parent before the Applications it manages.
        rest_of_ours = [i for i in ours if i["kind"] == "ApplicationSet"] + apps + [i for i in ours if i["kind"] == "AppProject"]
        for item in rest_of_ours:
            key = self.entry_of(item)
            if key in handled:
                continue
            if not self.check_mode:
                self.update_finalizers(item, without_argocd_finalizers)
            # An ApplicationSet leaves its Applications to the loop (orphaned, not collected by the garbage collector).
            self._record(self._delete_live(item, "Orphan" if item["kind"] == "ApplicationSet" else "Background"))
        # The installed objects, the CRDs and the namespace.
        rest = [self.stub_of(e) for e in entries if e[1] not in WORKLOAD_KINDS + ("CustomResourceDefinition", "Namespace")]
        self._record_all(self.parallel(lambda st: self._delete_stub(st, "Background"), rest))
        if remove_crds:
            for live in crd_lives:
                if live is not None:
                    live.setdefault("apiVersion", "apiextensions.k8s.io/v1")
                    live.setdefault("kind", "CustomResourceDefinition")
                    self._record(self._delete_live(live, "Background"))
        if live_ns is not None and not self.params["keep_namespace"]:
            live_ns.setdefault("apiVersion", "v1")
            live_ns.setdefault("kind", "Namespace")
            self._record(self._delete_live(live_ns, "Background"))
            if not self.check_mode and self.params["wait"]:
                self._wait_gone([live_ns], "namespace %s to be deleted" % ns)
        self._mark("delete")

    # ---------------------------------------------------------------- cascade
    def _application_report(self, app, plan):
        cascade, _own, deployed = plan
        return {"name": app["metadata"]["name"], "cascade": bool(cascade and self.params["cascade"]),
                "resources": [resource_ref(r) for r in deployed]}

    def _controller_ready(self, entries):
        """Fail before any change when no application controller runs: nothing would delete what the Applications
        deployed, and the uninstall would only time out."""
        ns = self.namespace
        found = [e for e in entries if e[1] in WORKLOAD_KINDS and e[3] == "argocd-application-controller"]
        api_version, kind = (found[0][0], found[0][1]) if found else ("apps/v1", "StatefulSet")
        live = self.get(api_version, kind, "argocd-application-controller", ns)
        if live is not None and ((live.get("status") or {}).get("readyReplicas") or 0) > 0:
            return
        state = "does not exist" if live is None else "has no ready replica"
        raise GitopsK8sError(
            "The cascading uninstall needs Argo CD's application controller, which deletes what the Applications "
            "deployed, but %s %s/argocd-application-controller %s. Nothing was changed. Start the controller and run "
            "again, or uninstall without cascade (argocd_uninstall_cascade: false) to leave the deployed resources in "
            "place." % (kind, ns, state)
        )

    def _cascade(self, ours, apps, plans, entries, handled):
        """Argo CD deletes what the Applications deployed while its controller, its RBAC and its AppProjects are
        all still there; the uninstall goes on only once every Application is gone."""
        self._controller_ready(entries)
        if not self.check_mode:
            for app in apps:
                if not app["metadata"].get("deletionTimestamp"):
                    self._prepare_cascade(app, plans[app["metadata"]["name"]])
        # ApplicationSets go first, so that none generates again an Application deleted below. Their Applications
        # are orphaned and deleted below like the others (not by the garbage collector, before their plan is applied).
        for item in ours:
            if item["kind"] == "ApplicationSet":
                if not self.check_mode:
                    self.update_finalizers(item, without_argocd_finalizers)
                self._record(self._delete_live(item, "Orphan"))
                handled.add(self.entry_of(item))
        for app in apps:
            self._delete_application(app, plans[app["metadata"]["name"]][0])
            handled.add(self.entry_of(app))
        if not self.check_mode:
            self._wait_applications_deleted()
        self._mark("cascade")

    def _prepare_cascade(self, app, plan):
        """Before a cascading delete: the resources finalizer on the Application, and Delete=false on the objects
        of Argo CD itself that it manages. An Application deleted without cascade needs nothing."""
        cascade, own, _deployed = plan
        if cascade:
            self.update_finalizers(app, with_resources_finalizer, "Adding the resources finalizer to")
            for res in own:
                self._keep_on_cascade(res)

    def _delete_application(self, app, cascade):
        if not cascade and not self.check_mode:
            self.update_finalizers(app, without_argocd_finalizers)
        self._record(self._delete_live(app, "Background"))

    def _keep_on_cascade(self, res):
        """Mark an object of Argo CD itself that an Application manages with sync option Delete=false, so that Argo CD
        keeps it when it deletes that Application's resources (the uninstall removes it afterwards)."""
        group, version = res.get("group") or "", res.get("version") or "v1"
        stub = {"apiVersion": "%s/%s" % (group, version) if group else version, "kind": res.get("kind"),
                "metadata": {"name": res.get("name")}}
        if res.get("namespace"):
            stub["metadata"]["namespace"] = res["namespace"]
        live = self.get(stub["apiVersion"], stub["kind"], res.get("name"), res.get("namespace"))
        if live is None:
            return
        current = ((live.get("metadata") or {}).get("annotations") or {}).get(SYNC_OPTIONS_ANNOTATION)
        wanted = with_delete_false(current)
        if wanted != current:
            self.merge_patch(stub, {"metadata": {"annotations": {SYNC_OPTIONS_ANNOTATION: wanted}}},
                             "Marking for Argo CD to keep (sync option Delete=false)")

    def _wait_applications_deleted(self):
        """Wait until no Application is left in the namespace. One that appears meanwhile (re-created by an
        Application or ApplicationSet that was not gone yet) is deleted the same way."""
        ns = self.namespace
        timeout = self.params["wait_timeout"]
        deadline = time.time() + timeout
        while True:
            live = self.list(APPLICATION_API, "Application", namespace=ns)
            fresh = [a for a in live if not (a.get("metadata") or {}).get("deletionTimestamp")]
            for app in parents_first(fresh, ns):
                app.setdefault("apiVersion", APPLICATION_API)
                app.setdefault("kind", "Application")
                plan = plan_application(app, ns, self.cluster_objects)
                self._prepare_cascade(app, plan)
                self._delete_application(app, plan[0])
            if not live:
                return
            if time.time() > deadline:
                raise GitopsK8sError(self._stuck_message(live, timeout))
            time.sleep(2)

    @staticmethod
    def _stuck_message(apps, timeout):
        details = []
        for app in sorted(apps, key=lambda a: a["metadata"]["name"]):
            meta = app.get("metadata") or {}
            extra = []
            for cond in (app.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "DeletionError":
                    extra.append("%s: %s" % (cond.get("type"), cond.get("message")))
            if meta.get("finalizers"):
                extra.append("finalizers: %s" % ", ".join(meta["finalizers"]))
            details.append("%s%s" % (meta.get("name"), " (%s)" % "; ".join(extra) if extra else ""))
        return (
            "Argo CD did not finish deleting what its Applications deployed within %ss (cascade); Applications still "
            "present in namespace %s: %s. Nothing of Argo CD itself has been removed yet: its application controller "
            "must be running and allowed to delete these resources (see the conditions above and its log). Fix the "
            "cause and run again, raise the wait timeout (argocd_wait_timeout), or uninstall without cascade "
            "(argocd_uninstall_cascade: false) to leave what is still deployed in place."
            % (timeout, apps[0]["metadata"].get("namespace"), "; ".join(details))
        )

    def _delete_stub(self, stub, policy):
        live = self.get(stub["apiVersion"], stub["kind"], stub["metadata"]["name"], stub["metadata"].get("namespace"))
        if live is None:
            return None
        return self._delete_live(live, policy, stub)

    def _delete_live(self, live, policy, stub=None):
        meta = live["metadata"]
        obj = stub or {"apiVersion": live["apiVersion"], "kind": live["kind"], "metadata": {"name": meta["name"]}}
        if meta.get("namespace"):
            obj["metadata"]["namespace"] = meta["namespace"]
        if not meta.get("deletionTimestamp"):
            self.delete(obj, policy)
        return Action(obj, "delete", before=clean_object(live))

    def _wait_gone(self, objs, what):
        deadline = time.time() + self.params["wait_timeout"]
        pending = list(objs)
        while pending:
            lives = [self.get(o.get("apiVersion") or "v1", o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in pending]
            still = [(o, live) for o, live in zip(pending, lives) if live is not None]
            pending = [o for o, _l in still]
            if not pending:
                return
            if time.time() > deadline:
                details = []
                for o, live in still:
                    meta = live.get("metadata") or {}
                    extra = []
                    if meta.get("finalizers"):
                        extra.append("finalizers: %s" % ", ".join(meta["finalizers"]))
                    conds = describe_conditions(live)
                    if conds:
                        extra.append("conditions: %s" % conds)
                    details.append("%s%s" % (object_ref(dict(o, apiVersion=o.get("apiVersion") or "v1")), " (%s)" % "; ".join(extra) if extra else ""))
                raise GitopsK8sError(
                    "Timed out after %ss waiting for %s; still present: %s. Remove what blocks the deletion (see the "
                    "finalizers and conditions) and run again." % (self.params["wait_timeout"], what, "; ".join(details))
                )
            time.sleep(1)

    # ---------------------------------------------------------------- result
    def result(self):
        summary = {"create": 0, "update": 0, "unchanged": 0, "delete": 0}
        for action in self.actions:
            summary[action.action] = summary.get(action.action, 0) + 1
        changed = any(a.action != "unchanged" for a in self.actions)
        result = {
            "changed": changed,
            "version": getattr(self, "version", None) or self.params.get("version"),
            "flavour": getattr(self, "flavour", None) or self.params["flavour"],
            "namespace": self.namespace,
            "objects": [a.entry for a in self.actions],
            "summary": summary,
            "check_mode": bool(self.check_mode),
            "namespace_existed": getattr(self, "namespace_existed", False),
            "crds_existed": getattr(self, "crds_existed", False),
            "timings": self.timings,
        }
        if self.files:
            result["files"] = self.files
        if self.params["state"] == "present":
            result["workloads"] = getattr(self, "workloads", [])
        else:
            result["applications"] = getattr(self, "applications", [])
        if self.module._diff:
            result["diff"] = [self._diff_of(a) for a in self.actions if a.action != "unchanged"]
        return result

    @staticmethod
    def _diff_of(action):
        def show(obj):
            if obj is None:
                return {}
            if obj.get("kind") == "Secret":
                obj = mask_secret(obj)
            return crd_digest(obj)

        ref = object_ref(action.obj)
        return {
            "before_header": ref if action.before is not None else "%s (absent)" % ref,
            "after_header": ref if action.action != "delete" else "%s (absent)" % ref,
            "before": show(action.before),
            "after": show(action.after) if action.action != "delete" else {},
        }


def argument_spec():
    return dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        namespace=dict(type="str", default="argocd"),
        version=dict(type="str"),
        flavour=dict(type="str", choices=["cluster", "namespace", "ha", "core"], default="cluster"),
        source=dict(type="str"),
        checksums=dict(type="dict", default={}),
        verify_checksums=dict(type="bool", default=True),
        config_maps=dict(type="dict", default={}),
        known_hosts=dict(type="list", elements="str", default=[]),
        namespace_labels=dict(type="dict", default={}),
        namespace_annotations=dict(type="dict", default={}),
        extra_objects=dict(type="list", elements="dict", default=[]),
        absent_objects=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                api_version=dict(type="str", default="v1"),
                kind=dict(type="str", required=True),
                name=dict(type="str", required=True),
                namespace=dict(type="str"),
                only_with_labels=dict(type="dict"),
            ),
        ),
        field_manager=dict(type="str", default="gitops.bootstrap.argocd-install"),
        force_conflicts=dict(type="bool", default=True),
        prune=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        download_timeout=dict(type="int", default=60),
        download_validate_certs=dict(type="bool", default=True),
        parallel=dict(type="int", default=8),
        cache_dir=dict(type="path"),
        replicas=dict(type="dict", default={}),
        cascade=dict(type="bool", default=False),
        keep_crds=dict(type="bool", default=False),
        keep_namespace=dict(type="bool", default=False),
    )


def main():
    module = GitopsK8sModule(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ["source"])],
        supports_check_mode=True,
    )
    if not name_is_valid(module.params["namespace"], "dns1123_label"):
        module.fail_json(msg="namespace %r is not a valid Kubernetes namespace name (lower-case letters, digits and '-', at most 63)"
                         % module.params["namespace"])
    installer = ArgocdInstaller(module)
    try:
        if module.params["state"] == "present":
            installer.present()
        else:
            installer.absent()
    except ManifestError as exc:
        module.fail_json(msg=to_native(exc), objects=[a.entry for a in installer.actions], files=installer.files)
    except GitopsK8sError as exc:
        module.fail(exc, objects=[a.entry for a in installer.actions], files=installer.files)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=describe_exception(exc, "Installing Argo CD"), exception=traceback.format_exc(),
                         objects=[a.entry for a in installer.actions])
    result = installer.result()
    for warning in installer.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
