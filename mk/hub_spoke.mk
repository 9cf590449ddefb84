# Hub and spoke: module argocd_cluster and role argocd_spoke with playbooks/hub_and_spoke.yml
# against two local clusters (GITOPS_TEST_HUB_CLUSTER / GITOPS_TEST_SPOKE_CLUSTER, default hub1 and
# spoke1), or against the one cluster of KUBECONFIG / GITOPS_TEST_KUBECONFIG when set.

.PHONY: test-hub-spoke
test-hub-spoke: venv controlplane
	python -m pytest -v -p no:cacheprovider --durations=5 tests/integration/test_hub_and_spoke.py

TEST_TARGETS += test-hub-spoke
