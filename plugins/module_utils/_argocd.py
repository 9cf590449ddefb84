# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD knowledge shared by the argocd_* modules of gitops.bootstrap.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Everything here works offline (no API calls) so that the modules can refuse bad input
before they touch a cluster: name checks, Application spec generation and validation,
RBAC policy line generation and validation, AppProject role policy checks, summaries of
Application status that a person can read, known_hosts merging, secret masking for diffs.
The polling helper (wait_until) is the service layer's, in _k8s.
"""


import copy
import csv
import fnmatch
import hashlib
import re

from ansible_collections.gitops.bootstrap.plugins.module_utils._objects import FIELD_MANAGER, IN_CLUSTER_SERVER, object_ref, resource_ref
from ansible_collections.gitops.bootstrap.plugins.module_utils._errors import GitopsInputError
from ansible_collections.gitops.bootstrap.plugins.module_utils._k8s import GitopsK8sModule
from ansible_collections.gitops.bootstrap.plugins.module_utils._secrets import mask_secret
from ansible_collections.gitops.bootstrap.plugins.module_utils._names import (
    dns1123_label_error,
    dns1123_subdomain_error,
    is_valid as name_is_valid,
    whitespace_hint,
)

API_VERSION = "argoproj.io/v1alpha1"
PART_OF_LABEL = "app.kubernetes.io/part-of"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
DEFAULT_SERVER = IN_CLUSTER_SERVER

RBAC_CONFIGMAP = "argocd-rbac-cm"
KNOWN_HOSTS_CONFIGMAP = "argocd-ssh-known-hosts-cm"
KNOWN_HOSTS_KEY = "ssh_known_hosts"
TLS_CERTS_CONFIGMAP = "argocd-tls-certs-cm"

CRD_NAMES = (
    "applications.argoproj.io",
    "applicationsets.argoproj.io",
    "appprojects.argoproj.io",
)

# ------------------------------------------------------------------------------ RBAC facts
# Resources and actions of the Argo CD RBAC model of the pinned major version (v3):
# util/rbac/rbac.go (Resources, Actions) and the table in docs/operator-manual/rbac.md.
RBAC_ACTIONS = {
    "applications": ("get", "create", "update", "delete", "sync", "override", "action"),
    "applicationsets": ("get", "create", "update", "delete"),
    "clusters": ("get", "create", "update", "delete"),
    "projects": ("get", "create", "update", "delete"),
    "repositories": ("get", "create", "update", "delete"),
    "write-repositories": ("get", "create", "update", "delete"),
    "accounts": ("get", "update"),
    "certificates": ("get", "create", "update", "delete"),
    "gpgkeys": ("get", "create", "delete"),
    "logs": ("get",),
    "exec": ("create",),
    "extensions": ("invoke",),
}
RBAC_RESOURCES = tuple(sorted(RBAC_ACTIONS))
# Actions written with a sub-resource path, e.g. update/apps/Deployment/ns/name.
RBAC_SUBRESOURCE_ACTIONS = {
    "applications": ("update/", "delete/", "action/"),
}
# Resources whose object is <project>/<name> (util/rbac/rbac.go ProjectScoped); for the first
# four the project part is required, clusters and repositories also accept a bare object.
RBAC_PROJECT_OBJECT_REQUIRED = ("applications", "applicationsets", "logs", "exec")
# Resources an AppProject role may grant (AppProject validatePolicy accepts the project-scoped ones).
PROJECT_ROLE_RESOURCES = ("applications", "applicationsets", "clusters", "exec", "logs", "repositories")
BUILTIN_ROLES = ("role:admin", "role:readonly")
RBAC_EFFECTS = ("allow", "deny")


class ArgoCDValidationError(GitopsInputError):
    """Argo CD input that cannot be applied; the message says what is wrong and what to do."""


class ArgoCDModule(GitopsK8sModule):
    """The module class of the argocd_* modules. The connection, its request timeout and the check of
    the kubeconfig are GitopsK8sModule's, the same for every module of the collection."""


class ObjectManager:
    """The base of the argocd_* managers of one named object: its module, parameters, name, namespace and reference."""

    KIND = None  # the kind that names the object in messages (Application, AppProject, Secret)

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params["name"]
        self.namespace = self.params["namespace"]
        self.ref = object_ref(self.KIND, self.name, self.namespace)


def check_errors(errors, what):
    """Raise one ArgoCDValidationError listing every problem found."""
    errors = [e for e in errors if e]
    if not errors:
        return
    if len(errors) == 1:
        raise ArgoCDValidationError("%s: %s" % (what, errors[0]))
    raise ArgoCDValidationError("%s: %d problems: %s" % (what, len(errors), " ".join("(%d) %s" % (i + 1, e) for i, e in enumerate(errors))))


