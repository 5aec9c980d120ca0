# Set-up and checks. TORCH_SPEC pins the CPU wheel this project's machines carry; on your own machine
# use e.g. `make run TORCH_SPEC=torch` to get your platform's default build.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install run test test-slow lint bench

$(BIN)/ramac: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/ramac

# The main job: RADAC, ORAAC and BC on the 2-D risky bandit, 2 seeds each, through the sweep engine, then
# the report (README "Quick start"); rerunning resumes. One RADAC run alone: ramac fit --config conf/bandit.yaml.
run: install
	$(BIN)/ramac sweep conf/sweeps/demo.yaml
	$(BIN)/ramac report runs/sweeps/demo

# The test suite (CPU, about 12 minutes on 2 cores); `make test-slow` adds the SIGKILL/resume checks of a run and of a sweep
# (about 5 minutes).
test: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not slow"

test-slow: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m slow

lint: install
	$(BIN)/ruff check .

bench: install
	cd bench && ../$(BIN)/python compare_official.py --task hopper --threads 1
	cd bench && ../$(BIN)/python compare_official.py --task hopper --threads 2
	cd bench && ../$(BIN)/python compare_official.py --task halfcheetah --threads 1
	cd bench && ../$(BIN)/python compare_official.py --task halfcheetah --threads 2
