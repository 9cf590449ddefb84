# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline tests of argocd_install and its manifest helpers (module_utils/_argocd_manifests.py).

The behaviour against a real API server is proven by the molecule scenarios molecule/argocd_*;
these cover the edge cases: checksum handling, parsing, the skip-when-unchanged comparison,
rollout status and the documentation of the module.
"""


import copy
import hashlib
import os

import pytest
import yaml

from ansible_collections.gitops.bootstrap.plugins.module_utils import _argocd_manifests as M
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.report import Action, Report
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.source import ManifestSource
from ansible_collections.gitops.bootstrap.plugins.modules import argocd_install


# ------------------------------------------------------------------------- checksums and parsing
def test_checksum_match_mismatch_and_missing():
    data = b"kind: ConfigMap\n"
    digest = hashlib.sha256(data).hexdigest()
    assert M.verify_checksum("install.yaml", data, {"install.yaml": digest}) == {
        "file": "install.yaml", "sha256": digest, "verified": True}
    assert M.verify_checksum("install.yaml", data, {"install.yaml": "sha256:" + digest.upper()})["verified"]
    with pytest.raises(M.ManifestError) as err:
        M.verify_checksum("install.yaml", data, {"install.yaml": "0" * 64})
    assert "checksum mismatch for manifest file install.yaml: expected sha256 %s, got %s" % ("0" * 64, digest) in str(err.value)
    assert "nothing was applied" in str(err.value)
    with pytest.raises(M.ManifestError, match="no sha256 checksum is known for manifest file ha/install.yaml"):
        M.verify_checksum("ha/install.yaml", data, {})
    assert M.verify_checksum("ha/install.yaml", data, {}, required=False)["verified"] is False


def test_parse_skips_empty_documents_and_flattens_lists():
    text = "---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n" \
           "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
    assert [d["metadata"]["name"] for d in M.parse_documents(text)] == ["a", "b"]
    with pytest.raises(M.ManifestError, match="x.yaml holds a ConfigMap without metadata.name"):
        M.parse_documents("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "x.yaml")
    with pytest.raises(M.ManifestError, match="is not valid YAML"):
        M.parse_documents("a: [\n", "x.yaml")
    with pytest.raises(M.ManifestError, match="not a Kubernetes object"):
        M.parse_documents("- a\n- b\n", "x.yaml")


def test_flavour_files():
    assert M.flavour_files("namespace")[-1] == "namespace-install.yaml"
    assert len(M.flavour_files("namespace")) == 4
    with pytest.raises(M.ManifestError, match="unknown flavour 'giant'"):
        M.flavour_files("giant")


def test_rewrite_keeps_foreign_subjects():
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "argocd-server", "namespace": "argocd"},
            {"kind": "ServiceAccount", "name": "other", "namespace": "monitoring"},
            {"kind": "Group", "name": "argocd"},
        ],
    }
    out = M.rewrite_namespace([binding], "gitops")[0]
    assert [s.get("namespace") for s in out["subjects"]] == ["gitops", "monitoring", None]
    assert binding["subjects"][0]["namespace"] == "argocd", "the input is not modified"


def test_rewrite_keeps_the_namespace_of_given_objects_on_request():
    docs = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "team-a"},
             "subjects": [{"kind": "ServiceAccount", "name": "s", "namespace": "argocd"}]},
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}}]
    kept = M.rewrite_namespace(docs, "gitops", keep_given=True)
    assert [d["metadata"]["namespace"] for d in kept] == ["team-a", "gitops"]
    assert kept[0]["subjects"][0]["namespace"] == "gitops"
    assert [d["metadata"]["namespace"] for d in M.rewrite_namespace(docs, "gitops")] == ["gitops", "gitops"], "upstream's objects move"


def test_stringify():
    assert M.stringify(True) == "true"
    assert M.stringify(False) == "false"
    assert M.stringify(3) == "3"
    assert M.stringify(None) == ""
    assert M.stringify({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


# ------------------------------------------------------------------------- replicas
def test_replicas_are_made_explicit_and_overridable():
    docs = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "argocd-server"}, "spec": {}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "argocd-application-controller"}, "spec": {"replicas": 1}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "argocd-repo-server"}, "spec": {"replicas": 2}},
    ]
    M.set_replicas(docs, {"argocd-repo-server": 3})
    assert [d["spec"]["replicas"] for d in docs] == [1, 1, 3]
    with pytest.raises(M.ManifestError, match="argocd-sever, which these manifests do not contain"):
        M.set_replicas(docs, {"argocd-sever": 2})


# ------------------------------------------------------------------------- skipping unchanged objects
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "argocd-server", "namespace": "argocd", "labels": {"app": "x"}},
    "spec": {
        "replicas": 1,
        "template": {"spec": {"containers": [{"name": "s", "image": "i:1", "ports": [{"containerPort": 8080}], "resources": {}}]}},
    },
}


def live_of(desired):
    """What the API server returns after applying ``desired``: defaults added, metadata filled in."""
    live = copy.deepcopy(desired)
    live["metadata"].update({"uid": "u", "resourceVersion": "42", "generation": 3, "managedFields": []})
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = "IfNotPresent"
    container["ports"][0]["protocol"] = "TCP"
    container.pop("resources")  # empty maps may come back absent
    live["spec"]["strategy"] = {"type": "RollingUpdate"}
    live["status"] = {"replicas": 1}
    return live


def test_up_to_date_only_when_hash_and_every_field_match():
    desired = M.with_hash(DEPLOYMENT)
    live = live_of(desired)
    assert M.up_to_date(desired, live)
    # Drift on a field we set (kubectl scale) is a difference.
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 0
    assert not M.up_to_date(desired, scaled)
    # A label we set that someone removed is a difference.
    unlabelled = copy.deepcopy(live)
    del unlabelled["metadata"]["labels"]["app"]
    assert not M.up_to_date(desired, unlabelled)
    # A new configuration (here: a container removed) never counts as applied, even though the live
    # object still holds every field of it: the removal must reach the server.
    smaller = copy.deepcopy(DEPLOYMENT)
    smaller["metadata"]["labels"] = {}
    assert M.is_subset(M.with_hash(smaller)["spec"], live["spec"])
    assert not M.up_to_date(M.with_hash(smaller), live)
    # Never applied by us, or absent.
    assert not M.up_to_date(desired, live_of(DEPLOYMENT))
    assert not M.up_to_date(desired, None)


def test_is_subset_details():
    assert M.is_subset({"a": [1, 2]}, {"a": [1, 2], "b": 3})
    assert not M.is_subset({"a": [1, 2]}, {"a": [1, 2, 3]})
    assert not M.is_subset({"a": [1]}, {"a": [2]})
    assert M.is_subset({"a": None, "b": {}, "c": []}, {})
    assert not M.is_subset({"a": True}, {"a": 1})
    assert not M.is_subset({"a": "1"}, {"a": 1})
    assert M.is_subset({"a": {"b": {}}}, {"a": None}) is True


def test_hash_ignores_its_own_annotation():
    once = M.with_hash(DEPLOYMENT)
    assert M.with_hash(once) == once
    assert M.config_hash(once) == M.config_hash(DEPLOYMENT)


# ------------------------------------------------------------------------- rollout status
@pytest.mark.parametrize(
    "obj, problem",
    [
        ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 1}}, "has not yet observed generation 2"),
        ({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 2},
          "status": {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 2, "availableReplicas": 2}}, "1/2 replicas updated"),
        ({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 2, "availableReplicas": 1}}, "1 old replicas still"),
        ({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 1}}, "0/1 replicas available"),
        ({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 1, "availableReplicas": 1}}, None),
        ({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 0},
          "status": {"observedGeneration": 1}}, None),
        ({"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                     "currentRevision": "a", "updateRevision": "b"}}, "rolling update to revision b not finished"),
        ({"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 3},
          "status": {"observedGeneration": 1, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2,
                     "currentRevision": "b", "updateRevision": "b"}}, "2/3 replicas ready"),
        ({"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 3},
          "status": {"observedGeneration": 1, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                     "currentRevision": "b", "updateRevision": "b"}}, None),
    ],
)
def test_workload_problems(obj, problem):
    found = M.workload_problems(obj)
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_describe_conditions():
    obj = {"status": {"conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                                      "message": "Deployment does not have minimum availability."}, {"type": "X", "status": "True"}]}}
    assert M.describe_conditions(obj) == (
        "Available=False (MinimumReplicasUnavailable: Deployment does not have minimum availability.); X=True")


def test_crd_digest_hides_schemas_only():
    crd = {"kind": "CustomResourceDefinition", "spec": {"group": "argoproj.io", "versions": [
        {"name": "v1alpha1", "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    out = M.crd_digest(crd)
    assert out["spec"]["group"] == "argoproj.io"
    assert out["spec"]["versions"][0]["schema"].startswith("<openAPIV3Schema sha256:")
    assert crd["spec"]["versions"][0]["schema"] == {"openAPIV3Schema": {"type": "object"}}


# ------------------------------------------------------------------------- the module offline
def module_params(params):
    """The module's parameters with their defaults, as Ansible gives them to the module."""
    spec = argocd_install.build_argument_spec()
    out = {k: v.get("default") for k, v in spec.items()}
    out.update(params)
    return out