def field_manager_for(suffix):
    """A field manager name for one ConfigMap key (or key set) shared with other owners.

    Server-side apply removes fields a manager stopped sending, so two callers that merge
    different keys into the same ConfigMap must use different managers; otherwise the second
    would delete the keys of the first. Names stay within the API's 128 character limit.
    """
    name = "%s/%s" % (FIELD_MANAGER, suffix)
    if len(name) > 128:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        name = name[:115] + "-" + digest
    return name


# ------------------------------------------------------------------------------ generic helpers
def deep_merge(base, override):
    """Merge override into a copy of base: dicts recursively, everything else replaced."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def drop_none(data):
    """A copy of a dict without keys whose value is None."""
    return dict((k, v) for k, v in data.items() if v is not None)


def data_as_text(data):
    """ConfigMap-style data as YAML-like text, multi-line values as blocks, for readable diffs."""
    import json

    lines = []
    for key in sorted(data or {}):
        value = data[key]
        if value is None:
            continue
        value = str(value)
        if "\n" in value:
            lines.append("%s: |" % key)
            lines.extend(("  " + line) if line else "" for line in value.splitlines())
        else:
            lines.append("%s: %s" % (key, json.dumps(value)))
    return "\n".join(lines) + ("\n" if lines else "")


def object_as_text(obj):
    """An object as YAML text for diffs (empty string for a missing object)."""
    if not obj:
        return ""
    import yaml

    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True)


def configmap_data_text(obj):
    """The data of a ConfigMap (None when absent) as text for a diff."""
    return data_as_text((obj or {}).get("data") or {})


def text_diff(ref, before, after, view=object_as_text, note=None):
    """The diff of one object as every argocd_* module returns it: both sides as text, headers naming the object.

    ``view`` turns one side into text (the whole object by default; the data of a ConfigMap, a masked
    Secret); ``note`` says what the text leaves out ("secret values hidden").
    """
    suffix = f", {note}" if note else ""
    return {
        "before": view(before),
        "after": view(after),
        "before_header": f"{ref} (before{suffix})",
        "after_header": f"{ref} (after{suffix})",
    }


# ------------------------------------------------------------------------------ Application
def _kinds(items):
    if items is None:
        return None
    return [{"group": i.get("group") or "", "kind": i["kind"]} for i in items]


def build_project(params):
    """Generate an AppProject definition from the argocd_project module parameters.

    Raises ArgoCDValidationError (listing every problem) when the result cannot work;
    nothing here talks to the API. Options left out or None are not set.
    """
    p = params
    name = p.get("name")
    namespace = p.get("namespace") or "argocd"
    errors = [dns1123_subdomain_error(name, "project name"), dns1123_label_error(namespace, "namespace")]
    spec = {"sourceRepos": list(p.get("source_repos") or [])}
    destinations = []
    for index, dest in enumerate(p.get("destinations") or []):
        dest = drop_none(dict(dest))
        if not dest.get("server") and not dest.get("name"):
            errors.append("destinations[%d] needs server or name (use '*' to mean any cluster)." % index)
        destinations.append(dest)
    spec["destinations"] = destinations
    seen = set()
    for repo in spec["sourceRepos"]:
        if not repo:
            errors.append("source_repos contains an empty entry.")
        if repo in seen:
            errors.append("source repository %r is listed twice." % repo)
        seen.add(repo)
    if p.get("description") is not None:
        spec["description"] = p["description"]
    for option, field in (
        ("cluster_resource_whitelist", "clusterResourceWhitelist"),
        ("cluster_resource_blacklist", "clusterResourceBlacklist"),
        ("namespace_resource_whitelist", "namespaceResourceWhitelist"),
        ("namespace_resource_blacklist", "namespaceResourceBlacklist"),
    ):
        if p.get(option) is not None:
            spec[field] = _kinds(p[option])
    if p.get("roles") is not None:
        roles = []
        names = set()
        for role in p["roles"]:
            errors.extend(project_role_errors(name, role))
            if role["name"] in names:
                errors.append("role %s is defined twice." % role["name"])
            names.add(role["name"])
            entry = {"name": role["name"], "policies": list(role.get("policies") or []), "groups": list(role.get("groups") or [])}
            if role.get("description") is not None:
                entry["description"] = role["description"]
            roles.append(entry)
        spec["roles"] = roles
    if p.get("source_namespaces") is not None:
        spec["sourceNamespaces"] = list(p["source_namespaces"])
    if p.get("destination_service_accounts") is not None:
        accounts = []
        for index, entry in enumerate(p["destination_service_accounts"]):
            account = entry.get("default_service_account") or ""
            if not account.strip() or any(ch in account for ch in "!*[]{}\\/"):
                errors.append("destination_service_accounts[%d] needs default_service_account, a ServiceAccount name "
                              "('<namespace>:<name>' or '<name>'), without glob characters." % index)
            accounts.append(drop_none({"server": entry.get("server"), "namespace": entry.get("namespace"),
                                       "defaultServiceAccount": account}))
        spec["destinationServiceAccounts"] = accounts
    if p.get("orphaned_resources") is not None:
        spec["orphanedResources"] = p["orphaned_resources"]
    if p.get("sync_windows") is not None:
        for index, window in enumerate(p["sync_windows"]):
            errors.extend(sync_window_errors(window, index))
        spec["syncWindows"] = p["sync_windows"]
    check_errors(errors, "AppProject %s/%s is invalid" % (namespace, name))
    return {"apiVersion": API_VERSION, "kind": "AppProject", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def build_application(params):
    """Generate an Application definition from the module parameters.

    Raises ArgoCDValidationError (listing every problem) when the result cannot work;
    nothing here talks to the API.
    """
    errors = []
    name = params.get("name")
    namespace = params.get("namespace") or "argocd"
    errors.append(dns1123_subdomain_error(name, "Application name"))
    errors.append(dns1123_label_error(namespace, "namespace"))
    project = params.get("project") or "default"
    errors.append(dns1123_subdomain_error(project, "project"))

    raw = params.get("spec") or {}
    if not isinstance(raw, dict):
        errors.append("spec must be a dictionary of Application spec fields.")
        raw = {}

    source = drop_none(
        {
            "repoURL": params.get("repo_url"),
            "path": params.get("path"),
            "targetRevision": params.get("target_revision") or "HEAD",
        }
    )
    server = params.get("destination_server")
    dest_name = params.get("destination_name")
    raw_dest = raw.get("destination") if isinstance(raw.get("destination"), dict) else {}
    if server is None and dest_name is None and not raw_dest.get("name") and not raw_dest.get("server"):
        server = DEFAULT_SERVER
    destination = drop_none({"server": server, "name": dest_name, "namespace": params.get("destination_namespace")})

    spec = {"project": project, "destination": destination}
    if "sources" in raw or "sourceHydrator" in raw:
        if params.get("repo_url") or params.get("path"):
            errors.append(
                "repo_url/path describe a single source, but spec also sets %s; give the sources in one place only."
                % ("sources" if "sources" in raw else "sourceHydrator")
            )
    else:
        spec["source"] = source

    sync_policy = params.get("sync_policy") or {}
    policy = {}
    if sync_policy.get("automated", True):
        policy["automated"] = {
            "enabled": True,
            "prune": bool(sync_policy.get("prune", True)),
            "selfHeal": bool(sync_policy.get("self_heal", True)),
            "allowEmpty": bool(sync_policy.get("allow_empty", False)),
        }
    retry = sync_policy.get("retry") or {}
    backoff = retry.get("backoff") or {}
    limit = retry.get("limit", 5)
    if limit is None:
        limit = 5
    factor = backoff.get("factor")
    policy["retry"] = {
        "limit": limit,
        "backoff": {
            "duration": str(backoff.get("duration") or "5s"),
            "factor": 2 if factor is None else factor,
            "maxDuration": str(backoff.get("max_duration") or "3m"),
        },
    }
    if sync_policy.get("sync_options"):
        policy["syncOptions"] = list(sync_policy["sync_options"])
    spec["syncPolicy"] = policy

    spec = deep_merge(spec, raw)
    errors.extend(application_spec_errors(spec))
    check_errors(errors, "Application %s/%s is invalid" % (namespace, name))

    metadata = {"name": name, "namespace": namespace}
    if params.get("labels"):
        metadata["labels"] = dict((k, str(v)) for k, v in params["labels"].items())
    if params.get("annotations"):
        metadata["annotations"] = dict((k, str(v)) for k, v in params["annotations"].items())
    if params.get("finalizer", True):
        metadata["finalizers"] = [RESOURCES_FINALIZER]
    return {"apiVersion": API_VERSION, "kind": "Application", "metadata": metadata, "spec": spec}


# A Go duration or a number of seconds; always matched against the whole value (fullmatch).
_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+|[0-9]+")


def _source_errors(source, where):
    errors = []
    if not isinstance(source, dict):
        return ["%s must be a dictionary." % where]
    if not source.get("repoURL"):
        errors.append("%s has no repository URL: set repo_url (or repoURL in spec)." % where)
    has_path = source.get("path") not in (None, "")
    has_chart = bool(source.get("chart"))
    has_ref = bool(source.get("ref"))
    if not (has_path or has_chart or has_ref):
        errors.append("%s has neither a path nor a Helm chart: set path (use '.' for the repository root) or chart in spec." % where)
    if has_path and has_chart:
        errors.append("%s sets both path and chart; a source is either a directory in a repository or a Helm chart." % where)
    path = source.get("path") or ""
    if path.startswith("/") or ".." in path.split("/"):
        errors.append("%s path %r must be relative to the repository root and must not leave it." % (where, path))
    return errors


def application_spec_errors(spec):
    """Every problem in an Application spec that can be seen without a cluster."""
    errors = []
    sources = spec.get("sources")
    if sources is not None:
        if not isinstance(sources, list) or not sources:
            errors.append("spec.sources must be a non-empty list of sources.")
        else:
            for index, src in enumerate(sources):
                errors.extend(_source_errors(src, "spec.sources[%d]" % index))
        if spec.get("source"):
            errors.append("spec sets both source and sources; use one.")
    elif "sourceHydrator" in spec:
        if not isinstance(spec["sourceHydrator"], dict) or not (spec["sourceHydrator"].get("drySource") or {}).get("repoURL"):
            errors.append("spec.sourceHydrator needs drySource.repoURL.")
    else:
        errors.extend(_source_errors(spec.get("source"), "the source"))

    dest = spec.get("destination")
    if not isinstance(dest, dict):
        errors.append("spec.destination must be a dictionary.")
    else:
        if dest.get("server") and dest.get("name"):
            errors.append(
                "the destination sets both server (%s) and name (%s); Argo CD accepts only one. Give destination_server "
                "or destination_name." % (dest.get("server"), dest.get("name"))
            )
        elif not dest.get("server") and not dest.get("name"):
            errors.append("the destination needs a cluster: set destination_server or destination_name.")
        if dest.get("server") and not re.match(r"^https?://", dest["server"]):
            errors.append("destination_server %r must be the https:// URL of a Kubernetes API server." % dest["server"])
        if dest.get("namespace"):
            errors.append(dns1123_label_error(dest["namespace"], "destination_namespace"))

    policy = spec.get("syncPolicy") or {}
    retry = policy.get("retry") or {}
    if "limit" in retry:
        try:
            if int(retry["limit"]) < -1:
                errors.append("sync_policy.retry.limit must be -1 (unlimited), 0 (no retries) or a positive number.")
        except (TypeError, ValueError):
            errors.append("sync_policy.retry.limit must be a number.")
    backoff = retry.get("backoff") or {}
    for key, label in (("duration", "duration"), ("maxDuration", "max_duration")):
        if key in backoff and not _DURATION.fullmatch(str(backoff[key])):
            errors.append("sync_policy.retry.backoff.%s %r is not a duration like '5s', '2m' or '1h'." % (label, backoff[key]))
    if "factor" in backoff:
        try:
            if int(backoff["factor"]) < 1:
                errors.append("sync_policy.retry.backoff.factor must be at least 1.")
        except (TypeError, ValueError):
            errors.append("sync_policy.retry.backoff.factor must be a whole number.")
    for option in policy.get("syncOptions") or []:
        if not isinstance(option, str) or "=" not in option:
            errors.append("sync option %r must be written Name=value, e.g. CreateNamespace=true." % (option,))
    return [e for e in errors if e]


def application_spec_is_compared(app):
    """Whether the controller's last comparison was made against the current spec.

    Argo CD records the source and destination it compared in status.sync.comparedTo. When
    that is absent we cannot tell and accept the status as it is.
    """
    spec = app.get("spec") or {}
    compared = ((app.get("status") or {}).get("sync") or {}).get("comparedTo")
    if not compared:
        return True
    for key in ("source", "sources", "destination"):
        if key in compared or key in spec:
            if _norm(compared.get(key)) != _norm(spec.get(key)):
                return False
    return True


def _norm(value):
    if isinstance(value, dict):
        return dict((k, _norm(v)) for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def summarise_application(app):
    """Summarise an Application's status as data and as sentences a person can act on."""
    status = (app or {}).get("status") or {}
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    op_state = status.get("operationState") or {}
    conditions = [
        {"type": c.get("type"), "message": c.get("message")}
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    ]
    not_synced = []
    unhealthy = []
    for res in status.get("resources") or []:
        if not isinstance(res, dict):
            continue
        entry = {
            "group": res.get("group") or "",
            "kind": res.get("kind"),
            "namespace": res.get("namespace") or "",
            "name": res.get("name"),
            "status": res.get("status"),
            "health": (res.get("health") or {}).get("status"),
            "message": (res.get("health") or {}).get("message"),
        }
        if res.get("status") and res.get("status") != "Synced":
            not_synced.append(entry)
        if entry["health"] and entry["health"] != "Healthy":
            unhealthy.append(entry)

    sync_status = sync.get("status") or "Unknown"
    health_status = health.get("status") or "Unknown"
    reasons = []
    if not status:
        reasons.append("the application has no status yet: the Argo CD application controller has not reconciled it (is it running?)")
    else:
        if not application_spec_is_compared(app):
            reasons.append("the application controller has not yet compared the current spec (status describes an older spec)")
        if sync_status != "Synced":
            text = "sync status is %s" % sync_status
            if not_synced:
                text += ": %d resource(s) not synced: %s" % (
                    len(not_synced),
                    ", ".join("%s (%s)" % (resource_ref(r, with_group=True), r["status"]) for r in not_synced),
                )
            reasons.append(text)
        if health_status != "Healthy":
            text = "health is %s" % health_status
            if unhealthy:
                text += ": %s" % ", ".join(
                    "%s is %s%s" % (resource_ref(r, with_group=True), r["health"], (": " + r["message"]) if r.get("message") else "")
                    for r in unhealthy
                )
            reasons.append(text)
    for cond in conditions:
        reasons.append("condition %s: %s" % (cond["type"], cond["message"]))
    phase = op_state.get("phase")
    if phase in ("Failed", "Error"):
        text = "the last sync operation %s" % ("failed" if phase == "Failed" else "ended in an error")
        if op_state.get("message"):
            text += ": %s" % op_state["message"]
        failed = [
            r
            for r in ((op_state.get("syncResult") or {}).get("resources") or [])
            if isinstance(r, dict) and r.get("status") == "SyncFailed"
        ]
        if failed:
            text += " (%s)" % ", ".join("%s: %s" % (resource_ref(r, with_group=True), r.get("message") or "sync failed") for r in failed)
        reasons.append(text)
    elif phase == "Running":
        reasons.append("a sync operation is still running%s" % ((": " + op_state["message"]) if op_state.get("message") else ""))
    if (app or {}).get("operation") and phase != "Running":
        reasons.append("a requested operation has not been started by the application controller yet")
    annotations = ((app or {}).get("metadata") or {}).get("annotations") or {}
    if REFRESH_ANNOTATION in annotations:
        reasons.append("a %s refresh was requested and the controller has not processed it yet" % annotations[REFRESH_ANNOTATION])

    return {
        "sync": sync_status,
        "health": health_status,
        "revision": sync.get("revision") or (sync.get("revisions") or [None])[0],
        "conditions": conditions,
        "resources_not_synced": not_synced,
        "resources_unhealthy": unhealthy,
        "operation_phase": phase,
        "reasons": reasons,
        "message": "; ".join(reasons) if reasons else "Synced and Healthy",
    }


