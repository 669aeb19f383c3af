# The two set-up commands of the README: `make demo` and `make test`.
# Each builds the virtual environment it needs in .venv (uv makes it fast).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# This machine keeps a CPU build of PyTorch on disk; elsewhere the torch flavor's tests skip.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl))

.PHONY: demo test clean

demo: $(VENV)/.demo
	$(BIN)/baton demo

test: $(VENV)/.test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

$(VENV)/.demo: pyproject.toml Makefile | $(BIN)/uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[all]'
	touch $@

$(VENV)/.test: pyproject.toml Makefile | $(BIN)/uv
	@# The report's tests drive Debian's Chromium (no browser download).
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(if $(TORCH_WHEEL),$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python '$(TORCH_WHEEL)')
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[all,dev]'
	touch $(VENV)/.demo $@

clean:
	rm -rf $(VENV) .pytest_cache .baton baton-demo
