# make demo: set up .venv and run the whole pipeline on the built-in default scene.
# make test: set up .venv and run the tests (CPU only).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; on a GPU machine install your CUDA build into $(VENV) first and
# setup keeps it (it only installs torch when none imports).
TORCH_SPEC ?= torch==2.13.0
DEMO := outputs/demo

.PHONY: setup test demo clean-demo

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[test]"
	touch $@

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/nerfspec make-scene scenes/default.toml $(DEMO)/scene
	$(BIN)/nerfspec train configs/demo.toml --force --eval
	$(BIN)/nerfspec render $(DEMO)/run --frames 60 --outputs rgb,depth --out $(DEMO)/video
	$(BIN)/nerfspec mesh $(DEMO)/run --resolution 128 --eval --out $(DEMO)/mesh/mesh.ply
	@echo "demo outputs in $(DEMO): scene/ (generated views, ground-truth mesh.ply), run/ (config, checkpoints, tb/),"
	@echo "  run/eval_test/ (test renders, metrics.json), video/ (orbit MP4: colour | depth), mesh/ (mesh.ply, metrics.json)"

clean-demo:
	rm -rf $(DEMO)
