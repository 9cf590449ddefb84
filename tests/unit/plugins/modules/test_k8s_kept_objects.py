# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_kept_objects: created under the agent's manager when missing, never changed when present, handed over.

Edge cases with a fake API; the behaviour against the real API server and Argo CD is proven by
tests/integration/test_single_source.py."""

import copy

import pytest

from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError
from ansible_collections.gitops.bootstrap.plugins.modules.k8s_kept_objects import KeptObjects

ROLE = "gitops.bootstrap.rbac_lockdown"
AGENT = "argocd-controller"
CRB = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "gitops-break-glass"},
       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
       "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "platform-admins"}]}
RB = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
      "metadata": {"name": "gitops-developers-readonly", "namespace": "team-a"},
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gitops-readonly"}, "subjects": []}


def entry(manager, operation="Apply"):
    return {"manager": manager, "operation": operation, "fieldsType": "FieldsV1", "fieldsV1": {"f:subjects": {}}}


class FakeService:
    def __init__(self, live):
        self.live = live
        self.applied, self.patched = [], []

    def get(self, kind, api_version, name, namespace=None):
        return copy.deepcopy(self.live.get((kind, namespace, name)))

    def server_side_apply(self, obj, field_manager="gitops.bootstrap", force_conflicts=True):
        self.applied.append((obj["metadata"]["name"], field_manager, force_conflicts))
        return obj

    def merge_patch(self, kind, api_version, name, namespace, patch, doing="Patching", field_manager=None, missing_ok=False):
        self.patched.append((kind, namespace, name, patch))
        return patch


class FakeModule:
    def __init__(self, live, **params):
        self.params = dict({"field_manager": AGENT, "hand_over_from": [ROLE], "request_sync": False, "argocd_namespace": "argocd"},
                           **params)
        self.service = FakeService(live)
        self._diff = True


def live_with(obj, *managers):
    out = copy.deepcopy(obj)
    out["metadata"].update(resourceVersion="7", managedFields=[entry(m) for m in managers])
    return out


def test_a_missing_object_is_created_under_the_agent_s_manager_without_forcing():
    module = FakeModule({}, objects=[CRB])
    out = KeptObjects(module).run()
    assert module.service.applied == [("gitops-break-glass", AGENT, False)]
    assert out["changed"] and out["created"] == ["ClusterRoleBinding gitops-break-glass"] and not out["handed_over"]


def test_a_present_object_is_never_changed_even_when_it_differs():
    other = live_with(dict(CRB, subjects=[]), AGENT)  # Git says something else now: kept
    module = FakeModule({("ClusterRoleBinding", None, "gitops-break-glass"): other}, objects=[CRB])
    out = KeptObjects(module).run()
    assert not module.service.applied and not module.service.patched
    assert not out["changed"] and out["objects"][0]["action"] == "kept"


def test_the_role_s_entry_is_handed_over_once_the_agent_manages_the_object():
    live = {("RoleBinding", "team-a", "gitops-developers-readonly"): live_with(RB, ROLE, AGENT)}
    module = FakeModule(live, objects=[RB])
    out = KeptObjects(module).run()
    (kind, ns, name, patch), = module.service.patched
    assert (kind, ns, name) == ("RoleBinding", "team-a", "gitops-developers-readonly")
    assert [e["manager"] for e in patch["metadata"]["managedFields"]] == [AGENT]
    assert patch["metadata"]["resourceVersion"] == "7"
    assert out["handed_over"] == ["RoleBinding team-a/gitops-developers-readonly"] and out["changed"]


def test_nothing_is_handed_over_while_the_agent_does_not_manage_the_object():
    live = {("RoleBinding", "team-a", "gitops-developers-readonly"): live_with(RB, ROLE)}
    module = FakeModule(live, objects=[RB])
    out = KeptObjects(module).run()
    assert not module.service.patched and not out["changed"]


@pytest.mark.parametrize("objects, match", [
    ([{"kind": "ClusterRole", "metadata": {"name": "x"}}], "objects\\[1\\] needs apiVersion"),
    ([dict(CRB, metadata={"name": ""})], "must not be empty"),
    ([dict(CRB, metadata={"name": "Bad_Name"})], "metadata.name"),
])
def test_bad_objects_are_refused_before_any_call(objects, match):
    module = FakeModule({}, objects=[CRB] + objects)
    with pytest.raises(GitopsInputError, match=match):
        KeptObjects(module).run()
    assert not module.service.applied


def test_an_empty_field_manager_is_refused():
    module = FakeModule({}, objects=[CRB], field_manager="")
    with pytest.raises(GitopsInputError, match="field_manager is empty"):
        KeptObjects(module).run()


def tracked(obj, app, *managers):
    out = live_with(obj, *managers)
    out["metadata"]["annotations"] = {"argocd.argoproj.io/tracking-id": f"{app}:rbac.authorization.k8s.io/{obj['kind']}:/{obj['metadata']['name']}"}
    return out


def test_after_a_hand_over_the_tracking_application_is_asked_to_sync_once_with_its_own_options():
    app = {"metadata": {"name": "access"}, "spec": {"syncPolicy": {"syncOptions": ["ServerSideApply=true"]}}}
    live = {("RoleBinding", "team-a", "gitops-developers-readonly"): tracked(RB, "access", ROLE, AGENT),
            ("ClusterRoleBinding", None, "gitops-break-glass"): tracked(CRB, "access", ROLE, AGENT),
            ("Application", "argocd", "access"): app}
    module = FakeModule(live, objects=[RB, CRB], request_sync=True)
    out = KeptObjects(module).run()
    syncs = [p for p in module.service.patched if p[0] == "Application"]
    assert len(syncs) == 1 and out["sync_requested"] == ["Application argocd/access"]
    assert syncs[0][3]["operation"]["sync"]["syncOptions"] == ["ServerSideApply=true"]
    assert syncs[0][3]["operation"]["initiatedBy"] == {"username": "gitops.bootstrap"}


def test_no_sync_is_asked_while_an_operation_is_pending_or_nothing_was_handed_over():
    busy = {"metadata": {"name": "access"}, "operation": {"sync": {}}}
    module = FakeModule({("RoleBinding", "team-a", "gitops-developers-readonly"): tracked(RB, "access", ROLE, AGENT),
                         ("Application", "argocd", "access"): busy}, objects=[RB], request_sync=True)
    assert KeptObjects(module).run()["sync_requested"] == []
    assert [p[0] for p in module.service.patched] == ["RoleBinding"]
    module = FakeModule({("RoleBinding", "team-a", "gitops-developers-readonly"): tracked(RB, "access", AGENT)}, objects=[RB],
                        request_sync=True)
    assert KeptObjects(module).run()["sync_requested"] == [] and not module.service.patched
