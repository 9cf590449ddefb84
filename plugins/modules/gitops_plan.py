#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: gitops_plan
short_description: The plan of a change of the infra repository, per cluster
version_added: 0.1.0
description:
  - Compares two revisions of a checkout of the infra repository (the base and the head of a pull request) and
    says, for every cluster whose desired state changes, which objects the change creates, changes (with the
    changed fields before and after) and deletes. Secret values are masked.
  - A cluster is reached by a change under C(clusters/<cluster>/), or by a change of the files that the
    Applications its root renders point at (their C(source.path), and the local files their kustomizations
    load), followed from the Application manifests.
  - Both revisions are rendered the way Argo CD renders them, with kustomize and the build options of the
    cluster's C(argocd-cm) (C(kustomize.buildOptions); none when it is not set). The base revision is the merge
    base of O(base) and O(head), so commits made on the base branch since do not show.
  - With O(kubeconfigs), the objects the head creates or changes are sent to each cluster as a server-side dry
    run, so schema, admission and quota errors show in the plan. A cluster that cannot be reached does not stop
    the plan; it says the dry run could not run and why.
  - Writes the plan as Markdown and JSON when O(markdown_path) / O(json_path) are given.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
options:
  repo:
    description: Path of a git checkout of the infra repository that has both revisions.
    type: path
    required: true
  base:
    description: The base revision (branch, tag or commit SHA), for a pull request its target branch.
    type: str
    required: true
  head:
    description: The head revision (branch, tag or commit SHA), for a pull request its last commit.
    type: str
    default: HEAD
  clusters:
    description: Plan only these clusters (folder names under C(clusters/)); all by default.
    type: list
    elements: str
  kubeconfigs:
    description:
      - Per cluster name, the path of a kubeconfig of that cluster for the server-side dry run. Clusters without
        one get no dry run (the plan says so).
      - The identity only needs to be allowed dry runs (see docs/plan.md).
    type: dict
  kustomize:
    description:
      - Path of the kustomize binary, the version Argo CD uses. Defaults to C($KUSTOMIZE), then C(kustomize) on
        the PATH.
    type: path
  timeout:
    description: Seconds each git or kustomize process may take.
    type: float
    default: 60
  request_timeout:
    description: Seconds each request of the dry run to an API server may take.
    type: float
    default: 30
  markdown_path:
    description: Write the plan as Markdown to this file.
    type: path
  json_path:
    description: Write the plan as JSON to this file.
    type: path
  marker:
    description: A line put first in the Markdown (an HTML comment by default) by which the pull request comment is found again.
    type: str
    default: ""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The plan only reads; in check mode the report files are not written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - The report files are rewritten only when what they say differs.
  action_group:
    description: Use C(group/gitops.bootstrap.plan) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gitops.bootstrap.plan
notes:
  - The module reports C(changed) for the report files it writes; whether the change of the repository changes
    a cluster is RV(has_changes).
"""

EXAMPLES = r"""
---
- name: Plan of the pull request
  gitops.bootstrap.gitops_plan:
    repo: "{{ playbook_dir }}/infra"
    base: origin/main
    head: HEAD
    kubeconfigs:
      dev: /run/secrets/dev-kubeconfig
    markdown_path: plan.md
    json_path: plan.json
  register: plan

- name: Fail when the plan found errors
  ansible.builtin.assert:
    that: plan.status == 'success'
"""

RETURN = r"""
has_changes:
  description: Whether any cluster's desired state changes.
  returned: always
  type: bool
status:
  description: V(success), or V(failure) when a manifest is broken or a dry run was refused.
  returned: always
  type: str
base_sha:
  description: The commit the head is compared with (merge base of O(base) and O(head)).
  returned: always
  type: str
head_sha:
  description: The commit of O(head).
  returned: always
  type: str
known_clusters:
  description: The clusters the repository has (folders under C(clusters/)) at either revision.
  returned: always
  type: list
  elements: str
changed_files:
  description: The files the change touches.
  returned: always
  type: list
  elements: str
clusters:
  description:
    - Per reached cluster; C(objects) (C(object), C(action) create/change/delete, C(fields) with C(field),
      C(before), C(after); C(source) the folder it is rendered from), C(applications) whose sources change,
      C(counts), C(errors) (C(file), C(message)), C(dry_run) (C(ran), C(reason), C(checked), C(refused), C(skipped)).
  returned: always
  type: dict
errors:
  description: Broken manifests and refused objects, each with C(cluster), C(file) and C(message).
  returned: always
  type: list
  elements: dict
