# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the Argo CD install manifests and the settings of the argocd role."""


import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.module_utils import _names
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import (
    FLAVOUR_FILES,
    ManifestError,
    find_inline_secrets,
    render,
)

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None


# Names are checked by the collection's one validator (_names, whole-string matches); so is this.
_SHA256 = re.compile(r"(sha256:)?[0-9a-f]{64}")


def argocd_manifests(data, namespace="argocd", config_maps=None, known_hosts=None):
    try:
        if isinstance(data, str):
            return render(data, namespace, config_maps or {}, known_hosts or [])
        if isinstance(data, list):
            return render(data, namespace, config_maps or {}, known_hosts or [])
    except ManifestError as exc:
        raise AnsibleFilterError("argocd_manifests: %s" % exc)
    raise AnsibleFilterError("argocd_manifests: expected the manifest text or a list of objects, got %s" % type(data).__name__)


def argocd_inline_secrets(config):
    """Paths of secret values that are written inline instead of as ``$`` references."""
    if isinstance(config, str):
        if not config.strip():
            return []
        if yaml is None:  # pragma: no cover
            raise AnsibleFilterError("argocd_inline_secrets needs PyYAML to read a YAML string")
        try:
            config = yaml.safe_load(str(config))
        except yaml.YAMLError as exc:
            raise AnsibleFilterError("argocd_inline_secrets: the configuration is not valid YAML: %s" % exc)
    if config is None:
        return []
    return find_inline_secrets(config)


_SECRET_ADVICE = (
    ". A ConfigMap is readable by everyone who can read the namespace: put the value into the Secret argocd-secret "
    "(or a Secret labelled app.kubernetes.io/part-of: argocd) and reference it as '$<key>' or '$<secret>:<key>'."
)
_CM_SECRET_ADVICE = "; reference them as '$<key>' from argocd-secret instead."


def _dns_label(value):
    return _names.is_valid(value, "dns1123_label")


