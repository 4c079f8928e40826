# The two quick-start commands. Each sets up its own virtual environment on first use.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run baseline test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

# The main job: the whole scenario library against the baseline, 20 seeds each, England (scale 1.0), 10 years,
# on all cores (README, Speed: about 8 minutes on 2 cores). Pass ARGS to change any setting, e.g. a quicker
# look at a tenth of England: make run ARGS="population.scale=0.1 horizon.years=5".
run: $(STAMP)  ## compare every scenario with the baseline (pass overrides with ARGS="compare.seeds=5 ...")
	$(VENV)/bin/python -m sim.compare $(ARGS)

baseline: $(STAMP)  ## one run of the baseline for England, 10 years
	$(VENV)/bin/python -m sim $(ARGS)

test: $(STAMP)  ## the test suite
	$(VENV)/bin/python -m pytest -n 2 $(ARGS)

bench: $(STAMP)  ## the national-scale benchmark
	$(VENV)/bin/python benchmarks/bench_national.py $(ARGS)

clean:
	rm -rf $(VENV) outputs multirun
