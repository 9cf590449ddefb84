# Unit tests of the whole collection, and the integration tests of the argocd_* modules.
#
#   make test-unit             every test under tests/unit (offline, a few seconds)
#   make test-argocd-modules   argocd_application, _project, _repository, _rbac and _info against
#                              the local control plane (or the cluster of KUBECONFIG when set), and
#                              the name checks of the modules and roles run through Ansible
#                              (tests/integration/test_names.py, offline, a real bare repository)

.PHONY: unit test-unit
unit test-unit: venv
	PYTHONPATH=$(COLLECTIONS) python -m pytest -p no:cacheprovider tests/unit

.PHONY: test-argocd-modules
test-argocd-modules: venv controlplane
	PYTHONPATH=$(COLLECTIONS) python -m pytest -v -p no:cacheprovider tests/integration/test_argocd_modules.py \
	  tests/integration/test_names.py

TEST_TARGETS += test-unit test-argocd-modules
