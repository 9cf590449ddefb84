# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_objects: the field manager, the in-cluster server URL and the object references, each defined once."""

import ast
import pathlib

from ansible_collections.gitops.bootstrap.plugins.module_utils import _objects as O

PLUGINS = pathlib.Path(__file__).resolve().parents[4] / "plugins"


def test_object_ref_names_namespaced_and_cluster_scoped_objects():
    assert O.object_ref("ConfigMap", "argocd-cm", "argocd") == "ConfigMap argocd/argocd-cm"
    assert O.object_ref("ClusterRole", "admin") == "ClusterRole admin"
    assert O.ref_of({"kind": "Secret", "metadata": {"name": "repo", "namespace": "argocd"}}) == "Secret argocd/repo"
    assert O.ref_of({"kind": "Namespace", "metadata": {"name": "argocd"}}) == "Namespace argocd"


def test_resource_ref_of_an_application_resource():
    res = {"group": "apps", "kind": "Deployment", "namespace": "web", "name": "api"}
    assert O.resource_ref(res) == "Deployment web/api"
    assert O.resource_ref(res, with_group=True) == "apps/Deployment web/api"
    assert O.resource_ref({"kind": "Namespace", "name": "web"}, with_group=True) == "Namespace web"
    assert O.resource_ref({}) == "? ?"


def _spelled(value, where):
    """Places in plugins/ outside _objects.py where ``where(node)`` finds the constant ``value``."""
    found = []
    for path in PLUGINS.rglob("*.py"):
        if path.name == "_objects.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            constant = where(node)
            if isinstance(constant, ast.Constant) and constant.value == value:
                found.append(f"{path.relative_to(PLUGINS)}:{node.lineno}")
    return found


def _field_manager_value(node):
    """The value given to a field manager: ``*FIELD_MANAGER* = ...`` or ``field_manager=...``."""
    if isinstance(node, ast.Assign) and any("FIELD_MANAGER" in getattr(t, "id", "") for t in node.targets):
        return node.value
    if isinstance(node, ast.keyword) and node.arg == "field_manager":
        return node.value
    return None


def test_the_field_manager_is_defined_once():
    found = _spelled(O.FIELD_MANAGER, _field_manager_value)
    assert not found, f"the field manager is spelled again at {found}; import FIELD_MANAGER from _objects"


def test_the_in_cluster_server_is_spelled_once_in_the_code():
    """The code imports it from _objects; documentation strings may still show it."""
    found = _spelled(O.IN_CLUSTER_SERVER, lambda node: node)
    assert not found, f"the in-cluster server is spelled again at {found}; import IN_CLUSTER_SERVER from _objects"


def test_shared_argument_spec_pieces_are_fresh_copies():
    from ansible_collections.gitops.bootstrap.plugins.module_utils import _argspec

    first = _argspec.access_check_options(expect=dict(type="bool"))
    first["verb"]["required"] = False
    assert _argspec.access_request_options()["verb"]["required"] is True, "a module's change does not reach another's"
    assert set(first) == set(_argspec.access_request_options()) | {"user", "groups", "service_account", "authenticated", "expect"}
    assert _argspec.argocd_namespace() == {"type": "str", "default": "argocd"}


def test_text_diff_names_the_object_on_both_sides():
    from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import configmap_data_text, text_diff

    diff = text_diff("ConfigMap argocd/argocd-cm", None, {"data": {"url": "https://x"}}, view=configmap_data_text, note="keys of this task")
    assert diff == {"before": "", "after": 'url: "https://x"\n',
                    "before_header": "ConfigMap argocd/argocd-cm (before, keys of this task)",
                    "after_header": "ConfigMap argocd/argocd-cm (after, keys of this task)"}
    assert text_diff("AppProject argocd/p", {"kind": "AppProject"}, None)["after"] == ""


def test_no_module_builds_a_diff_by_hand():
    """The text diffs of the cluster modules come from _argocd.text_diff (argocd_install's object list from its report).

    infra_repo's and gitops_promote's diffs are of files in a repository, one per file, with the path as header.
    """
    files = ("modules/infra_repo.py", "modules/gitops_promote.py")
    found = _spelled("before_header", lambda node: node)
    found = [f for f in found if f.startswith("modules/") and not f.startswith(files)]
    assert not found, f"a diff built by hand at {found}; use text_diff"
