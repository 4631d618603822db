"""The viewer's side panel: what is shown (colour / depth / opacity; frustums, box, grid, mesh),
what the run is (mapping, step, PSNR, the last frame's size and time) and, while training,
pause / resume and the loss and PSNR curves."""

from __future__ import annotations

import math

import numpy as np

from nerfspec.viewer.frames import MODES


def info_markdown(info: dict) -> str:
    """The run's summary line: mapping, step and PSNR (``psnr`` None: not measured), then the
    last frame's size and render time when there is one."""
    psnr = info.get("psnr")
    psnr_text = "not measured" if psnr is None or not math.isfinite(psnr) else f"{psnr:.2f} dB ({info.get('psnr_of', '')})"
    lines = [f"**mapping** {info['encoding']}  \n**step** {info['step']:,}  \n**PSNR** {psnr_text}"]
    if info.get("frame"):
        w, h, seconds = info["frame"]
        lines.append(f"frame {w}x{h} in {seconds * 1000:.0f} ms")
    if info.get("paused"):
        lines.append("**training paused**")
    return "  \n".join(lines)


class Panel:
    """The GUI handles of one viewer; ``on_change()`` is called when the picture must be redrawn."""

    def __init__(self, gui, on_change, training: bool):
        self.info = gui.add_markdown("loading ...")
        self.mode = gui.add_dropdown("show", options=MODES, initial_value="colour")
        self.frustums = gui.add_checkbox("training cameras", initial_value=True)
        self.box = gui.add_checkbox("scene box", initial_value=True)
        self.grid = gui.add_checkbox("occupancy grid", initial_value=False)
        self.mesh = gui.add_checkbox("mesh", initial_value=False)
        self.mode.on_update(lambda _event: on_change())
        self.paused = False
        self.pause = self.curves = None
        if training:
            self.pause = gui.add_button("pause training")
            self.pause.on_click(lambda _event: self.toggle_pause())
            self.curves = (gui.add_uplot(data=(np.zeros(0), np.zeros(0)), series=_series("loss", "#c33"),
                                         title="training loss", aspect=2.0),
                           gui.add_uplot(data=(np.zeros(0), np.zeros(0)), series=_series("PSNR (dB)", "#36c"),
                                         title="training PSNR", aspect=2.0))

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.pause.label = "resume training" if self.paused else "pause training"

    def bind_visibility(self, handles: dict) -> None:
        """Make each checkbox show or hide its scene nodes: handles = {"frustums": [...], ...}."""
        for key, checkbox in (("frustums", self.frustums), ("box", self.box), ("grid", self.grid),
                              ("mesh", self.mesh)):
            nodes = handles.get(key, [])

            def toggle(_event, nodes=nodes, checkbox=checkbox):
                for node in nodes:
                    node.visible = checkbox.value

            checkbox.on_update(toggle)
            toggle(None)

    def show_curves(self, steps: list, losses: list, psnrs: list) -> None:
        if self.curves is None or not steps:
            return
        x = np.asarray(steps, dtype=np.float64)
        self.curves[0].data = (x, np.asarray(losses, dtype=np.float64))
        self.curves[1].data = (x, np.asarray(psnrs, dtype=np.float64))


def _series(label: str, colour: str):
    import viser.uplot

    return (viser.uplot.Series(label="step"), viser.uplot.Series(label=label, stroke=colour, width=2))
