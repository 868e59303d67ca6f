"""Combined-pipeline benchmark: ``motiondepth run`` on simulated clips made from real RGB-D pairs
and real gyro logs, scored against the simulator's ground truth, plus end-to-end timing.

Accuracy: each real RGB-D pair in ``../shared/real-data`` (TUM via Open3D's test data, slambook2's
TUM desk pair and its NYU-like room) is shaken by a real phone gyro log (GyroDeblurNet test log,
high-passed at 0.5 Hz and scaled ×0.25 to handheld amplitude, several start offsets), rendered by
the simulator as the ``phone`` preset (30 frames, 518 × 518, rolling shutter, 60 ms exposure) and
written as ``video.mp4``. ``motiondepth.run`` then sees the video alone with the true intrinsics
(no depth): the sparse trajectory is scored with docs/design.md §7 AbsRel (floor 1 mrad) and the first-frame
depth with AbsRel over valid ground truth. Two reference rows isolate the depth network: the same
run given the ground-truth depth (``--depth``), and a constant depth (the network's training median).
One more row adds the clip's gyro log (``gyro.csv`` that ``simulate`` writes: the simulated camera's
ideal gyroscope) with ``--gyro`` and the exposure time: the offset and axes are found automatically
and tracking is blur-compensated (``tracking.gyro_aided``). Another row stays with the video alone but
adds ``--blur-fit`` (``tracking.blur_fit``: the motion inside each exposure fitted to the blur), and
the last one also gives it the scene's true median distance (``--scene-distance``), what a user with a
tape measure could add.

Timing: the ``motiondepth run`` command (a fresh process each time: start-up, model loading and
every step) on a 30-frame 518 × 518 clip, median of ``--repeats``; per-step seconds from its
``config.json``.

    python benchmarks/pipeline.py                 # ≈ 20 min on 2 cores (a third of it the blur-fit runs)
    python benchmarks/pipeline.py --offsets 1 --repeats 1   # quick look
    python benchmarks/pipeline.py --work /tmp/pipe      # keep the runs; rerunning resumes there

``--depth-checkpoint NAME`` repeats the default, gyro and blur-fit runs with another blur-depth
checkpoint (e.g. ``blur-depth-small``; ``run``'s default is ``blur-depth-indoor``), reusing their tracks;
``--depth-model DIR`` adds one with a local metric depth model.

With ``--work DIR`` the clips and runs stay in DIR: an interrupted benchmark, started again with
the same DIR, reuses every finished clip's scores (``row-*.json``) and every cached run step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from motiondepth.eval.depth_metrics import depth_metrics
from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.geometry.camera import Intrinsics
from motiondepth.io.atomic import save_npz, write_json, write_json_and_markdown
from motiondepth.models.weights import describe
from motiondepth.simulate import camera_preset, load_shake, simulate
from motiondepth.simulate.scene import rgbd_from_files, write_simulation
from motiondepth.workflow import RunConfig, run, solve_rotation, solver_config

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data"
RESULTS = Path(__file__).resolve().parent / "results"
# (name, colour, depth, metres per unit, intrinsics of the pair)
PAIRS = [
    (
        "tum-open3d",
        "rgbd-open3d-testdata/TUM_color.png",
        "rgbd-open3d-testdata/TUM_depth.png",
        1 / 5000,
        (525.0, 525.0, 319.5, 239.5),
    ),
    (
        "tum-slambook-desk",
        "rgbd-slambook2/ch7_tum/1.png",
        "rgbd-slambook2/ch7_tum/1_depth.png",
        1 / 5000,
        (520.9, 521.0, 325.1, 249.7),
    ),
    (
        "nyu-like-slambook",
        "rgbd-slambook2/ch5_rgbd/color/1.png",
        "rgbd-slambook2/ch5_rgbd/depth/1.pgm",
        1e-3,
        (518.0, 519.0, 325.5, 253.5),
    ),
]
GYRO = "gyro-gyrodeblurnet/gyro_test.txt"
GYRO_SCALE, GYRO_HIGHPASS_HZ = 0.25, 0.5
CONSTANT_DEPTH_M = 2.5  # median depth of the procedural training data (blur-depth-small), for the constant row


def gyro_starts(offsets: int) -> list[float]:
    """Where in the gyro log a pair's clips start, seconds: 10, 17, 24, … (``offsets`` of them)."""
    return [10.0 + 7.0 * i for i in range(offsets)]


