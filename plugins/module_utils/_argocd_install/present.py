# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install state=present: install or upgrade Argo CD from its upstream manifests.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

The steps, in order: read everything live first (conflicts are found before the first write), the
namespace, a record of what is about to be applied, the CRDs (established before anything uses
them), everything else, the prune of what a previous version or flavour installed, the final record,
the objects that must not exist, and the wait for the workloads to roll out.
"""

from __future__ import annotations

import time

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.cluster import ClusterStep, established
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.handover import hand_over_fields, managers_of
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.inventory import (
    INVENTORY_NAME,
    NEVER_PRUNED,
    entry_of,
    inventory_entries,
    inventory_object,
    stub_of,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.report import Action
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.source import ManifestSource
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import (
    APPLIED_HASH_ANNOTATION,
    KNOWN_HOSTS_CONFIG_MAP,
    WORKLOAD_KINDS,
    describe_conditions,
    object_id,
    rewrite_namespace,
    up_to_date,
    with_hash,
    without_hash,
    workload_problems,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._equivalence import keep_live_spelling
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, clean_object
from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import ref_of

# Hand-over patches that met a concurrent write (409) before the run gives up.
HAND_OVER_ATTEMPTS = 6


class Install(ClusterStep):
    """Argo CD installed or upgraded in the namespace, with its record."""

    def run(self) -> None:
        docs = ManifestSource(self.params, self.report.files).desired_objects()
        self.report.mark("read_manifests")
        ns = self.namespace
        # Connect, learn which kinds are namespaced, and place every object.
        docs = rewrite_namespace(docs, ns, namespaced=self.namespaced)
        # The caller's objects keep the namespace they name (a RoleBinding in a team's namespace).
        extras = rewrite_namespace(self.params["extra_objects"], ns, namespaced=self.namespaced, keep_given=True)
        bootstrap = rewrite_namespace(self.params["bootstrap_objects"], ns, namespaced=self.namespaced, keep_given=True)
        # A caller's object with the kind, namespace and name of an upstream one replaces it (a reduced ClusterRole).
        replaced = {object_id(o) for o in extras + bootstrap}
        docs = [d for d in docs if object_id(d) not in replaced]
        namespace_obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        if self.params["namespace_labels"]:
            namespace_obj["metadata"]["labels"] = {k: str(v) for k, v in self.params["namespace_labels"].items()}
        if self.params["namespace_annotations"]:
            namespace_obj["metadata"]["annotations"] = {k: str(v) for k, v in self.params["namespace_annotations"].items()}
        docs = [with_hash(d) for d in docs]
        extras = [with_hash(d) for d in extras]
        bootstrap = [with_hash(d) for d in bootstrap]
        namespace_obj = with_hash(namespace_obj)
        crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
        others = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
        self.report.mark("discovery")

        live_ns = self.get("v1", "Namespace", ns)
        self.report.namespace_existed = live_ns is not None
        if live_ns and (live_ns.get("metadata") or {}).get("deletionTimestamp"):
            self._fail_terminating(live_ns)
        inventory = self.get("v1", "ConfigMap", INVENTORY_NAME, ns) if live_ns else None

        # Read everything first, so conflicts are found before the first write.
        everything = crds + others + extras + bootstrap
        befores = self.parallel(lambda o: self._get_obj(o, live_ns is not None), everything)
        before_of = {object_id(o): b for o, b in zip(everything, befores)}
        self.report.crds_existed = all(established(before_of[object_id(c)]) for c in crds)
        self._check_foreign_bindings(docs, before_of)
        self.report.mark("read_live")

        new_entries = [entry_of(o) for o in docs + extras + bootstrap]
        old_entries = inventory_entries(inventory)
        inventory_changed = False
        record = self.report.record
        self._plan_keep(inventory, old_entries, bootstrap)
        if self.keep_version_differs:
            # The record describes the install Argo CD manages; it is not rewritten for another version.
            new_entries = old_entries

        # 1. the namespace
        record(self._apply_or_keep(namespace_obj, live_ns, True))
        # 2. a record of what is about to be applied, so a failure part-way leaves a complete inventory
        if not self.check_mode and not self.keep_version_differs:
            union = sorted(set(old_entries) | set(new_entries))
            if set(union) != set(old_entries):
                inventory_changed = True
                self.server_side_apply(inventory_object(ns, union, self.params.get("version"), self.params["flavour"]))
        # 3. CRDs, established before anything that may use them
        self.report.record_all(self.parallel(lambda o: self._apply_or_keep(o, before_of[object_id(o)], True), crds))
        if crds and not self.check_mode and self.params["wait"]:
            self._wait_established(crds)
        self.report.mark("apply_crds")
        # 4. everything else; objects in a namespace that does not exist yet cannot be dry-run
        ns_ready = live_ns is not None or not self.check_mode
        self.report.record_all(self.parallel(
            lambda o: self._apply_or_keep(o, before_of[object_id(o)], ns_ready or not o["metadata"].get("namespace")), others))
        for obj in extras + bootstrap:
            validated = self._namespace_ready(obj, ns, ns_ready)
            if not self.served(obj["apiVersion"], obj["kind"]):
                self.service.forget_resource(obj["kind"], obj["apiVersion"])
                if not self.served(obj["apiVersion"], obj["kind"]):
                    if not self.check_mode:
                        raise GitopsK8sError(
                            "The API server does not serve %s (%s), so extra object %s cannot be applied. Install its "
                            "CustomResourceDefinition first." % (obj["kind"], obj["apiVersion"], ref_of(obj))
                        )
                    validated = False
            record(self._apply_or_keep(obj, before_of.get(object_id(obj)), validated))
        self.report.mark("apply")
        # 5. prune what a previous version or flavour installed and this one does not
        if self.params["prune"] and old_entries and not self.keep:
            stale = [e for e in old_entries if e not in set(new_entries) and e[1] not in NEVER_PRUNED]
            self.service.resolve_all([stub_of(e) for e in stale])
            self.report.record_all(self.parallel(self._prune_one, stale))
        # 6. the final record
        final = inventory_object(ns, new_entries, self.params.get("version"), self.params["flavour"])
        if self.keep_version_differs:
            final = inventory
        if not self.check_mode and final is not None and (
                inventory_changed or not inventory or (inventory.get("data") or {}) != final["data"]):
            self.server_side_apply(final)
        # 7. objects that must not exist
        self._delete_absent_objects(live_ns is not None)
        self.report.mark("prune")
        # 8. workloads rolled out
        workloads = [o for o in docs if o["kind"] in WORKLOAD_KINDS]
        if not self.check_mode and self.params["wait"]:
            self.report.workloads = self._wait_workloads(workloads)
        else:
            self.report.workloads = [{"kind": o["kind"], "name": o["metadata"]["name"], "ready": None, "reason": "not waited"}
                                     for o in workloads]
        self.report.mark("wait")

    def _namespace_ready(self, obj, ns, ns_ready):
        """Whether the server can dry-run OBJ: cluster-scoped, in Argo CD's namespace once it exists, or (check
        mode) in another namespace that exists already; outside check mode an earlier extra object creates it."""
        namespace = obj["metadata"].get("namespace")
        if not namespace:
            return True
        if namespace == ns:
            return ns_ready
        if not self.check_mode:
            return True
        return self.get("v1", "Namespace", namespace) is not None

    def _get_obj(self, obj, namespace_exists):
        meta = obj["metadata"]
        if meta.get("namespace") and not namespace_exists:
            return None
        return self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

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
            wanted = {(s.get("name"), s.get("namespace")) for s in obj.get("subjects") or [] if s.get("kind") == "ServiceAccount"}
            have = {(s.get("name"), s.get("namespace")) for s in live.get("subjects") or [] if s.get("kind") == "ServiceAccount"}
            other = sorted(ns for name, ns in have - wanted if ns and ns != self.namespace)
            if other:
                raise GitopsK8sError(
                    "ClusterRoleBinding %s already binds the Argo CD ServiceAccount of namespace %s: a cluster-wide Argo CD "
                    "is installed there. Cluster-scoped objects of two cluster-wide installs share their names, so "
                    "installing into %s would take it over. Nothing was applied. Remove that install first, install "
                    "into the same namespace, or use the namespace flavour." % (obj["metadata"]["name"], ", ".join(other), self.namespace)
                )

    def _plan_keep(self, inventory, old_entries, bootstrap):
        """With existing=keep: which objects are applied on every run, and whether the recorded install is another version."""
        self.keep = self.params["existing"] == "keep"
        self.always = {object_id(o) for o in bootstrap}
        self.always.add(object_id({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}))
        if self.params["known_hosts"]:
            # The SSH host keys Argo CD needs to pull; its self-management Application ignores them.
            self.always.add(object_id({"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": KNOWN_HOSTS_CONFIG_MAP, "namespace": self.namespace}}))
        recorded = ((inventory or {}).get("data") or {}).get("version") or ""
        wanted = self.params.get("version") or ""
        self.keep_version_differs = bool(self.keep and recorded and wanted and recorded != wanted)
        self.recorded = set(old_entries)
        if self.keep_version_differs:
            self.report.warnings.append(
                f"Argo CD {recorded} is installed in {self.namespace} and managed from the repository; this run asks for "
                f"{wanted}, which it does not install (existing=keep): change the version in the repository (the "
                "self-management Application applies it after review). Only missing objects of the installed version "
                "are created again.")

    def _apply_or_keep(self, obj, before, validated):
        """Apply ``obj``, or with existing=keep leave an existing one as it is (and hand its fields over)."""
        if not self.keep or object_id(obj) in self.always:
            return self._apply_one(obj, before, validated)
        if before is not None:
            return self._hand_over(obj, before) or Action(obj, "unchanged", validated=True, kept=True)
        if self.keep_version_differs and entry_of(obj) not in self.recorded:
            return None
        agent = self.params["hand_over_to"]
        if agent:
            # Created on the repository's behalf, as Argo CD would create it from Git: under its field
            # manager, so Argo CD owns it from the start and there is nothing to hand over later.
            return self._apply_one(without_hash(obj), before, validated, field_manager=agent)
        return self._apply_one(obj, before, validated)

    def _hand_over(self, obj, live):
        """Leave the fields that Argo CD's manager also manages to it alone; None when there is nothing to hand over.

        The patch carries the resourceVersion the fields were computed from. Argo CD writes its
        objects all the time (an Application's status): on a concurrent write (409) the object is
        read again and the hand-over computed again from what it holds now.
        """
        for attempt in range(HAND_OVER_ATTEMPTS):
            meta = live.get("metadata") or {}
            fields = meta.get("managedFields") or []
            handed = hand_over_fields(fields, self.params["field_manager"], self.params["hand_over_to"])
            if handed is None:
                return None
            patch = {"metadata": {"managedFields": handed, "resourceVersion": meta.get("resourceVersion")}}
            if APPLIED_HASH_ANNOTATION in (meta.get("annotations") or {}):
                # The record of this module's last apply goes with its entry: Git does not hold it.
                patch["metadata"]["annotations"] = {APPLIED_HASH_ANNOTATION: None}
            try:
                self.service.merge_patch(obj["kind"], obj["apiVersion"], meta.get("name"), meta.get("namespace"), patch,
                                         doing="Handing over to %s the fields of" % self.params["hand_over_to"],
                                         field_manager=self.params["field_manager"])
            except GitopsK8sError as exc:
                if getattr(exc.__cause__, "status", None) != 409 or attempt == HAND_OVER_ATTEMPTS - 1:
                    raise
                live = self.service.get(obj["kind"], obj["apiVersion"], meta.get("name"), meta.get("namespace"))
                if live is None:
                    return None
                continue
            return Action(obj, "hand over", validated=True, kept=True,
                          before={"field_managers": managers_of(fields)}, after={"field_managers": managers_of(handed)})
        return None

    def _apply_one(self, obj, before, validated, field_manager=None):
        # A live value that means the same as ours (argocd-rbac-cm policy lines in another order)
        # is kept as it is: the apply, its dry run and the diff then agree that nothing changes.
        obj = keep_live_spelling(obj, before)
        if not validated:
            # The server cannot dry-run it yet (namespace or CRD missing): report it honestly without a call.
            return Action(obj, "create" if before is None else "update", validated=False, before=None, after=obj)
        if up_to_date(obj, before):
            # Same configuration as our last apply and every field still holds our value: nothing to send.
            return Action(obj, "unchanged", validated=True, before=None, after=None)
        after = self.server_side_apply(obj, field_manager)
        b, a = clean_object(before), clean_object(after)
        if b is None:
            action = "create"
        elif b != a:
            action = "update"
        else:
            action = "unchanged"
        return Action(obj, action, validated=True, before=b, after=a)

    def _prune_one(self, entry):
        stub = stub_of(entry)
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
            self.report.record(Action(obj, "delete", before=clean_object(live), after=None))

    def _wait_established(self, crds):
        deadline = time.time() + min(self.params["wait_timeout"], 120)
        pending = list(crds)
        while True:
            lives = self.parallel(lambda c: self.get(c["apiVersion"], c["kind"], c["metadata"]["name"]), pending)
            pending = [c for c, live in zip(pending, lives) if not established(live)]
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
        self.service.invalidate_discovery()

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
            text = "%s: %s" % (ref_of(obj), problem)
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
