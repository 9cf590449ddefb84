# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name check of the collection matches the whole name.

A pattern anchored with ``$`` and applied with ``re.match`` accepts a final line break, so
``"c9\\n"`` used to pass the cluster-name check and became the folder ``clusters/c9\\n/``. The
tests below run every validator of the collection (module utils, the argocd role's settings
check, the filter the roles use) against the same hostile names, and scan the plugins and roles
for a name pattern that relies on ``$``.
"""

from __future__ import annotations

import ast
import os
import re

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.filter.argocd_manifests import argocd_settings_errors
from ansible_collections.gitops.bootstrap.plugins.filter.names import FilterModule as NamesFilters
from ansible_collections.gitops.bootstrap.plugins.module_utils import _argocd as A
from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L
from ansible_collections.gitops.bootstrap.plugins.module_utils import _names as N
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold as S
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge import runner as forge_runner
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.base import ForgeInputError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def raises(exc, func, *args, **kwargs):
    """A validator that raises ``exc`` for a bad name, as an accepted/refused predicate."""
    def accepts(value):
        try:
            func(value, *args, **kwargs)
        except exc:
            return False
        return True
    return accepts


def returns_none(func, *args):
    return lambda value: func(value, *args) is None


def argocd_role_setting(key, wrap=lambda v: v):
    """The argocd role's settings check: accepts a value when it reports no problem naming the variable."""
    base = {"version": "v3.5.1", "flavour": "cluster", "namespace": "argocd", "manifest_source": "/srv/argocd",
            "verify_checksum": False, "cluster_name": "prod-eu1", "infra_repo_url": "https://git.example.test/infra.git"}

    def accepts(value):
        settings = dict(base)
        settings[key] = wrap(value)
        errors = argocd_settings_errors(settings)
        return not errors
    return accepts


def scaffold_spec(field, wrap=lambda v: v):
    def accepts(value):
        spec = {"cluster": "dev1", "repo_url": "https://git.example.test/infra.git"}
        spec[field] = wrap(value)
        try:
            S.normalise_spec(spec)
        except L.LayoutError:
            return False
        return True
    return accepts


NAME_FILTER = NamesFilters().filters()["name_error"]

# (id, the valid name the hostile names are made from, accepts(value) -> bool, case-sensitive).
# A few options take the empty string as "use the default" (argocd_namespace, argocd_version and
# kubernetes_version of the scaffold), which is not a name: DEFAULTED lists them.
DEFAULTED = {"scaffold argocd_namespace", "scaffold argocd_version", "scaffold kubernetes_version"}
VALIDATORS = [
    ("names.dns1123_label", "c9", lambda v: N.is_valid(v, "dns1123_label"), True),
    ("names.dns1123_subdomain", "c9.apps", lambda v: N.is_valid(v, "dns1123_subdomain"), True),
    ("names.release_tag", "v3.5.1", lambda v: N.is_valid(v, "release_tag"), True),
    ("names.kubernetes_version", "v1.36.3", lambda v: N.is_valid(v, "kubernetes_version"), True),
    ("names.argocd_account", "ci-bot", lambda v: N.is_valid(v, "argocd_account"), False),
    ("names.argocd_policy_name", "auditors", lambda v: N.is_valid(v, "argocd_policy_name"), False),
    ("names.argocd_project_role", "deployer", lambda v: N.is_valid(v, "argocd_project_role"), False),
    ("names.git_branch", "gitops/bootstrap", lambda v: N.is_valid(v, "git_branch"), False),
    ("names.forge_name", "infra", lambda v: N.is_valid(v, "forge_name"), False),
    ("forge repository name", "infra", raises(ForgeInputError, forge_runner._check_name, "name"), False),
    ("forge gitlab group", "platform/infra", raises(ForgeInputError, forge_runner._check_name, "owner", nested=True), False),
    ("filter name_error label", "c9", lambda v: NAME_FILTER(v, "dns1123_label", "cluster") == "", True),
    ("filter name_error subdomain", "sa.x", lambda v: NAME_FILTER(v, "dns1123_subdomain", "sa") == "", True),
    ("argocd.dns1123_label_error", "argocd", returns_none(A.dns1123_label_error, "namespace"), True),
    ("argocd.dns1123_subdomain_error", "team-a", returns_none(A.dns1123_subdomain_error, "project"), True),
    ("argocd.policy_key", "auditors", raises(A.ArgoCDValidationError, A.policy_key), False),
    ("argocd.project_role_errors", "deployer", lambda v: A.project_role_errors("team-a", {"name": v}) == [], False),
    ("argocd.build_project name", "team-a",
     raises(A.ArgoCDValidationError, lambda v: A.build_project({"name": v, "namespace": "argocd"})), True),
    ("layout.validate_cluster_name", "c9", raises(L.LayoutError, L.validate_cluster_name), True),
    ("layout.cluster_path", "c9", raises(L.LayoutError, L.cluster_path), True),
    ("layout.platform_path", "ingress", raises(L.LayoutError, L.platform_path), True),
    ("layout.app_base_path", "web", raises(L.LayoutError, L.app_base_path), True),
    ("layout.app_overlay_path environment", "prod", raises(L.LayoutError, lambda v: L.app_overlay_path("web", v)), True),
    ("layout.validate_argocd_version", "v3.5.1", raises(L.LayoutError, L.validate_argocd_version), True),
    ("layout.argocd_self_manage_spec", "argocd", raises(L.LayoutError, L.argocd_self_manage_spec), True),
    ("scaffold cluster", "c9", scaffold_spec("cluster"), True),
    ("scaffold environments", "prod", scaffold_spec("environments", lambda v: ["dev", v]), True),
    ("scaffold apps", "web", scaffold_spec("apps", lambda v: [{"name": v}]), True),
    ("scaffold platform_components", "ingress", scaffold_spec("platform_components", lambda v: [v]), True),
    ("scaffold argocd_namespace", "argocd", scaffold_spec("argocd_namespace"), True),
    ("scaffold argocd_version", "v3.5.1", scaffold_spec("argocd_version"), True),
    ("scaffold kubernetes_version", "v1.36.3", scaffold_spec("kubernetes_version"), True),
    ("argocd role namespace", "argocd", argocd_role_setting("namespace"), True),
    ("argocd role cluster_name", "prod-eu1", argocd_role_setting("cluster_name"), True),
    ("argocd role version", "v3.5.1", argocd_role_setting("version"), True),
    ("argocd role account name", "ci-bot", argocd_role_setting("accounts", lambda v: [{"name": v}]), False),
]


