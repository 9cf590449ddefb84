# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's name validator (plugins/module_utils/_names.py), exposed to roles and playbooks.

Roles check names with this filter instead of patterns of their own, so a role, a module and
the infra repository layout agree on what a valid name is, and every check matches the whole
name (a pattern ending in ``$`` would accept a final line break).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.bootstrap.plugins.module_utils import _names


def name_error(value, kind="dns1123_label", what="name", max_length=None):
    """The message saying why ``value`` is not a valid name of ``kind``; the empty string when it is valid."""
    try:
        return _names.name_error(value, kind, what, max_length) or ""
    except ValueError as exc:
        raise AnsibleFilterError("name_error: %s" % exc)


class FilterModule(object):
    """Name validation filters."""

    def filters(self):
        return {"name_error": name_error}
