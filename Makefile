# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/cnn.py
WORKDIR ?= runs/cnn

.PHONY: run test venv browser clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: venv  ## build the synthetic dataset, train, evaluate (resumes if WORKDIR holds a run)
	$(PY) run.py --config $(CONFIG) --workdir $(WORKDIR)

# The demo's test drives Debian's chromium and chromium-driver: installed here when missing
# and apt-get can (as root); without them that test is skipped, with a note.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium chromium-driver >/dev/null; } || \
	  echo 'note: no chromium/chromedriver (apt-get install chromium chromium-driver): the demo browser test is skipped'

# Two worker processes, each module on one of them (its trained runs are module fixtures).
test: venv browser  ## the test suite (CPU; about 4 minutes on a recent 2-core AMD EPYC)
	$(PY) -m pytest -n 2 --dist loadfile tests

clean:
	rm -rf runs data
