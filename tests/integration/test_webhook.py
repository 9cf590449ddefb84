# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A merge on the forge reaches Argo CD through its webhook, not its poll.

Reuses the pull loop of test_pull_loop.py (cluster, controllers; pullloop_env.shared_pull_loop)
and the session's forge (a real Gitea, tests/integration/forge.py). The application controller
is restarted with a reconciliation timeout of 30 minutes and no jitter, so that a change live
within seconds cannot come from a poll. argocd-server runs as a host process on loopback; a
repository on the forge, wired by the collection's forge_repository (read-only deploy key,
protected main branch, webhook with a generated secret, which the harness writes into
argocd-secret under webhook.gogs.secret), holds an application's manifests.

Argo CD v3.5.1 has no Gitea parser: Gitea sends X-Gogs-Event and X-Gogs-Signature (an
HMAC-SHA256 of the body) for webhooks of type gitea and gogs alike, and Argo CD hands every
request carrying X-Gogs-Event to its Gogs parser, which checks the signature against
webhook.gogs.secret. Both hook types are proven here, and so is the refusal of a wrong or
missing signature.

The tests run in file order and build on each other's state; the last one closes the loop.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pullloop_env import ARGOCD_NAMESPACE, GITEA_WEBHOOK_SECRET_KEY, IN_CLUSTER, acd, shared_pull_loop  # noqa: E402
from pullloop_servers import ForgeRepo, processes_referring_to  # noqa: E402

import localcluster  # noqa: E402  (hack/, on the path through pullloop_env)

SHARED_PULL_LOOP = True
RECONCILIATION = "30m"
APP = "hooked"
CONFIGMAP = "hooked-seq"
# Seconds within which a merged change must be live: the poll would take up to half an hour.
WEBHOOK_BUDGET = 30.0
# How long a refused delivery is watched for a refresh that must not happen.
QUIET_SECONDS = 20.0
# Seconds for which the harness's kubelet stand-in writes no volume after the repository is added.
KNOWN_HOSTS_LATE = 20.0

pytestmark = pytest.mark.skipif(
    not os.path.exists(acd.argocd_bin()),
    reason=f"the Argo CD binaries are not built ({acd.argocd_bin()}); run `make test-pull-loop`, which builds them",
)


def manifest(seq: int) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {CONFIGMAP}
        data:
          seq: "{seq}"
        """)


APP_PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/gitops.bootstrap.gitops:
      kubeconfig: "{{ kc }}"
  tasks:
    - name: Argo CD reads the forge repository with the read-only deploy key
      gitops.bootstrap.argocd_repository:
        name: "{{ app }}"
        namespace: "{{ ns }}"
        url: "{{ url }}"
        ssh_private_key: "{{ key }}"
        known_hosts: "{{ known_hosts }}"
    - name: The project allows the forge repository into its namespace
      gitops.bootstrap.argocd_project:
        name: "{{ app }}"
        namespace: "{{ ns }}"
        source_repos: ["{{ url }}"]
        destinations: [{server: "{{ in_cluster }}", namespace: "{{ app }}"}]
        cluster_resource_whitelist: []
    - name: The application syncs the forge repository's main branch
      gitops.bootstrap.argocd_application:
        name: "{{ app }}"
        namespace: "{{ ns }}"
        project: "{{ app }}"
        repo_url: "{{ url }}"
        path: app
        target_revision: main
        destination_namespace: "{{ app }}"
        finalizer: false
        sync_policy:
          automated: true
          prune: true
        wait: true
        wait_timeout: 240
"""


@pytest.fixture(scope="module")
def loop(request):
    return shared_pull_loop(request)


@pytest.fixture(scope="module")
def hooked(loop, forge, request):
    """The forge repository, wired to argocd-server, with an application synced from it (seq 0)."""
    before = (loop.reconciliation, loop.jitter)

    def restore():
        # A module collected after this one shares the loop: give it back its poll interval.
        if not loop.closed and loop.host is not None:
            loop.set_reconciliation(*before)

    request.addfinalizer(restore)
    loop.set_reconciliation(RECONCILIATION, "0s")
    loop.start_argocd_server()
    repo = ForgeRepo(forge, forge.unique(APP), os.path.join(loop.workdir, "forge")).create(auto_init=True)
    forge.commit_files(repo.full_name, {"app/kustomization.yaml": "resources:\n  - configmap.yaml\n",
                                        "app/configmap.yaml": manifest(0)}, message="hooked: seq 0")
    wiring = loop.connect_forge_repo(repo, protect=True)
    assert not wiring.get("failed"), wiring.get("msg")
    # The project allows no cluster-scoped kinds, so the namespace is made here, not by the sync.
    made = loop.kubectl("create", "namespace", APP, check=False)
    assert made.returncode == 0 or "AlreadyExists" in made.stderr, made.stderr
    # The forge's host key reaches the repo server's known hosts file only after KNOWN_HOSTS_LATE
    # seconds, as with a kubelet that writes ConfigMap volumes about a minute after a change: the
    # first comparison fails on the unknown key, and the wait must ride it out, not report it.
    loop.host.hold_volume_sync(KNOWN_HOSTS_LATE)
    started = time.time()
    loop.play(APP_PLAY, {"app": APP, "url": repo.url, "key": repo.argocd_key, "known_hosts": [repo.known_hosts_line()],
                         "in_cluster": IN_CLUSTER})
    assert time.time() - started > KNOWN_HOSTS_LATE, "the application synced before the repo server knew the host key"
    assert live_seq(loop) == "0"
    return SimpleNamespace(loop=loop, forge=forge, repo=repo, wiring=wiring, hook_id=wiring["webhook"]["id"])


