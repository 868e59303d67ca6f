"""Tracks a user already has, for ``run --tracks FILE``: this project's ``tracks.npz``, CoTracker's saved
outputs, TAPIR/TAPNext-style arrays, or a plain CSV. Every format ends as :class:`~motiondepth.types.Tracks`
(T, N, 2) pixels, (T, N) visibility, queries at each track's first visible frame.

- **motiondepth** ``.npz``: ``tracks`` (T, N, 2), ``visible`` (T, N), ``queries`` (N, 3), as ``track`` writes.
- **CoTracker** ``.npz``: ``pred_tracks`` (B, T, N, 2) or (T, N, 2) and ``pred_visibility`` (B, T, N) or
  (T, N), as its predictor returns them (saved with ``np.savez``; batch 1).
- **TAPIR / TAPNext** ``.npz``: ``tracks`` (N, T, 2) with ``occluded`` (N, T) (true = hidden) or
  ``visibles`` (N, T), point-major as those models return them.
- **CSV**: a header with ``frame,point,x,y,visible`` (extra columns ignored), one row per observation;
  missing rows are frames where the point is not seen.

Positions are pixels of the frames as ``run`` decodes them (after ``--resize``/``--stride``), x right,
y down, pixel centres at integers. Nothing is read with pickle.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.types import Tracks

FORMATS = ("motiondepth", "cotracker", "tapir", "csv")


def _from_arrays(path: Path, tracks: np.ndarray, visible: np.ndarray, fmt: str) -> Tracks:
    t_len, n = visible.shape
    if tracks.shape != (t_len, n, 2):
        raise InputError(path, f"{fmt} tracks are {tracks.shape}, but the visibility is {visible.shape}")
    if n == 0:
        raise InputError(path, "holds no tracks")
    seen = visible.any(0)
    if not seen.all():
        raise InputError(path, f"{int((~seen).sum())} track(s) are never visible")
    bad = visible & ~np.isfinite(tracks).all(-1)
    if bad.any():
        raise InputError(path, f"{int(bad.sum())} visible position(s) are NaN or infinite")
    first = np.argmax(visible, 0)
    pos = np.nan_to_num(tracks.astype(np.float32))
    queries = np.concatenate([first[:, None], pos[first, np.arange(n)]], 1).astype(np.float32)
    return Tracks(pos, visible.astype(bool), queries, (0, 0), meta={"tracker": f"imported ({fmt})", "file": str(path)})


def _csv(path: Path) -> Tracks:
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read the CSV ({exc})") from None
    need = ("frame", "point", "x", "y", "visible")
    if not rows or any(c not in rows[0] for c in need):
        have = ", ".join(rows[0]) if rows else "no rows"
        raise InputError(path, f"a tracks CSV needs the columns {','.join(need)} (has: {have})")
    try:
        a = np.array([[float(r[c]) for c in need] for r in rows])
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"non-numeric value in the tracks CSV ({exc})") from None
    if not np.isfinite(a).all() or (a[:, :2] < 0).any() or np.any(a[:, :2] != np.round(a[:, :2])):
        raise InputError(path, "'frame' and 'point' must be non-negative integers, and every value finite")
    k, p = a[:, 0].astype(int), a[:, 1].astype(int)
    ids, col = np.unique(p, return_inverse=True)
    tracks = np.full((k.max() + 1, len(ids), 2), np.nan)
    visible = np.zeros((k.max() + 1, len(ids)), bool)
    tracks[k, col] = a[:, 2:4]
    visible[k, col] = a[:, 4] > 0
    return _from_arrays(path, tracks, visible, "csv")


def read_tracks_file(path: str | Path) -> Tracks:
    """Any of the formats above → :class:`Tracks` (``image_size`` (0, 0): :func:`check_tracks` sets it)."""
    from motiondepth.io.npz import read_npz

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "tracks file not found")
    if path.suffix.lower() == ".csv":
        return _csv(path)
    d = read_npz(path, what="tracks file")
    if {"tracks", "visible", "queries"} <= set(d):
        from motiondepth.io.trajectory import load_tracks

        tr, _ = load_tracks(path)
        return tr
    if "pred_tracks" in d:
        tracks, vis = d["pred_tracks"], d.get("pred_visibility")
        if tracks.ndim == 4:
            if tracks.shape[0] != 1:
                raise InputError(path, f"'pred_tracks' holds a batch of {tracks.shape[0]} videos; save one")
            tracks, vis = tracks[0], None if vis is None else vis[0]
        if tracks.ndim != 3 or tracks.shape[-1] != 2:
            raise InputError(path, f"'pred_tracks' must be (B, T, N, 2) or (T, N, 2), got {d['pred_tracks'].shape}")
        if vis is None:
            raise InputError(path, "CoTracker output without 'pred_visibility': save both arrays")
        vis = np.asarray(vis)
        if vis.ndim == 3 and vis.shape[-1] == 1:
            vis = vis[..., 0]
        return _from_arrays(path, tracks, vis > 0.5 if vis.dtype.kind == "f" else vis.astype(bool), "cotracker")
    if "tracks" in d and ("occluded" in d or "visibles" in d):
        tracks = d["tracks"]
        if tracks.ndim != 3 or tracks.shape[-1] != 2:
            raise InputError(path, f"TAPIR-style 'tracks' must be (N, T, 2), got {tracks.shape}")
        vis = ~d["occluded"].astype(bool) if "occluded" in d else d["visibles"].astype(bool)
        return _from_arrays(path, np.swapaxes(tracks, 0, 1), vis.T, "tapir")
    raise InputError(
        path, f"not a tracks file this reads (keys: {', '.join(sorted(d)) or 'none'}); expected motiondepth "
        "(tracks, visible, queries), CoTracker (pred_tracks, pred_visibility), TAPIR (tracks, occluded) or a CSV "
        "frame,point,x,y,visible"
    )  # fmt: skip


def check_tracks(path: str | Path, tracks: Tracks, num_frames: int, size: tuple[int, int]) -> Tracks:
    """The tracks must fit the video: one position per decoded frame and positions inside the frames (a
    track tracked at another resolution, or the clip with another --start/--end/--stride, is refused)."""
    t_len = tracks.num_frames
    if t_len != num_frames:
        raise InputError(path, f"tracks have {t_len} frames but the video has {num_frames} (after --start/--end/"
                         "--stride); track the same frames")  # fmt: skip
    h, w = size
    xy = tracks.tracks[tracks.visible]
    span = xy.max(0) - xy.min(0) if len(xy) else np.zeros(2)
    outside = (xy[:, 0] < -0.1 * w) | (xy[:, 0] > 1.1 * w) | (xy[:, 1] < -0.1 * h) | (xy[:, 1] > 1.1 * h)
    if outside.mean() > 0.01:
        raise InputError(path, f"{100 * outside.mean():.0f}% of the visible positions lie outside the {w}x{h} frames "
                         f"(x up to {xy[:, 0].max():.0f}, y up to {xy[:, 1].max():.0f}): were they tracked at "
                         "another resolution?")  # fmt: skip
    if len(xy) and (span < 0.05 * np.array([w, h])).all():
        raise InputError(path, f"every position lies within {span[0]:.1f}x{span[1]:.1f} px of the {w}x{h} frames: "
                         "normalised coordinates? give pixels")  # fmt: skip
    return Tracks(tracks.tracks, tracks.visible, tracks.queries, (h, w), meta=tracks.meta)
