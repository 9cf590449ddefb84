# Foundation suites: lint, ansible-test sanity, control plane smoke test.

SANITY_ROOT := $(BUILD)/sanity
SANITY_TREE := $(SANITY_ROOT)/ansible_collections/gitops/bootstrap

.PHONY: lint test-lint
lint test-lint: venv
	yamllint -s .
	ansible-lint --profile production --offline
	python -m pyflakes plugins tests hack benchmarks

# ansible-test needs the collection at ansible_collections/<namespace>/<name>; it gets a
# copy of the tracked files (tests/output and virtualenvs stay out of the scanned tree).
.PHONY: sanity test-sanity
sanity test-sanity: venv
	@pipver=$$(grep -oE "pip='[0-9.]+'" $$(python -c 'import ansible_test,os;print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py | head -1 | grep -oE "[0-9.]+[0-9]"); \
	  mkdir -p $(HOME)/.ansible/test/cache && \
	  cp hack/ansible_test_get_pip.py $(HOME)/.ansible/test/cache/get_pip_$${pipver//./_}.py
	@rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	@git ls-files -z --cached --others --exclude-standard | grep -zv '^hack/\|^benchmarks/\|^\.ci/' | \
	  xargs -0 -I{} cp --parents {} $(SANITY_TREE)/ 2>/dev/null; true
	@# The copy lives inside this (ignored) .build folder: give it its own git index so that
	@# ansible-test lists its files instead of treating them as ignored.
	@cd $(SANITY_TREE) && git init -q && git add -A
	@# Dependencies resolve beside the collection (ansible-doc needs kubernetes.core's doc fragments).
	@rm -rf $(SANITY_ROOT)/ansible_collections/kubernetes && mkdir -p $(SANITY_ROOT)/ansible_collections/kubernetes && \
	  cp -r $$(python -c 'import ansible_collections.kubernetes.core as m;print(list(m.__path__)[0])') \
	    $(SANITY_ROOT)/ansible_collections/kubernetes/core
	cd $(SANITY_TREE) && ansible-test sanity --local --python 3.11 --color no $(SANITY_ARGS)

.PHONY: test-controlplane
test-controlplane: venv controlplane
	python -m pytest -v -p no:cacheprovider tests/integration/test_controlplane.py

TEST_TARGETS += test-lint test-sanity test-controlplane
