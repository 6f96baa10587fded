# oamflow: `make demo` deploys an example on the local stack, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install demo stack test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Start the Temporal dev server, the Kubernetes API emulator and a worker,
# deploy the MySQL example, print the outcome, stop everything.
demo: install
	$(PY) -m localstack demo examples/mysql.json

# Run the local stack until Ctrl-C; deploy from another terminal.
stack: install
	$(PY) -m localstack

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .oamflow .pytest_cache *.egg-info
