# The two quick-start commands. Each sets up its own virtual environment on first use.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

run: $(STAMP)  ## the baseline model for England, 10 years (pass overrides with ARGS="seed=2 ...")
	$(VENV)/bin/python -m sim $(ARGS)

test: $(STAMP)  ## the test suite
	$(VENV)/bin/python -m pytest -n 2 $(ARGS)

bench: $(STAMP)  ## the national-scale benchmark
	$(VENV)/bin/python benchmarks/bench_national.py $(ARGS)

clean:
	rm -rf $(VENV) outputs multirun