def present_pairs() -> list:
    """The :data:`PAIRS` whose images are in ``../shared/real-data``; the others are named and skipped."""
    present = []
    for pair in PAIRS:
        if (REAL / pair[1]).is_file():
            present.append(pair)
        else:
            print(f"skip {pair[0]}: {REAL / pair[1]} missing")
    return present


def make_clip(pair, start_s: float, out: Path) -> tuple[Path, dict]:
    _, rgb, depth, scale, k = pair
    cam = camera_preset("phone")
    rgbd = rgbd_from_files(REAL / rgb, REAL / depth, cam, scale, Intrinsics(*k))
    trace = load_shake(
        REAL / GYRO, cam.duration_s, cam.trace_dt_s, scale=GYRO_SCALE, highpass_hz=GYRO_HIGHPASS_HZ, start_s=start_s
    )
    video = simulate(rgbd, cam, trace)
    if not _holds_clip(out, video.frames):
        write_simulation(video, out)
    gt = {"trajectory": video.trajectory, "depth": video.depth, "intrinsics": video.intrinsics, "video": video}
    return out / "video.mp4", gt


def _holds_clip(folder: Path, frames: np.ndarray) -> bool:
    """Whether ``folder`` already holds a simulation with these frames (then it is left untouched, so
    the cached runs of its video stay valid: their keys include the video's modification time)."""
    try:
        with np.load(folder / "frames.npz") as f:
            return (folder / "video.mp4").is_file() and np.array_equal(f["frames"], frames)
    except (OSError, KeyError, ValueError):
        return False


def score(res, gt) -> dict:
    m = trajectory_metrics(res.trajectory.angles, gt["trajectory"])
    d = depth_metrics(res.depth, gt["depth"])
    return {
        "sparse_abs_rel": m["abs_rel"],
        "sparse_rmse_arcmin": m["rmse_arcmin"],
        "depth_abs_rel": d["abs_rel"],
        "depth_delta1": d["delta1"],
        "residual_px": float(np.nanmedian(res.trajectory.residual_px[1:])),
    }


def accuracy(
    offsets: list[float], work: Path, depth_model: str | None = None, depth_checkpoint: str | None = None
) -> list[dict]:
    rows = []
    # a checkpoint retrained under the same name is told apart by its weights' hash (read once here)
    ckpt_id = (depth_checkpoint, _weights_sha256(depth_checkpoint)) if depth_checkpoint else None
    for pair in present_pairs():
        for start in offsets:
            done = work / f"row-{pair[0]}-{start:g}.json"
            # a row finished by an earlier, interrupted invocation with the same --work: only missing columns
            row = json.loads(done.read_text()) if done.is_file() else None
            want_model = depth_model and (row or {}).get("depth_model", {}).get("dir") != depth_model
            done_ckpt = {
                tuple((row or {}).get(key, {}).get(k) for k in ("checkpoint", "weights_sha256"))
                for _, key in CHECKPOINT_VARIANTS.values()
            }
            want_ckpt = ckpt_id is not None and done_ckpt != {ckpt_id}
            # a row from before the fit+GT / fit+dist columns existed (its runs are cached)
            want_fit_gt = row is not None and "blurfit_gt_depth" not in row
            want_distance = row is not None and "network_blurfit_distance" not in row
            if row is not None and not (want_model or want_ckpt or want_fit_gt or want_distance):
                rows.append(row)
                print(f"reuse {done}")
                continue
            clip, gt = make_clip(pair, start, work / f"{pair[0]}-{start:g}")
            if row is None:
                row = _base_row(pair[0], start, clip, gt, work)
            if want_fit_gt:
                row["blurfit_gt_depth"] = _blurfit_gt_depth_row(_blurfit_run(clip, gt, work, pair[0], start), gt)
            if want_distance:
                row["network_blurfit_distance"] = _distance_row(clip, gt, work, pair[0], start)
            if want_model:
                row["depth_model"] = _depth_model_row(clip, gt, work / f"run-m-{pair[0]}-{start:g}", depth_model)
            if want_ckpt:
                row |= _checkpoint_rows(clip, gt, work, pair[0], start, *ckpt_id)
            print(json.dumps(row))
            write_json(done, row)
            rows.append(row)
    return rows


