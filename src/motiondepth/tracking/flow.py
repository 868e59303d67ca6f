"""Dense-flow tracker: OpenCV's DIS optical flow between consecutive frames, sampled at the points and chained.

The template tracker (``klt``) compares every frame with the query frame, and the chained one (``klt-chain``)
follows each point's 21 px window from frame to frame; both lose points where the window holds little texture
or the frame is blurred, which on real handheld clips is most of the grid within 50–100 frames (docs/results.md,
*Trackers on real clips*). Dense inverse search (Kroeger et al., ECCV 2016; ``cv2.DISOpticalFlow``) fits a
flow field to the whole image, with a variational refinement that carries motion from textured parts into flat
ones, so a point keeps moving with its neighbours where its own window alone would not say where it went.

:class:`DISFlowTracker` (registered as ``dis``) computes the flow both ways between every pair of consecutive
frames once, at most :attr:`FlowConfig.max_side` pixels on the long side (the flow is scaled back), and for each
query chains ``x ← x + F_k(x)`` from its frame forwards and backwards. A point is lost, for good, when the
backward flow does not bring it back within ``fb_threshold_px`` (occlusion, or a flow that does not agree with
itself) or when it leaves the image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
from tqdm.auto import tqdm

from motiondepth.geometry.camera import in_image
from motiondepth.tracking.base import chain_queries, check_inputs, register_tracker
from motiondepth.types import Tracks

_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}  # fmt: skip


@dataclass
class FlowConfig:
    """Settings of the dense-flow tracker."""

    preset: str = "medium"  # DIS preset: ultrafast | fast | medium
    max_side: int = 640  # the flow is computed with the frames' long side at most this many pixels
    fb_threshold_px: float = 1.5  # forward–backward disagreement above this (full-resolution px): lost

    def __post_init__(self) -> None:
        if self.preset not in _PRESETS:
            raise ValueError(f"unknown DIS preset {self.preset!r}; use one of {sorted(_PRESETS)}")
        if self.max_side < 32 or not self.fb_threshold_px > 0:
            raise ValueError(f"invalid flow-tracker settings: {self}")


def _working_gray(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``frame`` (H, W, 3) RGB in grey at the flow's working size (the long side at most ``max_side``), and that
    size's scale: working pixels per full-resolution pixel."""
    h, w = frame.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return (cv2.resize(g, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else g), size[0] / w


def _follow(xy: np.ndarray, there: np.ndarray, back: np.ndarray, scale: float, size: tuple[int, int],
            fb_threshold_px: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Points ``xy`` (N, 2) moved by the flow ``there`` (at ``scale``), and whether each is kept: the flow ``back``
    brings it home within ``fb_threshold_px`` (full-resolution pixels) and it lands inside an image of ``size``
    (H, W)."""
    nxt = xy + _sample(there, xy, scale)
    home = nxt + _sample(back, nxt, scale)
    return nxt, (np.linalg.norm(home - xy, axis=1) < fb_threshold_px) & in_image(nxt, size)


def _sample(flow: np.ndarray, xy: np.ndarray, scale: float) -> np.ndarray:
    """Bilinear flow (N, 2) at full-resolution points ``xy`` (N, 2) of a flow field computed at ``scale``,
    in full-resolution pixels."""
    if len(xy) == 0:
        return np.zeros((0, 2), np.float32)
    p = (xy * scale).astype(np.float32).reshape(1, -1, 2)
    out = cv2.remap(flow, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 2) / scale


class DISFlowTracker:
    """Chains each query through DIS optical flow between consecutive frames (module docstring)."""

    name = "dis"

    def __init__(self, config: FlowConfig | None = None, progress: bool = False, **overrides: object) -> None:
        self.config = FlowConfig(**{**asdict(config or FlowConfig()), **overrides})
        self.progress = progress

    def _flows(self, frames: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], float]:
        """Forward flows k → k+1 and backward flows k+1 → k (each (h, w, 2) at the working scale), and the scale."""
        t_len = len(frames)
        gray, scales = zip(*(_working_gray(f, self.config.max_side) for f in frames), strict=True)
        dis = cv2.DISOpticalFlow_create(_PRESETS[self.config.preset])
        fwd, bwd = [], []
        for k in tqdm(range(t_len - 1), desc="track (dis)", unit="frame", disable=not self.progress, leave=False):
            fwd.append(dis.calc(gray[k], gray[k + 1], None))
            bwd.append(dis.calc(gray[k + 1], gray[k], None))
        return fwd, bwd, scales[0]

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        check_inputs(frames, queries)
        c = self.config
        t_len, h, w = frames.shape[:3]
        fwd, bwd, scale = self._flows(frames)

        def step(a: int, b: int, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            there, back = (fwd[a], bwd[a]) if b > a else (bwd[b], fwd[b])  # the flow from frame a to b, and back
            return _follow(xy, there, back, scale, (h, w), c.fb_threshold_px)

        tracks, visible = chain_queries(queries, t_len, step)
        meta = {"tracker": self.name, **asdict(c)}
        return Tracks(tracks, visible, queries.astype(np.float32), (h, w), meta=meta)


register_tracker("dis", DISFlowTracker)


def reference_flow_tracks(frames: np.ndarray, points_xy: np.ndarray, targets: np.ndarray, reference: int = 0,
                          config: FlowConfig | None = None, valid: np.ndarray | None = None,
                          progress: bool = False) -> Tracks:  # fmt: skip
    """Points of frame ``reference`` followed into a few ``targets`` frames by DIS flow computed directly from the
    reference to each, not chained: dense, drift-free correspondences for triangulating one frame with a solved
    camera path.

    A point is visible in a target frame where the flow back from there brings it home within
    ``config.fb_threshold_px`` and it lands inside the image (and inside ``valid`` (H, W), the recorded area,
    when given); in frames not in ``targets`` it is hidden. Direct flow needs the reference's content in view:
    give targets within about a second of it.

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        points_xy: (N, 2) pixel positions in the reference frame (the tracks' queries).
        targets: frame indices in 0..T-1 other than ``reference``.
    """
    c = config or FlowConfig()
    t_len, h, w = frames.shape[:3]
    targets = np.unique(np.asarray(targets, int))
    if not 0 <= reference < t_len:
        raise ValueError(f"reference frame {reference} is not in 0..{t_len - 1}")
    if len(targets) and (targets.min() < 0 or targets.max() >= t_len or reference in targets):
        raise ValueError(f"target frames must lie in 0..{t_len - 1} and leave out the reference {reference}, got "
                         f"{targets.tolist()}")  # fmt: skip
    xy = np.asarray(points_xy, np.float32)
    n = len(xy)
    tracks = np.repeat(xy[None], t_len, 0)
    visible = np.zeros((t_len, n), bool)
    visible[reference] = True
    dis = cv2.DISOpticalFlow_create(_PRESETS[c.preset])
    g0, s = _working_gray(frames[reference], c.max_side)
    for k in tqdm(targets, desc="parallax flow", unit="frame", disable=not progress, leave=False):
        gk = _working_gray(frames[int(k)], c.max_side)[0]
        there, ok = _follow(xy, dis.calc(g0, gk, None), dis.calc(gk, g0, None), s, (h, w), c.fb_threshold_px)
        if valid is not None:
            ij = np.clip(np.rint(there), 0, [w - 1, h - 1]).astype(int)
            ok &= valid[ij[:, 1], ij[:, 0]]
        tracks[k], visible[k] = there, ok
    queries = np.c_[np.full(n, reference), xy].astype(np.float32)
    meta = {"tracker": "dis-reference", "reference": reference, "targets": targets.tolist(), **asdict(c)}
    return Tracks(tracks, visible, queries, (h, w), meta=meta)
