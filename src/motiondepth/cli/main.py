"""The ``motiondepth`` command: the parser assembled from the command groups, and the one place that turns
bad input into one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from motiondepth import __version__
from motiondepth.cli.common import Parser
from motiondepth.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    """The ``motiondepth`` parser: each command group registers its own sub-commands, parser beside command."""
    from motiondepth.cli import depth, evaluate, export, gyro, models, run, simulate, tracks

    p = Parser(
        prog="motiondepth",
        description="Metric depth and camera motion from how points move and blur. "
        "Typical flow: simulate (or bring a video) → track → trajectory → eval.",
    )
    p.add_argument("--version", action="version", version=f"motiondepth {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    simulate.add_simulate(sub)
    tracks.add_commands(sub)
    esub = evaluate.add_eval_group(sub)
    simulate.add_demo(sub)
    models.add_commands(sub)
    depth.add_commands(sub)
    evaluate.add_commands(sub, esub)
    run.add_commands(sub)
    gyro.add_commands(sub)
    export.add_commands(sub)
    return p


# what each command writes: single files (checked as files) and folders, by option; checked before any work
_FILE_OUTPUTS = {
    "track": ("out",), "trajectory": ("out",), "depth": ("out",), "track-depth": ("out",), "shake": ("plot", "out"),
    "compare-gyro": ("out",), "eval": ("out",), "export-trajectory": ("out",),
}  # fmt: skip
_FOLDER_OUTPUTS = {"simulate": ("out",), "demo": ("out",), "export-data": ("out",), "predict-tapvid3d": ("out",),
                   "train": ("out",), "run": ("out",)}  # fmt: skip


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path of the command checked (nothing created) before it reads or computes anything."""
    from motiondepth.io.atomic import check_output_file, check_output_folder

    folder_out = args.command == "export-trajectory" and getattr(args, "format", None) == "colmap"  # COLMAP: a folder
    for attr in _FILE_OUTPUTS.get(args.command, ()):
        path = getattr(args, attr, None)
        if path and folder_out:
            check_output_folder(path)
            continue
        if path:
            check_output_file(path)
            if args.command == "depth":  # the colour-mapped PNG beside it
                check_output_file(Path(path).with_suffix(".png"))
    for attr in _FOLDER_OUTPUTS.get(args.command, ()):
        path = getattr(args, attr, None)
        if path:
            check_output_folder(path)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if getattr(args, "overrides", None) is not None:  # key=value settings may follow options
            args.overrides = list(args.overrides) + [x for x in extra if "=" in x and not x.startswith("-")]
            extra = [x for x in extra if x not in args.overrides]
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # a bad option: its one line is printed; --help (code 0) exits as usual
        if exc.code in (0, None):
            raise
        return int(exc.code) if isinstance(exc.code, int) else 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    args.root_parser = parser  # 'models' reads the commands' defaults off it
    try:
        with warnings.catch_warnings():  # Python's own warnings (RuntimeWarning, …) are for developers: -v shows them
            if not args.verbose:
                warnings.simplefilter("ignore")
            _check_outputs(args)
            return args.func(args)
    except InputError as exc:
        print(f"motiondepth: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("motiondepth: interrupted (finished files are complete; 'run' and 'train' resume where they stopped "
              "when given the same command)", file=sys.stderr)  # fmt: skip
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped early (``| head``): not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
