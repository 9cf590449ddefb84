# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hub and spoke against two real API servers: playbooks/hub_and_spoke.yml (role argocd_spoke,
module argocd_cluster) registers a spoke cluster with the hub's Argo CD namespace.

What is proven, on the live clusters:
- check mode on a spoke that has none of the objects yet reports changes and makes none;
- the cluster Secret on the hub has the shape Argo CD reads, and its token and CA really
  authenticate against the spoke (TLS verified with the stored CA, then real requests);
- with SubjectAccessReview as the ServiceAccount: it can deploy in the listed namespaces only,
  cannot touch kube-system or other namespaces, cannot create ClusterRoleBindings, escalate,
  bind or impersonate, cannot read Secrets outside its namespaces; cluster-scoped kinds are
  granted only when listed; cluster-admin only when explicitly asked for;
- a second run changes nothing, with and without --diff;
- changing the inputs removes access that no longer applies;
- the token never appears in the output, even at -vvv with --diff;
- bad input fails with a message that says what to do, before anything changes;
- state=absent removes the registration and the access.

Clusters: the local clusters named by GITOPS_TEST_HUB_CLUSTER / GITOPS_TEST_SPOKE_CLUSTER
(default hub1 / spoke1), started when needed. With GITOPS_TEST_KUBECONFIG or KUBECONFIG set,
that one cluster plays both parts. Every name is suffixed per session so runs do not collide.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import uuid

import pytest
import yaml

from conftest import ROOT, external_kubeconfig, kubectl, run_playbook, start_local_cluster

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k8s_client  # noqa: E402
from kubernetes import config as k8s_config  # noqa: E402

PLAYBOOK = os.path.join(ROOT, "playbooks", "hub_and_spoke.yml")
SFX = uuid.uuid4().hex[:6]

