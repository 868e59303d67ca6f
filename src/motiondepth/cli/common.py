"""What several commands share: the one-line-error parser, intrinsics given as text, and common flags."""

from __future__ import annotations

import argparse

from motiondepth import options as opt
from motiondepth.errors import InputError
from motiondepth.options import number

# Mirrors ``seurat.windows.CHAIN_MODES``, spelled out so that building the parser (every command's
# start-up) does not import Seurat; tests/cli/test_commands.py checks the two agree.
CHAIN_CHOICES = ("average", "last")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the option and the problem, then where to read more (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def parse_intrinsics(text: str | None):
    from motiondepth.geometry.camera import Intrinsics

    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError("--intrinsics", f"expected FX,FY,CX,CY in pixels, got {text!r}") from None
    if len(values) != 4:
        raise InputError("--intrinsics", f"expected 4 numbers FX,FY,CX,CY in pixels, got {len(values)}")
    for name, v, limits in zip(
        ("FX", "FY", "CX", "CY"), values, (opt.FOCAL_PX, opt.FOCAL_PX, opt.PRINCIPAL_PX, opt.PRINCIPAL_PX), strict=True
    ):
        problem = limits.problem(v)
        if problem:
            raise InputError("--intrinsics", f"{name} {problem}")
    return Intrinsics.from_array(values)


def add_rolling_shutter_args(parser, readout_help: str) -> None:
    """``--rolling-shutter`` and ``--readout-ms`` (shared by ``run`` and ``trajectory``).

    The choices mirror ``trajectory.optics.ROLLING_SHUTTER_MODES``, spelled out so that building
    the parser does not import the solver.
    """
    parser.add_argument(
        "--rolling-shutter",
        default="prior",
        choices=["prior", "free", "off"],
        help="the solver's rolling-shutter model: per-frame shear rates held back where tracks are noisy and "
        "the lens is long (prior, default), unconstrained (free), or a global shutter (off)",
    )
    parser.add_argument("--readout-ms", type=number(opt.READOUT_MS), default=None, metavar="MS", help=readout_help)


def add_device_argument(parser, what: str = "the network") -> None:
    """``--device`` of the commands that run models (checked by ``errors.check_device``)."""
    parser.add_argument("--device", default="cpu", metavar="DEVICE",
                        help=f"where {what} run(s): cpu (default) or cuda / cuda:N")  # fmt: skip
