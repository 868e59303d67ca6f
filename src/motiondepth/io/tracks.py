"""2D and 3D point tracks on disk, read and written side by side.

- This project's ``tracks.npz`` (:func:`save_tracks` / :func:`load_tracks`): ``tracks`` (T, N, 2), ``visible``
  (T, N), ``queries`` (N, 3) as (t, x, y), ``image_size``, ``tracker``, ``meta`` (JSON), optional ``intrinsics``.
- TAPVid-3D-style ``tracks3d.npz`` (:func:`save_tracks3d` / :func:`load_tracks3d`).
- Tracks a user already has, for ``run --tracks FILE`` (:func:`read_tracks_file`, checked against the clip by
  :func:`check_tracks`): this project's ``tracks.npz``, CoTracker's saved outputs, TAPIR/TAPNext-style arrays,
  or a plain CSV. Every format ends as :class:`~motiondepth.types.Tracks` (T, N, 2) pixels, (T, N) visibility,
  queries at each track's first visible frame.

  - **CoTracker** ``.npz``: ``pred_tracks`` (B, T, N, 2) or (T, N, 2) and ``pred_visibility`` (B, T, N) or
    (T, N), as its predictor returns them (saved with ``np.savez``; batch 1).
  - **TAPIR / TAPNext** ``.npz``: ``tracks`` (N, T, 2) with ``occluded`` (N, T) (true = hidden) or
    ``visibles`` (N, T), point-major as those models return them.
  - **CSV**: a header with ``frame,point,x,y,visible`` (extra columns ignored), one row per observation;
    missing rows are frames where the point is not seen.

  Positions are pixels of the frames as ``run`` decodes them (after ``--resize``/``--stride``), x right,
  y down, pixel centres at integers.

Nothing is read with pickle.
"""

from __future__ import annotations

import csv
import json
from array import array
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.atomic import json_default, save_npz
from motiondepth.types import RunWarning, Tracks, Tracks3D, high

FORMATS = ("motiondepth", "cotracker", "tapir", "csv")
MAX_TRACKS = 129 * 129  # as many as the densest query grid (--grid-half 64); more would run for many minutes
MAX_FRAMES = 100_000  # frame numbers above this are refused before anything is allocated (no clip is this long)
OUTSIDE_MARGIN = 0.1  # a position further outside the frame than this share of its width/height is not visible
MAX_OUTSIDE_SHARE = 0.01  # … and more than this share of the visible positions there means wrong coordinates
MIN_MOVING_TRACKS = 4  # the motion needs this many tracks seen in two frames or more (the solver's min_points)


def _check_count(path: Path, n: int) -> None:
    """At most :data:`MAX_TRACKS` tracks: more would run for many minutes on a CPU."""
    if n > MAX_TRACKS:
        raise InputError(path, f"holds {n} tracks; run takes at most {MAX_TRACKS} (as many as the densest query grid, "
                         "--grid-half 64), which already takes minutes on a CPU: keep a subset")  # fmt: skip


def _first_queries(pos: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N, 3) queries (t, x, y) at each track's first visible frame."""
    first = np.argmax(visible, 0)
    return np.concatenate([first[:, None], pos[first, np.arange(pos.shape[1])]], 1).astype(np.float32)


def _visibility(path: Path, vis: np.ndarray, key: str, fmt: str) -> np.ndarray:
    """A visibility array as bool (floats: > 0.5), refusing text, complex values and the like."""
    from motiondepth.io.npz import real_array

    vis = np.asarray(vis)
    if vis.dtype.kind == "b":
        return vis
    v = real_array(path, key, vis, f"{fmt} tracks file")
    if not np.isfinite(v).all():
        raise InputError(path, f"'{key}' holds NaN or infinite values")
    return v > 0.5 if vis.dtype.kind == "f" else v != 0


