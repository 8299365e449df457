# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test install install-test

serve: install
	$(BIN)/leanlife serve

test: install-test
	$(BIN)/python -m pytest

install: $(VENV)/.installed web/dist/index.html
install-test: install $(VENV)/.installed-test /usr/bin/chromium

# The browser UI, built from npm packages at install time (nothing from a CDN at run time).
web/dist/index.html: web/package.json web/package-lock.json web/index.html web/vite.config.ts $(wildcard web/src/*.* web/src/*/*.*)
	cd web && npm ci --no-audit --no-fund && npm run build

# The UI tests drive Debian's Chromium; Playwright never downloads a browser of its own.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
/usr/bin/chromium:
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e ".[test]"
	touch $@
