"""Frame-to-frame KLT with re-seeding: tracks that last through long real clips (beyond the papers).

The default :class:`~motiondepth.tracking.klt.KLTTracker` matches every frame against the query
frame's template. That never drifts, but on real handheld clips the view changes by centimetres of
translation and degrees of rotation, and after 30–100 frames only 4–7 % of the grid is left.

:func:`track_chained` instead tracks each point from one frame to the next (forward–backward
checked), which survives slow appearance change, and when a point is lost it starts new ones in
the empty parts of the image (:func:`seed_points`, corners of OpenCV's ``goodFeaturesToTrack``). A
new point's query is its first frame, so the result is an ordinary :class:`~motiondepth.types.Tracks`
whose points start at different frames: what a small-motion bundle adjustment wants (every part of
the image covered in every frame), not what the paper's query grid reports.

:class:`ChainedKLTTracker` is the :class:`~motiondepth.tracking.base.Tracker` for given queries
(no re-seeding: each query is chained from its frame forwards and backwards), registered as
``klt-chain``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
from tqdm.auto import tqdm

from motiondepth.geometry.camera import in_image
from motiondepth.tracking.base import chain_queries, check_inputs, register_tracker
from motiondepth.types import Tracks

#: above this long side, in pixels, the chained tracker's density (the motion step's support tracks) falls with
#: the resolution (density_scale)
DENSITY_REFERENCE_PX = 960


def density_scale(size: tuple[int, int]) -> float:
    """How much sparser than at ≤ :data:`DENSITY_REFERENCE_PX` pixels the motion step places its tracks in a frame
    of ``size`` (H, W): 1 up to that long side, then in proportion to it. The track count, and with it the bundle
    adjustment's and the parallax points' time, then stops growing with the resolution: on the 1296 × 720
    ``apple.mp4`` the support tracks fell from 4087 to about 2000 (docs/small-motion.md)."""
    return max(1.0, max(size) / DENSITY_REFERENCE_PX)


@dataclass
class ChainConfig:
    """Settings of the chained tracker."""

    win_size: int = 21  # LK window, pixels
    max_level: int = 3  # pyramid levels
    fb_threshold_px: float = 0.7  # forward–backward error above this: lost
    min_eig_threshold: float = 1e-3  # OpenCV's minimum-eigenvalue test (textureless → lost)
    cell_px: int = 40  # re-seeding: one point wanted per cell of this size
    max_points: int = 1200  # re-seeding stops at this many live points
    quality: float = 0.01  # goodFeaturesToTrack quality level
    min_distance_px: float = 10.0  # … and spacing
    border_px: int = 8  # no seeds this close to the border
    anchor_px: float = 0.0  # drift correction: each step is refined against the track's first frame, and the
    # refined position kept when within this distance of the chained one (0: off)

    @classmethod
    def for_size(cls, size: tuple[int, int]) -> ChainConfig:
        """The defaults for frames of ``size`` (H, W), with the re-seeding cells and corner spacing grown by
        :func:`density_scale` (the bundle adjustment's support tracks)."""
        s, c = density_scale(size), cls()
        return cls(cell_px=round(c.cell_px * s), min_distance_px=c.min_distance_px * s)


def _lk_options(c: ChainConfig, max_level: int) -> dict:
    """``calcOpticalFlowPyrLK`` settings of the chained tracker, with ``max_level`` pyramid levels."""
    return dict(
        winSize=(c.win_size, c.win_size), maxLevel=max_level, minEigThreshold=c.min_eig_threshold,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01),
    )  # fmt: skip


