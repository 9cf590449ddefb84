# Argo CD role: molecule scenarios against local clusters (converge, idempotence, verify).
#
#   make test-argocd-role                       every scenario
#   make test-argocd-role ARGOCD_SCENARIOS=argocd_default
#
# The scenarios share one cluster (started and deleted here) and run one after the other;
# argocd_check_mode gets a fresh cluster of its own. The cluster names end with the recipe's
# process id, so two runs at the same time (a checkout and a CI clone) do not share clusters.
# With KUBECONFIG set, every scenario runs against that cluster and nothing is started or deleted.

ARGOCD_TEST_CLUSTER ?= argocd-role
ARGOCD_FRESH_CLUSTER ?= argocd-fresh
ARGOCD_SCENARIOS ?= argocd_check_mode argocd_default argocd_upgrade argocd_uninstall \
                    argocd_custom_namespace argocd_namespace_flavour argocd_bad_input

.PHONY: test-argocd-role
test-argocd-role: venv
	@$(CLUSTERS); set -e; \
	shared_name="$(ARGOCD_TEST_CLUSTER)-$$$$"; fresh_name="$(ARGOCD_FRESH_CLUSTER)-$$$$"; \
	if [ -n "$$KUBECONFIG" ]; then shared="$$KUBECONFIG"; else cluster_up $$shared_name shared; fi; \
	failed=""; \
	for s in $(ARGOCD_SCENARIOS); do \
	  kc="$$shared"; \
	  if [ "$$s" = argocd_check_mode ] && [ -z "$$KUBECONFIG" ]; then cluster_up $$fresh_name kc; fi; \
	  echo "=== molecule scenario $$s ($$kc)"; \
	  molecule reset -s $$s >/dev/null 2>&1 || true; \
	  K8S_AUTH_KUBECONFIG="$$kc" molecule test -s $$s || failed="$$failed $$s"; \
	  if [ "$$s" = argocd_check_mode ] && [ -z "$$KUBECONFIG" ]; then cluster_down $$fresh_name; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED argocd scenarios:$$failed"; exit 1; fi

TEST_TARGETS += test-argocd-role
