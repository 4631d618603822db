"""nerfspec: neural radiance fields with interchangeable input mappings.

The public API, imported on first use (PEP 562), so ``import nerfspec`` stays cheap::

    cfg = nerfspec.load_config("configs/demo.toml", [])
    run = nerfspec.load_run("outputs/demo/run")
    video = nerfspec.render_video(run, run.cfg.data)
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> the module that defines it (train, evaluate and compare are the modules of
# those names: nerfspec.train.train, nerfspec.evaluate.evaluate, nerfspec.compare.compare)
_EXPORTS = {
    "Config": "nerfspec.config", "load_config": "nerfspec.config", "config_from_dict": "nerfspec.config",
    "NerfspecError": "nerfspec.errors",
    "load_run": "nerfspec.models",
    "make_scene": "nerfspec.synth", "load_scene_description": "nerfspec.synth",
    "load_split": "nerfspec.data.dataset",
    "render_video": "nerfspec.export.video", "extract_mesh": "nerfspec.export.mesh",
    "CompareSpec": "nerfspec.compare",
    "write_html_report": "nerfspec.report",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nerfspec' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
