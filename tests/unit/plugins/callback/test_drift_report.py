# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

import json
import re

from ansible_collections.gitops.bootstrap.plugins.callback import drift_report


def test_secret_values_are_masked_at_any_depth():
    diff = {"items": [{"kind": "Secret", "data": {"password": "c2VjcmV0"}, "metadata": {"name": "repo"}}]}
    masked = drift_report._mask(diff)
    assert masked["items"][0]["data"] == {"password": drift_report.MASK}
    assert "c2VjcmV0" not in json.dumps(masked)


def test_non_secret_data_is_kept():
    cm = {"kind": "ConfigMap", "data": {"url": "https://argocd.example"}}
    assert drift_report._mask(cm) == cm


def test_changed_fields_lists_dotted_paths():
    before = {"spec": {"replicas": 0, "template": {"a": 1}}, "data": {"k": "v"}}
    after = {"spec": {"replicas": 1, "template": {"a": 1}}, "data": {"k": "v", "n": "x"}}
    assert drift_report._changed_fields(before, after) == ["data.n", "spec.replicas"]


def test_object_name_is_taken_from_the_result():
    res = {"result": {"kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"}}}
    assert drift_report._object_of(res) == "ConfigMap argocd/argocd-cm"
    assert drift_report._object_of({"path": "clusters/dev/README.md"}) == "file clusters/dev/README.md"
    assert drift_report._object_of({}) is None


def test_report_is_written_with_drift_per_host(tmp_path):
    cb = drift_report.CallbackModule()
    cb.path = str(tmp_path / "report")
    cb.hosts.update(["dev", "prod"])
    cb.drift["dev"] = [cb._entry("Argo CD config", {"diff": {"before": {"data": {"a": "1"}}, "after": {"data": {"a": "2"}}}})]
    cb._write()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["clusters"]["dev"]["drifted"] is True
    assert report["clusters"]["dev"]["changes"][0]["fields"] == ["data.a"]
    assert report["clusters"]["prod"] == {"drifted": False, "changes": []}
    md = (tmp_path / "report.md").read_text()
    assert "## dev: drift found" in md and "## prod: no drift" in md


def test_status_objects_fall_back_to_the_item_label():
    res = {"result": {"kind": "Status", "status": "Success"}, "_ansible_item_label": "delete ClusterRoleBinding mallory-admin"}
    assert drift_report._object_of(res) == "delete ClusterRoleBinding mallory-admin"
    assert drift_report._object_of({"item": {"name": "platform"}}) == "platform"


class _Host(object):
    def get_name(self):
        return "dev"


class _Task(object):
    no_log = False

    def get_name(self):
        return "Objects exist"


class _Result(object):
    def __init__(self, res):
        self._host, self._task, self._result = _Host(), _Task(), res


def test_multi_object_results_are_split_and_bookkeeping_only_changes_ignored(tmp_path):
    cb = drift_report.CallbackModule()
    cb.path = str(tmp_path / "r")
    ns_meta_only = {"changed": True, "result": {"kind": "Namespace", "metadata": {"name": "a"}},
                    "diff": {"before": {"metadata": {"managedFields": [1]}}, "after": {"metadata": {"managedFields": [1, 2]}}}}
    role_changed = {"changed": True, "result": {"kind": "ClusterRole", "metadata": {"name": "ro"}},
                    "diff": {"before": {"rules": [1]}, "after": {"rules": [2]}}}
    unchanged = {"changed": False, "result": {"kind": "ClusterRole", "metadata": {"name": "x"}}, "diff": {}}
    cb.v2_runner_on_ok(_Result({"changed": True, "result": {"results": [ns_meta_only, role_changed, unchanged]}}))
    assert [e["object"] for e in cb.drift["dev"]] == ["ClusterRole ro"]
    assert cb.drift["dev"][0]["fields"] == ["rules"]


def test_deletions_are_named_from_their_status():
    res = {"result": {"kind": "Status", "status": "Success", "details": {"kind": "clusterrolebindings", "name": "mallory-admin"}}}
    assert drift_report._object_of(res) == "clusterrolebindings mallory-admin (deleted)"


# -- results as the modules return them (taken from a drift run against the local control plane,
#    trimmed to the keys the report reads) ------------------------------------------------------
INSTALL_TASK = "gitops.bootstrap.argocd : Argo CD is installed at the pinned version and flavour in namespace argocd"
DEPLOYMENT = {"kind": "Deployment", "apiVersion": "apps/v1",
              "metadata": {"name": "argocd-notifications-controller", "namespace": "argocd",
                           "annotations": {"gitops.bootstrap/applied-config-sha256": "36944ff1"}},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "argocd-notifications-controller"}}}}


def install_result(diff=True):
    objects = [
        {"api_version": "v1", "kind": "ConfigMap", "name": "argocd-cm", "namespace": "argocd", "action": "update", "validated": True},
        {"api_version": "v1", "kind": "ConfigMap", "name": "argocd-cmd-params-cm", "namespace": "argocd", "action": "unchanged", "validated": True},
        {"api_version": "apps/v1", "kind": "Deployment", "name": "argocd-notifications-controller", "namespace": "argocd",
         "action": "create", "validated": True},
        {"api_version": "argoproj.io/v1alpha1", "kind": "AppProject", "name": "platform", "namespace": "argocd", "action": "create", "validated": True},
        {"api_version": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "argocd-server", "namespace": "",
         "action": "update", "validated": True},
    ]
    res = {"changed": True, "check_mode": True, "namespace": "argocd", "objects": objects,
           "summary": {"create": 2, "update": 2, "unchanged": 1, "delete": 0}, "_ansible_no_log": False}
    if diff:
        cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "argocd-cm", "namespace": "argocd"}}
        res["diff"] = [
            {"before_header": "ConfigMap argocd/argocd-cm", "after_header": "ConfigMap argocd/argocd-cm",
             "before": dict(cm, data={"timeout.reconciliation": "999s"}), "after": dict(cm, data={"timeout.reconciliation": "30s"})},
            {"before_header": "Deployment argocd/argocd-notifications-controller (absent)",
             "after_header": "Deployment argocd/argocd-notifications-controller", "before": {}, "after": DEPLOYMENT},
            {"before_header": "AppProject argocd/platform (absent)", "after_header": "AppProject argocd/platform", "before": {},
             "after": {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "platform", "namespace": "argocd"},
                       "spec": {"sourceRepos": ["file:///infra.git"]}}},
            {"before_header": "ClusterRole argocd-server", "after_header": "ClusterRole argocd-server",
             "before": {"kind": "ClusterRole", "metadata": {"name": "argocd-server"}, "rules": [{"verbs": ["get"]}]},
             "after": {"kind": "ClusterRole", "metadata": {"name": "argocd-server"}, "rules": [{"verbs": ["get", "list"]}]}},
        ]
    return res


class _NamedTask(object):
    def __init__(self, name, action, no_log=False, args=None):
        self._name, self.action, self.resolved_action, self.no_log, self.args = name, action, action, no_log, args or {}

    def get_name(self):
        return self._name


class _ItemResult(object):
    """A callback result of ansible-core 2.19: the task fields carry the item's templated options."""

    def __init__(self, res, task, host="dev", task_fields=None):
        self._host, self._task, self._result = _Host(), task, res
        self.task_fields = task_fields if task_fields is not None else {"args": task.args}


def recorded(tmp_path, *results):
    cb = drift_report.CallbackModule()
    cb.path = str(tmp_path / "report")
    for result in results:
        if "_ansible_item_label" in result._result or result._task.no_log:
            cb.v2_runner_item_on_ok(result)
        else:
            cb.v2_runner_on_ok(result)
    cb._write()
    return json.loads((tmp_path / "report.json").read_text()), (tmp_path / "report.md").read_text()


def test_every_object_of_the_install_step_is_an_entry_of_its_own(tmp_path):
    task = _NamedTask(INSTALL_TASK, "gitops.bootstrap.argocd_install")
    report, md = recorded(tmp_path, _ItemResult(install_result(), task))
    changes = report["clusters"]["dev"]["changes"]
    assert [(c["kind"], c["namespace"], c["name"], c["action"]) for c in changes] == [
        ("ConfigMap", "argocd", "argocd-cm", "update"),
        ("Deployment", "argocd", "argocd-notifications-controller", "create"),
        ("AppProject", "argocd", "platform", "create"),
        ("ClusterRole", None, "argocd-server", "update"),
    ]
    assert [c["object"] for c in changes] == [
        "ConfigMap argocd/argocd-cm", "Deployment argocd/argocd-notifications-controller", "AppProject argocd/platform",
        "ClusterRole argocd-server"]
    assert changes[0]["fields"] == ["data.timeout.reconciliation"]
    # A deleted (to be created) Deployment is one object, not its top-level fields.
    assert changes[1]["fields"] == []
    assert changes[1]["diff"][0]["after"]["metadata"]["name"] == "argocd-notifications-controller"
    assert changes[3]["fields"] == ["rules"]
    for change in changes:
        assert f"**{change['object']}** ({change['action']})" in md
    assert "None" not in md


