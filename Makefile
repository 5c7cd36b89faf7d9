# Two commands: `make demo` (set up + run the main job) and `make test` (set up + lint + types + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck unit bench bench-tables clean sandbox-deps

# The sandbox (bubblewrap) for sessions running model code: installed when missing and the
# machine allows it (root, or passwordless sudo, with apt-get); otherwise one clear message.
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the session sandbox)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 \
	      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1; } \
	      || echo "could not install bubblewrap: sandboxed sessions will refuse to start (apt-get install bubblewrap)"; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the session sandbox)"; \
	    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 \
	      || echo "could not install bubblewrap: sandboxed sessions will refuse to start (apt-get install bubblewrap)"; \
	  else \
	    echo "bubblewrap (bwrap) is missing and cannot be installed here: install it (apt-get install bubblewrap) for sandboxed sessions; their tests are skipped"; \
	  fi; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed sandbox-deps
	$(BIN)/eager demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

# Tests wait on kernels, sessions and streams more than on the CPU: 4 workers on 2 cores.
unit: $(VENV)/.test-installed sandbox-deps
	$(BIN)/python -m pytest -n 4 --dist loadgroup

test: lint typecheck unit

# Speed and memory figures live here, never in tests; results: benchmarks/RESULTS.md.
bench: $(VENV)/.test-installed
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/bench_chunker.py
	$(BIN)/python benchmarks/bench_ipysyntax.py
	$(BIN)/python benchmarks/bench_notebook.py
	$(BIN)/python benchmarks/bench_tools.py --backend sandbox
	$(BIN)/python benchmarks/bench_fidelity.py --limit 40
	$(BIN)/python benchmarks/bench_backends.py
	$(BIN)/python benchmarks/bench_sandbox.py
	$(BIN)/python benchmarks/bench_openai.py
	$(BIN)/python benchmarks/bench_protocols.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_dispatch.py
	$(BIN)/python benchmarks/bench_scale.py --sizes 1,16,64,256 --pool --ray
	$(BIN)/python benchmarks/bench_corpus.py 50 200
	$(BIN)/eager bench --workload demo --tps 20,50,100,200 --variants recorded
	$(BIN)/eager bench --workload dabench-gpt4o-mini --tps 200,100,50,20 --limit 30 --json out/grid.json

# The paper's tables reproduced, its figures beside ours (benchmarks/RESULTS.md leads with them):
# every whole-program workload x repl (Local), repl-sandbox (Docker), jupyter and gateway (OI)
# x 20/50/100/200 tok/s x the ideal, realistic and prefetch settings; Table 2's gpt-4o-mini row
# (its recorded DABench answers at 0.5 s TTFT + 64 tok/s); its cells on warm sessions at
# 200 tok/s (the residual over the bound). TABLES_LIMIT tasks per workload; run it on a quiet
# machine (8: several hours, BigCodeBench's test suites and the 20 tok/s column dominate).
TABLES_LIMIT ?= 8
bench-tables: $(VENV)/.test-installed sandbox-deps
	$(BIN)/python -m pip install -q -e '.[bench]'
	mkdir -p out
	$(BIN)/eager bench --tables --limit $(TABLES_LIMIT) --json out/tables.json --markdown out/tables.md

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
