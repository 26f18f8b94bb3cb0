# mappa-intake: the two commands that matter are `make demo` and `make test`.
# Both work from a clean clone on a fresh Debian machine, as root, with Python 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
AXE    := $(VENV)/share/axe-core/4.14.1/axe.min.js
# Debian packages the tests use: tesseract reads the scanned (image-only) forms,
# DejaVu fonts are what the fixtures generator draws the forms with; the tests start their
# own Dovecot (IMAP) and PostgreSQL servers on loopback (the packages' system services are
# not used); the console tests drive Debian's Chromium with Playwright (never `playwright install`).
DEB_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-dejavu-core dovecot-imapd postgresql chromium

.PHONY: demo test lint pytest fixtures bench screenshots system-packages clean

demo: $(STAMP)
	$(BIN)/mappa-intake demo

test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP) system-packages $(AXE)
	$(BIN)/pytest -n 2 -q

# axe-core for the console's accessibility checks: from the npm registry, pinned by hash.
$(AXE): $(STAMP) tests/console/axe.py
	$(BIN)/python -m tests.console.axe

# The README's pictures of the console, taken by its browser tests.
screenshots: $(STAMP) system-packages
	MAPPA_SCREENSHOTS=1 $(BIN)/pytest -q tests/console/test_browser.py tests/console/test_pages.py -k "coordinator or report"

fixtures: $(STAMP) system-packages
	$(BIN)/python -m fixtures.generate

bench: $(STAMP) system-packages
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/scale.py

# Installs the Debian packages only when one is missing, so a second run costs nothing.
system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then echo "need root to apt-get install$$missing" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	   DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
