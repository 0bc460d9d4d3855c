# Two commands matter: `make demo` (the whole stack on this machine, with its demo) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
LOCK   := requirements-dev.lock
# The stamp names the interpreter's version: another PYTHON (or an upgraded one) rebuilds the virtualenv.
PYVER  := $(shell $(PYTHON) -c 'import sys; print(".".join(map(str, sys.version_info[:3])))' 2>/dev/null)
STAMP  := $(VENV)/.installed-$(PYVER)
TOOLS  := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
LOAD   := .venv-load
LOAD_STAMP := $(LOAD)/.installed

.PHONY: demo stack test checks suite audit lint typecheck template-check security fuzz load lock build deploy clean

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYVER)" || { echo "$(PYTHON) not found: set PYTHON=python3.11 (or newer)"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r $(LOCK) -e .
	touch $(STAMP)

# Best effort: where the tools cannot be installed (offline), their checks say SKIPPED instead of failing.
$(TOOLS_STAMP): requirements-tools.txt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	@{ $(TOOLS)/bin/pip install --quiet uv && \
	   $(TOOLS)/bin/uv pip install --quiet --compile-bytecode --python $(TOOLS)/bin/python -r requirements-tools.txt; } || { \
	  echo "tools: requirements-tools.txt could not be installed (offline?): sam validate, checkov and pip-audit are SKIPPED"; \
	  touch $(TOOLS)/.unavailable; }
	touch $(TOOLS_STAMP)

# Our own modules are compiled first (below, at `test`, says why): each local Lambda worker imports them.
COMPILE := $(PY) -m compileall -q -j 0 -x '/\.' layers functions local tests bench events > /dev/null

demo: $(STAMP)          ## start the local stack, run the demo, print the summary; exits non-zero if an invariant fails
	@$(COMPILE)
	$(PY) -m fulfillment_local.demo $(ARGS)

stack: $(STAMP)         ## start the local stack and keep it running for curl / aws-cli
	@$(COMPILE)
	$(PY) -m fulfillment_local.stack $(ARGS)

# The checks (template gate, security, lint, types) run beside the suite, not before it: make -j, each target's
# output printed whole when it ends (-O); any failure fails `make test`. The suite's tests are spread over the
# workers, an idle worker taking tests from a busy one (worksteal). Bytecode is compiled first: every test process
# and every local Lambda worker imports the project's modules, and where PYTHONDONTWRITEBYTECODE is set (or the
# tree is read-only) Python would compile them again in each one.
# One worker more than cores: the end-to-end tests wait on their stacks' pollers now and then, and the extra worker
# fills those gaps (2 cores: 1m47 with 2 workers, 1m40 with 3).
JOBS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1)' 2>/dev/null || echo auto)
test: $(STAMP) $(TOOLS_STAMP)   ## template gate, security checks, lint, type check and the suite, side by side
	@$(COMPILE)
	@$(MAKE) --no-print-directory -j 4 -O checks suite

# `make test` runs the template gate and checkov again only when what they read changed (the template, the gate,
# their configuration, the tools): a stamp in .aws-sam records the last pass (a clean clone, CI, has none).
# `make template-check` and `make security` always run.
GATE_STAMP    := .aws-sam/.template-checked
CHECKOV_STAMP := .aws-sam/.checkov-passed
$(GATE_STAMP): template.yaml local/fulfillment_local/template_check.py $(wildcard .cfnlintrc) $(TOOLS_STAMP) $(STAMP)
	@$(MAKE) --no-print-directory template-check
	@touch $@

$(CHECKOV_STAMP): $(GATE_STAMP) .checkov.yaml .ci/security
	.ci/security checkov
	@touch $@

checks: $(CHECKOV_STAMP) audit lint typecheck

audit: $(TOOLS_STAMP)   ## pip-audit over the pinned dependencies (the advisories change: always runs)
	.ci/security audit

suite: $(STAMP)   ## the pytest suite alone
	$(PY) -m pytest -n $(JOBS) --dist worksteal $(ARGS)

template-check: $(STAMP) $(TOOLS_STAMP)   ## cfn-lint (source and translated), the SAM transform, sam validate --lint
	$(PY) -m fulfillment_local.template_check template.yaml $(if $(wildcard $(TOOLS)/.unavailable),--no-sam,--sam $(TOOLS)/bin/sam)

security: template-check   ## checkov on the translated template (.checkov.yaml: what is skipped and why), pip-audit
	.ci/security

fuzz: $(STAMP)   ## generated attacks: property tests of every parser and 10,000+ requests through the handlers
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/unit/test_properties.py tests/fuzz -s $(ARGS)

# sam build needs the Lambda runtime's Python (3.13) on PATH; pyenv's is used when it is there.
SAM_PATH := $(shell ls -d $$HOME/.pyenv/versions/3.13*/bin 2>/dev/null | tail -1)
build: $(TOOLS_STAMP)   ## sam build (functions and the layer for python3.13/arm64) into .aws-sam/build
	PATH="$(SAM_PATH):$$PATH" $(TOOLS)/bin/sam build

deploy: build   ## sam deploy with samconfig.toml (asks before changing anything)
	$(TOOLS)/bin/sam deploy

# locust and its dependencies (gevent, flask, ...) in their own virtualenv: only `make load` needs them.
$(LOAD_STAMP): requirements-load.txt
	rm -rf $(LOAD)
	$(PYTHON) -m venv $(LOAD)
	$(LOAD)/bin/pip install --quiet uv
	$(LOAD)/bin/uv pip install --quiet --compile-bytecode --python $(LOAD)/bin/python -r requirements-load.txt
	touch $(LOAD_STAMP)

load: $(STAMP) $(LOAD_STAMP)   ## signed orders at a rising rate on the local stack (locust), next to the emulator's raw rate
	@$(COMPILE)
	$(PY) bench/load.py --locust $(LOAD)/bin/locust $(ARGS)

lock: $(TOOLS_STAMP)   ## re-resolve requirements-dev.lock and the layer's pinned requirements
	$(TOOLS)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o $(LOCK)
	$(TOOLS)/bin/uv pip compile layers/fulfillment/requirements.in -c $(LOCK) --python-version 3.13 \
	  --python-platform aarch64-manylinux_2_28 --no-annotate -o layers/fulfillment/requirements.txt

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)     ## mypy --strict over the layer and every handler (configured in pyproject.toml)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(TOOLS) $(LOAD) .aws-sam .pytest_cache .mypy_cache
