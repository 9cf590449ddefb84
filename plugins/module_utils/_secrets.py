# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets for output: the one masker of the collection.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Every result, diff and report that shows a Secret shows it through mask_secret(): the values of
``data`` and ``stringData`` are replaced by a mask, except the keys the caller names as plain (an
Argo CD repository's URL, a cluster's server), which are shown decoded. Given the counterpart of
a diff, a masked value that differs is shown as MASK_CHANGED, so a diff says that a secret changed
without showing it. The last-applied-configuration annotation, which repeats the data, goes.
mask_secrets() does the same for every Secret inside a JSON-like value (a diff side, a list).

Pure: no network, no Kubernetes client; the callback and the filters may import it.
"""

from __future__ import annotations

import base64
import copy
from typing import Any, Callable, Mapping

MASK = "<hidden>"
MASK_CHANGED = "<hidden, changed>"
# What Ansible itself shows for a no_log value; the mask of argocd_install's diff and the drift report.
NO_LOG_MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_FIELDS = ("data", "stringData")

# A function that shows one value itself: (value, the counterpart's value or None) -> shown.
Reveal = Callable[[Any, Any], Any]


def decode_secret_data(data: Mapping | None) -> dict:
    """The values of a Secret's ``data``, decoded from base64 (None for a value that is not text)."""
    out = {}
    for key, value in (data or {}).items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8")
        except Exception:  # pylint: disable=broad-except
            out[key] = None
    return out


def _values(obj: Mapping | None) -> dict:
    """Every value of a Secret, decoded: ``data`` and ``stringData`` (which wins, as on the server)."""
    values = decode_secret_data((obj or {}).get("data") if isinstance((obj or {}).get("data"), Mapping) else None)
    string_data = (obj or {}).get("stringData")
    if isinstance(string_data, Mapping):
        values.update(string_data)
    return values


def mask_secret(obj: Mapping | None, other: Mapping | None = None, plain_keys=(), mask: str = MASK,
                reveal: Mapping[str, Reveal] | None = None) -> dict | None:
    """A copy of a Secret for output, its values masked (see the module's docstring).

    ``plain_keys`` are shown decoded; ``reveal`` maps a key to a function that shows its value itself
    (a JSON document whose credentials it masks); ``other`` is the counterpart in a diff.
    """
    if obj is None:
        return None
    obj = copy.deepcopy(dict(obj))
    annotations = (obj.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    values = _values(obj)
    compared = other is not None
    other_values = _values(other) if compared else {}
    for field in SECRET_FIELDS:
        if not isinstance(obj.get(field), Mapping):
            continue
        shown = {}
        for key in sorted(obj[field]):
            value = values.get(key)
            if key in plain_keys:
                shown[key] = value
            elif reveal and key in reveal:
                shown[key] = reveal[key](value, other_values.get(key))
            elif compared and other_values.get(key) != value:
                shown[key] = MASK_CHANGED
            else:
                shown[key] = mask
        obj[field] = shown
    return obj


def mask_secrets(value: Any, mask: str = MASK) -> Any:
    """A copy of a JSON-like value with every Secret in it masked, at any depth."""
    if isinstance(value, Mapping):
        if value.get("kind") == "Secret":
            return mask_secret(value, mask=mask)
        return {key: mask_secrets(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item, mask) for item in value]
    return value
