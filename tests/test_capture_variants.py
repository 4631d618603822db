"""Captures in the shapes people and other tools write them (generated with
``make-scene --format nerfstudio --variant ...``): each loads the same cameras as the plain
capture, and what cannot be used is refused or reported by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.config import DataConfig
from nerfspec.synth.capture_variants import second_size
from nerfspec.data.dataset import is_capture, load_split
from nerfspec.synth.generate import Photography
from nerfspec.synth import SCENES_DIR, SceneError, make_scene
from nerfspec.errors import DatasetError
from tests.conftest import edited

SIZE = 24
RADTAN = (-0.12, 0.03, 0.001, -0.0005)
RADIAL = (-0.12, 0.03, 0.0, 0.0)
SPLITS = ("train", "val", "test")

pytestmark = pytest.mark.usefixtures("private_cache")


def generate(out: Path, size: int = SIZE, distortion=RADTAN, **photo) -> Path:
    options = dict(format="nerfstudio", lens_model="opencv", distortion=distortion, alpha=False, background="sky")
    options.update(photo)
    return make_scene(SCENES_DIR / "default.toml", out, size=size, views=4, progress=False,
                      photo=Photography(**options))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, Path]:
    """Every variant, the plain captures they are compared with (at both sizes, and with a
    k1, k2 lens for SIMPLE_RADIAL / RADIAL)."""
    base = tmp_path_factory.mktemp("shapes")
    out = {v: generate(base / v, variant=v) for v in ("plain", "windows", "blender_split", "distortion_params",
                                                      "two_sizes")}
    out["plain_small"] = generate(base / "plain_small", size=second_size(SIZE))
    out["plain_radial"] = generate(base / "plain_radial", distortion=RADIAL)
    out["simple_radial"] = generate(base / "simple_radial", distortion=RADIAL, variant="simple_radial")
    return out


def data(root: Path, **values) -> DataConfig:
    d = DataConfig(root=str(root), **values)
    d.validate()
    return d


def rays(split, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    return split.cameras.image_rays(k)


def assert_same_views(split, plain, views: list[int], plain_views: list[int]) -> None:
    """Views ``views`` of ``split`` have the cameras (rays to 1e-6) and images of
    ``plain_views`` of ``plain``."""
    for k, p in zip(views, plain_views):
        o, d = rays(split, k)
        po, pd = rays(plain, p)
        assert o.shape == po.shape
        assert float((o - po).abs().max()) <= 1e-6 and float((d - pd).abs().max()) <= 1e-6
        assert torch.equal(split.image(k), plain.image(p))


def check_data_output(root: Path, capsys, *overrides: str) -> tuple[list[str], str]:
    """check-data's stdout lines and stderr (it must succeed)."""
    from nerfspec.cli import main

    assert main(["check-data", str(root), *(a for o in overrides for a in ("--set", o))]) == 0
    captured = capsys.readouterr()
    return captured.out.splitlines(), captured.err


def check_data(root: Path, capsys, *overrides: str) -> list[str]:
    return check_data_output(root, capsys, *overrides)[0]


@pytest.mark.parametrize("variant,plain", [("windows", "plain"), ("distortion_params", "plain"),
                                           ("simple_radial", "plain_radial")])
@pytest.mark.parametrize("normalize", ["poses", "none"])
def test_a_capture_written_another_way_loads_the_plain_cameras(shapes, variant, plain, normalize, capsys):
    check_data(shapes[variant], capsys)
    for split in SPLITS:
        got = load_split(data(shapes[variant], normalize=normalize), split)
        want = load_split(data(shapes[plain], normalize=normalize), split)
        assert got.model == want.model == "opencv" and len(got) == len(want)
        assert [p.name for p in got.image_paths] == [p.name for p in want.image_paths]
        assert_same_views(got, want, list(range(len(got))), list(range(len(want))))


