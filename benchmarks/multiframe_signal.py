"""How much do the frames say about depth? The photometric fit of known camera motion at true and wrong depths.

Each held-out procedural clip (the blur-depth benchmark's clips, 12 frames at 224 px) is warped
back to frame 0 with the solver's per-frame angles and the pivot model (docs/design.md §3.2), once with
the true depth map and once with wrong ones (every depth halved, doubled, or a constant 1 m or
20 m). The mean absolute grey-level difference to frame 0, averaged over frames 1…T−1 (10 px
border left out), is the residual a multi-frame method has to work with. If wrong depths fit
nearly as well as the truth, the motion between frames carries little depth information; what
is left after warping with the true depth is the blur changing from frame to frame, which the
warp does not model. ``identity`` is no warp at all.

    python benchmarks/multiframe_signal.py [--scenes 8]   # ≈ 1 min; results/multiframe_signal.{json,md}
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from motiondepth.data import EVAL_SEED_BASE
from motiondepth.data.blur_data import BlurDataConfig, procedural_clip, sample_from_clip
from motiondepth.geometry.camera import Intrinsics, unproject
from motiondepth.geometry.pivot import project_pivot
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.io.atomic import write_json_and_markdown

SHAKES = (("synthetic", 1.0), ("handheld", 1.0), ("handheld", 4.0))
DEPTHS = ("true", "× 0.5", "× 2", "1 m", "20 m")
BORDER = 10


def residuals(sample: dict, pivot_m: float) -> dict[str, float]:
    """Mean |warped frame k − frame 0| for each depth hypothesis in ``DEPTHS`` and for no warp."""
    intr = Intrinsics.from_array(sample["intrinsics"])
    grey = sample["frames"].astype(np.float32).mean(-1) / 255.0
    t, h, w = grey.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    pixels = np.stack([u.ravel(), v.ravel()], -1)
    gt = sample["depth"].astype(np.float64)
    gt = np.where(gt > 0, gt, np.median(gt[gt > 0])).ravel()
    hypotheses = {
        "true": gt,
        "× 0.5": 0.5 * gt,
        "× 2": 2.0 * gt,
        "1 m": np.ones_like(gt),
        "20 m": np.full_like(gt, 20.0),
    }
    rot = euler_to_matrix(sample["sparse"].astype(np.float64))
    inner = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    out = {}
    for name, depth in hypotheses.items():
        points = unproject(pixels, depth, intr)
        err = []
        for k in range(1, t):
            uv = project_pivot(points, rot[k], pivot_m, intr).reshape(h, w, 2).astype(np.float32)
            warped = cv2.remap(grey[k], uv[..., 0], uv[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            err.append(np.abs(warped - grey[0])[inner].mean())
        out[name] = float(np.mean(err))
    out["identity"] = float(np.mean([np.abs(grey[k] - grey[0])[inner].mean() for k in range(1, t)]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=8)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = p.parse_args()
    t0 = time.perf_counter()
    rows = {}
    for shake, scale in SHAKES:
        cfg = BlurDataConfig(shake=shake, shake_scale=scale)
        per_clip = []
        for i in tqdm(range(a.scenes), desc=f"{shake} × {scale:g}"):
            s = sample_from_clip(*procedural_clip(EVAL_SEED_BASE + i, cfg))
            per_clip.append(residuals(s, cfg.pivot_m))
        mean = {k: float(np.mean([c[k] for c in per_clip])) for k in per_clip[0]}
        # per clip, how much worse each wrong depth fits than the truth (relative), then the median
        worse = {k: float(np.median([c[k] / c["true"] - 1.0 for c in per_clip])) for k in DEPTHS[1:]}
        rows[f"{shake} × {scale:g}"] = {"mean_residual": mean, "median_excess_over_true": worse}
    result = {"scenes": a.scenes, "seeds": f"{EVAL_SEED_BASE} + [0, {a.scenes})", "rows": rows,
              "seconds": time.perf_counter() - t0}  # fmt: skip
    lines = [
        f"Photometric residual of the known motion (solver angles, pivot model) at true and wrong depths; "
        f"{a.scenes} held-out procedural clips per shake, 12 frames at 224 px, grey levels in [0, 1]. "
        "Excess: how much worse than the true depth a wrong depth fits (median over clips).",
        "",
        "| shake | identity | true depth | " + " | ".join(f"excess {d}" for d in DEPTHS[1:]) + " |",
        "|---|---:|---:|" + "---:|" * (len(DEPTHS) - 1),
    ]
    for name, r in rows.items():
        m, x = r["mean_residual"], r["median_excess_over_true"]
        cells = " | ".join(f"{100 * x[d]:+.1f} %" for d in DEPTHS[1:])
        lines.append(f"| {name} | {m['identity']:.4f} | {m['true']:.4f} | {cells} |")
    j, md = write_json_and_markdown(Path(a.out) / "multiframe_signal.json", result, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {j} and {md} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
