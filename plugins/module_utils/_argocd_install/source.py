# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argocd_install: the upstream manifests, read from a URL or a local copy, verified, cached.

This module util is PRIVATE to the collection. It can change or be removed at any time;
do not use it from other collections.

Every file is verified against its sha256 before anything is parsed or applied. Verified downloads
and parsed manifests are cached by their sha256 on the managed node, so a re-run neither downloads
nor parses the 2 MB of YAML again. Nothing here talks to the cluster.
"""

from __future__ import annotations

import json
import os
import re

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_manifests import (
    ManifestError,
    append_known_hosts,
    flavour_files,
    merge_config_maps,
    parse_documents,
    set_replicas,
    sha256_hex,
    verify_checksum,
)


class ManifestSource:
    """The manifests of one flavour and version, with the record of each file read (``files``)."""

    def __init__(self, params: dict, files: list | None = None):
        self.params = params
        self.files = [] if files is None else files

    def _download(self, url: str) -> bytes:
        try:
            resp = open_url(
                url,
                timeout=self.params["download_timeout"],
                validate_certs=self.params["download_validate_certs"],
                http_agent="gitops.bootstrap-argocd_install",
            )
            return resp.read()
        except Exception as exc:  # pylint: disable=broad-except
            code = getattr(exc, "code", None)
            if code == 404:
                raise ManifestError(
                    "%s does not exist (HTTP 404): the upstream repository has no such file for this version. Check the "
                    "version (argocd_version) and the flavour." % url
                )
            raise ManifestError(
                "could not download %s: %s. A cluster without internet access can use a local copy: set the manifest "
                "source (argocd_manifest_source) to a directory laid out like upstream's manifests/ folder." % (url, to_native(exc))
            )

    def load_manifests(self) -> list[dict]:
        source = self.params.get("source")
        flavour = self.params["flavour"]
        if not source:
            raise ManifestError("a manifest source is required (option source)")
        names = flavour_files(flavour)
        checksums = self.params["checksums"] or {}
        verify = self.params["verify_checksums"]
        blobs = []
        if re.match(r"^https?://", source):
            base = source.rstrip("/")
            for name in names:
                url = "%s/%s" % (base, name)
                cached = self._cache_read("%s.yaml" % checksums.get(name)) if verify and checksums.get(name) else None
                if cached is not None and sha256_hex(cached) == checksums[name]:
                    blobs.append((name, url, cached))
                    continue
                data = self._download(url)
                blobs.append((name, url, data))
        else:
            path = source
            if os.path.isdir(path):
                for name in names:
                    full = os.path.join(path, name)
                    if not os.path.isfile(full):
                        raise ManifestError(
                            "manifest directory %s has no file %s, which the %s flavour needs; the directory must be laid "
                            "out like upstream's manifests/ folder of one version." % (path, name, flavour)
                        )
                    with open(full, "rb") as fh:
                        blobs.append((name, full, fh.read()))
            elif os.path.isfile(path):
                if len(names) != 1:
                    raise ManifestError(
                        "the %s flavour needs several files (%s); point the manifest source at a directory instead of the "
                        "single file %s." % (flavour, ", ".join(names), path)
                    )
                with open(path, "rb") as fh:
                    blobs.append((names[0], path, fh.read()))
            else:
                raise ManifestError(
                    "the manifest source %s does not exist on the managed node; give an http(s) URL or an existing file or "
                    "directory." % source
                )
        # Verify every file before any parsing or apply: a mismatch leaves the cluster untouched.
        for name, origin, data in blobs:
            if verify:
                info = verify_checksum(name, data, checksums, required=True)
            else:
                info = {"file": name, "sha256": sha256_hex(data), "verified": False}
            info["source"] = origin
            self.files.append(info)
            if info["verified"] and origin.startswith(("http://", "https://")):
                self._cache_write("%s.yaml" % info["sha256"], data)
        docs = []
        for (name, origin, data), info in zip(blobs, self.files):
            docs.extend(self._parse_cached(data, origin, info["sha256"]))
        return docs

    # ---------------------------------------------------------------- cache
    def _cache_path(self, name: str) -> str:
        base = self.params.get("cache_dir")
        if not base:
            home_cache = os.path.join(os.environ.get("HOME") or "/tmp", ".cache")
            base = os.path.join(os.environ.get("XDG_CACHE_HOME") or home_cache, "gitops-bootstrap", "argocd-manifests")
        return os.path.join(base, name)

    def _cache_read(self, name: str) -> bytes | None:
        try:
            with open(self._cache_path(name), "rb") as fh:
                return fh.read()
        except OSError:
            return None

    def _cache_write(self, name: str, data: bytes) -> None:
        path = self._cache_path(name)
        try:
            if not os.path.isdir(os.path.dirname(path)):
                os.makedirs(os.path.dirname(path), 0o700)
            tmp = "%s.%d.tmp" % (path, os.getpid())
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.rename(tmp, path)
        except OSError:
            pass

    def _parse_cached(self, data: bytes, origin: str, digest: str) -> list[dict]:
        name = "%s.json" % digest
        cached = self._cache_read(name)
        if cached is not None:
            try:
                docs = json.loads(cached.decode("utf-8"))
                if isinstance(docs, list):
                    return docs
            except ValueError:
                pass
        docs = parse_documents(data, origin)
        self._cache_write(name, json.dumps(docs, separators=(",", ":")).encode("utf-8"))
        return docs

    # ---------------------------------------------------------------- desired state
    def desired_objects(self) -> list[dict]:
        """The upstream objects with the configured ConfigMap keys, known hosts and replica counts."""
        docs = self.load_manifests()
        merge_config_maps(docs, self.params["config_maps"])
        append_known_hosts(docs, self.params["known_hosts"])
        set_replicas(docs, self.params["replicas"])
        for extra in self.params["extra_objects"]:
            if not isinstance(extra, dict) or not extra.get("kind") or not extra.get("apiVersion") or not (extra.get("metadata") or {}).get("name"):
                raise ManifestError("each extra object needs apiVersion, kind and metadata.name; got %s" % json.dumps(extra)[:200])
        return docs
