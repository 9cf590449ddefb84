# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module class of the collection's cluster modules, and the runner of their managers.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

GitopsK8sModule builds on kubernetes.core's AnsibleK8SModule the way community.okd does: the
connection options, the request timeout, a client created on first use (so a module validates
its input offline first) and a K8sService for every request. run_module() and run_manager() run a
module's work and turn every error into fail_json: the message says what to do, the traceback is
kept for -vvv (_errors.failure_result).
"""

from __future__ import annotations

from typing import Callable

from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import failure_result
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.client import (
    HAS_KUBERNETES_COLLECTION,
    K8S_COLLECTION_ERROR,
    K8S_COLLECTION_TRACEBACK,
    REQUEST_TIMEOUT_OPTION,
    AnsibleK8SModule,
    GitopsK8sError,
    auth_argument_spec,
    create_client,
    describe_exception,
    request_timeout_problem,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.service import (
    FIELD_MANAGER,
    K8sService,
    clean_object,
)


class GitopsK8sModule(AnsibleK8SModule):
    """AnsibleK8SModule with the helpers every gitops.bootstrap module uses.

    The Kubernetes client is built lazily, so a module can validate its input offline first
    and fail before any connection is attempted. Requests go through ``service``.
    """

    def __init__(self, argument_spec, **kwargs):
        spec = auth_argument_spec()
        spec.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        super().__init__(argument_spec=spec, **kwargs)
        if not HAS_KUBERNETES_COLLECTION:
            self._module.fail_json(
                msg=f"The kubernetes.core collection (>=6.0.0) must be installed: {K8S_COLLECTION_ERROR}",
                exception=K8S_COLLECTION_TRACEBACK,
            )
        self._client = None
        self._client_error = None
        self._service = None
        problem = request_timeout_problem(self.params.get(REQUEST_TIMEOUT_OPTION))
        if problem:
            self._module.fail_json(msg=problem)

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def module(self):
        return self._module

    @property
    def client(self):
        """The client, created on first use; a failure to create it is raised again, not retried."""
        if self._client_error is not None:
            raise self._client_error
        if self._client is None:
            try:
                self._client = create_client(self.params, dry_run=self.server_side_dry_run)
            except GitopsK8sError as exc:
                self._client_error = exc
                raise
            except Exception as exc:  # pylint: disable=broad-except
                self._client_error = GitopsK8sError(describe_exception(exc, "Connecting to the Kubernetes API"))
                raise self._client_error from exc
        return self._client

    @property
    def service(self) -> K8sService:
        """The service of this run: every request to the API server, dry run in check mode."""
        if self._service is None:
            self._service = K8sService(lambda: self.client, check_mode=self.check_mode)
        return self._service

    def resource(self, kind, api_version):
        return self.service.resource(kind, api_version)

    # -- reads ------------------------------------------------------------------------------
    def get(self, kind, api_version, name, namespace=None):
        """Return the live object as a dict, or None when it does not exist."""
        return self.service.get(kind, api_version, name, namespace)

    def list(self, kind, api_version, namespace=None, label_selector=None):
        return self.service.list(kind, api_version, namespace=namespace, label_selector=label_selector)

    # -- writes -----------------------------------------------------------------------------
    def apply(self, definition, field_manager=FIELD_MANAGER, force_conflicts=True):
        """Server-side apply one object; in check mode the server runs it as a dry run.

        Returns ``(changed, before, after)`` where before/after have server-owned fields removed.
        """
        return self.service.apply(definition, field_manager=field_manager, force_conflicts=force_conflicts)

    def merge_patch(self, kind, api_version, name, namespace, patch, field_manager=FIELD_MANAGER):
        """JSON merge patch of one object (a dry run in check mode); returns the cleaned result."""
        return clean_object(self.service.merge_patch(kind, api_version, name, namespace, patch, field_manager=field_manager))

    def delete(self, kind, api_version, name, namespace=None, propagation_policy=None):
        """Delete one object if present. Returns the object as it was, or None."""
        return self.service.delete(kind, api_version, name, namespace, propagation_policy=propagation_policy)

    def create_review(self, definition):
        """Create a non-persisted review object (SubjectAccessReview and friends); runs in check mode too."""
        return self.service.create(definition)

    # -- results ----------------------------------------------------------------------------
    def fail(self, exc: BaseException, **result) -> None:
        """fail_json with the message and details of exc; the traceback is kept for -vvv (failure_result)."""
        result.update(failure_result(exc))
        self._module.fail_json(**result)


def run_manager(module, work: Callable[[], dict], doing: str,
                details: Callable[[], dict] = dict, input_errors: tuple = ()) -> None:
    """Run ``work`` (a manager's run) and exit with its result, or fail with a message a person can act on.

    Every module of the collection ends here. A GitopsError (input, cluster) speaks for itself; any
    other error is described as a failure of ``doing``; the traceback is kept for -vvv as
    failure_result() says. ``input_errors`` are further exception types whose text is the whole
    message. ``details()`` adds what was done before the failure.
    """
    try:
        result = work()
    except Exception as exc:  # pylint: disable=broad-except
        failure = details()
        failure.update(failure_result(exc, lambda error: describe_exception(error, doing), input_errors))
        module.fail_json(**failure)
    module.exit_json(**result)


def run_module(module, manager_class: Callable, doing: str) -> None:
    """Build the module's manager (``manager_class(module)``), run it and exit (see run_manager)."""
    run_manager(module, lambda: manager_class(module).run(), doing)
