# Neural Network Quines: set-up, build, tests and benchmarks.
#   make book    create .venv (first time), install, execute the notebooks, build the site
#   make test    same set-up, then every test (unit, notebooks in the site build and papermill, site in Chromium)
#   make test-fast  the unit tests of quinelib alone (no notebooks, no site), for development
#   make test-notebooks  every chapter under nbval, cell by cell, with its smoke parameters (make test builds them)
#   make lab     open the notebooks in JupyterLab
#   make bench   time every notebook (default, workshop and smoke parameters) against its budget
#   make student STUDENT_DIR=dir   student copies of the notebooks, solutions replaced by hints
#   make student-branch   commit the student copies on the git branch 'student', for Binder and Colab
#   make handout  regenerate book/formulas.md, the chapters' formula sheets, from the notebooks
#   make publish  after changing repository.url in _config.yml: update the notebooks' Colab cells
#   make diagrams  redraw the chapters' architecture diagrams (book/figures/*.svg) from their parameters
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BUILD  := _build

STUDENT_DIR ?= student

.PHONY: help install book test test-fast test-notebooks lab bench student student-branch handout publish diagrams lint clean clean-all
help:
	@sed -n '2,12p' Makefile

# (Re)install when requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or later is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# The jupyter-cache only notices changes to a notebook's own code; when
# quinelib changes, throw the cache away so every chapter is re-executed.
$(BUILD)/.quinelib-stamp: $(wildcard quinelib/*.py) book/_ext/quinebook_assets.py
	rm -rf $(BUILD)/.jupyter_cache $(BUILD)/.doctrees
	mkdir -p $(BUILD)
	touch $@

book: $(STAMP) $(BUILD)/.quinelib-stamp
	$(BIN)/jupyter-book build .
	@echo
	@echo "The book is built. Open it with:"
	@echo "  file://$(CURDIR)/$(BUILD)/html/index.html"
	@echo "or serve it: $(BIN)/python -m http.server -d $(BUILD)/html 8000"

# Two workers (this project's machines have two cores); each module, and each notebook, stays on one worker,
# in order.  TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/test_site.py --ignore=tests/test_notebooks.py \
		--ignore=tests/test_reader_setup.py --ignore=tests/test_benchmarks.py \
		--ignore=tests/test_workshop_preset.py

# For development: a failing chapter reported cell by cell (make test runs the chapters in the book build).
test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope notebooks

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

student: $(STAMP)
	$(BIN)/python -m tools.student $(STUDENT_DIR)

student-branch: $(STAMP)
	$(BIN)/python -m tools.student_branch

handout: $(STAMP)
	$(BIN)/python -m tools.handout

# After changing repository.url in _config.yml: point every notebook's Colab cell there.
publish: $(STAMP)
	$(BIN)/python -m tools.publish .

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(BUILD)

clean-all: clean
	rm -rf $(VENV)

diagrams: $(STAMP)
	$(BIN)/python -m tools.diagrams
