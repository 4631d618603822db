import tomllib
from pathlib import Path

import pytest

from nerfspec.config import (
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    dump_toml,
    load_config,
    parse_override,
)

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def test_defaults_validate():
    assert isinstance(config_from_dict({}), Config)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    load_config(path)


def test_lego_configs_differ_only_in_the_mapping():
    dicts = {p.stem: config_to_dict(load_config(p)) for p in CONFIGS if p.stem in
             ("lego_none", "lego_basic", "lego_pe", "lego_gauss")}
    assert len(dicts) == 4
    for d in dicts.values():
        d.pop("name")
        d["field"].pop("encoding")
    first = next(iter(dicts.values()))
    assert all(d == first for d in dicts.values())


def test_overrides_parse_toml_values():
    assert parse_override("field.gauss.sigma=8") == (["field", "gauss", "sigma"], 8)
    assert parse_override("field.encoding=pe") == (["field", "encoding"], "pe")
    assert parse_override("data.aabb=[0,0,0,1,1,1]")[1] == [0, 0, 0, 1, 1, 1]
    cfg = load_config(None, ["field.gauss.sigma=8", "train.max_steps=5"])
    assert cfg.field.gauss.sigma == 8.0 and isinstance(cfg.field.gauss.sigma, float)
    assert apply_overrides({}, ["a.b=1"]) == {"a": {"b": 1}}


@pytest.mark.parametrize("override,needle", [
    ("field.gaus.sigma=3", "did you mean 'field.gauss'"),
    ("train.lr=abc", "train.lr must be float"),
    ("field.gauss.sigma=0", "field.gauss.sigma must be > 0"),
    ("field.encoding=gaus", "did you mean 'gauss'"),
    ("train.rays_per_step=-4", "train.rays_per_step must be > 0"),
    ("train.max_stepz=4", "did you mean 'train.max_steps'"),
    ("data.aabb=[1,1,1,0,0,0]", "data.aabb"),
    ("field.depth=true", "field.depth must be int"),
    ("novalue", "key=value"),
])
def test_bad_values_are_one_line_errors(override, needle):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_dump_round_trips(tmp_path):
    cfg = load_config(None, ["field.encoding=pe", "field.skips=[2]", "name=x"])
    text = dump_toml(config_to_dict(cfg))
    assert config_from_dict(tomllib.loads(text)) == cfg


def test_bad_toml_file_names_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[field\nencoding = 1")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