# Three registrations of the spoke, as three inventory hosts:
#  lp  least privilege with the defaults (hub namespace argocd)
#  ck  least privilege plus one cluster-scoped kind, server reached as localhost
#  ca  cluster-admin, explicitly asked for, registered with a second Argo CD namespace on the hub
NS = {
    "lp": [f"apps-{SFX}", f"web-{SFX}"],
    "ck": [f"tools-{SFX}"],
    "ca": [f"ops-{SFX}"],
}
SA_NS = {h: f"argocd-spoke-{h}-{SFX}" for h in NS}
SA = "argocd-spoke"
HUB_NS = {"lp": f"argocd-{SFX}", "ck": f"argocd-{SFX}", "ca": f"argocd-second-{SFX}"}
BAD_HUB_NS = f"argocd-bad-{SFX}"  # the bad-input hosts register (or rather do not) here
SECRET = {h: f"cluster-{h}-{SFX}" for h in NS}
HOST = {h: f"{h}-{SFX}" for h in NS}


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub-spoke")
    external = external_kubeconfig()
    if external:
        spoke = external
        hub = str(tmp / "hub-kubeconfig.yaml")
        shutil.copyfile(external, hub)  # same cluster, other path: the role wants distinct connections
    else:
        hub = start_local_cluster(os.environ.get("GITOPS_TEST_HUB_CLUSTER", "hub1"))
        spoke = start_local_cluster(os.environ.get("GITOPS_TEST_SPOKE_CLUSTER", "spoke1"))
    for ns in set(HUB_NS.values()) | {BAD_HUB_NS}:
        kubectl(hub, "create", "namespace", ns, check=False)
    # The hubs' argocd-cm as an install leaves it; the second hub already chose resource.respectRBAC.
    core = k8s_client.CoreV1Api(api(hub))
    for ns, data in ((HUB_NS["lp"], {"admin.enabled": "false"}), (HUB_NS["ca"], {"resource.respectRBAC": "strict"})):
        core.create_namespaced_config_map(ns, {"metadata": {"name": "argocd-cm"}, "data": data})
    yield {"hub": hub, "spoke": spoke, "tmp": tmp}
    # Namespaces the tests created on the spoke (the role keeps them on removal by design).
    for ns in sorted(set(sum(NS.values(), [])) | set(SA_NS.values())):
        kubectl(spoke, "delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)
    for ns in sorted(set(HUB_NS.values()) | {BAD_HUB_NS}):
        kubectl(hub, "delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)


def api(kubeconfig):
    return k8s_config.new_client_from_config(config_file=kubeconfig)


def server_of(kubeconfig):
    with open(kubeconfig) as fh:
        kc = yaml.safe_load(fh)
    ctx = next(c for c in kc["contexts"] if c["name"] == kc["current-context"])["context"]
    return next(c for c in kc["clusters"] if c["name"] == ctx["cluster"])["cluster"]["server"]


def write_inventory(clusters, name, hosts, extra_hubs=None):
    spoke_server = server_of(clusters["spoke"])
    localhost_server = re.sub(r"^https://127\.0\.0\.1:", "https://localhost:", spoke_server)
    defaults = {
        "lp": {},
        "ck": {"argocd_spoke_cluster_resources": [{"group": "", "kind": "Namespace"}],
               "argocd_spoke_server": localhost_server if localhost_server != spoke_server else spoke_server},
        "ca": {"argocd_spoke_cluster_admin": True},
    }
    spokes = {}
    for key, overrides in hosts.items():
        host_vars = {
            "gitops_kubeconfig": clusters["spoke"],
            "argocd_spoke_hub_host": "hub",
            "argocd_spoke_namespaces": NS.get(key, []),
            "argocd_spoke_service_account_namespace": SA_NS.get(key, f"argocd-spoke-{key}-{SFX}"),
            "argocd_spoke_cluster_secret_name": SECRET.get(key, f"cluster-{key}-{SFX}"),
            "argocd_spoke_cluster_name": HOST.get(key, f"{key}-{SFX}"),
            "argocd_spoke_hub_namespace": HUB_NS.get(key, BAD_HUB_NS),
        }
        host_vars.update(defaults.get(key, {}))
        host_vars.update(overrides)
        spokes[HOST.get(key, f"{key}-{SFX}")] = host_vars
    hubs = {"hub": {"gitops_kubeconfig": clusters["hub"]}}
    hubs.update(extra_hubs or {})
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "children": {"hubs": {"hosts": hubs}, "spokes": {"hosts": spokes}},
    }}
    path = clusters["tmp"] / f"{name}.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def run(inventory, check=False, diff=False, extra_vars=None, verbose=False, forks=5, limit=None):
    env = {"ANSIBLE_FORKS": str(forks), "ANSIBLE_PIPELINING": "1"}
    if verbose:
        # The human-readable output, as loud as it gets: the token must not show up there either.
        env.update({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_VERBOSITY": "3"})
    return run_playbook(PLAYBOOK, inventory=inventory, check=check, diff=diff, extra_vars=extra_vars, env=env, limit=limit)


def recap(result):
    """host -> {ok, changed, failed, ...} from the PLAY RECAP of the default callback."""
    stats = {}
    for line in result.stdout.splitlines():
        m = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if m and "changed=" in m.group(2):
            stats[m.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2)))
    return stats


def changed_tasks(result):
    """Task and host of every 'changed' line of the default callback's output."""
    out, task = [], None
    for line in result.stdout.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].split("]")[0]
        elif line.startswith("changed: ["):
            out.append((task, line[len("changed: ["):].split("]")[0]))
    return out


def registration(result, host):
    """The result of the role's registration task for one host (json callback)."""
    for task in result.tasks():
        if task["task"]["name"].endswith("Cluster is registered with the hub's Argo CD"):
            return task["hosts"].get(host, {})
    raise KeyError("no registration task in the run")


def get_secret(clusters, key):
    try:
        return k8s_client.CoreV1Api(api(clusters["hub"])).read_namespaced_secret(SECRET[key], HUB_NS[key])
    except k8s_client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def secret_data(secret):
    return dict((k, base64.b64decode(v).decode()) for k, v in (secret.data or {}).items())


def namespace_exists(kubeconfig, name):
    try:
        k8s_client.CoreV1Api(api(kubeconfig)).read_namespace(name)
        return True
    except k8s_client.ApiException as exc:
        if exc.status == 404:
            return False
        raise


def can(clusters, key, verb, resource, namespace=None, group="", subresource=None):
    """SubjectAccessReview on the spoke as the ServiceAccount of registration `key`."""
    attrs = {"verb": verb, "resource": resource, "group": group}
    if namespace:
        attrs["namespace"] = namespace
    if subresource:
        attrs["subresource"] = subresource
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{SA_NS[key]}:{SA}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{SA_NS[key]}", "system:authenticated"],
            "resourceAttributes": attrs,
        },
    }
    review = k8s_client.AuthorizationV1Api(api(clusters["spoke"])).create_subject_access_review(body)
    return bool(review.status.allowed)


