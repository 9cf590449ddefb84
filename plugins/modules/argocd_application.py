#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: argocd_application
short_description: Manage an Argo CD Application and wait until it is Synced and Healthy
version_added: 0.1.0
description:
  - Creates, updates or deletes an Argo CD C(Application) with server-side apply.
  - The spec is generated from simple options and checked offline before any API call
    (repository URL and path or chart, exactly one destination cluster, valid names, durations
    and sync options). O(spec) is merged over the generated spec for fields without an option.
  - O(wait) waits until Argo CD reports the application Synced and Healthy for the current spec.
    On timeout the error lists, in words, the resources that are out of sync or not healthy, the
    application conditions (C(ComparisonError), C(InvalidSpecError), repository errors) and a failed
    sync operation.
  - O(refresh) and O(sync) ask the Argo CD application controller to refresh or sync the application.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
  - gitops.bootstrap.argocd_namespace
attributes:
  check_mode:
    details:
      - Changes are computed by a server-side dry run; no refresh or sync is requested and nothing is waited for.
  idempotent:
    support: partial
    details:
      - The Application itself is idempotent. O(refresh) and O(sync) are requests and report a change each time they are made.
options:
  name:
    description: Name of the Application.
    type: str
    required: true
  namespace:
    description: Namespace of the Application, normally the Argo CD namespace.
  state:
    description: Whether the Application should exist.
    type: str
    choices: [present, absent]
    default: present
  project:
    description: AppProject the Application belongs to.
    type: str
    default: default
  repo_url:
    description:
      - URL of the Git repository (or Helm repository with a chart in O(spec)).
      - Required when O(state=present) unless O(spec) gives C(source), C(sources) or C(sourceHydrator).
    type: str
  path:
    description:
      - Directory in the repository, relative to its root (V(.) for the root).
      - Required with O(repo_url) unless O(spec) gives C(source.chart).
    type: str
  target_revision:
    description: Branch, tag or commit to follow.
    type: str
    default: HEAD
  destination_server:
    description:
      - API server URL of the destination cluster.
      - Defaults to V(https://kubernetes.default.svc) (the cluster Argo CD runs in) when O(destination_name) is not given.
    type: str
  destination_name:
    description: Name of the destination cluster as registered in Argo CD. Mutually exclusive with O(destination_server).
    type: str
  destination_namespace:
    description: Namespace for namespaced resources that do not set one.
    type: str
  sync_policy:
    description: Automated sync, retry and sync options.
    type: dict
    default: {}
    suboptions:
      automated:
        description: Sync automatically when the repository changes. V(false) leaves syncing to people (or O(sync)).
        type: bool
        default: true
      prune:
        description: Delete resources that were removed from the repository (automated sync).
        type: bool
        default: true
      self_heal:
        description: Revert changes made to the cluster outside Git (automated sync).
        type: bool
        default: true
      allow_empty:
        description: Allow the application to have no resources (automated sync).
        type: bool
        default: false
      retry:
        description: Retry failed syncs with backoff.
        type: dict
        default: {}
        suboptions:
          limit:
            description: Number of retries; V(-1) for unlimited, V(0) for none.
            type: int
            default: 5
          backoff:
            description: Backoff between retries.
            type: dict
            default: {}
            suboptions:
              duration:
                description: First delay.
                type: str
                default: 5s
              factor:
                description: Multiplier applied to the delay after each retry.
                type: int
                default: 2
              max_duration:
                description: Longest delay.
                type: str
                default: 3m
      sync_options:
        description: Sync options such as V(CreateNamespace=true) or V(ServerSideApply=true).
        type: list
        elements: str
        default: []
  finalizer:
    description:
      - Add the C(resources-finalizer.argocd.argoproj.io) finalizer, so that deleting the Application
        also deletes the resources it deployed.
      - Deleting such an Application needs a running Argo CD application controller.
    type: bool
    default: true
  labels:
    description: Labels of the Application.
    type: dict
  annotations:
    description: Annotations of the Application.
    type: dict
  spec:
    description:
      - Application spec fields merged over the generated spec (dictionaries merged, everything else replaced),
        for example C(ignoreDifferences), C(source.helm) or C(sources).
    type: dict
  wait:
    description: Wait until the Application is Synced and Healthy (O(state=present)) or gone (O(state=absent)).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 300
  wait_sleep:
    description: Seconds between two checks while waiting.
    type: int
    default: 2
  wait_fail_on:
    description:
      - Application condition types that end the wait at once with the condition's message, instead of waiting
        for the timeout. Waiting longer does not fix them; the controller keeps reporting them until the
        repository, the manifests or the project change.
      - A condition counts only when the controller recorded it for the current spec in a comparison made
        after this task read the Application (its C(status.reconciledAt) moved on), so a stale error from an
        earlier revision does not end the wait. C(InvalidSpecError) counts as soon as it describes the current
        spec, because the controller does not compare a spec it rejected.
      - Set to V([]) to wait for the full O(wait_timeout) whatever the conditions say.
    type: list
    elements: str
    default: [InvalidSpecError, ComparisonError]
  wait_fail_grace:
    description:
      - Seconds into the wait before a C(ComparisonError) of O(wait_fail_on) ends it. Until then the module asks
        the controller for a normal refresh every 10 seconds while the error lasts, and goes on waiting.
      - The repo server reads SSH known hosts, TLS certificates and GnuPG keys from files the kubelet writes from
        ConfigMaps, about a minute after they change; a comparison made in between fails with an error that the
        next one does not repeat (for example C(key is unknown) right after a repository was added).
      - C(InvalidSpecError) is not held back. V(0) ends the wait on the first fresh comparison error.
    type: int
    default: 60
  refresh:
    description: Ask the application controller to refresh the application (V(hard) also discards cached manifests).
    type: str
    choices: [none, normal, hard]
    default: none
  sync:
    description:
      - Request a sync operation (as C(argocd app sync) does) unless one is already pending or running.
    type: bool
    default: false
notes:
  - Applications are namespaced in the Argo CD namespace; apps in other namespaces need Argo CD's
    C(application.namespaces) setting.
seealso:
  - module: gitops.bootstrap.argocd_project
  - module: gitops.bootstrap.argocd_info
"""

EXAMPLES = r"""
---
- name: Root application of a cluster, waiting until everything is deployed
  gitops.bootstrap.argocd_application:
    name: root
    project: platform
    repo_url: https://git.example.com/infra.git
    path: clusters/prod
    destination_namespace: argocd
    sync_policy:
      sync_options: [ServerSideApply=true]
    wait: true
    wait_timeout: 600

- name: A Helm chart with values, synced by hand
  gitops.bootstrap.argocd_application:
    name: ingress
    project: platform
    repo_url: https://kubernetes.github.io/ingress-nginx
    destination_namespace: ingress-nginx
    sync_policy:
      automated: false
      sync_options: [CreateNamespace=true]
    spec:
      source:
        chart: ingress-nginx
        targetRevision: 4.11.3
        helm:
          valuesObject:
            controller: {replicaCount: 2}
    sync: true

- name: Remove an application and wait until Argo CD deleted its resources
  gitops.bootstrap.argocd_application:
    name: old-app
    state: absent
    wait: true
"""

RETURN = r"""
application:
  description: The Application after the run, without server-owned fields and status.
  returned: success
  type: dict
status:
  description: Summary of the Application status as the controller last reported it.
  returned: success, and on wait failure
  type: dict
  contains:
    sync:
      description: Sync status (Synced, OutOfSync, Unknown).
      type: str
      sample: Synced
    health:
      description: Health status (Healthy, Progressing, Degraded, Suspended, Missing, Unknown).
      type: str
      sample: Healthy
    revision:
      description: Revision the application was last compared with.
      type: str
    conditions:
      description: Application conditions, each with type and message.
      type: list
      elements: dict
    resources_not_synced:
      description: Resources whose sync status is not Synced (group, kind, namespace, name, status, health, message).
      type: list
      elements: dict
    resources_unhealthy:
      description: Resources whose health is not Healthy.
      type: list
      elements: dict
    operation_phase:
      description: Phase of the last operation (Running, Succeeded, Failed, Error, Terminating).
      type: str
    reasons:
      description: Sentences explaining why the application is not Synced and Healthy; empty when it is.
      type: list
      elements: str
    message:
      description: The reasons joined into one line, or C(Synced and Healthy).
      type: str
requested:
  description: Requests made to the controller in this run (C(refresh), C(sync)).
  returned: success
  type: list
  elements: str
  sample: [sync]
"""

import time

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
    clean_object,
    run_module,
    wait_until,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
    ObjectManager,
    ArgoCDModule,
    API_VERSION,
    FIELD_MANAGER,
    REFRESH_ANNOTATION,
    application_ready,
    application_spec_is_compared,
    build_application,
    text_diff,
    summarise_application,
)

KIND = "Application"
# Seconds between two refresh requests while a comparison error is inside the wait's grace period.
REFRESH_EVERY = 10


class ApplicationManager(ObjectManager):
    KIND = "Application"

    def __init__(self, module):
        super().__init__(module)
        self.changed = False

    def get(self):
        return self.module.get(KIND, API_VERSION, self.name, self.namespace)

    def run(self):
        if self.params["state"] == "absent":
            return self.absent()
        try:
            return self.present()
        except _StopWaiting as stop:
            summary = summarise_application(stop.app)
            raise GitopsK8sError(
                f"{self.ref} cannot become Synced and Healthy, and waiting does not help: {summary['message']}",
                changed=self.changed, application=clean_object(stop.app), status=summary,
            ) from None

    # -- present --------------------------------------------------------------------------
    def present(self):
        definition = build_application(self.params)  # offline validation, raises on bad input
        live = self.get()
        if live and (live.get("metadata") or {}).get("deletionTimestamp"):
            raise GitopsK8sError(
                "%s is being deleted (finalizers: %s). Wait until the Argo CD application controller has removed its "
                "resources and the object is gone, then run again." % (self.ref, ", ".join((live["metadata"].get("finalizers") or [])) or "none")
            )
        changed, before, after = self.module.apply(definition, field_manager=FIELD_MANAGER)
        requested = []
        if self.params["refresh"] != "none":
            requested.append("refresh")
            if not (self.module.check_mode and live is None):
                self.module.merge_patch(
                    KIND, API_VERSION, self.name, self.namespace,
                    {"metadata": {"annotations": {REFRESH_ANNOTATION: self.params["refresh"]}}},
                    field_manager=FIELD_MANAGER + "/refresh",
                )
        sync_note = None
        if self.params["sync"]:
            current = live if self.module.check_mode else self.get()
            phase = (((current or {}).get("status") or {}).get("operationState") or {}).get("phase")
            if (current or {}).get("operation") or phase == "Running":
                sync_note = "a sync operation is already pending or running; no new one was requested"
            else:
                requested.append("sync")
                if not (self.module.check_mode and live is None):
                    self.module.merge_patch(KIND, API_VERSION, self.name, self.namespace, self.sync_operation(), field_manager=FIELD_MANAGER + "/sync")
        changed = changed or bool(requested)
        self.changed = changed

        app = after
        current = None
        if not self.module.check_mode:
            current = self.get()
        if self.params["wait"] and not self.module.check_mode:
            finished, current = self.wait_ready(((live or {}).get("status") or {}).get("reconciledAt"))
            if not finished:
                summary = summarise_application(current)
                raise GitopsK8sError(
                    "%s did not become Synced and Healthy within %ss: %s"
                    % (self.ref, self.params["wait_timeout"], summary["message"]),
                    changed=changed,
                    application=clean_object(current),
                    status=summary,
                    requested=requested,
                )
        result = {
            "changed": changed,
            "application": app,
            "status": summarise_application(current if current is not None else live),
            "requested": requested,
        }
        if sync_note:
            result["warnings"] = [sync_note]
        if self.module._diff:
            result["diff"] = text_diff(self.ref, before, after)
        return result

    def wait_ready(self, reconciled_before, clock=time.monotonic):
        """Wait until the application is ready (finished, last object); raises _StopWaiting.

        While a fresh comparison error is younger than wait_fail_grace, the controller is asked for
        a refresh every REFRESH_EVERY seconds: files the repo server reads from mounted ConfigMaps
        may not have reached it yet, and a long reconciliation timeout would not compare again soon.
        """
        start = clock()
        grace = max(0, self.params["wait_fail_grace"])
        last_refresh = [start]

        def ready(obj):
            in_grace = clock() - start < grace
            try:
                return self.is_ready(obj, self.params["wait_fail_on"], reconciled_before, hold_comparison=in_grace)
            except _ComparisonHeld:
                if clock() - last_refresh[0] >= REFRESH_EVERY:
                    last_refresh[0] = clock()
                    self.module.merge_patch(
                        KIND, API_VERSION, self.name, self.namespace,
                        {"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}},
                        field_manager=FIELD_MANAGER + "/refresh",
                    )
                return False

        return wait_until(self.get, ready, self.params["wait_timeout"], interval=max(1, self.params["wait_sleep"]))

    @staticmethod
    def is_ready(app, fail_on=("InvalidSpecError", "ComparisonError"), reconciled_before=None, hold_comparison=False):
        """True when the application is ready; raises _StopWaiting when waiting cannot help.

        With hold_comparison, a fresh condition other than InvalidSpecError raises _ComparisonHeld
        instead: the caller is still inside its grace period.
        """
        if application_ready(app):
            return True
        # A rejected spec, an unreachable repository or manifests that do not render do not heal by
        # waiting. A rejected spec is never re-stamped (the controller stops before comparing), so it
        # counts as soon as it describes the current spec; any other condition only when it comes from
        # a comparison made after the task read the application.
        status = (app or {}).get("status") or {}
        if not application_spec_is_compared(app):
            return False
        fresh = reconciled_before is None or status.get("reconciledAt") != reconciled_before
        held = False
        for cond in status.get("conditions") or []:
            kind = cond.get("type")
            if kind not in (fail_on or ()):
                continue
            if kind == "InvalidSpecError":
                raise _StopWaiting(app)
            if fresh:
                held = True
        if held:
            if hold_comparison:
                raise _ComparisonHeld()
            raise _StopWaiting(app)
        return False

    def sync_operation(self):
        policy = self.params.get("sync_policy") or {}
        sync = {"syncStrategy": {"hook": {}}, "prune": bool(policy.get("prune", True))}
        if policy.get("sync_options"):
            sync["syncOptions"] = list(policy["sync_options"])
        return {"operation": {"initiatedBy": {"username": FIELD_MANAGER, "automated": False}, "sync": sync}}

    # -- absent ---------------------------------------------------------------------------
    def absent(self):
        live = self.get()
        if live is None:
            return {"changed": False, "application": None, "requested": []}
        deleting = bool((live.get("metadata") or {}).get("deletionTimestamp"))
        changed = not deleting
        if not deleting:
            self.module.delete(KIND, API_VERSION, self.name, self.namespace)
        result = {"changed": changed, "application": None, "requested": []}
        if self.params["wait"] and not self.module.check_mode:
            finished, current = wait_until(self.get, lambda obj: obj is None, self.params["wait_timeout"], interval=max(1, self.params["wait_sleep"]))
            if not finished:
                finalizers = (current.get("metadata") or {}).get("finalizers") or []
                hint = ""
                if finalizers:
                    hint = (
                        " Its finalizers (%s) are still set: the Argo CD application controller removes them after deleting the "
                        "application's resources; check that it is running and look at the application's conditions: %s"
                        % (", ".join(finalizers), summarise_application(current)["message"])
                    )
                raise GitopsK8sError(
                    "%s was not deleted within %ss.%s" % (self.ref, self.params["wait_timeout"], hint),
                    changed=changed,
                    application=clean_object(current),
                )
        if self.module._diff:
            result["diff"] = text_diff(self.ref, clean_object(live), None)
        return result


class _ComparisonHeld(Exception):
    """A fresh comparison error inside the grace period of the wait."""


class _StopWaiting(Exception):
    def __init__(self, app):
        super().__init__("stop waiting")
        self.app = app


def build_argument_spec():
    """The module options (without the connection options added by ArgoCDModule)."""
    backoff = dict(
        duration=dict(type="str", default="5s"),
        factor=dict(type="int", default=2),
        max_duration=dict(type="str", default="3m"),
    )
    retry = dict(
        limit=dict(type="int", default=5),
        backoff=dict(type="dict", default={}, options=backoff, apply_defaults=True),
    )
    sync_policy = dict(
        automated=dict(type="bool", default=True),
        prune=dict(type="bool", default=True),
        self_heal=dict(type="bool", default=True),
        allow_empty=dict(type="bool", default=False),
        retry=dict(type="dict", default={}, options=retry, apply_defaults=True),
        sync_options=dict(type="list", elements="str", default=[]),
    )
    argument_spec = dict(
        name=dict(type="str", required=True),
        namespace=_argspec.argocd_namespace(),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        project=dict(type="str", default="default"),
        repo_url=dict(type="str"),
        path=dict(type="str"),
        target_revision=dict(type="str", default="HEAD"),
        destination_server=dict(type="str"),
        destination_name=dict(type="str"),
        destination_namespace=dict(type="str"),
        sync_policy=dict(type="dict", default={}, options=sync_policy, apply_defaults=True),
        finalizer=dict(type="bool", default=True),
        labels=dict(type="dict"),
        annotations=dict(type="dict"),
        spec=dict(type="dict"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        wait_sleep=dict(type="int", default=2),
        wait_fail_on=dict(type="list", elements="str", default=["InvalidSpecError", "ComparisonError"]),
        wait_fail_grace=dict(type="int", default=60),
        refresh=dict(type="str", choices=["none", "normal", "hard"], default="none"),
        sync=dict(type="bool", default=False),
    )
    return argument_spec


def main():
    argument_spec = build_argument_spec()
    module = ArgoCDModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("destination_server", "destination_name")],
    )
    run_module(module, ApplicationManager, "Managing the Argo CD Application")


if __name__ == "__main__":
    main()
