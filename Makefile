# Two commands: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test test-fast deps dev-deps browser haproxy

$(VENV)/.deps: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.dev-deps: $(VENV)/.deps requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

deps: $(VENV)/.deps
dev-deps: $(VENV)/.dev-deps

# The server's environment (OMP_NUM_THREADS=1, MALLOC_ARENA_MAX=2) and flags live in services/server.py,
# with the reasons; the browser tests and benchmarks start the server from the same definition.
run: deps
	$(PY) -m services.server

# Debian packages the tests need: $(1) the package, $(2) the file it installs, $(3) what it is for.
# As root a missing one is installed with apt-get; otherwise this says how. Without them those tests
# skip, except under CI=true, where they fail.
define debian_package
	@if [ ! -x $(2) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's $(1) for the $(3)..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1)) \
	      || echo "Could not install $(1) with apt-get." >&2; \
	  else \
	    echo "$(1) is missing: install it with 'sudo apt-get install $(1)' to run the $(3)." >&2; \
	  fi; \
	fi
endef

# The browser tests drive Debian's Chromium (Playwright's own download cannot work offline).
browser:
	$(call debian_package,chromium,/usr/bin/chromium,browser tests)

# The school deployment's tests start Debian's haproxy (deploy/).
haproxy:
	$(call debian_package,haproxy,/usr/sbin/haproxy,deployment tests)

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: dev-deps browser haproxy
	$(PY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "No tests were collected: failing." >&2; exit 1; fi; \
	exit $$rc

# The edit loop: everything but the real browser and the real-weight evaluations (about a minute).
# `make test` stays the whole suite, and is what CI runs.
test-fast: dev-deps
	$(PY) -m pytest -q -m "not browser and not slow" tests
