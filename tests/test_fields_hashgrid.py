"""The hash-grid field: coarse-to-fine window, verbs, parameter groups, config, end to end."""

import pytest
import torch

from nerfspec.config import ConfigError, HashGridConfig, apply_overrides, config_from_dict, load_config
from nerfspec.encodings import window_weights
from nerfspec.evaluate import evaluate
from nerfspec.fields import build_field
from nerfspec.fields.hashgrid import HashGridField, level_window
from nerfspec.models import load_run
from nerfspec.train import train
from tests.conftest import tiny_config_dict
from tests.test_hashgrid import BACKENDS

# -- coarse-to-fine window -------------------------------------------------------------------

def test_level_window_opens_coarse_to_fine():
    assert level_window(0.3, 0.0, 16) == 16.0
    assert level_window(0.0, 0.5, 16) == 1.0
    assert level_window(0.25, 0.5, 16) == pytest.approx(8.5)
    assert level_window(0.9, 0.5, 16) == 16.0
    torch.testing.assert_close(window_weights(1.0, 4), torch.tensor([1.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(window_weights(2.5, 4), torch.tensor([1.0, 1.0, 0.5, 0.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_closed_levels_give_zero_features_and_no_gradient(backend):
    cfg = HashGridConfig(levels=4, log2_table_size=10, base_resolution=4, max_resolution=32,
                         window_fraction=0.5, backend=backend)
    field = HashGridField(cfg, torch.tensor([-1.0, -1, -1, 1, 1, 1]), view_dirs=False, precision="fp32")
    torch.nn.init.normal_(field.encoding.table)
    x = torch.rand(64, 3) * 2 - 1
    field.set_progress(0, 0.0)
    feats = field.encoding((x + 1) / 2)
    assert feats[:, :2].abs().sum() > 0 and (feats[:, 2:] == 0).all()
    field.density(x).sum().backward()
    grad, off = field.encoding.table.grad, field.encoding.layout.offsets
    assert grad[:off[1]].abs().sum() > 0 and (grad[off[1]:] == 0).all()
    assert field.scalars()["hashgrid/window"] == 1.0
    field.set_progress(10, 0.5)
    assert field.scalars()["hashgrid/window"] == 4.0
    assert (field.encoding((x + 1) / 2)[:, 6:] != 0).any()


# -- the field -------------------------------------------------------------------------------

def tiny_field_config(**hashgrid):
    values = ["field.encoding=hashgrid", "field.hashgrid.levels=4", "field.hashgrid.log2_table_size=10",
              "field.hashgrid.base_resolution=4", "field.hashgrid.max_resolution=32"]
    values += [f"field.hashgrid.{k}={v}" for k, v in hashgrid.items()]
    return load_config(None, values).field


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("dir_encoding", ["sh", "pe"])
def test_field_verbs_shapes_and_dtypes(precision, dir_encoding):
    cfg = tiny_field_config(dir_encoding=f'"{dir_encoding}"')
    cfg.precision = precision
    field = build_field(cfg, torch.tensor([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5]), seed=0)
    assert isinstance(field, HashGridField)
    x = torch.rand(50, 3) * 3 - 1.5
    d = torch.nn.functional.normalize(torch.randn(50, 3), dim=-1)
    sigma, rgb = field(x, d)
    assert sigma.shape == (50,) and rgb.shape == (50, 3)
    assert sigma.dtype == rgb.dtype == torch.float32
    assert (sigma >= 0).all() and (rgb >= 0).all() and (rgb <= 1).all()
    assert field.density(x).shape == (50,)
    torch.testing.assert_close(field.density(x), sigma, atol=0, rtol=0)
    assert field.colour_mlp[0].in_features == 16 + (16 if dir_encoding == "sh" else 27)
    with pytest.raises(ValueError, match="view directions"):
        field(x)


def test_field_param_groups_split_every_parameter_once():
    field = build_field(tiny_field_config(), torch.tensor([-1.0, -1, -1, 1, 1, 1]))
    groups = field.param_groups()
    assert [g["name"] for g in groups] == ["encoding", "network"]
    assert groups[0]["params"] == [field.encoding.table]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in field.parameters()}
    opt = torch.optim.Adam(groups, lr=1e-2, eps=1e-15)  # the groups are valid optimiser groups
    assert [g["name"] for g in opt.param_groups] == ["encoding", "network"]


def test_field_sizes_follow_config_and_scalars_cover_levels():
    field = build_field(tiny_field_config(density_width=32, density_layers=2, geo_features=7,
                                          colour_width=16, colour_layers=1),
                        torch.tensor([-1.0, -1, -1, 1, 1, 1]))
    widths = [m.out_features for m in field.density_mlp if isinstance(m, torch.nn.Linear)]
    assert widths == [32, 32, 8]
    widths = [m.out_features for m in field.colour_mlp if isinstance(m, torch.nn.Linear)]
    assert widths == [16, 3] and field.colour_mlp[0].in_features == 8 + 16
    scalars = field.scalars()
    assert sorted(scalars) == ["hashgrid/level_00_rms", "hashgrid/level_01_rms", "hashgrid/level_02_rms",
                               "hashgrid/level_03_rms", "hashgrid/window"]
    assert all(0 < scalars[f"hashgrid/level_{l:02d}_rms"] < 1e-4 for l in range(4))


def test_trunc_exp_is_the_default_density_activation():
    field = build_field(tiny_field_config(), torch.tensor([-1.0, -1, -1, 1, 1, 1]))
    assert field.activation == "trunc_exp"


def test_tiny_scene_trains_end_to_end_with_hashgrid(tiny_scene, tmp_path):
    values = tiny_config_dict(tiny_scene, tmp_path / "outputs", max_steps=80, lr=3e-2, lr_final=3e-3)
    cfg = config_from_dict(apply_overrides(values, [
        "field.encoding=hashgrid", "field.hashgrid.levels=8", "field.hashgrid.log2_table_size=14",
        "field.hashgrid.base_resolution=4", "field.hashgrid.max_resolution=128"]))
    result = train(cfg, quiet=True)
    run = load_run(result.run_dir)
    assert isinstance(run.field, HashGridField) and run.field.encoding.table.shape[0] > 2 ** 14
    metrics = evaluate(run, "test", every=4, quiet=True)
    # measured 19.3 dB after these 80 steps (an untrained field scores ~10 dB here)
    assert metrics["psnr"] > 17.0, metrics["psnr"]


# -- config ----------------------------------------------------------------------------------

@pytest.mark.parametrize("override,needle", [
    ("field.hashgrid.levels=0", "field.hashgrid.levels must be > 0"),
    ("field.hashgrid.features_per_level=3", "field.hashgrid.features_per_level must be 1, 2, 4 or 8"),
    ("field.hashgrid.log2_table_size=30", "field.hashgrid.log2_table_size must be in [4, 24]"),
    ("field.hashgrid.max_resolution=8", "field.hashgrid.max_resolution must be in [base_resolution"),
    ("field.hashgrid.window_fraction=1.5", "field.hashgrid.window_fraction must be in [0, 1]"),
    ("field.hashgrid.dir_encoding=fourier", "field.hashgrid.dir_encoding must be one of sh, pe"),
    ("field.hashgrid.sh_degree=5", "field.hashgrid.sh_degree must be in [1, 4]"),
    ("field.hashgrid.backend=cuda", "field.hashgrid.backend must be one of auto, torch, cpp"),
    ("field.hashgrid.density_layers=-1", "field.hashgrid.density_layers must be >= 0"),
    ("train.lr_encoding=-1", "train.lr_encoding must be >= 0"),
    ("field.hashgrid.levls=4", "did you mean 'field.hashgrid.levels'"),
])
def test_bad_hashgrid_values_are_one_line_errors(override, needle):
    with pytest.raises(ConfigError) as info:
        load_config(None, ["field.encoding=hashgrid", override])
    assert needle in str(info.value) and "\n" not in str(info.value)