def argocd_settings_errors(s):
    """Every problem in the settings of the argocd role that the argument spec cannot express.

    ``s`` is a dict of the role's variables without the ``argocd_`` prefix. Returns a list of
    messages, each naming the variable and what to do; empty when all is well.
    """
    errors = []
    version = s.get("version")
    flavour = s.get("flavour")
    if s.get("config_source") == "repository":
        missing = [what for what, ok in (("argocd_infra_repo_url", s.get("infra_repo_url")),
                                         ("argocd_root_app_enabled", s.get("root_app_enabled")),
                                         ("argocd_self_manage", s.get("self_manage"))) if not ok]
        if missing:
            errors.append(
                "argocd_config_source 'repository' needs an infra repository that Argo CD syncs itself from, but %s %s not "
                "set; set %s, or argocd_config_source: inventory to have the role apply every setting directly."
                % (", ".join(missing), "is" if len(missing) == 1 else "are", " and ".join(missing)))
    source = s.get("manifest_source") or ""
    is_url = bool(re.match(r"^https?://", source))
    known = s.get("known_checksums") or {}
    extra = s.get("manifest_checksums") or {}

    if not _names.is_valid(version, "release_tag"):
        errors.append(
            "argocd_version %r is not a released Argo CD tag%s; pin one such as v3.5.1 (not 'stable', 'latest' or a branch)."
            % (version, _names.whitespace_hint(version))
        )
    if flavour not in FLAVOUR_FILES:
        errors.append("argocd_flavour %r is unknown; choose one of %s." % (flavour, ", ".join(sorted(FLAVOUR_FILES))))
    if not _dns_label(s.get("namespace")):
        errors.append(
            "argocd_namespace %r is not a valid namespace name%s (at most 63 lower-case letters, digits and '-', starting and "
            "ending with a letter or digit)." % (s.get("namespace"), _names.whitespace_hint(s.get("namespace")))
        )
    for ver, sums in sorted(extra.items()):
        if not isinstance(sums, dict):
            errors.append("argocd_manifest_checksums[%s] must map manifest file names to sha256 checksums." % ver)
            continue
        for name, digest in sorted(sums.items()):
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
                errors.append("argocd_manifest_checksums[%s][%s] is not a sha256 checksum (64 hex digits)." % (ver, name))
    if s.get("verify_checksum", True) and flavour in FLAVOUR_FILES and isinstance(version, str):
        sums = dict(known.get(version) or {})
        sums.update(extra.get(version) or {})
        if is_url:
            missing = [f for f in FLAVOUR_FILES[flavour] if f not in sums]
            if not sums:
                errors.append(
                    "argocd_version %s is not in the table of known versions (%s), so its manifests cannot be verified "
                    "after download. Choose a known version, or give the sha256 of its files in argocd_manifest_checksums, "
                    "for example {%s: {%s: <sha256>}}." % (version, ", ".join(sorted(known)), version, FLAVOUR_FILES[flavour][-1])
                )
            elif missing:
                errors.append(
                    "no checksum is known for %s of argocd_version %s; add it to argocd_manifest_checksums." % (", ".join(missing), version)
                )
    if not source:
        errors.append("argocd_manifest_source is empty; give the upstream URL of the manifests folder or a local path.")

    core = flavour == "core"
    ingress = s.get("ingress") or {}
    if ingress.get("enabled"):
        if core:
            errors.append("argocd_ingress is enabled, but the core flavour has no argocd-server to expose; disable it or choose another flavour.")
        if not ingress.get("host"):
            errors.append("argocd_ingress.host is required when argocd_ingress.enabled is true.")
    if core and (s.get("oidc") or s.get("dex")):
        errors.append("argocd_oidc and argocd_dex need the API server, which the core flavour does not run; remove them or choose another flavour.")

    # SSO settings, as role variables and as raw argocd-cm keys: each a place, its value and what to do.
    cm = s.get("cm") or {}
    sso = [(var, s.get(var[len("argocd_"):]), _SECRET_ADVICE) for var in ("argocd_oidc", "argocd_dex")]
    sso += [(f"argocd_cm[{key}]", cm.get(key), _CM_SECRET_ADVICE) for key in ("oidc.config", "dex.config")]
    for where, value, advice in sso:
        if not value:
            continue
        try:
            inline = argocd_inline_secrets(value)
        except AnsibleFilterError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if inline:
            errors.append(f"{where} holds secrets in clear text at {', '.join(inline)}{advice}")
    if s.get("oidc") and s.get("dex"):
        errors.append("argocd_oidc and argocd_dex are both set; Argo CD uses one SSO method, choose one.")
    if s.get("oidc") and not s.get("url"):
        errors.append("argocd_url (the external URL of Argo CD) is required with argocd_oidc, for the OIDC callback.")
    if s.get("dex") and not s.get("url"):
        errors.append("argocd_url (the external URL of Argo CD) is required with argocd_dex, for the Dex callback.")

    seen = set()
    for account in s.get("accounts") or []:
        name = account.get("name")
        if not _names.is_valid(name, "argocd_account"):
            errors.append(
                "argocd_accounts: account name %r must be 1-32 letters, digits, '-', '_' or '.'%s." % (name, _names.whitespace_hint(name))
            )
        if name == "admin":
            errors.append("argocd_accounts: 'admin' is the built-in user; use argocd_admin_enabled for it.")
        if name in seen:
            errors.append("argocd_accounts: account %s is listed twice." % name)
        seen.add(name)

    if (s.get("root_app_enabled") or s.get("self_manage")) and not s.get("infra_repo_url"):
        errors.append(
            "argocd_infra_repo_url is required for the root application (argocd_root_app_enabled) and self-management "
            "(argocd_self_manage); set it to the URL of the infra repository, or turn both off."
        )
    if not _dns_label(s.get("cluster_name")):
        errors.append(
            "argocd_cluster_name %r must be a DNS-1123 label (lower-case letters, digits and '-')%s; it names the folder "
            "clusters/<cluster> of the infra repository." % (s.get("cluster_name"), _names.whitespace_hint(s.get("cluster_name")))
        )
    for var in ("root_app_path", "self_manage_path"):
        path = s.get(var) or ""
        if path.startswith("/") or ".." in path.split("/"):
            errors.append("argocd_%s %r must be a path relative to the repository root that does not leave it." % (var, path))

    platform = s.get("platform_project") or {}
    reserved = set(["default"])
    if platform.get("enabled", True):
        reserved.add(platform.get("name") or "platform")
    names = set()
    for project in s.get("projects") or []:
        name = project.get("name")
        if name in reserved:
            errors.append("argocd_projects: project %s is managed by the role itself; choose another name." % name)
        if name in names:
            errors.append("argocd_projects: project %s is listed twice." % name)
        names.add(name)
        for field in ("source_repos", "destinations"):
            if not project.get(field):
                errors.append(
                    "argocd_projects: project %s needs an explicit, non-empty %s list (a team project never gets '*' by default)."
                    % (name, field)
                )
    errors.extend(_rbac_errors(s))
    for line in s.get("known_hosts") or []:
        if len(str(line).split()) < 3:
            errors.append(
                "known_hosts line %r is not in known_hosts format '<host> <key-type> <base64 key>' (ssh-keyscan prints such lines)."
                % (line,)
            )
    repo_names = set()
    for name in s.get("repository_names") or []:
        if name in repo_names:
            errors.append("argocd_repositories: repository %s is listed twice." % name)
        repo_names.add(name)
    return errors


