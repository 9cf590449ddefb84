# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argocd_* modules against a real API server.

The fixture installs the real upstream Argo CD CRDs and the namespaced objects of the upstream
install.yaml (ConfigMaps with upstream's keys, Secrets, service accounts, workloads) into a
namespace of its own. No Argo CD controller runs (KWOK only marks pods ready), so the tests
write Application status themselves to play the controller: Application status is not a
subresource in Argo CD's CRD, so a merge patch can set it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from conftest import ARGOCD_MANIFESTS, ROOT, kubectl, run_playbook

ARGOCD_VERSION = os.environ.get("GITOPS_ARGOCD_TEST_VERSION", "v3.5.1")
NS = "argocd-modtest"
NAMESPACED_KINDS = ("ConfigMap", "Secret", "ServiceAccount", "Service", "Deployment", "StatefulSet")
SECRET = "Sup3rS3cretT0ken-do-not-print"
SECRET2 = "An0therS3cretT0ken-do-not-print"
SSH_KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUtZG8tbm90LXByaW50"
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE KEY-----\n" % SSH_KEY_BODY
CA = "-----BEGIN CERTIFICATE-----\nMIIBtestcertificatebody\n-----END CERTIFICATE-----\n"
HOST_KEY = "git.modtest.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def argocd_cli() -> str:
    """The argocd binary of ARGOCD_VERSION that hack/argocd_controllers.py builds (make argocd-binaries)."""
    sys.path.insert(0, os.path.join(ROOT, "hack"))
    try:
        import argocd_controllers
        path = argocd_controllers.argocd_bin(ARGOCD_VERSION)
    finally:
        sys.path.pop(0)
    assert os.path.exists(path), "argocd %s is not built at %s: run make argocd-binaries" % (ARGOCD_VERSION, path)
    return path


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def argocd(kubeconfig):
    """CRDs established and the namespaced upstream objects in NS; removed afterwards."""
    manifests = os.path.join(ARGOCD_MANIFESTS, ARGOCD_VERSION)
    crds = os.path.join(manifests, "crds")
    established = kubectl(kubeconfig, "get", "crd", "applications.argoproj.io", "appprojects.argoproj.io", check=False)
    if established.returncode != 0:
        kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", crds)
    # kubectl wait fails at once (instead of waiting) while a new CRD has no conditions yet.
    deadline = time.time() + 60
    while True:
        waited = kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "crd/applications.argoproj.io",
                         "crd/appprojects.argoproj.io", "crd/applicationsets.argoproj.io", check=False)
        if waited.returncode == 0:
            break
        assert time.time() < deadline, waited.stderr
        time.sleep(1)
    # A previous run's namespace may still be terminating.
    kubectl(kubeconfig, "wait", "--for=delete", "namespace/" + NS, "--timeout=180s", check=False)
    kubectl(kubeconfig, "create", "namespace", NS)
    with open(os.path.join(manifests, "install.yaml")) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d and d.get("kind") in NAMESPACED_KINDS]
    for doc in docs:
        doc["metadata"]["namespace"] = NS
    kubectl(kubeconfig, "apply", "--server-side", "-f", "-", input_text=yaml.safe_dump_all(docs))
    yield kubeconfig
    for kind in ("applications.argoproj.io", "appprojects.argoproj.io"):
        names = kubectl(kubeconfig, "get", kind, "-n", NS, "-o", "name", check=False).stdout.split()
        for name in names:
            kubectl(kubeconfig, "patch", "-n", NS, name, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}', check=False)
    kubectl(kubeconfig, "delete", "namespace", NS, "--wait=false", check=False)


def play(kc, tasks, check=False, diff=False, extra_vars=None, kubeconfig_value=None):
    """Run tasks with the connection set once for the whole action group."""
    text = textwrap.dedent(tasks)
    playbook = "- hosts: localhost\n  gather_facts: false\n  module_defaults:\n    group/gitops.bootstrap.gitops:\n"
    playbook += "      kubeconfig: %s\n" % json.dumps(kubeconfig_value or kc)
    playbook += "      namespace: %s\n" % NS
    playbook += "  tasks:\n" + textwrap.indent(text, "    ")
    return run_playbook(playbook, check=check, diff=diff, extra_vars=extra_vars)


