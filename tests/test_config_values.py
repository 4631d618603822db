"""nerfspec.config_values: typed dataclasses from nested dicts and the range checks, each problem
one ConfigError naming the key."""

import re
from dataclasses import dataclass, field

import pytest

from nerfspec.config_values import (build_dataclass, check_choice, check_non_negative, check_positive,
                                    check_similarity)
from nerfspec.errors import ConfigError


@dataclass
class Inner:
    rate: float = 1.0
    names: list[str] = field(default_factory=list)


@dataclass
class Outer:
    steps: int = 1
    inner: Inner = field(default_factory=Inner)


def test_build_dataclass_checks_keys_and_types():
    built = build_dataclass(Outer, {"steps": 3, "inner": {"rate": 2, "names": ["a"]}})
    assert built == Outer(3, Inner(2.0, ["a"])) and isinstance(built.inner.rate, float)
    for values, needle in (({"step": 3}, "unknown config key 'step' (did you mean 'steps'?)"),
                           ({"inner": {"rat": 1}}, "'inner.rat' (did you mean 'inner.rate'?)"),
                           ({"steps": 1.5}, "steps must be int"), ({"steps": True}, "steps must be int"),
                           ({"inner": 3}, "inner must be a table"), ({"inner": {"names": "a"}}, "inner.names must be a list"),
                           ({"inner": {"names": [1]}}, "inner.names[0] must be str"),
                           ({"inner": {"rate": float("inf")}}, "inner.rate must be a finite number")):
        with pytest.raises(ConfigError, match=re.escape(needle)):
            build_dataclass(Outer, values)


def test_range_checks_name_the_key():
    check_positive("a", 1e-9)
    check_non_negative("a", 0)
    check_choice("a", "pe", ("pe", "gauss"))
    with pytest.raises(ConfigError, match="a must be > 0, got 0"):
        check_positive("a", 0)
    with pytest.raises(ConfigError, match="a must be >= 0, got -1"):
        check_non_negative("a", -1)
    with pytest.raises(ConfigError, match="did you mean 'gauss'"):
        check_choice("a", "gaus", ("pe", "gauss"))


def test_similarity_is_a_scaled_rotation_plus_translation():
    check_similarity("t", [])
    check_similarity("t", [0, -2, 0, 1, 2, 0, 0, 2, 0, 0, 2, 3, 0, 0, 0, 1])  # 2 x a turn about z, moved
    for bad, needle in (([1.0] * 15, "16 numbers"), ([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1], "scaled rotation"),
                        ([1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], "scaled rotation"),
                        ([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1], "scaled rotation")):
        with pytest.raises(ConfigError, match=needle):
            check_similarity("t", bad)
