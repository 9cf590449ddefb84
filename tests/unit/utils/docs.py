# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's documentation as ansible-doc and validate-modules read it: doc fragments merged."""

from __future__ import annotations

import yaml
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import add_fragments

# Options the module class adds to every module's argument spec (kubernetes.core's connection
# options and the collection's own), documented by these fragments.
CONNECTION_FRAGMENTS = ("kubernetes.core.k8s_auth_options", "gitops.bootstrap.connection")


def raw_documentation(module) -> dict:
    """The module's own DOCUMENTATION, before its fragments are merged."""
    return yaml.safe_load(module.DOCUMENTATION)


def documentation(module) -> dict:
    """The module's DOCUMENTATION with its doc fragments merged, as ansible-doc shows it."""
    doc = raw_documentation(module)
    add_fragments(doc, module.__file__, fragment_loader=fragment_loader, is_module=True)
    return doc


def connection_options() -> set[str]:
    """The names of the options that come with the connection fragments."""
    names: set[str] = set()
    for fragment in CONNECTION_FRAGMENTS:
        names.update(yaml.safe_load(fragment_loader.get(fragment).DOCUMENTATION)["options"])
    return names


def module_options(module) -> dict:
    """The documented options the module's own argument spec must hold (connection options left out)."""
    doc = documentation(module)
    connection = connection_options() if set(CONNECTION_FRAGMENTS) & set(raw_documentation(module).get("extends_documentation_fragment") or []) else set()
    return {name: option for name, option in (doc.get("options") or {}).items() if name not in connection}