def _plain(value):
    """Plain dicts, lists and strings (templated values may be subclasses that PyYAML cannot represent)."""
    return json.loads(json.dumps(value))


def _rbac_errors(s):
    """The RBAC lines, checked offline by the same code as gitops.bootstrap.argocd_rbac.

    Every field of every line must be non-empty (an empty effect is refused, not taken as allow);
    a g line must bind a built-in role, one the policies grant something, or one that inherits
    (g, role:x, role:y) from such a role.
    """
    default = s.get("rbac_policy_default")
    if not (s.get("rbac_policies") or s.get("rbac_groups") or default):
        return []
    try:
        # Imported here: it loads the Kubernetes client, which settings without RBAC lines do not need.
        from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
            ArgoCDValidationError,
            build_policy_csv,
            policy_defined_roles,
        )
    except ImportError:  # pragma: no cover - the RBAC checks then happen in argocd_rbac only
        return []
    mode = s.get("rbac_match_mode") or "glob"
    try:
        csv = build_policy_csv(_plain(s.get("rbac_policies") or []), _plain(s.get("rbac_groups") or []), mode)
    except ArgoCDValidationError as exc:
        return ["argocd_rbac_policies / argocd_rbac_groups: %s" % exc.msg]
    # The role writes policy.csv alone: its own lines and Argo CD's built-in roles define what is defined.
    if default and default not in policy_defined_roles([csv]):
        return [
            "argocd_rbac_policy_default %r is not a defined role: use role:readonly, role:admin, a role that "
            "argocd_rbac_policies grants something, or the empty string for no access." % default
        ]
    return []


def _to_yaml(value):
    if yaml is None:  # pragma: no cover
        raise AnsibleFilterError("argocd_config_maps needs PyYAML")
    return yaml.safe_dump(_plain(value), default_flow_style=False, sort_keys=True)


def argocd_config_maps(s):
    """The keys the argocd role sets in argocd-cm and argocd-cmd-params-cm.

    ``s`` is a dict of the role's variables without the ``argocd_`` prefix. Values are the
    strings Argo CD reads; ``cm`` and ``cmd_params`` are merged last and win.
    """
    cm = {
        "admin.enabled": "true" if s.get("admin_enabled") else "false",
    }
    if s.get("reconciliation_timeout"):
        cm["timeout.reconciliation"] = str(s["reconciliation_timeout"])
    if s.get("url"):
        cm["url"] = s["url"]
    for account in s.get("accounts") or []:
        caps = account.get("capabilities")
        if caps is None:
            caps = ["login"]
        cm["accounts.%s" % account["name"]] = ", ".join(caps)
        if account.get("enabled", True) is False:
            cm["accounts.%s.enabled" % account["name"]] = "false"
    if s.get("oidc"):
        cm["oidc.config"] = _to_yaml(s["oidc"])
    if s.get("dex"):
        cm["dex.config"] = _to_yaml(s["dex"])
    for key, value in (s.get("cm") or {}).items():
        cm[key] = value
    params = dict(s.get("cmd_params") or {})
    maps = {"argocd-cm": cm, "argocd-cmd-params-cm": params}
    if "rbac_policy_default" in s:
        maps["argocd-rbac-cm"] = _rbac_keys(s)
    return maps