def _base_row(name: str, start: float, clip: Path, gt: dict, work: Path) -> dict:
    """Every standard column of one clip (runs cached in ``work``)."""
    flags = run_flags(gt)
    row = {
        "pair": name,
        "gyro_start_s": start,
        "gt_peak_arcmin": float(np.abs(gt["trajectory"]).max() * 180 / np.pi * 60),
    }
    results = {
        v: run(clip, work / f"run{sfx}-{name}-{start:g}", **opts, **flags) for v, (sfx, opts) in _variants(clip).items()
    }
    row |= {v: score(res, gt) for v, res in results.items()}
    row["network_unscaled"] = score(run(clip, work / f"run-u-{name}-{start:g}", depth_rescale="none", **flags), gt)
    gt_depth = work / f"gtdepth-{name}-{start:g}.npz"
    save_npz(gt_depth, depth=gt["depth"])
    row["gt_depth"] = score(run(clip, work / f"run-gt-{name}-{start:g}", depth=str(gt_depth), **flags), gt)
    row["blurfit_gt_depth"] = _blurfit_gt_depth_row(results["network_blurfit"], gt)
    row["network_blurfit_distance"] = _distance_row(clip, gt, work, name, start)
    const = work / f"const-{name}-{start:g}.npz"
    save_npz(const, depth=np.full_like(gt["depth"], CONSTANT_DEPTH_M))
    row["constant_depth"] = score(run(clip, work / f"run-c-{name}-{start:g}", depth=str(const), **flags), gt)
    return row


def run_flags(gt) -> dict:
    """``motiondepth.run`` options of a benchmark clip: its true intrinsics, no progress bars."""
    k = gt["intrinsics"]
    return {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy, "progress": False}


def _blurfit_run(clip: Path, gt: dict, work: Path, name: str, start: float):
    """The video alone with ``--blur-fit`` (cached in ``work``)."""
    suffix, opts = _variants(clip)["network_blurfit"]
    return run(clip, work / f"run{suffix}-{name}-{start:g}", **opts, **run_flags(gt))


def _blurfit_gt_depth_row(res, gt: dict) -> dict:
    """The blur-fit run's tracks solved with the true first-frame depth (what a perfect depth map would add).

    Same solver as ``run``'s trajectory step (its default settings, through the same helper).
    """
    cfg = RunConfig()
    traj = solve_rotation(res.tracks, gt["depth"], res.intrinsics, cfg.pivot_m, res.clip.times,
                          solver_config(cfg, res.clip))  # fmt: skip
    m = trajectory_metrics(traj.angles, gt["trajectory"])
    return {"sparse_abs_rel": m["abs_rel"], "sparse_rmse_arcmin": m["rmse_arcmin"]}


def _distance_row(clip: Path, gt: dict, work: Path, name: str, start: float) -> dict:
    """The blur-fit run told the scene's true median distance (``--scene-distance``), as a user with a tape
    measure would; its tracks are the blur-fit run's. ``scale``: the factor the distance applied to the usual map."""
    suffix, opts = _variants(clip)["network_blurfit"]
    folder = work / f"run{suffix}d-{name}-{start:g}"
    _share_tracks(work / f"run{suffix}-{name}-{start:g}", folder)
    distance = float(np.median(gt["depth"][gt["depth"] > 0]))
    res = run(clip, folder, scene_distance_m=distance, **opts, **run_flags(gt))
    return score(res, gt) | {"scene_distance_m": distance, "scale": res.summary["depth_m"]["rescale"]["distance_scale"]}


def _depth_model_row(clip: Path, gt: dict, out: Path, depth_model: str) -> dict:
    """The video alone with a user's metric depth model for frame 0 (``--depth-model``, its own scale)."""
    res = run(clip, out, depth_model=depth_model, depth_rescale="none", **run_flags(gt))
    return score(res, gt) | {"dir": depth_model}


