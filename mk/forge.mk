# The test forge: Gitea built from its Go module, run on loopback by the tests.
#
#   make gitea        build (or reuse) the gitea binary ($(CACHE)/bin/gitea-<version>/gitea);
#                     needs Go and a C compiler (SQLite through cgo)
#   make test-forge   smoke test of the forge harness (tests/integration/forge.py): one Gitea on
#                     loopback for the session, stopped at the end, also when the run fails;
#                     then gitops.bootstrap.forge_repository against that Gitea, and the bootstrap
#                     through a pull request (infra_repo pull_request: true), and what a plan
#                     pipeline reports on a pull request (comment, commit status)
#
# By hand: hack/gitea.py up NAME (prints the base URL), down NAME, list.

.PHONY: gitea
gitea:
	$(PYTHON) hack/gitea.py build

# ssh-keygen makes the server's SSH host key and the tests' deploy keys.
.PHONY: forge-deps
forge-deps:
	@command -v ssh-keygen >/dev/null || { \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "error: the forge tests need ssh-keygen; install it (sudo apt-get install openssh-client)" >&2; exit 1; fi; \
	  echo "installing openssh-client"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client >/dev/null; }; }

# The harness stops its server when the session ends and the kernel stops it if pytest dies;
# the trap removes whatever a killed run left behind (servers recorded under this run's owner).
.PHONY: test-forge
test-forge: venv gitea forge-deps
	@owner="$${GITOPS_CLUSTER_OWNER:-test-forge-$$$$}"; \
	trap '$(PYTHON) hack/gitea.py down --all --owner "'"$$owner"'" >/dev/null 2>&1 || true' EXIT; \
	GITOPS_CLUSTER_OWNER="$$owner" python -m pytest -v -p no:cacheprovider tests/integration/test_forge_harness.py \
	  tests/integration/test_forge_repository.py tests/integration/test_forge_pull_request.py \
	  tests/integration/test_forge_review_api.py tests/integration/test_infra_repo_propose.py

TEST_TARGETS += test-forge
TEST_PREREQS += gitea forge-deps