def _rbac_keys(s):
    """The keys of argocd-rbac-cm, as gitops.bootstrap.argocd_rbac writes them for its main policy."""
    from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import (
        ArgoCDValidationError,
        build_policy_csv,
        rbac_settings,
    )

    mode = s.get("rbac_match_mode") or "glob"
    try:
        keys = rbac_settings(s.get("rbac_policy_default"), s.get("rbac_scopes"), mode)
        keys["policy.csv"] = build_policy_csv(_plain(s.get("rbac_policies") or []), _plain(s.get("rbac_groups") or []), mode)
    except ArgoCDValidationError as exc:
        raise AnsibleFilterError("argocd_rbac_policies / argocd_rbac_groups / argocd_rbac_scopes: %s" % exc.msg)
    return keys


def _validated(build, params, what):
    from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import ArgoCDValidationError

    try:
        return build(params)
    except ArgoCDValidationError as exc:
        raise AnsibleFilterError("%s: %s" % (what, exc.msg))


def argocd_project_objects(projects, namespace="argocd"):
    """AppProject definitions for a list of projects given with the argocd_project module's options."""
    from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import build_project

    objects = []
    for project in _plain(projects or []):
        params = dict(project, namespace=namespace)
        objects.append(_validated(build_project, params, "argocd_project_objects"))
    return objects


def argocd_application_objects(applications, namespace="argocd", repo_url=None, target_revision="HEAD", server=None):
    """Application definitions for a list of applications given with the argocd_application module's options.

    ``repo_url``, ``target_revision`` and ``server`` are used where an application does not set
    ``repo_url``, ``target_revision`` or ``destination_server``.
    """
    from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import build_application

    objects = []
    for app in _plain(applications or []):
        params = dict(app, namespace=namespace)
        params.setdefault("repo_url", repo_url)
        params.setdefault("target_revision", target_revision)
        if server and not params.get("destination_name"):
            params.setdefault("destination_server", server)
        objects.append(_validated(build_application, params, "argocd_application_objects"))
    return objects


_MANAGED_LABELS = {"app.kubernetes.io/managed-by": "gitops.bootstrap", "app.kubernetes.io/part-of": "argocd"}
_DEFAULT_PROJECT = {
    "name": "default",
    "description": "Locked down: no sources, no destinations, no resources. Use a named project.",
    "source_repos": [],
    "destinations": [],
    "source_namespaces": [],
    "cluster_resource_whitelist": [],
    "namespace_resource_blacklist": [{"group": "*", "kind": "*"}],
}
_PLATFORM_DESCRIPTION = "Cluster-wide infrastructure and Argo CD itself; managed by administrators only"


def argocd_ingress_object(ingress):
    """The Ingress of argocd-server for the role's ``argocd_ingress`` setting (whether it is enabled is the caller's choice)."""
    ingress = _plain(ingress or {})
    host = ingress.get("host", "")
    backend = {"service": {"name": "argocd-server", "port": {"name": ingress.get("service_port") or "https"}}}
    spec = {}
    if ingress.get("class_name"):
        spec["ingressClassName"] = ingress["class_name"]
    spec["rules"] = [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]
    if ingress.get("tls_secret_name"):
        spec["tls"] = [{"hosts": [host], "secretName": ingress["tls_secret_name"]}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "argocd-server", "labels": dict(_MANAGED_LABELS), "annotations": ingress.get("annotations") or {}},
        "spec": spec,
    }


