# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values that mean the same to Argo CD: the edge cases of its policy and scopes readers.

The behaviour itself (a reordered argocd-rbac-cm is no drift, no rewrite) is proven against the
local control plane in tests/integration/test_bootstrap.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._equivalence import (
    DEFAULT_SCOPES,
    csv_record,
    keep_live_spelling,
    policy_meaning,
    same_meaning,
    scopes_meaning,
)

POLICY = "p, role:dev, applications, get, default/*, allow\np, role:dev, applications, sync, default/*, allow\ng, developers, role:dev\n"


def rbac_cm(data, namespace="argocd"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-rbac-cm", "namespace": namespace}, "data": data}


@pytest.mark.parametrize("line, record", [
    ("p, role:a, applications, get, */*, allow", ("p", "role:a", "applications", "get", "*/*", "allow")),
    ("p,role:a,applications,get,*/*,allow", ("p", "role:a", "applications", "get", "*/*", "allow")),
    ('p, role:a, applications, get, "proj/*", allow', ("p", "role:a", "applications", "get", "proj/*", "allow")),
    ('g, "org:a,b", role:a', ("g", "org:a,b", "role:a")),
    ('g, "say ""hi""", role:a', ("g", 'say "hi"', "role:a")),
    ("g,\tdevelopers,  role:a", ("g", "developers", "role:a")),
    # Only leading white space goes: a space before a comma is part of the field.
    ("g, developers , role:a", ("g", "developers ", "role:a")),
    ("g, a,", ("g", "a", "")),
])
def test_csv_records_are_read_like_argo_cd_reads_them(line, record):
    assert csv_record(line) == record


@pytest.mark.parametrize("line", ['g, dev"s, role:a', 'g, "dev" x, role:a', 'g, "dev, role:a'])
def test_lines_argo_cd_refuses_have_no_record(line):
    assert csv_record(line) is None


def test_order_blank_lines_comments_and_spaces_after_commas_do_not_change_a_policy():
    lines = POLICY.strip().split("\n")
    respelled = "\n# developers\n\n" + "\n".join("  " + line.replace(", ", ",") + "  " for line in reversed(lines)) + "\n" + lines[0] + "\n"
    assert policy_meaning(respelled) == policy_meaning(POLICY)
    assert same_meaning(rbac_cm({}), "policy.csv", POLICY, respelled)
    assert same_meaning(rbac_cm({}), "policy.gitops-developers.csv", POLICY, respelled)


@pytest.mark.parametrize("live", [
    POLICY + "p, role:dev, applications, delete, default/*, allow\n",          # a line added
    "\n".join(POLICY.strip().split("\n")[1:]),                                  # a line removed
    POLICY.replace("get, default/*, allow", "get, default/*, deny"),           # effect changed
    POLICY.replace("g, developers, role:dev", "g, developers , role:dev"),     # a space before a comma
    POLICY.replace("g, developers, role:dev", "# g, developers, role:dev"),    # a line commented out
])
def test_a_real_change_is_still_a_difference(live):
    assert not same_meaning(rbac_cm({}), "policy.csv", POLICY, live)


def test_a_policy_argo_cd_refuses_is_compared_as_text():
    broken = POLICY + "p, role:dev, applications\n"
    reordered = "p, role:dev, applications\n" + POLICY
    assert policy_meaning(broken) is None
    assert not same_meaning(rbac_cm({}), "policy.csv", broken, reordered)
    assert same_meaning(rbac_cm({}), "policy.csv", broken, broken)


@pytest.mark.parametrize("a, b, same", [
    ("[groups, email]", "[email, groups]", True),
    ("[groups, email]", '["email", "groups", "email"]', True),
    ("[groups, email]", "- email\n- groups\n", True),
    ("[groups]", "[groups, email]", False),
    ("", "[]", False),            # empty: Argo CD's default [groups]; [] names no claim at all
    ("", "[groups]", False),
    ("[groups]", "groups", False),  # a bare string is not a list Argo CD can read
    ("[groups", "[groups", True),   # unreadable: equal texts only
    ("[groups", "[groups ", False),
])
def test_scopes_are_a_set_of_claim_names(a, b, same):
    assert same_meaning(rbac_cm({}), "scopes", a, b) is same


def test_scopes_meaning_keeps_the_default_apart():
    assert scopes_meaning("") == DEFAULT_SCOPES
    assert scopes_meaning("[]") == frozenset()
    assert scopes_meaning("[1, 2]") is None


@pytest.mark.parametrize("key, a, b", [
    ("policy.default", "role:readonly", " role:readonly"),   # Argo CD does not trim it: another role
    ("policy.matchMode", "glob", "glob "),
    ("admin.enabled", "false", "false "),
])
def test_other_keys_are_compared_as_text(key, a, b):
    assert not same_meaning(rbac_cm({}), key, a, b)


def test_only_argocd_rbac_cm_has_meaningful_keys():
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"}}
    assert not same_meaning(other, "policy.csv", POLICY, "\n".join(reversed(POLICY.strip().split("\n"))))


def test_the_live_spelling_is_kept_where_it_means_the_same():
    live_policy = "\n".join(reversed(POLICY.strip().split("\n")))
    desired = rbac_cm({"policy.csv": POLICY, "policy.default": "", "scopes": "[groups, email]"})
    live = rbac_cm({"policy.csv": live_policy, "policy.default": " ", "scopes": "[email, groups]", "policy.x.csv": "g, a, role:b"})
    kept = keep_live_spelling(desired, live)
    assert kept["data"] == {"policy.csv": live_policy, "policy.default": "", "scopes": "[email, groups]"}
    assert desired["data"]["policy.csv"] == POLICY   # the desired object itself is left alone


def test_nothing_is_kept_when_the_meaning_differs_or_nothing_is_live():
    desired = rbac_cm({"policy.csv": POLICY})
    assert keep_live_spelling(desired, None) is desired
    assert keep_live_spelling(desired, rbac_cm({"policy.csv": POLICY + "g, b, role:dev\n"})) is desired
    assert keep_live_spelling(desired, rbac_cm({})) is desired
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "argocd-rbac-cm"}, "data": {"policy.csv": POLICY}}
    assert keep_live_spelling(secret, dict(secret, data={"policy.csv": "x"})) is secret
