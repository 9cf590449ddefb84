# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access shared by the modules of gitops.bootstrap: the one service layer.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

The split is kubernetes.core's:

- client.py: the connection (create_client), the one kubeconfig check, the request timeout, and the
  translation of any error into a sentence a person can act on;
- service.py: K8sService, every request (get, list, server-side apply with its dry run in check mode,
  merge patch, delete, finalizer updates, waits, parallel requests, the resource type cache) and the object
  helpers (clean_object, mask_secret, object_ref);
- runner.py: GitopsK8sModule (built on kubernetes.core's AnsibleK8SModule) and run_manager, which turns
  errors into fail_json with the traceback at -vvv.

Nothing outside this package talks to the dynamic client. The names below are what the modules import.
"""

from __future__ import annotations

from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import (  # noqa: F401
    GitopsError,
    GitopsInputError,
    failure_result,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.client import (  # noqa: F401
    ACTION_GROUP,
    AUTH_ARG_SPEC,
    DEFAULT_REQUEST_TIMEOUT,
    HAS_KUBERNETES_COLLECTION,
    REQUEST_TIMEOUT_ENV,
    REQUEST_TIMEOUT_OPTION,
    ApiServerTimeout,
    ConfigException,
    DynamicApiError,
    GitopsK8sError,
    NotFoundError,
    ResourceNotFoundError,
    auth_argument_spec,
    create_client,
    describe_api_error,
    describe_exception,
    describe_timeout,
    describe_transport_error,
    kubeconfig_problem,
    kubeconfig_source,
    request_timeout_problem,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.service import (  # noqa: F401
    FIELD_MANAGER,
    K8sService,
    LIST_PAGE_SIZE,
    clean_object,
    list_pages,
    object_ref,
    wait_until,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._secrets import mask_secret  # noqa: F401
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.runner import (  # noqa: F401
    GitopsK8sModule,
    run_manager,
    run_module,
)

__all__ = [
    "ACTION_GROUP", "AUTH_ARG_SPEC", "DEFAULT_REQUEST_TIMEOUT", "FIELD_MANAGER", "HAS_KUBERNETES_COLLECTION",
    "REQUEST_TIMEOUT_ENV", "REQUEST_TIMEOUT_OPTION", "ApiServerTimeout", "ConfigException", "DynamicApiError",
    "GitopsError", "GitopsInputError", "GitopsK8sError", "GitopsK8sModule", "K8sService", "LIST_PAGE_SIZE", "NotFoundError",
    "ResourceNotFoundError", "auth_argument_spec",
    "clean_object", "create_client", "describe_api_error", "describe_exception", "describe_timeout",
    "describe_transport_error", "kubeconfig_problem", "kubeconfig_source", "list_pages", "mask_secret", "object_ref",
    "failure_result", "request_timeout_problem", "run_manager", "run_module", "wait_until",
]
