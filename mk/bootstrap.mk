# The whole product: bootstrap.yml over several local clusters, drift.yml, the demo.

DEMO_DIR      := $(BUILD)/demo
DEMO_CLUSTERS := dev=demo-dev,prod=demo-prod

# make demo: hack/demo.py bootstraps two local clusters, starts the real Argo CD controllers beside
# them (host processes that keep running after make returns) and shows the GitOps loop on the dev
# cluster (docs/demo.md). A second run reuses the clusters, the bootstrap and the controllers.
# With KUBECONFIG set, the demo bootstraps that cluster (its current context) instead, and
# shows no loop (its Argo CD runs in the cluster, and cannot read this machine's repository).
.PHONY: demo
demo: venv $(if $(KUBECONFIG),,controlplane argocd-binaries pull-loop-deps)
	@if [ -z "$$KUBECONFIG" ]; then $(PYTHON) hack/demo.py --dir $(DEMO_DIR) --clusters $(DEMO_CLUSTERS) up; \
	else \
	  echo "KUBECONFIG is set: bootstrapping its current context ($$KUBECONFIG)"; \
	  mkdir -p $(DEMO_DIR); [ -d $(DEMO_DIR)/infra.git ] || git init -q --bare -b main $(DEMO_DIR)/infra.git; \
	  GITOPS_DEMO_DIR=$(DEMO_DIR) ansible-playbook -i playbooks/inventory.kubeconfig playbooks/bootstrap.yml; \
	fi

# Stops every process the demo started (controllers, repo servers, Redis, and what they started),
# deletes its clusters and $(DEMO_DIR).
.PHONY: demo-clean
demo-clean:
	$(PYTHON) hack/demo.py --dir $(DEMO_DIR) --clusters $(DEMO_CLUSTERS) down

# tests/integration/test_demo.py (in test-fleet, cluster GITOPS_DEMO_TEST_CLUSTER, default
# demotest-dev) runs the demo's steps with the real controllers.

# The fleet report's page is opened in headless Chromium (tests/integration/test_fleet_report.py).
.PHONY: fleet-report-deps
fleet-report-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null || \
	    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null; }; \
	  else \
	    echo "error: the fleet report test needs chromium; install it (sudo apt-get install chromium)" >&2; exit 1; \
	  fi; \
	fi

# test-bootstrap: the pytest suites (their own clusters boot-dev and boot-prod; rep-dev and rep-prod for the
# fleet report), then the molecule scenario `bootstrap` (bootstrap of two clusters in one run, idempotence, live state, five kinds of
# drift reported and repaired, one cluster unreachable) on two clusters started and deleted here,
# named after the recipe's process id so that two runs at the same time do not share them. Both
# need local clusters: with KUBECONFIG set they are skipped.
.PHONY: test-bootstrap
test-bootstrap: venv controlplane fleet-report-deps
	@$(CLUSTERS); failed=""; \
	python -m pytest -v -p no:cacheprovider tests/integration/test_bootstrap.py tests/integration/test_fleet_report.py || failed="$$failed pytest"; \
	if [ -n "$$KUBECONFIG" ]; then echo "KUBECONFIG is set: molecule scenario bootstrap skipped (it starts two local clusters)"; \
	else \
	  dev="mol-dev-$$$$"; prod="mol-prod-$$$$"; \
	  echo "=== molecule scenario bootstrap ($$dev, $$prod)"; \
	  if cluster_up $$dev BOOTSTRAP_DEV_KUBECONFIG && cluster_up $$prod BOOTSTRAP_PROD_KUBECONFIG; then \
	    molecule test -s bootstrap || failed="$$failed molecule"; \
	  else failed="$$failed molecule(clusters)"; fi; \
	fi; \
	[ -z "$$failed" ] || { echo "FAILED test-bootstrap:$$failed"; exit 1; }

TEST_TARGETS += test-bootstrap

# test-fleet: bootstrap.yml as concurrent job slices of one inventory (clusters slice-1 to slice-3, the
# test Gitea) and the demo's GitOps loop with the real controllers (test_demo.py); a suite of its own
# so that it runs beside test-bootstrap in the other lane of make test.
.PHONY: test-fleet
test-fleet: venv controlplane gitea forge-deps argocd-binaries pull-loop-deps
	python -m pytest -v -p no:cacheprovider tests/integration/test_job_slicing.py tests/integration/test_demo.py

TEST_TARGETS += test-fleet

# make bench-fleet: benchmarks/fleet.py, bootstrap.yml over fleets of 1, 2, 5 and 10 local clusters and a hub
# with 10 spokes, first run and no-op re-run, wall time and controller CPU (docs/performance.md). About an hour
# on 2 cores. BENCH_FLEET_ARGS passes options, e.g. BENCH_FLEET_ARGS="--sizes 1,2 --spokes 0 --profile".
.PHONY: bench-fleet
bench-fleet: venv controlplane
	python benchmarks/fleet.py $(BENCH_FLEET_ARGS)
