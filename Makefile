# The two commands of the README. Both create .venv with python3.11 (PYTHON=... to choose another).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
BUILD_FLAGS := -W -n --keep-going

.PHONY: book test execute clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

## book: install everything and build the HTML book into _build/html (zero warnings allowed)
book: $(VENV)/.installed
	$(BIN)/jupyter-book build . $(BUILD_FLAGS)

## test: install the test tools (and Chromium, with apt-get, if missing) and run the whole suite
test: $(VENV)/.installed-test
	@command -v chromium >/dev/null || bash tools/install_chromium.sh
	$(BIN)/python -m pytest -n auto --dist loadfile --nbval-lax --nbval-current-env --nbval-cell-timeout=600 --durations=15 book tests

# The chapters find CIFAR-10 through WGAN_TEACH_DATA; on the project's build machines it lies in ../shared.
SHARED_CIFAR10 := $(wildcard $(CURDIR)/../shared/data/cifar10-jpeg)

## execute: re-run the chapters and store their outputs (do this after changing a chapter or the package)
execute: $(VENV)/.installed
	WGAN_TEACH_DATA="$${WGAN_TEACH_DATA:-$(SHARED_CIFAR10)}" $(BIN)/python tools/execute_notebooks.py book/*.ipynb

clean:
	rm -rf _build
