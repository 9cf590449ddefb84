# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.gitops.bootstrap`` importable in unit tests.

The checkout is found through ``.build/collections/ansible_collections/gitops/bootstrap``
(a symlink that ``make collection`` creates), next to the collections installed in the
virtualenv (kubernetes.core), using Ansible's own collection loader.
"""

import os
import sys

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, ".build", "collections")
LINK = os.path.join(BUILD, "ansible_collections", "gitops", "bootstrap")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)

_paths = [BUILD] + [p for p in sys.path if os.path.isdir(os.path.join(p, "ansible_collections"))]
_AnsibleCollectionFinder(paths=_paths)._install()