def test_the_generator_writes_each_shape(shapes):
    windows = json.loads((shapes["windows"] / "transforms.json").read_text())
    assert windows["frames"][0]["file_path"] == ".\\images\\train_0000.png"
    params = json.loads((shapes["distortion_params"] / "transforms.json").read_text())
    assert "k1" not in params and params["frames"][0]["distortion_params"] == [-0.12, 0.03, 0.0, 0.0, 0.001, -0.0005]
    radial = json.loads((shapes["simple_radial"] / "transforms.json").read_text())
    assert radial["camera_model"] == "RADIAL" and "p1" not in radial
    blender = shapes["blender_split"]
    assert sorted(p.name for p in blender.glob("*.json")) == ["transforms_test.json", "transforms_train.json"]
    train = json.loads((blender / "transforms_train.json").read_text())
    assert {"fl_x", "cx", "k1", "p2", "camera_angle_x"} <= set(train)
    two = json.loads((shapes["two_sizes"] / "transforms.json").read_text())
    assert "w" not in two and [f["w"] for f in two["frames"][:2]] == [SIZE, second_size(SIZE)]
    with pytest.raises(SceneError, match="only k1 and k2"):
        generate(shapes["plain"].parent / "bad", variant="simple_radial")


def test_blender_layout_with_full_intrinsics_and_no_val_file_is_a_capture(shapes, capsys):
    root = shapes["blender_split"]
    assert is_capture(root) and is_capture(root / "transforms_train.json")
    out = check_data(root, capsys)
    assert out[0].startswith("train: 4 views, 24x24, fx 33.33 px, opencv (-0.12, 0.03, 0.001, -0.0005, 0)")
    # fewer frames (no val) put the poses frame elsewhere: compare in the file's frame, and in the plain one's
    from nerfspec.data.capture import resolve_capture

    fixed = resolve_capture(shapes["plain"], data(shapes["plain"]))[0]["transform"]
    for values in ({"normalize": "none"}, {"transform": fixed}):
        for split, plain_split in (("train", "train"), ("test", "test"), ("val", "test")):
            got = load_split(data(root, **values), split)
            want = load_split(data(shapes["plain"], **values), plain_split)
            assert got.model == "opencv" and len(got) == len(want)
            assert_same_views(got, want, list(range(len(got))), list(range(len(want))))


def test_frames_of_two_sizes_load_each_at_its_own_size(shapes, capsys):
    out = check_data(shapes["two_sizes"], capsys)
    small = second_size(SIZE)
    assert out[0].startswith(f"train: 4 views, {small}x{small}..{SIZE}x{SIZE}")
    for split in SPLITS:
        got = load_split(data(shapes["two_sizes"], normalize="none"), split)
        big = load_split(data(shapes["plain"], normalize="none"), split)
        little = load_split(data(shapes["plain_small"], normalize="none"), split)
        even = list(range(0, len(got), 2))
        odd = list(range(1, len(got), 2))
        assert_same_views(got, big, even, even)
        assert_same_views(got, little, odd, odd)
        if odd:
            assert got.cameras.view_size(odd[0]) == (small, small) and got.image(odd[0]).shape == (small, small, 4)


