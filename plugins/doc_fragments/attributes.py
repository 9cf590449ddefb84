# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute declarations shared by the modules of gitops.bootstrap.

This doc fragment is PRIVATE to the collection. The variants differ only in the support they
declare. A module names one variant in ``extends_documentation_fragment`` and adds, under its own
``attributes``, what is particular to it (its values win over the fragment's). Each variant is a
plain string literal: ansible-test's documentation checks read the fragments without running them.
"""

from __future__ import annotations


class ModuleDocFragment:
    """Attribute declarations shared by the modules of gitops.bootstrap."""

    # The descriptions only: the module declares the support of each attribute.
    DOCUMENTATION = r"""options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
  action_group:
    description: Use C(group/gitops.bootstrap.gitops) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gitops.bootstrap.gitops
"""

    # An information module: it never changes anything.
    INFO_MODULE = r"""options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
    support: full
    details:
      - This action does not modify state.
  action_group:
    description: Use C(group/gitops.bootstrap.gitops) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gitops.bootstrap.gitops
"""

    # A module that changes cluster objects and whose check mode is the API server's dry run.
    SERVER_DRY_RUN = r"""options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Changes are computed by server-side dry runs.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
    support: full
  action_group:
    description: Use C(group/gitops.bootstrap.gitops) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gitops.bootstrap.gitops
"""
