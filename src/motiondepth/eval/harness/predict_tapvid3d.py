"""Depth over time on TAPVid-3D files: the prediction files that ``eval tapvid3d`` scores.

For every ground-truth ``.npz`` (docs/design.md §6) this writes a file of the same name with
``tracks_XYZ`` (T, N, 3) and ``visibility`` (T, N), so that the paper's TAPVid-3D comparison can be
rerun on real videos end to end:

1. **2D tracks** are the ground truth's 3D tracks projected with its intrinsics, visibility the
   ground truth's (entries behind the camera or not finite count as occluded). This is the
   depth-from-tracks setting: it isolates how well each method lifts given 2D tracks, so the
   occlusion accuracy is 1 by construction and 3D-AJ differs from APD only through depth.
2. **Supporting grid** per window, re-tracked on the decoded video with KLT (``support="video"``)
   or interpolated from the query tracks (``"tracks"``, no decoding).
3. **Log depth ratios** over time from Seurat, the hand-crafted density baseline (Eq. 4), rigid-scene
   geometry (:mod:`motiondepth.seurat.rigid`, with the file's intrinsics) or none (``static``: every
   track keeps its first depth), chained over windows.
4. **Metric scale** by piecewise median matching (Eq. 10–11) against the first frame's depth map from
   the blur network (``blur-depth-indoor`` by default, as for real video in ``run``; trained on
   procedural scenes, a weak prior on real footage) or a local Hugging Face metric depth model.
   With ``per_trajectory`` scaling the evaluation replaces that scale by the ground truth's at
   each query frame, so only the ratios are scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.atomic import save_npz
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.types import Intrinsics

METHODS = ("seurat", "handcrafted", "rigid", "static")
SUPPORTS = ("video", "tracks")


def project_tracks(xyz: np.ndarray, visible: np.ndarray, fx_fy_cx_cy) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, 3) camera-frame points → (T, N, 2) pixels and (T, N) visibility (occluded where z ≤ 0 or NaN).

    Occluded entries hold the last visible position (the first visible one before it), as Seurat's input.
    """
    from motiondepth.geometry.camera import project
    from motiondepth.seurat.windows import fill_occluded

    ok = np.isfinite(xyz).all(-1) & (xyz[..., 2] > 1e-6)
    vis = np.asarray(visible, bool) & ok
    uv = project(np.where(ok[..., None], xyz, [0.0, 0.0, 1.0]), Intrinsics.from_array(fx_fy_cx_cy))
    return fill_occluded(uv, vis), vis


