#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_rbac_backup
short_description: Save the bindings an RBAC lock-down changes, and put back what it removed
version_added: 0.2.0
description:
  - The backup of the RBAC lock-down (role C(gitops.bootstrap.rbac_lockdown)). With O(state=present) it saves
    the originals of the bindings a lock-down plan of M(gitops.bootstrap.k8s_rbac_audit) changes, merged with the
    earlier backup, so that every subject any lock-down removed can come back. With O(state=restored) it puts back
    what the lock-downs removed.
  - "The backup has no size ceiling: one JSON document, gzip-compressed, cut into parts of at most O(chunk_bytes)
    stored as C(binaryData) of ConfigMaps C(NAME-<digest>-<n>), and the index ConfigMap O(name) that lists the
    parts with their SHA-256 checksums and the checksum of the whole. A write puts the new parts beside the old
    ones, reads each back and checks it, and only then switches the index (guarded by its resourceVersion, so a
    concurrent write fails instead of being lost); the parts of the old backup are deleted last. A failure leaves
    the earlier backup as it was."
  - The single ConfigMap that earlier versions of the collection wrote (one data key per binding) is read too, and
    replaced by the current form at the next write. Its entries do not record which subjects the lock-down
    removed; restoring one adds back every subject the saved binding has and the live binding lacks.
  - "A restore adds back the subjects the lock-down removed and keeps everything the binding holds now; a binding
    the lock-down deleted is created again. It never overwrites a change made since: where the roleRef changed,
    the binding was created again, a patched binding was deleted, or a removed subject holds the same role in the
    same place through another binding now, that binding (or that subject) is left as it is and the conflict is
    reported (RV(conflicts), and a warning)."
author:
  - gitops.bootstrap contributors (!UNKNOWN)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - gitops.bootstrap.connection
  - gitops.bootstrap.attributes.server_dry_run
attributes:
  check_mode:
    details:
      - Nothing is written. Binding changes of a restore run as server-side dry runs, so refusals show.
  diff_mode:
    details:
      - The subjects of each binding a restore changes, before and after.
  idempotent:
    details:
      - A backup that already holds the entries is not rewritten; a second restore finds nothing to add.