def _from_arrays(path: Path, tracks: np.ndarray, visible: np.ndarray, fmt: str, tracks_key: str = "tracks",
                 vis_key: str = "visible") -> Tracks:  # fmt: skip
    from motiondepth.io.npz import real_array

    tracks = real_array(path, tracks_key, tracks, f"{fmt} tracks file")
    visible = _visibility(path, visible, vis_key, fmt)
    if visible.ndim != 2:
        raise InputError(path, f"{fmt} visibility '{vis_key}' must be 2-D (frames × tracks), got shape {visible.shape}")
    t_len, n = visible.shape
    if tracks.shape != (t_len, n, 2):
        raise InputError(path, f"{fmt} tracks are {tracks.shape}, but the visibility is {visible.shape}")
    if n == 0:
        raise InputError(path, "holds no tracks")
    _check_count(path, n)
    seen = visible.any(0)
    if not seen.all():
        raise InputError(path, f"{int((~seen).sum())} track(s) are never visible")
    bad = visible & ~np.isfinite(tracks).all(-1)
    if bad.any():
        raise InputError(path, f"{int(bad.sum())} visible position(s) are NaN or infinite")
    pos = np.where(visible[..., None], tracks, 0.0).astype(np.float32)
    return Tracks(pos, visible, _first_queries(pos, visible), (0, 0),
                  meta={"tracker": f"imported ({fmt})", "file": str(path)})  # fmt: skip


def _csv(path: Path, num_frames: int | None) -> Tracks:
    """A tracks CSV, streamed row by row into compact arrays (40 bytes a row), frames checked before allocating."""
    need = ("frame", "point", "x", "y", "visible")
    cols = array("d")
    row_no = 1
    try:
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            names = [h.strip() for h in header] if header else []
            if any(c not in names for c in need):
                raise InputError(path, f"a tracks CSV needs the columns {','.join(need)} (has: "
                                 f"{', '.join(names) or 'no header'})")  # fmt: skip
            idx = [names.index(c) for c in need]
            last = max(idx)
            for row_no, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) <= last:
                    raise InputError(path, f"row {row_no} has {len(row)} values; the header names {len(names)}")
                try:
                    cols.extend(float(row[i]) for i in idx)
                except ValueError:
                    raise InputError(path, f"row {row_no}: non-numeric value in {', '.join(row[i] for i in idx)}"
                                     ) from None  # fmt: skip
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read the CSV at row {row_no} ({exc})") from None
    if not cols:
        raise InputError(path, "the tracks CSV has a header but no rows")
    a = np.frombuffer(cols, dtype=np.float64).reshape(-1, 5)
    if not np.isfinite(a).all() or (a[:, :2] < 0).any() or np.any(a[:, :2] != np.round(a[:, :2])):
        raise InputError(path, "'frame' and 'point' must be non-negative integers, and every value finite")
    top = a[:, 0].max()
    limit = MAX_FRAMES if num_frames is None else num_frames
    if top >= limit:
        clip = f"the clip has {num_frames} frames (after --start/--end/--stride)" if num_frames else "too many"
        raise InputError(path, f"names frame {top:.0f}, but {clip}; frames count from 0")
    k, p = a[:, 0].astype(np.int64), a[:, 1].astype(np.int64)
    ids, col = np.unique(p, return_inverse=True)
    _check_count(path, len(ids))  # before the (frames × tracks) arrays are allocated
    t_len = int(top) + 1 if num_frames is None else num_frames
    cell = k * len(ids) + col
    order = np.argsort(cell, kind="stable")
    dup = np.flatnonzero(cell[order][1:] == cell[order][:-1])
    if len(dup):
        r0, r1 = order[dup[0]], order[dup[0] + 1]
        raise InputError(path, f"frame {k[r0]}, point {p[r0]} appears {np.sum(cell == cell[r0])} times (rows "
                         f"{r0 + 2} and {r1 + 2}); give one row per frame and point")  # fmt: skip
    tracks = np.full((t_len, len(ids), 2), np.nan, np.float32)
    visible = np.zeros((t_len, len(ids)), bool)
    tracks[k, col] = a[:, 2:4]
    visible[k, col] = a[:, 4] > 0
    return _from_arrays(path, tracks, visible, "csv")


