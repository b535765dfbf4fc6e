# Quick start: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export OMP_WAIT_POLICY := PASSIVE

.PHONY: run test bench lint typecheck clean install

install: $(STAMP)

# torch first: the local CPU wheel satisfies torch==2.13.0; resolving it as a dependency of
# sentence-transformers would pull several GB of CUDA packages instead.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The development config turns on the local web chat (http://127.0.0.1:3978/); another port:
# `make run PORT=8080` (the same as LORE_SERVER_PORT=8080).
DEV_CONFIG ?= lore.dev.toml
PORT ?=

run: $(STAMP)
	$(BIN)/lore --config $(DEV_CONFIG) ingest examples/handbook --if-empty
	$(BIN)/lore --config $(DEV_CONFIG) serve $(if $(PORT),--port $(PORT))

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pytest -q -m bench -p no:cacheprovider bench/ tests/security -s

lint: $(STAMP)
	$(BIN)/ruff check core retrieval connectors bot tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache
