import numpy as np
import pytest
import torch

from nerfspec.config import BackgroundConfig, ConfigError, config_from_dict
from nerfspec.synth.environment import sky
from nerfspec.fields.background import ConstantBackground, DirectionalBackground, build_background
from nerfspec.metrics import psnr


def unit_dirs(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=-1)


def test_built_by_name_with_checkpointable_parameters():
    assert build_background(BackgroundConfig()) is None
    const = build_background(BackgroundConfig(model="constant"))
    assert isinstance(const, ConstantBackground)
    out = const(unit_dirs(5, 0))
    assert out.shape == (5, 3) and torch.allclose(out, torch.full((5, 3), 0.5))
    mlp = build_background(BackgroundConfig(model="mlp", width=16, depth=1, dir_octaves=2))
    assert isinstance(mlp, DirectionalBackground) and mlp(unit_dirs(7, 1)).shape == (7, 3)
    copy = DirectionalBackground(16, 1, 2)
    copy.load_state_dict(mlp.state_dict())
    d = unit_dirs(7, 2)
    assert torch.equal(copy(d), mlp(d))
    assert sum(p.numel() for p in mlp.parameters()) == (3 + 2 * 2 * 3) * 16 + 16 + 16 * 3 + 3


@pytest.mark.parametrize("key,value,message", [
    ("model", "sky", "background.model must be one of none, constant, mlp"),
    ("width", 0, "background.width must be > 0"),
    ("dir_octaves", -1, "background.dir_octaves must be >= 0"),
])
def test_bad_background_config(key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"background": {key: value}})


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead
    yield
    torch.set_num_threads(threads)


def test_constant_learns_a_colour_and_mlp_learns_the_sky(one_thread):
    torch.manual_seed(0)
    const = ConstantBackground()
    opt = torch.optim.Adam(const.parameters(), lr=0.1)
    target = torch.tensor([0.2, 0.7, 0.9])
    for _ in range(200):
        loss = ((const(unit_dirs(8, 0)) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(const(unit_dirs(1, 0))[0], target, atol=1e-3, rtol=0)

    mlp = DirectionalBackground(64, 2, 4)
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-2)
    for step in range(200):
        d = unit_dirs(512, step)
        target = torch.from_numpy(sky(d.double().numpy().T).T).float()
        loss = ((mlp(d) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = unit_dirs(4096, 10**6)
    with torch.no_grad():
        score = psnr(mlp(test), torch.from_numpy(sky(test.double().numpy().T).T).float())
    assert score > 35.0, score  # an RMS error below 0.018 (colours in [0, 1])