def decode_jpegs(jpegs, path: Path) -> np.ndarray:
    """``images_jpeg_bytes`` → (T, H, W, 3) uint8 RGB."""
    import cv2

    frames = []
    for i, b in enumerate(jpegs):
        img = cv2.imdecode(np.frombuffer(bytes(b), np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(path, f"images_jpeg_bytes[{i}] is not a decodable JPEG")
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


class TapVid3DPredictor:
    """Lift the ground truth's 2D tracks of TAPVid-3D files to 3D with one method (module docstring)."""

    def __init__(
        self,
        method: str = "seurat",
        checkpoint: str = "seurat-small",
        support: str = "video",
        depth_checkpoint: str = VIDEO_DEPTH_CHECKPOINT,
        depth_model: str | Path | None = None,
    ) -> None:
        from motiondepth.seurat.inference import SeuratPredictor

        if method not in METHODS:
            raise InputError("--method", f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        if support not in SUPPORTS:
            raise InputError("--support", f"unknown support {support!r}; choose from {', '.join(SUPPORTS)}")
        self.method, self.support = method, support
        self.seurat = SeuratPredictor.from_pretrained(checkpoint)  # its window, stride and grid serve every method
        if depth_model is not None:
            from motiondepth.depth.hf import HFDepthPredictor

            self.depth_net, self.depth_name = HFDepthPredictor(depth_model), str(depth_model)
        else:
            from motiondepth.depth.blur import BlurPredictor

            self.depth_net, self.depth_name = BlurPredictor(depth_checkpoint, None), depth_checkpoint

    def predict_file(self, gt_path: str | Path, out_path: str | Path) -> dict:
        """Write the prediction for one ground-truth file; returns a short record of what was done."""
        from motiondepth.io.tapvid3d import read_ground_truth
        from motiondepth.seurat.baselines import handcrafted_log_ratios
        from motiondepth.seurat.depth_source import DepthMaps
        from motiondepth.seurat.inference import scale_match, to_tracks3d, window_starts
        from motiondepth.seurat.rigid import rigid_log_ratios
        from motiondepth.seurat.windows import check_tracks

        gt_path = Path(gt_path)
        gt, size = read_ground_truth(gt_path)
        if "images_jpeg_bytes" not in gt:
            raise InputError(gt_path, "needs 'images_jpeg_bytes': the depth source reads the first frames")
        frames = decode_jpegs(gt["images_jpeg_bytes"], gt_path)
        if frames.shape[1:3] != size:
            raise InputError(gt_path, f"frames are {frames.shape[2]}x{frames.shape[1]}, image_size {size[1]}x{size[0]}")
        xyz = np.asarray(gt["tracks_XYZ"], np.float64)
        tracks, vis = project_tracks(xyz, gt["visibility"], gt["fx_fy_cx_cy"])
        cfg = self.seurat.cfg
        seen = vis.any(0)  # tracks never visible (none in the benchmark) get no prediction
        check_tracks(tracks[:, seen], vis[:, seen], cfg.window, str(gt_path))
        tr, tv = tracks[:, seen], vis[:, seen]
        starts = window_starts(len(tr), cfg.window, self.seurat.stride)
        intr = Intrinsics.from_array(gt["fx_fy_cx_cy"])
        support = self.seurat.supporting_tracks(tr, tv, size, starts, frames if self.support == "video" else None)
        if self.method == "seurat":
            log_ratio = self.seurat.log_ratios(tr, tv, size, support=support, intrinsics=intr)
        elif self.method == "handcrafted":
            log_ratio = handcrafted_log_ratios(tr, tv, cfg.window, self.seurat.stride, support=support)
        elif self.method == "rigid":
            log_ratio = rigid_log_ratios(tr, tv, intr, cfg.window, self.seurat.stride, support, chain=self.seurat.chain)
        else:
            log_ratio = np.zeros(tr.shape[:2])
        depth_map = self.depth_net.depth(frames, source=str(gt_path))
        depth = scale_match(log_ratio, tr, tv, DepthMaps.first_frame(depth_map))[0]
        pred = np.zeros_like(xyz, dtype=np.float32)
        pred[:, seen] = to_tracks3d(tr, tv, np.maximum(depth, 1e-6), intr).xyz
        save_npz(out_path, tracks_XYZ=pred, visibility=vis, queries_xyt=gt["queries_xyt"],
                 fx_fy_cx_cy=gt["fx_fy_cx_cy"])  # fmt: skip
        return {"frames": len(frames), "tracks": int(xyz.shape[1]), "never_visible": int((~seen).sum())}

    def predict_dirs(self, gt_dir: str | Path, out_dir: str | Path, progress: bool = True) -> dict:
        """Predict every ``*.npz`` of ``gt_dir`` into ``out_dir`` (same names); files already there are kept."""
        from tqdm import tqdm

        gt_dir, out_dir = Path(gt_dir), Path(out_dir)
        if not gt_dir.is_dir():
            raise InputError(gt_dir, "ground-truth folder not found")
        files = sorted(gt_dir.glob("*.npz"))
        if not files:
            raise InputError(gt_dir, "no .npz files")
        done, skipped = {}, []  # out_dir is made by the first prediction written: a bad first file leaves none
        for f in tqdm(files, desc=f"tapvid3d {self.method}", disable=not progress):
            if (out_dir / f.name).is_file():  # an interrupted run resumes
                skipped.append(f.stem)
                continue
            done[f.stem] = self.predict_file(f, out_dir / f.name)
        return {"method": self.method, "support": self.support, "depth": self.depth_name,
                "predicted": done, "kept": skipped}  # fmt: skip
