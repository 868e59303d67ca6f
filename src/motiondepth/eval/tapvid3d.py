"""TAPVid-3D metrics (docs/design.md §7) and an evaluator for real TAPVid-3D ``.npz`` files (docs/design.md §6).

All metrics are fractions in [0, 1] (papers print ×100). Shapes: tracks (T, N, 3) metres in the
camera frame, visibility (T, N) bool, intrinsics ``[fx, fy, cx, cy]``.

* **APD** (average percent of points within δ): mean over δ ∈ {1, 2, 4, 8, 16} of the share of
  ground-truth-visible points whose 3D error is below δ · Z_gt / √(fx·fy), with intrinsics of
  the video rescaled so that its short image side is 256 px.
* **3D-AJ**: per δ, TP / (GT visible + FP) where TP = within δ and visible in both, FP =
  predicted visible but GT occluded or farther than δ; averaged over δ.
* **Occlusion accuracy**: share of all (frame, track) entries with predicted = GT visibility.
* **TC** (temporal coherence): mean L2 distance between predicted and GT acceleration
  X_{t+1} − 2X_t + X_{t−1}, over triplets where the GT is visible in all three frames (metres).
* **Scaling** before scoring: ``median`` (ratio of median 3D norms over entries visible in both),
  ``per_trajectory`` (per track, GT z / predicted z at its query frame), ``none``.
* **AbsRel / δ1** of depth z on GT-visible entries, after median scaling of z.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.tapvid3d import read_ground_truth, read_tapvid3d_npz

THRESHOLDS = (1, 2, 4, 8, 16)
SCALINGS = ("median", "per_trajectory", "none")


def rescale_intrinsics(fx_fy_cx_cy: np.ndarray, image_size: tuple[int, int], short_side: int = 256) -> np.ndarray:
    """Intrinsics of the video resized so its short side is ``short_side`` px (docs/design.md §7)."""
    s = short_side / float(min(image_size))
    return np.asarray(fx_fy_cx_cy, dtype=np.float64) * s


def scale_predictions(
    pred: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray, pred_visible: np.ndarray, scaling: str,
    query_frames: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Rescale predicted tracks (T, N, 3) to the ground truth by ``scaling``."""
    if scaling == "none":
        return pred
    if scaling == "median":
        both = gt_visible & pred_visible
        if not both.any():
            return pred
        g = np.linalg.norm(gt[both], axis=-1)
        p = np.linalg.norm(pred[both], axis=-1)
        return pred * (np.median(g) / max(np.median(p), 1e-12))
    if scaling == "per_trajectory":
        if query_frames is None:
            raise ValueError("per_trajectory scaling needs the query frame of each track")
        q = np.round(np.asarray(query_frames)).astype(np.int64)
        n = np.arange(pred.shape[1])
        zg = np.maximum(gt[q, n, 2], 1e-12)
        zp = np.maximum(pred[q, n, 2], 1e-12)
        return pred * (zg / zp)[None, :, None]
    raise ValueError(f"unknown scaling {scaling!r}; choose from {SCALINGS}")


def temporal_coherence(pred: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray) -> float:
    """Mean L2 between predicted and GT accelerations over fully visible GT triplets (metres)."""
    if len(gt) < 3:
        return float("nan")
    acc_p = pred[2:] - 2 * pred[1:-1] + pred[:-2]
    acc_g = gt[2:] - 2 * gt[1:-1] + gt[:-2]
    ok = gt_visible[2:] & gt_visible[1:-1] & gt_visible[:-2]
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(acc_p - acc_g, axis=-1)[ok].mean())