def _variants(clip: Path) -> dict[str, tuple[str, dict]]:
    """The runs of a clip that differ in tracking: row key -> (run folder suffix, options besides ``run_flags``).

    ``gyro``: the simulated camera's gyro (``simulate`` writes ``gyro.csv``), aligned automatically; exposure
    given, readout not (as a user typically knows one and not the other). ``blurfit``: the video alone with
    the motion inside each exposure fitted to the blur.
    """
    exposure_ms = 1e3 * camera_preset("phone").exposure_s
    return {
        "network": ("", {}),
        "network_gyro": ("-g", {"gyro": str(clip.parent / "gyro.csv"), "exposure_ms": exposure_ms}),
        "network_blurfit": ("-b", {"blur_fit": True, "exposure_ms": exposure_ms}),
    }


# the --depth-checkpoint runs: variant -> (short label, row key)
CHECKPOINT_VARIANTS = {
    "network": ("net", "depth_checkpoint"),
    "network_gyro": ("gyro", "depth_checkpoint_gyro"),
    "network_blurfit": ("fit", "depth_checkpoint_blurfit"),
}


def _checkpoint_rows(
    clip: Path, gt: dict, work: Path, name: str, start: float, checkpoint: str, weights_sha256: str
) -> dict:
    """The default, gyro and blur-fit runs (video alone) with another blur-depth checkpoint
    (``weights_sha256``: its :func:`_weights_sha256`, recorded with each score).

    Tracking does not depend on the depth network, so each run folder starts with the tracks of the
    matching standard run (:func:`_share_tracks`); ``run`` checks their cache key before using them.
    """
    out = {}
    for variant, (suffix, opts) in _variants(clip).items():
        # named by the weights' hash: flat for a name or any path, and new weights get new folders
        folder = work / f"run{suffix}-k-{weights_sha256}-{name}-{start:g}"
        _share_tracks(work / f"run{suffix}-{name}-{start:g}", folder)
        res = run(clip, folder, depth_checkpoint=checkpoint, **opts, **run_flags(gt))
        out[CHECKPOINT_VARIANTS[variant][1]] = score(res, gt) | {
            "checkpoint": checkpoint,
            "weights_sha256": weights_sha256,
        }
    return out


def _weights_sha256(checkpoint: str) -> str:
    """First 16 hex digits of the SHA-256 of a checkpoint's weights file (shipped name or path)."""
    return describe(checkpoint)["sha256"]


def _share_tracks(src: Path, dst: Path) -> None:
    """Start run folder ``dst`` with the tracks of run folder ``src`` (when ``dst`` is new and ``src`` has them)."""
    if dst.exists() or not (src / "tracks.npz").is_file() or not (src / "config.json").is_file():
        return
    dst.mkdir(parents=True)
    shutil.copy2(src / "tracks.npz", dst / "tracks.npz")
    shutil.copy2(src / "config.json", dst / "config.json")