def token_client(clusters, data, tmp):
    """An API client that authenticates exactly as Argo CD would with this cluster Secret."""
    config = json.loads(data["config"])
    conf = k8s_client.Configuration()
    conf.host = data["server"]
    conf.api_key = {"authorization": "Bearer " + config["bearerToken"]}
    ca_file = os.path.join(tmp, "ca-%s.pem" % uuid.uuid4().hex[:6])
    with open(ca_file, "wb") as fh:
        fh.write(base64.b64decode(config["tlsClientConfig"]["caData"]))
    conf.ssl_ca_cert = ca_file
    conf.verify_ssl = True
    return k8s_client.ApiClient(conf)


def tokens(clusters):
    out = []
    for key in NS:
        secret = get_secret(clusters, key)
        if secret is not None:
            tok = json.loads(secret_data(secret)["config"])["bearerToken"]
            out += [tok, base64.b64encode(tok.encode()).decode(), tok[-40:]]
    return out


# ---------------------------------------------------------------------------- the journey
@pytest.fixture(scope="module")
def inventory(clusters):
    return write_inventory(clusters, "spokes", {"lp": {}, "ck": {}, "ca": {}})


@pytest.fixture(scope="module")
def check_run(clusters, inventory):
    return run(inventory, check=True, diff=True)


@pytest.fixture(scope="module")
def converged(clusters, inventory, check_run):
    res = run(inventory, diff=True)
    assert res.rc == 0, res
    return res


@pytest.fixture(scope="module")
def second_run(clusters, inventory, converged):
    return run(inventory, diff=True, verbose=True)


def test_check_mode_on_a_fresh_spoke_reports_changes_and_makes_none(clusters, check_run):
    assert check_run.rc == 0, check_run
    for key in NS:
        assert check_run.changed(HOST[key]) > 0, check_run
        assert not namespace_exists(clusters["spoke"], SA_NS[key]), "check mode created namespace %s" % SA_NS[key]
        for ns in NS[key]:
            assert not namespace_exists(clusters["spoke"], ns)
        assert get_secret(clusters, key) is None, "check mode created the cluster Secret %s" % SECRET[key]
    reg = registration(check_run, HOST["lp"])
    assert reg.get("changed") is True and SECRET["lp"] in reg["diff"]["after_header"]


def hub_argocd_cm(clusters, key):
    return k8s_client.CoreV1Api(api(clusters["hub"])).read_namespaced_config_map("argocd-cm", HUB_NS[key]).data or {}


def test_hub_skips_what_the_spoke_identity_may_not_list(clusters, check_run, converged):
    # Added where the hub's argocd-cm sets nothing (its other keys stay), kept where it chose a value.
    assert hub_argocd_cm(clusters, "lp") == {"admin.enabled": "false", "resource.respectRBAC": "normal"}
    assert hub_argocd_cm(clusters, "ca") == {"resource.respectRBAC": "strict"}
    added = [h for t in converged.tasks() if "resource.respectRBAC" in t["task"]["name"]
             for h in t["hosts"].values() if h.get("changed")]
    assert added, "the converge run reported the added key"


def test_cluster_secret_has_the_shape_argo_cd_reads(clusters, converged):
    secret = get_secret(clusters, "lp")
    assert secret is not None and secret.type == "Opaque"
    assert secret.metadata.labels["argocd.argoproj.io/secret-type"] == "cluster"
    data = secret_data(secret)
    assert data["name"] == HOST["lp"]
    assert data["server"] == server_of(clusters["spoke"])
    assert data["namespaces"] == ",".join(sorted(NS["lp"]))
    assert data["clusterResources"] == "false"
    config = json.loads(data["config"])
    assert set(config) == {"bearerToken", "tlsClientConfig"}
    assert config["tlsClientConfig"]["insecure"] is False
    assert base64.b64decode(config["tlsClientConfig"]["caData"]).startswith(b"-----BEGIN CERTIFICATE-----")
    ck = secret_data(get_secret(clusters, "ck"))
    assert ck["clusterResources"] == "true" and ck["namespaces"] == NS["ck"][0]
    assert ck["server"].startswith("https://localhost:") or external_kubeconfig()
    ca = secret_data(get_secret(clusters, "ca"))
    assert ca["clusterResources"] == "true" and ca["server"] == server_of(clusters["spoke"])


