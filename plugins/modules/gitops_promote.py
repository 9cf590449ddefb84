#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: gitops_promote
short_description: Promote one application from one environment of the infra repository to the next
version_added: 0.2.0
description:
  - Promotes the application O(application) from the environment O(source) to the next one in the promotion order
    (the C(environments) list of C(.gitops/validate.yaml)) by a pull request, never by a direct change of a cluster.
  - First it asks Argo CD, through the Application status on every cluster of the source environment (the clusters of
    C(.gitops/clusters/*.yaml) with that environment, the Applications of C(clusters/<cluster>/apps/) whose source path
    is the source overlay), whether the source runs the change. It refuses, with the Application's own reason (sync
    status, health, unhealthy resources, conditions, the last sync's message), when an Application is not Synced and
    Healthy or is synced at a revision that does not contain the last commit of the source overlay.
  - Then it writes the source overlay's pins (C(images) and C(helmCharts) entries, by name) into the target overlay,
    keeping what is the target's own (namespace, labels, replicas, patches, resources), commits that one file on top of
    O(revision) (git plumbing, the checkout's working tree and branches are not touched; the commit carries the dates of
    its parent, so the same promotion is the same commit), plans it for the target environment's clusters (as
    M(gitops.bootstrap.gitops_plan) does, render and diff), pushes it to the branch O(branch) and opens a pull request
    into O(base), or updates the open one. Its body lists the pins carried and the plan of the target environment.
  - With O(compare_only=true) it only reports how the two overlays differ (what the source runs that the target does
    not); nothing is asked of a cluster or a forge.
author:
  - gitops.bootstrap contributors (@gitops-bootstrap)
attributes:
  check_mode:
    support: full
    description:
      - Checks the source, makes the commit in the object store of the checkout (no ref) and the plan, and says whether
        the branch would be pushed and the pull request opened or updated; nothing is pushed or written to the forge.
  diff_mode:
    support: full
    description: The target overlay's kustomization before and after the promotion.
  idempotent:
    support: full
    description: A second run of the same promotion pushes nothing and leaves the pull request as it is.
options:
  repo:
    description: Path of a checkout of the infra repository that has O(revision) and the revisions Argo CD reports.
    type: path
    required: true
  revision:
    description: The revision of the checkout the promotion starts from. Defaults to C(origin/<base>).
    type: str
  base:
    description: The branch of the forge repository the pull request targets (the branch Argo CD syncs).
    type: str
    default: main
  application:
    description: The application, a folder under C(apps/) with C(overlays/<environment>/).
    type: str
    required: true
  source:
    description: The environment to promote from.
    type: str
    required: true
  target:
    description:
      - The environment to promote to. It must be the one after O(source) in the promotion order; by default it is.
    type: str
  compare_only:
    description: Only report how the overlays of O(source) and O(target) differ (RV(differences)); no cluster, no forge.
    type: bool
    default: false
  kubeconfigs:
    description:
      - Kubeconfig file per cluster of the source environment (cluster name -> path), through which the Application
        status is read. Every cluster of the source environment that runs the application needs one.
    type: dict
  request_timeout:
    description: Seconds for each request to a cluster's API server.
    type: float
    default: 30
  kustomize:
    description: The kustomize binary of the plan (the version Argo CD uses). Defaults to C(kustomize) on the PATH.
    type: path
  timeout:
    description: Seconds for each git and kustomize command.
    type: float
    default: 60
  forge:
    description: The forge of the infra repository. Required unless O(compare_only=true).
    type: str
    choices: [gitea, github, gitlab]
  api_url:
    description: The forge's API (or server) URL; required for Gitea.
    type: str
  token:
    description: API token of the forge user that pushes the branch and opens the pull request (write access).
    type: str
  forge_timeout:
    description: Seconds for each forge request.
    type: int
    default: 20
  validate_certs:
    description: Verify the forge's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify the forge's certificate with.
    type: path
  owner:
    description: Owner (user, organisation or group path) of the forge repository.
    type: str
  name:
    description: Name of the forge repository.
    type: str
  push_url:
    description:
      - HTTP(S) URL the branch is pushed to, with O(token) as the credential (sent in a header, never in the URL or on a
        command line). Defaults to the clone URL the forge gives for the repository.
    type: str
  branch:
    description: The branch of the promotion. Defaults to C(promote/<application>-<target>).
    type: str
"""

EXAMPLES = r"""
---
- name: Web is promoted from dev to staging by a pull request
  gitops.bootstrap.gitops_promote:
    repo: /srv/infra
    application: web
    source: dev
    kubeconfigs:
      dev: /run/secrets/dev-kubeconfig
    forge: gitea
    api_url: https://git.example.com
    token: "{{ gitea_token }}"
    owner: platform
    name: infra
  register: promotion

- name: What dev runs of web that staging does not
  gitops.bootstrap.gitops_promote:
    repo: /srv/infra
    application: web
    source: dev
    compare_only: true
  register: differences
"""

RETURN = r"""
application:
  description: The application promoted.
  returned: always
  type: str
source:
  description: The source environment.
  returned: always
  type: str
target:
  description: The target environment.
  returned: always
  type: str
  sample: staging
differences:
  description: Every key in which the source and target overlays differ, pins first (C(pin) true) then the rest.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "images[app].newTag", "what": "image app newTag", "pin": true, "source": "1.27", "target": "1.25"}]
summary:
  description:
    - "RV(differences) as lines, C(<what>: <as the target has it> -> <as the source has it>); keys that are not pins
      end in C((kept: <target> sets it))."
  returned: always
  type: list
  elements: str
  sample: ["image app newTag: 1.25 -> 1.27", "namespace: web-staging -> web-dev (kept: staging sets it)"]
sources:
  description: The Applications of the source environment that were checked, with the revision they run.
  returned: unless compare_only
  type: list
  elements: dict
  sample: [{"cluster": "dev", "application": "argocd/web", "revision": "4f1c...", "sync": "Synced", "health": "Healthy"}]
up_to_date:
  description: The target overlay pins already what the source pins; no branch and no pull request are made.
  returned: unless compare_only
  type: bool
commit:
  description: The commit of the promotion (the target overlay changed, on top of the revision).
  returned: when something is promoted
  type: str
branch:
  description: The branch of the promotion.
  returned: when something is promoted
  type: str
pushed:
  description: Whether the branch was pushed (or, in check mode, would be).
  returned: when something is promoted
  type: bool
plan:
  description: The plan of the target environment for the promotion (status, clusters with their counts, errors).
  returned: when something is promoted
  type: dict
pull_request:
  description: The pull request (number, url, state, title, head, base, created, updated).
  returned: when something is promoted, not in check mode
  type: dict
"""

import base64
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitops.bootstrap.plugins.module_utils import _plan
from ansible_collections.gitops.bootstrap.plugins.module_utils import _promote as P
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import summarise_application
from ansible_collections.gitops.bootstrap.plugins.module_utils._argspec import forge_connection_options
from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import ForgeError, Masker
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.pulls import pull_requests_for
from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.runner import build_provider, check_connection
from ansible_collections.gitops.bootstrap.plugins.module_utils._git import isolated_environ
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.client import (
    GitopsK8sError,
    auth_argument_spec,
    create_client,
    describe_exception,
    kubeconfig_problem,
    request_timeout_problem,
)
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.runner import run_manager
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s.service import K8sService

AUTHOR = ("gitops.bootstrap", "gitops-bootstrap@localhost")


class PromoteManager:
    """Check the source, carry the pins, plan the target, push the branch, open the pull request."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.masker = Masker([self.p.get("token")])

    # -- what the repository says ----------------------------------------------------------
    def run(self) -> dict:
        p = self.p
        repo = P.Repo(p["repo"], timeout=p["timeout"])
        revision = repo.resolve(p["revision"] or f"origin/{p['base']}")
        layout = P.Layout(repo, revision)
        app = p["application"]
        layout.check_application(app)
        nxt = layout.next_environment(p["source"])
        target = p["target"] or nxt
        layout.check_environment("target", target)
        if target != nxt:
            raise P.PromoteError(f"{target} does not follow {p['source']} in the promotion order ({' -> '.join(layout.environments)}): "
                                 f"promote {p['source']} to {nxt}")
        src_path, src = layout.overlay(app, p["source"])
        tgt_path, tgt = layout.overlay(app, target)
        diffs = P.overlay_differences(src, tgt, src_path, tgt_path)
        result = {"changed": False, "application": app, "source": p["source"], "target": target, "differences": diffs,
                  "summary": P.summary_lines(p["source"], target, diffs)}
        if p["compare_only"]:
            return result
        self._check_forge_options()
        result["sources"] = self.check_sources(repo, layout, app, p["source"], revision)
        promoted = P.carry_pins(src, tgt, src_path, tgt_path)
        result["up_to_date"] = P.pins(promoted, tgt_path) == P.pins(tgt, tgt_path)
        if result["up_to_date"]:
            return result
        text = P.dump_kustomization(promoted)
        branch = p["branch"] or f"promote/{app}-{target}"
        message = f"{P.title(app, p['source'], target)}\n\nCarries the pins of {src_path} to {tgt_path}."
        commit = P.commit_file(repo, revision, tgt_path, text, message, AUTHOR)
        plan = self.plan(layout, target, revision, commit)
        result.update(commit=commit, branch=branch,
                      plan={"status": plan["status"], "errors": plan["errors"],
                            "clusters": {c: e["counts"] for c, e in plan["clusters"].items()}})
        if self.module._diff:
            result["diff"] = {"before": repo.read(revision, tgt_path) or "", "after": text,
                              "before_header": f"{tgt_path} ({revision[:12]})", "after_header": f"{tgt_path} (promoted)"}
        pr_body = P.body(app, p["source"], target, tgt_path, diffs, result["sources"], _plan.markdown(plan))
        try:
            result.update(self.publish(repo, branch, commit, P.title(app, p["source"], target), pr_body))
        except ForgeError as exc:
            raise GitopsInputError(self.masker.mask(exc.msg)) from exc
        result["changed"] = result["pushed"] or result.get("pr_changed", False)
        result.pop("pr_changed", None)
        return result

    def _check_forge_options(self) -> None:
        missing = [o for o in ("forge", "token", "owner", "name") if not (self.p.get(o) or "").strip()]
        if missing:
            raise P.PromoteError(f"a promotion opens a pull request: give {', '.join(missing)} (or compare_only: true)")
        try:
            check_connection(self.p, "forge_timeout", "a user who may push branches and open pull requests")
        except ForgeError as exc:
            raise P.PromoteError(self.masker.mask(exc.msg)) from None

    # -- the source's state ------------------------------------------------------------------
    def check_sources(self, repo, layout, app, source, revision) -> list[dict]:
        overlay = layout.overlay_path(app, source)
        clusters = layout.clusters_of(source)
        running = [(c, a) for c in clusters for a in layout.applications(c, overlay)]
        if not running:
            raise P.PromoteError(f"no cluster of environment {source} runs {app}: no Application in clusters/<cluster>/apps/ "
                                 f"of {', '.join(clusters) or 'any cluster (none has environment ' + source + ')'} has the source "
                                 f"path {overlay}")
        kubeconfigs = self.p["kubeconfigs"] or {}
        unknown = sorted(set(kubeconfigs) - set(layout.clusters))
        if unknown:
            raise P.PromoteError(f"kubeconfigs: unknown cluster(s) {', '.join(map(repr, unknown))}: the repository has "
                                 f"{', '.join(sorted(layout.clusters)) or 'no cluster'}")
        missing = sorted({c for c, _a in running if not kubeconfigs.get(c)})
        if missing:
            raise P.PromoteError(f"kubeconfigs: no kubeconfig for cluster(s) {', '.join(missing)} of environment {source}, "
                                 f"which run {app}: the promotion asks their Argo CD whether they run the change")
        change = repo.last_change(revision, overlay)
        checked, problems = [], []
        for cluster, (name, namespace) in running:
            where = f"{namespace}/{name} (cluster {cluster})"
            service = self.service(kubeconfigs[cluster])
            live = service.get("Application", P.APPLICATION_API, name, namespace)
            problem = P.application_problem(live, where, change, repo.contains, repo.has_commit,
                                            self.resource_details(service, live) if live else None)
            if problem:
                problems.append(problem)
                continue
            summary = summarise_application(live)
            checked.append({"cluster": cluster, "application": f"{namespace}/{name}", "revision": summary["revision"],
                            "sync": summary["sync"], "health": summary["health"]})
        if problems:
            raise P.PromotionRefused(f"{app} is not promoted from {source}: " + "; ".join(problems))
        return checked

    @staticmethod
    def resource_details(service: K8sService, app: dict) -> list[str]:
        """What the Application's live resources say, when Argo CD keeps no resource health in the status."""
        details = []
        for res in P.unhealthy_without_message(app):
            api_version = f"{res['group']}/{res.get('version') or 'v1'}" if res.get("group") else res.get("version") or "v1"
            try:
                obj = service.get(res["kind"], api_version, res["name"], res.get("namespace") or None, unserved_is_absent=True)
            except GitopsK8sError:
                continue
            if obj:
                details.extend(P.failing_conditions(obj))
        return details

    def service(self, kubeconfig: str) -> K8sService:
        params = {name: spec.get("default") for name, spec in auth_argument_spec().items()}
        params.update(kubeconfig=kubeconfig, request_timeout=self.p["request_timeout"])
        problem = kubeconfig_problem(params)
        if problem:
            raise GitopsK8sError(problem)

        def connect():
            try:
                return create_client(params)
            except GitopsK8sError:
                raise
            except Exception as exc:  # pylint: disable=broad-except
                raise GitopsK8sError(describe_exception(exc, f"Connecting to the cluster of kubeconfig {kubeconfig}")) from exc
        return K8sService(connect, check_mode=True)

    # -- the target's plan -----------------------------------------------------------------
    def plan(self, layout, target, revision, commit) -> dict:
        clusters = layout.clusters_of(target)
        try:
            plan, _objects = _plan.make_plan(self.p["repo"], revision, commit, self.p["kustomize"] or "kustomize",
                                             clusters=clusters or None, timeout=self.p["timeout"])
        except (_plan.PlanError, _plan.ManifestError) as exc:
            raise P.PromoteError(f"the plan of {target} could not be made: {exc}") from exc
        return plan

    # -- the branch and the pull request ------------------------------------------------------
    def publish(self, repo, branch, commit, pr_title, pr_body) -> dict:
        p = self.p
        provider = build_provider(p, self.masker, timeout_option="forge_timeout")
        info = provider.get_repo(p["owner"], p["name"])
        if info is None:
            raise P.PromoteError(f"repository {p['owner']}/{p['name']} does not exist on {provider.label} (or the token cannot see it)")
        url = p["push_url"] or info.clone_url
        if not url.startswith(("https://", "http://")):
            raise P.PromoteError(f"push_url {url!r} is not an HTTP(S) URL: the branch is pushed with the token over HTTP(S)")
        env = self.git_env(provider.whoami().login, url)
        rc, out, err = repo.git("ls-remote", url, f"refs/heads/{branch}", env=env)
        if rc != 0:
            raise P.PromoteError(self.masker.mask(f"reading branch {branch} of {url} failed: {err.decode(errors='replace').strip()}"))
        seen = out.decode().split("\t", 1)[0].strip() if out.strip() else ""
        pushed = seen != commit
        if pushed and not self.module.check_mode:
            rc, out, err = repo.git("push", "--porcelain", "--no-verify", f"--force-with-lease=refs/heads/{branch}:{seen}",
                                    url, f"{commit}:refs/heads/{branch}", env=env)
            if rc != 0:
                raise P.PromoteError(self.masker.mask(f"pushing {branch} to {url} failed: {(err + out).decode(errors='replace').strip()}"))
        pulls = pull_requests_for(provider)
        found = pulls.find(info, branch, p["base"])
        pr = found.open
        pr_changed = pr is None or pr.title != pr_title or (pr.body or "").strip() != pr_body.strip()
        result = {"pushed": pushed, "pr_changed": pr_changed}
        if self.module.check_mode:
            return result
        if pr is None:
            pr = pulls.create(info, branch, p["base"], pr_title, pr_body, [])
            result["pull_request"] = pr.public(created=True, updated=False)
        elif pr_changed:
            pr = pulls.update(info, pr, title=pr_title, body=pr_body, add_labels=[])
            result["pull_request"] = pr.public(created=False, updated=True)
        else:
            result["pull_request"] = pr.public(created=False, updated=False)
        return result

    def git_env(self, login: str, url: str) -> dict:
        """git's environment for URL: the token as a basic-auth header from the environment (never argv)."""
        raw = base64.b64encode(f"{login}:{self.p['token']}".encode()).decode()
        self.masker.add(raw)
        env = {k: v for k, v in isolated_environ(dict(os.environ), {}).items()
               if not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))}
        env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_COUNT="2", GIT_CONFIG_KEY_0="http.extraHeader",
                   GIT_CONFIG_VALUE_0=f"Authorization: Basic {raw}", GIT_CONFIG_KEY_1="credential.helper", GIT_CONFIG_VALUE_1="")
        return env


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo=dict(type="path", required=True),
            revision=dict(type="str"),
            base=dict(type="str", default="main"),
            application=dict(type="str", required=True),
            source=dict(type="str", required=True),
            target=dict(type="str"),
            compare_only=dict(type="bool", default=False),
            kubeconfigs=dict(type="dict"),
            request_timeout=dict(type="float", default=30),
            kustomize=dict(type="path"),
            timeout=dict(type="float", default=60),
            **forge_connection_options(required=False, timeout_option="forge_timeout"),
            owner=dict(type="str"),
            name=dict(type="str"),
            push_url=dict(type="str"),
            branch=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if not P.HAS_YAML:
        module.fail_json(msg="gitops_promote needs PyYAML on the host that runs it: pip install PyYAML")
    for option in ("timeout", "request_timeout"):
        problem = request_timeout_problem(module.params[option])
        if problem:
            module.fail_json(msg=problem.replace("request_timeout", option))
    manager = PromoteManager(module)
    run_manager(module, manager.run, "Promoting the application", input_errors=(ForgeError,))


if __name__ == "__main__":
    main()