# --------------------------------------------------------------------------- helpers
def live_seq(loop) -> str | None:
    cm = loop.get("configmap", CONFIGMAP, APP)
    return cm and cm["data"].get("seq")


def wait_live(loop, seq: int, since: float, timeout: float = WEBHOOK_BUDGET) -> float:
    """Seconds from SINCE until the cluster serves SEQ; fails with Argo CD's view after TIMEOUT."""
    want = str(seq)
    while live_seq(loop) != want:
        loop.host.check_running()
        if time.time() - since > timeout:
            raise AssertionError(f"seq {seq} not live within {timeout:.0f}s of the merge; argocd_info says: "
                                 f"{loop.app_reason(APP)}\n--- argocd-server ---\n{loop.host.logs('argocd-server', 20)}")
        time.sleep(0.2)
    return time.time() - since


def webhook_refreshes(loop) -> int:
    """How often argocd-server refreshed the application because of a webhook."""
    marks = (f'"application":"{APP}"', f"application={APP} ")  # JSON (the default) or text log format
    return sum(1 for line in loop.host.logs("argocd-server", 100000).splitlines()
               if "refreshing app from webhook" in line and any(m in line + " " for m in marks))


def deliveries(ctx, hook_id: int) -> list[dict]:
    return ctx.forge.hook_deliveries(hook_id)


def main_delivery(ctx, hook_id: int, sha: str, timeout: float = 30.0) -> dict:
    """The delivery of HOOK_ID announcing main at SHA, once the forge recorded its outcome.

    A merge sends two push events: the developer's branch (ignored by Argo CD: no application
    tracks it) and main.
    """
    deadline = time.time() + timeout
    while True:
        for delivery in ctx.forge.hook_deliveries(hook_id):
            payload = delivery["payload"] or {}
            if delivery["finished"] and payload.get("ref") == "refs/heads/main" and payload.get("after") == sha:
                return delivery
        if time.time() > deadline:
            seen = [((d["payload"] or {}).get("ref"), (d["payload"] or {}).get("after"), d["status"])
                    for d in ctx.forge.hook_deliveries(hook_id)]
            raise AssertionError(f"webhook {hook_id}: no finished delivery of main at {sha} within {timeout:.0f}s: {seen}")
        time.sleep(0.2)


def header(delivery: dict, name: str) -> str | None:
    headers = (delivery.get("request") or {}).get("headers") or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def merge(ctx, seq: int) -> tuple[str, float]:
    return ctx.repo.merge({"app/configmap.yaml": manifest(seq)}, f"hooked: seq {seq}")


# --------------------------------------------------------------------------- wiring
def test_forge_repository_wires_the_forge_to_argocd_server(hooked):
    ctx, loop = hooked, hooked.loop
    assert ctx.wiring["argocd_secret_key"] == GITEA_WEBHOOK_SECRET_KEY, ctx.wiring["argocd_secret_key"]
    hook = ctx.wiring["webhook"]
    assert hook["url"] == loop.host.webhook_url
    # Argo CD answers 400 to a signature it cannot verify, so "ok" means argocd-server checked
    # the test delivery against the secret the harness wrote into argocd-secret.
    assert hook["delivery"]["status"] == "ok", hook["delivery"]
    first = ctx.forge.wait_for_deliveries(ctx.hook_id, 1)[0]
    assert first["status"] == 200 and first["event"] == "push", first
    assert header(first, "X-Gogs-Event") == "push" and header(first, "X-Gogs-Signature"), first["request"]
    assert f"Received push event repo: {ctx.repo.html_url}," in loop.host.logs("argocd-server", 100000)
    secret = loop.get("secret", "argocd-secret", ARGOCD_NAMESPACE)["data"]
    assert "server.secretkey" in secret, "argocd-server signs its sessions with the key it wrote on its first start"
    assert GITEA_WEBHOOK_SECRET_KEY in secret
    # The controller polls every 30 minutes now: whatever goes live within seconds came by webhook.
    assert "appResyncPeriod=30m0s," in loop.host.logs("argocd-application-controller", 100000)
    assert loop.app_synced_healthy(APP)