def read_tracks_file(path: str | Path, num_frames: int | None = None) -> Tracks:
    """Any of the formats above → :class:`Tracks` (``image_size`` as the file records it, (0, 0) where it does not;
    :func:`check_tracks` checks it against the clip). ``num_frames``: the clip's, so that a CSV naming frames
    beyond it is refused before anything is allocated."""
    from motiondepth.io.npz import read_npz

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "tracks file not found")
    if path.suffix.lower() == ".csv":
        return _csv(path, num_frames)
    d = read_npz(path, what="tracks file")
    if {"tracks", "visible", "queries"} <= set(d):
        tr, _ = _tracks_from_arrays(path, d)  # the arrays already read: the file is not read twice
        _check_count(path, tr.num_points)
        tr.meta = {**tr.meta, "file": str(path)}
        return tr
    if "pred_tracks" in d:
        tracks, vis = d["pred_tracks"], d.get("pred_visibility")
        if vis is None:
            raise InputError(path, "CoTracker output without 'pred_visibility': save both arrays")
        if tracks.ndim == 4:
            if tracks.shape[0] != 1:
                raise InputError(path, f"'pred_tracks' holds a batch of {tracks.shape[0]} videos; save one")
            tracks = tracks[0]
            if vis.ndim == 4 or (vis.ndim == 3 and vis.shape[0] == 1):
                vis = vis[0]
        if tracks.ndim != 3 or tracks.shape[-1] != 2:
            raise InputError(path, f"'pred_tracks' must be (B, T, N, 2) or (T, N, 2), got {d['pred_tracks'].shape}")
        if vis.ndim == 3 and vis.shape[-1] == 1:
            vis = vis[..., 0]
        if vis.shape != tracks.shape[:2]:
            raise InputError(path, f"'pred_visibility' is {d['pred_visibility'].shape}; for 'pred_tracks' "
                             f"{d['pred_tracks'].shape} it must be (1, T, N), (T, N) or (T, N, 1)")  # fmt: skip
        return _from_arrays(path, tracks, vis, "cotracker", "pred_tracks", "pred_visibility")
    if "tracks" in d and ("occluded" in d or "visibles" in d):
        tracks = d["tracks"]
        if tracks.ndim != 3 or tracks.shape[-1] != 2:
            raise InputError(path, f"TAPIR-style 'tracks' must be (N, T, 2), got {tracks.shape}")
        key = "occluded" if "occluded" in d else "visibles"
        vis = _visibility(path, d[key], key, "tapir")
        if vis.shape != tracks.shape[:2]:
            raise InputError(path, f"'{key}' is {vis.shape}; for 'tracks' {tracks.shape} it must be (N, T)")
        vis = ~vis if key == "occluded" else vis
        return _from_arrays(path, np.swapaxes(tracks, 0, 1), vis.T, "tapir", "tracks", key)
    raise InputError(
        path, f"not a tracks file this reads (keys: {', '.join(sorted(d)) or 'none'}); expected motiondepth "
        "(tracks, visible, queries), CoTracker (pred_tracks, pred_visibility), TAPIR (tracks, occluded) or a CSV "
        "frame,point,x,y,visible"
    )  # fmt: skip


