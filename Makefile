# Two commands matter: `make demo` (the whole stack on this machine, with its demo) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo stack test lint typecheck template-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)          ## start the local stack, run the demo, print the summary; exits non-zero if an invariant fails
	$(PY) -m fulfillment_local.demo $(ARGS)

stack: $(STAMP)         ## start the local stack and keep it running for curl / aws-cli
	$(PY) -m fulfillment_local.stack $(ARGS)

test: $(STAMP) template-check lint typecheck   ## template gate, lint, type check, then the whole test suite
	$(PY) -m pytest $(ARGS)

template-check: $(STAMP)
	$(PY) -m fulfillment_local.template_check template.yaml

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)     ## mypy --strict over the layer and every handler (configured in pyproject.toml)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache
