# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration values that mean the same to the program that reads them.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Some keys of a ConfigMap are text that a program parses, and two different texts can mean
exactly the same to it. A comparison of the text then reports drift where nothing differs,
and an apply rewrites the text to our spelling. Every comparison of desired and live state
in the collection goes through ``keep_live_spelling``: where the live value of such a key
means the same as the desired one, the live text is kept in the desired object, so the
server-side apply (dry run or real) finds nothing to change and check mode, diff, the drift
report and the repair agree.

The keys, and what their meaning is (Argo CD v3, ``util/rbac/rbac.go`` and
``server/server.go``):

``argocd-rbac-cm``: ``policy.csv`` and every ``policy.<name>.csv``
    Argo CD splits the text into lines, trims each line, skips empty lines and lines that
    start with ``#``, and reads each remaining line as one CSV record whose fields lose their
    *leading* white space (Go ``encoding/csv`` with ``TrimLeadingSpace``; quotes as in CSV).
    The model's effect (``some(allow) && !some(deny)``) does not depend on the order of the
    lines, nor on a line given twice. The meaning is the set of records. White space *before*
    a comma stays part of the field (``role:a ,`` names the role ``"role:a "``), so it is a
    real difference. A text with a line Argo CD refuses has no meaning here: it is compared
    as text.
``argocd-rbac-cm``: ``scopes``
    A YAML list of claim names; Argo CD collects the values of every listed claim and grants
    access when any of them is bound, so order and repetition do not matter, nor does the YAML
    spelling (``[groups, email]``, ``["email","groups"]``, a block list). An empty value means
    Argo CD's default (``[groups]``), which differs from an empty list (no claim at all).
``argocd-rbac-cm``: ``policy.default`` and ``policy.matchMode``
    Used as they are, without trimming (``" role:readonly"`` names another role): compared as
    text.
"""

from __future__ import annotations

import copy
from typing import Callable

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

RBAC_CONFIGMAP = "argocd-rbac-cm"
DEFAULT_SCOPES = "default"

# A policy line Argo CD accepts: the policy type and how many fields it has.
_POLICY_FIELDS = {"p": 6, "g": 3}
# The white space of Go's unicode.IsSpace in the Latin-1 range; above it Python agrees.
_GO_SPACE_LATIN1 = frozenset("\t\n\v\f\r \x85\xa0")


def _is_space(char: str) -> bool:
    if ord(char) <= 0xFF:
        return char in _GO_SPACE_LATIN1
    return char.isspace()


def _trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_space(text[start]):
        start += 1
    while end > start and _is_space(text[end - 1]):
        end -= 1
    return text[start:end]


def csv_record(line: str) -> tuple[str, ...] | None:
    """The fields of one CSV line as Argo CD reads a policy line, or None where it refuses the line.

    Fields are separated by commas and lose their leading white space; a field may be quoted
    (``"a,b"``, with ``""`` for a quote inside); a quote inside an unquoted field, or text
    after a closing quote, is an error.
    """
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and _is_space(line[i]):
            i += 1
        if i < n and line[i] == '"':
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    return None  # no closing quote
                if line[i] == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        chars.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(line[i])
                i += 1
            fields.append("".join(chars))
            if i >= n:
                return tuple(fields)
            if line[i] != ",":
                return None  # text after the closing quote
            i += 1
            continue
        end = line.find(",", i)
        field = line[i:] if end < 0 else line[i:end]
        if '"' in field:
            return None  # a quote in an unquoted field
        fields.append(field)
        if end < 0:
            return tuple(fields)
        i = end + 1


def policy_meaning(text: str) -> frozenset | None:
    """The set of policy records of a ``policy*.csv`` text, or None when Argo CD would refuse it."""
    records = set()
    for raw in str(text).split("\n"):
        line = _trim(raw)
        if not line or line.startswith("#"):
            continue
        record = csv_record(line)
        if record is None or _POLICY_FIELDS.get(record[0]) != len(record):
            return None
        records.add(record)
    return frozenset(records)


def scopes_meaning(text: str) -> frozenset | str | None:
    """The set of claim names of a ``scopes`` value, DEFAULT_SCOPES for an empty value, None when unreadable."""
    text = str(text)
    if text == "":
        return DEFAULT_SCOPES
    if yaml is None:  # pragma: no cover
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return frozenset(value)


def _rbac_key_meaning(key: str) -> Callable[[str], object] | None:
    if key == "scopes":
        return scopes_meaning
    if key.startswith("policy.") and key.endswith(".csv"):
        return policy_meaning
    return None


# (apiVersion, kind, name) -> which data keys have a meaning beyond their text.
_RULES: dict[tuple[str, str, str], Callable[[str], Callable[[str], object] | None]] = {
    ("v1", "ConfigMap", RBAC_CONFIGMAP): _rbac_key_meaning,
}


def _rule_of(obj: dict) -> Callable[[str], Callable[[str], object] | None] | None:
    meta = obj.get("metadata") or {}
    return _RULES.get((obj.get("apiVersion"), obj.get("kind"), meta.get("name")))


def meaning_of_key(obj: dict, key: str) -> Callable[[str], object] | None:
    """How the value of data key ``key`` of ``obj`` is read, or None when it is plain text."""
    rule = _rule_of(obj)
    return rule(key) if rule else None


def same_meaning(obj: dict, key: str, desired: object, live: object) -> bool:
    """True when the two values of data key ``key`` of ``obj`` mean the same to their reader."""
    if desired == live:
        return True
    if not isinstance(desired, str) or not isinstance(live, str):
        return False
    meaning = meaning_of_key(obj, key)
    if meaning is None:
        return False
    wanted = meaning(desired)
    return wanted is not None and wanted == meaning(live)


def keep_live_spelling(desired: dict, live: dict | None) -> dict:
    """``desired`` with the live text of every data key whose live value means the same.

    Returns ``desired`` itself when nothing is replaced, else a copy.
    """
    if _rule_of(desired) is None or not live:
        return desired
    if not isinstance(desired.get("data"), dict) or not isinstance(live.get("data"), dict):
        return desired
    live_data = live["data"]
    keep = {
        key: live_data[key]
        for key, value in desired["data"].items()
        if key in live_data and live_data[key] != value and same_meaning(desired, key, value, live_data[key])
    }
    if not keep:
        return desired
    out = copy.deepcopy(desired)
    out["data"].update(keep)
    return out