def get(kc, kind, name, ns=NS):
    proc = kubectl(kc, "get", kind, name, "-n", ns, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def merge(kc, kind, name, patch):
    kubectl(kc, "patch", kind, name, "-n", NS, "--type", "merge", "-p", json.dumps(patch))


def ok(result, name):
    res = result.task_result(name)
    assert not res.get("failed"), "%s failed: %s" % (name, res.get("msg"))
    return res


# ---------------------------------------------------------------------------- argocd_rbac
RBAC_TASK = """
- name: rbac
  gitops.bootstrap.argocd_rbac:
    policies:
      - {subject: "role:team-a", resource: applications, action: get, object: "team-a/*"}
      - {subject: "role:team-a", resource: applications, action: sync, object: "team-a/*"}
      - {subject: "role:team-a", resource: logs, action: get, object: "team-a/*"}
    groups:
      - {group: "org:team-a", role: "role:team-a"}
"""


def test_rbac_check_mode_apply_idempotent_and_composition(argocd):
    kc = argocd
    before = get(kc, "configmap", "argocd-rbac-cm")
    assert not before.get("data"), "upstream argocd-rbac-cm ships without data"

    check = play(kc, RBAC_TASK, check=True, diff=True)
    res = ok(check, "rbac")
    assert res["changed"] is True
    assert get(kc, "configmap", "argocd-rbac-cm")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "p, role:team-a, applications, sync, team-a/*, allow" in res["diff"]["after"]

    first = play(kc, RBAC_TASK)
    assert ok(first, "rbac")["changed"] is True
    live = get(kc, "configmap", "argocd-rbac-cm")
    assert live["data"]["policy.csv"] == (
        "p, role:team-a, applications, get, team-a/*, allow\n"
        "p, role:team-a, applications, sync, team-a/*, allow\n"
        "p, role:team-a, logs, get, team-a/*, allow\n"
        "g, org:team-a, role:team-a\n"
    )
    assert live["data"]["policy.default"] == "" and live["data"]["scopes"] == "[groups]"
    assert live["metadata"]["labels"]["app.kubernetes.io/name"] == "argocd-rbac-cm", "upstream labels must stay"

    second = play(kc, RBAC_TASK)
    assert second.changed() == 0, second

    # A second owner adds its own key; the first owner's re-run does not remove it.
    named = play(kc, """
        - name: auditors
          gitops.bootstrap.argocd_rbac:
            policy_name: auditors
            groups:
              - {group: "org:auditors", role: "role:team-a"}
        """)
    assert ok(named, "auditors")["changed"] is True
    assert play(kc, RBAC_TASK).changed() == 0
    live = get(kc, "configmap", "argocd-rbac-cm")
    assert live["data"]["policy.auditors.csv"] == "g, org:auditors, role:team-a\n"
    assert "policy.csv" in live["data"] and live["data"]["policy.default"] == ""

    gone = play(kc, """
        - name: auditors gone
          gitops.bootstrap.argocd_rbac:
            policy_name: auditors
            state: absent
        """)
    assert ok(gone, "auditors gone")["changed"] is True
    live = get(kc, "configmap", "argocd-rbac-cm")
    assert "policy.auditors.csv" not in live["data"] and "policy.csv" in live["data"]


def test_rbac_invalid_policy_line_is_named_and_nothing_changes(argocd):
    kc = argocd
    before = get(kc, "configmap", "argocd-rbac-cm")["metadata"]["resourceVersion"]
    result = play(kc, """
        - name: bad rbac
          gitops.bootstrap.argocd_rbac:
            policies:
              - {subject: "role:team-a", resource: applications, action: get, object: "team-a/*"}
              - {subject: "role:team-a", resource: applicaitons, action: sync, object: "team-a/*"}
        """)
    res = result.task_result("bad rbac")
    assert res.get("failed")
    assert "'p, role:team-a, applicaitons, sync, team-a/*, allow'" in res["msg"]
    assert "is not an Argo CD resource" in res["msg"]
    result = play(kc, """
        - name: undefined role
          gitops.bootstrap.argocd_rbac:
            policy_name: extra
            groups:
              - {group: "org:x", role: "role:undefined"}
              - {group: "org:y", role: "role:team-a"}
        """)
    res = result.task_result("undefined role")
    assert res.get("failed")
    assert "'g, org:x, role:undefined'" in res["msg"] and "role 'role:undefined' is not defined" in res["msg"]
    assert "org:y" not in res["msg"], "role:team-a is defined in policy.csv of the live ConfigMap"
    assert get(kc, "configmap", "argocd-rbac-cm")["metadata"]["resourceVersion"] == before


@pytest.mark.parametrize("field,value", [
    ("effect", '""'),
    ("effect", '"   "'),
    ("effect", '"{{ rendered_empty }}"'),
    ("subject", '"{{ rendered_empty }}"'),
    ("object", '" "'),
], ids=["effect-empty", "effect-blank", "effect-template", "subject-template", "object-blank"])
def test_rbac_empty_field_fails_naming_line_and_field_and_writes_nothing(argocd, field, value):
    """An empty field (a template that rendered empty) never becomes allow or a wildcard: nothing is written."""
    kc = argocd
    before = get(kc, "configmap", "argocd-rbac-cm")
    line = {"subject": '"role:team-a"', "resource": "applications", "action": "delete", "object": '"team-a/*"', "effect": "deny"}
    line[field] = value
    for policy_name in ("", "    policy_name: hc-empty\n"):
        task = ("- name: empty field\n  gitops.bootstrap.argocd_rbac:\n" + policy_name + "    policies:\n"
                '      - {subject: "role:team-a", resource: applications, action: get, object: "team-a/*"}\n'
                "      - {%s}\n" % ", ".join("%s: %s" % kv for kv in line.items()))
        result = play(kc, task, extra_vars={"rendered_empty": ""})
        res = result.task_result("empty field")
        assert res.get("failed"), res
        assert "policies[1] 'p, " in res["msg"] and "applications, delete, " in res["msg"], res["msg"]
        assert "%s is empty" % field in res["msg"], res["msg"]
        assert "policies[0]" not in res["msg"]
        after = get(kc, "configmap", "argocd-rbac-cm")
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert "policy.hc-empty.csv" not in (after.get("data") or {})


def _rbac_can(kc, subject, action, resource, obj):
    """What the real Argo CD RBAC enforcer (argocd admin settings rbac can) says about the live argocd-rbac-cm:
    "Yes", "No", or its error when it cannot load the policy."""
    proc = subprocess.run(
        [argocd_cli(), "admin", "settings", "rbac", "can", subject, action, resource, obj, "--namespace", NS,
         "--kubeconfig", kc, "--use-builtin-policy=true"],
        capture_output=True, text=True, timeout=60, check=False)
    answer = proc.stdout.strip()
    if answer in ("Yes", "No"):
        return answer
    return proc.stderr.strip() or "exit %d without an answer" % proc.returncode


def test_rbac_role_inheritance_in_the_call_and_the_live_configmap(argocd):
    kc = argocd
    keys = {}
    try:
        # In one call: role:ops inherits the built-in role:readonly, org:ops is bound to role:ops.
        ops = play(kc, """
            - name: ops
              gitops.bootstrap.argocd_rbac:
                policy_name: hc-ops
                groups:
                  - {group: "role:ops", role: "role:readonly"}
                  - {group: "org:ops", role: "role:ops"}
            """)
        assert ok(ops, "ops")["changed"] is True
        keys["hc-ops"] = True
        assert get(kc, "configmap", "argocd-rbac-cm")["data"]["policy.hc-ops.csv"] == (
            "g, org:ops, role:ops\ng, role:ops, role:readonly\n")

        # Another owner binds role:ops, which only the live key policy.hc-ops.csv defines (by inheritance),
        # and chains a role of its own onto it.
        team_task = """
            - name: team
              gitops.bootstrap.argocd_rbac:
                policy_name: hc-team
                groups:
                  - {group: "org:oncall", role: "role:ops"}
                  - {group: "role:lead", role: "role:ops"}
                  - {group: "org:leads", role: "role:lead"}
            """
        team = play(kc, team_task)
        assert ok(team, "team")["changed"] is True
        keys["hc-team"] = True
        assert play(kc, team_task).changed() == 0

        # Roles that only inherit from each other in the live ConfigMap stay undefined: refused, nothing written.
        merge(kc, "configmap", "argocd-rbac-cm", {"data": {"policy.hc-cycle.csv": "g, role:c1, role:c2\ng, role:c2, role:c1\n"}})
        keys["hc-cycle"] = False
        before = get(kc, "configmap", "argocd-rbac-cm")["metadata"]["resourceVersion"]
        cycle = play(kc, """
            - name: cycle
              gitops.bootstrap.argocd_rbac:
                policy_name: hc-cycle-user
                groups:
                  - {group: "org:c", role: "role:c1"}
            """)
        res = cycle.task_result("cycle")
        assert res.get("failed"), res
        assert "'g, org:c, role:c1'" in res["msg"]
        assert "role 'role:c1' is not defined: it inherits only from role:c2, which is not defined either" in res["msg"]
        live = get(kc, "configmap", "argocd-rbac-cm")
        assert live["metadata"]["resourceVersion"] == before and "policy.hc-cycle-user.csv" not in live["data"]

        # What Argo CD's own enforcer makes of the live policy: the inherited and chained roles read and do not
        # sync; the cycle grants nothing.
        assert _rbac_can(kc, "org:leads", "get", "applications", "team-a/web") == "Yes"
        assert _rbac_can(kc, "org:oncall", "get", "applications", "team-a/web") == "Yes"
        assert _rbac_can(kc, "org:leads", "sync", "applications", "team-a/web") == "No"
        assert _rbac_can(kc, "org:c", "get", "applications", "team-a/web") == "No"
    finally:
        for name, ours in keys.items():
            if ours:
                play(kc, """
                    - name: gone
                      gitops.bootstrap.argocd_rbac:
                        policy_name: %s
                        state: absent
                    """ % name)
            else:
                merge(kc, "configmap", "argocd-rbac-cm", {"data": {"policy.%s.csv" % name: None}})


def test_rbac_warns_about_a_malformed_line_in_another_key_and_leaves_it(argocd):
    kc = argocd
    legacy = "p, role:legacy, applications, get\ng, org:legacy, role:readonly\nx, role:a, role:b\n"
    merge(kc, "configmap", "argocd-rbac-cm", {"data": {"policy.hc-legacy.csv": legacy}})
    task = """
        - name: own key
          gitops.bootstrap.argocd_rbac:
            policy_name: hc-own
            groups:
              - {group: "org:own", role: "role:readonly"}
        """
    try:
        # Argo CD's own enforcer cannot load the policy while the line is there.
        assert "invalid user policy: policy syntax error" in _rbac_can(kc, "org:legacy", "get", "applications", "team-a/web")
        first = play(kc, task)
        res = ok(first, "own key")
        assert res["changed"] is True
        warnings = " ".join(res.get("warnings") or [])
        assert "argocd-rbac-cm key policy.hc-legacy.csv line 1 'p, role:legacy, applications, get' is malformed" in warnings, res
        assert "line 3 'x, role:a, role:b' is malformed: it is neither a p line nor a g line" in warnings, res
        assert "line 2" not in warnings and "policy.hc-own.csv" not in warnings
        again = play(kc, task)
        assert again.changed() == 0
        assert "policy.hc-legacy.csv line 1" in " ".join(again.task_result("own key").get("warnings") or [])
        live = get(kc, "configmap", "argocd-rbac-cm")["data"]
        assert live["policy.hc-legacy.csv"] == legacy, "a key of another owner is left as it is"
        assert live["policy.hc-own.csv"] == "g, org:own, role:readonly\n"
    finally:
        merge(kc, "configmap", "argocd-rbac-cm", {"data": {"policy.hc-legacy.csv": None}})
        play(kc, """
            - name: gone
              gitops.bootstrap.argocd_rbac:
                policy_name: hc-own
                state: absent
            """)
    # With the line gone the same read is allowed again: the warning was about a real breakage.
    merge(kc, "configmap", "argocd-rbac-cm", {"data": {"policy.hc-legacy.csv": "g, org:legacy, role:readonly\n"}})
    try:
        assert _rbac_can(kc, "org:legacy", "get", "applications", "team-a/web") == "Yes"
    finally:
        merge(kc, "configmap", "argocd-rbac-cm", {"data": {"policy.hc-legacy.csv": None}})


# ---------------------------------------------------------------------------- argocd_project
PROJECT_TASK = """
- name: project
  gitops.bootstrap.argocd_project:
    name: team-a
    description: Team A
    source_repos: []
    destinations: []
    cluster_resource_whitelist: []
    roles:
      - name: deployer
        policies: ["p, proj:team-a:deployer, applications, sync, team-a/*, allow"]
        groups: ["org:team-a"]
"""


def test_project_least_privilege_idempotent_and_tokens_kept(argocd):
    kc = argocd
    check = play(kc, PROJECT_TASK, check=True, diff=True)
    assert ok(check, "project")["changed"] is True
    assert get(kc, "appproject", "team-a") is None, "check mode must not create the project"
    assert "sourceRepos: []" in check.task_result("project")["diff"]["after"]

    assert ok(play(kc, PROJECT_TASK), "project")["changed"] is True
    spec = get(kc, "appproject", "team-a")["spec"]
    assert spec["sourceRepos"] == [] and spec["destinations"] == [] and spec["clusterResourceWhitelist"] == []
    assert "*" not in json.dumps({k: v for k, v in spec.items() if k != "roles"}), "no wildcard may be injected"
    assert play(kc, PROJECT_TASK).changed() == 0

    # Argo CD records issued tokens in the role; re-running the module must keep them.
    live = get(kc, "appproject", "team-a")
    live["spec"]["roles"][0]["jwtTokens"] = [{"iat": 1700000000, "id": "token-1"}]
    kubectl(kc, "replace", "-f", "-", input_text=json.dumps(live))
    assert play(kc, PROJECT_TASK).changed() == 0
    assert get(kc, "appproject", "team-a")["spec"]["roles"][0]["jwtTokens"] == [{"iat": 1700000000, "id": "token-1"}]

    bad = play(kc, """
        - name: bad project
          gitops.bootstrap.argocd_project:
            name: team-a
            roles:
              - name: deployer
                policies: ["p, proj:team-b:deployer, projects, sync, other/*, allow"]
        """)
    msg = bad.task_result("bad project")["msg"]
    assert "subject must be proj:team-a:deployer" in msg and "resource 'projects' cannot be granted" in msg
    assert "object must start with team-a/" in msg

    gone = play(kc, "- name: gone\n  gitops.bootstrap.argocd_project: {name: team-a, state: absent}\n")
    assert ok(gone, "gone")["changed"] is True
    assert get(kc, "appproject", "team-a") is None


# ---------------------------------------------------------------------------- argocd_repository
def repo_tasks(password):
    return """
- name: https repo
  gitops.bootstrap.argocd_repository:
    name: repo-https
    url: https://git.modtest.example/infra.git
    repo_username: bot
    repo_password: "%s"
    repo_ca_cert: "{{ ca }}"
- name: ssh repo
  gitops.bootstrap.argocd_repository:
    name: repo-ssh
    url: git@git.modtest.example:infra.git
    ssh_private_key: "{{ key }}"
    known_hosts: ["%s"]
""" % (password, HOST_KEY)


def assert_no_secret(result, *values):
    text = result.stdout + result.stderr
    for value in values:
        assert value not in text, "a secret value appears in the ansible output"
        import base64

        assert base64.b64encode(value.encode()).decode() not in text


def test_repository_secrets_known_hosts_and_ca(argocd):
    kc = argocd
    upstream_hosts = get(kc, "configmap", "argocd-ssh-known-hosts-cm")["data"]["ssh_known_hosts"]
    assert "github.com" in upstream_hosts
    variables = {"ca": CA, "key": SSH_KEY}

    check = play(kc, repo_tasks(SECRET), check=True, diff=True, extra_vars=variables)
    assert ok(check, "https repo")["changed"] is True and ok(check, "ssh repo")["changed"] is True
    assert get(kc, "secret", "repo-https") is None and get(kc, "secret", "repo-ssh") is None
    assert_no_secret(check, SECRET, SSH_KEY_BODY)

    first = play(kc, repo_tasks(SECRET), diff=True, extra_vars=variables)
    assert first.changed() == 2, first
    assert_no_secret(first, SECRET, SSH_KEY_BODY)
    https = ok(first, "https repo")
    assert https["repository"]["data"]["password"] == "<hidden>"
    secret = get(kc, "secret", "repo-https")
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    import base64

    decoded = dict((k, base64.b64decode(v).decode()) for k, v in secret["data"].items())
    assert decoded == {"url": "https://git.modtest.example/infra.git", "type": "git", "username": "bot", "password": SECRET}
    hosts = get(kc, "configmap", "argocd-ssh-known-hosts-cm")["data"]["ssh_known_hosts"]
    assert hosts.startswith(upstream_hosts.rstrip("\n")), "upstream host keys must stay, in their order"
    assert HOST_KEY in hosts
    tls = get(kc, "configmap", "argocd-tls-certs-cm")
    assert tls["data"]["git.modtest.example"] == CA
    assert tls["metadata"]["labels"]["app.kubernetes.io/name"] == "argocd-tls-certs-cm"
    assert not ok(first, "ssh repo").get("warnings")

    again = play(kc, repo_tasks(SECRET), extra_vars=variables)
    assert again.changed() == 0, again

    rotated = play(kc, repo_tasks(SECRET2), diff=True, extra_vars=variables)
    res = ok(rotated, "https repo")
    assert res["changed"] is True and ok(rotated, "ssh repo")["changed"] is False
    assert "password: <hidden, changed>" in res["diff"][0]["after"]
    assert_no_secret(rotated, SECRET, SECRET2, SSH_KEY_BODY)
    assert base64.b64decode(get(kc, "secret", "repo-https")["data"]["password"]).decode() == SECRET2

    gone = play(kc, "- name: gone\n  gitops.bootstrap.argocd_repository: {name: repo-https, state: absent}\n")
    assert ok(gone, "gone")["changed"] is True and get(kc, "secret", "repo-https") is None
    assert get(kc, "configmap", "argocd-tls-certs-cm")["data"]["git.modtest.example"] == CA


# ---------------------------------------------------------------------------- argocd_application
APP_TASK = """
- name: app
  gitops.bootstrap.argocd_application:
    name: demo
    repo_url: https://git.modtest.example/infra.git
    path: apps/demo
    destination_namespace: demo
    sync_policy: {sync_options: [CreateNamespace=true]}
    wait: "{{ wait | default(false) }}"
    wait_timeout: "{{ timeout | default(4) }}"
    wait_sleep: 1
"""


def status(sync, health, resources=(), conditions=(), path="apps/demo", op=None):
    st = {
        "sync": {"status": sync, "revision": "0123abc", "comparedTo": {
            "source": {"repoURL": "https://git.modtest.example/infra.git", "path": path, "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"}}},
        "health": {"status": health},
        "resources": list(resources),
        "conditions": list(conditions),
    }
    if op:
        st["operationState"] = op
    return {"status": st}


def test_application_lifecycle_wait_and_reasons(argocd):
    kc = argocd
    check = play(kc, APP_TASK, check=True, diff=True)
    assert ok(check, "app")["changed"] is True
    assert get(kc, "application", "demo") is None
    assert "repoURL: https://git.modtest.example/infra.git" in check.task_result("app")["diff"]["after"]

    assert ok(play(kc, APP_TASK), "app")["changed"] is True
    live = get(kc, "application", "demo")
    assert live["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert live["spec"]["syncPolicy"]["automated"] == {"enabled": True, "prune": True, "selfHeal": True, "allowEmpty": False}
    assert play(kc, APP_TASK).changed() == 0

    # No controller: wait times out and says so.
    res = play(kc, APP_TASK, extra_vars={"wait": True, "timeout": 2}).task_result("app")
    assert res["failed"] and "has no status yet" in res["msg"] and "within 2s" in res["msg"]

    # Play the controller: degraded and out of sync, with a comparison error.
    merge(kc, "application", "demo", status(
        "OutOfSync", "Degraded",
        resources=[
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "demo", "name": "web", "status": "OutOfSync",
             "health": {"status": "Degraded", "message": 'Deployment "web" exceeded its progress deadline'}},
            {"version": "v1", "kind": "Service", "namespace": "demo", "name": "web", "status": "Synced", "health": {"status": "Healthy"}},
        ],
        conditions=[{"type": "ComparisonError", "message": "Failed to load target state: repository not accessible"}],
    ))
    res = play(kc, APP_TASK, extra_vars={"wait": True, "timeout": 3}).task_result("app")
    assert res["failed"]
    assert "sync status is OutOfSync: 1 resource(s) not synced: apps/Deployment demo/web (OutOfSync)" in res["msg"]
    assert 'health is Degraded: apps/Deployment demo/web is Degraded: Deployment "web" exceeded its progress deadline' in res["msg"]
    assert "condition ComparisonError: Failed to load target state: repository not accessible" in res["msg"]
    assert res["status"]["sync"] == "OutOfSync" and res["status"]["resources_unhealthy"][0]["name"] == "web"

    # A spec the controller rejected: no point waiting for the timeout.
    rejected = {"type": "InvalidSpecError", "message": "application destination is not permitted in project 'default'"}
    merge(kc, "application", "demo", status("Unknown", "Unknown", conditions=[rejected]))
    started = time.time()
    res = play(kc, APP_TASK, extra_vars={"wait": True, "timeout": 60}).task_result("app")
    assert res["failed"] and "waiting does not help" in res["msg"] and "not permitted in project" in res["msg"]
    assert time.time() - started < 30

    # Synced and Healthy for the current spec: wait succeeds at once.
    merge(kc, "application", "demo", {"status": {"conditions": None, "resources": None}})
    merge(kc, "application", "demo", status("Synced", "Healthy"))
    done = play(kc, APP_TASK, extra_vars={"wait": True, "timeout": 10})
    res = ok(done, "app")
    assert res["changed"] is False and res["status"]["message"] == "Synced and Healthy" and res["status"]["revision"] == "0123abc"

    # A spec change makes that status stale until the controller compared the new spec.
    stale = play(kc, APP_TASK.replace("path: apps/demo", "path: apps/demo2"), extra_vars={"wait": True, "timeout": 2}).task_result("app")
    assert stale["failed"] and "has not yet compared the current spec" in stale["msg"]
    merge(kc, "application", "demo", status("Synced", "Healthy", path="apps/demo2"))
    assert ok(play(kc, APP_TASK.replace("path: apps/demo", "path: apps/demo2"), extra_vars={"wait": True}), "app")["changed"] is False

    # Refresh and sync requests.
    trig = play(kc, APP_TASK.replace("path: apps/demo", "path: apps/demo2") + "    refresh: hard\n    sync: true\n")
    res = ok(trig, "app")
    assert res["changed"] is True and sorted(res["requested"]) == ["refresh", "sync"]
    live = get(kc, "application", "demo")
    assert live["metadata"]["annotations"]["argocd.argoproj.io/refresh"] == "hard"
    assert live["operation"]["initiatedBy"]["username"] == "gitops.bootstrap"
    assert live["operation"]["sync"]["prune"] is True
    pending = play(kc, APP_TASK.replace("path: apps/demo", "path: apps/demo2") + "    sync: true\n")
    res = ok(pending, "app")
    assert res["requested"] == [] and "already pending" in " ".join(res.get("warnings", []))

    # Deleting with the resources finalizer needs the controller; the error says so.
    absent = "- name: app\n  gitops.bootstrap.argocd_application: {name: demo, state: absent, wait: true, wait_timeout: 2, wait_sleep: 1}\n"
    res = play(kc, absent).task_result("app")
    assert res["failed"] and "resources-finalizer.argocd.argoproj.io" in res["msg"] and "controller" in res["msg"]
    merge(kc, "application", "demo", {"metadata": {"finalizers": None}})
    assert get(kc, "application", "demo") is None
    gone = play(kc, "- name: app\n  gitops.bootstrap.argocd_application: {name: demo, state: absent}\n")
    assert ok(gone, "app")["changed"] is False


def test_application_bad_spec_fails_before_any_api_call(argocd, tmp_path):
    missing = str(tmp_path / "no-such-kubeconfig")
    result = play(argocd, """
        - name: bad app
          gitops.bootstrap.argocd_application:
            name: Bad_Name
            repo_url: https://git.modtest.example/infra.git
            destination_name: prod
            spec: {destination: {server: https://kubernetes.default.svc}}
        """, kubeconfig_value=missing)
    msg = result.task_result("bad app")["msg"]
    assert "Application name 'Bad_Name' is not a valid" in msg
    assert "neither a path nor a Helm chart" in msg
    assert "both server" in msg
    assert "kubeconfig" not in msg, "validation must come before connecting"


# ---------------------------------------------------------------------------- argocd_info
def test_info_reports_version_components_crds_and_apps(argocd):
    kc = argocd
    ok(play(kc, APP_TASK.replace("name: demo", "name: info-demo")), "app")
    merge(kc, "application", "info-demo", status("OutOfSync", "Missing", conditions=[{"type": "ComparisonError", "message": "repo not found"}]))
    deadline = time.time() + 90
    while True:
        result = play(kc, "- name: info\n  gitops.bootstrap.argocd_info:\n    app_names: [info-demo]\n")
        res = ok(result, "info")
        if res["ready"] or time.time() > deadline:
            break
        time.sleep(3)
    assert res["changed"] is False
    assert res["version"] == ARGOCD_VERSION
    names = sorted(c["name"] for c in res["components"])
    assert "argocd-server" in names and "argocd-application-controller" in names and "argocd-repo-server" in names
    assert res["ready"], [c for c in res["components"] if not c["ready"]]
    assert all(res["crds_established"].values()) and len(res["crds_established"]) == 3
    assert [a["name"] for a in res["applications"]] == ["info-demo"]
    app = res["applications"][0]
    assert app["sync"] == "OutOfSync" and app["health"] == "Missing"
    assert "condition ComparisonError: repo not found" in app["reason"]
    merge(kc, "application", "info-demo", {"metadata": {"finalizers": None}})
    kubectl(kc, "delete", "application", "info-demo", "-n", NS)


# ---------------------------------------------------------------------------- connection errors
def test_missing_kubeconfig_is_a_clear_error(argocd, tmp_path):
    missing = str(tmp_path / "absent.yaml")
    result = play(argocd, RBAC_TASK, kubeconfig_value=missing)
    msg = result.task_result("rbac")["msg"]
    # kubernetes.core declares kubeconfig no_log (it may hold credentials), so Ansible masks the path.
    assert "The kubeconfig file" in msg and "does not exist" in msg and "kubeconfig option" in msg


def test_unreachable_api_server_is_a_clear_error(argocd, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now.
    with open(argocd) as fh:
        config = yaml.safe_load(fh)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:%d" % port
    path = tmp_path / "unreachable.yaml"
    path.write_text(yaml.safe_dump(config))
    started = time.time()
    result = play(argocd, PROJECT_TASK, kubeconfig_value=str(path))
    msg = result.task_result("project")["msg"]
    assert "could not be reached" in msg and str(port) in msg
    assert time.time() - started < 60