def check_tracks(path: str | Path, tracks: Tracks, num_frames: int, size: tuple[int, int]) -> Tracks:
    """The tracks must fit the video: one position per decoded frame and positions inside the frames.

    Refused: another frame count (the clip with another --start/--end/--stride), a recorded ``image_size`` that is
    not the clip's, more than :data:`MAX_OUTSIDE_SHARE` of the visible positions further than
    :data:`OUTSIDE_MARGIN` outside the frames (another resolution, or normalised coordinates), and too few tracks
    seen in two frames for any motion. The few positions far outside (whatever their size) become not visible.
    Tracks that cover only a corner of the frames are kept with a warning in ``meta["warnings"]``.
    """
    t_len = tracks.num_frames
    if t_len != num_frames:
        raise InputError(path, f"tracks have {t_len} frames but the video has {num_frames} (after --start/--end/"
                         "--stride); track the same frames")  # fmt: skip
    h, w = size
    if tracks.image_size not in ((0, 0), (h, w)):
        th, tw = tracks.image_size
        raise InputError(path, f"the tracks were made on {tw}x{th} frames but the clip's frames are {w}x{h} (after "
                         "--resize): track the same frames, or scale the positions")  # fmt: skip
    q = tracks.queries
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(q).all(1) | (q[:, 0] < 0) | (q[:, 0] >= t_len) | (q[:, 0] != np.round(q[:, 0]))
    if bad.any():
        raise InputError(path, f"'queries' frame numbers must be whole frames 0-{t_len - 1} of the clip, "
                         f"got {q[np.argmax(bad), 0]:g}")  # fmt: skip
    vis = tracks.visible.copy()
    x, y = tracks.tracks[..., 0], tracks.tracks[..., 1]
    with np.errstate(invalid="ignore"):
        far = ~((x >= -OUTSIDE_MARGIN * w) & (x <= (1 + OUTSIDE_MARGIN) * w)
                & (y >= -OUTSIDE_MARGIN * h) & (y <= (1 + OUTSIDE_MARGIN) * h))  # fmt: skip
    far &= vis
    share = far.sum() / max(vis.sum(), 1)
    if share > MAX_OUTSIDE_SHARE:
        xy = tracks.tracks[vis]
        raise InputError(path, f"{100 * share:.0f}% of the visible positions lie outside the {w}x{h} frames "
                         f"(x up to {xy[:, 0].max():.4g}, y up to {xy[:, 1].max():.4g}): were they tracked at "
                         "another resolution?")  # fmt: skip
    warnings = []
    if far.any():
        vis &= ~far
        lost = ~vis.any(0)
        if lost.any():
            raise InputError(path, f"track {int(np.argmax(lost))} is visible only at positions far outside the {w}x{h} "
                             "frames")  # fmt: skip
        text = (f"{int(far.sum())} position(s) of the imported tracks lay more than {OUTSIDE_MARGIN:.0%} outside the "
                f"{w}x{h} frames; treated as not visible")  # fmt: skip
        warnings.append(RunWarning(text, "medium"))
    xy = tracks.tracks[vis]
    lo, hi = xy.min(0), xy.max(0)
    span = hi - lo
    if (span < 0.05 * np.array([w, h])).all():
        raise InputError(path, f"every position lies within {span[0]:.1f}x{span[1]:.1f} px of the {w}x{h} frames: "
                         "normalised coordinates? give pixels")  # fmt: skip
    moving = (vis.sum(0) >= 2).sum()
    if moving < MIN_MOVING_TRACKS:
        raise InputError(path, f"only {moving} track(s) are visible in two frames or more; the camera motion needs at "
                         f"least {MIN_MOVING_TRACKS} (and works well from about 50)")  # fmt: skip
    if (span < 0.6 * np.array([w, h])).all():
        hint = " tracked at half the resolution?" if (hi < 0.55 * np.array([w, h])).all() else ""
        warnings.append(
            high(
                f"the imported tracks cover only x {lo[0]:.0f}-{hi[0]:.0f}, y {lo[1]:.0f}-{hi[1]:.0f} of the "
                f"{w}x{h} frames, which makes the rotation poorly determined;{hint or ' check the resolution'}"
            )
        )
    pos, queries = tracks.tracks, tracks.queries
    if far.any():  # the hidden positions become 0 (as unseen ones are); queries move to each track's first sighting
        pos = np.where(far[..., None], 0.0, pos).astype(np.float32)
        queries = _first_queries(pos, vis)
    meta = {**tracks.meta, "warnings": warnings} if warnings else tracks.meta
    return Tracks(pos, vis, queries, (h, w), meta=meta)