def application_ready(app):
    """Synced, Healthy, nothing pending, and the status describes the current spec."""
    if not app:
        return False
    summary = summarise_application(app)
    return summary["sync"] == "Synced" and summary["health"] == "Healthy" and not summary["reasons"]


# ------------------------------------------------------------------------------ RBAC lines
def split_policy_line(line):
    """Split one policy line into trimmed fields the way Argo CD reads its CSV."""
    return [field.strip() for field in line.split(",")]


def _matches_any(pattern, names, match_mode):
    if pattern == "*":
        return list(names)
    if match_mode == "regex":
        try:
            regex = re.compile(pattern)
        except re.error:
            return []
        return [n for n in names if regex.fullmatch(n)]
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def _field_error(value, label):
    """The problem of one field of a policy line, or None; an empty or blank field is never filled in."""
    if value is None or str(value).strip() == "":
        return "%s is empty" % label
    text = str(value)
    if "," in text or "\n" in text or "\r" in text:
        return "%s %r contains a comma or line break, which would split the CSV line" % (label, text)
    if text != text.strip():
        return "%s %r has leading or trailing spaces" % (label, text)
    return None


def policy_line_errors(fields, match_mode="glob"):
    """Problems of one `p` policy given as [subject, resource, action, object, effect].

    Every field is required: an empty effect (a template that rendered empty) is an error, never allow.
    """
    subject, resource, action, obj, effect = fields
    errors = [
        _field_error(subject, "subject"),
        _field_error(resource, "resource"),
        _field_error(action, "action"),
        _field_error(obj, "object"),
        _field_error(effect, "effect"),
    ]
    errors = [e for e in errors if e]
    if errors:
        return errors
    resources = _matches_any(resource, RBAC_RESOURCES, match_mode)
    if not resources:
        errors.append(
            "resource %r is not an Argo CD resource (known: %s)" % (resource, ", ".join(RBAC_RESOURCES))
        )
    else:
        ok = False
        for res in resources:
            if _matches_any(action, RBAC_ACTIONS[res], match_mode):
                ok = True
                break
            prefixes = RBAC_SUBRESOURCE_ACTIONS.get(res, ())
            if any(action.startswith(p) and len(action) > len(p) for p in prefixes):
                ok = True
                break
        if not ok:
            known = sorted(set(a for r in resources for a in RBAC_ACTIONS[r]))
            extra = sorted(set(p + "..." for r in resources for p in RBAC_SUBRESOURCE_ACTIONS.get(r, ())))
            errors.append(
                "action %r is not valid for resource %r (valid: %s)" % (action, resource, ", ".join(known + extra + ["*"]))
            )
        if (
            match_mode == "glob"
            and resource in RBAC_PROJECT_OBJECT_REQUIRED
            and obj != "*"
            and "/" not in obj
        ):
            errors.append(
                "object %r of a %s policy must be written <project>/<name> (for example %s/*), or * for all"
                % (obj, resource, obj)
            )
    if effect not in RBAC_EFFECTS:
        errors.append("effect %r must be allow or deny" % (effect,))
    return errors


