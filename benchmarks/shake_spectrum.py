"""Shake-spectrum benchmark: does ``motiondepth run`` measure how much the camera shakes per frequency band?

Clips: those of ``benchmarks/pipeline.py``. Each real RGB-D pair from ``../shared/real-data`` is
shaken by a real phone gyro log at handheld amplitude, from several start offsets, and rendered as
the ``phone`` preset. That is 30 frames at 16.1 fps, so the per-frame Nyquist frequency is 8 Hz.
``motiondepth.run`` sees the video alone, with the true intrinsics and no depth.

For each clip, the RMS rotation per frequency band (:mod:`motiondepth.eval.spectrum`, all axes
together) is computed from:
- the simulator's ground truth: the dense trajectory at 30 samples per frame (``truth``) and the
  per-frame means (``truth, per frame``: what per-frame sampling keeps of the motion at best);
- the run's per-frame solve;
- its dense trajectory (decoder, 15 samples per frame);
- with ``--gyro-runs``: the dense trajectory of the run given the clip's gyro log;
- with ``--blur-fit``: the dense trajectory of the ``--blur-fit`` run (1–2 min per clip).

Each of these is scored by its ratio to ``truth`` per band. The tables give the median ratio over the
clips and the median of |log₂ ratio| (0 = exact, 1 = a factor of 2).

The dense trajectory is also scored as a path, beside the decoder's per-frame pieces before
``run`` joins them into one continuous path (``trajectory.continuous``; the pieces are decoded again
here with ``continuous=False``): RMS error against the truth at 15 samples per frame, and the median
step between consecutive samples across a frame boundary over the median step inside a frame (the
truth's own ratio is given: it is not exactly 1). These clips were never used to choose that method.

    python benchmarks/shake_spectrum.py                    # ≈ 2 min on 2 cores (9 default runs)
    python benchmarks/shake_spectrum.py --work /tmp/pipe --gyro-runs --blur-fit   # reuses pipeline.py's runs there
"""

from __future__ import annotations

import argparse
import functools
import platform
import tempfile
from pathlib import Path

import numpy as np

from motiondepth.depth.blur import BlurPredictor
from motiondepth.eval.spectrum import ARCMIN_PER_RAD, DEFAULT_BANDS_HZ, angle_spectrum, dense_spectrum
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.sensor.trace import span_times
from motiondepth.trajectory.continuous import boundary_steps, seam_ratio
from motiondepth.workflow import RunConfig, run
from pipeline import GYRO, GYRO_SCALE, REAL, RESULTS, _variants, gyro_starts, make_clip, present_pairs, run_flags

# what 1.8 s at 16.1 fps can show: from 2 Hz up to the dense trajectory's reach (one cycle per frame)
BANDS = tuple(b for b in DEFAULT_BANDS_HZ if b[0] >= 2.0 and b[1] <= 12.0) + ((12.0, 16.0),)


def _bands(spectrum) -> list[float | None]:
    out = []
    for lo, hi in BANDS:
        e = spectrum.band(lo, hi)
        out.append(e["rms_arcmin"]["total"] if "rms_arcmin" in e else None)
    return out


def clip_row(pair, start: float, work: Path, variants: list[str]) -> dict:
    name = pair[0]
    clip, gt = make_clip(pair, start, work / f"{name}-{start:g}")
    video = gt["video"]
    span = video.camera.frame_span_s
    series = {
        "truth": angle_spectrum(video.dense[30].reshape(-1, 3), span_times(video.timestamps, span, 30).reshape(-1)),
        "truth, per frame": angle_spectrum(video.trajectory, video.timestamps),
    }
    runs = _variants(clip)
    path = {}
    for variant in variants:
        suffix, opts = runs[variant]
        res = run(clip, work / f"run{suffix}-{name}-{start:g}", **opts, **run_flags(gt))
        label = {"network": "", "network_gyro": ", gyro", "network_blurfit": ", blur fit"}[variant]
        if variant == "network":
            series["run: per frame"] = angle_spectrum(res.trajectory.angles, res.clip.times)
        times = span_times(res.clip.times, res.clip.interval_s, res.trajectory.dense.shape[1])
        series[f"run{label}: dense"] = dense_spectrum(res.trajectory.dense, times)
        if variant == "network":
            s = res.trajectory.dense.shape[1]
            pieces = _predictor().dense_trajectory(
                res.clip.frames, res.trajectory.angles, res.intrinsics.fx, s, continuous=False
            )
            series["run: dense, pieces"] = dense_spectrum(pieces, times)
            for key, dense in (
                ("truth", video.dense[s]),
                ("run: dense", res.trajectory.dense),
                ("run: dense, pieces", pieces),
            ):
                across, within = boundary_steps(dense)
                err = np.sqrt(np.nanmean((dense - video.dense[s]) ** 2)) * ARCMIN_PER_RAD
                path[key] = {
                    "rmse_arcmin": float(err),
                    "seam_local": seam_ratio(dense),
                    "seam_ratio": float(np.median(across) / np.median(within)),
                    "seam_max_ratio": float(across.max() / within.max()),
                }
    return {"pair": name, "gyro_start_s": start, "rms_arcmin": {k: _bands(s) for k, s in series.items()}, "path": path}


@functools.cache
def _predictor() -> BlurPredictor:
    """run's depth network and dense decoder, loaded once for every clip's pieces."""
    cfg = RunConfig()
    return BlurPredictor(cfg.depth_checkpoint, cfg.trajectory_checkpoint)


