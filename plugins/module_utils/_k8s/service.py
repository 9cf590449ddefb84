# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every request of the collection to the Kubernetes API: the service layer.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

K8sService is the one place that talks to kubernetes.core's dynamic client: resource types
(looked up once per run and cached), get and list, server-side apply (a server-side dry run in
check mode), JSON merge patch, delete, finalizer updates that survive concurrent writers, and
requests run in parallel over a thread pool. Answers are kept as the decoded JSON the server sent
(no object wrappers: fast for large CustomResourceDefinitions). Every failure becomes a
GitopsK8sError whose message says what was being done, to which object, and what to do.
"""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

from ansible_collections.gitops.bootstrap.plugins.module_utils._equivalence import keep_live_spelling
from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import FIELD_MANAGER, object_ref
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.client import (
    GitopsK8sError,
    NotFoundError,
    ResourceNotFoundError,
    describe_exception,
)

DRY_RUN = "All"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_WORKERS = 8
# Retries of a finalizer update that met a concurrent write (409), and the pause between them.
FINALIZER_ATTEMPTS = 6
FINALIZER_RETRY_PAUSE = 0.2
# Items asked for per request when a list is read page by page (list_pages).
LIST_PAGE_SIZE = 500

# Fields the API server owns; they never count as a difference.
_VOLATILE_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)


def raw(_client, data):
    """Serializer for the dynamic client: keep the decoded JSON as it is."""
    return data


# ------------------------------------------------------------------------------ objects
def clean_object(obj):
    """Return a copy of an object without the fields the server owns."""
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    for key in _VOLATILE_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if annotations is not None:
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        if not annotations:
            meta.pop("annotations")
    obj.pop("status", None)
    return obj


def _identity(obj: dict) -> tuple[str, str, str, str | None]:
    meta = obj.get("metadata") or {}
    return obj["kind"], obj["apiVersion"], meta.get("name"), meta.get("namespace")


def list_pages(resource, kind: str, doing: str, page_size: int = LIST_PAGE_SIZE) -> list[dict]:
    """Every item of a list, asked for ``page_size`` at a time and decoded straight from the
    server's JSON (no object wrappers: fast for the thousands of RBAC objects of a large cluster).

    ``resource`` is a resource type of the dynamic client; each item gets its ``kind``, which list
    items lack. ``doing`` says what the list is for, in the error.
    """
    items: list[dict] = []
    token = None
    while True:
        params: dict[str, Any] = {"limit": page_size, "serialize": False}
        if token:
            params["_continue"] = token
        try:
            response = resource.get(**params)
            data = json.loads(response.data.decode("utf-8"))
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, doing)) from exc
        for item in data.get("items") or []:
            item["kind"] = kind
            items.append(item)
        token = (data.get("metadata") or {}).get("continue")
        if not token:
            return items


def wait_until(fetch, done, timeout, interval=2.0, sleep=time.sleep, clock=time.time):
    """Call fetch() until done(result) is true or timeout seconds pass.

    Returns ``(finished, last_result)``. fetch runs at least once, even with timeout 0.
    """
    deadline = clock() + max(0, timeout)
    while True:
        result = fetch()
        if done(result):
            return True, result
        remaining = deadline - clock()
        if remaining <= 0:
            return False, result
        sleep(min(interval, remaining))


# ------------------------------------------------------------------------------ the service
class K8sService:
    """The requests of one module run to the Kubernetes API.

    ``connect`` returns kubernetes.core's K8SClient (create_client); it is called on first use, so a
    module validates its input offline before any connection. In check mode every write is a
    server-side dry run, and deletes of ``delete()`` are not sent at all.
    """

    def __init__(self, connect: Callable[[], Any], check_mode: bool = False, workers: int = DEFAULT_WORKERS,
                 sleep: Callable[[float], None] | None = None):
        self._connect = connect
        self.check_mode = bool(check_mode)
        self.workers = workers
        self._sleep = sleep
        self._resources: dict[tuple[str, str], Any] = {}

    # -- connection and resource types ------------------------------------------------------
    @property
    def client(self):
        """kubernetes.core's K8SClient of this run."""
        return self._connect()

    @property
    def dynamic(self):
        """The dynamic client under it: only this class sends requests through it."""
        return self._connect().client

    def _pause(self, seconds: float) -> None:
        (self._sleep or time.sleep)(seconds)

    def _lookup(self, kind: str, api_version: str):
        try:
            return self.client.resource(kind, api_version)
        except (GitopsK8sError, ResourceNotFoundError):
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Looking up the {kind} ({api_version}) resource type")) from exc

    def resource(self, kind: str, api_version: str):
        """The resource type; a type the server does not serve is an error that says to install its CRD."""
        key = (api_version, kind)
        found = self._resources.get(key)
        if found is not None:
            return found
        try:
            found = self._lookup(kind, api_version)
        except ResourceNotFoundError as exc:
            raise GitopsK8sError(describe_exception(exc, f"Looking up the {kind} ({api_version}) resource type")) from exc
        self._resources[key] = found
        return found

    def find_resource(self, kind: str, api_version: str):
        """The resource type, or None when the server does not serve it (remembered for the run)."""
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self._lookup(kind, api_version)
            except ResourceNotFoundError:
                self._resources[key] = None
        return self._resources[key]

    def forget_resource(self, kind: str, api_version: str) -> None:
        """Look the type up again next time (a CRD may have been created meanwhile)."""
        self._resources.pop((api_version, kind), None)
        self.invalidate_discovery()

    def invalidate_discovery(self) -> None:
        """Forget what discovery knew: new types are served after CRDs were established."""
        try:
            self.dynamic.resources.invalidate_cache()
        except Exception:  # pylint: disable=broad-except
            pass

    def resolve_all(self, objs: Iterable[dict]) -> None:
        """Look up the resource types of ``objs`` one after the other, before threads use them
        (discovery keeps a cache that is not meant to be filled by several threads at once)."""
        for obj in objs:
            self.find_resource(obj["kind"], obj["apiVersion"])

    def _type(self, kind: str, api_version: str, unserved_is_absent: bool):
        return self.find_resource(kind, api_version) if unserved_is_absent else self.resource(kind, api_version)

    # -- reads ------------------------------------------------------------------------------
    def get(self, kind: str, api_version: str, name: str, namespace: str | None = None,
            unserved_is_absent: bool = False) -> dict | None:
        """The live object, or None when it does not exist (or, with ``unserved_is_absent``, when its
        type is not served)."""
        res = self._type(kind, api_version, unserved_is_absent)
        if res is None:
            return None
        try:
            return self.dynamic.get(res, name=name, namespace=namespace if res.namespaced else None, serializer=raw)
        except NotFoundError:
            return None
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Reading {object_ref(kind, name, namespace)}")) from exc

    def list(self, kind: str, api_version: str, namespace: str | None = None, label_selector: str | None = None,
             unserved_is_absent: bool = False) -> list[dict]:
        """The items of a list (all namespaces when ``namespace`` is None)."""
        res = self._type(kind, api_version, unserved_is_absent)
        if res is None:
            return []
        try:
            result = self.dynamic.get(res, namespace=namespace, label_selector=label_selector, serializer=raw)
        except Exception as exc:  # pylint: disable=broad-except
            if unserved_is_absent and isinstance(exc, NotFoundError):
                return []
            raise GitopsK8sError(describe_exception(exc, f"Listing {kind}")) from exc
        return result.get("items") or []

    # -- writes -----------------------------------------------------------------------------
    def server_side_apply(self, obj: dict, field_manager: str = FIELD_MANAGER, force_conflicts: bool = True) -> dict:
        """Server-side apply one object and return what the server answered (a dry run in check mode)."""
        kind, api_version, name, namespace = _identity(obj)
        res = self.resource(kind, api_version)
        params = {"field_manager": field_manager, "force_conflicts": force_conflicts}
        if self.check_mode:
            params["dry_run"] = DRY_RUN
        try:
            return self.dynamic.server_side_apply(res, body=obj, name=name, namespace=namespace, serializer=raw, **params)
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Applying {object_ref(kind, name, namespace)}")) from exc

    def apply(self, definition: dict, field_manager: str = FIELD_MANAGER, force_conflicts: bool = True):
        """Server-side apply one object after reading it; returns ``(changed, before, after)`` without
        server-owned fields. Where the live text means the same as ours, it is kept (see _equivalence)."""
        kind, api_version, name, namespace = _identity(definition)
        before = self.get(kind, api_version, name, namespace)
        definition = keep_live_spelling(definition, before)
        after = self.server_side_apply(definition, field_manager=field_manager, force_conflicts=force_conflicts)
        before_c, after_c = clean_object(before), clean_object(after)
        return before_c != after_c, before_c, after_c

    def _send_delete(self, res, kind: str, name: str, namespace: str | None, propagation_policy: str | None,
                     dry_run: bool) -> None:
        params: dict[str, Any] = {"serializer": raw}
        if propagation_policy:
            params["propagation_policy"] = propagation_policy
        if dry_run:
            params["dry_run"] = DRY_RUN
        try:
            self.dynamic.delete(res, name=name, namespace=namespace if res.namespaced else None, **params)
        except NotFoundError:
            pass
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Deleting {object_ref(kind, name, namespace)}")) from exc

    def delete(self, kind: str, api_version: str, name: str, namespace: str | None = None,
               propagation_policy: str | None = None) -> dict | None:
        """Delete one object if present (nothing is sent in check mode). Returns it as it was, or None."""
        before = self.get(kind, api_version, name, namespace)
        if before is None:
            return None
        if not self.check_mode:
            self._send_delete(self.resource(kind, api_version), kind, name, namespace, propagation_policy, False)
        return clean_object(before)

    def delete_object(self, obj: dict, propagation_policy: str | None = "Background") -> None:
        """Send the delete of ``obj`` without reading it first: a dry run in check mode; an object that is
        already gone, or whose type is not served, is no error."""
        kind, api_version, name, namespace = _identity(obj)
        res = self.find_resource(kind, api_version)
        if res is None:
            return
        self._send_delete(res, kind, name, namespace, propagation_policy, self.check_mode)

    def _patch(self, res, name: str, namespace: str | None, patch: dict, field_manager: str | None):
        params: dict[str, Any] = {"content_type": MERGE_PATCH, "serializer": raw}
        if field_manager:
            params["field_manager"] = field_manager
        if self.check_mode:
            params["dry_run"] = DRY_RUN
        return self.dynamic.patch(res, body=patch, name=name, namespace=namespace if res.namespaced else None, **params)

    def merge_patch(self, kind: str, api_version: str, name: str, namespace: str | None, patch: dict,
                    doing: str = "Patching", field_manager: str | None = None, missing_ok: bool = False) -> dict | None:
        """JSON merge patch of one object (a dry run in check mode); returns what the server answered.

        For what server-side apply cannot express: removing keys that others may co-own, one-shot
        triggers that must not stay owned by us, finalizers and annotations of objects we do not own.
        With ``missing_ok`` an object (or type) that is gone gives None instead of an error.
        """
        res = self._type(kind, api_version, missing_ok)
        if res is None:
            return None
        try:
            return self._patch(res, name, namespace, patch, field_manager)
        except NotFoundError as exc:
            if missing_ok:
                return None
            raise GitopsK8sError(describe_exception(exc, f"{doing} {object_ref(kind, name, namespace)}")) from exc
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"{doing} {object_ref(kind, name, namespace)}")) from exc

    def update_finalizers(self, obj: dict, change: Callable[[list], list],
                          doing: str = "Removing the Argo CD finalizers of") -> dict | None:
        """Set the finalizers of an object to ``change(finalizers)``, from its live state.

        The patch carries the resourceVersion it was computed from; an update by someone else in
        between (Argo CD writes the status of its Applications all the time) is read again and
        retried. Returns the object as the server left it, or None when it is gone.
        """
        kind, api_version, name, namespace = _identity(obj)
        for attempt in range(FINALIZER_ATTEMPTS):
            live = self.get(kind, api_version, name, namespace, unserved_is_absent=True)
            if live is None:
                return None
            current = (live.get("metadata") or {}).get("finalizers") or []
            wanted = change(current)
            if wanted == current:
                return live
            body = {"metadata": {"finalizers": wanted or None, "resourceVersion": live["metadata"].get("resourceVersion")}}
            try:
                return self._patch(self.find_resource(kind, api_version), name, namespace, body, None)
            except NotFoundError:
                return None
            except Exception as exc:  # pylint: disable=broad-except
                if getattr(exc, "status", None) != 409 or attempt == FINALIZER_ATTEMPTS - 1:
                    raise GitopsK8sError(describe_exception(exc, f"{doing} {object_ref(kind, name, namespace)}")) from exc
                self._pause(FINALIZER_RETRY_PAUSE)
        return None

    def read_path(self, path: str, doing: str | None = None) -> str:
        """The body of a GET on a path of the API server that is not a resource (/version, /metrics), as text."""
        try:
            response = self.dynamic.request("get", path, serialize=False)
            return response.data.decode("utf-8", "replace")
        except GitopsK8sError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, doing or f"Reading {path} from the API server")) from exc

    def post_path(self, path: str, body: dict, doing: str) -> dict:
        """POST body to a path that is no resource of its own (a subresource such as serviceaccounts/token); the answer as a dict."""
        try:
            response = self.dynamic.request("post", path, body=body, serialize=False)
            return json.loads(response.data)
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, doing)) from exc

    def create(self, definition: dict, doing: str | None = None) -> dict:
        """Create one object as it is; runs in check mode too (for reviews the server does not persist)."""
        res = self.resource(definition["kind"], definition["apiVersion"])
        try:
            return self.dynamic.create(res, body=definition, serializer=raw)
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, doing or f"Creating a {definition['kind']}")) from exc

    # -- many at once -----------------------------------------------------------------------
    def parallel(self, func: Callable[[Any], Any], items: Iterable[Any], workers: int | None = None) -> list:
        """func over items on a thread pool, results in the order of items; the first error is
        raised once all have finished (so no request is left running)."""
        items = list(items)
        if not items:
            return []
        workers = max(1, min(workers or self.workers, len(items)))
        if workers == 1:
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