def usable_area(valid: np.ndarray | None, c: ChainConfig) -> np.ndarray | None:
    """Where a chained point may be: ``valid`` (H, W) bool (the recorded part of an undistorted frame,
    :func:`~motiondepth.geometry.distortion.recorded_area`) shrunk by half an LK window, so no window reaches into
    the black margin; None: everywhere. A window on the margin's edge locks onto the edge, which stays put in the
    image while the scene moves (on TUM fr1_xyz such tracks along the top rows, a few % of them, gave most of the
    bundle adjustment's robust cost and pulled its rotation to a wrong minimum: docs/small-motion.md)."""
    if valid is None or valid.all():
        return None
    r = c.win_size // 2 + 1
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    return cv2.erode(valid.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def inside_area(usable: np.ndarray | None, xy: np.ndarray) -> np.ndarray:
    """(N,) whether each point (N, 2), at its nearest pixel, lies in the area ``usable`` (H, W) bool (None: all
    do)."""
    if usable is None or len(xy) == 0:
        return np.ones(len(xy), bool)
    h, w = usable.shape
    ix = np.clip(np.rint(xy[:, 0]).astype(int), 0, w - 1)
    iy = np.clip(np.rint(xy[:, 1]).astype(int), 0, h - 1)
    return usable[iy, ix]


def _lk(c: ChainConfig, a: np.ndarray, b: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward–backward pyramidal LK from image ``a`` to ``b``: new positions and which survived."""
    if len(pts) == 0:
        return pts.copy(), np.zeros(0, bool)
    kw = _lk_options(c, c.max_level)
    p = pts.reshape(-1, 1, 2).astype(np.float32)
    fwd, ok_f, _ = cv2.calcOpticalFlowPyrLK(a, b, p, None, **kw)
    back, ok_b, _ = cv2.calcOpticalFlowPyrLK(b, a, fwd, p.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **kw)
    fwd, back = fwd.reshape(-1, 2), back.reshape(-1, 2)
    fb = np.linalg.norm(back - pts, axis=1)
    ok = ok_f.ravel().astype(bool) & ok_b.ravel().astype(bool) & (fb < c.fb_threshold_px)
    return fwd, ok & in_image(fwd, a.shape[:2])


def _anchor(c: ChainConfig, gray: list[np.ndarray], k: int, xy: np.ndarray, starts: np.ndarray,
            origin: np.ndarray) -> np.ndarray:  # fmt: skip
    """Drift correction (the template update strategy of Matthews et al., PAMI 2004): refine the chained
    positions ``xy`` in frame ``k`` against each track's first frame ``starts`` (where it was at ``origin``),
    keeping a refinement only when it lies within ``anchor_px`` of the chained position."""
    out = xy.copy()
    if len(xy) == 0:
        return out
    kw = _lk_options(c, 1) | {"flags": cv2.OPTFLOW_USE_INITIAL_FLOW}
    for f in np.unique(starts):
        if f == k:
            continue
        sel = np.flatnonzero(starts == f)
        p0 = origin[sel].reshape(-1, 1, 2).astype(np.float32)
        ref, ok, _ = cv2.calcOpticalFlowPyrLK(gray[f], gray[k], p0, xy[sel].reshape(-1, 1, 2).copy(), **kw)
        ref = ref.reshape(-1, 2)
        keep = ok.ravel().astype(bool) & (np.linalg.norm(ref - xy[sel], axis=1) < c.anchor_px)
        out[sel[keep]] = ref[keep]
    return out


def seed_points(gray: np.ndarray, live: np.ndarray, c: ChainConfig, usable: np.ndarray | None = None) -> np.ndarray:
    """Corners (M, 2) in the cells of a ``cell_px`` grid that hold no live point (``live`` (K, 2)), inside
    ``usable`` (:func:`usable_area`) where given."""
    h, w = gray.shape
    gh, gw = max(1, h // c.cell_px), max(1, w // c.cell_px)
    occupied = np.zeros((gh, gw), bool)
    if len(live):
        iy = np.clip((live[:, 1] * gh / h).astype(int), 0, gh - 1)
        ix = np.clip((live[:, 0] * gw / w).astype(int), 0, gw - 1)
        occupied[iy, ix] = True
    room = c.max_points - len(live)
    if room <= 0 or occupied.all():
        return np.zeros((0, 2), np.float32)
    mask = np.zeros((h, w), np.uint8)
    for y, x in zip(*np.nonzero(~occupied), strict=True):
        mask[y * h // gh : (y + 1) * h // gh, x * w // gw : (x + 1) * w // gw] = 255
    b = c.border_px
    mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = 0, 0, 0, 0
    if usable is not None:
        mask[~usable] = 0
    found = cv2.goodFeaturesToTrack(gray, maxCorners=4 * int((~occupied).sum()), qualityLevel=c.quality,
                                    minDistance=c.min_distance_px, mask=mask)  # fmt: skip
    if found is None:
        return np.zeros((0, 2), np.float32)
    pts = found.reshape(-1, 2)
    # one corner per empty cell: the strongest (goodFeaturesToTrack returns them strongest first)
    cell = (np.clip((pts[:, 1] * gh / h).astype(int), 0, gh - 1) * gw
            + np.clip((pts[:, 0] * gw / w).astype(int), 0, gw - 1))  # fmt: skip
    _, first = np.unique(cell, return_index=True)
    return pts[np.sort(first)][:room].astype(np.float32)


def _gray(frames: np.ndarray) -> list[np.ndarray]:
    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]


def track_chained(
    frames: np.ndarray, queries: np.ndarray | None = None, config: ChainConfig | None = None, progress: bool = False,
    valid: np.ndarray | None = None,
) -> Tracks:  # fmt: skip
    """Chain points frame to frame through ``frames`` (T, H, W, 3), re-seeding where points were lost.

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        queries: optional (N, 3) ``(0, x, y)`` points to start with in frame 0; default: seeds only.
        config: :class:`ChainConfig`.
        valid: (H, W) bool, the pixels with recorded content (an undistorted frame's black margin False); points
            are neither seeded nor followed within half an LK window of the rest (:func:`usable_area`). A query
            there is not seen at all.

    Returns:
        :class:`~motiondepth.types.Tracks` whose points start at their query frame (re-seeded points
        later) and end when lost: a lost point is not picked up again.
    """
    c = config or ChainConfig()
    t_len, h, w = frames.shape[:3]
    gray = _gray(frames)
    usable = usable_area(valid, c)
    start = np.zeros((0, 2), np.float32) if queries is None else np.asarray(queries, np.float32)[:, 1:]
    live_xy = np.concatenate([start, seed_points(gray[0], start, c, usable)])
    live_ids = np.arange(len(live_xy))
    first = [np.zeros(len(live_xy), int)]  # each track's first frame
    origin = [live_xy]
    seen = inside_area(usable, live_xy)  # queries in the margin are never seen
    live_ids, live_xy = live_ids[seen], live_xy[seen]
    xy_at: dict[int, np.ndarray] = {0: live_xy}  # frame → positions of its live points
    ids_at: dict[int, np.ndarray] = {0: live_ids}  # frame → ids of its live points
    n_total = len(first[0])
    for k in tqdm(range(1, t_len), desc="track (klt-chain)", unit="frame", disable=not progress, leave=False):
        nxt, ok = _lk(c, gray[k - 1], gray[k], live_xy)
        live_ids, live_xy = live_ids[ok], nxt[ok]
        if c.anchor_px > 0:
            live_xy = _anchor(c, gray, k, live_xy, np.concatenate(first)[live_ids], np.concatenate(origin)[live_ids])
        inside = inside_area(usable, live_xy)
        live_ids, live_xy = live_ids[inside], live_xy[inside]
        new = seed_points(gray[k], live_xy, c, usable)
        new_ids = np.arange(n_total, n_total + len(new))
        n_total += len(new)
        first.append(np.full(len(new), k))
        origin.append(new)
        live_ids, live_xy = np.concatenate([live_ids, new_ids]), np.concatenate([live_xy, new])
        ids_at[k], xy_at[k] = live_ids, live_xy
    tracks = np.zeros((t_len, n_total, 2), np.float32)
    visible = np.zeros((t_len, n_total), bool)
    tracks[0, : len(origin[0])] = origin[0]  # (a query never seen keeps its position)
    for k in range(t_len):
        tracks[k, ids_at[k]] = xy_at[k]
        visible[k, ids_at[k]] = True
    starts = np.concatenate(first)
    # hold each track's last position after it is lost (as the template tracker does) and its first before
    for k in range(1, t_len):
        lost = ~visible[k] & (starts < k)
        tracks[k, lost] = tracks[k - 1, lost]
    first_pos = tracks[starts, np.arange(n_total)]
    for k in range(t_len):
        before = starts > k
        tracks[k, before] = first_pos[before]
    q = np.concatenate([starts[:, None].astype(np.float32), first_pos], 1)
    meta = {"tracker": "klt-chain", **asdict(c), "seeded": int(n_total - len(start))}
    return Tracks(tracks, visible, q, (h, w), meta=meta)


class ChainedKLTTracker:
    """Frame-to-frame KLT for given queries: each point chained forwards and backwards from its frame."""

    name = "klt-chain"

    def __init__(self, config: ChainConfig | None = None, progress: bool = False, **overrides: object) -> None:
        self.config = ChainConfig(**{**asdict(config or ChainConfig()), **overrides})
        self.progress = progress

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        check_inputs(frames, queries)
        c = self.config
        t_len, h, w = frames.shape[:3]
        gray = _gray(frames)
        tracks, visible = chain_queries(queries, t_len, lambda a, b, xy: _lk(c, gray[a], gray[b], xy))
        return Tracks(tracks, visible, queries.astype(np.float32), (h, w), meta={"tracker": self.name, **asdict(c)})


register_tracker("klt-chain", ChainedKLTTracker)
