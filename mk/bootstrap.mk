# The whole product: bootstrap.yml over several local clusters, drift.yml, the demo.

DEMO_DIR      := $(BUILD)/demo
DEMO_CLUSTERS := demo-dev demo-prod

# With KUBECONFIG set, the demo bootstraps that cluster (its current context) instead of
# two local ones.
DEMO_INVENTORY := $(if $(KUBECONFIG),playbooks/inventory.kubeconfig,playbooks/inventory.local)

.PHONY: demo
demo: venv $(if $(KUBECONFIG),,controlplane)
	@if [ -z "$$KUBECONFIG" ]; then for c in $(DEMO_CLUSTERS); do $(PYTHON) hack/localcluster.py up $$c >/dev/null || exit 1; done; \
	  else echo "KUBECONFIG is set: bootstrapping its current context ($$KUBECONFIG)"; fi
	@mkdir -p $(DEMO_DIR)
	@[ -d $(DEMO_DIR)/infra.git ] || git init -q --bare -b main $(DEMO_DIR)/infra.git
	GITOPS_DEMO_DIR=$(DEMO_DIR) ansible-playbook -i $(DEMO_INVENTORY) playbooks/bootstrap.yml
	@echo
	@echo "The infra repository is at $(DEMO_DIR)/infra.git; clone it to see the layout:"
	@echo "  git clone $(DEMO_DIR)/infra.git /tmp/infra && find /tmp/infra -path '*/.git' -prune -o -type f -print"
	@echo "Drift report (check mode): GITOPS_DEMO_DIR=$(DEMO_DIR) ANSIBLE_CALLBACKS_ENABLED=gitops.bootstrap.drift_report ansible-playbook --check --diff -i $(DEMO_INVENTORY) playbooks/drift.yml"

.PHONY: demo-clean
demo-clean:
	-@for c in $(DEMO_CLUSTERS); do $(PYTHON) hack/localcluster.py down $$c; done
	rm -rf $(DEMO_DIR)

.PHONY: test-bootstrap
test-bootstrap: venv controlplane
	python -m pytest -v -p no:cacheprovider tests/integration/test_bootstrap.py

TEST_TARGETS += test-bootstrap
