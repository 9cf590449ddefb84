#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

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
      - An extra object with the kind, namespace and name of an upstream object replaces it, for example the
        application controller's ClusterRole reduced to reading.
    type: list
    elements: dict
    default: []
  bootstrap_objects:
    description:
      - Objects applied after O(extra_objects) and, unlike them, applied on every run even with O(existing=keep), since
        Argo CD needs them before it can pull its own configuration from Git, for example the root Application (app of
        apps). Namespaced objects without a namespace are placed in O(namespace). They are recorded with the install.
    type: list
    elements: dict
    default: []
  existing:
    description:
      - What to do with an object of the install (upstream objects, O(config_maps), O(extra_objects)) that already exists.
      - V(update) applies it on every run, so the cluster holds these values; use it when nothing else manages Argo CD.
      - >-
        V(keep) creates what is missing and leaves every existing object as it is, for an Argo CD that manages its own
        installation and configuration from a Git repository (which then is the only source of those values). The
        namespace, the SSH known hosts of O(known_hosts), O(bootstrap_objects) and the record of the install are still
        applied; nothing is pruned; a missing object (a deleted Deployment, ConfigMap or CRD) is created again, which
        repairs an Argo CD that cannot repair itself. When the recorded install is of another version than O(version),
        only objects of the recorded install are created again: a version change goes through the repository.
    type: str
    choices: [update, keep]
    default: update
  hand_over_to:
    description:
      - With O(existing=keep), the field manager of the agent that applies these objects from Git (Argo CD's server-side
        apply manager is C(argocd-controller)).
      - A missing object is created under that manager, as the agent would create it from Git, so the agent owns it from
        the start.
      - An existing object that the agent manages loses the Apply entries of O(field_manager) in C(metadata.managedFields)
        and this module's hash annotation, so a key later removed from Git is removed from the cluster instead of staying
        owned by this module. The repository holds every value this module applied (the argocd role renders both from
        the same variables), and the agent's next apply owns them. This is how an install made with O(existing=update)
        is handed over; no value changes. Reported as action C(hand over), which the drift report does not count as drift.
      - Set V(null) to create missing objects under O(field_manager) and keep its entries.
    type: str
    default: argocd-controller
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
      C(unchanged), C(delete) or C(hand over) (O(hand_over_to)), and whether the API server validated it (V(false) when
      it could not be sent as a dry run because its namespace or CRD does not exist yet).
    - With O(existing=keep), an existing object left as it is has C(kept=true); it may differ from what O(existing=update) would
      apply, since its values come from the repository Argo CD syncs.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "Deployment", "name": "argocd-server", "namespace": "argocd", "action": "create", "validated": true}]
summary:
  description: How many objects were created, updated, left unchanged and deleted (and handed over, key C(hand over), when any was).
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

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install import run
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sModule


def build_argument_spec():
    return dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        namespace=_argspec.argocd_namespace(),
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
        bootstrap_objects=dict(type="list", elements="dict", default=[]),
        existing=dict(type="str", choices=["update", "keep"], default="update"),
        hand_over_to=dict(type="str", default="argocd-controller"),
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
        argument_spec=build_argument_spec(),
        required_if=[("state", "present", ["source"])],
        supports_check_mode=True,
    )
    run(module)


if __name__ == "__main__":
    main()
