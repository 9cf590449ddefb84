# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test sanity creates a virtualenv per test and bootstraps pip in it with a script it
downloads from its CI file host, which machines that reach only package registries cannot
reach. ``make sanity`` copies this file to the cache path ansible-test looks at first. It
(1) installs pip from the standard library's ensurepip, in a separate process so that the
machine's pip configuration stays in effect for the next step, and (2) runs pip install with
the arguments ansible-test passed.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
