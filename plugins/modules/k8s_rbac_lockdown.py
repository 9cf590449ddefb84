#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_rbac_lockdown
short_description: Apply an RBAC lock-down plan, only once its backup holds every binding it changes
version_added: 0.2.0
description:
  - Deletes and patches the bindings of a lock-down plan of M(gitops.bootstrap.k8s_rbac_audit)
    (RV(gitops.bootstrap.k8s_rbac_audit#module:lockdown_plan)), the way the role C(gitops.bootstrap.rbac_lockdown)
    enforces it.
  - Before the first change it reads the backup written by M(gitops.bootstrap.k8s_rbac_backup), checks every
    checksum, and refuses, changing nothing, unless the backup holds every planned binding with every subject the
    plan removes.
  - A binding that changed since the plan is not overwritten. A delete carries the binding's uid and
    resourceVersion as preconditions, a patch tests the subjects the plan saw; such a binding is reported and
    left alone, and the module fails once the others are done (run the role again to plan anew). A binding
    already as planned counts as unchanged.
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
attributes:
  check_mode:
    details:
      - Every delete and patch runs as a server-side dry run. The backup check is skipped when the backup has not
        been written because the backup step ran in check mode too.
  diff_mode:
    details:
      - The subjects of each binding before and after (none for a deleted binding).
  idempotent:
    details:
      - Bindings already deleted or patched as planned are not changed again.
options:
  plan:
    description: The lock-down plan, as RV(gitops.bootstrap.k8s_rbac_audit#module:lockdown_plan) returned it.
    type: list
    elements: dict
    required: true
  backup:
    description: Where M(gitops.bootstrap.k8s_rbac_backup) saved the originals.
    type: dict
    default: {}
    suboptions:
      namespace:
        description: Namespace of the backup ConfigMaps.
        type: str
        default: gitops-bootstrap-system
      name:
        description: Name of the index ConfigMap.
        type: str
        default: rbac-lockdown-backup
notes:
  - Needs C(list), C(delete) and C(patch) on RoleBindings and ClusterRoleBindings and C(get) on the backup ConfigMaps.
seealso:
  - module: gitops.bootstrap.k8s_rbac_audit
  - module: gitops.bootstrap.k8s_rbac_backup
"""

EXAMPLES = r"""
---
- name: Plan the lock-down
  gitops.bootstrap.k8s_rbac_audit:
    lockdown:
      break_glass_groups: [platform-admins]
      backup: {namespace: gitops-bootstrap-system, name: rbac-lockdown-backup}
  register: audit

- name: Save the originals
  gitops.bootstrap.k8s_rbac_backup:
    plan: "{{ audit.lockdown_plan }}"

- name: Take write access away from people
  gitops.bootstrap.k8s_rbac_lockdown:
    plan: "{{ audit.lockdown_plan }}"
"""

RETURN = r"""
deleted:
  description: The bindings deleted (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [ClusterRoleBinding alice-admin]
patched:
  description: The bindings whose subjects were reduced (in check mode, would be).
  returned: always
  type: list
  elements: str
unchanged:
  description: Planned bindings that were already as planned (deleted, or holding only the subjects to keep).
  returned: always
  type: list
  elements: str
objects:
  description:
    - Every binding deleted or patched (in check mode, that would be), each with C(kind), C(namespace), C(name) and
      C(action) (V(delete) or V(update)).
  returned: always
  type: list
  elements: dict
changed_since_plan:
  description: Bindings left alone because they changed after the plan was made, each with C(binding) and C(message).
  returned: always
  type: list
  elements: dict
backup:
  description: The backup that was checked (C(namespace), C(name), C(format), C(entries)).
  returned: always
  type: dict
"""

from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, GitopsK8sModule, run_module
from ansible_collections.gitops.bootstrap.plugins.module_utils._rbac_backup import BackupStore, BindingWriter, list_bindings

LISTED = 10


def _ident(kind: str, namespace: str | None, name: str) -> tuple:
    return (kind, namespace if kind == "RoleBinding" else None, name)


def _same_subjects(a: list, b: list, namespace: str | None) -> bool:
    return len(a or []) == len(b or []) and not rbac.subtract_subjects(a, b, namespace)


class LockdownManager:
    def __init__(self, module):
        self.module = module
        self.plan = module.params["plan"]
        backup = module.params.get("backup") or {}
        self.store = BackupStore(module, backup.get("namespace") or "gitops-bootstrap-system", backup.get("name") or "rbac-lockdown-backup")

    def validate(self) -> None:
        for index, item in enumerate(self.plan):
            if (
                item.get("action") not in ("delete", "patch")
                or item.get("kind") not in rbac.BACKUP_BINDING_KINDS
                or not item.get("name")
                or not item.get("backup_key")
                or (item["action"] == "patch" and "keep_subjects" not in item)
            ):
                raise GitopsK8sError(
                    f"Option plan[{index}] is not a lock-down plan item of k8s_rbac_audit (action, kind, name, backup_key, subjects, "
                    "keep_subjects); pass its lockdown_plan unchanged. Nothing was changed."
                )

    def check_backup(self) -> dict:
        """Refuse, before any change, unless the backup holds what every planned change removes."""
        current = self.store.read()
        summary = {"namespace": self.store.namespace, "name": self.store.name, "format": current["format"], "entries": len(current["entries"])}
        missing = []
        for item in self.plan:
            entry = current["entries"].get(item["backup_key"])
            ref = f"{item['kind']} {item['name'] if item['kind'] == 'ClusterRoleBinding' else item.get('namespace', '') + '/' + item['name']}"
            if entry is None:
                missing.append(f"{ref} (no entry {item['backup_key']})")
                continue
            saved = entry["binding"]
            role = item.get("role_ref") or {}
            if ((saved.get("roleRef") or {}).get("kind"), (saved.get("roleRef") or {}).get("name")) != (role.get("kind"), role.get("name")):
                missing.append(f"{ref} (the entry is for another role)")
                continue
            held = entry["removed_subjects"] if entry["removed_subjects"] is not None else (saved.get("subjects") or [])
            lacking = rbac.subtract_subjects(item.get("remove_subjects") or [], held, item.get("namespace"))
            if lacking:
                missing.append(f"{ref} (lacks {rbac.describe_subjects(lacking, item.get('namespace'))})")
        # In check mode the backup step before this one wrote nothing: what it lacks is what that step would add.
        if missing and not self.module.check_mode:
            raise GitopsK8sError(
                f"Refusing the RBAC lock-down: the backup ConfigMap {self.store.namespace}/{self.store.name} does not hold "
                f"{len(missing)} of the bindings it would change: {'; '.join(missing[:LISTED])}{' ...' if len(missing) > LISTED else ''}. "
                "Nothing was changed. Save the plan first (gitops.bootstrap.k8s_rbac_backup with the same plan).",
                backup=summary,
            )
        summary["checked"] = not missing
        return summary

    @staticmethod
    def _write(writer, item: dict, current: dict, wanted: list | None) -> str | None:
        """Delete the binding (``wanted`` None) or set its subjects; the server's refusal in words, or None."""
        kind, name, ns = item["kind"], item["name"], item.get("namespace")
        try:
            if wanted is None:
                meta = current.get("metadata") or {}
                writer.delete(kind, name, ns, meta.get("uid"), meta.get("resourceVersion"))
            else:
                writer.set_subjects(kind, name, ns, wanted, None, expect_subjects=current.get("subjects") or [])
        except GitopsK8sError as exc:
            return exc.msg
        return None

    def run(self) -> dict:
        self.validate()
        out = {"changed": False, "deleted": [], "patched": [], "unchanged": [], "changed_since_plan": [], "objects": []}
        if not self.plan:
            out["backup"] = {"namespace": self.store.namespace, "name": self.store.name}
            return out
        out["backup"] = self.check_backup()
        live = dict(
            (_ident(o["kind"], (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")), o)
            for o in list_bindings(self.module)
        )
        writer = BindingWriter(self.module)
        before, after = {}, {}
        for item in self.plan:
            kind, name, ns = item["kind"], item["name"], item.get("namespace")
            ref = f"{kind} {name if kind == 'ClusterRoleBinding' else f'{ns}/{name}'}"
            current = live.get(_ident(kind, ns, name))
            subjects_now = (current or {}).get("subjects") or []
            delete = item["action"] == "delete"
            wanted = None if delete else item.get("keep_subjects") or []
            if delete:
                done = current is None
            else:
                done = current is not None and _same_subjects(subjects_now, wanted, ns)
            if done:
                out["unchanged"].append(ref)
                continue
            if current is None:
                problem = f"{ref} was deleted since the plan"
            elif not _same_subjects(subjects_now, item.get("subjects") or [], ns):
                problem = f"{ref} holds other subjects than planned ({rbac.describe_subjects(subjects_now, ns)})"
            else:
                problem = self._write(writer, item, current, wanted)
            if problem:
                out["changed_since_plan"].append({"binding": ref, "message": problem})
                continue
            out["deleted" if delete else "patched"].append(ref)
            out["objects"].append({"kind": kind, "namespace": ns, "name": name, "action": "delete" if delete else "update"})
            before[ref], after[ref] = subjects_now, wanted
        out["changed"] = bool(out["deleted"] or out["patched"])
        if self.module._diff:
            out["diff"] = {"before": before, "after": after}
        if out["changed_since_plan"]:
            msgs = [c["message"] for c in out["changed_since_plan"]]
            raise GitopsK8sError(
                f"{len(msgs)} binding(s) changed after the lock-down was planned and were left alone: {'; '.join(msgs[:LISTED])}"
                f"{' ...' if len(msgs) > LISTED else ''}. The other bindings were changed as planned; run the lock-down again to plan anew.",
                **out,
            )
        return out


def build_argument_spec() -> dict:
    return dict(
        plan=dict(type="list", elements="dict", required=True),
        backup=dict(
            type="dict",
            default={},
            options=dict(
                namespace=dict(type="str", default="gitops-bootstrap-system"),
                name=dict(type="str", default="rbac-lockdown-backup"),
            ),
        ),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, LockdownManager, "Locking down RBAC")


if __name__ == "__main__":
    main()