def test_a_hand_over_of_fields_to_argocd_is_no_drift(tmp_path):
    task = _NamedTask(INSTALL_TASK, "gitops.bootstrap.argocd_install")
    res = install_result()
    res["objects"].append({"api_version": "argoproj.io/v1alpha1", "kind": "AppProject", "name": "team-a", "namespace": "argocd",
                           "action": "hand over", "validated": True, "kept": True})
    res["diff"].append({"before_header": "AppProject argocd/team-a", "after_header": "AppProject argocd/team-a",
                        "before": {"field_managers": ["argocd-controller (Apply)", "gitops.bootstrap.argocd-install (Apply)"]},
                        "after": {"field_managers": ["argocd-controller (Apply)"]}})
    report, _md = recorded(tmp_path, _ItemResult(res, task))
    names = [c["name"] for c in report["clusters"]["dev"]["changes"]]
    assert "team-a" not in names and len(names) == 4, names
    only = {"changed": True, "check_mode": True, "namespace": "argocd", "objects": res["objects"][-1:], "diff": res["diff"][-1:],
            "summary": {"hand over": 1}, "_ansible_no_log": False}
    report, _md = recorded(tmp_path, _ItemResult(only, task))
    assert report["clusters"].get("dev", {}).get("changes", []) == [] and not report["clusters"].get("dev", {}).get("drifted")


def test_install_step_without_diff_still_names_its_objects(tmp_path):
    task = _NamedTask(INSTALL_TASK, "gitops.bootstrap.argocd_install")
    report, _md = recorded(tmp_path, _ItemResult(install_result(diff=False), task))
    assert [c["object"] for c in report["clusters"]["dev"]["changes"]] == [
        "ConfigMap argocd/argocd-cm", "Deployment argocd/argocd-notifications-controller", "AppProject argocd/platform",
        "ClusterRole argocd-server"]


def test_a_deletion_answered_with_a_status_is_named_after_its_definition(tmp_path):
    res = {"changed": True, "method": "delete", "_ansible_no_log": False,
           "result": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": "mallory-admin", "group": "rbac.authorization.k8s.io", "kind": "clusterrolebindings"}},
           "invocation": {"module_args": {"state": "absent", "kubeconfig": drift_report.MASK, "definition": [
               {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "mallory-admin"}}]}}}
    task = _NamedTask("gitops.bootstrap.rbac_lockdown : Bindings that only people held are deleted", "kubernetes.core.k8s")
    report, md = recorded(tmp_path, _ItemResult(res, task))
    (change,) = report["clusters"]["dev"]["changes"]
    assert (change["object"], change["kind"], change["namespace"], change["name"], change["action"]) == (
        "ClusterRoleBinding mallory-admin", "ClusterRoleBinding", None, "mallory-admin", "delete")
    assert "**ClusterRoleBinding mallory-admin** (delete)" in md
    assert drift_report._object_of(res) == "ClusterRoleBinding mallory-admin (deleted)"