def test_stored_token_and_ca_work_against_the_spoke(clusters, converged):
    for key in NS:
        client = token_client(clusters, secret_data(get_secret(clusters, key)), str(clusters["tmp"]))
        review = k8s_client.AuthenticationV1Api(client).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert review.status.user_info.username == f"system:serviceaccount:{SA_NS[key]}:{SA}"
    data = secret_data(get_secret(clusters, "lp"))
    client = token_client(clusters, data, str(clusters["tmp"]))
    core = k8s_client.CoreV1Api(client)
    name = "probe-" + SFX
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}
    core.create_namespaced_config_map(NS["lp"][0], cm)
    core.patch_namespaced_config_map(name, NS["lp"][0], {"data": {"a": "c"}})
    core.delete_namespaced_config_map(name, NS["lp"][0])
    for ns in ("kube-system", "default"):
        with pytest.raises(k8s_client.ApiException) as info:
            core.create_namespaced_config_map(ns, cm)
        assert info.value.status == 403
    with pytest.raises(k8s_client.ApiException) as info:
        core.list_namespaced_secret("kube-system")
    assert info.value.status == 403


def test_least_privilege_as_seen_by_subject_access_review(clusters, converged):
    key = "lp"
    for ns in NS[key]:
        for verb in ("create", "patch", "update", "delete", "get", "list", "watch"):
            assert can(clusters, key, verb, "deployments", ns, group="apps"), (verb, ns)
            assert can(clusters, key, verb, "configmaps", ns), (verb, ns)
        assert can(clusters, key, "get", "secrets", ns)
    others = ["kube-system", "default", SA_NS[key], NS["ck"][0]]
    for ns in others:
        for verb in ("create", "patch", "delete"):
            assert not can(clusters, key, verb, "deployments", ns, group="apps"), (verb, ns)
            assert not can(clusters, key, verb, "configmaps", ns), (verb, ns)
        assert not can(clusters, key, "get", "secrets", ns), ns
        assert not can(clusters, key, "list", "secrets", ns), ns
    assert not can(clusters, key, "list", "secrets")  # cluster-wide
    rbac = "rbac.authorization.k8s.io"
    assert not can(clusters, key, "create", "clusterrolebindings", group=rbac)
    assert not can(clusters, key, "create", "clusterroles", group=rbac)
    assert not can(clusters, key, "create", "namespaces")
    for ns in NS[key]:
        assert not can(clusters, key, "escalate", "roles", ns, group=rbac)
        assert not can(clusters, key, "bind", "clusterroles", ns, group=rbac)
        assert not can(clusters, key, "impersonate", "serviceaccounts", ns)
        assert not can(clusters, key, "create", "pods", ns, subresource="exec")
        assert not can(clusters, key, "create", "serviceaccounts", ns, subresource="token")
    assert not can(clusters, key, "impersonate", "users")
    assert not can(clusters, key, "escalate", "clusterroles", group=rbac)


def test_cluster_scoped_kinds_only_when_listed_and_cluster_admin_only_when_asked(clusters, converged):
    rbac = "rbac.authorization.k8s.io"
    assert can(clusters, "ck", "create", "namespaces")
    assert can(clusters, "ck", "delete", "namespaces")
    assert not can(clusters, "ck", "create", "clusterrolebindings", group=rbac)
    assert not can(clusters, "ck", "get", "secrets", "kube-system")
    assert can(clusters, "ck", "create", "deployments", NS["ck"][0], group="apps")
    assert not can(clusters, "ck", "create", "deployments", NS["lp"][0], group="apps")
    # cluster-admin only for the registration that set argocd_spoke_cluster_admin: true
    assert can(clusters, "ca", "create", "clusterrolebindings", group=rbac)
    assert can(clusters, "ca", "get", "secrets", "kube-system")