def save_tracks(path: str | Path, tracks: Tracks, intrinsics: np.ndarray | None = None) -> None:
    """Write tracks (keys ``tracks``, ``visible``, ``queries`` (t,x,y), ``image_size``, ``tracker``, ``meta``).

    ``meta`` is the tracker's settings and findings (e.g. the gyro alignment) as a JSON string.
    """
    extra = {} if intrinsics is None else {"intrinsics": np.asarray(intrinsics, dtype=np.float64)}
    meta = json.dumps(tracks.meta, default=json_default)
    save_npz(
        path, tracks=tracks.tracks, visible=tracks.visible, queries=tracks.queries,
        image_size=np.asarray(tracks.image_size, dtype=np.int64),
        tracker=np.asarray(str(tracks.meta.get("tracker", "unknown"))), meta=np.asarray(meta), **extra,
    )  # fmt: skip


def load_tracks(path: str | Path) -> tuple[Tracks, np.ndarray | None]:
    """Read a tracks ``.npz`` → (Tracks, intrinsics or None)."""
    from motiondepth.io.npz import read_npz

    path = Path(path)
    return _tracks_from_arrays(path, read_npz(path, ("tracks", "visible", "queries"), "tracks file"))


def _tracks_from_arrays(path: Path, arrays: dict[str, np.ndarray]) -> tuple[Tracks, np.ndarray | None]:
    """:func:`load_tracks` of the arrays already read from ``path``."""
    from motiondepth.io.npz import real_array

    tr = real_array(path, "tracks", arrays["tracks"], "tracks file")
    vis = _visibility(path, arrays["visible"], "visible", "motiondepth")
    queries = real_array(path, "queries", arrays["queries"], "tracks file")
    if tr.ndim != 3 or tr.shape[-1] != 2:
        raise InputError(path, f"'tracks' must be (T, N, 2), got {tr.shape}")
    if len(tr) < 2:
        raise InputError(path, f"tracks have {len(tr)} frame(s); need at least 2")
    if not np.all(np.isfinite(tr)):
        raise InputError(path, "'tracks' contains NaN or inf")
    if queries.shape != (tr.shape[1], 3):
        raise InputError(path, f"'queries' must be (N, 3) (frame, x, y) for the {tr.shape[1]} tracks, got shape "
                         f"{queries.shape}")  # fmt: skip
    if not np.isfinite(queries).all():
        raise InputError(path, "'queries' holds NaN or infinite values")
    if len(queries) and ((queries[:, 0] < 0).any() or (queries[:, 0] >= len(tr)).any()):
        raise InputError(path, f"'queries' name frames outside the tracks' {len(tr)} frames (up to "
                         f"{queries[:, 0].max():g})")  # fmt: skip
    raw_size = real_array(path, "image_size", np.asarray(arrays.get("image_size", [0, 0])), "tracks file")
    if raw_size.shape != (2,) or not np.all(np.isfinite(raw_size)) or (raw_size < 0).any() or (raw_size > 1e6).any():
        raise InputError(path, f"'image_size' must be (height, width) in pixels, got {raw_size.tolist()}")
    size = (int(raw_size[0]), int(raw_size[1]))
    meta = {"tracker": str(arrays["tracker"])} if "tracker" in arrays else {}
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError:
            raise InputError(path, "'meta' is not JSON") from None
        if not isinstance(meta, dict):
            raise InputError(path, f"'meta' must be a JSON object, got a JSON {type(meta).__name__}")
    intr = arrays.get("intrinsics")
    if intr is not None:
        from motiondepth.geometry.camera import Intrinsics

        try:
            intr = Intrinsics.from_array(np.asarray(intr, dtype=np.float64).ravel()).as_array()
        except (ValueError, TypeError) as exc:
            raise InputError(path, f"'intrinsics': {exc}") from None
    try:
        tracks = Tracks(tr.astype(np.float32), vis.astype(bool), queries.astype(np.float32), size, meta)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    return tracks, intr


