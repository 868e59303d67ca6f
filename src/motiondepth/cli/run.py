"""Command-line commands of the combined pipeline: ``run``, ``compare-gyro``, ``shake`` and ``export-trajectory``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from motiondepth import options as opt
from motiondepth.options import Range, number


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

    if a.format in ("colmap", "nerfstudio"):
        from motiondepth.io.scene_export import write_colmap, write_nerfstudio

        counts = (write_colmap if a.format == "colmap" else write_nerfstudio)(a.input, a.out)
        what = ", ".join(f"{v} {k}" for k, v in counts.items())
        print(f"wrote {a.out} ({a.format}): {what}")
        return 0
    samples = export_trajectory(a.input, a.out, a.format, not a.per_frame, a.pivot, a.frame_span, a.time_offset)
    t = samples.times
    print(f"wrote {a.out}: {len(t)} samples, {t[0]:.6f}–{t[-1]:.6f} s, from {samples.source}")
    return 0


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`~motiondepth.workflow.RunConfig` field (but ``progress``, which ``-q`` turns off), made
    from the field's metadata: option, help, group, values and default all come from the dataclass."""
    from dataclasses import MISSING, fields

    from motiondepth.workflow.config import RUN_GROUPS, RunConfig

    groups = {name: parser if name == "options" else parser.add_argument_group(name, desc)
              for name, desc in RUN_GROUPS.items()}  # fmt: skip
    for f in fields(RunConfig):
        md = f.metadata
        if "option" not in md:
            continue
        kwargs: dict = {"dest": f.name, "help": md["help"], "default": None if f.default is MISSING else f.default}
        if md["switch"]:
            kwargs["action"] = "store_true"
        else:
            kwargs["metavar"] = md["metavar"]
            if md["limits"] is not None:
                kwargs["type"] = number(md["limits"], md["auto"], md["auto_value"])
            if md["choices"] is not None:
                kwargs["choices"] = md["choices"]
                kinds = {type(c) for c in md["choices"]}
                kwargs["type"] = kinds.pop() if len(kinds) == 1 else None
        groups[md["group"]].add_argument(md["option"], **kwargs)


def add_commands(sub) -> None:
    """Register ``run``, ``compare-gyro``, ``shake`` and ``export-trajectory`` on the top-level sub-parsers."""
    for add in (_add_run, _add_compare_gyro, _add_shake, _add_export_trajectory):
        add(sub)


def _add_run(sub) -> None:
    """Register ``run``: the whole pipeline (its flags made from RunConfig, its files from the step table)."""
    from motiondepth.workflow.config import MOTION_FILES, OUTPUT_FILES

    r = sub.add_parser(
        "run",
        help="the whole pipeline on a video: rotation, dense trajectory, metric depth, depth over time, report",
        description="Turn a short handheld clip into the camera's rotation (per frame and dense), a metric depth "
        f"map of the first frame, per-point depth over time, and a report. Writes to DIR: {', '.join(OUTPUT_FILES)}; "
        f"with the bundle adjustment (--motion other than lsq) also {', '.join(MOTION_FILES)}. Steps already "
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
    add_run_flags(r)
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_run)


def _add_compare_gyro(sub) -> None:
    """Register ``compare-gyro``."""
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
    c.add_argument("--time-unit", default="auto", choices=["auto", "s", "ms", "us", "ns"],
                   help="unit of the gyro log's time column (default auto: from the sample spacing, a gyro "
                   "sampling at 10 Hz–10 kHz)")  # fmt: skip
    c.add_argument(
        "--dense",
        metavar="DENSE_CSV",
        help="a dense trajectory (trajectory_dense.csv from 'run') to add to the shake-per-band table",
    )
    c.add_argument("--out", metavar="JSON", help="also write the comparison as JSON")
    c.set_defaults(func=cmd_compare_gyro)


def _add_shake(sub) -> None:
    """Register ``shake``."""
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
    k.add_argument("--time-unit", default="auto", choices=["auto", "s", "ms", "us", "ns"],
                   help="unit of gyro logs' time column (default auto: from the sample spacing)")  # fmt: skip
    k.add_argument("--plot", metavar="PNG", help="also draw the spectra and band RMS")
    k.add_argument("--out", metavar="JSON", help="also write every series' band table, per axis, as JSON")
    k.set_defaults(func=cmd_shake)


def _add_export_trajectory(sub) -> None:
    """Register ``export-trajectory``."""
    x = sub.add_parser(
        "export-trajectory",
        help="write a recovered trajectory as TUM poses (evo) or a gyro-style rate log",
        description="Convert a 'run' folder's trajectory (the dense one when present) or a trajectory CSV. "
        "tum: 'timestamp tx ty tz qx qy qz qw' per sample, camera-to-reference, the camera centre moving on the "
        "sphere of the rotation pivot (the run's --pivot; 0 = pure rotation), times on the input's clock when an "
        "image folder had timestamps, so evo (evo_traj/evo_ape tum) can compare it with a dataset's ground "
        "truth. rates: 'time_s,wx,wy,wz' in rad/s, camera axes (x right, y down, z forward), the body rate "
        "between consecutive samples, as a gyroscope would log it; compare-gyro, shake and simulate --shake "
        "read it. gcsv: the same rates as a Gyroflow .gcsv gyro log. colmap (a folder: cameras.txt, images.txt, "
        "points3D.txt) and nerfstudio (transforms.json): "
        "a run folder's per-frame cameras and, for colmap, its tracks' 3D points (docs/formats.md).",
    )
    x.add_argument(
        "input", metavar="RUN_DIR_OR_CSV", help="a 'run' output folder, trajectory.csv or trajectory_dense.csv"
    )
    x.add_argument("--format", default="tum", choices=["tum", "rates", "gcsv", "colmap", "nerfstudio"],
                   help="output format (default tum; colmap and nerfstudio need a run folder)")  # fmt: skip
    x.add_argument("--out", required=True, metavar="PATH", help="file to write (colmap: a folder)")
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
