# The README's two commands: `make demo` and `make test`. Both install what is missing first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# A torch wheel that this machine keeps locally (CPU build); installed first so pip never downloads a CUDA build.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*.whl))
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: install test test-quick demo clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -c "import torch" 2>/dev/null || \
	  { if [ -n "$(TORCH_WHEEL)" ]; then $(BIN)/python -m pip install -q "$(TORCH_WHEEL)"; \
	    else $(BIN)/python -m pip install -q torch; fi; }
	# Hold torch at the installed version: otherwise torchvision (nnU-Net -> timm) pulls a newer CUDA torch.
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__.split('+')[0])" > $(VENV)/constraints.txt
	$(BIN)/python -m pip install -q -c $(VENV)/constraints.txt -e ".[test,bench]"
	# A CUDA torchvision beside a CPU torch cannot import, which breaks nnU-Net's trainer lookup
	# (docs/trainers.md, "CPU-only machines"); install the import guard only where that happens.
	$(BIN)/python -c "import torchvision" 2>/dev/null || $(BIN)/python -m nnunet_topo._torchvision_guard --install
	$(BIN)/python -c "import importlib.util as u; u.find_spec('torchvision') is None or __import__('torchvision')"
	touch $@

test: install
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS) tests

test-quick: install
	$(BIN)/python -m pytest -q -ra -m "not slow" $(PYTEST_ARGS) tests

# The embedded demo end to end (writes ./demo_work; options: make demo DEMO_ARGS="--epochs 4 --seed 1").
demo: install
	$(BIN)/nnunet-topo demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
