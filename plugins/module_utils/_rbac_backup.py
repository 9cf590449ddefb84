# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RBAC lock-down backup in the cluster, and the binding changes of a lock-down or a restore.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

The service layer of the lock-down: every API call that reads or writes the backup
ConfigMaps, lists the bindings, or deletes, patches and creates a binding. What goes into the
backup, how it is encoded and what a restore changes are decided offline by ``_rbac``.

The backup is an index ConfigMap (the name the role and the restore playbook are given)
and numbered part ConfigMaps holding the compressed document in ``binaryData``. A write puts
the new parts next to the old ones, reads every part back and checks it, and only then
points the index at them (with the index's resourceVersion, so that a concurrent write fails
instead of being lost), then deletes the parts the old index named. The index of earlier
versions, one data key per binding, is read as such and replaced by the first write.
"""

from __future__ import annotations

import base64
import json

from ansible_collections.gitops.bootstrap.plugins.module_utils import _rbac as rbac
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import (
    GitopsK8sError,
    LIST_PAGE_SIZE,
    describe_exception,
    list_pages,
    object_ref,
)

try:
    from kubernetes.dynamic.exceptions import ConflictError, NotFoundError
except ImportError:  # pragma: no cover - kubernetes is a requirement of kubernetes.core

    class ConflictError(Exception):  # type: ignore[no-redef]
        pass

    class NotFoundError(Exception):  # type: ignore[no-redef]
        pass


LABELS = {"app.kubernetes.io/managed-by": "gitops.bootstrap", "gitops.bootstrap/component": "rbac-lockdown"}
PART_OF_LABEL = "gitops.bootstrap/rbac-backup"
RESTORE_ANNOTATION = {"gitops.bootstrap/restore": "ansible-playbook gitops.bootstrap.rbac_restore"}
PAGE_SIZE = LIST_PAGE_SIZE
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


def _binaries(obj: dict | None) -> dict:
    if not obj:
        return {}
    return obj.get("binaryData") or obj.get("binary_data") or {}


def list_bindings(module) -> list[dict]:
    """Every RoleBinding and ClusterRoleBinding, page by page, as the API server returns them."""
    out = []
    for kind in BINDING_KINDS:
        out.extend(list_pages(module.resource(kind, rbac.RBAC_API_VERSION), kind, f"Listing {kind}s", PAGE_SIZE))
    return out


class BackupStore:
    """The backup ConfigMaps NAMESPACE/NAME (the index) and NAME-<digest>-<n> (the parts)."""

    def __init__(self, module, namespace: str, name: str):
        self.module = module
        self.namespace = namespace
        self.name = name
        if len(rbac.backup_part_name(name, "0" * 64, 999)) > 253:
            raise GitopsK8sError(f"The backup name {name!r} is too long: its parts are named {name}-<digest>-<n>, at most 253 characters.")

    @property
    def ref(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    # -- reads --------------------------------------------------------------------------------
    def read(self) -> dict:
        """The backup as it is: ``exists``, ``format`` (1: one ConfigMap of earlier versions, 2: parts), ``entries``."""
        index_obj = self.module.get("ConfigMap", "v1", self.name, self.namespace)
        out = {"exists": index_obj is not None, "format": 0, "entries": {}, "parts": [], "index_object": index_obj, "sha256": None}
        if index_obj is None:
            return out
        data = index_obj.get("data") or {}
        try:
            index = rbac.parse_backup_index(data)
        except rbac.RbacBackupError as exc:
            raise GitopsK8sError(f"The RBAC lock-down backup {self.ref} cannot be read: {exc}. Nothing was changed.")
        if index is None:
            try:
                out["entries"] = rbac.legacy_backup_entries(data)
            except rbac.RbacBackupError as exc:
                raise GitopsK8sError(
                    f"The RBAC lock-down backup {self.ref} (written by an earlier version) cannot be read: {exc}. Nothing was changed."
                )
            out["format"] = 1 if out["entries"] or data else 0
            return out
        parts = []
        for part in index["parts"]:
            obj = self.module.get("ConfigMap", "v1", part["name"], self.namespace)
            value = _binaries(obj).get(rbac.BACKUP_PART_KEY)
            if obj is None or value is None:
                raise GitopsK8sError(
                    f"The RBAC lock-down backup {self.ref} is incomplete: its part ConfigMap {self.namespace}/{part['name']} is "
                    f"missing{'' if obj is None else ' its data'}. Nothing was changed. Restore from the backup file "
                    "(rbac_lockdown_backup_file) if one was written."
                )
            try:
                parts.append(base64.b64decode(value, validate=True))
            except (ValueError, TypeError) as exc:
                raise GitopsK8sError(f"The RBAC lock-down backup part {self.namespace}/{part['name']} is not base64 ({exc}). Nothing was changed.")
        try:
            out["entries"] = rbac.decode_backup(index, parts)
        except rbac.RbacBackupError as exc:
            raise GitopsK8sError(
                f"The RBAC lock-down backup {self.ref} cannot be trusted: {exc}. Nothing was changed. Restore from the backup file "
                "(rbac_lockdown_backup_file) if one was written."
            )
        out.update(format=2, parts=[p["name"] for p in index["parts"]], sha256=index["sha256"])
        return out

    def quota_problem(self, new_objects: int) -> str | None:
        """Why ``new_objects`` more ConfigMaps would not fit in the namespace's ResourceQuotas, or None."""
        try:
            quotas = self.module.list("ResourceQuota", "v1", namespace=self.namespace)
        except GitopsK8sError:
            # Not allowed to read quotas: the write itself will tell.
            return None
        for quota in quotas:
            status = quota.get("status") or {}
            hard, used = status.get("hard") or {}, status.get("used") or {}
            for key in ("configmaps", "count/configmaps"):
                if key not in hard:
                    continue
                limit, now = _quantity(hard[key]), _quantity(used.get(key, "0"))
                if limit is not None and now is not None and now + new_objects > limit:
                    name = (quota.get("metadata") or {}).get("name")
                    return (
                        f"ResourceQuota {self.namespace}/{name} allows {limit} ConfigMaps ({key}), {now} exist and the backup needs "
                        f"{new_objects} more (parts are written before the old ones are removed)"
                    )
        return None

    # -- writes -------------------------------------------------------------------------------
    def write(self, entries: dict, chunk_bytes: int, current: dict) -> dict:
        """Store ``entries`` (replacing the backup ``current`` read before); returns what was done.

        Nothing is written when the backup holds these entries already. In check mode nothing is
        written either, and the result says what would be.
        """
        try:
            encoded = rbac.encode_backup(entries, chunk_bytes)
        except rbac.RbacBackupError as exc:
            raise GitopsK8sError(f"Option chunk_bytes: {exc}.")
        index_data = rbac.backup_index(self.name, encoded)
        names = [p["name"] for p in json.loads(index_data[rbac.BACKUP_INDEX_KEY])["parts"]]
        summary = {
            "namespace": self.namespace,
            "name": self.name,
            "format": rbac.BACKUP_VERSION,
            "entries": encoded["entries"],
            "json_bytes": encoded["json_bytes"],
            "compressed_bytes": encoded["compressed_bytes"],
            "chunk_bytes": chunk_bytes,
            "objects": len(names) + 1,
            "parts": names,
            "sha256": encoded["sha256"],
            "migrated": current["format"] == 1,
            "written": False,
            "objects_changed": [],
        }
        if current["format"] == 2 and current["sha256"] == encoded["sha256"]:
            return summary
        if not entries and not current["exists"]:
            return summary
        reused = set(current["parts"]) & set(names)
        problem = self.quota_problem(len(names) - len(reused) + (0 if current["exists"] else 1))
        if problem:
            raise GitopsK8sError(
                f"The RBAC lock-down backup does not fit in namespace {self.namespace}: {problem}. Nothing was changed. Raise the "
                "quota, or point rbac_lockdown_backup_namespace at a namespace with room."
            )
        summary["written"] = True
        changes = [self._object(n, "create") for n in names if n not in reused]
        changes.append(self._object(self.name, "update" if current["exists"] else "create"))
        changes += [self._object(n, "delete") for n in current["parts"] if n not in names]
        summary["objects_changed"] = changes
        if self.module.check_mode:
            return summary
        written = []
        try:
            for name, part, digest in zip(names, encoded["parts"], encoded["part_sha256"]):
                if name not in reused:
                    self._put_part(name, part)
                    written.append(name)
                self._verify_part(name, digest)
        except GitopsK8sError as exc:
            self._delete_parts(written)
            raise GitopsK8sError(f"Writing the RBAC lock-down backup failed, no binding was changed and the earlier backup is as it was: {exc.msg}")
        self._put_index(index_data, current["index_object"], written)
        self._delete_parts([n for n in current["parts"] if n not in names])
        return summary

    def delete(self, current: dict) -> list[dict]:
        """Remove the backup (index and parts); returns the objects removed."""
        if not current["exists"]:
            return []
        if not self.module.check_mode:
            self._delete_parts(current["parts"])
            self._delete(self.name)
        return [self._object(n, "delete") for n in current["parts"] + [self.name]]

    def _object(self, name: str, action: str) -> dict:
        return {"kind": "ConfigMap", "namespace": self.namespace, "name": name, "action": action}

    def _labels(self) -> dict:
        labels = dict(LABELS)
        if len(self.name) <= 63:
            labels[PART_OF_LABEL] = self.name
        return labels

    def _put_part(self, name: str, data: bytes) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": self._labels(),
                "annotations": {"gitops.bootstrap/backup-index": self.name},
            },
            "binaryData": {rbac.BACKUP_PART_KEY: base64.b64encode(data).decode("ascii")},
        }
        resource = self.module.resource("ConfigMap", "v1")
        try:
            resource.create(body=body, namespace=self.namespace)
        except ConflictError:
            # Left by an earlier attempt that failed before its index was written: same name, same content.
            try:
                existing = resource.get(name=name, namespace=self.namespace).to_dict()
                body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                resource.replace(body=body, name=name, namespace=self.namespace)
            except Exception as exc:  # pylint: disable=broad-except
                raise GitopsK8sError(describe_exception(exc, f"Writing backup part {object_ref('ConfigMap', name, self.namespace)}"))
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Writing backup part {object_ref('ConfigMap', name, self.namespace)}"))

    def _verify_part(self, name: str, digest: str) -> None:
        obj = self.module.get("ConfigMap", "v1", name, self.namespace)
        value = _binaries(obj).get(rbac.BACKUP_PART_KEY)
        try:
            data = base64.b64decode(value or "", validate=True)
        except (ValueError, TypeError):
            data = None
        if value is None or data is None or rbac.sha256_hex(data) != digest:
            raise GitopsK8sError(f"backup part {self.namespace}/{name} does not read back as written")

    def _put_index(self, data: dict, existing: dict | None, written: list) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(LABELS), "annotations": dict(RESTORE_ANNOTATION)},
            "data": data,
        }
        resource = self.module.resource("ConfigMap", "v1")
        try:
            if existing is None:
                resource.create(body=body, namespace=self.namespace)
            else:
                # Replacing (not patching) drops the keys of the format of earlier versions; the
                # resourceVersion makes a concurrent change fail instead of being overwritten.
                body["metadata"]["resourceVersion"] = (existing.get("metadata") or {}).get("resourceVersion")
                resource.replace(body=body, name=self.name, namespace=self.namespace)
        except Exception as exc:  # pylint: disable=broad-except
            self._delete_parts(written)
            if isinstance(exc, ConflictError):
                raise GitopsK8sError(
                    f"The RBAC lock-down backup {self.ref} was changed by someone else while this run wrote it (another lock-down or "
                    "restore at the same time?). No binding was changed; run again."
                )
            raise GitopsK8sError(
                describe_exception(
                    exc, f"Writing the RBAC lock-down backup index {self.ref} (no binding was changed, the earlier backup is as it was)"
                )
            )

    def _delete_parts(self, names: list) -> None:
        for name in names:
            try:
                self._delete(name)
            except GitopsK8sError:
                pass

    def _delete(self, name: str) -> None:
        resource = self.module.resource("ConfigMap", "v1")
        try:
            resource.delete(name=name, namespace=self.namespace)
        except NotFoundError:
            pass
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Deleting {object_ref('ConfigMap', name, self.namespace)}"))


