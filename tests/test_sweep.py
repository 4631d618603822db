"""nerfspec.sweep: the one grammar of --sweep, as compare and fit read it."""

import pytest

from nerfspec.compare import parse_sweep as compare_sweep
from nerfspec.errors import ConfigError
from nerfspec.fit.experiment import parse_sweep as fit_sweep
from nerfspec.sweep import split_sweep


def test_key_and_toml_numbers():
    assert split_sweep(" gauss.sigma = 1, 2.5,1e-3 ,", "K=V") == ("gauss.sigma", [1, 2.5, 0.001])
    assert isinstance(split_sweep("a=4", "K=V")[1][0], int)
    assert split_sweep("a=", "K=V") == ("a", [])


@pytest.mark.parametrize("text, needle", [("sigma", "must look like K=V1"), ("a=1,x", "'x' is not a number"),
                                          ("a=true", "'true' is not a number"), ("a=1,[2]", "'[2]' is not a number")])
def test_errors_are_one_line(text, needle):
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        split_sweep(text, "K=V1,V2")


def test_both_callers_read_the_same_grammar():
    assert compare_sweep("gauss.sigma=1, 4,").values == [1, 4]
    assert fit_sweep("gauss=1, 4,") == ("gauss", [1.0, 4.0])
    for text in ("gauss.sigma=x", "gauss=x"):
        with pytest.raises(ConfigError, match="'x' is not a number"):
            (compare_sweep if "." in text else fit_sweep)(text)
    assert all(isinstance(v, float) for v in fit_sweep("pe=2,3")[1])  # scales: run names spell floats
