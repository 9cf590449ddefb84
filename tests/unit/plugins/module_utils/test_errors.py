# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One exception hierarchy and one runner for every module.

Every error the collection raises on purpose derives from GitopsError; the runner (run_module,
run_manager) turns any of them into fail_json the same way for every module: the message, the
details the error carries, and the traceback for -vvv.
"""

import ast
import pathlib

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils import _errors
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import ArgoCDValidationError, check_errors
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import ManifestError
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, run_module
from ansible_collections.gitops.bootstrap.plugins.module_utils._admission import AdmissionInputError
from ansible_collections.gitops.bootstrap.plugins.module_utils._rbac import RbacBackupError, RbacInputError
from ansible_collections.gitops.bootstrap.tests.unit.utils.fake_k8s import Exited, FakeAnsibleModule as FakeModule

MODULES = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "modules"
CLUSTER_MODULE_CLASSES = {"GitopsK8sModule", "ArgoCDModule"}


@pytest.mark.parametrize("cls", [ArgoCDValidationError, ManifestError, RbacInputError, RbacBackupError, AdmissionInputError])
def test_every_input_error_is_a_gitops_input_error(cls):
    assert issubclass(cls, _errors.GitopsInputError) and issubclass(cls, _errors.GitopsError)
    assert cls("what to do").msg == "what to do"


def test_a_cluster_error_is_a_gitops_error_but_not_an_input_error():
    assert issubclass(GitopsK8sError, _errors.GitopsError)
    assert not issubclass(GitopsK8sError, _errors.GitopsInputError)
    assert _errors.GitopsK8sError is GitopsK8sError, "one class, whichever module it is imported from"


def run_with(raise_it):
    class Manager:
        def __init__(self, module):
            self.module = module

        def run(self):
            return raise_it()

    module = FakeModule()
    with pytest.raises(Exited):
        run_module(module, Manager, "Doing it")
    return module


def test_run_module_exits_with_the_managers_result():
    assert run_with(lambda: {"changed": True}).exited == {"changed": True}


def test_an_input_error_is_its_message_alone():
    def bad():
        check_errors(["name is empty; give a name"], "AppProject p")

    failed = run_with(bad).failed
    assert failed == {"msg": "AppProject p: name is empty; give a name"}


def test_a_cluster_error_keeps_its_details_and_its_traceback():
    def refused():
        raise GitopsK8sError("Reading Secret a/b: forbidden; grant get on secrets", changed=False, object="Secret a/b")

    failed = run_with(refused).failed
    assert failed["msg"] == "Reading Secret a/b: forbidden; grant get on secrets"
    assert failed["changed"] is False and failed["object"] == "Secret a/b"
    assert "Traceback" in failed["exception"] and "refused" in failed["exception"], "the traceback is kept for -vvv"


def test_an_input_error_caused_by_another_keeps_the_traceback_of_the_cause():
    def bad():
        try:
            int("x")
        except ValueError as exc:
            raise ManifestError("the manifest is not valid: give a number") from exc

    failed = run_with(bad).failed
    assert failed["msg"] == "the manifest is not valid: give a number"
    assert "ValueError" in failed["exception"]


def test_an_unforeseen_error_says_what_was_being_done():
    def bug():
        raise KeyError("spec")

    failed = run_with(bug).failed
    assert failed["msg"].startswith("Doing it: ") and "spec" in failed["msg"]
    assert "KeyError" in failed["exception"]


def test_a_manager_that_fails_while_it_is_built_fails_through_the_runner():
    class Manager:
        def __init__(self, module):
            raise ArgoCDValidationError("namespace is empty: give one")

    module = FakeModule()
    with pytest.raises(Exited):
        run_module(module, Manager, "Doing it")
    assert module.failed == {"msg": "namespace is empty: give one"}


def _main_of(path):
    tree = ast.parse(path.read_text())
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")


def _calls(node):
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def cluster_modules():
    """Every module whose main() builds the collection's cluster module class."""
    return sorted(p for p in MODULES.glob("*.py") if _calls(_main_of(p)) & CLUSTER_MODULE_CLASSES)


def test_the_cluster_modules_are_found():
    names = {p.stem for p in cluster_modules()}
    assert {"argocd_application", "argocd_info", "argocd_install", "k8s_rbac_audit", "k8s_rbac_lockdown"} <= names


@pytest.mark.parametrize("path", cluster_modules(), ids=lambda p: p.stem)
def test_every_cluster_module_ends_in_the_one_runner(path):
    main = _main_of(path)
    assert not [n for n in ast.walk(main) if isinstance(n, ast.Try)], f"{path.name}: main() catches errors itself; use run_module"
    assert _calls(main) & {"run_module", "run_manager", "run"}, f"{path.name}: main() does not hand its work to the runner"
    assert len(main.body) <= 4, f"{path.name}: main() is {len(main.body)} statements; its logic belongs in the manager"
