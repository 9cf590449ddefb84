# The pull loop with the real Argo CD controllers (host processes next to a local cluster).
#
#   make argocd-binaries   build (or reuse) the argocd and kustomize binaries from Go modules
#   make test-pull-loop    the end-to-end pull-loop suite (cluster loop1), the webhook from the test
#                          forge into argocd-server, sync impersonation (same cluster and controllers,
#                          after the suite)
#                          and the uninstall with the real controller (cluster loop3)
#   make bench-pull-loop   time from git push to live change (cluster loop2)
#   make bench-webhook     merge on the forge to live change, webhook against poll (cluster loop4)

PULL_LOOP_PACKAGES := redis-server:redis-server openssh-server:sshd

# redis-server and sshd run as host processes; CI machines start without them.
.PHONY: pull-loop-deps
pull-loop-deps:
	@missing=""; for p in $(PULL_LOOP_PACKAGES); do \
	  pkg=$${p%%:*}; cmd=$${p##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing >/dev/null || \
	    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	  else \
	    echo "error: the pull-loop tests need$$missing; install them (sudo apt-get install$$missing)" >&2; exit 1; \
	  fi; \
	fi

.PHONY: argocd-binaries
argocd-binaries:
	$(PYTHON) hack/argocd_controllers.py build

# test_webhook.py runs right after test_pull_loop.py: it reuses that suite's cluster and controllers
# (pullloop_env.shared_pull_loop) and the session's Gitea (make gitea, forge-deps of mk/forge.mk).
.PHONY: test-pull-loop
test-pull-loop: venv controlplane pull-loop-deps argocd-binaries gitea forge-deps
	python -m pytest -v -p no:cacheprovider -s tests/integration/test_pull_loop.py tests/integration/test_sync_impersonation.py \
	  tests/integration/test_webhook.py tests/integration/test_pull_loop_uninstall.py

# Repository mode (Git as the only source of truth) on a pull loop of its own (cluster loop5), so it
# runs beside test-pull-loop in the other lane of make test.
.PHONY: test-single-source
test-single-source: venv controlplane pull-loop-deps argocd-binaries
	GITOPS_PULL_LOOP_CLUSTER=$${GITOPS_PULL_LOOP_CLUSTER:-loop5} python -m pytest -v -p no:cacheprovider -s \
	  tests/integration/test_single_source.py

TEST_TARGETS += test-single-source

.PHONY: bench-pull-loop
bench-pull-loop: venv controlplane pull-loop-deps argocd-binaries
	python benchmarks/pull_loop.py

.PHONY: bench-webhook
bench-webhook: venv controlplane pull-loop-deps argocd-binaries gitea forge-deps
	python benchmarks/webhook.py

TEST_TARGETS += test-pull-loop
TEST_PREREQS += argocd-binaries pull-loop-deps
