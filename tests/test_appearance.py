"""Per-image appearance: off changes nothing, on starts as the identity and learns a photo's
exposure, and unseen views take their nearest training view's response."""

from __future__ import annotations

import torch

from nerfspec.config import SamplerConfig, TrainConfig
from nerfspec.fields import FieldBase
from nerfspec.fields.appearance import Appearance, appearance_enabled, nearest_views
from nerfspec.render.grid import OccupancyGrid
from nerfspec.train.optim import build_optimizer
from nerfspec.train.step import forward_backward

AABB = torch.tensor([-1.0, -1, -1, 1, 1, 1])


def test_appearance_is_on_for_captures_and_off_for_blender_scenes_by_default():
    assert appearance_enabled("auto", capture=True)
    assert not appearance_enabled("auto", capture=False)
    assert appearance_enabled("per_image", capture=False)
    assert not appearance_enabled("off", capture=True)


def test_appearance_is_the_affine_response_of_each_image():
    app = Appearance(3)
    rgb = torch.rand(6, 3)
    views = torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(app(rgb, views), rgb)  # identity at the start
    with torch.no_grad():
        app.matrix[1] = torch.diag(torch.tensor([2.0, 1.0, 0.5]))
        app.offset[2] = torch.tensor([0.1, 0.0, -0.1])
    out = app(rgb, views)
    assert torch.allclose(out[1], rgb[1] * torch.tensor([2.0, 1.0, 0.5]))
    assert torch.allclose(out[2], rgb[2] + torch.tensor([0.1, 0.0, -0.1]))
    assert torch.equal(out[0], rgb[0])
    image = torch.rand(4, 5, 3)
    assert torch.allclose(app.image(image, 1), image * torch.tensor([2.0, 1.0, 0.5]))


def test_nearest_training_view_by_position_and_direction():
    from nerfspec.cameras import look_at

    train = torch.stack([look_at(torch.tensor(e)) for e in ([4.0, 0, 0], [0, 4.0, 0], [-4.0, 0, 0])])
    test = torch.stack([look_at(torch.tensor(e)) for e in ([3.5, 0.8, 0.2], [-0.5, 4.2, 0.0], [-4.0, -0.9, 0.0])])
    assert nearest_views(train, test).tolist() == [0, 1, 2]


class Constant(FieldBase):
    """A field of one learnable colour in a slab of density 30 at |x| < 0.5."""

    def __init__(self):
        super().__init__()
        self.rgb = torch.nn.Parameter(torch.tensor([0.2, 0.5, 0.7]))

    def density(self, x):
        return torch.where(x.abs().amax(dim=-1) < 0.5, 30.0, 0.0)

    def geometry(self, x):
        return self.density(x), torch.zeros(x.shape[0], 1)

    def colour(self, h, dirs):
        return self.rgb.expand(h.shape[0], 3)

    def forward(self, x, dirs=None):
        return self.density(x), self.colour(torch.zeros(x.shape[0], 1), dirs)


def batch(n=64):
    g = torch.Generator().manual_seed(0)
    origins = torch.tensor([0.0, 0.0, 3.0]).expand(n, 3) + 0.3 * (torch.rand(n, 3, generator=g) - 0.5) * \
        torch.tensor([1.0, 1.0, 0.0])
    dirs = torch.tensor([0.0, 0.0, -1.0]).expand(n, 3)
    rgba = torch.cat([torch.rand(n, 3, generator=g), torch.ones(n, 1)], dim=-1)
    views = torch.randint(4, (n,), generator=g)
    return origins, dirs, rgba, views


def test_off_and_a_fresh_appearance_give_the_same_loss_and_field_gradients():
    grid = OccupancyGrid(AABB, SamplerConfig(grid_resolution=8, carve=False))
    origins, dirs, rgba, views = batch()
    bg = torch.ones(3)
    results = []
    for appearance in (None, Appearance(4)):
        field = Constant()
        _, loss = forward_backward(field, grid, origins, dirs, rgba, bg, "none", appearance=appearance, views=views)
        results.append((loss.detach(), field.rgb.grad.clone()))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


def test_appearance_learns_one_images_exposure():
    """Image 1 is twice as bright as the field: its response learns the gain, the others stay."""
    grid = OccupancyGrid(AABB, SamplerConfig(grid_resolution=8, carve=False))
    origins, dirs, _, views = batch(256)
    field = Constant()
    with torch.no_grad():
        base = field.rgb.clone()
    rgba = torch.cat([base.expand(256, 3) * torch.where(views == 1, 1.4, 1.0)[:, None], torch.ones(256, 1)], -1)
    app = Appearance(4)
    opt = build_optimizer(field, TrainConfig(lr=3e-2), "cpu", None, app)
    for _ in range(80):
        opt.zero_grad()
        forward_backward(field, grid, origins, dirs, rgba, torch.ones(3), "none", appearance=app, views=views)
        opt.step()
    assert torch.allclose(app(field.rgb.detach()[None], torch.tensor([1]))[0], 1.4 * base, atol=0.02)
    assert torch.allclose(app(field.rgb.detach()[None], torch.tensor([0]))[0], base, atol=0.02)
    assert {g["name"] for g in opt.param_groups} >= {"appearance"}
