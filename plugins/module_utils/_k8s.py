# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access shared by the modules of gitops.bootstrap.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

It builds on kubernetes.core's module_utils (the client, its authentication and its
server-side dry run in check mode) the way community.okd does, and adds what every module
here needs: read one object, server-side apply one object and tell whether it changed,
delete, and turn any error into one message a person can act on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
        AUTH_ARG_SPEC,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import (
        AnsibleK8SModule,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client,
    )
    HAS_KUBERNETES_COLLECTION = True
    K8S_COLLECTION_ERROR = None
    K8S_COLLECTION_TRACEBACK = None
except ImportError as e:  # pragma: no cover - exercised only without kubernetes.core
    HAS_KUBERNETES_COLLECTION = False
    K8S_COLLECTION_ERROR = e
    K8S_COLLECTION_TRACEBACK = traceback.format_exc()
    AUTH_ARG_SPEC = {}

    class AnsibleK8SModule(object):  # type: ignore[no-redef]
        def __init__(self, **kwargs):
            self._module = AnsibleModule(**kwargs)

try:
    from kubernetes.dynamic.exceptions import (
        DynamicApiError,
        NotFoundError,
        ResourceNotFoundError,
    )
    from kubernetes.config import ConfigException
    from urllib3.exceptions import HTTPError as Urllib3HTTPError

    HAS_K8S_CLIENT = True
except ImportError:  # pragma: no cover
    HAS_K8S_CLIENT = False

    class DynamicApiError(Exception):  # type: ignore[no-redef]
        pass

    class NotFoundError(DynamicApiError):  # type: ignore[no-redef]
        pass

    class ResourceNotFoundError(Exception):  # type: ignore[no-redef]
        pass

    class ConfigException(Exception):  # type: ignore[no-redef]
        pass

    class Urllib3HTTPError(Exception):  # type: ignore[no-redef]
        pass


FIELD_MANAGER = "gitops.bootstrap"

# Fields the API server owns; they never count as a difference.
_VOLATILE_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)


class GitopsK8sError(Exception):
    """A failure with a message that already says what to do."""

    def __init__(self, msg, **details):
        super(GitopsK8sError, self).__init__(msg)
        self.msg = msg
        self.details = details


def auth_argument_spec():
    """A fresh copy of kubernetes.core's connection options."""
    return copy.deepcopy(AUTH_ARG_SPEC)


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


