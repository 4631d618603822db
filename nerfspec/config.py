"""Typed configuration: dataclasses loaded from TOML files in ``configs/`` plus dotted overrides.

A config file holds sections matching the dataclasses below, e.g.::

    [field]
    encoding = "gauss"
    [field.gauss]
    sigma = 4.0
    [train]
    max_minutes = 20

Every key is checked: an unknown key names the closest valid one, a wrong type or an
impossible value names the key, and each problem is one line (``ConfigError``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import Any

# TOML files, overrides and the value checks are config_values.py's; dump_toml and parse_override
# are imported here too, as part of this module's interface
from nerfspec.config_values import apply_overrides, build_dataclass, dump_toml, parse_override, read_toml  # noqa: F401
from nerfspec.config_values import check_choice as _choice
from nerfspec.config_values import check_non_negative as _non_negative
from nerfspec.config_values import check_positive as _positive
from nerfspec.config_values import check_similarity as _similarity
from nerfspec.errors import ConfigError

ENCODINGS = ("none", "basic", "pe", "gauss", "rffca", "hashgrid")
BACKGROUNDS = ("random", "white", "black")


@dataclass
class DataConfig:
    root: str = "outputs/scenes/default"  # a folder with transforms_{train,val,test}.json
    downscale: int = 1  # integer image downscale factor
    train_background: str = "random"  # random | white | black (random per ray)
    eval_background: str = "white"
    aabb: list[float] = _field(default_factory=lambda: [-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])
    # captures (a single transforms.json; Blender scenes are used as they are):
    normalize: str = "auto"  # auto | poses | aabb_scale | none: how the file's world frame becomes the scene's
    # (auto: aabb_scale when the file states aabb_scale, scale or offset, else poses)
    scene: str = "auto"  # auto | object | unbounded: whether the scene ends at data.aabb (auto: from the file)
    camera_distance: float = 4.0  # normalize = poses: the cameras' mean distance from the centre
    transform: list[float] = _field(default_factory=list)  # world -> scene 4x4, row-major; [] computes it
    holdout_every: int = 8  # without split lists in the file, every k-th frame is val / test
    missing_images: str = "error"  # error | skip: frames of a capture whose image file is absent
    exif_orientation: str = "auto"  # auto | apply | ignore: EXIF-rotated photos

    def validate(self) -> None:
        _positive("data.downscale", self.downscale)
        _choice("data.train_background", self.train_background, BACKGROUNDS)
        _choice("data.eval_background", self.eval_background, ("white", "black"))
        if len(self.aabb) != 6 or any(self.aabb[i] >= self.aabb[i + 3] for i in range(3)):
            raise ConfigError("data.aabb must be [xmin, ymin, zmin, xmax, ymax, zmax] with min < max")
        _choice("data.normalize", self.normalize, ("auto", "poses", "aabb_scale", "none"))
        _choice("data.scene", self.scene, ("auto", "object", "unbounded"))
        _positive("data.camera_distance", self.camera_distance)
        if self.holdout_every < 2:
            raise ConfigError(f"data.holdout_every must be >= 2, got {self.holdout_every!r}")
        _choice("data.exif_orientation", self.exif_orientation, ("auto", "apply", "ignore"))
        _choice("data.missing_images", self.missing_images, ("error", "skip"))
        _similarity("data.transform", self.transform)


@dataclass
class PEConfig:
    octaves: int = 10  # L: frequencies 2^0 .. 2^(L-1) cycles per box width
    include_input: bool = True
    window_fraction: float = 0.0  # ease octaves in over this share of the run (0: all on)

    def validate(self) -> None:
        _positive("field.pe.octaves", self.octaves)
        if not 0.0 <= self.window_fraction <= 1.0:
            raise ConfigError("field.pe.window_fraction must be in [0, 1]")


@dataclass
class GaussConfig:
    features: int = 256  # m: number of random frequencies
    sigma: float = 4.0  # std of the frequencies, cycles per box width

    def validate(self) -> None:
        _positive("field.gauss.features", self.features)
        _positive("field.gauss.sigma", self.sigma)


@dataclass
class RFFCAConfig:
    base_features: int = 64  # M_base: base frequencies b_m ~ N(0, sigma^2 I) per octave
    octaves: int = 4  # K: octaves 0..K hold the frequencies 2^k * b_m
    sigma: float = 2.0  # std of the base frequencies, cycles per box width
    token_dim: int = 32  # d_q: features per token; must divide base_features (no octave mixing)
    dim: int = 128  # width of the query stream (and of the features fed to the heads)
    heads: int = 4  # attention heads; must divide dim
    blocks: int = 2  # L: cross-attention blocks
    envelope_init: float = 1e-3  # initial beta of the amplitude envelope exp(-beta |omega|)
    mask: str = "scheduled"  # scheduled | learnable | off
    mask_release_fraction: float = 0.3  # share of training over which octaves are released
    mask_init: float = -30.0  # logit offset of a masked octave (scheduled mode)
    mask_learnable_init: float = -3.0  # initial logit offset of octaves k > 0 (learnable, shared)
    # project: 4-head blocks with output projection; note: the RFF-CA note's text (1/sqrt(M)
    # features, one d_q x d_q head, dim = token_dim, learned shared mask; ignores dim, heads, mask)
    variant: str = "project"
    afe_at: list[float] = _field(default_factory=list)  # training fractions of AFE injections
    afe_tokens: int = 4  # at most this many frequencies injected per AFE step
    afe_threshold: float = 0.5  # lambda: inject residual modes above lambda * the strongest

    def validate(self) -> None:
        for name in ("base_features", "token_dim", "dim", "heads", "blocks"):
            _positive(f"field.rffca.{name}", getattr(self, name))
        _positive("field.rffca.sigma", self.sigma)
        if self.octaves < 0:
            raise ConfigError("field.rffca.octaves must be >= 0")
        if self.base_features % self.token_dim:
            raise ConfigError(
                f"field.rffca.base_features ({self.base_features}) must be a multiple of "
                f"field.rffca.token_dim ({self.token_dim}) so that no token mixes two octaves")
        if self.dim % self.heads:
            raise ConfigError(
                f"field.rffca.dim ({self.dim}) must be a multiple of field.rffca.heads ({self.heads})")
        if self.envelope_init <= 0:
            raise ConfigError("field.rffca.envelope_init must be > 0 (beta = softplus(raw) > 0)")
        _choice("field.rffca.mask", self.mask, ("scheduled", "learnable", "shared", "off"))
        _choice("field.rffca.variant", self.variant, ("project", "note"))
        if any(not 0.0 <= f < 1.0 for f in self.afe_at):
            raise ConfigError("field.rffca.afe_at must hold training fractions in [0, 1)")
        _positive("field.rffca.afe_tokens", self.afe_tokens)
        if not 0.0 < self.afe_threshold <= 1.0:
            raise ConfigError("field.rffca.afe_threshold must be in (0, 1]")
        if not 0.0 < self.mask_release_fraction <= 1.0:
            raise ConfigError("field.rffca.mask_release_fraction must be in (0, 1]")
        if self.mask_init >= 0:
            raise ConfigError("field.rffca.mask_init must be < 0")
        if self.mask_learnable_init >= 0:
            raise ConfigError("field.rffca.mask_learnable_init must be < 0")


@dataclass
class HashGridConfig:
    """The multiresolution hash encoding and its small MLPs (Mueller et al. 2022)."""

    levels: int = 16  # L: resolutions grow geometrically from base_resolution to max_resolution
    features_per_level: int = 2  # F: 1, 2, 4 or 8
    log2_table_size: int = 19  # T = 2^this rows per hashed level
    base_resolution: int = 16  # cells per box width of the coarsest level
    max_resolution: int = 2048  # cells per box width of the finest level
    window_fraction: float = 0.0  # open the levels coarse to fine over this share of the run (0: all on)
    density_width: int = 64  # hidden width of the density MLP
    density_layers: int = 1  # hidden layers of the density MLP
    geo_features: int = 15  # features the density MLP passes to the colour MLP (besides the density logit)
    colour_width: int = 64
    colour_layers: int = 2
    dir_encoding: str = "sh"  # sh (spherical harmonics) | pe (field.dir_octaves octaves)
    sh_degree: int = 4  # bands of spherical harmonics: degree^2 features
    density_activation: str = "trunc_exp"  # this field's own (field.density_activation is the MLP fields')
    backend: str = "auto"  # auto (the C++ op on the CPU when it builds) | torch | cpp

    def validate(self) -> None:
        for name in ("levels", "base_resolution", "density_width", "colour_width"):
            _positive(f"field.hashgrid.{name}", getattr(self, name))
        for name in ("density_layers", "colour_layers", "geo_features"):
            _non_negative(f"field.hashgrid.{name}", getattr(self, name))
        if self.features_per_level not in (1, 2, 4, 8):
            raise ConfigError(f"field.hashgrid.features_per_level must be 1, 2, 4 or 8, got {self.features_per_level!r}")
        if not 4 <= self.log2_table_size <= 24:
            raise ConfigError(f"field.hashgrid.log2_table_size must be in [4, 24], got {self.log2_table_size!r}")
        if not self.base_resolution <= self.max_resolution <= 65536:
            raise ConfigError(f"field.hashgrid.max_resolution must be in [base_resolution "
                              f"({self.base_resolution}), 65536], got {self.max_resolution!r}")
        if not 0.0 <= self.window_fraction <= 1.0:
            raise ConfigError("field.hashgrid.window_fraction must be in [0, 1]")
        _choice("field.hashgrid.dir_encoding", self.dir_encoding, ("sh", "pe"))
        if not 1 <= self.sh_degree <= 4:
            raise ConfigError(f"field.hashgrid.sh_degree must be in [1, 4], got {self.sh_degree!r}")
        _choice("field.hashgrid.density_activation", self.density_activation, ("softplus", "trunc_exp", "relu"))
        _choice("field.hashgrid.backend", self.backend, ("auto", "torch", "cpp"))


@dataclass
class FieldConfig:
    encoding: str = "gauss"  # none | basic | pe | gauss | rffca | hashgrid
    depth: int = 4  # hidden layers of the MLP
    width: int = 256
    skips: list[int] = _field(default_factory=list)  # layers that see the encoding again
    view_dirs: bool = True  # colour depends on the viewing direction
    dir_octaves: int = 4  # positional-encoding octaves of the view direction
    density_activation: str = "softplus"  # softplus | trunc_exp | relu
    density_bias: float = -1.0  # added before the activation
    precision: str = "auto"  # auto | bf16 | fp32: networks' matrix products (auto: bf16 where the hardware has it; see nerfspec/precision.py)
    pe: PEConfig = _field(default_factory=PEConfig)
    gauss: GaussConfig = _field(default_factory=GaussConfig)
    rffca: RFFCAConfig = _field(default_factory=RFFCAConfig)
    hashgrid: HashGridConfig = _field(default_factory=HashGridConfig)

    def validate(self) -> None:
        _choice("field.encoding", self.encoding, ENCODINGS)
        _positive("field.depth", self.depth)
        _positive("field.width", self.width)
        _non_negative("field.dir_octaves", self.dir_octaves)
        if any(s < 0 or s >= self.depth for s in self.skips):
            raise ConfigError(f"field.skips must be layer indices in [0, {self.depth})")
        _choice("field.density_activation", self.density_activation, ("softplus", "trunc_exp", "relu"))
        _choice("field.precision", self.precision, ("auto", "bf16", "fp32"))
        self.pe.validate()
        self.gauss.validate()
        self.rffca.validate()
        self.hashgrid.validate()


@dataclass
class BackgroundConfig:
    model: str = "none"  # none (fixed colours: data.*_background) | constant | mlp (by ray direction)
    width: int = 64  # mlp: hidden width
    depth: int = 2  # mlp: hidden layers
    dir_octaves: int = 4  # mlp: positional-encoding octaves of the ray direction

    def validate(self) -> None:
        _choice("background.model", self.model, ("none", "constant", "mlp"))
        _positive("background.width", self.width)
        _positive("background.depth", self.depth)
        _non_negative("background.dir_octaves", self.dir_octaves)


@dataclass
class SamplerConfig:
    grid_resolution: int = 64  # occupancy grid cells per axis
    render_step_size: float = 0.01  # marching step, scene units (the shortest, with a cone angle)
    # unbounded scenes: grids of 2^l times the box's size (l < cascades), steps max(render_step_size,
    # cone_angle t) growing with distance t; 0 and -1: 1 level and 0 for objects, 4 and 1/256 when unbounded
    cascades: int = 0
    cone_angle: float = -1.0
    alpha_threshold: float = 0.0  # drop samples with smaller alpha (0 keeps all)
    early_stop_eps: float = 1e-4  # stop a ray once its transmittance is below this
    occ_threshold: float = 0.01  # a cell is occupied if its opacity over one step exceeds this
    occ_ema_decay: float = 0.95
    update_every: int = 16  # steps between occupancy updates
    update_cells: int = 16384  # cells re-evaluated per update (a random subset)
    # points per density call of an update (0: automatic: 65536 on the CPU, where the field's
    # working set stays in cache; 2^20 on a GPU, so the update is a few large launches)
    update_chunk: int = 0
    warmup_steps: int = 0  # before this step every cell is re-evaluated at each update
    backend: str = "auto"  # kernels: auto (nerfacc's on CUDA when they build) | torch | nerfacc
    carve: bool = True  # start with cells that a training view sees as background empty
    early_stop_round: int = -1  # samples per ray per front-to-back density round (0: one pass; -1: 16 on the CPU, 0 on a GPU)
    # rendering without gradients (eval, video, mesh, viewer): front-to-back passes over a chunk
    # of rays, one host wait each; 0: rounds of 8 samples per ray until every ray is done (the
    # CPU's choice, where a wait costs nothing); -1: 0 on the CPU, 3 on a GPU
    render_passes: int = -1
    train_early_stop: str = "auto"  # training: separate (no-grad density pass, then the kept samples) | fused (one pass with gradients) | none | adaptive (separate or none, by what it saves) | auto (adaptive; on a GPU its cost model is measured on the device)

    def validate(self) -> None:
        _positive("sampler.grid_resolution", self.grid_resolution)
        _positive("sampler.render_step_size", self.render_step_size)
        _positive("sampler.update_every", self.update_every)
        _positive("sampler.update_cells", self.update_cells)
        _non_negative("sampler.update_chunk", self.update_chunk)
        if not 0 <= self.cascades <= 8:
            raise ConfigError(f"sampler.cascades must be in 0..8 (0: automatic), got {self.cascades!r}")
        if self.cone_angle < 0 and self.cone_angle != -1.0:
            raise ConfigError(f"sampler.cone_angle must be >= 0 (-1: automatic), got {self.cone_angle!r}")
        if not 0.0 <= self.alpha_threshold < 1.0:
            raise ConfigError("sampler.alpha_threshold must be in [0, 1)")
        if not 0.0 <= self.occ_ema_decay <= 1.0:
            raise ConfigError("sampler.occ_ema_decay must be in [0, 1]")
        _non_negative("sampler.early_stop_eps", self.early_stop_eps)
        _non_negative("sampler.occ_threshold", self.occ_threshold)
        _non_negative("sampler.warmup_steps", self.warmup_steps)
        _choice("sampler.backend", self.backend, ("auto", "torch", "nerfacc"))
        _choice("sampler.train_early_stop", self.train_early_stop, ("auto", "adaptive", "separate", "fused", "none"))
        if self.early_stop_round < -1:
            raise ConfigError("sampler.early_stop_round must be >= -1 (-1: automatic)")
        if self.render_passes < -1:
            raise ConfigError("sampler.render_passes must be >= -1 (-1: automatic)")


@dataclass
class TrainConfig:
    seed: int = 0
    max_steps: int = 20000
    max_minutes: float = 0.0  # wall-time budget; 0 means no limit
    rays_per_step: int = 1024  # rays in the first step (and every step if target_samples is 0)
    target_samples: int = 0  # adapt the ray count so a step holds about this many samples
    max_rays_per_step: int = 16384
    lr: float = 1e-3  # base learning rate of the networks
    lr_encoding: float = 0.0  # base learning rate of learned encodings (hash tables); 0: train.lr
    lazy_tables: str = "auto"  # Adam on hash tables updates only touched entries: on | off | auto (on on the CPU)
    appearance: str = "auto"  # per-image colour response (fields/appearance.py): per_image | off | auto (on for captures)
    lr_final: float = 5e-5  # the schedule decays every rate by lr_final / lr over the run
    warmup_steps: int = 100  # linear lr warm-up
    weight_decay: float = 0.0
    distortion_weight: float = 0.0  # mip-NeRF 360's distortion loss on each ray's weights (train/regularisers.py)
    background_opacity_weight: float = 0.0  # L1 on the opacity of rays whose target alpha is 0
    log_every: int = 50
    val_every: int = 1000  # steps between validation images (0: never)
    checkpoint_every: int = 1000
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch CPU threads (0: torch's default)
    max_bad_steps: int = 20  # non-finite steps in a row before restoring the last checkpoint
    max_restores: int = 3  # restores (each halving the lr) before the run stops as diverged

    def validate(self) -> None:
        _choice("train.appearance", self.appearance, ("auto", "off", "per_image"))
        _positive("train.max_steps", self.max_steps)
        _positive("train.max_bad_steps", self.max_bad_steps)
        _non_negative("train.max_restores", self.max_restores)
        _non_negative("train.warmup_steps", self.warmup_steps)
        _non_negative("train.weight_decay", self.weight_decay)
        _non_negative("train.distortion_weight", self.distortion_weight)
        _non_negative("train.background_opacity_weight", self.background_opacity_weight)
        _positive("train.rays_per_step", self.rays_per_step)
        _positive("train.max_rays_per_step", self.max_rays_per_step)
        if self.target_samples < 0:
            raise ConfigError("train.target_samples must be >= 0")
        _positive("train.lr", self.lr)
        _positive("train.lr_final", self.lr_final)
        _non_negative("train.lr_encoding", self.lr_encoding)
        _choice("train.lazy_tables", self.lazy_tables, ("auto", "on", "off"))
        _positive("train.checkpoint_every", self.checkpoint_every)
        _positive("train.log_every", self.log_every)
        if self.max_minutes < 0:
            raise ConfigError("train.max_minutes must be >= 0")
        _choice("train.device", self.device, ("auto", "cpu", "cuda"))


@dataclass
class EvalConfig:
    split: str = "test"
    every: int = 8  # evaluate views 0, every, 2*every, ...
    chunk_rays: int = 8192  # rays rendered at once (bounds memory)

    def validate(self) -> None:
        _choice("eval.split", self.split, ("train", "val", "test"))
        _positive("eval.every", self.every)
        _positive("eval.chunk_rays", self.chunk_rays)


@dataclass
class Config:
    name: str = "run"
    output_dir: str = "outputs"
    data: DataConfig = _field(default_factory=DataConfig)
    field: FieldConfig = _field(default_factory=FieldConfig)
    background: BackgroundConfig = _field(default_factory=BackgroundConfig)
    sampler: SamplerConfig = _field(default_factory=SamplerConfig)
    train: TrainConfig = _field(default_factory=TrainConfig)
    eval: EvalConfig = _field(default_factory=EvalConfig)

    def validate(self) -> "Config":
        if not self.name or "/" in self.name or "\\" in self.name or self.name in (".", ".."):
            raise ConfigError(f"name must be a folder name (non-empty, no '/', not '.' or '..'), got {self.name!r}")
        for sub in (self.data, self.field, self.background, self.sampler, self.train, self.eval):
            sub.validate()
        return self


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build and validate a Config from nested dicts (as read from TOML)."""
    return build_dataclass(Config, values).validate()


def config_to_dict(cfg: Config) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read a TOML config (or the defaults when ``path`` is None) and apply overrides."""
    values = read_toml(path) if path is not None else {}
    try:
        return config_from_dict(apply_overrides(values, list(overrides)))
    except ConfigError as exc:
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}{exc}") from None