def tapvid3d_metrics(
    pred: np.ndarray, pred_visible: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray, intrinsics: np.ndarray,
    scaling: str = "per_trajectory", query_frames: np.ndarray | None = None,
) -> dict[str, float]:  # fmt: skip
    """TAPVid-3D metrics of one video.

    Args:
        pred, gt: (T, N, 3) tracks in metres.
        pred_visible, gt_visible: (T, N) bool.
        intrinsics: ``[fx, fy, cx, cy]`` already rescaled (see :func:`rescale_intrinsics`).
        scaling: ``median`` | ``per_trajectory`` | ``none``.
        query_frames: (N,) query frame per track (``per_trajectory`` only).

    Returns:
        ``apd``, ``3d_aj``, ``occlusion_accuracy``, ``tc``, ``abs_rel``, ``delta1`` and per-δ
        ``pts_within_δ`` / ``jaccard_δ``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    gv = np.asarray(gt_visible, bool)
    pv = np.asarray(pred_visible, bool)
    if pred.shape != gt.shape or gv.shape != gt.shape[:2] or pv.shape != gv.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape}, gt {gt.shape}, visibility {pv.shape}/{gv.shape}")
    pred = scale_predictions(pred, gt, gv, pv, scaling, query_frames)
    out: dict[str, float] = {"occlusion_accuracy": float((pv == gv).mean())}
    unit = gt[..., 2] / np.sqrt(intrinsics[0] * intrinsics[1])
    err = np.linalg.norm(pred - gt, axis=-1)
    n_vis = max(int(gv.sum()), 1)
    apd, aj = [], []
    for d in THRESHOLDS:
        within = err < d * unit
        correct = within & gv
        frac = correct.sum() / n_vis
        tp = (correct & pv).sum()
        fp = (pv & ~gv).sum() + (pv & gv & ~within).sum()
        jac = tp / max(gv.sum() + fp, 1)
        out[f"pts_within_{d}"] = float(frac)
        out[f"jaccard_{d}"] = float(jac)
        apd.append(frac)
        aj.append(jac)
    out["apd"] = float(np.mean(apd))
    out["3d_aj"] = float(np.mean(aj))
    out["tc"] = temporal_coherence(pred, gt, gv)
    out.update(depth_track_metrics(pred[..., 2], gt[..., 2], gv))
    return out


def depth_track_metrics(pred_z: np.ndarray, gt_z: np.ndarray, gt_visible: np.ndarray) -> dict[str, float]:
    """AbsRel and δ1 of track depths on GT-visible entries after median scaling (Seurat Table 9)."""
    ok = gt_visible & (gt_z > 0) & np.isfinite(pred_z) & (pred_z > 0)
    if not ok.any():
        return {"abs_rel": float("nan"), "delta1": float("nan")}
    p, g = pred_z[ok], gt_z[ok]
    p = p * np.median(g) / np.median(p)
    ratio = np.maximum(p / g, g / p)
    return {"abs_rel": float(np.mean(np.abs(p - g) / g)), "delta1": float(np.mean(ratio < 1.25))}


def mean_metrics(per_video: list[dict[str, float]]) -> dict[str, float]:
    """Average each metric over videos (NaN entries, e.g. TC of 2-frame clips, left out)."""
    keys = per_video[0].keys() if per_video else []
    return {k: float(np.nanmean([m[k] for m in per_video])) for k in keys}


# ----------------------------------------------------------------------------- files


def evaluate_file(gt_path: Path, pred_path: Path, scaling: str = "per_trajectory") -> dict[str, float]:
    """Metrics of one TAPVid-3D video: ground-truth file vs. prediction file of the same name.

    Ground truth keys: ``images_jpeg_bytes``, ``queries_xyt`` (N, 3), ``tracks_XYZ`` (T, N, 3),
    ``visibility`` (T, N), ``fx_fy_cx_cy`` (4,). Prediction keys: ``tracks_XYZ``, ``visibility``.
    Ground truth is read by :func:`read_ground_truth`.
    """
    gt, size = read_ground_truth(gt_path)
    pr = read_tapvid3d_npz(pred_path, ("tracks_XYZ", "visibility"))
    g, p = gt["tracks_XYZ"], pr["tracks_XYZ"]
    if p.shape != g.shape:
        raise InputError(pred_path, f"tracks_XYZ is {p.shape}, ground truth {gt_path.name} is {g.shape}")
    if pr["visibility"].shape != gt["visibility"].shape:
        raise InputError(pred_path, f"visibility is {pr['visibility'].shape}, ground truth {gt_path.name} is "
                         f"{gt['visibility'].shape}")  # fmt: skip
    if not np.all(np.isfinite(p)):
        raise InputError(pred_path, "tracks_XYZ contains NaN or inf")
    intr = rescale_intrinsics(gt["fx_fy_cx_cy"], size)
    return tapvid3d_metrics(
        p, pr["visibility"].astype(bool), g, gt["visibility"].astype(bool), intr, scaling, gt["queries_xyt"][:, 2]
    )


def evaluate_dirs(gt_dir: str | Path, pred_dir: str | Path, scaling: str = "per_trajectory") -> dict:
    """Per-video metrics for every ``*.npz`` in ``gt_dir`` and their mean over videos."""
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    if not gt_dir.is_dir():
        raise InputError(gt_dir, "ground-truth folder not found")
    if not pred_dir.is_dir():
        raise InputError(pred_dir, "prediction folder not found")
    if scaling not in SCALINGS:
        raise InputError("--scaling", f"unknown scaling {scaling!r}; choose from {SCALINGS}")
    files = sorted(gt_dir.glob("*.npz"))
    if not files:
        raise InputError(gt_dir, "no .npz files")
    per_video = {}
    for f in files:
        pred = pred_dir / f.name
        if not pred.is_file():
            raise InputError(pred, f"no prediction for ground-truth video {f.name}")
        per_video[f.stem] = evaluate_file(f, pred, scaling)
    return {"scaling": scaling, "videos": len(per_video), "mean": mean_metrics(list(per_video.values())),
            "per_video": per_video}  # fmt: skip
