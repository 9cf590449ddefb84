# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One fake of the Kubernetes API for the unit tests, under the real service layer.

FakeApiServer plays both parts the service (plugins/module_utils/_k8s/service.py) talks to:
kubernetes.core's K8SClient (``resource(kind, api_version)``, discovery) and the dynamic client
under it (``client``: get, server_side_apply, patch, delete, create). Objects are kept in memory;
every request is logged in ``calls`` with its parameters, so a test can assert what was sent
(a dry run in check mode, the field manager, nothing at all). Tests build the real K8sService over
it with fake_service(); the behaviour of the API server the edge cases need is added by subclasses
(see tests/unit/plugins/modules/test_argocd_install_absent.py, whose subclass plays Argo CD's
application controller). Against a real API server, the same code is proven by the integration
tests and the molecule scenarios.
"""

import copy

from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, ResourceNotFoundError

from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import K8sService

CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "SubjectAccessReview",
                  "SelfSubjectReview"}
NAMESPACED = {"Deployment", "StatefulSet", "Service", "ServiceAccount", "ConfigMap", "Secret", "Pod", "Role",
              "RoleBinding", "Application", "ApplicationSet", "AppProject"}


def api_error(cls, status, reason):
    """An exception as the dynamic client raises it for an HTTP answer."""
    return cls(ApiException(status=status, reason=reason))


class FakeResource:
    def __init__(self, api_version, kind, namespaced):
        self.api_version = api_version
        self.kind = kind
        self.namespaced = namespaced


class FakeDiscovery:
    def __init__(self, server):
        self.server = server
        self.invalidations = 0

    def invalidate_cache(self):
        self.invalidations += 1


class FakeApiServer:
    """The API server with the kinds in ``served`` (cluster-scoped or namespaced as named above)."""

    def __init__(self, served=None):
        self.served = set(served) if served is not None else CLUSTER_SCOPED | NAMESPACED
        self.objs = {}
        self.rv = 0
        self.calls = []        # (verb, kind, namespace, name, params)
        self.lookups = []      # (kind, api_version) of every discovery lookup
        self.failures = {}     # verb -> list of exceptions raised by the next requests of that verb
        self.resources = FakeDiscovery(self)

    # -- the K8SClient part
    @property
    def client(self):
        return self

    def resource(self, kind, api_version):
        self.lookups.append((kind, api_version))
        if kind not in self.served:
            raise ResourceNotFoundError("No matches found for {'api_version': '%s', 'kind': '%s'}" % (api_version, kind))
        return FakeResource(api_version, kind, kind not in CLUSTER_SCOPED)

    # -- storage
    @staticmethod
    def _key(kind, namespace, name):
        return (kind, namespace or "", name)

    def add(self, obj):
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objs[self._key(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
        return obj

    def find(self, kind, name, namespace=""):
        return self.objs.get(self._key(kind, namespace, name))

    def _fail(self, verb):
        pending = self.failures.get(verb)
        if pending:
            raise pending.pop(0)

    def _log(self, verb, resource, namespace, name, params):
        self.calls.append((verb, resource.kind, namespace or "", name, params))

    def _lookup(self, resource, name, namespace):
        return self.find(resource.kind, name, namespace if resource.namespaced else "")

    # -- the dynamic client part
    def get(self, resource, name=None, namespace=None, label_selector=None, serializer=None):
        self._log("get", resource, namespace, name, {"label_selector": label_selector})
        self._fail("get")
        if name:
            obj = self._lookup(resource, name, namespace)
            if obj is None:
                raise api_error(NotFoundError, 404, "Not Found")
            return copy.deepcopy(obj)
        items = [copy.deepcopy(o) for (kind, ns, _n), o in sorted(self.objs.items())
                 if kind == resource.kind and (namespace is None or ns == namespace)]
        if label_selector:
            want = dict(p.split("=", 1) for p in label_selector.split(","))
            items = [i for i in items if all((i["metadata"].get("labels") or {}).get(k) == v for k, v in want.items())]
        return {"items": items}

    def server_side_apply(self, resource, body=None, name=None, namespace=None, serializer=None, **params):
        self._log("apply", resource, namespace, name, params)
        self._fail("apply")
        live = self._lookup(resource, name, namespace)
        after = copy.deepcopy(live) if live else {}
        after.update(copy.deepcopy({k: v for k, v in body.items() if k != "metadata"}))
        meta = after.setdefault("metadata", {})
        meta.update(copy.deepcopy(body["metadata"]))
        if params.get("dry_run"):
            return after
        return self.add(after)

    def delete(self, resource, name=None, namespace=None, serializer=None, **params):
        self._log("delete", resource, namespace, name, params)
        self._fail("delete")
        obj = self._lookup(resource, name, namespace)
        if obj is None:
            raise api_error(NotFoundError, 404, "Not Found")
        if not params.get("dry_run"):
            meta = obj["metadata"]
            if meta.get("finalizers"):
                meta.setdefault("deletionTimestamp", "2026-01-01T00:00:00Z")
            else:
                self.objs.pop(self._key(obj["kind"], meta.get("namespace", ""), meta["name"]), None)
        return {"kind": "Status", "status": "Success"}

    def patch(self, resource, body=None, name=None, namespace=None, serializer=None, **params):
        self._log("patch", resource, namespace, name, dict(params, body=copy.deepcopy(body)))
        self._fail("patch")
        obj = self._lookup(resource, name, namespace)
        if obj is None:
            raise api_error(NotFoundError, 404, "Not Found")
        patch_meta = (body or {}).get("metadata") or {}
        if patch_meta.get("resourceVersion") and patch_meta["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise api_error(ConflictError, 409, "Conflict")
        after = copy.deepcopy(obj)
        _merge(after, dict(body))
        after["metadata"].pop("resourceVersion", None)
        after["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
        if params.get("dry_run"):
            return after
        meta = after["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.objs.pop(self._key(after["kind"], meta.get("namespace", ""), meta["name"]), None)
            return after
        return self.add(after)

    def create(self, resource, body=None, serializer=None, **params):
        self._log("create", resource, None, None, params)
        self._fail("create")
        out = copy.deepcopy(body)
        out["status"] = {"allowed": True}
        return out


def _merge(target, patch):
    """JSON merge patch (RFC 7386): None removes a key, dicts merge, everything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def fake_service(server=None, check_mode=False, sleep=None, workers=8):
    """The real K8sService over a FakeApiServer (a new one unless given)."""
    server = server if server is not None else FakeApiServer()
    return K8sService(lambda: server, check_mode=check_mode, workers=workers, sleep=sleep or (lambda _s: None))


class Exited(Exception):
    """Raised by FakeAnsibleModule where an AnsibleModule would exit."""


class FakeAnsibleModule:
    """What the runner (run_module, run_manager) needs of a module: params, fail_json, exit_json, fail.

    ``failed`` and ``exited`` hold the keys the module ended with; both raise Exited, as exiting would.
    """

    def __init__(self, **params):
        self.params = params
        self.failed = None
        self.exited = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise Exited()

    def exit_json(self, **kwargs):
        self.exited = kwargs
        raise Exited()

    def fail(self, exc, **result):
        # GitopsK8sModule.fail, without an AnsibleModule under it.
        from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sModule
        GitopsK8sModule.fail(self, exc, **result)

    @property
    def _module(self):
        return self