def render_p_line(subject, resource, action, obj, effect):
    return "p, %s, %s, %s, %s, %s" % (subject, resource, action, obj, effect)


def render_g_line(subject, role):
    return "g, %s, %s" % (subject, role)


# ------------------------------------------------------------------------------ RBAC roles
def read_policy_csv(text):
    """Read policy CSV text the way Argo CD loads it.

    Returns ``(grants, inherits, malformed)``: the subjects of ``p`` lines, the ``(member, role)``
    pairs of ``g`` lines, and ``(line_number, line, reason)`` for every line Argo CD cannot use.
    Argo CD loads policy.csv and every policy.*.csv key as one policy, so one such line in any key
    breaks RBAC for all of them.
    """
    grants, inherits, malformed = set(), [], []
    for number, raw in enumerate((text or "").split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            fields = [f.strip() for f in next(csv.reader([line], skipinitialspace=True, strict=True))]
        except csv.Error as exc:
            malformed.append((number, line, "it cannot be read as CSV (%s)" % exc))
            continue
        kind = fields[0]
        if kind == "p" and len(fields) == 6 and all(fields[1:]):
            grants.add(fields[1])
        elif kind == "g" and len(fields) == 3 and all(fields[1:]):
            inherits.append((fields[1], fields[2]))
        elif kind == "p":
            malformed.append((number, line, "a p line has 6 non-empty fields (p, subject, resource, action, object, effect)"))
        elif kind == "g":
            malformed.append((number, line, "a g line has 3 non-empty fields (g, member, role)"))
        else:
            malformed.append((number, line, "it is neither a p line nor a g line"))
    return grants, inherits, malformed


def resolve_defined_roles(grants=(), inherits=(), defined=()):
    """Every name that holds permissions: the built-in roles, the subjects of p lines (``grants``),
    the names in ``defined``, and, through g lines (``inherits``: (member, role) pairs), every
    member of a defined role, transitively (``g, role:ops, role:readonly`` defines role:ops).

    Each name is visited once, so roles that only inherit from each other end the walk and stay
    undefined.
    """
    members = {}
    for member, role in inherits:
        members.setdefault(role, set()).add(member)
    result = set(BUILTIN_ROLES) | set(grants) | set(defined)
    pending = list(result)
    while pending:
        role = pending.pop()
        for member in members.get(role, ()):
            if member not in result:
                result.add(member)
                pending.append(member)
    return result


def policy_defined_roles(texts, defined=()):
    """The names defined by several policy CSV texts read together (see resolve_defined_roles)."""
    grants, inherits = set(), []
    for text in texts:
        text_grants, text_inherits, _malformed = read_policy_csv(text)
        grants |= text_grants
        inherits.extend(text_inherits)
    return resolve_defined_roles(grants, inherits, defined)


def roles_defined_in_csv(text):
    """The roles one policy text defines: subjects of `p` lines, and roles (role:...) that inherit from a defined role."""
    grants, inherits, _malformed = read_policy_csv(text)
    defined = resolve_defined_roles(grants, inherits)
    return set(grants) | set(m for m, _r in inherits if m.startswith("role:") and m in defined)


def malformed_policy_lines(data, skip=()):
    """Every line of the policy keys of argocd-rbac-cm ``data`` that Argo CD cannot use, except in the keys ``skip``.

    Returns ``(key, line_number, line, reason)`` tuples, sorted by key.
    """
    found = []
    for key in sorted(data or {}):
        if key in skip or not is_policy_csv_key(key):
            continue
        for number, line, reason in read_policy_csv(data[key])[2]:
            found.append((key, number, line, reason))
    return found


def is_policy_csv_key(key):
    """policy.csv and the policy.<name>.csv keys that Argo CD appends to it."""
    return key == "policy.csv" or (key.startswith("policy.") and key.endswith(".csv") and len(key) > len("policy..csv"))


def _undefined_role_error(role, inherits, defined):
    parents = sorted(set(r for m, r in inherits if m == role))
    if parents:
        how = "it inherits only from %s, which %s not defined either" % (", ".join(parents), "is" if len(parents) == 1 else "are")
    else:
        how = "no policy line grants it anything and it inherits from no defined role"
    return (
        "role %r is not defined: %s, and it is not built in (%s). Add policies for it, let it inherit from a defined "
        "role (g, %s, role:readonly), or bind an existing role" % (role, how, ", ".join(BUILTIN_ROLES), role)
    )


def build_policy_csv(policies, groups, match_mode="glob", other_roles=(), check_roles=True, other_policies=()):
    """Render structured policies and group bindings into policy CSV text.

    policies: list of dicts {subject, resource, action, object, effect}; every field must be
      non-empty (effect defaults to allow only when the key is absent, never when it is empty).
    groups:   list of dicts {group, role}
    other_roles: names known to be defined elsewhere, accepted by g lines.
    other_policies: the policy CSV texts of the other keys of the live ConfigMap; their p lines
      define roles and their g lines let roles inherit, as the lines of this input do.
    check_roles: False skips the check that g lines bind defined roles (for an offline first pass
      before the other keys of the live ConfigMap are known).

    A g line must bind a defined role: a built-in one, one that a p line grants something, or one
    that inherits (through g lines of this input or of other_policies) from a defined role.
    Lines are de-duplicated and sorted (p lines, then g lines) so the text is stable whatever the
    input order. Raises ArgoCDValidationError naming every bad line and field.
    """
    errors = []
    p_lines = set()
    subjects = set()
    for index, pol in enumerate(policies or []):
        if not isinstance(pol, dict):
            errors.append("policies[%d] must be a dictionary with subject, resource, action, object and effect." % index)
            continue
        unknown = sorted(set(pol) - set(("subject", "resource", "action", "object", "effect")))
        effect = pol["effect"] if "effect" in pol else "allow"
        fields = [pol.get("subject"), pol.get("resource"), pol.get("action"), pol.get("object"), effect]
        fields = [f if f is None else str(f) for f in fields]
        line_errors = policy_line_errors(fields, match_mode)
        if unknown:
            line_errors.append("unknown key(s) %s (expected subject, resource, action, object, effect)" % ", ".join(unknown))
        if line_errors:
            errors.append(
                "policies[%d] %r: %s." % (index, render_p_line(*[f if f is not None else "" for f in fields]), "; ".join(line_errors))
            )
            continue
        p_lines.add(render_p_line(*fields))
        subjects.add(fields[0])

    bindings = []
    for index, grp in enumerate(groups or []):
        if not isinstance(grp, dict):
            errors.append("groups[%d] must be a dictionary with group and role." % index)
            continue
        subject, role = grp.get("group"), grp.get("role")
        line = render_g_line(subject if subject is not None else "", role if role is not None else "")
        line_errors = [e for e in (_field_error(subject, "group"), _field_error(role, "role")) if e]
        if line_errors:
            errors.append("groups[%d] %r: %s." % (index, line, "; ".join(line_errors)))
            continue
        bindings.append((index, line, subject, role))

    g_lines = set(line for _i, line, _s, _r in bindings)
    if check_roles:
        grants, inherits = set(subjects), [(s, r) for _i, _l, s, r in bindings]
        for text in other_policies or ():
            text_grants, text_inherits, _malformed = read_policy_csv(text)
            grants |= text_grants
            inherits.extend(text_inherits)
        defined = resolve_defined_roles(grants, inherits, other_roles or ())
        for index, line, _subject, role in bindings:
            if role not in defined:
                errors.append("groups[%d] %r: %s." % (index, line, _undefined_role_error(role, inherits, defined)))
    errors.sort(key=_error_order)
    check_errors(errors, "Invalid Argo CD RBAC policy")
    return "\n".join(sorted(p_lines) + sorted(g_lines)) + ("\n" if (p_lines or g_lines) else "")


def _error_order(message):
    """policies[...] before groups[...], each in input order."""
    m = re.match(r"(policies|groups)\[(\d+)\]", message)
    return (0 if not m else (1 if m.group(1) == "policies" else 2), int(m.group(2)) if m else 0)


def rbac_settings(policy_default=None, scopes=None, match_mode=None, main=True):
    """The argocd-rbac-cm keys besides the policy CSV: policy.default, scopes, policy.matchMode.

    The main policy always owns all three (defaults: no default role, scopes [groups], glob); a
    named policy sets only those it is given. Raises ArgoCDValidationError on a bad scope.
    """
    data = {}
    if main:
        policy_default = "" if policy_default is None else policy_default
        scopes = ["groups"] if scopes is None else scopes
        match_mode = match_mode or "glob"
    if policy_default is not None:
        data["policy.default"] = policy_default
    if scopes is not None:
        for scope in scopes:
            if not scope or "," in scope or "[" in scope or "]" in scope:
                raise ArgoCDValidationError("scopes entry %r must be a claim name such as groups or email." % scope)
        data["scopes"] = render_scopes(scopes)
    if match_mode is not None:
        data["policy.matchMode"] = match_mode
    return data


def policy_key(policy_name):
    """The argocd-rbac-cm key holding the policy of one owner."""
    if policy_name is None:
        return "policy.csv"
    if policy_name == "" or not str(policy_name).strip():
        raise ArgoCDValidationError(
            "policy_name is empty: leave it out to manage the main policy.csv, or name the policy file "
            "(an empty value never takes over the main policy)."
        )
    if not name_is_valid(policy_name, "argocd_policy_name"):
        raise ArgoCDValidationError(
            "policy_name %r is invalid%s: use letters, digits, '-' and '_' (it becomes the key policy.<policy_name>.csv)."
            % (policy_name, whitespace_hint(policy_name))
        )
    return "policy.%s.csv" % policy_name


def render_scopes(scopes):
    return "[%s]" % ", ".join(scopes)


# ------------------------------------------------------------------------------ AppProject
def project_role_errors(project, role):
    """Problems of one AppProject role (name, policies, groups)."""
    errors = []
    if not isinstance(role, dict):
        return ["each role must be a dictionary with name, description, policies and groups"]
    name = role.get("name")
    if not name_is_valid(name, "argocd_project_role"):
        errors.append("role name %r must be letters, digits, '-' and '_', starting and ending with a letter or digit" % (name,))
        return errors
    seen = set()
    for policy in role.get("policies") or []:
        where = "role %s policy %r" % (name, policy)
        if policy in seen:
            errors.append("%s is listed twice" % where)
            continue
        seen.add(policy)
        fields = split_policy_line(str(policy))
        if len(fields) != 6 or fields[0] != "p":
            errors.append("%s must have 6 fields: p, proj:%s:%s, <resource>, <action>, %s/<application>, allow|deny" % (where, project, name, project))
            continue
        expected = "proj:%s:%s" % (project, name)
        if fields[1] != expected:
            errors.append("%s: the subject must be %s, not %s" % (where, expected, fields[1]))
        if fields[2] not in PROJECT_ROLE_RESOURCES:
            errors.append("%s: resource %r cannot be granted by a project role (allowed: %s)" % (where, fields[2], ", ".join(PROJECT_ROLE_RESOURCES)))
        else:
            errors.extend("%s: %s" % (where, e) for e in policy_line_errors(fields[1:], "glob") if not e.startswith("object"))
        if not fields[4].startswith(project + "/"):
            errors.append("%s: the object must start with %s/ (for example %s/*)" % (where, project, project))
    for group in role.get("groups") or []:
        text = str(group)
        if not text.strip() or "," in text or "\n" in text:
            errors.append("role %s group %r must be a non-empty name without commas or line breaks" % (name, group))
    return errors


def sync_window_errors(window, index):
    errors = []
    where = "sync_windows[%d]" % index
    if not isinstance(window, dict):
        return ["%s must be a dictionary" % where]
    if window.get("kind") not in ("allow", "deny"):
        errors.append("%s kind must be allow or deny" % where)
    if not window.get("schedule") or len(str(window["schedule"]).split()) != 5:
        errors.append("%s schedule must be a cron expression with 5 fields, e.g. '0 22 * * *'" % where)
    if not window.get("duration") or not _DURATION.fullmatch(str(window["duration"])):
        errors.append("%s duration must be a duration like '1h' or '30m'" % where)
    if not (window.get("applications") or window.get("namespaces") or window.get("clusters")):
        errors.append("%s needs at least one of applications, namespaces or clusters" % where)
    return errors


# ------------------------------------------------------------------------------ repositories
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)")


