# A fresh machine needs only Python 3.11: `make demo` or `make test` builds .venv first.
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/.installed: pyproject.toml
	python3.11 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,suggest]'
	-$(BIN)/pip uninstall -y -q triton
	touch $@

.PHONY: demo test
demo: $(BIN)/.installed
	$(BIN)/posewarper-annotate --demo

test: $(BIN)/.installed
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q
