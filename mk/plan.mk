# The plan of a pull request (module gitops.bootstrap.gitops_plan, gitops_plan_publish,
# playbooks/plan.yml): the test forge (Gitea on loopback) and a local cluster
# ($(PLAN_TEST_CLUSTER)) for the server-side dry run, with a ValidatingAdmissionPolicy that
# refuses what the tests expect refused. No pipeline runner runs here: the tests run
# playbooks/plan.yml, the entry point the generated pipelines call.
#
#   make test-plan    the plan suite (about 3 minutes), then the promotion suite: tests/integration/test_promote.py,
#                     the real Gitea and the real Argo CD controllers of the pull loop (cluster
#                     $(PROMOTE_TEST_CLUSTER)), two environments on one Argo CD (docs/promotion.md)
#   make bench-plan   time of the plan for a pull request touching 1 and 10 clusters (no cluster)

PLAN_TEST_CLUSTER ?= plan1
PROMOTE_TEST_CLUSTER ?= promote1
# actionlint lints the generated GitHub workflow (tests/unit/.../test_scaffold_pipelines.py, run by
# test-unit; make test builds actionlint first, through TEST_PREREQS); built from its Go module once
# into $(CACHE)/bin/actionlint-<version>/.
ACTIONLINT_VERSION ?= v1.7.12
ACTIONLINT := $(CACHE)/bin/actionlint-$(ACTIONLINT_VERSION)/actionlint
export GITOPS_ACTIONLINT := $(ACTIONLINT)

.PHONY: actionlint
actionlint:
	@[ -x "$(ACTIONLINT)" ] || { \
	  command -v go >/dev/null || { echo "error: building actionlint needs Go (https://go.dev/dl/)" >&2; exit 1; }; \
	  echo "building actionlint $(ACTIONLINT_VERSION)"; \
	  GOBIN="$(dir $(ACTIONLINT))" GOFLAGS=-mod=mod go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION); }

.PHONY: test-plan
test-plan: venv controlplane gitea argocd-binaries actionlint pull-loop-deps forge-deps
	@owner="$${GITOPS_CLUSTER_OWNER:-test-plan-$$$$}"; \
	trap '$(PYTHON) hack/gitea.py down --all --owner "'"$$owner"'" >/dev/null 2>&1 || true' EXIT; \
	GITOPS_CLUSTER_OWNER="$$owner" PLAN_TEST_CLUSTER=$(PLAN_TEST_CLUSTER) \
	  python -m pytest -q -p no:cacheprovider tests/integration/test_plan.py && \
	GITOPS_CLUSTER_OWNER="$$owner" GITOPS_PULL_LOOP_CLUSTER=$(PROMOTE_TEST_CLUSTER) \
	  python -m pytest -q -p no:cacheprovider tests/integration/test_promote.py

.PHONY: bench-plan
bench-plan: venv argocd-binaries
	python benchmarks/plan.py

TEST_TARGETS += test-plan
TEST_PREREQS += actionlint
