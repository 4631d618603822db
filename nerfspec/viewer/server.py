"""The viewer server: a viser page on 127.0.0.1 that shows a field from each browser's camera.

One thread renders (the one that calls ``render_pending``): ``nerfspec view`` runs it in a
loop, training calls it between steps through ``TrainingHook``. Browser events (camera moves,
panel clicks) arrive on viser's threads and only record what changed in each browser's
``FrameSlot`` (schedule.py), so the field is never read while a training step writes it, and a
frame being rendered is always delivered before the next starts from the newest pose.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path

import numpy as np
import torch

from nerfspec.viewer.camera import browser_camera, c2w_to_browser
from nerfspec.viewer.frames import Frame, render_frame
from nerfspec.viewer.panel import Panel, info_markdown
from nerfspec.viewer.preview import PreviewSampling
from nerfspec.viewer.schedule import FrameSlot, Pose, Refinement
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
    the depth range of the colour map, the rays rendered at once by ``render_image`` and how
    previews sample."""

    field: object
    estimator: object
    background: object
    near: float
    far: float
    chunk_rays: int = 8192
    preview: PreviewSampling = dataclass_field(default_factory=PreviewSampling)


def camera_pose(camera) -> Pose:
    """The ``Pose`` of a viser camera handle (its newest state)."""
    return Pose(tuple(float(v) for v in camera.wxyz), tuple(float(v) for v in camera.position),
                float(camera.fov), float(camera.aspect))


@dataclass
class ClientView:
    """One browser: its frame slot and the last frame it was sent."""

    client: object
    slot: FrameSlot
    frame: Frame | None = None

    @property
    def frames(self) -> int:
        """Frames delivered to this browser."""
        return self.slot.delivered_count


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
        (hidden until asked for) and the mesh if there is one, sent when first asked for (a
        browser that renders in software, without a GPU, stalls on a mesh of 600k faces)."""
        scene = self.server.scene
        radius = float(cameras.c2w[:, :3, 3].norm(dim=-1).mean())
        self.handles = {"frustums": scene_parts.add_frustums(scene, cameras, images, scale=0.08 * radius),
                        "box": [scene_parts.add_box(scene, aabb.cpu().numpy())],
                        "grid": [scene_parts.add_grid(scene, estimator, visible=False)]}
        self.handles["mesh"] = []
        if mesh_path is not None:
            def load_mesh(_event, nodes=self.handles["mesh"]):
                if self.panel.mesh.value and not nodes:
                    nodes.append(scene_parts.add_mesh(scene, mesh_path))

            self.panel.mesh.on_update(load_mesh)  # before bind_visibility's, which shows it
        self.panel.mesh.disabled = mesh_path is None
        self.panel.bind_visibility(self.handles)
        wxyz, position = c2w_to_browser(cameras.c2w[0].double().numpy())
        self.home = (wxyz, position, 2.0 * float(torch.atan(0.5 * cameras.height / cameras.fy[0])))
        for view in list(self.views.values()):
            self._go_home(view.client)

    def refresh_grid(self, estimator) -> None:
        """Redraw the occupied cells (they change while training) where the grid is shown."""
        for handle in self.handles.get("grid", []):
            if handle.visible:
                handle.points = scene_parts.occupied_points(estimator.binary, estimator.level_aabbs(),
                                                            estimator.resolution)

    def set_info(self, **info) -> None:
        self.info.update(info)
        self.panel.info.content = info_markdown({**self.info, "paused": self.panel.paused})

    # -- browsers ------------------------------------------------------------------------
    def _connect(self, client) -> None:
        view = ClientView(client, FrameSlot(self.refinement))

        def moved(_camera, view=view):
            # read the camera's newest state under the lock: callbacks may run out of order
            with self.lock:
                view.slot.moved(camera_pose(client.camera), time.perf_counter())

        with self.lock:
            self.views[client.client_id] = view
        client.camera.on_update(moved)
        moved(client.camera)  # viser connects a browser once it has reported its camera
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
                view.slot.invalidate()

    def render_pending(self, limit: int | None = None) -> int:
        """Render and send the frames due now (at most ``limit``); returns how many were sent."""
        if self.source is None:
            return 0
        sent = 0
        for view in list(self.views.values()):
            if limit is not None and sent >= limit:
                break
            with self.lock:
                request = view.slot.take(time.perf_counter())
            if request is not None:
                self.render_for(view, request)
                sent += 1
        return sent

    def render_for(self, view: ClientView, request) -> Frame:
        """Render ``request`` and send it to the browser (always: a newer pose waits its turn)."""
        src, pose = self.source, request.pose
        camera = browser_camera(pose.wxyz, pose.position, pose.fov, pose.aspect,
                                request.width).to(src.estimator.aabb.device)
        frame = render_frame(src.field, src.estimator, src.background, camera, self.panel.mode.value, src.near, src.far, src.chunk_rays,
                             src.preview if request.preview else None)
        view.client.scene.set_background_image(frame.image, format="jpeg", jpeg_quality=90)
        with self.lock:
            view.frame = frame
            view.slot.delivered(request)
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
