# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# FER2013 lives beside the checkout in ../shared for developers; users put it in data/.
DATA   ?= $(firstword $(wildcard ../shared/data/fer2013 data/fer2013.csv.gz data/fer2013.csv data))

.PHONY: setup demo test test-fast bench notebooks clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) cli.py demo

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) bench/accuracy.py --data "$(DATA)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Re-run every notebook on the full data and save it with its outputs.
notebooks: $(STAMP)
	FER_AU_DATA="$(DATA)" $(PY) scripts/run_notebooks.py
