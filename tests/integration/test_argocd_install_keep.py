# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install existing=keep against a real API server: the repository owns what exists.

Argo CD's own server-side apply is played by kubectl with Argo CD's field manager
(argocd-controller), which is what the real controller sends when it syncs its self-management
Application; the pull-loop suite does the same with the real controllers.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from conftest import ARGOCD_MANIFESTS, kubectl, run_playbook

VERSION = os.environ.get("GITOPS_ARGOCD_TEST_VERSION", "v3.5.1")
NS = "argocd-keep"
MANAGER = "gitops.bootstrap.argocd-install"


def install(kc, existing="keep", check=False, version=VERSION, cm=None, extra_objects=None):
    params = {
        "kubeconfig": kc, "namespace": NS, "version": version, "flavour": "namespace",
        "source": os.path.join(ARGOCD_MANIFESTS, version), "verify_checksums": False, "wait": False,
        "existing": existing,
        "config_maps": {"argocd-cm": cm or {"admin.enabled": "false", "timeout.reconciliation": "120s"}},
        "known_hosts": ["git.keep.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"],
        "bootstrap_objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep-bootstrap"},
                               "data": {"root": "applied every run"}}],
        "extra_objects": extra_objects or [],
    }
    playbook = ("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: install\n"
                "      gitops.bootstrap.argocd_install: %s\n      register: r\n" % json.dumps(params))
    res = run_playbook(playbook, check=check, diff=True)
    out = res.task_result("install")
    assert not out.get("failed"), out.get("msg")
    return out


def get(kc, kind, name):
    proc = kubectl(kc, "get", kind, name, "-n", NS, "-o", "json", "--show-managed-fields", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def actions(out, action):
    return sorted(f"{o['kind']}/{o['name']}" for o in out["objects"] if o["action"] == action)


def managers(obj):
    return {e["manager"]: e.get("fieldsV1") or {} for e in obj["metadata"].get("managedFields") or []}


@pytest.fixture(scope="module")
def kc(kubeconfig):
    kubectl(kubeconfig, "wait", "--for=delete", "namespace/" + NS, "--timeout=180s", check=False)
    yield kubeconfig
    kubectl(kubeconfig, "delete", "namespace", NS, "--wait=false", check=False)


def test_keep_creates_what_is_missing_hands_over_and_never_overwrites(kc):
    first = install(kc, existing="update")
    assert first["changed"] and "ConfigMap/argocd-cm" in actions(first, "create")

    # Argo CD syncs argocd-cm from Git: a reviewed change of admin.enabled, and a key Git shares with the role.
    git_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": NS},
              "data": {"admin.enabled": "true", "timeout.reconciliation": "120s"}}
    kubectl(kc, "apply", "--server-side", "--force-conflicts", "--field-manager=argocd-controller", "-f", "-",
            input_text=yaml.safe_dump(git_cm))

    # Check mode first: the hand-over is announced, nothing is sent.
    planned = install(kc, check=True)
    assert actions(planned, "hand over") == ["ConfigMap/argocd-cm"], planned["objects"]
    assert "f:timeout.reconciliation" in managers(get(kc, "configmap", "argocd-cm"))[MANAGER].get("f:data", {})

    handed = install(kc)
    assert handed["changed"] and actions(handed, "hand over") == ["ConfigMap/argocd-cm"]
    assert not (actions(handed, "create") + actions(handed, "update") + actions(handed, "delete")), handed["summary"]
    cm = get(kc, "configmap", "argocd-cm")
    assert cm["data"]["admin.enabled"] == "true", "Git's value was overwritten"
    ours = managers(cm).get(MANAGER, {})
    assert "f:timeout.reconciliation" not in ours.get("f:data", {}) and "f:admin.enabled" not in ours.get("f:data", {}), ours
    assert "f:timeout.reconciliation" in managers(cm)["argocd-controller"]["f:data"]
    assert MANAGER not in managers(cm), "the hand-over left the module's entry"
    assert "gitops.bootstrap/applied-config-sha256" not in (cm["metadata"].get("annotations") or {})
    diffs = [d for d in handed.get("diff", []) if "argocd-cm" in d["before_header"]]
    assert diffs and any(MANAGER in m for m in diffs[0]["before"]["field_managers"]), diffs

    # Idempotent: nothing left to hand over, every existing object kept as it is.
    again = install(kc, cm={"admin.enabled": "false", "timeout.reconciliation": "30s"})
    assert not again["changed"], [o for o in again["objects"] if o["action"] != "unchanged"]
    assert get(kc, "configmap", "argocd-cm")["data"]["timeout.reconciliation"] == "120s", "the inventory's value was applied"
    kept = [o for o in again["objects"] if o.get("kept")]
    assert any(o["name"] == "argocd-cm" for o in kept)


def test_keep_repairs_what_is_missing_and_applies_the_bootstrap_objects(kc):
    kubectl(kc, "delete", "deployment", "argocd-repo-server", "-n", NS)
    kubectl(kc, "patch", "configmap", "keep-bootstrap", "-n", NS, "--type", "merge", "-p", '{"data":{"root":"changed by hand"}}')

    planned = install(kc, check=True)
    assert actions(planned, "create") == ["Deployment/argocd-repo-server"], planned["summary"]
    assert get(kc, "deployment", "argocd-repo-server") is None, "check mode created it"

    repaired = install(kc)
    assert actions(repaired, "create") == ["Deployment/argocd-repo-server"]
    assert "ConfigMap/keep-bootstrap" in actions(repaired, "update")
    created = get(kc, "deployment", "argocd-repo-server")
    # Created on the repository's behalf: Argo CD's manager owns it, nothing to hand over later.
    assert set(managers(created)) & {"argocd-controller", MANAGER} == {"argocd-controller"}, list(managers(created))
    assert get(kc, "configmap", "keep-bootstrap")["data"] == {"root": "applied every run"}
    assert not install(kc)["changed"]


def test_keep_does_not_change_the_version_the_repository_manages(kc):
    other = "v3.4.7"
    if not os.path.isdir(os.path.join(ARGOCD_MANIFESTS, other)):
        pytest.skip(f"no {other} manifests in {ARGOCD_MANIFESTS}")
    image = get(kc, "deployment", "argocd-server")["spec"]["template"]["spec"]["containers"][0]["image"]
    record = get(kc, "configmap", "gitops-bootstrap-argocd-install")["data"]
    out = install(kc, version=other)
    assert not out["changed"], out["summary"]
    assert any("does not install" in w for w in out.get("warnings", [])), out.get("warnings")
    assert get(kc, "deployment", "argocd-server")["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert get(kc, "configmap", "gitops-bootstrap-argocd-install")["data"] == record


def test_an_extra_object_named_like_an_upstream_one_replaces_it(kc):
    """The application controller's upstream Role given again with fewer rules: that one is applied, once."""
    upstream = get(kc, "role", "argocd-application-controller")
    assert any("create" in r["verbs"] for r in upstream["rules"]), upstream["rules"]
    reduced = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "argocd-application-controller"},
               "rules": [{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get", "list", "watch"]}]}
    out = install(kc, existing="update", extra_objects=[reduced])
    assert out["changed"]
    listed = [o for o in out["objects"] if o["kind"] == "Role" and o["name"] == "argocd-application-controller"]
    assert len(listed) == 1, listed
    assert get(kc, "role", "argocd-application-controller")["rules"] == reduced["rules"]
    assert not install(kc, existing="update", extra_objects=[reduced])["changed"]
    # Without it, upstream's Role is back.
    install(kc, existing="update")
    assert get(kc, "role", "argocd-application-controller")["rules"] == upstream["rules"]
