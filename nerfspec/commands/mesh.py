"""``nerfspec mesh``: a coloured mesh of a trained run, its metrics.json, and optionally its score."""

from __future__ import annotations

import sys
from pathlib import Path

from nerfspec.commands.common import check_device
from nerfspec.errors import NerfspecError


def add_parser(sub) -> None:
    p = sub.add_parser("mesh", help="extract a coloured mesh from a trained run (marching cubes or TSDF fusion)",
                       description="Build a surface on a grid over the scene box (marching cubes on the density, "
                       "or on a TSDF fused from depth maps rendered from the training cameras), clean it (drop "
                       "faces no training view constrains and small floating pieces), colour the vertices from "
                       "the field and export PLY, OBJ or GLB (default RUN_DIR/mesh/mesh.ply). RUN_DIR/mesh/"
                       "metrics.json gets the mesh's facts and what cleaning removed; with --eval also the "
                       "comparison with the scene's ground-truth mesh.")
    p.add_argument("run_dir")
    p.add_argument("--method", default="density", help="density (marching cubes on {density = --threshold}, "
                   "default) or tsdf (fusion of depth maps rendered from every training camera)")
    p.add_argument("--resolution", default="256", help="grid points per axis (default 256: a voxel of the "
                   "3-unit box is 0.012, below the F-score distance 0.02)")
    p.add_argument("--threshold", default="10", help="density level of the surface, per scene unit (default 10: "
                   "a 0.1-unit layer of it stops 63%% of the light, 1 - exp(-1); raise it for fuzzy surfaces, "
                   "lower it if thin parts vanish)")
    p.add_argument("--tsdf-trunc", default="4", help="tsdf: truncation distance in voxels (default 4)")
    p.add_argument("--tsdf-opacity", default="0.5", help="tsdf: pixels of at least this opacity have a surface "
                   "(their expected depth); the others see background (default 0.5)")
    p.add_argument("--cull", default="depth", help="drop faces no training view constrains: depth "
                   "(besides silhouette's, faces behind the surface that every view looking there renders: "
                   "the inside of solids, undersides no camera saw; default), silhouette (outside every view "
                   "frustum, or seen against the background of some view's alpha), frustum (outside every "
                   "view frustum only) or none")
    p.add_argument("--depth-margin", default="2", help="depth cull: how far behind a view's rendered surface a "
                   "face still counts as seen, in voxels (default 2)")
    p.add_argument("--min-component", default="0.005", help="drop connected pieces with fewer than this share "
                   "of the faces (default 0.005; 0 keeps all)")
    p.add_argument("--bbox", nargs=6, metavar=("XMIN", "YMIN", "ZMIN", "XMAX", "YMAX", "ZMAX"),
                   help="box to mesh (default: the run's data.aabb)")
    p.add_argument("--keep-largest", action="store_true", help="keep only the largest connected component")
    p.add_argument("--min-component-faces", default="0", help="drop components with fewer faces (default 0: keep all)")
    p.add_argument("--format", help="ply, obj or glb (default: the --out suffix, else ply)")
    p.add_argument("--out", help="output file (default RUN_DIR/mesh/mesh.<format>)")
    p.add_argument("--metrics", help="metrics file (default RUN_DIR/mesh/metrics.json)")
    p.add_argument("--no-colours", action="store_true", help="skip the vertex colours")
    p.add_argument("--full", action="store_true", help="density: query every grid point (default: only points in "
                   "cells the run's occupancy grid marks occupied, grown by one cell; the rest count as empty)")
    p.add_argument("--eval", action="store_true", help="Chamfer-L1, F-score and volumetric IoU against "
                   "data.root/mesh.ply (generated scenes), on the whole true surface and on the part the "
                   "training cameras see (visible_*: ray cast through the analytic scene.toml); IoU is of the "
                   "solid {density > threshold} with hollow interiors filled (iou_density: without); "
                   "with no surface at the threshold, Chamfer is null and F-score 0")
    p.add_argument("--fscore-tau", default="0.02", help="F-score distance threshold in scene units (default 0.02, "
                   "about 2 voxels of a 256^3 grid over the 3-unit box)")
    p.add_argument("--eval-samples", default="100000", help="surface points per mesh and occupancy points "
                   "in the box for --eval (default 100000)")
    p.add_argument("--chunk", default="65536", help="points per density query (default 65536)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def run(args) -> int:
    from nerfspec.export import mesh as meshing
    from nerfspec.export.cleaning import CULL_RULES, CleanSpec
    from nerfspec.export.mesh_run import mesh_run, score_mesh, voxel_size
    from nerfspec.export.video import parse_number as num
    from nerfspec.models import load_run
    from nerfspec.run_layout import mesh_metrics_path

    ex = meshing.Extraction(args.method, num("--resolution", args.resolution, int, 2, 1024),
                            num("--threshold", args.threshold, float, 1e-9), not args.full,
                            num("--tsdf-trunc", args.tsdf_trunc, float, 1e-9),
                            num("--tsdf-opacity", args.tsdf_opacity, float, 1e-9, 1.0))
    meshing.check_extraction(ex)
    if args.cull not in CULL_RULES:
        raise NerfspecError(f"--cull must be one of {', '.join(CULL_RULES)}, got {args.cull!r}")
    clean = CleanSpec(args.cull, num("--min-component", args.min_component, float, 0.0, 1.0))
    depth_margin = num("--depth-margin", args.depth_margin, float, 0.0)
    bbox = [num("--bbox", v, float) for v in args.bbox] if args.bbox else None
    if bbox is not None:
        meshing.check_bbox(bbox)
    min_faces = num("--min-component-faces", args.min_component_faces, int, 0)
    tau = num("--fscore-tau", args.fscore_tau, float, 1e-9)
    samples = num("--eval-samples", args.eval_samples, int, 100)
    chunk = num("--chunk", args.chunk, int, 1)
    check_device(args.device)
    out = Path(args.out) if args.out else None
    fmt = meshing.output_format(out or Path("mesh"), args.format)
    loaded = load_run(args.run_dir, args.device)
    clean.depth_margin = depth_margin * voxel_size(loaded.cfg.data.aabb if bbox is None else bbox, ex.resolution)
    meshed = mesh_run(loaded, loaded.cfg.data, ex, clean, fmt, out, bbox=bbox, keep_largest=args.keep_largest,
                      min_component_faces=min_faces, colours=not args.no_colours, chunk=chunk,
                      chunk_rays=loaded.cfg.eval.chunk_rays, keep_volume=args.eval)
    metrics, timings = meshed.metrics, meshed.timings
    print(f"{meshed.path}: {metrics['vertices']} vertices, {metrics['faces']} faces, {metrics['components']} "
          f"components, watertight {meshed.mesh.is_watertight}")
    print(f"{ex.method} extraction in {metrics['extraction_s']:.1f} s at {ex.resolution}^3, voxel "
          f"{metrics['voxel']:.4f} ({timings['queries']} "
          f"{'density queries' if ex.method == 'density' else 'depth pixels'}, "
          f"{timings['density_s']:.1f} s; depth maps {timings['depth_maps_s']:.1f} s; marching cubes and "
          f"cleaning {timings['marching_cubes_s']:.1f} s; colours {timings['colours_s']:.1f} s)")
    report = metrics["cleaning"]
    print(f"cleaning ({clean.cull}, components under {clean.min_component:g} of the faces): "
          f"{report['removed_outside_frusta']} faces outside every frustum, {report['removed_by_silhouettes']} "
          f"on a silhouette's background, {report['removed_behind_depth']} behind every view's rendered surface, "
          f"{report['removed_small_components']} in small pieces removed; "
          f"{report['components_before']} -> {report['components_after']} components")
    path = Path(args.metrics) if args.metrics else mesh_metrics_path(loaded.run_dir)
    if args.eval:
        if metrics["voxel"] >= tau:
            print(f"note: a voxel ({metrics['voxel']:.4f}) is not smaller than the F-score distance {tau:g}; "
                  "raise --resolution for a fair score", file=sys.stderr)
        score_mesh(loaded, loaded.cfg.data, meshed, tau, samples)
    meshing.write_metrics(path, metrics)
    if args.eval:
        if metrics["chamfer_l1"] is None:
            print(f"no surface: the density never reaches {ex.threshold:g} (try a lower --threshold); "
                  f"F-score 0, IoU {metrics['iou']:.3f} -> {path}")
        else:
            print(f"Chamfer-L1 {metrics['chamfer_l1']:.4f}, F-score@{tau:g} {metrics['fscore']:.3f} "
                  f"(precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}), "
                  f"IoU {metrics['iou']:.3f} -> {path}")
        if metrics.get("visible_precision") is not None:
            print(f"on the surface the training cameras see ({100 * metrics['gt_seen_fraction']:.0f}% of it): "
                  f"F-score@{tau:g} {metrics['visible_fscore']:.3f} (precision {metrics['visible_precision']:.3f}, "
                  f"recall {metrics['visible_recall']:.3f}), Chamfer-L1 {metrics['visible_chamfer_l1']:.4f}")
    return 0
