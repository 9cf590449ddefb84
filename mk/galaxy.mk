# The collection as Galaxy and the docs tooling check it, on the built tarball (offline).
#
#   make test-galaxy   build the tarball into .build/galaxy/, then tests/integration/test_packaging.py:
#                      the tarball's file list and size, galaxy-importer, antsibull-docs
#                      lint-collection-docs --plugin-docs, the README's Install commands, and the
#                      playbooks that must fail when the inventory has no cluster in their group;
#                      tests/integration/test_execution_environment.py: `ansible-builder create` with
#                      execution-environment.yml and what its build stages do with the context (no
#                      container engine: the image itself is not built)
#
# galaxy-importer and antsibull-docs get a virtualenv of their own: galaxy-importer pins flake8 6,
# which pins an older pyflakes than the one the lint suite uses. That virtualenv gets the same
# ansible-core as the main one, and sees kubernetes.core (whose doc fragments the modules use)
# through a link into its site-packages, since galaxy-importer runs ansible-doc with a collections
# path of its own.
#
# galaxy-importer.cfg: RUN_ANSIBLE_TEST stays off (it would run ansible-test sanity in a container,
# which the sanity suite already runs locally); its ansible-lint call, bounded by a fixed 180 s that a
# loaded machine can pass, is off too: test_packaging.py runs the same command on the same tarball
# with a longer bound; flake8 is off (pyflakes runs in the lint suite).

GALAXY_DIR     := $(BUILD)/galaxy
GALAXY_VENV    := $(BUILD)/galaxy-venv
GALAXY_PINS    := galaxy-importer==0.4.44 antsibull-docs==2.28.0 ansible-builder==3.2.0 bindep==2.14.0 ansible-runner==2.4.3 \
                  sphinx-ansible-theme==0.10.4 ansible-pygments==0.1.2
GALAXY_STAMP   := $(GALAXY_VENV)/.installed-$(shell echo '$(GALAXY_PINS)' | sha256sum | cut -c1-12)

$(GALAXY_STAMP): $(STAMP_VENV)
	@[ -x $(GALAXY_VENV)/bin/python ] || $(PYTHON) -m venv $(GALAXY_VENV)
	$(GALAXY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(GALAXY_PINS) \
	  "ansible-core==$$($(VENV)/bin/python -c 'import ansible.release as r;print(r.__version__)')"
	@sp=$$($(GALAXY_VENV)/bin/python -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])'); \
	  mkdir -p $$sp/ansible_collections/kubernetes && \
	  ln -sfn $$($(VENV)/bin/python -c 'import ansible_collections.kubernetes.core as m;print(list(m.__path__)[0])') \
	    $$sp/ansible_collections/kubernetes/core
	@rm -f $(GALAXY_VENV)/.installed-*; touch $@

.PHONY: galaxy-tools
galaxy-tools: $(GALAXY_STAMP)

.PHONY: test-galaxy
test-galaxy: venv galaxy-tools
	@rm -rf $(GALAXY_DIR)/dist && mkdir -p $(GALAXY_DIR)/dist
	ansible-galaxy collection build --output-path $(GALAXY_DIR)/dist .
	@printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = False\nOFFLINE_ANSIBLE_LINT = True\nRUN_FLAKE8 = False\nLOG_LEVEL_MAIN = INFO\n' \
	  > $(GALAXY_DIR)/galaxy-importer.cfg
	GITOPS_COLLECTION_TARBALL=$$(ls $(GALAXY_DIR)/dist/*.tar.gz) GITOPS_GALAXY_VENV=$(GALAXY_VENV) \
	  GALAXY_IMPORTER_CONFIG=$(GALAXY_DIR)/galaxy-importer.cfg \
	  python -m pytest -v -p no:cacheprovider tests/integration/test_packaging.py tests/integration/test_execution_environment.py \
	    tests/integration/test_awx.py

TEST_TARGETS += test-galaxy
TEST_PREREQS += galaxy-tools

# test-runner: bootstrap.yml and rbac_audit.yml through ansible-runner, as AWX runs them (a private data
# directory with the collection installed from the tarball built here, the inventory, and env/envvars and
# env/extravars filled by the credential types of docs/awx/credential_types/), on a local cluster of its
# own (GITOPS_TEST_RUNNER_CLUSTER, default runner, deleted afterwards); about 4 minutes. With KUBECONFIG
# set it is skipped.
.PHONY: test-runner
test-runner: venv galaxy-tools controlplane
	@rm -rf $(GALAXY_DIR)/runner-dist && mkdir -p $(GALAXY_DIR)/runner-dist
	ansible-galaxy collection build --output-path $(GALAXY_DIR)/runner-dist .
	GITOPS_COLLECTION_TARBALL=$$(ls $(GALAXY_DIR)/runner-dist/*.tar.gz) GITOPS_GALAXY_VENV=$(GALAXY_VENV) \
	  python -m pytest -v -p no:cacheprovider tests/integration/test_ansible_runner.py

TEST_TARGETS += test-runner

# make docs: the HTML docs site of the collection in .build/docs/html (index.html): a page per module,
# role, filter and callback, written by antsibull-docs from their documentation and built by Sphinx
# offline with warnings as errors (docs/site/: conf.py, index.rst, antsibull-docs.cfg).
# test-docs: make docs, then tests/integration/test_docs_site.py checks that every plugin and role has
# its page and none is an error page (about 2 minutes on 2 cores, most of it Sphinx).
DOCS_DIR := $(BUILD)/docs

.PHONY: docs
docs: venv galaxy-tools
	@rm -rf $(DOCS_DIR) && mkdir -p $(DOCS_DIR)/rst && chmod og-w $(DOCS_DIR)/rst
	GIT_CEILING_DIRECTORIES=$(abspath $(BUILD)):$(abspath $(VENV)) $(GALAXY_VENV)/bin/antsibull-docs \
	  --config-file docs/site/antsibull-docs.cfg collection --use-current --dest-dir $(DOCS_DIR)/rst gitops.bootstrap
	cp docs/site/index.rst $(DOCS_DIR)/rst/index.rst
	PATH=$(abspath $(GALAXY_VENV))/bin:$$PATH sphinx-build -q -b html -c docs/site -W --keep-going $(DOCS_DIR)/rst $(DOCS_DIR)/html
	@echo "Docs site: $(DOCS_DIR)/html/index.html"

.PHONY: test-docs
test-docs: docs
	GITOPS_DOCS_SITE=$(DOCS_DIR)/html python -m pytest -v -p no:cacheprovider tests/integration/test_docs_site.py

TEST_TARGETS += test-docs
