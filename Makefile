# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make serve` listens: `make serve HOST=0.0.0.0 PORT=8101`.
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test install install-test

.SECONDEXPANSION:  # a view's rule lists its own sources ($$(wildcard plugins/%/view/...))

serve: install
	$(BIN)/leanlife serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest

# The built-in task plugins that ship a browser view (plugins/<name>/view -> static/view.js).
VIEW_PLUGINS := leanlife_ner leanlife_re leanlife_sa
VIEWS := $(VIEW_PLUGINS:%=plugins/%/static/view.js)

install: $(VENV)/.installed web/dist/index.html $(VIEWS)
install-test: install $(VENV)/.installed-test /usr/bin/chromium

# The browser UI, built from npm packages at install time (nothing from a CDN at run time).
WEB_MODULES := web/node_modules/.package-lock.json
$(WEB_MODULES): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/dist/index.html: $(WEB_MODULES) web/index.html web/vite.config.ts web/tsconfig.json $(wildcard web/src/*.* web/src/*/*.*)
	cd web && npm run build

# Each task view bundles its sources with the view toolkit (web/src/kit) and Preact; all views
# are type-checked together first.
VIEW_TOOLS := $(WEB_MODULES) web/build-views.mjs web/tsconfig.json web/tsconfig.views.json web/views.d.ts \
	web/src/contract.ts $(wildcard web/src/kit/*.*)
plugins/%/static/view.js: $(VIEW_TOOLS) $$(wildcard plugins/%/view/*.*)
	cd web && npx tsc --noEmit -p tsconfig.views.json && node build-views.mjs ../plugins/$*

# The UI tests drive Debian's Chromium; Playwright never downloads a browser of its own.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
/usr/bin/chromium:
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The core (setup.cfg: the server and the light plugins, no torch) and every model plugin, each a
# distribution of its own under plugins/ that declares its heavy dependencies (torch, ...).
MODEL_PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(BIN)/pip install --quiet -e . $(addprefix -e ,$(MODEL_PLUGINS))
	touch $@

# The tests also install the example task plugins of examples/plugins/ (each its own
# distribution, written as a third party would: docs/plugins.md, "A whole task").
EXAMPLE_PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard examples/plugins/*/pyproject.toml))

$(VENV)/.installed-test: $(VENV)/.installed $(wildcard examples/plugins/*/pyproject.toml)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e ".[test]" $(addprefix -e ,$(EXAMPLE_PLUGINS))
	touch $@