def summarize(rows: list[dict]) -> dict:
    """Per series and band: median ratio to the truth and median |log2 ratio| over the clips."""
    out = {}
    truth = np.array([r["rms_arcmin"]["truth"] for r in rows])
    for name in rows[0]["rms_arcmin"]:
        if name == "truth":
            continue
        est = np.array([[np.nan if v is None else v for v in r["rms_arcmin"][name]] for r in rows])
        cols = [(c, not np.isnan(c).all()) for c in (est / truth).T]
        out[name] = {
            "median_ratio": [float(np.nanmedian(c)) if ok else None for c, ok in cols],
            "median_abs_log2": [float(np.nanmedian(np.abs(np.log2(c)))) if ok else None for c, ok in cols],
        }
    out["truth_rms_arcmin_median"] = [float(v) for v in np.median(truth, 0)]
    out["path"] = {
        key: {
            m: {"median": float(np.median(v)), "worst": float(np.max(v))}
            for m, v in ((m, [r["path"][key][m] for r in rows]) for m in rows[0]["path"][key])
        }
        for key in rows[0]["path"]
    }
    return out


def markdown(result: dict) -> str:
    s = result["summary"]
    head = "| series | " + " | ".join(f"{lo:g}–{hi:g} Hz" for lo, hi in BANDS) + " |"
    rule = "|---|" + "---:|" * len(BANDS)
    fmt = lambda v, f: "—" if v is None else format(v, f)
    lines = [
        f"RMS rotation per frequency band, all axes, on the {len(result['clips'])} clips of the pipeline benchmark "
        f"(real RGB-D pairs shaken by a real phone gyro log × {GYRO_SCALE}, phone preset: 30 frames at 16.1 fps, "
        "per-frame Nyquist 8 Hz). Video alone unless the row says otherwise; — where a series cannot resolve the band.",
        "",
        "Median ratio to the truth (1 = exact):",
        "",
        head,
        rule,
        "| truth, median RMS (arcmin) | " + " | ".join(f"{v:.2f}" for v in s["truth_rms_arcmin_median"]) + " |",
    ]
    for name, m in s.items():
        if name not in ("truth_rms_arcmin_median", "path"):
            lines.append(f"| {name} | " + " | ".join(fmt(v, ".2f") for v in m["median_ratio"]) + " |")
    lines += ["", "Median |log₂ ratio| to the truth (0 = exact, 1 = off by a factor of 2):", "", head, rule]
    for name, m in s.items():
        if name not in ("truth_rms_arcmin_median", "path"):
            lines.append(f"| {name} | " + " | ".join(fmt(v, ".2f") for v in m["median_abs_log2"]) + " |")
    lines += [
        "",
        "The dense trajectory as a path, 15 samples per frame (median over the clips / worst clip): RMS error against "
        "the truth; the step across a frame boundary over the mean of the two steps beside it (median over the "
        "boundaries); over the median step inside a frame; and the largest across over the largest inside:",
        "",
        "| path | RMS error (arcmin) | across / beside | across / within, median | across / within, largest |",
        "|---|---:|---:|---:|---:|",
    ]
    keys = ("rmse_arcmin", "seam_local", "seam_ratio", "seam_max_ratio")
    for key, m in s["path"].items():
        cells = [f"{m[k]['median']:.2f} / {m[k]['worst']:.2f}" for k in keys]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", "Per clip, RMS arcmin per band (truth / run: per frame / run: dense):", ""]
    lines += ["| clip | gyro start | " + " | ".join(f"{lo:g}–{hi:g} Hz" for lo, hi in BANDS) + " |",
              "|---|---:|" + "---|" * len(BANDS)]  # fmt: skip
    for r in result["clips"]:
        t, f, d = (r["rms_arcmin"][k] for k in ("truth", "run: per frame", "run: dense"))
        cells = [f"{a:.1f} / {fmt(b, '.1f')} / {c:.1f}" for a, b, c in zip(t, f, d, strict=True)]
        lines.append(f"| {r['pair']} | {r['gyro_start_s']:g} s | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--offsets", type=int, default=3, help="gyro start offsets per RGB-D pair")
    ap.add_argument("--work", help="keep clips and runs here (pipeline.py's --work folder is reused as is)")
    ap.add_argument("--gyro-runs", action="store_true", help="add the dense trajectory of the runs given the gyro log")
    ap.add_argument("--blur-fit", action="store_true", help="add the dense trajectory of the --blur-fit runs (slow)")
    ap.add_argument("--out", default=str(RESULTS / "shake_spectrum.json"))
    a = ap.parse_args()
    variants = ["network"] + ["network_gyro"] * a.gyro_runs + ["network_blurfit"] * a.blur_fit
    starts = gyro_starts(a.offsets)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for pair in present_pairs():
            for start in starts:
                rows.append(clip_row(pair, start, work, variants))
                print(
                    pair[0], start, {k: [round(x, 2) if x else x for x in v] for k, v in rows[-1]["rms_arcmin"].items()}
                )
    if not rows:
        raise SystemExit(f"no clips: ../shared/real-data is missing ({REAL})")
    result = {
        "bands_hz": [list(b) for b in BANDS],
        "clips": rows,
        "summary": summarize(rows),
        "setup": {"gyro": GYRO, "gyro_scale": GYRO_SCALE, "starts_s": starts, "machine": platform.platform()},
    }
    md = markdown(result)
    write_json_and_markdown(a.out, result, md)
    print(md)


if __name__ == "__main__":
    main()