markdown:
  description: The plan as Markdown.
  returned: always
  type: str
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitops.bootstrap.plugins.module_utils import _plan
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.client import (
    GitopsK8sError,
    auth_argument_spec,
    create_client,
    describe_exception,
    kubeconfig_problem,
    request_timeout_problem,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.service import K8sService

PLAN_FIELD_MANAGER = "gitops.bootstrap-plan"
# Applied first, so that the dry run of what they hold can find them when they already exist.
_FIRST = ("Namespace", "CustomResourceDefinition")


def dry_run_cluster(service: K8sService, objects: list, created_namespaces: set) -> dict:
    """Server-side dry run of every object; the cluster's refusals, named by file."""
    try:
        service.read_path("/version", doing="Reaching the API server")
    except GitopsK8sError as exc:
        return {"ran": False, "reason": exc.msg}
    ordered = sorted(objects, key=lambda item: 0 if item[0].get("kind") in _FIRST else 1)
    result = {"ran": True, "checked": 0, "refused": [], "skipped": []}

    def one(item):
        obj, path = item
        ref = _plan.ref_of(_plan.key_of(obj))
        try:
            service.server_side_apply(obj, field_manager=PLAN_FIELD_MANAGER, force_conflicts=True)
            return ("ok", ref, path, "")
        except GitopsK8sError as exc:
            ns = (obj.get("metadata") or {}).get("namespace")
            if ns in created_namespaces and f'namespaces "{ns}" not found' in exc.msg:
                return ("skip", ref, path, f"{ref}: its namespace {ns} is created by this change")
            return ("refused", ref, path, exc.msg)
        except Exception as exc:  # pylint: disable=broad-except
            return ("refused", ref, path, describe_exception(exc, f"Dry run of {ref}"))

    firsts = [i for i in ordered if i[0].get("kind") in _FIRST]
    rest = [i for i in ordered if i[0].get("kind") not in _FIRST]
    for status, ref, path, msg in [one(i) for i in firsts] + service.parallel(one, rest):
        if status == "ok":
            result["checked"] += 1
        elif status == "skip":
            result["skipped"].append(msg)
        else:
            result["refused"].append({"object": ref, "file": path, "message": msg})
    return result


def client_params(kubeconfig: str, request_timeout: float) -> dict:
    params = {name: spec.get("default") for name, spec in auth_argument_spec().items()}
    params.update(kubeconfig=kubeconfig, request_timeout=request_timeout)
    return params


def write_if_changed(path: str, text: str, check_mode: bool) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    if check_mode:
        return True
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".plan-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return True


class PlanManager:
    def __init__(self, module: AnsibleModule):
        self.module = module
        self.p = module.params
        self._clients: dict = {}

    def run(self) -> dict:
        p = self.p
        kustomize = p["kustomize"] or _plan.default_kustomize()
        if not kustomize:
            raise _plan.PlanError("kustomize not found: give option kustomize (the version Argo CD uses) or put it on the PATH")
        for cluster, path in (p["kubeconfigs"] or {}).items():
            if not isinstance(path, str) or not path.strip():
                raise _plan.PlanError(f"kubeconfigs: the kubeconfig of cluster {cluster!r} is empty; give a path or leave the cluster out")
        plan, objects = _plan.make_plan(p["repo"], p["base"], p["head"], kustomize, clusters=p["clusters"], timeout=p["timeout"])
        kubeconfigs = p["kubeconfigs"] or {}
        unknown = [c for c in kubeconfigs if c not in plan["known_clusters"]]
        if unknown:
            raise _plan.PlanError(f"kubeconfigs: unknown cluster(s) {', '.join(map(repr, unknown))}: the repository has "
                                  f"{', '.join(plan['known_clusters']) or 'no cluster'}")
        for cluster, entry in plan["clusters"].items():
            path = kubeconfigs.get(cluster)
            if not path:
                continue
            if entry["errors"]:
                entry["dry_run"] = {"ran": False, "reason": "the manifests do not render"}
                continue
            if not objects.get(cluster):
                entry["dry_run"] = {"ran": True, "checked": 0, "refused": [], "skipped": []}
                continue
            params = client_params(path, p["request_timeout"])
            problem = kubeconfig_problem(params)
            if problem:
                entry["dry_run"] = {"ran": False, "reason": problem}
                continue
            service = K8sService(lambda params=params: self._client(params), check_mode=True)
            created = {o["name"] for o in entry["objects"] if o["kind"] == "Namespace" and o["action"] == "create"}
            entry["dry_run"] = dry_run_cluster(service, objects[cluster], created)
            for refused in entry["dry_run"].get("refused", []):
                error = {"cluster": cluster, "file": refused["file"], "message": f"{refused['object']}: {refused['message']}",
                         "kind": "dry_run"}
                entry["errors"].append(error)
                plan["errors"].append(error)
        plan["status"] = "failure" if plan["errors"] else "success"
        md = _plan.markdown(plan, marker=p["marker"])
        changed = False
        if p["markdown_path"]:
            changed |= write_if_changed(p["markdown_path"], md, self.module.check_mode)
        if p["json_path"]:
            changed |= write_if_changed(p["json_path"], json.dumps(plan, indent=2, sort_keys=True, default=str) + "\n",
                                        self.module.check_mode)
        return dict(plan, markdown=md, changed=changed)

    def _client(self, params):
        key = params["kubeconfig"]
        if key not in self._clients:
            try:
                self._clients[key] = create_client(params)
            except GitopsK8sError:
                raise
            except Exception as exc:  # pylint: disable=broad-except
                raise GitopsK8sError(describe_exception(exc, f"Connecting to the cluster of kubeconfig {key}")) from exc
        return self._clients[key]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo=dict(type="path", required=True),
            base=dict(type="str", required=True),
            head=dict(type="str", default="HEAD"),
            clusters=dict(type="list", elements="str"),
            kubeconfigs=dict(type="dict"),
            kustomize=dict(type="path"),
            timeout=dict(type="float", default=60),
            request_timeout=dict(type="float", default=30),
            markdown_path=dict(type="path"),
            json_path=dict(type="path"),
            marker=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    if not _plan.HAS_YAML:
        module.fail_json(msg="gitops_plan needs PyYAML on the host that runs it: pip install PyYAML")
    for option in ("timeout", "request_timeout"):
        problem = request_timeout_problem(module.params[option])
        if problem:
            module.fail_json(msg=problem.replace("request_timeout", option))
    try:
        result = PlanManager(module).run()
    except (_plan.PlanError, _plan.ManifestError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