def write_manifests(tmp_path, version="v9.0.0"):
    folder = tmp_path / version
    (folder / "crds").mkdir(parents=True)
    files = {
        "crds/application-crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: applications.argoproj.io}\n",
        "crds/applicationset-crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: applicationsets.argoproj.io}\n",
        "crds/appproject-crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: appprojects.argoproj.io}\n",
        "namespace-install.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata: {resource.exclusions: x}\n---\n"
                                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-ssh-known-hosts-cm}\ndata: {ssh_known_hosts: \"a b c\\n\"}\n",
    }
    sums = {}
    for name, text in files.items():
        (folder / name).write_text(text)
        sums[name] = hashlib.sha256(text.encode()).hexdigest()
    return folder, sums


def test_local_directory_is_verified_parsed_and_cached(tmp_path):
    folder, sums = write_manifests(tmp_path)
    cache = tmp_path / "cache"
    installer = ManifestSource(module_params({
        "source": str(folder), "flavour": "namespace", "checksums": sums, "cache_dir": str(cache),
        "config_maps": {"argocd-cm": {"admin.enabled": False}}, "known_hosts": ["git.example h k"]}))
    docs = installer.desired_objects()
    assert [f["file"] for f in installer.files] == M.flavour_files("namespace")
    assert all(f["verified"] for f in installer.files)
    cm = [d for d in docs if d["metadata"]["name"] == "argocd-cm"][0]
    assert cm["data"] == {"resource.exclusions": "x", "admin.enabled": "false"}
    known = [d for d in docs if d["metadata"]["name"] == "argocd-ssh-known-hosts-cm"][0]
    assert known["data"]["ssh_known_hosts"] == "a b c\ngit.example h k\n"
    # The parsed documents are cached by checksum and used on the next run.
    assert sorted(os.listdir(str(cache))) == sorted("%s.json" % s for s in sums.values())
    again = ManifestSource(module_params({"source": str(folder), "flavour": "namespace", "checksums": sums,
                                          "cache_dir": str(cache)}))
    assert len(again.load_manifests()) == len(docs)