def test_second_run_changes_nothing_and_never_shows_the_token(clusters, converged, second_run):
    assert second_run.rc == 0, second_run.stdout[-3000:]
    stats = recap(second_run)
    for key in NS:
        assert stats[HOST[key]]["changed"] == 0, (key, stats, changed_tasks(second_run))
        assert stats[HOST[key]]["failed"] == 0, (key, stats)
    assert "<hidden>" in second_run.stdout or "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in second_run.stdout
    secrets = tokens(clusters)
    assert secrets
    for run_name, output in (("converge", converged.stdout + converged.stderr), ("second", second_run.stdout + second_run.stderr)):
        leaked = [i for i, tok in enumerate(secrets) if tok in output]
        assert not leaked, "token forms %s appear in the output of the %s run" % (leaked, run_name)


def test_check_mode_on_a_registered_spoke_reports_no_change(clusters, inventory, second_run):
    # What drift detection relies on: check mode against converged clusters is quiet.
    res = run(inventory, check=True, diff=True, limit=HOST["lp"])
    assert res.rc == 0, res
    assert res.changed(HOST["lp"]) == 0, [t["task"]["name"] for t in res.tasks() if t["hosts"].get(HOST["lp"], {}).get("changed")]


def test_changed_inputs_remove_access_that_no_longer_applies(clusters, second_run):
    # Token rotation rides along for lp: the old token is revoked, the hub gets the new one.
    old_data = secret_data(get_secret(clusters, "lp"))
    inv = write_inventory(clusters, "narrowed", {
        "lp": {"argocd_spoke_namespaces": [NS["lp"][0]], "argocd_spoke_rotate_token": True},
        "ck": {"argocd_spoke_cluster_resources": []},
        "ca": {"argocd_spoke_cluster_admin": False},
    })
    res = run(inv, diff=True)
    assert res.rc == 0, res
    for key in NS:
        assert res.changed(HOST[key]) > 0, res
    data = secret_data(get_secret(clusters, "lp"))
    assert data["namespaces"] == NS["lp"][0]
    assert can(clusters, "lp", "create", "deployments", NS["lp"][0], group="apps")
    assert not can(clusters, "lp", "create", "deployments", NS["lp"][1], group="apps")
    assert secret_data(get_secret(clusters, "ck"))["clusterResources"] == "false"
    assert not can(clusters, "ck", "create", "namespaces")
    assert secret_data(get_secret(clusters, "ca"))["clusterResources"] == "false"
    assert not can(clusters, "ca", "create", "clusterrolebindings", group="rbac.authorization.k8s.io")
    assert not can(clusters, "ca", "get", "secrets", "kube-system")
    assert can(clusters, "ca", "create", "deployments", NS["ca"][0], group="apps")
    new_data = secret_data(get_secret(clusters, "lp"))
    rotated = json.loads(new_data["config"])["bearerToken"] != json.loads(old_data["config"])["bearerToken"]
    assert rotated, "the hub still holds the old token"  # no token in the assertion message
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    assert k8s_client.AuthenticationV1Api(token_client(clusters, new_data, str(clusters["tmp"]))).create_self_subject_review(review)
    with pytest.raises(k8s_client.ApiException) as info:
        k8s_client.AuthenticationV1Api(token_client(clusters, old_data, str(clusters["tmp"]))).create_self_subject_review(review)
    assert info.value.status == 401
    forms = []
    for d in (old_data, new_data):
        tok = json.loads(d["config"])["bearerToken"]
        forms += [tok, base64.b64encode(tok.encode()).decode()]
    leaked = [i for i, tok in enumerate(forms) if tok in res.stdout + res.stderr]
    assert not leaked, "token forms %s appear in the output of the rotation run" % leaked
    # the diff names the change of namespaces and of the token, and hides the token
    reg = registration(res, HOST["lp"])
    assert "namespaces: " + NS["lp"][0] in reg["diff"]["after"]
    assert '"bearerToken":"<hidden, changed>"' in reg["diff"]["after"]
    assert '"bearerToken":"<hidden>"' in reg["diff"]["before"]


