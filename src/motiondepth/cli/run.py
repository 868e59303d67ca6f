"""Command-line commands of the combined pipeline: ``run``, ``compare-gyro``, ``shake`` and ``export-trajectory``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from motiondepth import options as opt
from motiondepth.cli.common import add_device_argument, add_rolling_shutter_args
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.options import Range, number, run_option


def cmd_run(a: argparse.Namespace) -> int:
    from motiondepth.workflow import RunConfig, run, run_batch

    opts = {k: getattr(a, k) for k in RunConfig.__dataclass_fields__ if k != "progress"}
    t0 = time.perf_counter()
    if len(a.video) > 1:
        batch = run_batch(a.video, a.out, progress=not a.quiet, **opts)
        for item in batch.items:
            if item.ok:
                _print_result(item.video, item.result)
            else:
                print(f"{item.video}: failed: {item.error}")
        print(
            f"wrote {batch.out_dir}/ (open index.html) in {time.perf_counter() - t0:.1f} s: "
            f"{len(batch.items) - len(batch.failed)} of {len(batch.items)} clips done"
        )
        return 1 if batch.failed else 0
    res = run(a.video[0], a.out, progress=not a.quiet, **opts)
    _print_result(a.video[0], res)
    print(
        f"wrote {res.out_dir}/ (open report.html) in {time.perf_counter() - t0:.1f} s"
        + (f"; reused cached steps: {', '.join(res.cached)}" if res.cached else "")
    )
    return 0


def _print_result(video: str, res) -> None:
    """The command line's account of one clip's run: motion, shake, depth, tracks and warnings."""
    from motiondepth.eval.spectrum import short_text
    from motiondepth.workflow.report import readout_text

    s = res.summary
    print(f"{video}: {s['frames']} frames {s['size'][0]}x{s['size'][1]}, intrinsics: {res.intrinsics_source}")
    print(
        f"  rotation: up to {s['max_rotation_deg']:.3f}° ({s['max_rotation_arcmin']:.1f}′) from frame 0; "
        + ", ".join(f"{ax} {r['peak_to_peak_arcmin']:.1f}′" for ax, r in s["rotation"].items())
        + f" peak to peak; residual {s['residual_px']['median']:.3f} px (median)"
    )
    for name, label in (("dense", "dense trajectory"), ("per_frame", "per frame")):
        if name in s["shake"]:
            print(f"  shake ({label}): {short_text(s['shake'][name])}")
            break
    if s.get("rolling_shutter"):
        print(f"  rolling shutter: {readout_text(s['rolling_shutter'])}")
    d = s["depth_m"]
    print(f"  depth (frame 0): {d['p2']:.2f}–{d['p98']:.2f} m, median {d['median']:.2f} m ({d['source']})")
    print(
        f"  tracks: {100 * s['visible_last_frame']:.0f}% visible in the last frame; depth over time "
        f"{s['tracks3d_depth_m']['p5']:.2f}–{s['tracks3d_depth_m']['p95']:.2f} m"
    )
    gy = s.get("gyro")
    if gy and gy.get("used"):
        print(
            f"  gyro-aided tracking: {gy['file']} at offset {1e3 * gy['offset_s']:+.1f} ms ({gy['offset_source']}), "
            f"axes '{gy['axes']}', rate correlation {gy['rate_correlation']:.3f}"
        )
    bf = s.get("blur_fit")
    if bf:
        print(
            f"  blur-fit tracking: cross-blur loss {bf['loss_start']:.4f} → {bf['loss_end']:.4f} "
            f"({bf['evaluations']} evaluations, {bf['seconds']:.0f} s)"
        )
    for w in res.warnings:
        print(f"  warning: {w}")


def cmd_compare_gyro(a: argparse.Namespace) -> int:
    from motiondepth.eval.gyro import compare_with_gyro, format_comparison
    from motiondepth.io.trajectory import read_trajectory_csv

    traj = read_trajectory_csv(a.trajectory)
    offset = a.offset  # None: auto
    dense = None
    if a.dense:
        from motiondepth.io.trajectory import read_dense_csv

        dense = read_dense_csv(a.dense)
    result = compare_with_gyro(
        traj,
        a.gyro,
        offset_s=offset,
        axes=a.axes,
        time_unit=a.time_unit,
        max_offset_s=a.max_offset,
        span_s=a.frame_span,
        source=a.trajectory,
        dense=dense,
    )
    print(format_comparison(result))
    if a.out:
        from motiondepth.io.atomic import write_json

        write_json(a.out, result)
        print(f"wrote {a.out}")
    return 0


def cmd_shake(a: argparse.Namespace) -> int:
    from motiondepth.eval.spectrum import DEFAULT_BANDS_HZ, file_spectrum, format_band_table, parse_bands

    bands = parse_bands(a.bands) if a.bands else DEFAULT_BANDS_HZ
    # columns labelled by folder/name (the whole path when that is ambiguous)
    labels = [f"{Path(f).parent.name}/{Path(f).name}".lstrip("/") for f in a.inputs]
    if len(set(labels)) < len(labels):
        labels = [str(f) for f in a.inputs]
    spectra = {
        lab: file_spectrum(f, a.start, a.end, a.segment, a.time_unit) for lab, f in zip(labels, a.inputs, strict=True)
    }
    summaries = {name: sp.summary(bands) for name, sp in spectra.items()}
    print(format_band_table(summaries))
    if a.plot:
        from motiondepth.viz.plots import plot_shake_spectrum

        plot_shake_spectrum(a.plot, spectra, bands=bands)
        print(f"wrote {a.plot}")
    if a.out:
        from motiondepth.io.atomic import write_json

        write_json(a.out, {"bands_hz": [list(b) for b in bands], "series": summaries})
        print(f"wrote {a.out}")
    return 0


def cmd_export_trajectory(a: argparse.Namespace) -> int:
    from motiondepth.io.export import export_trajectory

    samples = export_trajectory(a.input, a.out, a.format, not a.per_frame, a.pivot, a.frame_span, a.time_offset)
    t = samples.times
    print(f"wrote {a.out}: {len(t)} samples, {t[0]:.6f}–{t[-1]:.6f} s, from {samples.source}")
    return 0


def add_commands(sub) -> None:
    """Register ``run``, ``compare-gyro``, ``shake`` and ``export-trajectory`` on the top-level sub-parsers."""
    r = sub.add_parser(
        "run",
        help="the whole pipeline on a video: rotation, dense trajectory, metric depth, depth over time, report",
        description="Turn a short handheld clip into the camera's rotation (per frame and dense), a metric depth "
        "map of the first frame, per-point depth over time, and a report. Writes to DIR: tracks.npz, "
        "trajectory.csv, trajectory_dense.csv, depth.npz + depth.png, tracks3d.npz (TAPVid-3D keys), points.ply, "
        "overlay.mp4, stabilized.mp4, trajectory.png, spectrum.png, config.json and report.html. Steps already "
        "finished in DIR with the same settings are reused (an interrupted run resumes); --overwrite recomputes "
        "everything. Intrinsics are in pixels of the source video (before --resize); without any, a 60° "
        "horizontal field of view is assumed "
        "and the report warns. Several clips (filmed with the same camera settings) run one after another, each "
        "into DIR/<its name>/, with summary.csv and index.html in DIR comparing them; a clip that cannot be read "
        "is reported there and the others still run.",
    )
    r.add_argument(
        "video",
        nargs="+",
        metavar="VIDEO",
        help="video file (mp4, mov, mkv, avi, …), a folder of images (png, jpg, …; natural name order) or a "
        "'simulate' output folder; or several of them",
    )
    r.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder (created; reused as a cache); for several clips the folder holding one folder per clip",
    )
    g = r.add_argument_group("frames")
    g.add_argument("--start", type=run_option("start"), default=0, metavar="K", help="first frame (default 0)")
    g.add_argument(
        "--end", type=run_option("end"), default=None, metavar="K", help="stop before frame K (default: all)"
    )
    g.add_argument("--stride", type=run_option("stride"), default=1, metavar="N", help="use every N-th frame")
    g.add_argument(
        "--resize", type=run_option("resize"), default=None, metavar="PX", help="scale so the longer side is PX pixels"
    )
    g.add_argument(
        "--fps",
        type=run_option("fps"),
        default=None,
        metavar="HZ",
        help="frame rate of an image folder; without it, times come from a timestamps.txt beside the images or "
        "from timestamps in the file names (TUM, EuRoC), else 30 fps is assumed and the report warns. Overrides "
        "a video's own times",
    )
    g = r.add_argument_group("camera")
    for k in ("fx", "fy", "cx", "cy"):
        g.add_argument(
            f"--{k}", type=run_option(k), default=None, metavar="PX", help=f"intrinsics {k} in source pixels"
        )
    g.add_argument(
        "--calibration",
        metavar="JSON",
        help="intrinsics file: fx/fy/cx/cy, 'intrinsics', K, Open3D, or a Gyroflow lens profile / .gyroflow project; "
        "lens distortion in it (OpenCV or fisheye coefficients) is removed from the frames first",
    )
    g.add_argument(
        "--hfov",
        type=number(opt.HFOV, auto="auto"),
        default=None,
        metavar="DEG|auto",
        help="horizontal field of view, degrees; 'auto' estimates the focal length from the shake (the image "
        "edges and corners move differently from the centre under rotation; fails over to 60° with a warning "
        "when the motion cannot tell, e.g. below a 25° field of view)",
    )
    g.add_argument(
        "--pivot",
        dest="pivot_m",
        type=run_option("pivot_m"),
        default=0.2,
        metavar="M",
        help="rotation pivot behind the camera, metres (default 0.2, wrist to phone)",
    )
    add_rolling_shutter_args(
        g,
        "sensor readout time of one frame, top row to bottom row, when known: centres the solver's prior, and "
        "stabilized.mp4 takes frame 0's shear out too (without it the readout is estimated from the shear)",
    )
    g = r.add_argument_group(
        "gyroscope",
        "With the clip's gyro log, each frame's blur kernels are known and tracking is blur-compensated "
        "(KLT, then Lucas–Kanade between cross-blurred images): on strongly shaken clips the rotation error "
        "drops several-fold (benchmarks/pipeline.py). The log is aligned with the video automatically.",
    )
    g.add_argument("--gyro", metavar="LOG", help="gyro log: CSV time_s,wx,wy,wz (rad/s), Gyroflow .gcsv, …")
    g.add_argument(
        "--gyro-offset",
        type=run_option("gyro_offset", auto="auto", auto_value=None),
        default=None,
        metavar="auto|S",
        help="gyro time of video time 0, seconds (default auto: cross-correlation of angular rates)",
    )
    g.add_argument(
        "--gyro-axes",
        default="xyz",
        metavar="MAP|auto",
        help="camera axis i = gyro axis MAP[i], capital = negated (e.g. 'yXz'); 'auto' searches all 48",
    )
    g.add_argument(
        "--exposure-ms",
        type=run_option("exposure_ms"),
        default=None,
        metavar="MS",
        help="exposure time of a frame (needed with --gyro or --blur-fit; a 'simulate' folder's camera.json has it)",
    )
    g.add_argument(
        "--blur-fit",
        action="store_true",
        help="no gyro: fit the camera's rotation inside each exposure to the blur itself, then track "
        "blur-compensated (slower: about 30 s for 30 frames at 518 px on 2 cores; helps most on long, strong blur)",
    )
    g = r.add_argument_group("models")
    g.add_argument("--depth", metavar="FILE", help="first-frame depth map to use instead of the blur network")
    g.add_argument(
        "--depth-scale",
        type=run_option("depth_scale"),
        default=None,
        metavar="M",
        help="metres per unit of a 16-bit depth",
    )
    g.add_argument(
        "--depth-rescale",
        default="local",
        choices=["local", "global", "none"],
        help="correct the depth network's metric scale with the tracks' pivot parallax: a smooth field (local, "
        "default), one factor (global), or not (none); not applied to --depth",
    )
    g.add_argument(
        "--scene-distance",
        dest="scene_distance_m",
        type=run_option("scene_distance_m"),
        default=None,
        metavar="M",
        help="median distance to the scene in the first frame, metres, if you know it (a tape measure, a chart's "
        "stand): the depth map, shaped as usual, is scaled to it; the rotation's accuracy depends on this scale most",
    )
    g.add_argument(
        "--grid-half",
        type=run_option("grid_half"),
        default=12,
        metavar="I",
        help="query grid of (2I+1)² points (default 12)",
    )
    g.add_argument("--tracker", default="klt", help="point tracker (default klt)")
    g.add_argument(
        "--dense",
        dest="dense_samples",
        type=int,
        default=15,
        choices=[15, 30],
        help="dense trajectory samples per frame",
    )
    g.add_argument(
        "--stabilize-sigma",
        type=run_option("stabilize_sigma"),
        default=0.5,
        metavar="S",
        help="stabilized.mp4 keeps the camera path smoothed by a Gaussian of S seconds and removes the rest of the "
        "recovered rotation (default 0.5; 0 locks every frame to frame 0's view); each row gets its own rotation "
        "from the solver's rolling-shutter shear (none with --rolling-shutter off)",
    )
    g.add_argument("--depth-checkpoint", default=VIDEO_DEPTH_CHECKPOINT, metavar="NAME_OR_PATH",
                   help=f"blur-depth checkpoint for the first-frame depth (default {VIDEO_DEPTH_CHECKPOINT}, best on "
                   "real indoor footage; blur-depth-small is best on procedural clips)")  # fmt: skip
    g.add_argument("--depth-model", metavar="DIR",
                   help="first-frame depth from a local Hugging Face metric depth model folder (e.g. Depth Anything "
                   "V2 Metric; needs 'transformers'); the blur network still serves the dense trajectory")  # fmt: skip
    g.add_argument("--trajectory-checkpoint", default="trajectory-small", metavar="NAME_OR_PATH")
    g.add_argument("--seurat-checkpoint", default="seurat-small", metavar="NAME_OR_PATH")
    add_device_argument(g, "the networks and the blur fit")
    r.add_argument("--overwrite", action="store_true", help="recompute every step even if cached in DIR")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser(
        "compare-gyro",
        help="compare a recovered trajectory with a gyroscope log",
        description="Align a trajectory CSV (from 'run' or 'trajectory') with a gyroscope log and report the "
        "error. The time offset between the two is found by cross-correlating angular rates (--offset auto) or "
        "given in seconds (gyro time = video time + offset); the gyro's axes are mapped onto the camera's "
        "(x right, y down, z forward) with --axes, or the best of the 48 signed permutations is chosen (auto). "
        "Gyro formats: CSV time,wx,wy,wz (rad/s), Gyroflow .gcsv, and the other logs 'simulate --shake' reads.",
    )
    c.add_argument("trajectory", metavar="TRAJECTORY_CSV")
    c.add_argument("gyro", metavar="GYRO_LOG")
    c.add_argument("--offset", default="auto", type=number(Range(-1e5, 1e5, unit="s"), auto="auto", auto_value=None),
                   metavar="auto|SECONDS", help="gyro time of video time 0")  # fmt: skip
    c.add_argument(
        "--max-offset",
        type=number(Range(0.0, 3600.0, lo_open=True, unit="s")),
        default=2.0,
        metavar="S",
        help="search range of --offset auto (±s)",
    )
    c.add_argument(
        "--axes",
        default="xyz",
        metavar="MAP|auto",
        help="camera axis i = gyro axis MAP[i], capital = negated (e.g. 'yXz'); 'auto' searches",
    )
    c.add_argument(
        "--frame-span",
        type=number(opt.FRAME_SPAN_S),
        default=0.0,
        metavar="S",
        help="exposure + readout time of a frame, from its time_s (the frame start): the gyro is averaged over "
        "it and the offset is the clocks' (default 0: the orientation at time_s; half a span then adds to the offset)",
    )
    c.add_argument("--time-unit", default="auto", choices=["auto", "s", "ms", "us", "ns"])
    c.add_argument(
        "--dense",
        metavar="DENSE_CSV",
        help="a dense trajectory (trajectory_dense.csv from 'run') to add to the shake-per-band table",
    )
    c.add_argument("--out", metavar="JSON", help="also write the comparison as JSON")
    c.set_defaults(func=cmd_compare_gyro)

    k = sub.add_parser(
        "shake",
        help="spectrum of camera shake: RMS rotation per frequency band, from trajectories or gyro logs",
        description="Measure how much the camera turns in each frequency band (Welch PSD of the rotation angle; "
        "RMS angle in arcminutes and RMS angular rate in °/s per band, per axis in --out). Inputs, side by side: "
        "trajectory.csv (per frame), trajectory_dense.csv (S samples per frame, sees the motion inside each "
        "exposure) and gyroscope logs (the formats of compare-gyro). A band is shown only where a series can "
        "resolve it: below its Nyquist frequency and above two cycles per Welch segment. The total over the axes "
        "does not depend on how a gyro's axes map onto the camera's.",
    )
    k.add_argument("inputs", nargs="+", metavar="FILE", help="trajectory CSV, dense trajectory CSV or gyro log")
    k.add_argument(
        "--start", type=number(opt.TIME_S), default=None, metavar="S", help="ignore samples before this time (s)"
    )
    k.add_argument(
        "--end", type=number(opt.TIME_S), default=None, metavar="S", help="ignore samples after this time (s)"
    )
    k.add_argument(
        "--segment",
        type=number(Range(0.0, 1e5, lo_open=True, unit="s")),
        default=None,
        metavar="S",
        help="Welch segment length (default: the whole series up to 4 s; shorter = smoother, coarser bins)",
    )
    k.add_argument(
        "--bands",
        metavar="LO-HI,...",
        help="frequency bands in Hz (default 0.5-2,2-4,4-6,6-9,9-12,12-18,18-30)",
    )
    k.add_argument("--time-unit", default="auto", choices=["auto", "s", "ms", "us", "ns"], help="of gyro logs")
    k.add_argument("--plot", metavar="PNG", help="also draw the spectra and band RMS")
    k.add_argument("--out", metavar="JSON", help="also write every series' band table, per axis, as JSON")
    k.set_defaults(func=cmd_shake)

    x = sub.add_parser(
        "export-trajectory",
        help="write a recovered trajectory as TUM poses (evo) or a gyro-style rate log",
        description="Convert a 'run' folder's trajectory (the dense one when present) or a trajectory CSV. "
        "tum: 'timestamp tx ty tz qx qy qz qw' per sample, camera-to-reference, the camera centre moving on the "
        "sphere of the rotation pivot (the run's --pivot; 0 = pure rotation), times on the input's clock when an "
        "image folder had timestamps, so evo (evo_traj/evo_ape tum) can compare it with a dataset's ground "
        "truth. rates: 'time_s,wx,wy,wz' in rad/s, camera axes (x right, y down, z forward), the body rate "
        "between consecutive samples, as a gyroscope would log it; compare-gyro, shake and simulate --shake "
        "read it.",
    )
    x.add_argument(
        "input", metavar="RUN_DIR_OR_CSV", help="a 'run' output folder, trajectory.csv or trajectory_dense.csv"
    )
    x.add_argument("--format", default="tum", choices=["tum", "rates"], help="output format (default tum)")
    x.add_argument("--out", required=True, metavar="FILE", help="file to write")
    x.add_argument("--per-frame", action="store_true", help="a run folder's per-frame trajectory, not the dense one")
    x.add_argument(
        "--pivot",
        type=number(opt.PIVOT),
        default=None,
        metavar="M",
        help="pivot behind the camera for tum (default: the run's, else 0)",
    )
    x.add_argument(
        "--frame-span",
        type=number(opt.FRAME_SPAN_S),
        default=None,
        metavar="S",
        help="time a per-frame angle integrates, stamped at its middle (default: the frame interval, as in run)",
    )
    x.add_argument(
        "--time-offset", type=number(opt.TIME_S), default=0.0, metavar="S", help="seconds added to every time"
    )
    x.set_defaults(func=cmd_export_trajectory)
