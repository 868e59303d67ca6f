"""The ``run`` command: the whole pipeline, its flags made from :class:`~motiondepth.workflow.RunConfig`."""

from __future__ import annotations

import argparse
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from motiondepth.options import number

if TYPE_CHECKING:  # the workflow is imported when a command runs, not when the parser is built
    from motiondepth.workflow.config import Result


def cmd_run(a: argparse.Namespace) -> int:
    from motiondepth.workflow import RunConfig, clips_in, run, run_batch

    opts = {k: getattr(a, k) for k in RunConfig.__dataclass_fields__ if k != "progress"}
    if a.config:  # a settings file: the flags given here override it
        defaults = {f.name: f.default for f in fields(RunConfig)}
        opts = read_run_options(a.config) | {k: v for k, v in opts.items() if v != defaults[k]}
    t0 = time.perf_counter()
    videos = clips_in(a.video)  # a folder of video files is a batch of them
    if len(videos) > 1 or videos != [Path(v) for v in a.video]:
        batch = run_batch(videos, a.out, progress=not a.quiet, **opts)
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
    res = run(videos[0], a.out, progress=not a.quiet, **opts)
    _print_result(a.video[0], res)
    print(
        f"wrote {res.out_dir}/ (open report.html) in {time.perf_counter() - t0:.1f} s"
        + (f"; reused cached steps: {', '.join(res.cached)}" if res.cached else "")
    )
    return 0


def read_run_options(path: str | Path) -> dict:
    """``run``'s options from a settings file: a run's ``config.json`` (its ``options``, as that run resolved
    them) or a JSON object of :class:`~motiondepth.workflow.RunConfig` fields. Unknown names are refused."""
    import json

    from motiondepth.errors import InputError
    from motiondepth.workflow.config import RunConfig

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "settings file (--config) not found")
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"settings file is not JSON ({exc})") from None
    options = record.get("options", record) if isinstance(record, dict) else None
    if not isinstance(options, dict):
        raise InputError(path, "settings file must hold a JSON object of run options (or a run's config.json)")
    known = {f.name for f in fields(RunConfig)} - {"progress"}
    unknown = sorted(set(options) - known - {"progress"})
    if unknown:
        raise InputError(path, f"unknown run options {unknown} (run --help lists them)")
    return {k: v for k, v in options.items() if k in known}


def _print_result(video: str, res: Result) -> None:
    """The command line's account of one clip's run: motion, shake, depth, tracks and warnings."""
    from motiondepth.depth.interval import likely
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
    print(
        f"  depth (frame 0): {d['p2']:.2f}–{d['p98']:.2f} m, median {d['median']:.2f} m{likely(d['median'], d)} "
        f"({d['source']})"
    )
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
    """Register ``run`` on the top-level sub-parsers."""
    _add_run(sub)


def _add_run(sub) -> None:
    """Register ``run``: the whole pipeline (its flags made from RunConfig, its files from the step table)."""
    from motiondepth.workflow.config import ACCEL_FILES, MOTION_FILES, OUTPUT_FILES

    r = sub.add_parser(
        "run",
        help="the whole pipeline on a video: rotation, dense trajectory, metric depth, depth over time, report",
        description="Turn a short handheld clip into the camera's rotation (per frame and dense), a metric depth "
        f"map of the first frame, per-point depth over time, and a report. Writes to DIR: {', '.join(OUTPUT_FILES)}; "
        f"with the bundle adjustment (--motion other than lsq) also {', '.join(MOTION_FILES)}; with --accel and a "
        f"6-DoF path, {', '.join(ACCEL_FILES)}. Steps already "
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
        "'simulate' output folder; or several of them; a folder of video files runs them all",
    )
    r.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder (created; reused as a cache); for several clips the folder holding one folder per clip",
    )
    add_run_flags(r)
    r.add_argument("--config", metavar="FILE", help="settings from FILE: a run's config.json (its options reproduce "
                   "that run) or a JSON object of options by their Python names (fx, motion, depth_rescale, …); "
                   "flags given here override it (a flag at its default value does not)")  # fmt: skip
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_run)
