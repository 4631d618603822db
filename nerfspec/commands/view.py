"""``nerfspec view``: look at a trained run in the browser."""

from __future__ import annotations

from nerfspec.commands.common import check_device


def add_parser(sub) -> None:
    p = sub.add_parser("view", help="look at a trained run in the browser (needs nerfspec[viewer])",
                       description="Serve a viewer of a run on 127.0.0.1 and print its address: the "
                       "training cameras with their images, the scene box, the occupancy grid, the mesh "
                       "(RUN_DIR/mesh) if extracted, and the field rendered from the browser's camera as "
                       "colour, depth or opacity: previews --preview-width pixels wide while the camera moves "
                       "(steps twice the run's render step, colour only where it shows), then --max-width "
                       "wide as evaluation renders once it stops. Ctrl-C stops it.")
    p.add_argument("run_dir")
    p.add_argument("--port", default="8080", help="port on 127.0.0.1 (default 8080)")
    p.add_argument("--preview-width", default="256", help="frame width while the camera moves (default 256)")
    p.add_argument("--max-width", default="512", help="frame width once the camera stops (default 512)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def run(args) -> int:
    from nerfspec.export.video import parse_number as num
    from nerfspec.viewer.server import require_viser

    port = num("--port", args.port, int, 0, 65535)
    preview = num("--preview-width", args.preview_width, int, 16, 4096)
    widest = num("--max-width", args.max_width, int, preview, 4096)
    check_device(args.device)
    require_viser()
    from nerfspec.models import load_run
    from nerfspec.viewer.schedule import Refinement
    from nerfspec.viewer.live import open_run_viewer

    viewer = open_run_viewer(load_run(args.run_dir, args.device), "127.0.0.1", port, Refinement(preview, widest))
    print(f"viewer: {viewer.url} (Ctrl-C to stop)", flush=True)
    try:
        viewer.serve()
    finally:
        viewer.close()
    return 0