def hostile(valid, case_sensitive, empty=True):
    """Names made from a valid one that every validator must refuse."""
    names = {
        "trailing newline": valid + "\n",
        "trailing CRLF": valid + "\r\n",
        "leading newline": "\n" + valid,
        "leading space": " " + valid,
        "trailing space": valid + " ",
        "trailing tab": valid + "\t",
        "blank": "   ",
        "too long": valid + "-" + "x" * 300,
    }
    if empty:
        names["empty"] = ""
    if case_sensitive:
        names["uppercase"] = valid.upper()
    return names


CASES = [
    pytest.param(accepts, value, id="%s: %s" % (vid, what))
    for vid, valid, accepts, case_sensitive in VALIDATORS
    for what, value in hostile(valid, case_sensitive, empty=vid not in DEFAULTED).items()
]


@pytest.mark.parametrize("vid,valid,accepts,case_sensitive", VALIDATORS, ids=[v[0] for v in VALIDATORS])
def test_every_validator_accepts_its_valid_name(vid, valid, accepts, case_sensitive):
    assert accepts(valid), "%s refuses the valid name %r" % (vid, valid)


@pytest.mark.parametrize("accepts,value", CASES)
def test_every_validator_refuses_hostile_names(accepts, value):
    assert not accepts(value), "accepted %r" % (value,)


# ---------------------------------------------------------------------------- the messages
def test_messages_name_the_value_and_the_line_break():
    msg = N.name_error("c9\n", "dns1123_label", "cluster")
    assert msg.startswith("cluster 'c9\\n' is not a valid DNS-1123 label")
    assert "ends with a line break" in msg
    assert N.name_error("", "dns1123_label", "cluster") == "cluster must not be empty."
    assert N.name_error(None, "git_branch", "branch") == "branch must not be empty."
    assert "must be a string" in N.name_error(5, "dns1123_label", "cluster")
    assert "white space" in N.name_error(" main", "git_branch", "branch")
    with pytest.raises(L.LayoutError, match=r"invalid cluster name 'c9\\n'.*ends with a line break"):
        L.validate_cluster_name("c9\n")


def test_kubernetes_messages_are_unchanged_for_other_bad_names():
    assert A.dns1123_subdomain_error("Demo", "name") == (
        "name 'Demo' is not a valid Kubernetes object name: use at most 253 lower-case letters, digits, '-' and '.', "
        "starting and ending with a letter or digit.")
    assert A.dns1123_label_error("team.a", "namespace").startswith("namespace 'team.a' is not a valid DNS-1123 label: ")


def test_lengths_are_the_kubernetes_limits():
    assert N.is_valid("a" * 63) and not N.is_valid("a" * 64)
    assert N.is_valid("a" * 253, "dns1123_subdomain") and not N.is_valid("a" * 254, "dns1123_subdomain")
    assert N.is_valid("a" * 20, max_length=20) and not N.is_valid("a" * 21, max_length=20)


@pytest.mark.parametrize("branch", ["main", "release/v1.2", "gitops/bootstrap-dev", "MAIN", "feature_x"])
def test_git_branch_names_accepted(branch):
    assert N.is_valid(branch, "git_branch")


