# make demo: set up .venv and run the whole pipeline on the built-in default scene.
# make test: set up .venv, build the C++ ops (once; cached) and run the tests (CPU only).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; on a GPU machine install your CUDA build into $(VENV) first and
# setup keeps it (it only installs torch when none imports).
TORCH_SPEC ?= torch==2.13.0
# the optional extras setup installs (.ci/run adds viewer, for the viewer's browser test)
EXTRAS ?= test
DEMO := outputs/demo

.PHONY: setup ops test demo clean-demo

# one stamp per set of extras, so asking for another set installs it
STAMP := $(VENV)/.setup-done-$(EXTRAS)

# ops: compile the C++ ops into torch's extension cache now (a no-op when it holds them), so
# neither the tests nor the first run stop to build them
setup: $(STAMP) ops

ops: $(STAMP)
	$(BIN)/python -m nerfspec.native

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $@

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/nerfspec make-scene scenes/default.toml $(DEMO)/scene
	$(BIN)/nerfspec train configs/demo.toml --force --eval
	$(BIN)/nerfspec render $(DEMO)/run --frames 60 --outputs rgb,depth
	$(BIN)/nerfspec mesh $(DEMO)/run --eval
	$(BIN)/nerfspec report $(DEMO)/run
	@echo "demo outputs:"
	@for f in $(DEMO)/run/report.html $(DEMO)/run/eval_test/metrics.json $(DEMO)/run/video/orbit.mp4 \
	    $(DEMO)/run/mesh/mesh.ply $(DEMO)/run/mesh/metrics.json $(DEMO)/scene/mesh.ply; do \
	  if [ -e $$f ]; then echo "  $$f"; else echo "  (missing) $$f"; fi; done
	@$(BIN)/python -m nerfspec.export.mesh_summary $(DEMO)/run/mesh/metrics.json
	@echo "open $(DEMO)/run/report.html in a browser: numbers, curves, renders against the ground truth, video, mesh"

clean-demo:
	rm -rf $(DEMO)
