# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Forge (Gitea, GitHub, GitLab) support of gitops.bootstrap.forge_repository.

This package is PRIVATE to the collection. It can change or be removed at any time; do not
use it from other collections.

Layers, from the bottom up:

- ``http``: a small JSON client over Ansible's ``open_url`` (bounded timeout on every call,
  no redirects, error translation, secret masking) and the one exception hierarchy.
- ``base``: the provider interface, the normalised objects the providers return, and the
  pure desired-state engine (branch protection merge, deploy key and webhook plans, diff).
- ``sshkey``: the Argo CD deploy key file (read or generate ed25519).
- ``gitea``, ``github``, ``gitlab``: one provider per forge, translating the normalised
  objects to and from each REST API.
"""
