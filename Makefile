# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/cnn.py
WORKDIR ?= runs/cnn

.PHONY: run test venv clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: venv  ## build the synthetic dataset, train, evaluate (resumes if WORKDIR holds a run)
	$(PY) run.py --config $(CONFIG) --workdir $(WORKDIR)

# Two worker processes, each module on one of them (its trained runs are module fixtures).
test: venv  ## the test suite (CPU; about 7 minutes on 2 cores)
	$(PY) -m pytest -n 2 --dist loadfile tests

clean:
	rm -rf runs data
