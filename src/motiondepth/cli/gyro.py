"""The gyro and shake commands: ``compare-gyro`` (a recovered trajectory against a gyroscope log) and ``shake``
(RMS rotation per frequency band of trajectories and gyro logs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from motiondepth import options as opt
from motiondepth.options import Range, number


def cmd_compare_gyro(a: argparse.Namespace) -> int:
    from motiondepth.eval.gyro import compare_with_gyro, format_comparison
    from motiondepth.io.trajectory import read_trajectory_csv, trajectory_clock_origin

    traj = read_trajectory_csv(a.trajectory)
    # a run's times start at 0; its frames came on this clock (an image folder's timestamps): the file's clock_s
    # column, or for an older run its folder's config.json
    origin = trajectory_clock_origin(a.trajectory) or _run_time_origin(Path(a.trajectory).parent)
    if origin:
        traj.times = traj.times + origin
        print(f"frame times on the frames' own clock (time origin {origin:.6f} s): a gyro log on that clock needs no "
              "offset")  # fmt: skip
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


def _run_time_origin(folder: Path) -> float:
    """``input.time_origin_s`` of the run folder ``folder`` (0 when it is not one)."""
    from motiondepth.io.run_folder import CONFIG, RunFolder

    return RunFolder.open(folder).time_origin_s if (folder / CONFIG).is_file() else 0.0


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


def add_commands(sub) -> None:
    """Register ``compare-gyro`` and ``shake``."""
    _add_compare_gyro(sub)
    _add_shake(sub)


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
        default="auto",
        metavar="MAP|auto",
        help="camera axis i = gyro axis MAP[i], capital = negated (e.g. 'yXz'); 'auto' (the default, as run's "
        "--gyro-axes) searches the 48 signed permutations",
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