def test_local_mismatch_missing_files_and_single_file(tmp_path):
    folder, sums = write_manifests(tmp_path)
    (folder / "namespace-install.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n")
    with pytest.raises(M.ManifestError, match="checksum mismatch for manifest file namespace-install.yaml"):
        ManifestSource(module_params({"source": str(folder), "flavour": "namespace", "checksums": sums})).load_manifests()
    with pytest.raises(M.ManifestError, match="has no file install.yaml, which the cluster flavour needs"):
        ManifestSource(module_params({"source": str(folder), "flavour": "cluster", "checksums": sums})).load_manifests()
    single = folder / "namespace-install.yaml"
    with pytest.raises(M.ManifestError, match="point the manifest source at a directory"):
        ManifestSource(module_params({"source": str(single), "flavour": "namespace"})).load_manifests()
    # A single file is the flavour's file; without verification it is read as it is.
    installer = ManifestSource(module_params({"source": str(single), "flavour": "core", "verify_checksums": False}))
    assert [d["metadata"]["name"] for d in installer.load_manifests()] == ["evil"]
    assert installer.files[0]["file"] == "core-install.yaml" and installer.files[0]["verified"] is False
    with pytest.raises(M.ManifestError, match="does not exist on the managed node"):
        ManifestSource(module_params({"source": str(tmp_path / "nope")})).load_manifests()


def test_result_and_diff_mask_secrets_and_crd_schemas():
    installer = Report(module_params({"source": "x"}), diff=True)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "argocd"}, "data": {"k": "c2VjcmV0"}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "c"},
           "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    installer.record(Action(secret, "update", before=dict(secret, data={}), after=secret))
    installer.record(Action(crd, "create", before=None, after=crd))
    installer.record(Action(crd, "unchanged"))
    result = installer.result()
    assert result["changed"] is True
    assert result["summary"] == {"create": 1, "update": 1, "unchanged": 1, "delete": 0}
    assert len(result["diff"]) == 2
    assert result["diff"][0]["after"]["data"] == {"k": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}
    assert "c2VjcmV0" not in repr(result)
    assert result["diff"][1]["after"]["spec"]["versions"][0]["schema"].startswith("<openAPIV3Schema sha256:")
    assert result["diff"][1]["before_header"] == "CustomResourceDefinition c (absent)"


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(argocd_install.DOCUMENTATION)
    spec = argocd_install.build_argument_spec()
    assert set(doc["options"]) == set(spec)
    for name, option in spec.items():
        documented = doc["options"][name]
        assert documented.get("type") == option["type"], name
        assert documented.get("default") == option.get("default"), name
        assert documented.get("choices") == option.get("choices"), name
    yaml.safe_load(argocd_install.EXAMPLES)
    yaml.safe_load(argocd_install.RETURN)
