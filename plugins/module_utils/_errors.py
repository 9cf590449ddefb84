# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of gitops.bootstrap: one base, one subclass per kind of failure.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Every error a module or a module util raises on purpose derives from GitopsError, whose message
already says what is wrong and what to do; ``details`` are result keys the failure carries (what
was done before it, the object it concerns). The kinds:

- GitopsInputError: input that cannot be applied (an option, a manifest, an RBAC request). The
  message is the whole answer; a traceback is kept only when another error caused it.
- GitopsK8sError: a request to the Kubernetes API server failed or was refused (also the connection
  and the kubeconfig check). The traceback is always kept for -vvv.

failure_result() turns any exception into the keys of fail_json, the same way for every module: the
runner (_k8s/runner.py) calls it.
"""

from __future__ import annotations

import traceback


class GitopsError(Exception):
    """A failure of gitops.bootstrap with a message that already says what to do."""

    def __init__(self, msg: str, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class GitopsInputError(GitopsError):
    """Input that cannot be applied; the message says what is wrong and what to do."""


class GitopsK8sError(GitopsError):
    """A request to the Kubernetes API server that failed; the message says what to do."""


def _traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def failure_result(exc: BaseException, describe=None, input_errors: tuple = ()) -> dict:
    """The keys of fail_json for exc: ``msg``, its details, and ``exception`` (shown at -vvv).

    A GitopsError speaks for itself. Any other exception is a failure nobody foresaw: its message is
    ``describe(exc)`` when given (a sentence about what was being done), else its text. An input error
    (GitopsInputError or one of ``input_errors``) carries the traceback only when another error caused it.
    """
    if isinstance(exc, GitopsError):
        result = dict(exc.details)
        result["msg"] = exc.msg
        is_input = isinstance(exc, GitopsInputError)
    elif input_errors and isinstance(exc, input_errors):
        result = {"msg": str(exc)}
        is_input = True
    else:
        result = {"msg": describe(exc) if describe is not None else str(exc) or type(exc).__name__}
        is_input = False
    if not is_input or exc.__cause__ is not None or exc.__context__ is not None:
        result["exception"] = _traceback(exc)
    return result