def _platform(s):
    """Name of the platform project and whether the role manages it."""
    platform = s.get("platform_project") or {}
    return platform.get("name") or "platform", bool(platform.get("enabled", True))


def argocd_role_projects(s):
    """The AppProjects of the argocd role, as argocd_project options: the locked-down default,
    the admin-only platform project and the team projects of ``argocd_projects``.

    ``s`` is a dict of the role's variables without the ``argocd_`` prefix.
    """
    s = _plain(s)
    projects = []
    if s.get("default_project_locked", True):
        projects.append(json.loads(json.dumps(_DEFAULT_PROJECT)))
    name, enabled = _platform(s)
    if enabled:
        platform = s.get("platform_project") or {}
        repo = s.get("infra_repo_url")
        projects.append({
            "name": name,
            "description": platform.get("description", _PLATFORM_DESCRIPTION),
            "source_repos": platform.get("source_repos") or ([repo] if repo else []),
            "destinations": platform.get("destinations", [{"server": s.get("in_cluster_server"), "namespace": "*"}]),
            "cluster_resource_whitelist": platform.get("cluster_resource_whitelist", [{"group": "*", "kind": "*"}]),
            "namespace_resource_blacklist": platform.get("namespace_resource_blacklist"),
            "roles": [],
        })
    return projects + list(s.get("projects") or [])


def _retry(retry):
    backoff = (retry or {}).get("backoff") or {}
    return {
        "limit": (retry or {}).get("limit", 5),
        "backoff": {
            "duration": backoff.get("duration", "5s"),
            "factor": backoff.get("factor", 2),
            "max_duration": backoff.get("max_duration", "3m"),
        },
    }


def argocd_role_applications(s):
    """The Applications of the argocd role, as argocd_application options: the root application
    (app of apps) and the self-management application.

    ``s`` is a dict of the role's variables without the ``argocd_`` prefix. The self-management
    application takes its sync options and ignored fields from the definition the infra
    repository scaffold uses too (``argocd_self_manage_spec``).
    """
    from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout

    s = _plain(s)
    name, enabled = _platform(s)
    project = name if enabled else "default"
    namespace = s.get("namespace")
    retry = _retry(s.get("root_app_retry"))
    apps = []
    if s.get("root_app_enabled"):
        apps.append({
            "name": s.get("root_app_name"), "path": s.get("root_app_path"), "project": project,
            "destination_namespace": namespace, "finalizer": True,
            "sync_policy": {"automated": True, "prune": s.get("root_app_prune"), "self_heal": s.get("root_app_self_heal"),
                            "sync_options": s.get("root_app_sync_options"), "retry": retry},
        })
    if s.get("self_manage"):
        try:
            spec = _layout.argocd_self_manage_spec(namespace)
        except _layout.LayoutError as exc:
            raise AnsibleFilterError(f"argocd_role_applications: {exc}")
        apps.append({
            "name": s.get("self_manage_app_name"), "path": s.get("self_manage_path"), "project": project,
            "destination_namespace": namespace, "finalizer": False,
            "sync_policy": {"automated": True, "prune": s.get("self_manage_prune"), "self_heal": s.get("self_manage_self_heal"),
                            "sync_options": spec["syncPolicy"]["syncOptions"], "retry": json.loads(json.dumps(retry))},
            "spec": {"ignoreDifferences": spec["ignoreDifferences"]},
        })
    return apps


class FilterModule(object):
    """Argo CD manifest and settings filters."""

    def filters(self):
        return {
            "argocd_manifests": argocd_manifests,
            "argocd_inline_secrets": argocd_inline_secrets,
            "argocd_settings_errors": argocd_settings_errors,
            "argocd_config_maps": argocd_config_maps,
            "argocd_project_objects": argocd_project_objects,
            "argocd_application_objects": argocd_application_objects,
            "argocd_ingress_object": argocd_ingress_object,
            "argocd_role_projects": argocd_role_projects,
            "argocd_role_applications": argocd_role_applications,
        }
