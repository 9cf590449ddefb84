# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

class ModuleDocFragment(object):
    """Attribute declarations shared by the modules of gitops.bootstrap."""

    # Standard attributes of a module that changes state.
    DOCUMENTATION = r"""
options: {}
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
    INFO_MODULE = r"""
options: {}
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
    support: full
    details:
      - This action does not modify state.
  action_group:
    description: Use C(group/gitops.bootstrap.gitops) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gitops.bootstrap.gitops
"""