def repo_host(url):
    """The host (and port, as known_hosts writes it) of a repository URL, or None."""
    if not url:
        return None, None
    match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)(?::([0-9]+))?", url)
    if match:
        host = match.group(1).strip("[]")
        return host, match.group(2)
    match = _SCP_LIKE.match(url)
    if match:
        return match.group(1), None
    return None, None


def is_ssh_url(url):
    return bool(url) and (url.startswith("ssh://") or (_SCP_LIKE.match(url) is not None and "://" not in url))


def known_hosts_line_error(line):
    fields = line.split()
    if not fields or line.strip().startswith("#"):
        return None
    if fields[0].startswith("@"):
        fields = fields[1:]
    if len(fields) < 3:
        return "known_hosts line %r must have at least three fields: host key-type base64-key" % line
    if not (fields[1].startswith("ssh-") or fields[1].startswith("ecdsa-") or fields[1].startswith("sk-")):
        return "known_hosts line %r: %r is not an SSH key type (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa...)" % (line, fields[1])
    return None


def merge_known_hosts(existing, wanted):
    """Existing known_hosts text plus the wanted lines that are missing; existing order kept."""
    lines = (existing or "").splitlines()
    present = set(" ".join(l.split()) for l in lines if l.strip())
    added = []
    for line in wanted or []:
        norm = " ".join(str(line).split())
        if norm and norm not in present:
            present.add(norm)
            added.append(norm)
    if not added:
        return existing, []
    text = "\n".join(lines).rstrip("\n")
    text = (text + "\n" if text else "") + "\n".join(added) + "\n"
    return text, added


# Keys of a repository Secret that carry no secret and are shown in diffs and results.
REPO_PLAIN_KEYS = (
    "url",
    "type",
    "name",
    "project",
    "username",
    "insecure",
    "enableLfs",
    "enableOCI",
    "proxy",
    "noProxy",
    "forceHttpBasicAuth",
    "githubAppID",
    "githubAppInstallationID",
    "githubAppEnterpriseBaseUrl",
    "tlsClientCertData",
    "depth",
)


def masked_secret(obj, other=None):
    """A copy of a repository Secret for output: its plain keys decoded, every other value masked (_secrets)."""
    return mask_secret(obj, other=other, plain_keys=REPO_PLAIN_KEYS)
