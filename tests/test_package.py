"""The package face: every name nerfspec exports resolves, lazily."""

import subprocess
import sys

import pytest

import nerfspec


@pytest.mark.parametrize("name", sorted(nerfspec._EXPORTS))
def test_exports_resolve(name):
    import nerfspec.compare, nerfspec.train  # noqa: F401  (a submodule must not shadow an export)
    assert callable(getattr(nerfspec, name))
    assert name in dir(nerfspec)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        nerfspec.no_such_thing


def test_import_is_lazy():
    code = "import sys, nerfspec; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
