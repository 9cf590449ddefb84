# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install state=absent: remove Argo CD, with or without the cascade.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Without cascade, the workloads Argo CD deployed keep running: the controllers are stopped first,
then Argo CD's finalizers are removed from each custom resource right before it is deleted. With
cascade, Argo CD deletes what its Applications deployed while its controller, RBAC and AppProjects
are all still there (parents before the Applications they manage, Argo CD itself kept out of it),
and the uninstall goes on only once every Application is gone.
"""

from __future__ import annotations

import re
import time

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    API_VERSION as APPLICATION_API,
    RESOURCES_FINALIZER,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import IN_CLUSTER_SERVER, ref_of, resource_ref
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.cluster import ClusterStep, established
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.inventory import (
    INVENTORY_NAME,
    discovered_entries,
    entry_of,
    inventory_entries,
    stub_of,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.report import Action
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import (
    WORKLOAD_KINDS,
    describe_conditions,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, clean_object

ARGO_GROUP = "argoproj.io"
ARGO_CRS = (("Application", "applications"), ("ApplicationSet", "applicationsets"), ("AppProject", "appprojects"))
ARGO_FINALIZER_RE = re.compile(r"argocd\.argoproj\.io")
SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"


# ------------------------------------------------------------------------------ the cascade, offline
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
    names = {a["metadata"]["name"] for a in apps}
    children = {}
    for app in apps:
        name = app["metadata"]["name"]
        children[name] = [r.get("name") for r in (app.get("status") or {}).get("resources") or []
                          if r.get("kind") == "Application" and r.get("group") == ARGO_GROUP
                          and r.get("namespace") == namespace and r.get("name") in names and r.get("name") != name]
    depth = {n: 0 for n in names}
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
    # RESOURCES_FINALIZER makes Argo CD delete what an Application deployed before the Application goes
    # (also with a /foreground or /background suffix).
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


def stuck_message(apps, timeout):
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


# ------------------------------------------------------------------------------ the uninstall
class Uninstall(ClusterStep):
    """Argo CD removed from the namespace; what it deployed kept, or deleted by Argo CD with cascade."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # (kind, name) of the cluster-scoped objects of the install: Argo CD itself, kept out of the cascade.
        self.cluster_objects: set = set()

    def run(self) -> None:
        ns = self.namespace
        report = self.report
        live_ns = self.get("v1", "Namespace", ns)
        report.namespace_existed = live_ns is not None
        inventory = self.get("v1", "ConfigMap", INVENTORY_NAME, ns) if live_ns else None
        data = (inventory or {}).get("data") or {}
        report.version = data.get("version") or self.params.get("version")
        report.flavour = data.get("flavour") or self.params["flavour"]
        entries = inventory_entries(inventory) if inventory else discovered_entries(self.list, ns)
        if inventory:
            entries.append(entry_of(inventory))
        crd_names = ["%s.%s" % (plural, ARGO_GROUP) for _kind, plural in ARGO_CRS]
        self.service.resolve_all([stub_of(e) for e in entries]
                                 + [{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}])
        crd_lives = self.parallel(lambda n: self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", n), crd_names)
        report.crds_existed = all(established(c) for c in crd_lives)
        report.mark("read_live")

        # Argo CD custom resources, here and elsewhere.
        ours, foreign = [], []
        for kind, _plural in ARGO_CRS:
            for item in self.list("argoproj.io/v1alpha1", kind):
                item["apiVersion"] = "argoproj.io/v1alpha1"
                item["kind"] = kind
                (ours if item["metadata"].get("namespace") == ns else foreign).append(item)
        remove_crds = not self.params["keep_crds"] and not foreign
        if foreign and not self.params["keep_crds"] and any(crd_lives):
            report.warnings.append(
                "Argo CD custom resources exist in other namespaces (%s), so the CustomResourceDefinitions are kept."
                % ", ".join(sorted({i["metadata"]["namespace"] for i in foreign}))
            )
        self.cluster_objects = {(e[1], e[3]) for e in entries if not e[2]}
        apps = parents_first([i for i in ours if i["kind"] == "Application"], ns)
        plans = {a["metadata"]["name"]: plan_application(a, ns, self.cluster_objects) for a in apps}
        report.applications = [self._application_report(a, plans[a["metadata"]["name"]]) for a in apps]
        handled = set()
        if self.params["cascade"] and apps:
            self._cascade(ours, apps, plans, entries, handled)
        # Stop the controllers first, so nothing re-creates or cascades while the finalizers are removed.
        workloads = [stub_of(e) for e in entries if e[1] in WORKLOAD_KINDS]
        report.record_all(self.parallel(lambda st: self._delete_stub(st, "Foreground"), workloads))
        if workloads and not self.check_mode and self.params["wait"]:
            self._wait_gone(workloads, "the Argo CD workloads to stop")
        # Keep what Argo CD deployed: drop Argo CD's finalizers of each custom resource right before deleting it;
        # ApplicationSets first, then Applications with each parent before the Applications it manages.
        rest_of_ours = [i for i in ours if i["kind"] == "ApplicationSet"] + apps + [i for i in ours if i["kind"] == "AppProject"]
        for item in rest_of_ours:
            key = entry_of(item)
            if key in handled:
                continue
            if not self.check_mode:
                self.service.update_finalizers(item, without_argocd_finalizers)
            # An ApplicationSet leaves its Applications to the loop (orphaned, not collected by the garbage collector).
            report.record(self._delete_live(item, "Orphan" if item["kind"] == "ApplicationSet" else "Background"))
        # The installed objects, the CRDs and the namespace.
        rest = [stub_of(e) for e in entries if e[1] not in WORKLOAD_KINDS + ("CustomResourceDefinition", "Namespace")]
        report.record_all(self.parallel(lambda st: self._delete_stub(st, "Background"), rest))
        if remove_crds:
            for live in crd_lives:
                if live is not None:
                    live.setdefault("apiVersion", "apiextensions.k8s.io/v1")
                    live.setdefault("kind", "CustomResourceDefinition")
                    report.record(self._delete_live(live, "Background"))
        if live_ns is not None and not self.params["keep_namespace"]:
            live_ns.setdefault("apiVersion", "v1")
            live_ns.setdefault("kind", "Namespace")
            report.record(self._delete_live(live_ns, "Background"))
            if not self.check_mode and self.params["wait"]:
                self._wait_gone([live_ns], "namespace %s to be deleted" % ns)
        report.mark("delete")

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
                    self.service.update_finalizers(item, without_argocd_finalizers)
                self.report.record(self._delete_live(item, "Orphan"))
                handled.add(entry_of(item))
        for app in apps:
            self._delete_application(app, plans[app["metadata"]["name"]][0])
            handled.add(entry_of(app))
        if not self.check_mode:
            self._wait_applications_deleted()
        self.report.mark("cascade")

    def _prepare_cascade(self, app, plan):
        """Before a cascading delete: the resources finalizer on the Application, and Delete=false on the objects
        of Argo CD itself that it manages. An Application deleted without cascade needs nothing."""
        cascade, own, _deployed = plan
        if cascade:
            self.service.update_finalizers(app, with_resources_finalizer, "Adding the resources finalizer to")
            for res in own:
                self._keep_on_cascade(res)

    def _delete_application(self, app, cascade):
        if not cascade and not self.check_mode:
            self.service.update_finalizers(app, without_argocd_finalizers)
        self.report.record(self._delete_live(app, "Background"))

    def _keep_on_cascade(self, res):
        """Mark an object of Argo CD itself that an Application manages with sync option Delete=false, so that Argo CD
        keeps it when it deletes that Application's resources (the uninstall removes it afterwards)."""
        group, version = res.get("group") or "", res.get("version") or "v1"
        api_version = "%s/%s" % (group, version) if group else version
        live = self.get(api_version, res.get("kind"), res.get("name"), res.get("namespace"))
        if live is None:
            return
        current = ((live.get("metadata") or {}).get("annotations") or {}).get(SYNC_OPTIONS_ANNOTATION)
        wanted = with_delete_false(current)
        if wanted != current:
            self.service.merge_patch(res.get("kind"), api_version, res.get("name"), res.get("namespace") or None,
                                     {"metadata": {"annotations": {SYNC_OPTIONS_ANNOTATION: wanted}}},
                                     doing="Marking for Argo CD to keep (sync option Delete=false)", missing_ok=True)

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
                raise GitopsK8sError(stuck_message(live, timeout))
            time.sleep(2)

    # ---------------------------------------------------------------- deletes
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
                    details.append("%s%s" % (ref_of(o), " (%s)" % "; ".join(extra) if extra else ""))
                raise GitopsK8sError(
                    "Timed out after %ss waiting for %s; still present: %s. Remove what blocks the deletion (see the "
                    "finalizers and conditions) and run again." % (self.params["wait_timeout"], what, "; ".join(details))
                )
            time.sleep(1)