def test_merge_on_the_forge_is_live_within_seconds(hooked):
    ctx, loop = hooked, hooked.loop
    refreshed = webhook_refreshes(loop)
    sha, merged = merge(ctx, 1)
    took = wait_live(loop, 1, merged)
    print(f"merge to live through the webhook (type gitea): {took:.1f}s")
    delivery = main_delivery(ctx, ctx.hook_id, sha)
    assert delivery["status"] == 200, delivery["response"]
    assert webhook_refreshes(loop) > refreshed, "argocd-server did not log the refresh of the application"
    loop.wait_for("Application hooked at the merge commit", lambda: loop.app_synced_healthy(APP, sha), timeout=60, app=APP)


def test_gogs_type_webhook_is_read_the_same_way(hooked):
    ctx, loop = hooked, hooked.loop
    ctx.repo.set_hook_active(ctx.hook_id, False)
    gogs = ctx.forge.create_webhook(ctx.repo.full_name, loop.host.webhook_url, secret=loop.webhook_secret,
                                    hook_type="gogs")
    try:
        known_gitea = len(deliveries(ctx, ctx.hook_id))
        sha, merged = merge(ctx, 2)
        took = wait_live(loop, 2, merged)
        print(f"merge to live through the webhook (type gogs): {took:.1f}s")
        delivery = main_delivery(ctx, gogs["id"], sha)
        assert delivery["status"] == 200, delivery["response"]
        assert header(delivery, "X-Gogs-Signature"), delivery["request"]
        assert len(deliveries(ctx, ctx.hook_id)) == known_gitea, "the inactive gitea hook delivered"
    finally:
        ctx.repo.delete_hook(gogs["id"])
        ctx.repo.set_hook_active(ctx.hook_id, True)


def test_webhook_with_a_wrong_or_no_secret_is_refused(hooked):
    ctx, loop = hooked, hooked.loop
    ctx.repo.set_hook_active(ctx.hook_id, False)
    wrong = ctx.forge.create_webhook(ctx.repo.full_name, loop.host.webhook_url,
                                     secret=ctx.forge.remember_secret("not-" + loop.webhook_secret))
    unsigned = ctx.forge.create_webhook(ctx.repo.full_name, loop.host.webhook_url, secret="")
    try:
        refreshed = webhook_refreshes(loop)
        log_before = len(loop.host.logs("argocd-server", 100000).splitlines())
        sha, merged = merge(ctx, 3)
        for hook in (wrong, unsigned):
            delivery = main_delivery(ctx, hook["id"], sha)
            assert delivery["status"] == 400, f"argocd-server accepted hook {hook['id']}: {delivery['response']}"
            assert "Webhook processing failed" in (delivery["response"].get("body") or ""), delivery["response"]
        new_log = loop.host.logs("argocd-server", 100000).splitlines()[log_before:]
        assert any("Gogs webhook HMAC verification failed" in line for line in new_log), "\n".join(new_log[-20:])
        assert any("missing X-Gogs-Signature" in line for line in new_log), "\n".join(new_log[-20:])
        time.sleep(max(0.0, QUIET_SECONDS - (time.time() - merged)))
        assert live_seq(loop) == "2", "a refused webhook made Argo CD sync"
        assert (loop.app(APP)["status"]["sync"].get("revision")) != sha
        assert webhook_refreshes(loop) == refreshed, "argocd-server refreshed the application for a refused webhook"
    finally:
        for hook in (wrong, unsigned):
            ctx.repo.delete_hook(hook["id"])
        ctx.repo.set_hook_active(ctx.hook_id, True)
    # The same commit, announced with the right secret, goes live.
    sent = time.time()
    ctx.repo.test_hook(ctx.hook_id)
    assert main_delivery(ctx, ctx.hook_id, sha)["status"] == 200
    print(f"test delivery with the right secret to live: {wait_live(loop, 3, sent):.1f}s")


# --------------------------------------------------------------------------- tear-down
def test_no_process_of_the_harness_survives_close(loop):
    """host.stop() ends every process of the Argo CD components, close() everything the loop started."""
    started = [" ".join(argv) for dummy, argv in loop.processes()]
    # gpg-agent, which gpg starts for the repo server's keyring, detaches into a session of its own.
    for name in ("redis-server", "argocd-repo-server", "argocd-application-controller", "argocd-server", "gpg-agent",
                 "sshd", "git-daemon"):
        assert any(name in cmd for cmd in started), f"{name} is not among the harness's processes: {started}"
    host_dir = loop.host.workdir
    loop.host.stop()
    left = processes_referring_to(host_dir)
    assert not left, f"processes of the Argo CD components survived stop(): {left}"
    assert loop.sshd.proc.poll() is None and loop.daemon.proc.poll() is None, "host.stop() ended the git servers too"
    workdir = loop.workdir
    loop.close()
    left = processes_referring_to(workdir)
    assert not left, f"processes of the pull loop survived close(): {left}"
    assert not loop.processes()
    if not loop.external:
        assert loop.cluster not in localcluster.known_clusters(), f"cluster {loop.cluster} still exists"