def test_bad_input_fails_clearly_and_changes_nothing(clusters, second_run):
    dead = clusters["tmp"] / "dead-hub.yaml"
    dead.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "dead", "user": {"token": "x"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
    }))
    cases = {
        "empty": ({"argocd_spoke_namespaces": []}, "argocd_spoke_namespaces is empty"),
        "ownns": ({"argocd_spoke_namespaces": [f"argocd-spoke-ownns-{SFX}"]}, "Keep the ServiceAccount in a namespace of its own"),
        "wild": ({"argocd_spoke_namespaces": [f"w-{SFX}"],
                  "argocd_spoke_namespace_extra_rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}]},
                 "list API groups, resources and verbs explicitly"),
        "esc": ({"argocd_spoke_namespaces": [f"e-{SFX}"],
                 "argocd_spoke_namespace_extra_rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}]},
                "escalate, bind or impersonate"),
        "nohub": ({"argocd_spoke_namespaces": [f"n-{SFX}"], "argocd_spoke_hub_host": "no-such-hub"}, "is not a host of the inventory"),
        "deadhub": ({"argocd_spoke_namespaces": [f"d-{SFX}"], "argocd_spoke_hub_host": "deadhub"}, "could not be reached"),
        "nohubns": ({"argocd_spoke_namespaces": [f"h-{SFX}"], "argocd_spoke_hub_namespace": f"nothere-{SFX}"}, "install Argo CD there first"),
        "kind": ({"argocd_spoke_namespaces": [f"k-{SFX}"], "argocd_spoke_cluster_resources": [{"group": "example.com", "kind": "Widget"}]},
                 "does not serve"),
        "nsd": ({"argocd_spoke_namespaces": [f"k2-{SFX}"], "argocd_spoke_cluster_resources": [{"group": "apps", "kind": "Deployment"}]},
                "namespaced kinds"),
        "badname": ({"argocd_spoke_namespaces": ["Not_A_Namespace"]}, "invalid namespace names"),
        "missing": ({}, "argocd_spoke_namespaces"),
        "dupserver": ({"argocd_spoke_namespaces": [f"ds2-{SFX}"], "argocd_spoke_hub_namespace": HUB_NS["lp"]},
                      "already registers server"),
        "typed": ({"argocd_spoke_namespaces": [f"t-{SFX}"], "argocd_spoke_cluster_admin": "maybe"}, "argocd_spoke_cluster_admin"),
    }
    hosts = dict((key, case[0]) for key, case in cases.items())
    hosts["deadspoke"] = {"argocd_spoke_namespaces": [f"ds-{SFX}"], "gitops_kubeconfig": str(dead)}
    inv = write_inventory(clusters, "bad", hosts, extra_hubs={"deadhub": {"gitops_kubeconfig": str(dead)}})
    with open(inv) as fh:
        data = yaml.safe_load(fh)
    data["all"]["children"]["spokes"]["hosts"][f"missing-{SFX}"].pop("argocd_spoke_namespaces")
    with open(inv, "w") as fh:
        yaml.safe_dump(data, fh)
    res = run(inv, forks=12)
    assert res.rc != 0
    cases["deadspoke"] = (None, "(the spoke) could not be used")
    for key, case in cases.items():
        host, words = f"{key}-{SFX}", case[1]
        assert res.failures(host) == 1, (host, res)
        assert res.changed(host) == 0, (host, res)
        msgs = [str(r.get("msg")) for t in res.tasks() for h, r in t["hosts"].items() if h == host and r.get("failed")]
        assert any(words in m for m in msgs), (host, msgs)
        assert not namespace_exists(clusters["spoke"], f"argocd-spoke-{key}-{SFX}"), host


def test_absent_removes_registration_and_access(clusters, second_run):
    res = run(write_inventory(clusters, "absent", {"lp": {}, "ck": {}, "ca": {}}), extra_vars={"argocd_spoke_state": "absent"})
    assert res.rc == 0, res
    rbac = "rbac.authorization.k8s.io"
    for key in NS:
        assert res.changed(HOST[key]) > 0
        assert get_secret(clusters, key) is None
        assert not can(clusters, key, "create", "deployments", NS[key][0], group="apps")
        assert not can(clusters, key, "create", "clusterrolebindings", group=rbac)
        assert not can(clusters, key, "create", "namespaces")
        sas = k8s_client.CoreV1Api(api(clusters["spoke"])).list_namespaced_service_account(SA_NS[key]).items
        assert SA not in [s.metadata.name for s in sas]
    bindings = k8s_client.RbacAuthorizationV1Api(api(clusters["spoke"])).list_role_binding_for_all_namespaces(
        label_selector="app.kubernetes.io/managed-by=gitops.bootstrap").items
    assert not [b for b in bindings if b.metadata.namespace in sum(NS.values(), [])]
