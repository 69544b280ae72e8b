# Two commands matter: `make demo` (the whole story against the local stack) and `make test`.
# Everything they need is installed here, from the package registries, into the project folder.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_WORKERS ?= 2
export SAM_CLI_TELEMETRY := 0

.PHONY: help browser install lint typecheck validate test test-fast demo local build bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt layers/shared/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# aws-sam-cli pins its own versions of boto3, pydantic and friends: it lives in its own virtualenv
# so that it never changes what the bundle and its tests run with.
$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

# The benchmark's baseline (python-quickbooks) pins an older intuit-oauth: it runs from its own venv.
$(BENCH_STAMP): requirements-bench.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The settings page's browser tests drive Debian's chromium (Playwright never downloads a browser here).
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is not installed: the browser tests will be skipped (install Debian's chromium)"; fi

install: $(STAMP) $(SAM_STAMP) $(NODE_STAMP) browser ## create the virtualenvs, node tools and browser (pinned)

lint: $(STAMP) ## ruff over everything
	$(VENV)/bin/ruff check .

typecheck: $(STAMP) ## mypy (strict) on the shared layer, the handlers, the local stack and the bench
	$(VENV)/bin/mypy layers/shared/kyrios_qbo
	MYPYPATH=layers/shared $(VENV)/bin/mypy $(foreach f,$(wildcard functions/*/app.py),-p functions.$(notdir $(patsubst %/app.py,%,$(f)))) -p local -p bench

validate: $(STAMP) $(SAM_STAMP) $(NODE_STAMP) ## template and state machine checks (offline)
	$(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --region us-east-1 --template template.yaml
	npx --no-install asl-validator --json-path statemachines/import.asl.json

test: install lint typecheck validate ## everything CI runs: lint, types, template checks, then the suite
	$(PY) -m pytest -n $(PYTEST_WORKERS)

test-fast: $(STAMP) ## only the pytest suite
	$(PY) -m pytest -n $(PYTEST_WORKERS)

demo: install ## start the local stack and run the whole story end to end
	$(PY) -m local.demo

local: install ## start the local stack and leave it running (Ctrl-C stops it)
	$(PY) -m local.runner

# sam build needs the Lambda runtime's Python (python3.12) on PATH. Take the first one that really runs
# 3.12 (a pyenv shim is on PATH even when no 3.12 is selected, and then fails): PATH, then pyenv's
# versions/3.12.*, then the OS; put its folder first on PATH for sam. Ask for one only if none is found.
build: $(SAM_STAMP) ## sam build (finds python3.12 on PATH, under pyenv or in /usr/bin)
	@pyenv_root="$$(pyenv root 2>/dev/null || echo "$${PYENV_ROOT:-$$HOME/.pyenv}")"; \
	python312=""; \
	for candidate in "$$(command -v python3.12 || true)" \
		$$(ls -d "$$pyenv_root"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -rV || true) \
		/usr/bin/python3.12 /usr/local/bin/python3.12; do \
		if [ -n "$$candidate" ] && "$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then \
			python312="$$candidate"; break; \
		fi; \
	done; \
	if [ -z "$$python312" ]; then \
		echo "sam build needs python3.12 (the Lambda runtime) and found none on PATH, under $$pyenv_root/versions or in /usr/bin."; \
		echo "Install one (pyenv install 3.12, or your OS package), or use 'sam build --use-container' where Docker runs."; \
		exit 2; \
	fi; \
	echo "sam build with $$python312"; \
	PATH="$$(dirname "$$python312"):$$PATH" $(SAM) build

bench: install $(BENCH_STAMP) ## benchmarks, side by side; writes bench/results.json
	$(PY) -m bench $(BENCH_ARGS)

soak: $(STAMP) ## the reliability suite, bigger and repeated with new seeds, for a bounded time (MINUTES=10)
	$(PY) -m local.soak --minutes $(or $(MINUTES),10)

clean: ## remove virtualenvs, node tools and build output
	rm -rf $(VENV) $(SAM_VENV) $(BENCH_VENV) node_modules .aws-sam
