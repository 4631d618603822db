"""The viewer server: a viser page on 127.0.0.1 that shows a field from each browser's camera.

One thread renders (the one that calls ``render_pending``): ``nerfspec view`` runs it in a
loop, training calls it between steps through ``TrainingHook``. Browser events (camera moves,
panel clicks) arrive on viser's own thread and only record what changed, so the field is never
read while a training step writes it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path

import numpy as np
import torch

from nerfspec.viewer.camera import browser_camera, c2w_to_browser
from nerfspec.viewer.frames import Frame, Refinement, render_frame
from nerfspec.viewer.panel import Panel, info_markdown
from nerfspec.viewer import scene as scene_parts


def require_viser():
    """The viser module, or a one-line NerfspecError saying how to install it."""
    from nerfspec.errors import NerfspecError

    try:
        import viser
    except ImportError:
        raise NerfspecError("the viewer needs viser, which is not installed: "
                            "pip install 'nerfspec[viewer]'") from None
    return viser


@dataclass
class Source:
    """What is rendered: a field, its occupancy grid and the background it composites on, with
    the depth range of the colour map and the rays rendered at once."""

    field: object
    estimator: object
    background: object
    near: float
    far: float
    chunk_rays: int = 8192


@dataclass
class ClientView:
    """One browser's camera and what it was last shown."""

    client: object
    version: int = 0  # bumped by every camera or mode change
    changed_at: float = 0.0
    shown_version: int = -1
    shown_width: int = 0
    frame: Frame | None = None
    frames: int = 0  # frames sent to this browser


@dataclass
class Viewer:
    """A running viser server; ``populate`` adds the scene, ``render_pending`` draws the frames
    the browsers wait for."""

    host: str = "127.0.0.1"
    port: int = 8080
    refinement: Refinement = dataclass_field(default_factory=Refinement)
    training: bool = False

    def __post_init__(self):
        viser = require_viser()
        self.server = viser.ViserServer(host=self.host, port=self.port, label="nerfspec", verbose=False)
        self.server.scene.set_up_direction("+z")  # Blender scenes stand on the xy plane
        self.source: Source | None = None
        self.info: dict = {"encoding": "?", "step": 0, "psnr": None}
        self.views: dict[int, ClientView] = {}
        self.lock = threading.Lock()
        self.home: tuple[np.ndarray, np.ndarray, float] | None = None  # first training camera
        self.handles: dict = {}
        self.panel = Panel(self.server.gui, self.redraw, self.training)
        self.server.on_client_connect(self._connect)
        self.server.on_client_disconnect(lambda client: self.views.pop(client.client_id, None))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.get_port()}"

    # -- scene ---------------------------------------------------------------------------
    def populate(self, cameras, images, aabb, estimator, mesh_path: Path | None) -> None:
        """Frustums of the training cameras with their images, the scene box, the occupancy grid
        (hidden until asked for) and the mesh if there is one."""
        scene = self.server.scene
        radius = float(cameras.c2w[:, :3, 3].norm(dim=-1).mean())
        self.handles = {"frustums": scene_parts.add_frustums(scene, cameras, images, scale=0.08 * radius),
                        "box": [scene_parts.add_box(scene, aabb.cpu().numpy())],
                        "grid": [scene_parts.add_grid(scene, estimator, visible=False)]}
        if mesh_path is not None:
            self.handles["mesh"] = [scene_parts.add_mesh(scene, mesh_path)]
        self.panel.bind_visibility(self.handles)
        wxyz, position = c2w_to_browser(cameras.c2w[0].double().numpy())
        self.home = (wxyz, position, 2.0 * float(torch.atan(0.5 * cameras.height / cameras.fy[0])))
        for view in list(self.views.values()):
            self._go_home(view.client)

    def refresh_grid(self, estimator) -> None:
        """Redraw the occupied cells (they change while training)."""
        for handle in self.handles.get("grid", []):
            handle.points = scene_parts.occupied_points(estimator.binary, estimator.aabb,
                                                        estimator.cfg.grid_resolution)

    def set_info(self, **info) -> None:
        self.info.update(info)
        self.panel.info.content = info_markdown({**self.info, "paused": self.panel.paused})

    # -- browsers ------------------------------------------------------------------------
    def _connect(self, client) -> None:
        view = ClientView(client, changed_at=time.perf_counter())
        with self.lock:
            self.views[client.client_id] = view

        def moved(_camera, view=view):
            with self.lock:
                view.version += 1
                view.changed_at = time.perf_counter()

        client.camera.on_update(moved)
        if self.home is not None:
            self._go_home(client)

    def _go_home(self, client) -> None:
        wxyz, position, fov = self.home
        with client.atomic():
            client.camera.fov = fov
            client.camera.wxyz = wxyz
            client.camera.position = position

    def redraw(self) -> None:
        """Every browser's picture is out of date (the mode changed, or the field did)."""
        with self.lock:
            for view in self.views.values():
                view.version += 1

    def pending(self, now: float) -> list[tuple[ClientView, int]]:
        """(browser, width) of each frame due now (browsers that have reported a camera only)."""
        due = []
        with self.lock:
            for view in self.views.values():
                if view.client.camera.update_timestamp == 0.0:
                    continue
                width = self.refinement.next_width(view.changed_at, now, view.shown_version,
                                                   view.version, view.shown_width)
                if width is not None:
                    due.append((view, width))
        return due

    def render_pending(self, limit: int | None = None) -> int:
        """Render and send the frames due now (at most ``limit``); returns how many were sent."""
        if self.source is None:
            return 0
        sent = 0
        for view, width in self.pending(time.perf_counter())[:limit]:
            self.render_for(view, width)
            sent += 1
        return sent

    def render_for(self, view: ClientView, width: int) -> Frame:
        camera_state = view.client.camera
        with self.lock:
            version = view.version
            wxyz, position = np.array(camera_state.wxyz), np.array(camera_state.position)
            fov, aspect = float(camera_state.fov), float(camera_state.aspect)
        src = self.source
        camera = browser_camera(wxyz, position, fov, aspect, width).to(src.estimator.aabb.device)
        frame = render_frame(src.field, src.estimator, src.background, camera, self.panel.mode.value,
                             src.near, src.far, src.chunk_rays)
        view.client.scene.set_background_image(frame.image, format="jpeg", jpeg_quality=90)
        with self.lock:
            view.frame, view.shown_version, view.shown_width = frame, version, width
            view.frames += 1
        self.set_info(frame=(camera.width, camera.height, frame.seconds))
        return frame

    def serve(self, stop: threading.Event | None = None, idle_s: float = 0.005) -> None:
        """Render what the browsers ask for until ``stop`` is set (or Ctrl-C)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.render_pending() == 0:
                time.sleep(idle_s)

    def close(self) -> None:
        self.server.stop()
