# Pulse: the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed by the targets below; see README.md.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.pulse-installed
PY := $(VENV)/bin/python
DEV_PYTHONPATH := PYTHONPATH=$(CURDIR)/hack
# How much of reconciliation the unit tests (on the in-memory API server) exercise.
UNIT_COVERAGE := --cov=pulse_operator.reconcile --cov=pulse_operator.status --cov-report=term-missing

.PHONY: help venv tools images checkov manifests test lint typecheck unit integration e2e cluster demo bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(VENV_STAMP) ## Create .venv with the pinned dependencies and Pulse in editable mode

$(VENV_STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Pulse needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) -V))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(VENV)/bin/pip install -q --disable-pip-version-check pip
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

tools: ## Build etcd, Kubernetes, KWOK, Prometheus and Pushgateway into .pulse/bin (cached)
	hack/tools/build.sh

images: tools ## Build the operator, sidecar, demo-collector and pause images, and images of make tools's Prometheus, Alertmanager and config reloader, into .pulse/images (root, Linux; cached)
	hack/images/build.sh

checkov: ## checkov in its own pinned virtual environment (.pulse/checkov)
	hack/install-checkov.sh $(PYTHON)

manifests: venv ## Regenerate crds/, docs/api-reference.md, the chart's CRDs and manifests/install.yaml
	$(PY) -m pulse_operator.crdgen
	$(PY) -m pulse_operator.apidocs
	$(DEV_PYTHONPATH) $(PY) hack/gen-manifests.py

lint: venv ## ruff (lint and format) and the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: venv ## mypy --strict on both packages and the dev cluster
	$(VENV)/bin/mypy -p pulse_operator -p pulse_sidecar
	MYPYPATH=hack $(VENV)/bin/mypy -p pulse_devcluster -m pulse_chart

test: venv tools checkov lint typecheck ## Lint, type checks, unit tests (with coverage of reconcile), integration tests, then the real-node stage (make e2e)
	$(DEV_PYTHONPATH) hack/run-pytest.sh $(VENV)/bin/pytest tests -m 'not integration and not e2e' $(UNIT_COVERAGE)
	$(DEV_PYTHONPATH) hack/run-pytest.sh $(VENV)/bin/pytest tests -m integration
	$(MAKE) --no-print-directory e2e

unit: venv ## Only the fast tests that need no built binaries, with coverage of reconcile
	$(DEV_PYTHONPATH) hack/run-pytest.sh $(VENV)/bin/pytest tests -m 'not integration and not e2e' $(UNIT_COVERAGE)

integration: venv tools checkov ## Only the tests that run against the local control plane and other real binaries
	$(DEV_PYTHONPATH) hack/run-pytest.sh $(VENV)/bin/pytest tests -m integration

e2e: venv tools ## The real-node tests: a kubelet, containerd and runc running the images (root on Linux; says why when skipped)
	$(DEV_PYTHONPATH) hack/run-e2e.sh $(VENV)/bin/pytest tests/e2e -m e2e

cluster: venv tools ## Run the local control plane in the foreground; kubeconfig at .pulse/kubeconfig
	$(DEV_PYTHONPATH) exec $(PY) -m pulse_devcluster cluster --real-node=$${REAL_NODE:-no}

demo: venv tools ## Control plane + CRDs + operator + examples (on a real node as root), and what they produced
	@if [[ $$(uname -s) == Linux && $$(id -u) -eq 0 && $${REAL_NODE:-auto} != no ]] && command -v apt-get >/dev/null; then \
	  hack/node/install-deps.sh && hack/images/build.sh; fi
	$(DEV_PYTHONPATH) exec $(PY) -m pulse_devcluster demo --real-node=$${REAL_NODE:-auto}

bench: venv tools ## Run the benchmarks under bench/; each prints its figures
	@for b in bench/bench_*.py; do echo "== $$b"; $(DEV_PYTHONPATH) $(PY) $$b; done

clean: ## Remove .venv and .pulse (the per-user build cache stays)
	rm -rf $(VENV) .pulse
