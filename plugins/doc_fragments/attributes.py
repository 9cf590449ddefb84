# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute declarations shared by the modules of gitops.bootstrap.

This doc fragment is PRIVATE to the collection. Each attribute's description is written once;
the variants differ only in the support they declare. A module names one variant in
``extends_documentation_fragment`` and adds, under its own ``attributes``, what is particular to
it (its values win over the fragment's).
"""

from __future__ import annotations

_ATTRIBUTES = r"""options: {{}}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.{check_mode}
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.{diff_mode}
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.{idempotent}
  action_group:
    description: Use C(group/gitops.bootstrap.gitops) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gitops.bootstrap.gitops
"""


def _support(level: str, *details: str) -> str:
    """The ``support`` (and ``details``) lines of one attribute."""
    lines = f"\n    support: {level}"
    if details:
        lines += "\n    details:" + "".join(f"\n      - {line}" for line in details)
    return lines


_READ_ONLY = "This action does not modify state."


class ModuleDocFragment:
    """Attribute declarations shared by the modules of gitops.bootstrap."""

    # The descriptions only: the module declares the support of each attribute.
    DOCUMENTATION = _ATTRIBUTES.format(check_mode="", diff_mode="", idempotent="")

    # An information module: it never changes anything.
    INFO_MODULE = _ATTRIBUTES.format(
        check_mode=_support("full", _READ_ONLY),
        diff_mode=_support("N/A", _READ_ONLY),
        idempotent=_support("full", _READ_ONLY),
    )

    # A module that changes cluster objects and whose check mode is the API server's dry run.
    SERVER_DRY_RUN = _ATTRIBUTES.format(
        check_mode=_support("full", "Changes are computed by server-side dry runs."),
        diff_mode=_support("full"),
        idempotent=_support("full"),
    )
