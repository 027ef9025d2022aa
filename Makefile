# Everything the project needs is installed from here: CI runs `make test` on a clean clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel pinned here is on this machine's disk, so the install takes seconds. On a GPU box,
# install your CUDA torch into .venv first (or set TORCH_SPEC): pip keeps a torch that satisfies it.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# `make run`: where the API listens and how many training workers `odecast up` starts.
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

.PHONY: install browser test lint bench run clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The web console's browser tests need Debian's chromium and chromium-driver (apt, as root or
# through sudo); installed once, when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

test: $(STAMP) browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The benchmarks also need the bench extra (statsmodels, Prophet), which `make test` does not.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/solvers.py

run: $(STAMP)
	$(BIN)/odecast up --host $(HOST) --port $(PORT) --workers $(WORKERS)

clean:
	rm -rf $(VENV) .pytest_cache
