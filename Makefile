# gitops.bootstrap: set-up, demo and tests.
#
#   make demo    create the virtualenv, build and start the local control plane, run the
#                main playbook against it and print a summary
#   make test    the same set-up, then every test suite
#
# Everything is installed by these targets; nothing has to be set up by hand.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON        ?= python3
VENV          ?= .venv
CACHE         ?= $(or $(GITOPS_BOOTSTRAP_CACHE),$(HOME)/.cache/gitops-bootstrap)
BUILD         := $(CURDIR)/.build
COLLECTIONS   := $(BUILD)/collections
COLLECTION    := $(COLLECTIONS)/ansible_collections/gitops/bootstrap
ARGOCD_MANIFESTS ?= $(abspath $(CURDIR)/../shared/argocd)
TEST_CLUSTER  ?= gitops-test

export GITOPS_BOOTSTRAP_CACHE := $(CACHE)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := true
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export GITOPS_ARGOCD_MANIFESTS := $(ARGOCD_MANIFESTS)
export PY_COLORS := 0

STAMP_VENV := $(VENV)/.installed-$(shell cat requirements.txt requirements-test.txt | sha256sum | cut -c1-12)

# Test suites add themselves to TEST_TARGETS in mk/*.mk, and what they need built or
# installed beforehand to TEST_PREREQS.
TEST_TARGETS :=
TEST_PREREQS := venv controlplane

# The local clusters of a recipe. A recipe line that begins with `$(CLUSTERS);` can call
#   cluster_up NAME VAR   start local cluster NAME (or reuse it) and export its kubeconfig path as VAR
#   cluster_down NAME     delete NAME now
# and every cluster that cluster_up named is deleted when that shell ends, whether the recipe
# passed, failed or was interrupted. A name is recorded before its start, so a cluster that came
# up only in part is deleted too.
define CLUSTERS
started=""; \
cluster_down() { $(PYTHON) hack/localcluster.py down "$$1" >/dev/null 2>&1 || true; \
  started=$$(for c in $$started; do [ "$$c" = "$$1" ] || printf '%s ' "$$c"; done); }; \
clusters_down() { for c in $$started; do $(PYTHON) hack/localcluster.py down "$$c" >/dev/null 2>&1 || true; done; started=""; }; \
trap clusters_down EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
cluster_up() { local cluster_up_path; started="$$started $$1"; \
  cluster_up_path=$$($(PYTHON) hack/localcluster.py up "$$1") || return 1; export "$$2=$$cluster_up_path"; }
endef

.PHONY: help
help:
	@echo "make demo        set up everything and bootstrap local clusters with the collection"
	@echo "make test        set up everything and run every test suite"
	@echo "make venv        create $(VENV) with the pinned Python and Ansible dependencies"
	@echo "make controlplane  build (or reuse) the local control plane binaries"
	@echo "make cluster     start the local test cluster '$(TEST_CLUSTER)'"
	@echo "make clean-clusters  stop and delete every local cluster"
	@echo "make lint | sanity | unit   single suites"

# ---------------------------------------------------------------------------- set-up
$(STAMP_VENV): requirements.txt requirements-test.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@rm -f $(VENV)/.installed-*; touch $@

.PHONY: venv
venv: $(STAMP_VENV) collection

# The collection is found by Ansible through a symlink laid out as ansible_collections/gitops/bootstrap.
.PHONY: collection
collection:
	@mkdir -p $(dir $(COLLECTION))
	@[ -L $(COLLECTION) ] || ln -sfn $(CURDIR) $(COLLECTION)

.PHONY: controlplane
controlplane:
	$(PYTHON) hack/localcluster.py build

.PHONY: cluster
cluster: controlplane
	$(PYTHON) hack/localcluster.py up $(TEST_CLUSTER)

.PHONY: clean-clusters
clean-clusters:
	-$(PYTHON) hack/localcluster.py down --all

include $(sort $(wildcard mk/*.mk))

# Every suite runs, even after a failure, in TEST_JOBS lanes (default 2): most suites wait on
# clusters and controllers rather than on the CPU. What several suites need is built or
# installed first, once (TEST_PREREQS, which mk/*.mk extend), so that no two suites build the
# same thing at once. hack/run_suites.py gives each suite its own GITOPS_CLUSTER_OWNER and
# deletes the local clusters it left when it ends; clusters that were running before, and
# those of another run on the same machine, are left alone. Each suite's output is in
# .build/test-logs/<suite>.log and is printed whole when the suite ends. TEST_JOBS=1 runs the
# suites one after the other.
TEST_JOBS ?= 2

.PHONY: test test-prereqs
test-prereqs: $(TEST_PREREQS)

test: venv controlplane
	@$(MAKE) --no-print-directory test-prereqs
	@$(PYTHON) hack/run_suites.py --jobs $(TEST_JOBS) $(TEST_TARGETS)
