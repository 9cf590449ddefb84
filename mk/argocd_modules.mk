# Unit tests of the whole collection, and the integration tests of the argocd_* modules.
#
#   make test-unit             every test under tests/unit (offline, a few seconds)
#   make test-argocd-modules   argocd_application, _project, _repository, _rbac and _info against
#                              the local control plane (or the cluster of KUBECONFIG when set),
#                              argocd_install existing=keep (test_argocd_install_keep.py), and
#                              the name checks of the modules and roles run through Ansible
#                              (tests/integration/test_names.py, offline, a real bare repository),
#                              and every cluster module against a server that never answers, a
#                              refused certificate and a missing kubeconfig (test_connection_errors.py)

.PHONY: unit test-unit
unit test-unit: venv actionlint
	PYTHONPATH=$(COLLECTIONS) python -m pytest -p no:cacheprovider tests/unit

.PHONY: test-argocd-modules
# argocd-binaries (mk/pull_loop.mk): the RBAC tests ask the real Argo CD enforcer (argocd admin settings rbac can).
test-argocd-modules: venv controlplane argocd-binaries
	PYTHONPATH=$(COLLECTIONS) python -m pytest -v -p no:cacheprovider tests/integration/test_argocd_modules.py \
	  tests/integration/test_argocd_install_keep.py tests/integration/test_names.py tests/integration/test_connection_errors.py

TEST_TARGETS += test-unit test-argocd-modules