def mask_secret(obj):
    """Return a copy of a Secret-like object with every value replaced by a mask."""
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        if isinstance(obj.get(field), dict):
            obj[field] = dict((k, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") for k in obj[field])
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return obj


def describe_api_error(exc):
    """The server's own words for an API error, without the HTTP noise."""
    body = getattr(exc, "body", None)
    if body:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            import json

            parsed = json.loads(body)
            if isinstance(parsed, dict) and parsed.get("message"):
                return parsed["message"]
        except ValueError:
            pass
        return str(body)
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or getattr(exc, "summary", lambda: None)()
    if status:
        return "HTTP %s %s" % (status, reason or "")
    return str(exc)


def describe_exception(exc, doing):
    """Turn any client, config or API exception into one actionable sentence."""
    if isinstance(exc, GitopsK8sError):
        return exc.msg
    if isinstance(exc, ConfigException) or "kube-config" in str(exc) or "kubeconfig" in str(exc).lower():
        return (
            "%s: the Kubernetes client could not be configured: %s. Check that the kubeconfig file exists and is "
            "readable (option kubeconfig, or K8S_AUTH_KUBECONFIG / KUBECONFIG), and that context names an entry in it."
            % (doing, exc)
        )
    if isinstance(exc, Urllib3HTTPError) or "Max retries exceeded" in str(exc) or "Connection refused" in str(exc):
        return (
            "%s: the Kubernetes API server could not be reached (%s). Check that the cluster is running and that "
            "the kubeconfig points at the right server." % (doing, _short(exc))
        )
    status = getattr(exc, "status", None)
    reason = describe_api_error(exc)
    if status == 401:
        return "%s: the API server rejected the credentials (401 Unauthorized): %s. Refresh the kubeconfig credentials." % (doing, reason)
    if status == 403:
        return (
            "%s: the API server refused the request (403 Forbidden): %s. The identity in the kubeconfig needs RBAC "
            "permission for this; run with an identity that has it." % (doing, reason)
        )
    if status == 409:
        return "%s: conflict (409): %s." % (doing, reason)
    if status == 422:
        return "%s: the API server rejected the object as invalid (422): %s. Fix the fields it names." % (doing, reason)
    if isinstance(exc, ResourceNotFoundError):
        return (
            "%s: the API server does not serve this resource type (%s). If it is a custom resource, install its "
            "CRD first (for Argo CD types, run the gitops.bootstrap.argocd role)." % (doing, exc)
        )
    if status:
        return "%s: the API server answered %s: %s" % (doing, status, reason)
    return "%s: %s" % (doing, exc)


def _short(exc):
    text = str(exc)
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" ()")
    return text[:300]


def object_ref(kind, name, namespace=None):
    if namespace:
        return "%s %s/%s" % (kind, namespace, name)
    return "%s %s" % (kind, name)


class GitopsK8sModule(AnsibleK8SModule):
    """AnsibleK8SModule with the helpers every gitops.bootstrap module uses.

    The Kubernetes client is built lazily, so a module can validate its input offline first
    and fail before any connection is attempted.
    """

    def __init__(self, argument_spec, **kwargs):
        spec = auth_argument_spec()
        spec.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        super(GitopsK8sModule, self).__init__(argument_spec=spec, **kwargs)
        if not HAS_KUBERNETES_COLLECTION:
            self._module.fail_json(
                msg="The kubernetes.core collection (>=6.0.0) must be installed: %s" % K8S_COLLECTION_ERROR,
                exception=K8S_COLLECTION_TRACEBACK,
            )
        self._client = None

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def module(self):
        return self._module

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = get_api_client(module=self)
            except Exception as exc:  # pylint: disable=broad-except
                raise GitopsK8sError(describe_exception(exc, "Connecting to the Kubernetes API"))
        return self._client

    def resource(self, kind, api_version):
        try:
            return self.client.resource(kind, api_version)
        except GitopsK8sError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Looking up the %s (%s) resource type" % (kind, api_version)))

    # -- reads ------------------------------------------------------------------------------
    def get(self, kind, api_version, name, namespace=None):
        """Return the live object as a dict, or None when it does not exist."""
        resource = self.resource(kind, api_version)
        try:
            return resource.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Reading %s" % object_ref(kind, name, namespace)))

    def list(self, kind, api_version, namespace=None, label_selector=None):
        resource = self.resource(kind, api_version)
        try:
            return resource.get(namespace=namespace, label_selector=label_selector).to_dict().get("items") or []
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Listing %s" % kind))

    # -- writes -----------------------------------------------------------------------------
    def apply(self, definition, field_manager=FIELD_MANAGER, force_conflicts=True):
        """Server-side apply one object; in check mode the server runs it as a dry run.

        Returns ``(changed, before, after)`` where before/after have server-owned fields removed.
        """
        kind = definition["kind"]
        api_version = definition["apiVersion"]
        meta = definition.get("metadata") or {}
        name = meta.get("name")
        namespace = meta.get("namespace")
        before = self.get(kind, api_version, name, namespace)
        resource = self.resource(kind, api_version)
        params = {"field_manager": field_manager, "force_conflicts": force_conflicts}
        if self.check_mode:
            params["dry_run"] = "All"
        try:
            after = resource.server_side_apply(body=definition, name=name, namespace=namespace, **params).to_dict()
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Applying %s" % object_ref(kind, name, namespace)))
        before_c, after_c = clean_object(before), clean_object(after)
        return before_c != after_c, before_c, after_c

    def delete(self, kind, api_version, name, namespace=None, propagation_policy=None):
        """Delete one object if present. Returns the object as it was, or None."""
        before = self.get(kind, api_version, name, namespace)
        if before is None:
            return None
        if not self.check_mode:
            resource = self.resource(kind, api_version)
            body = {"propagationPolicy": propagation_policy} if propagation_policy else None
            try:
                resource.delete(name=name, namespace=namespace, body=body)
            except NotFoundError:
                pass
            except Exception as exc:  # pylint: disable=broad-except
                raise GitopsK8sError(describe_exception(exc, "Deleting %s" % object_ref(kind, name, namespace)))
        return clean_object(before)

    def create_review(self, definition):
        """Create a non-persisted review object (SubjectAccessReview and friends); runs in check mode too."""
        resource = self.resource(definition["kind"], definition["apiVersion"])
        try:
            return resource.create(body=definition).to_dict()
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, "Creating a %s" % definition["kind"]))

    # -- results ----------------------------------------------------------------------------
    def fail(self, exc, **result):
        msg = exc.msg if isinstance(exc, GitopsK8sError) else str(exc)
        result.update(getattr(exc, "details", {}) or {})
        self._module.fail_json(msg=msg, **result)
