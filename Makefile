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

# The browser tests drive Debian's Chromium (Playwright's own download cannot work offline).
# As root, a missing chromium is installed; otherwise this says how. Without it the
# browser tests skip, except under CI=true, where they fail.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      || echo "Could not install chromium with apt-get." >&2; \
	  else \
	    echo "Chromium is missing: install it with 'sudo apt-get install chromium' to run the browser tests." >&2; \
	  fi; \
	fi

# The school deployment's tests start Debian's haproxy (deploy/); installed the same way when run as root.
haproxy:
	@if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's haproxy for the deployment tests..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy) \
	      || echo "Could not install haproxy with apt-get." >&2; \
	  else \
	    echo "haproxy is missing: install it with 'sudo apt-get install haproxy' to run the deployment tests." >&2; \
	  fi; \
	fi

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: dev-deps browser haproxy
	$(PY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "No tests were collected: failing." >&2; exit 1; fi; \
	exit $$rc

# The edit loop: everything but the real browser and the real-weight evaluations (about a minute).
# `make test` stays the whole suite, and is what CI runs.
test-fast: dev-deps
	$(PY) -m pytest -q -m "not browser and not slow" tests