@pytest.mark.parametrize("branch", ["-main", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "a/", "/a",
                                    "a//b", "a.", "a.lock", "a/.b", "a@{1}", "@", "a\x01b", "a\x7f"])
def test_git_branch_names_refused(branch):
    assert not N.is_valid(branch, "git_branch")


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown kind of name 'label'"):
        N.is_valid("a", "label")


# ---------------------------------------------------------------------------- the filter
def test_filter_returns_empty_string_when_valid_and_the_message_otherwise():
    f = NamesFilters().filters()
    assert f["name_error"]("team-a") == ""
    assert f["name_error"]("team-a\n", "dns1123_label", "argocd_spoke_namespaces entry").startswith(
        "argocd_spoke_namespaces entry 'team-a\\n' is not a valid DNS-1123 label")
    with pytest.raises(AnsibleFilterError, match="unknown kind of name"):
        f["name_error"]("a", "nope")


def test_filter_is_documented():
    path = os.path.join(ROOT, "plugins", "filter", "name_error.yml")
    with open(path) as fh:
        doc = yaml.safe_load(fh)
    assert doc["DOCUMENTATION"]["name"] == "name_error"
    assert set(doc["DOCUMENTATION"]["options"]["kind"]["choices"]) == set(N.KINDS)


# ---------------------------------------------------------------------------- no $-anchored name pattern is left
# The shape of the bug: a pattern meant to match a whole value, written `^...$` (or `^a$|^b$`) and applied
# with re.match / Jinja's `match` test, which lets a final line break through. A pattern whose end is
# `\s*$` takes trailing white space on purpose and is not such a check.
_RE_FUNCS = {"compile", "match", "search", "fullmatch"}


def _python_patterns(path):
    with open(path) as fh:
        tree = ast.parse(fh.read(), path)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _RE_FUNCS
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            flags = node.args[1:] if node.func.attr == "compile" else node.args[2:]
            flags = flags + [k.value for k in node.keywords if k.arg == "flags"]
            multiline = any(isinstance(n, ast.Attribute) and n.attr in ("M", "MULTILINE") for f in flags for n in ast.walk(f))
            if not multiline:
                yield node.lineno, node.args[0].value


def _alternatives(pattern):
    """The top-level alternatives of a pattern (split at `|` outside groups, classes and escapes)."""
    parts, current, depth, in_class, escaped = [], "", 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    return parts + [current]


def _whole_match_by_dollar(pattern):
    """True when the pattern means to match a whole value and relies on `$` for it."""
    for alt in _alternatives(pattern):
        if alt.startswith("^") and alt.endswith("$") and not alt.endswith("\\$") and not alt.endswith("\\s*$"):
            return True
    return False


def test_the_pattern_scan_sees_the_shape_of_the_bug():
    assert _whole_match_by_dollar(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    assert _whole_match_by_dollar(r"^([0-9]+(ns|s))+$|^[0-9]+$")
    assert not _whole_match_by_dollar(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
    assert not _whole_match_by_dollar(r"^https?://")
    assert not _whole_match_by_dollar(r"^(remote: )?\s*$")
    assert not _whole_match_by_dollar(r"^price \$")
    assert not _whole_match_by_dollar(r".*/(exec|attach)$")


# Jinja tests and filters that take a pattern: `is match('...')`, `select('match', '...')`, `regex_search('...')`,
# and patterns kept in a role variable (`_dns_label: '^...'`).
_ROLE_PATTERN = re.compile(
    r"""(?:\bmatch|\bsearch|regex_search|regex_findall)\(\s*'((?:[^'\\]|\\.)*)'"""
    r"""|'(?:match|search)',\s*'((?:[^'\\]|\\.)*)'"""
    r"""|\b_?[a-z_]+:\s*'(\^(?:[^'\\]|\\.)*)'""")


def test_no_name_pattern_relies_on_dollar():
    found = []
    for top in ("plugins",):
        for dirpath, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    for lineno, pattern in _python_patterns(path):
                        if _whole_match_by_dollar(pattern):
                            found.append("%s:%d %r" % (os.path.relpath(path, ROOT), lineno, pattern))
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, "roles")):
        for name in files:
            if name.endswith((".yml", ".yaml", ".j2")):
                path = os.path.join(dirpath, name)
                with open(path) as fh:
                    for lineno, line in enumerate(fh, 1):
                        for m in _ROLE_PATTERN.finditer(line):
                            pattern = next(g for g in m.groups() if g is not None)
                            if _whole_match_by_dollar(pattern):
                                found.append("%s:%d %r" % (os.path.relpath(path, ROOT), lineno, pattern))
    assert not found, "patterns that accept a final line break (use re.fullmatch, or the name_error filter): " + "; ".join(found)