def test_k8s_with_several_definitions_names_each_changed_object(tmp_path):
    ns = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "gitops-bootstrap-system", "labels": {"a": "b"}}}
    role = {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "gitops-readonly"}, "rules": []}
    binding = {"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "developers", "namespace": "team-a"}}
    res = {"changed": True, "_ansible_no_log": False, "result": {"results": [
        {"changed": True, "method": "apply", "result": ns, "diff": {"before": {}, "after": ns}},
        {"changed": False, "method": "apply", "result": role, "diff": {}},
        {"changed": True, "method": "apply", "result": binding,
         "diff": {"before": {"subjects": [{"kind": "Group", "name": "developers"}]}, "after": {"subjects": [{"kind": "Group", "name": "devs"}]}}},
    ]}}
    task = _NamedTask("Backup namespace, read-only ClusterRole, break-glass and developer bindings exist", "kubernetes.core.k8s")
    report, _md = recorded(tmp_path, _ItemResult(res, task))
    changes = report["clusters"]["dev"]["changes"]
    assert [(c["object"], c["action"], c["fields"]) for c in changes] == [
        ("Namespace gitops-bootstrap-system", "create", []),
        ("RoleBinding team-a/developers", "update", ["subjects"]),
    ]


CENSORED = {"changed": True, "_ansible_no_log": True,
            "censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}


def repository_args(name, password):
    return {"namespace": "argocd", "name": name, "type": "repository", "url": f"https://git.example.invalid/platform/{name}.git",
            "repo_type": "git", "repo_username": "argocd", "repo_password": password, "kubeconfig": "/tmp/kubeconfig",
            "_ansible_no_log": True, "_ansible_module_name": "gitops.bootstrap.argocd_repository"}


def test_two_no_log_repository_secrets_are_told_apart_by_name_never_by_value(tmp_path):
    name = "gitops.bootstrap.argocd : Argo CD repository credentials are declared"
    results = []
    for repo, password in (("infra-repo", "s3cr3t-infra-0123"), ("apps-repo", "s3cr3t-apps-4567")):
        # ansible-core 2.19 drops the loop label from a censored item result.
        task = _NamedTask(name, "gitops.bootstrap.argocd_repository", no_log=True, args=repository_args(repo, password))
        results.append(_ItemResult(dict(CENSORED), task))
    report, md = recorded(tmp_path, *results)
    changes = report["clusters"]["dev"]["changes"]
    assert [(c["object"], c["kind"], c["namespace"], c["name"]) for c in changes] == [
        ("Secret argocd/infra-repo", "Secret", "argocd", "infra-repo"),
        ("Secret argocd/apps-repo", "Secret", "argocd", "apps-repo"),
    ]
    assert all(c["diff"] == "(hidden: no_log task)" for c in changes)
    text = json.dumps(report) + md
    for value in ("s3cr3t-infra-0123", "s3cr3t-apps-4567", "git.example.invalid", "/tmp/kubeconfig"):
        assert value not in text
    assert "**Secret argocd/infra-repo**" in md and "**Secret argocd/apps-repo**" in md


def test_a_no_log_task_with_untemplated_options_falls_back_to_its_loop_label(tmp_path):
    # Older ansible-core keeps the loop label and passes the task's options as written.
    task = _NamedTask("Repository credentials", "gitops.bootstrap.argocd_repository", no_log=True,
                      args={"name": "{{ item.name }}", "namespace": "argocd", "repo_password": "{{ item.password }}"})
    res = dict(CENSORED, _ansible_item_label="infra-repo")
    report, _md = recorded(tmp_path, _ItemResult(res, task))
    (change,) = report["clusters"]["dev"]["changes"]
    assert change["object"] == "infra-repo" and change["diff"] == "(hidden: no_log task)"
    assert "{{" not in json.dumps(report)


def test_a_no_log_k8s_task_is_named_from_its_definition(tmp_path):
    definition = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                  "metadata": {"name": "argocd-manager-token", "namespace": "kube-system"}, "stringData": {"token": "t0ken-value"}}
    task = _NamedTask("Token Secret of the ServiceAccount exists", "kubernetes.core.k8s", no_log=True,
                      args={"definition": definition, "apply": True})
    report, md = recorded(tmp_path, _ItemResult(dict(CENSORED), task))
    (change,) = report["clusters"]["dev"]["changes"]
    assert change["object"] == "Secret kube-system/argocd-manager-token"
    assert "t0ken-value" not in json.dumps(report) + md


def test_files_of_the_infra_repository_are_named_by_path(tmp_path):
    task = _NamedTask("gitops.bootstrap.infra_repo : Infra repository holds the layout for cluster dev", "gitops.bootstrap.infra_repo")
    with_diff = {"changed": True, "_ansible_no_log": False, "created": ["README.md"], "updated": ["clusters/dev/kustomization.yaml"],
                 "diff": [{"before_header": "/dev/null", "after_header": "README.md", "before": "", "after": "# Infrastructure\n"},
                          {"before_header": "clusters/dev/kustomization.yaml", "after_header": "clusters/dev/kustomization.yaml",
                           "before": "resources:\n  - apps\n", "after": "resources:\n  - apps\n  - projects\n"}]}
    without_diff = {k: v for k, v in with_diff.items() if k != "diff"}
    for res in (with_diff, without_diff):
        report, md = recorded(tmp_path, _ItemResult(res, task))
        changes = report["clusters"]["dev"]["changes"]
        assert [(c["object"], c["kind"], c["name"], c["action"]) for c in changes] == [
            ("file README.md", "File", "README.md", "create"),
            ("file clusters/dev/kustomization.yaml", "File", "clusters/dev/kustomization.yaml", "update"),
        ]
    assert "**file clusters/dev/kustomization.yaml** (update)" in md


def test_a_text_diff_is_named_from_the_result_and_shows_the_lines_that_changed(tmp_path):
    before = "policy.gitops-developers.csv: |\n  g, developers, role:developer-developers\n  p, role:developer-developers, logs, get, default/*, allow\n"
    after = before + "  p, role:developer-developers, applications, sync, default/*, allow\n"
    res = {"changed": True, "_ansible_no_log": False, "key": "policy.gitops-developers.csv",
           "configmap": {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "argocd-rbac-cm", "namespace": "argocd"}},
           "diff": {"before": before, "after": after, "before_header": "ConfigMap argocd-rbac-cm (before)",
                    "after_header": "ConfigMap argocd-rbac-cm (after)"}}
    task = _NamedTask("Developer groups may get and sync the applications of their projects in Argo CD", "gitops.bootstrap.argocd_rbac")
    report, md = recorded(tmp_path, _ItemResult(res, task))
    (change,) = report["clusters"]["dev"]["changes"]
    assert (change["object"], change["action"]) == ("ConfigMap argocd/argocd-rbac-cm", "update")
    assert "`+   p, role:developer-developers, applications, sync, default/*, allow`" in md


