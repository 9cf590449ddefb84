# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names: the one place where the collection decides whether a name is valid.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Every module, module util, filter and role that checks a name (clusters, namespaces, object
names, applications, environments, versions, git branches, Argo CD accounts and policy names)
asks this module, and every check matches the *whole* string. A pattern anchored with ``$``
and applied with ``re.match`` also accepts a final line break (``"c9\\n"``), which then becomes
part of a folder or an object name; ``re.fullmatch`` does not.

``name_error(value, kind, what)`` returns a message that names ``what``, shows the value, says
what is wrong and what a valid name looks like; it returns None for a valid name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"


@dataclass(frozen=True)
class NameKind:
    """One kind of name: the pattern a whole name must match, its length limit, and how to explain it."""

    pattern: re.Pattern | None
    max_length: int
    title: str
    rule: str


KINDS: dict[str, NameKind] = {
    # Namespaces, cluster folders, app and environment names, label values (RFC 1123 label).
    "dns1123_label": NameKind(
        re.compile(_LABEL), DNS1123_LABEL_MAX, "DNS-1123 label",
        "at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
    ),
    # Names of most Kubernetes objects (RFC 1123 subdomain).
    "dns1123_subdomain": NameKind(
        re.compile(rf"{_LABEL}(?:\.{_LABEL})*"), DNS1123_SUBDOMAIN_MAX, "Kubernetes object name",
        "at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
    ),
    # A released tag such as v3.5.1 (with an optional pre-release or build suffix).
    "release_tag": NameKind(
        re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?"), 128, "released version tag",
        "a tag such as v3.5.1 (not 'stable', 'latest' or a branch)",
    ),
    # A Kubernetes release: vMAJOR.MINOR.PATCH only.
    "kubernetes_version": NameKind(
        re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+"), 32, "Kubernetes version",
        "a version such as v1.36.3",
    ),
    # Local accounts of argocd-cm (accounts.<name>).
    "argocd_account": NameKind(
        re.compile(r"[a-zA-Z0-9](?:[-._a-zA-Z0-9]*[a-zA-Z0-9])?"), 32, "Argo CD account name",
        "1-32 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
    ),
    # The <name> of the argocd-rbac-cm key policy.<name>.csv.
    "argocd_policy_name": NameKind(
        re.compile(r"[A-Za-z0-9](?:[-_A-Za-z0-9]*[A-Za-z0-9])?"), 200, "policy name",
        "letters, digits, '-' and '_', starting and ending with a letter or digit (it becomes the key "
        "policy.<policy_name>.csv)",
    ),
    # Roles of an AppProject (Argo CD's own rule for project role names).
    "argocd_project_role": NameKind(
        re.compile(r"[a-zA-Z0-9](?:[-_a-zA-Z0-9]*[a-zA-Z0-9])?"), DNS1123_SUBDOMAIN_MAX, "project role name",
        "letters, digits, '-' and '_', starting and ending with a letter or digit",
    ),
    # Owners, groups and repositories on a git forge (GitHub, GitLab, Gitea): one path segment.
    "forge_name": NameKind(
        re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*"), 100, "forge owner or repository name",
        "at most 100 letters, digits, '.', '_' and '-', starting with a letter, digit or '_'",
    ),
    # Git branch names, by the rules of git check-ref-format (see _git_branch_ok).
    "git_branch": NameKind(
        None, 255, "git branch name",
        "a branch name such as 'main' or 'gitops/bootstrap': no spaces, control characters, '..', '//', '@{', "
        "or any of ~ ^ : ? * [ \\; not starting with '-', '/' or '.', not ending with '/', '.' or '.lock'",
    ),
}

_GIT_FORBIDDEN = set(" ~^:?*[\\")


def _git_branch_ok(value: str) -> bool:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch in _GIT_FORBIDDEN for ch in value):
        return False
    if value == "@" or value.startswith(("-", "/")) or value.endswith(("/", ".", ".lock")):
        return False
    if ".." in value or "//" in value or "@{" in value:
        return False
    return all(part and not part.startswith(".") and not part.endswith(".lock") for part in value.split("/"))


def _kind(kind: str) -> NameKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown kind of name {kind!r} (known: {', '.join(sorted(KINDS))})") from None


def is_valid(value: object, kind: str = "dns1123_label", max_length: int | None = None) -> bool:
    """True when ``value`` is a string that is, as a whole, a valid name of ``kind``."""
    spec = _kind(kind)
    if not isinstance(value, str) or not value:
        return False
    if len(value) > (max_length or spec.max_length):
        return False
    if spec.pattern is None:
        return _git_branch_ok(value)
    return spec.pattern.fullmatch(value) is not None


def whitespace_hint(value: object) -> str:
    """A short note when a value carries white space at its ends (a template that added a line break), else ''."""
    if not isinstance(value, str) or not value:
        return ""
    if value.endswith(("\n", "\r")):
        return " (it ends with a line break: check the template or variable that produced it)"
    if value != value.strip():
        return " (it has white space at its start or end)"
    return ""


def name_error(value: object, kind: str = "dns1123_label", what: str = "name", max_length: int | None = None) -> str | None:
    """A message saying why ``value`` is not a valid name of ``kind``, or None when it is valid."""
    spec = _kind(kind)
    if value is None or value == "":
        return f"{what} must not be empty."
    if not isinstance(value, str):
        return f"{what} must be a string, got {type(value).__name__} {value!r}."
    if is_valid(value, kind, max_length):
        return None
    rule = spec.rule
    if max_length and max_length != spec.max_length:
        rule = f"{rule}; at most {max_length} characters"
    return f"{what} {value!r} is not a valid {spec.title}{whitespace_hint(value)}: use {rule}."


def dns1123_label_error(value: object, what: str) -> str | None:
    """A message when ``value`` is not a DNS-1123 label (namespaces and the like), else None."""
    return name_error(value, "dns1123_label", what)


def dns1123_subdomain_error(value: object, what: str) -> str | None:
    """A message when ``value`` is not a valid Kubernetes object name, else None."""
    return name_error(value, "dns1123_subdomain", what)
