# Hummingbird: `make run` starts the node, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
RUN_STAMP := $(VENV)/.installed

# The Amsterdam devnet fixtures (issue 20: the experimental fork), JIT diffed against the
# interpreter; Amsterdam is never among the default forks, so they are named here.
CONFORMANCE_AMSTERDAM = $(PY) scripts/conformance.py ../shared/conformance/eest-devnet/amsterdam --fork Amsterdam --compare-engines

# Every blockchain fixture's transactions on the optimistic parallel executor (issue 15).
CONFORMANCE_PARALLEL = $(PY) scripts/conformance.py ../shared/conformance/eest/blockchain_tests --engine jit --jobs 1 --parallel-workers 2

.PHONY: run test lint typecheck conformance conformance-parallel conformance-full reliability soak bench-evm bench-parallel wrk bench-wrk clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# With the native extra (llvmlite): --engine auto goes on to machine code for hot loops.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[native]'
	touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(RUN_STAMP)

# Byte-code cached ahead: an environment with PYTHONDONTWRITEBYTECODE set (CI images often
# have it) would otherwise compile every module again at each start (about 0.4 s of a node's
# start-up, and of every node the tests spawn). ~0.3 s when nothing changed (one process:
# with -j 0 its worker pool alone took ~1 s).
COMPILE_SOURCES = $(PY) -m compileall -q rpc sequencer statedb jit scripts >/dev/null

run: $(RUN_STAMP)
	@$(COMPILE_SOURCES)
	$(VENV)/bin/hummingbird

test: $(STAMP)
	@# anvil (npm @foundry-rs/anvil-linux-amd64, pinned by scripts/peers/package-lock.json) for
	@# tests/e2e's side-by-side comparison: only that package, not the other peers install.sh adds.
	@if [ ! scripts/peers/node_modules/.package-lock.json -nt scripts/peers/package-lock.json ]; then \
		if command -v npm >/dev/null; then \
			npm ci --prefix scripts/peers --no-audit --no-fund --loglevel=error; \
		else echo "npm not found: tests/e2e skips the anvil comparison (fails if CI is set)" >&2; fi; \
	fi
	@# tests/e2e/clients' tools (Hardhat 2 and 3 with Node 22, forge/cast, viem, solc-js), each
	@# folder pinned by its package-lock.json (npm ci); skipped while up to date.
	@bash tests/e2e/clients/install.sh
	@# Headless Chromium (Debian's chromium) for tests/integration/test_browser_exposure.py.
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium not found: the browser exposure test skips (fails if CI is set)" >&2; fi; \
	fi
	@# wrk (brings LuaJIT): tests/unit/scripts/test_bench_wrk.py drives scripts/wrk/send_raw.lua in it.
	@if ! command -v wrk >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else echo "wrk not found: the send_raw.lua tests skip (apt-get install -y wrk)" >&2; fi; \
	fi
	@$(COMPILE_SOURCES)
	$(PY) -m ruff check rpc sequencer statedb jit scripts tests
	$(PY) -m mypy
	$(PY) -m pytest -n 2 -q
	$(PY) scripts/conformance.py --tier quick --compare-engines
	$(CONFORMANCE_AMSTERDAM)
	$(CONFORMANCE_PARALLEL)

lint: $(STAMP)
	$(PY) -m ruff check rpc sequencer statedb jit scripts tests
	$(PY) -m ruff format --check rpc sequencer statedb jit scripts tests

typecheck: $(STAMP)
	$(PY) -m mypy

conformance: $(STAMP)
	$(PY) scripts/conformance.py --tier quick

conformance-parallel: $(STAMP)
	$(CONFORMANCE_PARALLEL)

conformance-full: $(STAMP)
	$(PY) scripts/conformance.py --tier full --compare-engines
	$(CONFORMANCE_AMSTERDAM)

# The long reliability tier (issue 14): `make test` runs the same suites briefly.
reliability: $(STAMP)
	HUMMINGBIRD_FUZZ_EXAMPLES=3000 $(PY) -m pytest -q tests/reliability -k fuzz
	$(PY) -m tests.reliability.crash --trials 52
	$(PY) scripts/probe_stall.py --node hummingbird --check
	$(PY) scripts/probe_stall.py --node hummingbird --extra "--hardfork prague" --check

# One hour at about half of the node's closed-loop transfer throughput (not in CI).
soak: $(STAMP)
	$(PY) scripts/soak.py --minutes 60 --rate 1000 --check

bench-parallel: $(STAMP)
	$(PY) scripts/bench_parallel.py --txs 2000 --hot 0,25,100 --workers 1,2,3 --runs 5 --json bench-parallel.json

# wrk (Debian's package, with LuaJIT) for scripts/bench_wrk.py.
wrk:
	@if ! command -v wrk >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else echo "wrk not found: apt-get install -y wrk (as root)" >&2; exit 1; fi; \
	fi

bench-wrk: $(STAMP) wrk
	$(PY) scripts/bench_wrk.py --json bench-wrk.json

bench-evm: $(STAMP)
	@# py-evm comes from the bench extra only: never a runtime dependency.
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) scripts/evm_bench.py --runs 7
	$(PY) scripts/bench_jit_compile.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
