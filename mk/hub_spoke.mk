# Hub and spoke: module argocd_cluster and role argocd_spoke with playbooks/hub_and_spoke.yml
# against two local clusters (GITOPS_TEST_HUB_CLUSTER / GITOPS_TEST_SPOKE_CLUSTER, default hub1 and
# spoke1), or against the one cluster of KUBECONFIG / GITOPS_TEST_KUBECONFIG when set.
# test_hub_spoke_pull_loop.py then runs on the same two clusters: Argo CD installed on the hub by the
# role, the hub's real application controller and repo server as host processes (pull-loop-deps,
# argocd-binaries of mk/pull_loop.mk), syncing into the spoke through the account argocd_spoke made.

.PHONY: test-hub-spoke
test-hub-spoke: venv controlplane pull-loop-deps argocd-binaries
	python -m pytest -v -p no:cacheprovider --durations=5 tests/integration/test_hub_and_spoke.py \
	  tests/integration/test_hub_spoke_pull_loop.py

TEST_TARGETS += test-hub-spoke