def test_two_sizes_downscaled_keep_their_own_intrinsics(shapes):
    got = load_split(data(shapes["two_sizes"], downscale=2, normalize="none"), "train")
    assert got.sizes.tolist() == [[SIZE // 2] * 2, [second_size(SIZE) // 2] * 2] * 2
    assert got.cx.tolist() == [SIZE / 4, second_size(SIZE) / 4] * 2


def test_rays_are_drawn_from_the_pixels_each_view_has(shapes):
    """Views smaller than the largest are padded with alpha 0; training draws none of it (the
    sky capture is opaque everywhere it has pixels) and carving sees no background there."""
    from nerfspec.render.carving import carve_empty_cells
    from nerfspec.train.batching import RayBatcher

    split = load_split(data(shapes["two_sizes"]), "train")
    assert (split.images[1, second_size(SIZE):, :, 3] == 0).all()
    batcher = RayBatcher(split, torch.device("cpu"))
    origins, dirs, rgba = batcher.sample(4096, torch.Generator().manual_seed(0))
    assert (rgba[:, 3] == 1.0).all()
    # every drawn ray is a ray of some pixel of some view (at that view's size)
    all_dirs = torch.cat([rays(split, k)[1] for k in range(len(split))])
    nearest = torch.cdist(dirs[:256], all_dirs, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values
    assert float(nearest.max()) < 1e-6
    aabb = torch.tensor([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])
    assert not carve_empty_cells(aabb, 16, split.images[..., 3], split.cameras).any()


def test_camera_paths_keep_the_views_field_of_view(shapes):
    from nerfspec.export.video import path_focal

    two = load_split(data(shapes["two_sizes"]), "train").cameras
    plain = load_split(data(shapes["plain"]), "train").cameras
    assert path_focal(two, SIZE) == pytest.approx(float(plain.fx[0]), rel=1e-6)
    assert path_focal(plain, 2 * SIZE) == pytest.approx(2 * float(plain.fx[0]), rel=1e-6)


def test_a_capture_of_two_sizes_trains_and_evaluates(shapes, tmp_path):
    from nerfspec.config import config_from_dict
    from nerfspec.evaluate import evaluate
    from nerfspec.models import load_run
    from nerfspec.train.launch import train
    from tests.conftest import tiny_config_dict

    cfg = config_from_dict(tiny_config_dict(shapes["two_sizes"], tmp_path / "out", max_steps=12,
                                            checkpoint_every=12))
    result = train(cfg, quiet=True)
    metrics = evaluate(load_run(result.run_dir, "cpu"), "test", every=1, quiet=True)
    assert np.isfinite(metrics["psnr"])
    assert iio.imread(result.run_dir / "eval_test" / "r_0.png").shape[:2] == (SIZE, SIZE)


# -- keys of other tools --------------------------------------------------------------------------

def test_windows_mask_paths_are_read(shapes, tmp_path):
    def mask_first(meta):
        meta["frames"][0]["mask_path"] = ".\\masks\\m0.png"
    root = edited(shapes["windows"], tmp_path, mask_first)
    (root / "masks").mkdir()
    mask = np.full((SIZE, SIZE), 255, np.uint8)
    mask[:, : SIZE // 2] = 0
    iio.imwrite(root / "masks" / "m0.png", mask)
    split = load_split(data(root), "train")
    assert (split.images[0, :, : SIZE // 2, 3] == 0).all() and (split.images[0, :, SIZE // 2:, 3] == 255).all()


def test_distortion_params_that_disagree_with_named_coefficients_are_refused(shapes, tmp_path):
    def both(meta):
        meta["frames"][0]["k1"] = -0.2
    root = edited(shapes["distortion_params"], tmp_path, both)
    with pytest.raises(DatasetError, match=r"'k1' = -0.2 disagrees with distortion_params"):
        load_split(data(root), "train")


@pytest.mark.parametrize("key,value,where,match", [
    ("fisheye_crop_radius", 10.0, "top", r"'fisheye_crop_radius' is not supported: nerfspec does not crop"),
    ("fisheye_crop_radius", 10.0, "frame", r"frame 0: 'fisheye_crop_radius' is not supported"),
    ("orientation_override", "pca", "top", r"'orientation_override' 'pca' is not supported.*remove the key"),
    ("applied_scale", -1.0, "top", r"'applied_scale' must be > 0"),
    ("distortion_params", [0.1, 0.0], "frame", r"'distortion_params' must be a list of 6 numbers"),
])
def test_keys_that_change_the_cameras_are_refused_by_name(shapes, tmp_path, key, value, where, match):
    def add(meta):
        (meta if where == "top" else meta["frames"][0])[key] = value
    with pytest.raises(DatasetError, match=match):
        load_split(data(edited(shapes["plain"], tmp_path, add)), "train")


def test_orientation_override_none_keeps_the_files_axes(shapes, tmp_path):
    tilt = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])  # y up: Polycam's world

    def turn(meta, override=None):
        for f in meta["frames"]:
            f["transform_matrix"] = (tilt @ np.asarray(f["transform_matrix"])).tolist()
        if override:
            meta["orientation_override"] = override
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    found = load_split(data(edited(shapes["plain"], tmp_path / "a", turn)), "train").transform
    kept = load_split(data(edited(shapes["plain"], tmp_path / "b", lambda m: turn(m, "none"))), "train").transform
    rot = lambda t: (t[:3, :3] / torch.linalg.det(t[:3, :3]).abs() ** (1 / 3)).numpy()  # noqa: E731
    np.testing.assert_allclose(rot(found), tilt[:3, :3].T, atol=1e-6)  # the vertical, found from the cameras
    np.testing.assert_allclose(rot(kept), np.eye(3), atol=1e-9)  # the file's axes, as nerfstudio keeps them
    (tmp_path / "c").mkdir()
    root = edited(shapes["plain"], tmp_path / "c", lambda m: turn(m, "up"))
    meta = json.loads((root / "transforms.json").read_text())
    mean_up = np.mean([np.asarray(f["transform_matrix"])[:3, 1] for f in meta["frames"]], axis=0)
    turned = rot(load_split(data(root), "train").transform) @ (mean_up / np.linalg.norm(mean_up))
    np.testing.assert_allclose(turned, [0.0, 0.0, 1.0], atol=1e-6)  # "up": the cameras' mean up goes to +z


def test_depth_maps_and_applied_scale_are_noted_not_dropped(shapes, tmp_path, capsys):
    def add(meta):
        meta["applied_scale"] = 0.5
        for k, f in enumerate(meta["frames"]):
            f["depth_file_path"] = f"depth/{k}.png"  # absent: depth is not read at all
    split = load_split(data(edited(shapes["plain"], tmp_path, add)), "train")
    assert "does not read them" in capsys.readouterr().err
    assert any("depth_file_path" in n for n in split.notes)


# -- messages that say what to do -----------------------------------------------------------------

def test_images_that_are_a_downscaled_copy_are_named_so(shapes, tmp_path):
    def bigger(meta):
        meta["w"], meta["h"] = 4 * SIZE, 4 * SIZE
    with pytest.raises(DatasetError, match=r"gives w x h = 96x96: the image is 1/4 of that size .*data.downscale=4"):
        load_split(data(edited(shapes["plain"], tmp_path, bigger)), "train")


def test_a_path_from_the_authors_machine_names_the_file_that_is_there(shapes, tmp_path):
    def elsewhere(meta):
        meta["frames"][0]["file_path"] = "/home/alice/mug/images/train_0000.jpeg"
        meta["train_filenames"][0] = meta["frames"][0]["file_path"]
    with pytest.raises(DatasetError, match=r"not there \(first: /home/alice/mug/images/train_0000.jpeg .*the capture folder has "
                                           r"images/train_0000.png"):
        load_split(data(edited(shapes["plain"], tmp_path, elsewhere)), "train")


def test_data_may_name_a_split_file_or_any_capture_file(shapes, tiny_scene, tmp_path):
    assert len(load_split(data(tiny_scene / "transforms_train.json"), "train")) == 20
    root = tmp_path / "renamed"
    shutil.copytree(shapes["plain"], root)
    (root / "transforms.json").rename(root / "transforms_x.json")
    assert is_capture(root / "transforms_x.json")
    assert len(load_split(data(root / "transforms_x.json"), "train")) == 4
    with pytest.raises(DatasetError, match=r"train_0000.png: is a file; give the scene's folder"):
        load_split(data(root / "images" / "train_0000.png"), "train")


def test_a_blender_scene_without_a_val_file_validates_on_test(tiny_scene, tmp_path, capsys):
    root = tmp_path / "noval"
    shutil.copytree(tiny_scene, root)
    (root / "transforms_val.json").unlink()
    val = load_split(data(root), "val")
    assert val.image_paths == load_split(data(root), "test").image_paths
    assert "no transforms_val.json: the test views validate" in capsys.readouterr().err


# -- check-data tells what the file leaves out ----------------------------------------------------

def test_check_data_reports_masks_unlisted_images_and_aabb_scale(shapes, tmp_path, capsys):
    out = check_data(shapes["blender_split"], capsys)
    assert "masks: none" in out
    assert "unlisted: 1 of 6 images in images/ are not in transforms_{train,val,test}.json and are not used " \
           "(e.g. images/val_0000.png)" in out

    def ngp(meta):
        meta["aabb_scale"] = 16
        meta["frames"][1]["mask_path"] = "masks/m1.png"
    root = edited(shapes["plain"], tmp_path, ngp)
    (root / "masks").mkdir()
    iio.imwrite(root / "masks" / "m1.png", np.full((SIZE, SIZE), 255, np.uint8))
    out = check_data(root, capsys, "data.normalize='poses'")
    assert "masks: 1 of 6 frames have a mask_path, multiplied into alpha (0: not the scene, trained against " \
           "the background)" in out
    assert not any(line.startswith("unlisted") for line in out)
    assert "aabb_scale 16: not used by data.normalize = poses; set data.normalize = \"aabb_scale\" to use " \
           "instant-ngp's box" in out
    assert "aabb_scale 16: used (data.normalize = aabb_scale puts instant-ngp's box on data.aabb)" in check_data(
        root, capsys, "data.normalize='aabb_scale'")
    assert any(line.startswith("aabb_scale 16: used") for line in check_data(root, capsys))  # auto takes it


def test_check_data_shows_per_frame_lenses_and_uncached_sizes(shapes, tmp_path, capsys):
    def per_frame(meta):
        meta["frames"][2]["distortion_params"] = [-0.1, 0.02, 0.0, 0.0, 0.0, 0.0]
    out, err = check_data_output(edited(shapes["distortion_params"], tmp_path, per_frame), capsys, "data.downscale=5")
    assert out[0] == ("train: 4 views, 4x4, fx 6.67 px, opencv, 2 different coefficient sets "
                      "(first (-0.12, 0.03, 0.001, -0.0005, 0))")
    assert ("images of 24x24 are not a multiple of data.downscale = 5: the last 4 column(s) and 4 row(s) are "
            "cropped, and the downscaled copies are not cached") in err


def test_make_scene_refuses_a_variant_it_does_not_know(tmp_path, capsys):
    from nerfspec.cli import main

    code = main(["make-scene", str(SCENES_DIR / "default.toml"), str(tmp_path / "x"), "--size", "8", "--views", "1",
                 "--format", "nerfstudio", "--variant", "mac"])
    assert code == 2 and "variant must be one of plain, windows, blender_split" in capsys.readouterr().err
    code = main(["make-scene", str(SCENES_DIR / "default.toml"), str(tmp_path / "y"), "--size", "8", "--views", "1",
                 "--variant", "windows"])
    assert code == 2 and "add --format nerfstudio" in capsys.readouterr().err


def test_blender_split_files_may_share_views(shapes, tmp_path):
    root = tmp_path / "shared"
    shutil.copytree(shapes["blender_split"], root)
    test = json.loads((root / "transforms_test.json").read_text())
    (root / "transforms_val.json").write_text(json.dumps(test))  # val = test, as prepared folders often have
    val = load_split(data(root), "val")
    assert val.image_paths == load_split(data(root), "test").image_paths and len(val) == 1
    test["frames"][0]["transform_matrix"][0][3] += 0.5
    (root / "transforms_val.json").write_text(json.dumps(test))
    with pytest.raises(DatasetError, match=r"transforms_test.json: frame 0 \(images/test_0000.png\) is also in "
                                           r"transforms_val.json with another camera"):
        load_split(data(root), "val")
