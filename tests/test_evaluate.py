"""nerfspec.evaluate.render_and_score: one view rendered and scored against its image, as
training's validation, evaluate and compare's curves score it."""

import math

import torch

from nerfspec.data.dataset import load_split
from nerfspec.evaluate import render_and_score
from nerfspec.models import build_models
from nerfspec.render.renderer import render_image


def test_render_and_score_composites_the_target_and_scores_the_adjusted_render(tiny_config):
    cfg = tiny_config()
    field, estimator = build_models(cfg, torch.device("cpu"))
    field.eval()
    split = load_split(cfg.data, "test")
    image = split.image(1).float() / 255.0
    assert (image[..., 3] < 1).any()  # transparent pixels: the background decides the target there
    for colour in ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)):
        bg = torch.tensor(colour)
        plain = render_image(field, estimator, split.cameras, 1, bg, 256)["rgb"]
        view = render_and_score(field, estimator, split, 1, bg, 256, adjust=lambda rgb: 1.0 - rgb)
        assert torch.equal(view.out["rgb"], 1.0 - plain)
        alpha = image[..., 3:]
        assert torch.allclose(view.target, image[..., :3] * alpha + bg * (1 - alpha))
        mse = float(((1.0 - plain - view.target) ** 2).mean())
        assert math.isclose(view.psnr, -10 * math.log10(mse), rel_tol=1e-5)
        assert view.seconds > 0
    unadjusted = render_and_score(field, estimator, split, 1, bg, 256)
    assert torch.equal(unadjusted.out["rgb"], plain)
