# Two commands do all the set-up on a fresh machine:
#   make demo   benchmark the agents on the default scenario (creates .venv if needed)
#   make test   run the test suite (creates .venv if needed)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet 'torch==2.13.*'
	$(PY) -m pip install --quiet -e '.[all,integrations]'
	touch $(STAMP)

demo: $(STAMP)
	MPLBACKEND=Agg $(PY) demo.py

test: $(STAMP)
	$(PY) -m ruff check .
	MPLBACKEND=Agg $(PY) -m pytest -q -n 2 --durations=10

bench: $(STAMP)
	$(PY) benchmarks/bench_env.py

clean:
	rm -rf $(VENV) results runs .pytest_cache .hypothesis
