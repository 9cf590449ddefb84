# RBAC audit and lock-down (k8s_rbac_audit, k8s_access_review, role rbac_lockdown).
#
#   make test-rbac     integration tests against a local control plane (every claim checked with
#                      SubjectAccessReview; the admission guard and break-glass in test_admission.py),
#                      molecule scenario rbac_lockdown (converge, idempotence,
#                      verify); the unit tests of the RBAC engine and modules run in make test-unit
#   make bench-rbac    full audit of a cluster seeded with 2,000 bindings and 500 roles (figures
#                      for the README; not part of `make test`)
#
# Both start their own local cluster (RBAC_TEST_CLUSTER, RBAC_BENCH_CLUSTER) and delete it at the
# end. With KUBECONFIG set they use that cluster instead and start nothing.

RBAC_TEST_CLUSTER ?= rbac1
RBAC_BENCH_CLUSTER ?= rbac2

.PHONY: test-rbac
test-rbac: venv controlplane
	@$(CLUSTERS); set -e; \
	if [ -n "$$KUBECONFIG" ]; then kc="$$KUBECONFIG"; else cluster_up $(RBAC_TEST_CLUSTER) kc; fi; \
	GITOPS_TEST_CLUSTER=$(RBAC_TEST_CLUSTER) python -m pytest -q -p no:cacheprovider \
	  tests/integration/test_rbac_audit.py tests/integration/test_rbac_lockdown.py tests/integration/test_admission.py \
	  tests/integration/test_pipeline_identity.py; \
	K8S_AUTH_KUBECONFIG="$$kc" molecule test -s rbac_lockdown

.PHONY: bench-rbac
bench-rbac: venv controlplane
	python benchmarks/rbac_audit.py --cluster $(RBAC_BENCH_CLUSTER)

TEST_TARGETS += test-rbac