options:
  state:
    description:
      - V(present) saves the originals of O(plan) in the backup (and converts a backup of earlier versions).
        Without O(plan) it only reads the backup.
      - V(restored) puts back what the lock-downs removed.
    type: str
    choices: [present, restored]
    default: present
  namespace:
    description: Namespace of the backup ConfigMaps.
    type: str
    default: gitops-bootstrap-system
  name:
    description: Name of the index ConfigMap; the parts are named after it.
    type: str
    default: rbac-lockdown-backup
  plan:
    description:
      - The RV(gitops.bootstrap.k8s_rbac_audit#module:lockdown_plan) of the lock-down to save, unchanged.
    type: list
    elements: dict
    default: []
  chunk_bytes:
    description:
      - The most compressed bytes one part ConfigMap holds. The API server refuses objects over 1 MiB; the
        default leaves room to spare.
    type: int
    default: 524288
  src:
    description:
      - With O(state=restored), restore from this backup file (written with the role's C(rbac_lockdown_backup_file))
        instead of the ConfigMaps. Files of earlier versions are read too.
    type: path
  only:
    description:
      - With O(state=restored), restore only these entries (backup keys such as C(crb._cluster.alice-admin.json)).
    type: list
    elements: str
    default: []
  prune:
    description:
      - With O(state=restored), remove from the backup the entries whose binding holds everything again.
        Entries in conflict stay.
    type: bool
    default: false
  recreate_deleted:
    description:
      - With O(state=restored), also create again a binding the lock-down patched and someone deleted since, with
        the subjects the lock-down removed (otherwise that is a conflict).
    type: bool
    default: false
  return_document:
    description:
      - Return the whole backup as RV(document), to write it to a file.
    type: bool
    default: false
notes:
  - Needs C(get), C(create), C(update) and C(delete) on ConfigMaps in O(namespace) (and C(list) on its
    ResourceQuotas, to say in advance when the parts would not fit); a restore needs C(list) on RoleBindings and
    ClusterRoleBindings and the right to create and patch them (C(bind) on their roles).
seealso:
  - module: gitops.bootstrap.k8s_rbac_audit
  - module: gitops.bootstrap.k8s_rbac_lockdown
"""

EXAMPLES = r"""
---
- name: Plan the lock-down
  gitops.bootstrap.k8s_rbac_audit:
    lockdown:
      break_glass_groups: [platform-admins]
      backup: {namespace: gitops-bootstrap-system, name: rbac-lockdown-backup}
  register: audit

- name: Save the originals before anything changes
  gitops.bootstrap.k8s_rbac_backup:
    plan: "{{ audit.lockdown_plan }}"

- name: Put back what the lock-down removed (two entries only)
  gitops.bootstrap.k8s_rbac_backup:
    state: restored
    only: [crb._cluster.alice-admin.json, rb.shop.team-edit.json]
  register: restore

- name: Restore from a copy on disk
  gitops.bootstrap.k8s_rbac_backup:
    state: restored
    src: /backups/prod-rbac.json
"""

RETURN = r"""
backup:
  description:
    - The backup after the run; with O(state=restored) from a file, the file.
  returned: always
  type: dict
  contains:
    namespace:
      description: Namespace of the ConfigMaps.
      type: str
    name:
      description: Name of the index ConfigMap.
      type: str
    format:
      description: V(2) for the current form; V(1) for one ConfigMap of earlier versions (read, not written).
      type: int
    entries:
      description: Number of bindings saved.
      type: int
    json_bytes:
      description: Size of the backup document.
      type: int
    compressed_bytes:
      description: Size once compressed.
      type: int
    objects:
      description: ConfigMaps it takes (index and parts).
      type: int
    parts:
      description: Names of the part ConfigMaps.
      type: list
      elements: str
    sha256:
      description: Checksum of the backup document.
      type: str
    written:
      description: Whether this run wrote it (in check mode, would write it).
      type: bool
    migrated:
      description: Whether it replaced a backup in the form of earlier versions.
      type: bool
  sample:
    namespace: gitops-bootstrap-system
    name: rbac-lockdown-backup
    format: 2
    entries: 1840
    json_bytes: 1502311
    compressed_bytes: 61244
    objects: 2
document:
  description: The whole backup (format, version, entries), as the role writes it to its backup file.
  returned: when return_document is true
  type: dict
objects:
  description:
    - Every object the run created, updated or deleted (in check mode, would), each with C(kind), C(namespace),
      C(name) and C(action) (V(create), V(update), V(delete)); that is the backup ConfigMaps and the restored bindings.
  returned: always
  type: list
  elements: dict
restored:
  description:
    - The bindings a restore created or patched (in check mode, would), each with C(key), C(binding), C(action)
      (V(create) or V(patch)) and C(added) (the subjects put back).
  returned: when state is restored
  type: list
  elements: dict
unchanged:
  description: Backup keys whose binding held everything already.
  returned: when state is restored
  type: list
  elements: str
conflicts:
  description:
    - What a restore left alone because the binding changed since the lock-down, each with C(key), C(binding),
      C(reason) (V(role_changed), V(recreated), V(deleted), V(granted_elsewhere)), C(subjects) and C(message).
  returned: when state is restored
  type: list
  elements: dict
pruned:
  description: Backup keys removed from the backup by O(prune).
  returned: when state is restored
  type: list
  elements: str
"""

import os

from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError, GitopsK8sModule, run_module
from ansible_collections.gitops.bootstrap.plugins.module_utils._rbac_backup import BackupStore, BindingWriter, list_bindings

LISTED_KEYS = 30
WARNED_CONFLICTS = 20


def _listing(keys: list) -> str:
    keys = sorted(keys)
    text = ", ".join(keys[:LISTED_KEYS])
    if len(keys) > LISTED_KEYS:
        text += f" and {len(keys) - LISTED_KEYS} more"
    return text or "none"


class BackupManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.store = BackupStore(module, self.params["namespace"], self.params["name"])

    def validate(self) -> None:
        try:
            rbac.check_chunk_bytes(self.params["chunk_bytes"])
        except rbac.RbacBackupError as exc:
            raise GitopsK8sError(f"Option chunk_bytes: {exc}.")
        if self.params["state"] == "present":
            for opt in ("src", "only"):
                if self.params.get(opt):
                    raise GitopsK8sError(f"Option {opt} only applies to state=restored.")
        elif self.params["plan"]:
            raise GitopsK8sError("Option plan only applies to state=present; a restore reads the backup.")

    def run(self) -> dict:
        self.validate()
        if self.params["state"] == "present":
            return self.save()
        return self.restore()

    # -- save ---------------------------------------------------------------------------------
    def save(self) -> dict:
        for index, item in enumerate(self.params["plan"]):
            if item.get("kind") not in rbac.BACKUP_BINDING_KINDS or not item.get("name") or not item.get("backup_key"):
                raise GitopsK8sError(
                    f"Option plan[{index}] is not a lock-down plan item of k8s_rbac_audit (kind, name, backup_key, original, ...); "
                    "pass its lockdown_plan unchanged."
                )
        current = self.store.read()
        try:
            entries = rbac.merge_backup_entries(current["entries"], self.params["plan"])
        except rbac.RbacBackupError as exc:
            raise GitopsK8sError(f"Option plan: {exc}.")
        summary = self.store.write(entries, self.params["chunk_bytes"], current)
        out = {"changed": summary["written"], "backup": summary, "objects": summary.pop("objects_changed")}
        if self.params["return_document"]:
            out["document"] = {"format": rbac.BACKUP_FORMAT, "version": rbac.BACKUP_VERSION, "entries": entries}
        return out

    # -- restore ------------------------------------------------------------------------------
    def load(self) -> tuple[dict, dict, dict | None]:
        src = self.params.get("src")
        if src:
            if not os.path.isfile(src):
                raise GitopsK8sError(
                    f"The backup file {src} (option src) does not exist; nothing was changed. Point it at the file the lock-down wrote."
                )
            try:
                with open(src, "rb") as handle:
                    entries = rbac.read_backup_document(handle.read())
            except (IOError, OSError) as exc:
                raise GitopsK8sError(f"The backup file {src} cannot be read: {exc}. Nothing was changed.")
            except rbac.RbacBackupError as exc:
                raise GitopsK8sError(f"The backup file {src} cannot be read: {exc}. Nothing was changed.")
            summary = {"namespace": None, "name": None, "format": None, "entries": len(entries), "written": False, "migrated": False, "src": src}
            return entries, summary, None
        current = self.store.read()
        where = f"ConfigMap {self.store.namespace}/{self.store.name}"
        entries = current["entries"]
        summary = {
            "namespace": self.store.namespace,
            "name": self.store.name,
            "format": current["format"],
            "entries": len(entries),
            "objects": (len(current["parts"]) + 1) if current["exists"] else 0,
            "parts": current["parts"],
            "sha256": current["sha256"],
            "written": False,
            "migrated": False,
        }
        if not entries:
            raise GitopsK8sError(
                f"No RBAC lock-down backup found ({where} is missing or empty), nothing was changed. Point src, or namespace and name "
                "(rbac_restore_file, rbac_restore_namespace/rbac_restore_configmap), at the backup the lock-down wrote."
            )
        return entries, summary, current

    def restore(self) -> dict:
        entries, summary, current = self.load()
        if not entries:
            raise GitopsK8sError(f"The backup file {self.params['src']} holds no entry; nothing was changed.")
        only = self.params["only"]
        unknown = sorted(set(only) - set(entries))
        if unknown:
            raise GitopsK8sError(
                f"Option only names {', '.join(unknown)}, which the backup does not hold; nothing was changed. Entries in the backup: "
                f"{_listing(list(entries))}."
            )
        keys = sorted(set(only)) if only else sorted(entries)
        plan = rbac.plan_restore(entries, list_bindings(self.module), keys=keys, recreate_deleted=self.params["recreate_deleted"])
        writer = BindingWriter(self.module)
        restored, failed, objects = [], [], []
        for change in plan["changes"]:
            try:
                if change["action"] == "create":
                    writer.create(change["object"])
                else:
                    writer.set_subjects(change["kind"], change["name"], change["namespace"], change["subjects_after"], change["resource_version"])
            except GitopsK8sError as exc:
                failed.append(f"{change['binding']}: {exc.msg}")
                continue
            restored.append({"key": change["key"], "binding": change["binding"], "action": change["action"], "added": change["added"]})
            objects.append(
                {
                    "kind": change["kind"],
                    "namespace": change["namespace"],
                    "name": change["name"],
                    "action": "create" if change["action"] == "create" else "update",
                }
            )
        for c in plan["conflicts"][:WARNED_CONFLICTS]:
            self.module.warn(f"Restore conflict, {c['message']}")
        if len(plan["conflicts"]) > WARNED_CONFLICTS:
            self.module.warn(f"{len(plan['conflicts']) - WARNED_CONFLICTS} more restore conflicts, listed in the result (conflicts).")
        out = {
            "changed": bool(restored),
            "backup": summary,
            "restored": restored,
            "unchanged": plan["unchanged"],
            "conflicts": plan["conflicts"],
            "pruned": [],
            "objects": objects,
        }
        if self.module._diff:
            out["diff"] = {
                "before": {c["binding"]: c["subjects_before"] for c in plan["changes"]},
                "after": {c["binding"]: c["subjects_after"] for c in plan["changes"]},
            }
        if failed:
            raise GitopsK8sError(
                f"The restore could not put back {len(failed)} binding(s), the others were restored: {'; '.join(failed[:10])}"
                f"{' ...' if len(failed) > 10 else ''}. Fix what the server names and run the restore again.",
                **out,
            )
        if self.params["prune"] and current is not None:
            done = set(r["key"] for r in restored) | set(plan["unchanged"])
            in_conflict = set(c["key"] for c in plan["conflicts"])
            pruned = sorted(done - in_conflict)
            if pruned:
                rest = dict((k, v) for k, v in entries.items() if k not in pruned)
                if rest:
                    out["backup"] = self.store.write(rest, self.params["chunk_bytes"], current)
                    objects.extend(out["backup"].pop("objects_changed"))
                else:
                    objects.extend(self.store.delete(current))
                    out["backup"] = dict(summary, entries=0, objects=0, parts=[], written=True)
                out["pruned"] = pruned
                out["changed"] = True
        if self.params["return_document"]:
            out["document"] = {"format": rbac.BACKUP_FORMAT, "version": rbac.BACKUP_VERSION, "entries": entries}
        return out


def build_argument_spec() -> dict:
    return dict(
        state=dict(type="str", choices=["present", "restored"], default="present"),
        namespace=dict(type="str", default="gitops-bootstrap-system"),
        name=dict(type="str", default="rbac-lockdown-backup"),
        plan=dict(type="list", elements="dict", default=[]),
        chunk_bytes=dict(type="int", default=rbac.BACKUP_CHUNK_DEFAULT),
        src=dict(type="path"),
        only=dict(type="list", elements="str", default=[]),
        prune=dict(type="bool", default=False),
        recreate_deleted=dict(type="bool", default=False),
        return_document=dict(type="bool", default=False),
    )


def main():
    module = GitopsK8sModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    run_module(module, BackupManager, "Managing the RBAC backup")


if __name__ == "__main__":
    main()
