"""Foundation benchmark: speed and accuracy of simulate → track → solve, side by side in one run.

Timings are medians over ``--repeats`` runs on the same inputs. Accuracy is scored on seeded
procedural scenes (``--scenes`` per camera preset, seeds 1000…) with the synthetic shake, for the
paper solver, the lsq refinement and the homography baseline, on four kinds of tracks:

- ``klt``: the weight-free tracker, the default;
- ``klt+kernels``: blur-compensated Lucas–Kanade (``track_cross_blur``) with exposure kernels
  from the true rotation trace: what a time-aligned gyroscope log would give;
- ``klt+interp-kernels``: the same with kernels from the rotation interpolated between the lsq
  solution's per-frame angles (a mean-preserving spline);
- ``klt+blur-fit``: the same with kernels from the rotation trace fitted to the video's blur
  (``track_with_blur_fit``): the video alone, no gyro;
- ``exact``: the simulator's tracks (streak centroids), the solver's floor.

Writes ``benchmarks/results/foundation.json`` and ``.md``.

    python benchmarks/foundation.py            # full run (≈ 15 min on 2 cores)
    python benchmarks/foundation.py --quick    # 2 scenes per preset, 3 repeats
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from motiondepth.demo import solve_all
from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.sensor.trace import span_times
from motiondepth.simulate import camera_preset, groundtruth_tracks, load_shake, simulate
from motiondepth.simulate.scene import procedural_rgbd
from motiondepth.tracking import KLTTracker, exposure_kernels, grid_queries, query_grid, track_cross_blur
from motiondepth.tracking.blur_fit import trace_from_frames, track_with_blur_fit
from motiondepth.trajectory import solve_homography, solve_trajectory

METHODS = ("paper", "lsq", "homography")
SEED0 = 1000  # held apart from the demo's seed 0


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def timings(repeats: int) -> dict:
    cam = camera_preset("phone")
    rgbd = procedural_rgbd(cam, SEED0)
    trace = load_shake("synthetic", cam.duration_s, cam.trace_dt_s, seed=SEED0)
    video = simulate(rgbd, cam, trace)
    queries = grid_queries(query_grid(12, (cam.height, cam.width), video.intrinsics))
    tracks = KLTTracker().track(video.frames, queries)
    tr, vis, intr = tracks.tracks, tracks.visible, video.intrinsics
    return {
        "render_procedural_scene_s": _median_time(lambda: procedural_rgbd(cam, SEED0), max(1, repeats // 3)),
        "simulate_30x518x518_phone_s": _median_time(lambda: simulate(rgbd, cam, trace), repeats),
        "klt_625pts_30frames_s": _median_time(lambda: KLTTracker().track(video.frames, queries), repeats),
        "solver_paper_30x625_s": _median_time(
            lambda: solve_trajectory(tr, vis, video.depth, intr, cam.pivot_m, mode="paper"), repeats * 10
        ),
        "solver_lsq_30x625_s": _median_time(
            lambda: solve_trajectory(tr, vis, video.depth, intr, cam.pivot_m, mode="lsq"), repeats * 10
        ),
        "homography_30x625_s": _median_time(lambda: solve_homography(tr, vis, intr), repeats * 10),
    }


def accuracy(num_scenes: int) -> tuple[dict, dict]:
    per_scene: dict[str, list[dict]] = {}
    dense: dict[str, list[dict]] = {}
    blur: dict[str, list[float]] = {}
    fit_s: dict[str, list[float]] = {}
    jobs = [(p, SEED0 + i) for p in ("phone", "telephoto") for i in range(num_scenes)]
    for preset, seed in tqdm(jobs, desc="accuracy"):
        cam = camera_preset(preset)
        video = simulate(
            procedural_rgbd(cam, seed), cam, load_shake("synthetic", cam.duration_s, cam.trace_dt_s, seed=seed)
        )
        blur.setdefault(preset, []).append(float(np.median(video.blur_px)))
        grid = query_grid(12, (cam.height, cam.width), video.intrinsics)
        klt = KLTTracker().track(video.frames, grid_queries(grid))
        depth_m = float(np.median(video.depth[video.depth > 0]))
        estimate = solve_all(klt, video.depth, video.intrinsics, cam.pivot_m)["lsq"][0]
        traces = {
            "klt+kernels": video.trace,
            "klt+interp-kernels": trace_from_frames(estimate.angles, cam.interval_s, cam.trace_dt_s, cam.frame_span_s),
        }
        sources = {"klt": klt}
        for key, trace in traces.items():
            kernels = exposure_kernels(trace, cam, video.intrinsics, video.timestamps, depth_m=depth_m)
            sources[key] = track_cross_blur(video.frames, grid_queries(grid), kernels)
        sources["klt+blur-fit"], fit = track_with_blur_fit(
            video.frames, grid_queries(grid), video.timestamps, video.intrinsics, cam.exposure_s, cam.readout_s,
            cam.pivot_m, depth_m, init=klt, progress=False,
        )  # fmt: skip
        # dense trajectory (S = 15) around the blur-fit tracks' lsq angles: interpolated vs the fitted shape
        best = solve_all(sources["klt+blur-fit"], video.depth, video.intrinsics, cam.pivot_m)["lsq"][0].angles
        starts = video.timestamps - video.timestamps[0]
        spline = trace_from_frames(best, cam.interval_s, cam.trace_dt_s, cam.frame_span_s)
        interp = spline(span_times(starts, cam.frame_span_s, 15))
        for key, d in (("interpolation", interp), ("blur fit", fit.dense(15, best))):
            d = d - d[0].mean(axis=0)  # relative to frame 0's mean, as the ground truth
            m = trajectory_metrics(d, video.dense[15])
            dense.setdefault(f"{preset}/{key}", []).append(m | {"seed": seed})
        fit_s.setdefault(preset, []).append(fit.seconds)
        sources["exact"] = groundtruth_tracks(video, grid)
        for source, tracks in sources.items():
            for name, (traj, _) in solve_all(tracks, video.depth, video.intrinsics, cam.pivot_m).items():
                m = trajectory_metrics(traj.angles, video.trajectory)
                per_scene.setdefault(f"{preset}/{source}/{name}", []).append(m | {"seed": seed})

    def summarise(groups: dict[str, list[dict]]) -> dict:
        keys = ("abs_rel", "e1", "e2", "rmse_arcmin", "rmse_arcmin_roll")
        return {
            key: {k: float(np.mean([r[k] for r in rows])) for k in keys}
            | {"abs_rel_worst": float(np.max([r["abs_rel"] for r in rows])), "scenes": len(rows)}
            for key, rows in groups.items()
        }

    return summarise(per_scene), {
        "per_scene": per_scene,
        "dense_15": summarise(dense),
        "blur_fit_s_median": {k: float(np.median(v)) for k, v in fit_s.items()},
        "blur_px_median": {k: float(np.median(v)) for k, v in blur.items()},
    }


def markdown(result: dict) -> str:
    t = result["timings"]
    lines = [
        f"Foundation benchmark — {result['machine']}, {result['date']}  ",
        f"Command: `{result['command']}`",
        "",
        "| stage | median time |",
        "|---|---|",
        f"| simulate 30 × 518 × 518 (phone) | {t['simulate_30x518x518_phone_s']:.2f} s |",
        f"| render one procedural scene (not part of the simulator) | {t['render_procedural_scene_s']:.2f} s |",
        f"| KLT, 625 points × 30 frames | {t['klt_625pts_30frames_s']:.3f} s |",
        f"| solver, paper mode, 30 × 625 | {1e3 * t['solver_paper_30x625_s']:.2f} ms |",
        f"| solver, lsq mode, 30 × 625 | {1e3 * t['solver_lsq_30x625_s']:.2f} ms |",
        f"| homography baseline, 30 × 625 | {1e3 * t['homography_30x625_s']:.2f} ms |",
        "",
        f"Accuracy: mean over {result['scenes_per_preset']} seeded scenes per preset (seeds {SEED0}…), "
        f"synthetic shake, pivot 0.2 m; AbsRel floor 1 mrad. Median blur streak: "
        + ", ".join(f"{k} {v:.1f} px" for k, v in result["blur_px_median"].items()),
        "",
        "| preset | tracks | method | AbsRel | worst scene | e1 | e2 | RMSE [′] | roll RMSE [′] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, m in result["accuracy"].items():
        preset, source, method = key.split("/")
        lines.append(
            f"| {preset} | {source} | {method} | {m['abs_rel']:.4f} | {m['abs_rel_worst']:.4f} | {m['e1']:.3f} | "
            f"{m['e2']:.3f} | {m['rmse_arcmin']:.3f} | {m['rmse_arcmin_roll']:.3f} |"
        )
    lines += [
        "",
        "Dense trajectory, 15 samples per frame, around the lsq angles of the klt+blur-fit tracks: interpolated "
        "(mean-preserving spline) vs the shape fitted to the blur (`fit_blur_trace`; median time "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result["blur_fit_s_median"].items())
        + ")",
        "",
        "| preset | dense trajectory | AbsRel | worst scene | e1 | RMSE [′] |",
        "|---|---|---|---|---|---|",
    ]
    for key, m in result["dense_15"].items():
        preset, source = key.split("/")
        lines.append(
            f"| {preset} | {source} | {m['abs_rel']:.4f} | {m['abs_rel_worst']:.4f} | {m['e1']:.3f} | "
            f"{m['rmse_arcmin']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", type=int, default=5, help="scenes per camera preset")
    p.add_argument("--repeats", type=int, default=5, help="timing repeats (solvers: 10×)")
    p.add_argument("--quick", action="store_true", help="2 scenes, 3 repeats")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "foundation"), help="output path stem")
    a = p.parse_args()
    if a.quick:
        a.scenes, a.repeats = 2, 3
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "command": f"python benchmarks/foundation.py --scenes {a.scenes} --repeats {a.repeats}",
        "scenes_per_preset": a.scenes,
        "timings": timings(a.repeats),
    }
    result["accuracy"], extra = accuracy(a.scenes)
    result["blur_px_median"] = extra["blur_px_median"]
    result["dense_15"] = extra["dense_15"]
    result["blur_fit_s_median"] = extra["blur_fit_s_median"]
    result["per_scene"] = extra["per_scene"]
    from motiondepth.io.atomic import write_json_and_markdown

    md = markdown(result)
    write_json_and_markdown(Path(a.out).with_suffix(".json"), result, md)
    print(md)


if __name__ == "__main__":
    main()
