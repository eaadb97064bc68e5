# Two commands on a fresh machine (Python 3.10+, git, a POSIX shell):
#   make run    create .venv, install, run the default study, write its report
#   make test   create .venv, install with test extras, run the tests
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install lint perf clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch 2.13.0 is asked for by pin when torch is missing, so pip takes the CPU build on disk
# instead of resolving a multi-GB CUDA build; an installed torch in range is kept.
$(STAMP): $(PY) pyproject.toml
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/bench run studies/quick.toml --out runs/quick --resume
	$(VENV)/bin/bench report runs/quick -o runs/quick/report.html

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

perf: $(STAMP)
	$(VENV)/bin/bench perf

clean:
	rm -rf $(VENV) runs .pytest_cache .benchmarks