def _quantity(value) -> int | None:
    """An object-count quantity ("10", "1k") as an integer, or None when it is not one."""
    text = str(value).strip()
    factors = {"k": 10**3, "M": 10**6, "G": 10**9}
    try:
        if text and text[-1] in factors:
            return int(text[:-1]) * factors[text[-1]]
        return int(text)
    except ValueError:
        return None


# ------------------------------------------------------------------------------ binding changes
class BindingWriter:
    """Deletes, patches and creates bindings; in check mode the API server runs each as a dry run."""

    def __init__(self, module):
        self.module = module

    def _params(self) -> dict:
        return {"dry_run": "All"} if self.module.check_mode else {}

    def delete(self, kind: str, name: str, namespace: str | None, uid: str | None, resource_version: str | None) -> None:
        resource = self.module.resource(kind, rbac.RBAC_API_VERSION)
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions}
        if self.module.check_mode:
            body["dryRun"] = ["All"]
        try:
            resource.delete(name=name, namespace=namespace, body=body)
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Deleting {object_ref(kind, name, namespace)}"))

    def set_subjects(self, kind: str, name: str, namespace: str | None, subjects: list, resource_version: str | None, expect_subjects=None) -> None:
        """Replace the subjects; fails (409/422) when the binding changed since it was read."""
        ops = []
        if resource_version:
            ops.append({"op": "test", "path": "/metadata/resourceVersion", "value": resource_version})
        if expect_subjects is not None:
            ops.append({"op": "test", "path": "/subjects", "value": expect_subjects})
        ops.append({"op": "add", "path": "/subjects", "value": subjects})
        resource = self.module.resource(kind, rbac.RBAC_API_VERSION)
        try:
            resource.patch(body=ops, name=name, namespace=namespace, content_type="application/json-patch+json", **self._params())
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Patching the subjects of {object_ref(kind, name, namespace)}"))

    def create(self, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        resource = self.module.resource(obj["kind"], rbac.RBAC_API_VERSION)
        try:
            resource.create(body=obj, namespace=meta.get("namespace"), **self._params())
        except Exception as exc:  # pylint: disable=broad-except
            raise GitopsK8sError(describe_exception(exc, f"Creating {object_ref(obj['kind'], meta.get('name'), meta.get('namespace'))}"))
