"""Which frame each browser gets next, and how wide.

A browser's camera moves faster than frames render. Each browser has one slot for its next
frame (a queue of length 1): a new camera pose replaces the pose waiting there (the newest
wins) but never touches the frame being rendered, which is always delivered; the next render
then starts from the newest pose. Frames are previews ``preview_width`` pixels wide while the
camera moves and refine to ``max_width`` (drawn as evaluation draws them) once it has stood
still ``settle_s`` seconds.

Pure bookkeeping: no browser, no renderer; the caller says what time it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pose:
    """A browser camera: unit quaternion (w, x, y, z) and position in the browser's (OpenCV)
    frame, vertical field of view (radians) and aspect ratio W / H."""

    wxyz: tuple[float, float, float, float]
    position: tuple[float, float, float]
    fov: float
    aspect: float


@dataclass(frozen=True)
class Request:
    """One frame to render: the pose, the width, whether it is a preview, and the count of
    changes it shows (``FrameSlot.version`` when it was taken)."""

    pose: Pose
    width: int
    preview: bool
    version: int


@dataclass(frozen=True)
class Refinement:
    """Preview frames ``preview_width`` wide while the camera moves; once it has stood still
    ``settle_s`` seconds, one frame ``max_width`` wide drawn as evaluation draws it
    (``refine`` False: previews only, e.g. while the field trains under a still camera)."""

    preview_width: int = 256
    max_width: int = 512
    settle_s: float = 0.3
    refine: bool = True


class FrameSlot:
    """One browser's frames: the newest pose, at most one frame in flight, the frame shown."""

    def __init__(self, refinement: Refinement):
        self.refinement = refinement
        self.pose: Pose | None = None  # the newest pose (None: the browser has not said yet)
        self.version = 0  # counts camera moves and other changes (mode, field)
        self.changed_at = 0.0
        self.in_flight: Request | None = None
        self.shown: Request | None = None
        self.delivered_count = 0

    def moved(self, pose: Pose, now: float) -> None:
        """The camera moved: ``pose`` replaces any pose still waiting (not the frame in flight)."""
        self.pose = pose
        self.version += 1
        self.changed_at = now

    def invalidate(self) -> None:
        """The picture changed under the same camera (display mode, or the field trained on)."""
        self.version += 1

    def take(self, now: float) -> Request | None:
        """The frame to render now, which is then in flight; None while one is in flight, before
        the browser's first pose, or when the frame shown is already the last one due."""
        if self.in_flight is not None or self.pose is None:
            return None
        ref = self.refinement
        still = now - self.changed_at >= ref.settle_s
        refined = ref.refine and still
        shown = self.shown
        if shown is not None and shown.version == self.version and (shown.preview is False or not refined):
            return None  # up to date, and as refined as it will get
        width = ref.max_width if refined else ref.preview_width
        self.in_flight = Request(self.pose, width, not refined, self.version)
        return self.in_flight

    def delivered(self, request: Request) -> None:
        """The frame of ``request`` reached the browser; the slot may take the next one."""
        if request is not self.in_flight:
            raise ValueError("delivered a frame that was not in flight")
        self.in_flight = None
        self.shown = request
        self.delivered_count += 1


class TimeBudget:
    """The viewer's share of a training run's wall time.

    Credit accrues at ``share`` seconds per second of wall time and never above zero, so time
    without a browser is not saved up for a burst of frames later. The viewer may work while
    its credit is not negative and is charged all that its work took (frames, curves, grid),
    so it renders again only once training has run cost (1 - share) / share seconds. Its share
    of the wall time then stays at most ``share``: training slows by at most
    share / (1 - share) (0.12 -> 13.6%) of the viewer's own work.
    """

    def __init__(self, share: float, now: float):
        self.share = share
        self.credit = 0.0
        self.last = now

    def _accrue(self, now: float) -> None:
        self.credit += self.share * (now - self.last)
        self.last = now

    def may_spend(self, now: float) -> bool:
        """Whether the viewer may work now."""
        self._accrue(now)
        self.credit = min(self.credit, 0.0)
        return self.credit >= 0.0

    def charge(self, seconds: float, now: float) -> None:
        """The viewer worked ``seconds`` (ending ``now``)."""
        self._accrue(now)
        self.credit = min(self.credit - seconds, 0.0)
