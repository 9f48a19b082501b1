# Each target creates (or reuses) its own virtual environment, so both work on a fresh clone
# of this repository on a machine with only Python >= 3.11.
PYTHON ?= python3
RUN_VENV  := .venv-run
TEST_VENV := .venv-test
BENCH_VENV := .venv-bench
ARENA_VENV := .venv-arena

.PHONY: demo test bench chromium

# The demo report's browser test needs Debian's Chromium (no browser is downloaded by a test tool).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

$(RUN_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/pip install --quiet --upgrade pip
	$(RUN_VENV)/bin/pip install --quiet -e .
	touch $@

$(TEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --upgrade pip
	$(TEST_VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e '.[test,bench]'
	touch $@

demo: $(RUN_VENV)/.installed
	$(RUN_VENV)/bin/prefstat demo

chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Debian's chromium for the report test"; \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null; }; }

test: $(TEST_VENV)/.installed chromium
	$(TEST_VENV)/bin/python -m pytest -q
	$(TEST_VENV)/bin/python benchmarks/guard.py --retries 2

# arena-rank pins an older JAX: it gets its own venv, and the benchmarks run it there (--peer-python).
$(ARENA_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(ARENA_VENV)
	$(ARENA_VENV)/bin/pip install --quiet --upgrade pip
	$(ARENA_VENV)/bin/pip install --quiet -e '.[bench-arena]'
	touch $@

bench: $(BENCH_VENV)/.installed $(ARENA_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/bench_bt.py
	$(BENCH_VENV)/bin/python benchmarks/bench_leaderboard.py --peer-python $(ARENA_VENV)/bin/python