def test_a_result_that_names_no_object_says_so(tmp_path):
    task = _NamedTask("Argo CD configuration that would be applied after the install is reported", "ansible.builtin.debug")
    report, md = recorded(tmp_path, _ItemResult({"changed": True, "msg": ["Install: 64 objects to create"]}, task))
    (change,) = report["clusters"]["dev"]["changes"]
    assert change["object"] == "an object the task does not name (task: %s)" % task.get_name()
    assert change["kind"] is None and change["name"] is None
    assert "None" not in md


def test_a_no_log_task_of_a_module_with_a_fixed_object_is_named_after_it(tmp_path):
    task = _NamedTask("Argo CD policy", "gitops.bootstrap.argocd_rbac", no_log=True,
                      args={"namespace": "argocd", "policy_name": "team-a", "_ansible_module_name": "gitops.bootstrap.argocd_rbac"})
    report, _md = recorded(tmp_path, _ItemResult(dict(CENSORED), task))
    assert report["clusters"]["dev"]["changes"][0]["object"] == "ConfigMap argocd/argocd-rbac-cm"


def test_default_report_path_does_not_depend_on_the_working_directory():
    """Under ansible-runner or AWX the working directory may be /: the default is under the home directory,
    and the playbooks that read the report fall back to the same path."""
    import pathlib
    import yaml
    from ansible_collections.gitops.bootstrap.plugins.callback import drift_report
    default = yaml.safe_load(drift_report.DOCUMENTATION)["options"]["report_path"]["default"]
    assert default.startswith("~/"), default
    root = pathlib.Path(drift_report.__file__).resolve().parents[2]
    for playbook in ("bootstrap.yml", "drift.yml"):
        text = (root / "playbooks" / playbook).read_text()
        fallbacks = set(re.findall(r"'GITOPS_DRIFT_REPORT'\) \| default\('([^']*)', true\)", text))
        assert fallbacks == {default}, (playbook, fallbacks)


def test_kept_objects_report_only_what_they_create_as_drift(tmp_path):
    """k8s_kept_objects lists every object: a kept or handed-over one is no drift, a missing one created is."""
    task = _NamedTask("gitops.bootstrap.rbac_lockdown : Access the lock-down wants exists", "gitops.bootstrap.k8s_kept_objects")
    objects = [{"kind": "ClusterRole", "namespace": None, "name": "gitops-readonly", "action": "kept"},
               {"kind": "ClusterRoleBinding", "namespace": None, "name": "gitops-breakglass", "action": "hand over"},
               {"kind": "RoleBinding", "namespace": "team-a", "name": "gitops-developers", "action": "create"}]
    res = {"changed": True, "check_mode": True, "objects": objects, "created": ["RoleBinding team-a/gitops-developers"],
           "handed_over": ["ClusterRoleBinding gitops-breakglass"], "_ansible_no_log": False}
    report, _md = recorded(tmp_path, _ItemResult(res, task))
    changes = report["clusters"]["dev"]["changes"]
    assert [(c["object"], c["action"]) for c in changes] == [("RoleBinding team-a/gitops-developers", "create")], changes
    only_kept = dict(res, changed=True, objects=objects[:2], created=[])
    report, _md = recorded(tmp_path, _ItemResult(only_kept, task))
    assert report["clusters"].get("dev", {}).get("changes", []) == [] and not report["clusters"].get("dev", {}).get("drifted")
