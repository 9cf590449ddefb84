# Infra repository bootstrap: module gitops.bootstrap.infra_repo, role infra_repo, and the
# validation tooling it writes into the generated repository. The tests start real git
# servers on loopback (file://, git http-backend with basic auth, OpenSSH sshd) and use the
# local control plane (cluster $(INFRA_REPO_TEST_CLUSTER), or $GITOPS_TEST_KUBECONFIG) for the server-side dry-run.

# The local cluster of the server-side dry-run test (started and reused by the test's fixture).
INFRA_REPO_TEST_CLUSTER ?= repo1

.PHONY: test-infra-repo
test-infra-repo: venv controlplane
	@command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || { \
	  echo "installing openssh-server (sshd for the SSH transport tests)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: sshd is missing; run: sudo apt-get install -y openssh-server" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; }
	INFRA_REPO_TEST_CLUSTER=$(INFRA_REPO_TEST_CLUSTER) python -m pytest -p no:cacheprovider -q tests/integration/test_infra_repo.py

TEST_TARGETS += test-infra-repo
