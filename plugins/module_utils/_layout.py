# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout of the infra repository, in one place.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Every path of the infra repository that code needs (the module that scaffolds the
repository, the filters the roles use for the Argo CD root application) comes from here,
so the repository and the agents that sync it agree on where things are::

    clusters/<cluster>/              the root that Argo CD in <cluster> syncs (kustomization)
    clusters/<cluster>/argocd/       Argo CD's own installation, pinned, for self-management
    clusters/<cluster>/projects/     the AppProjects of the cluster
    clusters/<cluster>/apps/         the Applications enabled on the cluster
    platform/<component>/            cluster add-ons shared by clusters
    apps/<app>/base/                 an application's manifests
    apps/<app>/overlays/<env>/       its configuration per environment
    .gitops/managed.yaml             the files this collection generated, with their hashes
"""


from ansible_collections.gitops.bootstrap.plugins.module_utils import _names

CLUSTERS_DIR = "clusters"
PLATFORM_DIR = "platform"
APPS_DIR = "apps"

CLUSTER_ARGOCD_DIR = "argocd"
CLUSTER_PROJECTS_DIR = "projects"
CLUSTER_APPS_DIR = "apps"

APP_BASE_DIR = "base"
APP_OVERLAYS_DIR = "overlays"

GITOPS_DIR = ".gitops"
MANAGED_FILE = GITOPS_DIR + "/managed.yaml"
VALIDATE_SCRIPT = GITOPS_DIR + "/validate.py"
VALIDATE_CONFIG = GITOPS_DIR + "/validate.yaml"
SCHEMAS_DIR = GITOPS_DIR + "/schemas"

# Every kustomization root is rendered by this file name.
KUSTOMIZATION = "kustomization.yaml"

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")
DEFAULT_ARGOCD_NAMESPACE = "argocd"
DEFAULT_ARGOCD_VERSION = "v3.5.1"

# The upstream install manifest of a released Argo CD version: a plain file, pinned by tag.
ARGOCD_INSTALL_URL = "https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml"

# DNS-1123 label: the names below become Kubernetes object names and label values. The check is
# the collection's one name validator (_names), which matches the whole name.
_NAMESPACE_MAX = _names.DNS1123_LABEL_MAX


class LayoutError(ValueError):
    """A name that cannot be used in the layout; the message says why and what to do."""


def validate_name(what, name, max_length=_NAMESPACE_MAX):
    """Return ``name`` if it is a DNS-1123 label, else raise LayoutError naming ``what``."""
    if not isinstance(name, str) or not name:
        raise LayoutError("%s name must be a non-empty string, got %r" % (what, name))
    if not _names.is_valid(name, "dns1123_label", max_length):
        raise LayoutError(
            "invalid %s name %r%s: use at most %d lower-case letters, digits and '-', starting and ending "
            "with a letter or digit (a DNS-1123 label, e.g. 'prod-eu1')" % (what, name, _names.whitespace_hint(name), max_length)
        )
    return name


def validate_cluster_name(name):
    """Cluster names are folder names and parts of object names: DNS-1123 labels."""
    return validate_name("cluster", name)


def validate_argocd_version(version):
    """Argo CD is pinned to a released tag such as ``v3.5.1`` (never ``stable`` or a branch)."""
    if not _names.is_valid(version, "release_tag"):
        raise LayoutError(
            "invalid argocd_version %r%s: pin a released Argo CD tag such as %r (not 'stable', 'latest' or a branch)"
            % (version, _names.whitespace_hint(version), DEFAULT_ARGOCD_VERSION)
        )
    return version


def argocd_install_url(version):
    return ARGOCD_INSTALL_URL.format(version=validate_argocd_version(version))


# Sync options of the self-management Application (clusters/<cluster>/apps/argocd.yaml).
ARGOCD_SELF_MANAGE_SYNC_OPTIONS = ("ServerSideApply=true", "RespectIgnoreDifferences=true")

# Fields of Argo CD's own objects that the argocd role writes over a value that upstream's install
# manifest also sets (group, kind, name, JSON pointer): the SSH known hosts, which the role appends
# to upstream's list in the same key. The self-management Application ignores them and, with
# RespectIgnoreDifferences=true, syncs them with their live value, so the controller neither
# reports them as drift nor puts upstream's value back (which would drop the role's host keys).
ARGOCD_SELF_MANAGE_IGNORED = (
    ("", "ConfigMap", "argocd-ssh-known-hosts-cm", "/data/ssh_known_hosts"),
)


def argocd_self_manage_spec(namespace=DEFAULT_ARGOCD_NAMESPACE):
    """The spec fields that the scaffolded self-management Application and the argocd role's one both carry.

    ``{"ignoreDifferences": [...], "syncPolicy": {"syncOptions": [...]}}``; the two must be equal, or
    the root application (which syncs the file) and the role (which applies its own) take the
    fields from each other on every run.
    """
    validate_name("argocd namespace", namespace)
    ignored = []
    for group, kind, name, pointer in ARGOCD_SELF_MANAGE_IGNORED:
        entry = {"group": group} if group else {}
        entry.update({"kind": kind, "name": name, "namespace": namespace, "jsonPointers": [pointer]})
        ignored.append(entry)
    return {"ignoreDifferences": ignored, "syncPolicy": {"syncOptions": list(ARGOCD_SELF_MANAGE_SYNC_OPTIONS)}}


def cluster_path(cluster):
    """The folder that Argo CD in ``cluster`` syncs: the path of its root Application."""
    return "%s/%s" % (CLUSTERS_DIR, validate_cluster_name(cluster))


def cluster_argocd_path(cluster):
    return "%s/%s" % (cluster_path(cluster), CLUSTER_ARGOCD_DIR)


def cluster_projects_path(cluster):
    return "%s/%s" % (cluster_path(cluster), CLUSTER_PROJECTS_DIR)


def cluster_apps_path(cluster):
    return "%s/%s" % (cluster_path(cluster), CLUSTER_APPS_DIR)


def platform_path(component):
    return "%s/%s" % (PLATFORM_DIR, validate_name("platform component", component))


def app_path(app):
    return "%s/%s" % (APPS_DIR, validate_name("app", app))


def app_base_path(app):
    return "%s/%s" % (app_path(app), APP_BASE_DIR)


def app_overlay_path(app, environment):
    return "%s/%s/%s" % (app_path(app), APP_OVERLAYS_DIR, validate_name("environment", environment))


def cluster_layout(cluster):
    """All paths that belong to one cluster, as a dict (returned by the module, used by roles)."""
    return {
        "cluster": cluster,
        "root": cluster_path(cluster),
        "argocd": cluster_argocd_path(cluster),
        "projects": cluster_projects_path(cluster),
        "apps": cluster_apps_path(cluster),
    }


def cluster_of_path(path):
    """The cluster a repository path belongs to, or None (``clusters/prod/apps/x.yaml`` -> ``prod``)."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == CLUSTERS_DIR:
        return parts[1]
    return None
