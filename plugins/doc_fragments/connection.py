# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

class ModuleDocFragment(object):
    """Connection options that every module of gitops.bootstrap adds to kubernetes.core's."""

    DOCUMENTATION = r"""
options:
  request_timeout:
    description:
      - Seconds to wait for the Kubernetes API server to accept the connection and to answer, for each request
        the module makes (API discovery, reads, applies, deletes and the parallel requests of M(gitops.bootstrap.argocd_install)).
      - A server that accepts the connection and then never answers makes the module fail after this time, with
        a message that names the server, the request and this option. A timed-out request is not sent again, and
        the server is not asked again in the same run.
      - Waits the module does on purpose (C(wait_timeout) of the modules that have one) are separate; they are made
        of many short requests, each bounded by this timeout.
      - If not set, the environment variable E(K8S_AUTH_REQUEST_TIMEOUT) is used, and then the default. To set it
        once for every module, use C(module_defaults) of C(group/gitops.bootstrap.gitops) or that variable.
      - Must be greater than 0; no value waits forever.
    type: float
    default: 30
"""
