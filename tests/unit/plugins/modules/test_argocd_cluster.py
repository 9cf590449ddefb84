# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline tests of argocd_cluster: documentation against the argument spec, input validation,
the Secret it writes, masking of credentials in results and diffs, and ownership checks, with a
small in-memory API. Behaviour against real API servers is in tests/integration/test_hub_and_spoke.py.
"""


import base64
import copy
import json

import pytest
import yaml

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.gitops.bootstrap.plugins.module_utils import _argocd as A
from ansible_collections.gitops.bootstrap.plugins.module_utils import _secrets as S
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sError
from ansible_collections.gitops.bootstrap.plugins.modules import argocd_cluster as M
from ansible_collections.gitops.bootstrap.tests.unit.utils import docs

TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token-value.sig"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2E=\n-----END CERTIFICATE-----\n"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def params(**overrides):
    p = dict(
        name="cluster-spoke",
        namespace="argocd",
        state="present",
        server="https://127.0.0.1:6443",
        cluster_name=None,
        bearer_token=TOKEN,
        ca_data=CA_PEM,
        insecure=False,
        tls_server_name=None,
        namespaces=["apps", "web"],
        cluster_resources=False,
        project=None,
        labels=None,
        annotations=None,
    )
    p.update(overrides)
    return p


class FakeModule(object):
    """The part of GitopsK8sModule the manager uses, with server-side apply of whole Secrets."""

    def __init__(self, p, objects=None, check_mode=False, diff=True):
        self.params = p
        self.check_mode = check_mode
        self._diff = diff
        self.objects = objects if objects is not None else {("Namespace", None, "argocd"): {"metadata": {"name": "argocd"}}}
        self.calls = []

    def get(self, kind, api_version, name, namespace=None):
        self.calls.append(("get", kind, name))
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj)

    def list(self, kind, api_version, namespace=None, label_selector=None):
        key, value = label_selector.split("=")
        return [copy.deepcopy(o) for (k, ns, name), o in self.objects.items()
                if k == kind and ns == namespace and name and (o["metadata"].get("labels") or {}).get(key) == value]

    def apply(self, definition, field_manager=A.FIELD_MANAGER):
        self.calls.append(("apply", definition["kind"], definition["metadata"]["name"], copy.deepcopy(definition)))
        key = (definition["kind"], definition["metadata"]["namespace"], definition["metadata"]["name"])
        before = copy.deepcopy(self.objects.get(key))
        after = copy.deepcopy(definition)
        if not self.check_mode:
            self.objects[key] = copy.deepcopy(after)
        return before != after, before, after

    def delete(self, kind, api_version, name, namespace=None):
        obj = self.objects.get((kind, namespace, name))
        if obj is not None and not self.check_mode:
            del self.objects[(kind, namespace, name)]
        return copy.deepcopy(obj)


def run(module):
    return M.ClusterManager(module).run()


def secret_data(module, name="cluster-spoke"):
    obj = module.objects[("Secret", "argocd", name)]
    return dict((k, base64.b64decode(v).decode()) for k, v in obj["data"].items())


# ---------------------------------------------------------------------------- docs and spec
def test_documentation_matches_argument_spec():
    doc = docs.raw_documentation(M)
    options = docs.module_options(M)
    spec = M.build_argument_spec()
    assert doc["module"] == "argocd_cluster"
    assert set(options) == set(spec)
    for key, option in spec.items():
        assert options[key].get("type", "str") == option.get("type", "str"), key
        assert options[key].get("default") == option.get("default"), key
        assert bool(options[key].get("required")) == bool(option.get("required")), key
        assert options[key].get("choices") == option.get("choices"), key
        assert options[key].get("elements") == option.get("elements"), key
    assert yaml.safe_load(M.EXAMPLES) and yaml.safe_load(M.RETURN)
    assert "kubernetes.core.k8s_auth_options" in doc["extends_documentation_fragment"]


def test_options_do_not_shadow_connection_options_and_token_is_no_log():
    spec = M.build_argument_spec()
    auth = set(AUTH_ARG_SPEC)
    for option in AUTH_ARG_SPEC.values():
        auth.update(option.get("aliases") or [])
    assert not set(spec) & auth
    assert spec["bearer_token"]["no_log"] is True


def test_module_is_in_the_action_group():
    import os

    runtime = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "meta", "runtime.yml")
    with open(runtime) as fh:
        groups = yaml.safe_load(fh)["action_groups"]
    assert "argocd_cluster" in groups["gitops"]


# ---------------------------------------------------------------------------- the Secret
def test_secret_shape():
    module = FakeModule(params(labels={"env": "dev"}, annotations={"team": "platform"}, project="spokes"))
    result = run(module)
    assert result["changed"] is True
    obj = module.objects[("Secret", "argocd", "cluster-spoke")]
    assert obj["metadata"]["labels"] == {"env": "dev", A.SECRET_TYPE_LABEL: "cluster"}
    assert obj["metadata"]["annotations"] == {"team": "platform"}
    data = secret_data(module)
    assert data["name"] == "cluster-spoke"
    assert data["server"] == "https://127.0.0.1:6443"
    assert data["namespaces"] == "apps,web"
    assert data["clusterResources"] == "false"
    assert data["project"] == "spokes"
    config = json.loads(data["config"])
    assert config == {"bearerToken": TOKEN, "tlsClientConfig": {"insecure": False, "caData": b64(CA_PEM)}}


def test_namespaces_sorted_and_deduplicated_and_optional_keys_left_out():
    module = FakeModule(params(namespaces=["web", "apps", "web"], cluster_resources=None, cluster_name="spoke-1"))
    run(module)
    data = secret_data(module)
    assert data["namespaces"] == "apps,web"
    assert data["name"] == "spoke-1"
    assert "clusterResources" not in data and "project" not in data


def test_ca_data_accepts_base64_like_a_kubeconfig():
    module = FakeModule(params(ca_data=b64(CA_PEM)))
    run(module)
    assert json.loads(secret_data(module)["config"])["tlsClientConfig"]["caData"] == b64(CA_PEM)


def test_second_run_is_unchanged_and_a_new_token_is_a_change():
    module = FakeModule(params())
    assert run(module)["changed"] is True
    assert run(module)["changed"] is False
    module.params = params(bearer_token="another-token")
    result = run(module)
    assert result["changed"] is True
    assert json.loads(secret_data(module)["config"])["bearerToken"] == "another-token"


def test_token_never_in_result_or_diff():
    module = FakeModule(params())
    run(module)
    module.params = params(bearer_token="another-token")
    result = run(module)
    text = json.dumps(result)
    for secret in (TOKEN, "another-token", b64(TOKEN), b64("another-token")):
        assert secret not in text
    before_config = yaml.safe_load(result["diff"]["before"])["data"]["config"]
    after_config = yaml.safe_load(result["diff"]["after"])["data"]["config"]
    assert json.loads(before_config)["bearerToken"] == S.MASK
    assert json.loads(after_config)["bearerToken"] == S.MASK_CHANGED
    assert json.loads(after_config)["tlsClientConfig"]["caData"].startswith("sha256:")
    assert result["cluster"]["data"]["server"] == "https://127.0.0.1:6443"
    assert json.loads(result["cluster"]["data"]["config"])["bearerToken"] == S.MASK


def test_unchanged_token_is_not_marked_changed_in_diff():
    module = FakeModule(params())
    run(module)
    module.params = params(namespaces=["apps"])
    result = run(module)
    assert result["changed"] is True
    after = yaml.safe_load(result["diff"]["after"])["data"]
    assert json.loads(after["config"])["bearerToken"] == S.MASK
    assert after["namespaces"] == "apps"


def test_check_mode_changes_nothing():
    module = FakeModule(params(), check_mode=True)
    result = run(module)
    assert result["changed"] is True
    assert ("Secret", "argocd", "cluster-spoke") not in module.objects


def test_absent_deletes_and_is_idempotent():
    module = FakeModule(params())
    run(module)
    module.params = params(state="absent")
    result = run(module)
    assert result["changed"] is True and result["cluster"] is None
    assert TOKEN not in json.dumps(result)
    assert run(module)["changed"] is False


# ---------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("overrides, words", [
    (dict(namespaces=[]), "empty list"),
    (dict(namespaces=["Bad_NS"]), "Bad_NS"),
    (dict(server="127.0.0.1:6443"), "https:// URL"),
    (dict(server="http://spoke:8080"), "plain http"),
    (dict(server=None), "server is required"),
    (dict(bearer_token=None), "bearer_token is required"),
    (dict(bearer_token="tok\n"), "white space"),
    (dict(ca_data="not a certificate"), "ca_data"),
    (dict(ca_data=b64("hello")), "does not contain a PEM certificate"),
    (dict(insecure=True), "insecure=true cannot be combined with ca_data"),
    (dict(namespaces=None, cluster_resources=True), "cluster_resources applies only together with namespaces"),
    (dict(name="Cluster_X"), "Secret name"),
    (dict(namespace=""), "namespace must not be empty"),
])
def test_bad_input_fails_before_any_api_call(overrides, words):
    module = FakeModule(params(**overrides))
    with pytest.raises(A.ArgoCDValidationError) as info:
        run(module)
    assert words in info.value.msg
    assert module.calls == []


def test_several_problems_are_reported_together():
    module = FakeModule(params(namespaces=[], server="ftp://x"))
    with pytest.raises(A.ArgoCDValidationError) as info:
        run(module)
    assert "2 problems" in info.value.msg


def test_insecure_without_ca_is_allowed():
    module = FakeModule(params(ca_data=None, insecure=True, tls_server_name="spoke.internal"))
    run(module)
    assert json.loads(secret_data(module)["config"])["tlsClientConfig"] == {"insecure": True, "serverName": "spoke.internal"}


def test_refuses_to_take_over_other_secrets():
    other = {"metadata": {"name": "cluster-spoke", "namespace": "argocd", "labels": {A.SECRET_TYPE_LABEL: "repository"}}, "data": {}}
    module = FakeModule(params())
    module.objects[("Secret", "argocd", "cluster-spoke")] = other
    with pytest.raises(GitopsK8sError) as info:
        run(module)
    assert "repository" in info.value.msg and "refusing" in info.value.msg
    plain = {"metadata": {"name": "cluster-spoke", "namespace": "argocd"}, "data": {}}
    module.objects[("Secret", "argocd", "cluster-spoke")] = plain
    module.params = params(state="absent")
    with pytest.raises(GitopsK8sError):
        run(module)
    assert ("Secret", "argocd", "cluster-spoke") in module.objects


def test_refuses_a_second_secret_for_the_same_server():
    module = FakeModule(params())
    run(module)
    module.params = params(name="cluster-copy", server="https://127.0.0.1:6443/")
    with pytest.raises(GitopsK8sError) as info:
        run(module)
    assert "cluster-spoke" in info.value.msg and "one cluster per server URL" in info.value.msg


def test_missing_argocd_namespace_is_explained():
    module = FakeModule(params(), objects={})
    with pytest.raises(GitopsK8sError) as info:
        run(module)
    assert "Namespace argocd does not exist" in info.value.msg
    assert not [c for c in module.calls if c[0] == "apply"]


def test_masking_of_unparsable_config_and_other_keys():
    obj = {"metadata": {"name": "x"}, "data": {"config": b64("not json " + TOKEN), "extra": b64("s3cret")}}
    shown = M.masked_cluster_secret(obj)
    assert shown["data"] == {"config": S.MASK, "extra": S.MASK}
    shown = M.masked_cluster_secret(obj, other={"data": {"config": b64("{}"), "extra": b64("s3cret")}})
    assert shown["data"] == {"config": S.MASK_CHANGED, "extra": S.MASK}


def test_ca_shown_by_digest_that_changes_with_the_ca():
    other_ca = CA_PEM.replace("Q2E=", "Q2F=")
    module = FakeModule(params())
    first = run(module)
    module.params = params(ca_data=other_ca)
    second = run(module)
    digest = json.loads(first["cluster"]["data"]["config"])["tlsClientConfig"]["caData"]
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 16
    assert json.loads(second["cluster"]["data"]["config"])["tlsClientConfig"]["caData"] != digest
    assert second["changed"] is True
