# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No Jinja expression of the playbooks, roles and scenarios reads a dict key with a dot when the
key is also the name of a dict method.

Jinja looks up ``a.b`` as an attribute first and as a key only when there is no such attribute,
so ``summary.update`` is the bound method ``dict.update`` (printed as ``<built-in method update
of _AnsibleLazyTemplateDict ...>``), never the key ``update``. Such keys are read as
``summary['update']``; a method is called with parentheses (``data.keys()``).
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCANNED = ("playbooks", "roles", "molecule")
# The attributes of the dicts that templates see (ansible-core's lazy template dict is a dict).
DICT_METHODS = sorted(a for a in dir(dict) if not a.startswith("_"))
# Task keywords whose value is a bare Jinja expression (no braces).
CONDITIONALS = {"when", "that", "changed_when", "failed_when", "until", "break_when"}

_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.S)
_DOT_METHOD = re.compile(r"(?<![\w.])([A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_]\w*|\s*\[[^\]]*\])*)\s*\.\s*(%s)\b(?!\s*\()" % "|".join(DICT_METHODS))


def offending(expression: str) -> list[str]:
    """The ``a.method`` look-ups (no call) in one Jinja expression."""
    # String literals are blanked out (same length, so the spans still point into the expression).
    code = _STRING.sub(lambda m: m.group(0)[0] + "x" * (len(m.group(0)) - 2) + m.group(0)[-1], expression)
    return [expression[m.start():m.end()].strip() for m in _DOT_METHOD.finditer(code)]


def expressions_of(value, key=None):
    """Every Jinja expression in a parsed YAML value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from expressions_of(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from expressions_of(v, key)
    elif isinstance(value, str):
        if key in CONDITIONALS:
            yield value
        for match in _BLOCK.finditer(value):
            yield match.group(1) or match.group(2) or ""


def scanned_files():
    for top in SCANNED:
        for folder, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if name.endswith((".yml", ".yaml", ".j2")):
                    yield os.path.join(folder, name)


def problems_in(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if path.endswith(".j2"):
        exprs = [m.group(1) or m.group(2) or "" for m in _BLOCK.finditer(text)]
    else:
        exprs = []
        for doc in yaml.safe_load_all(text):
            exprs.extend(expressions_of(doc))
    return [hit for expr in exprs for hit in offending(expr)]


@pytest.mark.parametrize("expression, hits", [
    ("argocd_install_result.summary.update }} to update", ["argocd_install_result.summary.update"]),
    ("result['objects'].items | length", ["result['objects'].items"]),
    ("data.keys() | list", []),
    ("summary['update']", []),
    ("lookup('ansible.builtin.copy', x.get('a'))", []),
    ("x | map(attribute='values') | list", []),
    ("cm.data.values", ["cm.data.values"]),
])
def test_the_check_finds_dot_lookups_of_method_names(expression, hits):
    assert offending(expression) == hits


def test_no_template_reads_a_dict_method_name_as_a_key():
    problems = {}
    for path in scanned_files():
        hits = problems_in(path)
        if hits:
            problems[os.path.relpath(path, ROOT)] = hits
    assert not problems, (
        "these Jinja look-ups return a dict method, not the key (write x['key'] instead): %s" % problems
    )