# what tracks3d.npz holds beside the TAPVid-3D keys, when the run fused the path's and Seurat's depths
# (motiondepth.seurat.fuse): meta key → file key
TRACKS3D_EXTRAS = {"source": "source", "source_names": "source_names", "path_residual_px": "path_residual_px",
                   "path_depth": "depth_path", "seurat_depth": "depth_seurat", "recovered": "recovered"}  # fmt: skip
PER_FRAME_EXTRAS = ("depth_path", "depth_seurat", "recovered")  # (T, N); the others are (N,)


def save_tracks3d(path: str | Path, tracks3d: Tracks3D) -> None:
    """TAPVid-3D-style ``.npz``: ``tracks_XYZ`` (T, N, 3) m, ``visibility`` (T, N), ``fx_fy_cx_cy``, ``queries_xyt``;
    and where the depths were fused (:mod:`motiondepth.seurat.fuse`): each track's ``source`` (N,) (an index into
    ``source_names``: path, seurat, fused), ``path_residual_px`` (N,) and both predictions ``depth_path`` and
    ``depth_seurat`` (T, N) metres, and ``recovered`` (T, N) bool, the hidden frames where the path found the track's
    point again (:func:`~motiondepth.trajectory.path_depth.recover_hidden`; visible in ``visibility``)."""
    q = tracks3d.queries
    extras = {}
    for key, name in TRACKS3D_EXTRAS.items():
        if key in tracks3d.meta:
            v = np.asarray(tracks3d.meta[key])
            kind = {"source_names": str, "source": np.uint8, "recovered": bool}.get(key, np.float32)
            extras[name] = v.astype(kind)
    save_npz(
        path, tracks_XYZ=tracks3d.xyz.astype(np.float32), visibility=tracks3d.visible.astype(bool),
        fx_fy_cx_cy=tracks3d.intrinsics.as_array().astype(np.float32),
        queries_xyt=np.stack([q[:, 1], q[:, 2], q[:, 0]], -1).astype(np.float32), **extras,
    )  # fmt: skip


def load_tracks3d(path: str | Path) -> Tracks3D:
    """Read a file written by :func:`save_tracks3d` (or any TAPVid-3D-style ``.npz`` with those keys)."""
    from motiondepth.geometry.camera import Intrinsics
    from motiondepth.io.npz import read_npz

    d = read_npz(path, ("tracks_XYZ", "visibility", "fx_fy_cx_cy"), "3D tracks file")
    xyz, vis, k, q = d["tracks_XYZ"], d["visibility"].astype(bool), d["fx_fy_cx_cy"], d.get("queries_xyt")
    try:
        intr = Intrinsics.from_array(np.asarray(k, dtype=np.float64).ravel())
    except (ValueError, TypeError) as exc:
        raise InputError(path, f"'fx_fy_cx_cy': {exc}") from None
    if q is not None and q.shape != (xyz.shape[1], 3):
        raise InputError(path, f"'queries_xyt' must be (N, 3) for the {xyz.shape[1]} tracks, got {q.shape}")
    if xyz.ndim != 3 or xyz.shape[-1] != 3 or vis.shape != xyz.shape[:2]:
        raise InputError(path, f"tracks_XYZ {xyz.shape} / visibility {vis.shape} are not (T, N, 3) / (T, N)")
    queries = np.zeros((xyz.shape[1], 3), np.float32) if q is None else np.stack([q[:, 2], q[:, 0], q[:, 1]], -1)
    meta = {}
    for key, name in TRACKS3D_EXTRAS.items():
        if name in d:
            want = xyz.shape[:2] if name in PER_FRAME_EXTRAS else xyz.shape[1:2]
            v = d[name]
            if key != "source_names" and v.shape != want:
                raise InputError(path, f"'{name}' must be {want} for the {xyz.shape[1]} tracks, got {v.shape}")
            meta[key] = tuple(str(x) for x in v) if key == "source_names" else v
    if "source" in meta and len(meta["source"]) and int(meta["source"].max()) >= len(meta.get("source_names", ())):
        raise InputError(path, "'source' holds an index beyond 'source_names'")
    return Tracks3D(xyz, vis, intr, queries, xyz[..., 2].copy(), meta)
