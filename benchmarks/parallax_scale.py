"""Is the common depth scale observable from pivot parallax? Pipeline-benchmark clips, exact vs KLT tracks.

For each clip of ``benchmarks/pipeline.py`` (real RGB-D pair, real gyro log at handheld amplitude,
phone preset), ``motiondepth run`` gives KLT tracks and the raw network depth
(``--depth-rescale none``); the simulator gives exact tracks of the same query points. Two checks:

1. ``pivot_parallax_depths`` started from the network's depths and from the true depths, on both
   kinds of tracks: the median per-point AbsRel of the fitted depths. If the fit found the global
   optimum, the start would not matter.
2. The scale profile: the robust cost (``parallax.fit_cost``, rotations re-solved) of the true
   relative structure multiplied by k, relative to its minimum over k. Flat means unobservable.

    python benchmarks/parallax_scale.py               # 6 clips, ≈ 3 min on 2 cores
    python benchmarks/parallax_scale.py --work /tmp/p # keep the clips and runs (reruns reuse them)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.simulate import camera_preset, groundtruth_tracks
from motiondepth.trajectory.optics import sample_depth
from motiondepth.trajectory.parallax import fit_cost, pivot_parallax_depths
from motiondepth.workflow import run
from pipeline import RESULTS, gyro_starts, make_clip, present_pairs, run_flags

FACTORS = (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8)


def clip_row(pair, start: float, work: Path) -> dict:
    clip, gt = make_clip(pair, start, work / f"{pair[0]}-{start:g}")
    res = run(clip, work / f"run-{pair[0]}-{start:g}", depth_rescale="none", **run_flags(gt))
    pivot, height = camera_preset("phone").pivot_m, res.tracks.image_size[0]
    xy = res.tracks.tracks[0].astype(np.float64)
    exact = groundtruth_tracks(gt["video"], xy)
    true = sample_depth(gt["depth"], xy)
    net = sample_depth(res.depth, xy)
    row = {"clip": f"{pair[0]}-{start:g}"}
    for name, tr in (("klt", res.tracks), ("exact", exact)):
        for start_name, init in (("network", net), ("truth", true)):
            pd = pivot_parallax_depths(tr.tracks, tr.visible, res.intrinsics, pivot, init, image_height=height)
            ok = np.isfinite(pd.depth) & (true > 0)
            row[f"{name}_from_{start_name}"] = float(np.median(np.abs(pd.depth[ok] - true[ok]) / true[ok]))
        cost = np.array([fit_cost(tr.tracks, tr.visible, f * true, res.intrinsics, pivot, height) for f in FACTORS])
        row[f"{name}_profile"] = (cost / cost.min()).tolist()
        row[f"{name}_best_factor"] = FACTORS[int(np.argmin(cost))]
    return row


def markdown(rows: list[dict]) -> str:
    md = [
        "## Pivot-parallax depth: does the fit depend on its start? (median per-point AbsRel)",
        "",
        "| clip | KLT, from network | KLT, from truth | exact, from network | exact, from truth |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        md.append(f"| {r['clip']} | {r['klt_from_network']:.3f} | {r['klt_from_truth']:.3f} | "
                  f"{r['exact_from_network']:.3f} | {r['exact_from_truth']:.3f} |")  # fmt: skip
    md += [
        "",
        "## Scale profile: robust cost of (true relative depths × k) over its minimum",
        "",
        "| clip | tracks | " + " | ".join(f"k={f:g}" for f in FACTORS) + " | best k |",
        "|---|---|" + "---:|" * (len(FACTORS) + 1),
    ]
    for r in rows:
        for name in ("klt", "exact"):
            prof = " | ".join(f"{c:.3f}" for c in r[f"{name}_profile"])
            md.append(f"| {r['clip']} | {name} | {prof} | {r[f'{name}_best_factor']:g} |")
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--offsets", type=int, default=2, help="gyro start offsets per RGB-D pair")
    ap.add_argument("--out", default=str(RESULTS / "parallax_scale.json"))
    ap.add_argument("--work", help="keep clips and runs here (default: a temporary folder)")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for pair in present_pairs():
            for start in gyro_starts(a.offsets):
                rows.append(clip_row(pair, start, work))
                print(rows[-1]["clip"], {k: v for k, v in rows[-1].items() if "from" in k}, flush=True)
    md = markdown(rows)
    write_json_and_markdown(a.out, {"rows": rows, "factors": list(FACTORS)}, md)
    print(md)


if __name__ == "__main__":
    main()