def timing(repeats: int, work: Path) -> dict:
    cam = camera_preset("phone")
    from motiondepth.simulate.scene import simulate_scene

    sim = work / "timing-sim"
    write_simulation(simulate_scene(cam, scene_seed=1000, shake_seed=1000), sim)
    exe = [sys.executable, "-m", "motiondepth.cli"]
    secs, steps = [], None
    for r in range(repeats):
        out = work / f"timing-run-{r}"
        t0 = time.perf_counter()
        subprocess.run(
            [*exe, "run", str(sim / "video.mp4"), "--out", str(out), "-q", "--hfov", "56"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        secs.append(time.perf_counter() - t0)
        steps = json.loads((out / "config.json").read_text())["timings_s"]
    return {
        "clip": "30 frames 518x518 (phone preset, procedural scene 1000)",
        "repeats": repeats,
        "end_to_end_s_median": float(np.median(secs)),
        "end_to_end_s_all": secs,
        "steps_s_last": steps,
    }


def _extra_table(rows: list[dict], columns: dict[str, str], title: str) -> list[str]:
    """Markdown lines of extra variants (``columns``: label -> row key): per-clip scores and their medians."""
    labels = " / ".join(columns)
    labels = f" {labels}" if labels else ""
    lines = [
        "",
        title,
        "",
        f"| clip | gyro start | sparse AbsRel{labels} | depth AbsRel{labels} | depth δ1{labels} |",
        "|---|---:|---:|---:|---:|",
    ]

    def cell(values) -> str:
        return " / ".join(f"{v:.3f}" for v in values)

    for r in rows:
        lines.append(f"| {r['pair']} | {r['gyro_start_s']:g} s | "
                     + " | ".join(cell(r[k][m] for k in columns.values())
                                  for m in ("sparse_abs_rel", "depth_abs_rel", "depth_delta1")) + " |")  # fmt: skip
    med = [cell(np.median([r[k][m] for r in rows]) for k in columns.values())
           for m in ("sparse_abs_rel", "depth_abs_rel")]  # fmt: skip
    lines.append(f"| **median** | | {med[0]} | {med[1]} | |")
    return lines


def markdown(result: dict) -> str:
    default = result["setup"].get("depth_checkpoint", "the default checkpoint")
    lines = [
        "Sparse trajectory AbsRel and first-frame depth AbsRel per clip. Video alone, depth from: the blur network"
        f" (`{default}`) with its scale corrected by pivot parallax (the default, `net`), the raw network (`raw`), "
        "the ground truth (`GT`) and a constant (`const`). `gyro`: the default plus the clip's gyro log (`--gyro`,"
        " aligned automatically; blur-compensated tracking). `fit`: the default plus `--blur-fit` (video alone: "
        "the motion inside each exposure fitted to the blur, then blur-compensated tracking). `fit+GT`: the `fit` "
        "run's tracks solved with the true depth (what a perfect depth map would give; not a video-alone result). "
        "`fit+dist`: the `fit` run told the scene's true median distance (`--scene-distance`), as a user who "
        "measured it would be.",
        "",
        "| clip | gyro start | peak ′ | sparse AbsRel net / raw / GT / const / **gyro** / **fit** / fit+GT / "
        "fit+dist | depth AbsRel net / raw / const / gyro / fit / fit+dist |",
        "|---|---:|---:|---|---|",
    ]
    for r in result["accuracy"]:
        n, u, g, c, y, b, s = (
            r[k]
            for k in ("network", "network_unscaled", "gt_depth", "constant_depth", "network_gyro", "network_blurfit",
                      "network_blurfit_distance")
        )  # fmt: skip
        lines.append(
            f"| {r['pair']} | {r['gyro_start_s']:g} s | {r['gt_peak_arcmin']:.0f} | {n['sparse_abs_rel']:.3f} / "
            f"{u['sparse_abs_rel']:.3f} / {g['sparse_abs_rel']:.3f} / {c['sparse_abs_rel']:.3f} / "
            f"**{y['sparse_abs_rel']:.3f}** / **{b['sparse_abs_rel']:.3f}** / "
            f"{r['blurfit_gt_depth']['sparse_abs_rel']:.3f} / {s['sparse_abs_rel']:.3f} | "
            f"{n['depth_abs_rel']:.3f} / "
            f"{u['depth_abs_rel']:.3f} / {c['depth_abs_rel']:.3f} / {y['depth_abs_rel']:.3f} / "
            f"{b['depth_abs_rel']:.3f} / {s['depth_abs_rel']:.3f} |"
        )
    m = result["median"]
    lines.append(
        f"| **median** | | | {m['sparse_abs_rel_network']:.3f} / {m['sparse_abs_rel_network_unscaled']:.3f} / "
        f"{m['sparse_abs_rel_gt_depth']:.3f} / {m['sparse_abs_rel_constant']:.3f} / "
        f"**{m['sparse_abs_rel_gyro']:.3f}** / **{m['sparse_abs_rel_blurfit']:.3f}** / "
        f"{m['sparse_abs_rel_blurfit_gt_depth']:.3f} / {m['sparse_abs_rel_blurfit_distance']:.3f} | "
        f"{m['depth_abs_rel_network']:.3f} / {m['depth_abs_rel_network_unscaled']:.3f} / "
        f"{m['depth_abs_rel_constant']:.3f} / {m['depth_abs_rel_gyro']:.3f} / {m['depth_abs_rel_blurfit']:.3f} / "
        f"{m['depth_abs_rel_blurfit_distance']:.3f} |"
    )
    model_rows = [r for r in result["accuracy"] if "depth_model" in r]
    if model_rows:
        title = (f"With a metric depth model for frame 0 (`--depth-model {model_rows[0]['depth_model']['dir']}`, "
                 "`--depth-rescale none`), video alone:")  # fmt: skip
        lines += _extra_table(model_rows, {"": "depth_model"}, title)
    ckpt_rows = [r for r in result["accuracy"] if all(k in r for _, k in CHECKPOINT_VARIANTS.values())]
    if ckpt_rows:
        title = (
            f"With depth checkpoint `{ckpt_rows[0]['depth_checkpoint']['checkpoint']}`: the default run (`net`), "
            "with the gyro log (`gyro`) and with `--blur-fit` (`fit`); the tracks are those of the runs above."
        )
        lines += _extra_table(ckpt_rows, dict(CHECKPOINT_VARIANTS.values()), title)
    t = result.get("timing")
    if t:
        steps = ", ".join(f"{k} {v:.2f}" for k, v in t["steps_s_last"].items())
        lines += [
            "",
            f"End to end (`motiondepth run`, fresh process, {t['clip']}): median {t['end_to_end_s_median']:.1f} s "
            f"over {t['repeats']} runs; steps (s): {steps}",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--offsets", type=int, default=3, help="gyro start offsets per RGB-D pair")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats")
    ap.add_argument("--out", default=str(RESULTS / "pipeline.json"))
    ap.add_argument("--work", help="keep clips and runs here (default: a temporary folder); reruns resume")
    ap.add_argument(
        "--depth-model", metavar="DIR", help="also run with this local metric depth model (run --depth-model)"
    )
    ap.add_argument("--depth-checkpoint", metavar="NAME_OR_PATH",
                    help="also run the default, gyro and blur-fit runs with this blur-depth checkpoint "
                         "(run --depth-checkpoint)")  # fmt: skip
    a = ap.parse_args()
    starts = gyro_starts(a.offsets)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = accuracy(starts, work, a.depth_model, a.depth_checkpoint)
        t = timing(a.repeats, work) if a.repeats > 0 else None
    key = lambda variant, m: float(np.median([r[variant][m] for r in rows]))
    default_checkpoint = RunConfig().depth_checkpoint  # what the standard rows ran with
    result = {
        "accuracy": rows,
        "median": {
            "sparse_abs_rel_network": key("network", "sparse_abs_rel"),
            "sparse_abs_rel_network_unscaled": key("network_unscaled", "sparse_abs_rel"),
            "sparse_abs_rel_gt_depth": key("gt_depth", "sparse_abs_rel"),
            "sparse_abs_rel_constant": key("constant_depth", "sparse_abs_rel"),
            "sparse_abs_rel_gyro": key("network_gyro", "sparse_abs_rel"),
            "depth_abs_rel_gyro": key("network_gyro", "depth_abs_rel"),
            "sparse_abs_rel_blurfit": key("network_blurfit", "sparse_abs_rel"),
            "sparse_abs_rel_blurfit_gt_depth": key("blurfit_gt_depth", "sparse_abs_rel"),
            "sparse_abs_rel_blurfit_distance": key("network_blurfit_distance", "sparse_abs_rel"),
            "depth_abs_rel_blurfit_distance": key("network_blurfit_distance", "depth_abs_rel"),
            "depth_abs_rel_blurfit": key("network_blurfit", "depth_abs_rel"),
            "depth_abs_rel_network": key("network", "depth_abs_rel"),
            "depth_abs_rel_network_unscaled": key("network_unscaled", "depth_abs_rel"),
            "depth_abs_rel_constant": key("constant_depth", "depth_abs_rel"),
        }
        | {
            f"{m}_{k}": key(k, m)
            for _, k in CHECKPOINT_VARIANTS.values()
            if all(k in r for r in rows)
            for m in ("sparse_abs_rel", "depth_abs_rel")
        },
        "timing": t,
        "setup": {
            "gyro": GYRO,
            "gyro_scale": GYRO_SCALE,
            "gyro_highpass_hz": GYRO_HIGHPASS_HZ,
            "camera": "phone",
            "depth_checkpoint": default_checkpoint,
            "depth_checkpoint_sha256": _weights_sha256(default_checkpoint),
            "starts_s": starts,
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    md = markdown(result)
    write_json_and_markdown(a.out, result, md)
    print(md)


if __name__ == "__main__":
    main()
