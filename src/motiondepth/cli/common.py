"""What several commands share: the one-line-error parser, the intrinsics flags, deprecated aliases, common flags.

**One vocabulary** (docs/cli.md, *Flag names*): the same thing has the same flag in every command.

- intrinsics: ``--fx --fy --cx --cy`` (pixels) or ``--calibration FILE``; ``--hfov DEG`` where a field
  of view may stand in for them. ``--camera`` names a camera *preset* (``simulate``, ``demo``) only.
- checkpoints: ``--depth-checkpoint`` (blur-depth network), ``--trajectory-checkpoint`` (dense
  decoder), ``--seurat-checkpoint`` (Seurat); ``--depth-model DIR`` for a Hugging Face model.

The old spellings (``--intrinsics FX,FY,CX,CY``, ``--camera FILE``, a bare ``--checkpoint``) still work,
with a deprecation warning on stderr, and are hidden from ``--help`` (each new flag's help names its old one).
"""

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


class _DeprecatedAlias(argparse.Action):
    """An old flag name: stores into the new flag's destination and says so on stderr."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        import sys

        print(f"warning: {option_string} is deprecated and will be removed; use {self.new} (same meaning)",
              file=sys.stderr)  # fmt: skip
        setattr(namespace, self.dest, values)


def add_deprecated_alias(parser, old: str, new: str, dest: str, metavar: str | None = None) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of the option ``new`` (destination ``dest``)."""
    parser.add_argument(old, dest=dest, action=_DeprecatedAlias, new=new, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS, metavar=metavar)  # fmt: skip


def add_intrinsics_args(parser, what: str, calibration: str | None = None) -> None:
    """``--fx --fy --cx --cy`` (pixels, of ``what``), the deprecated ``--intrinsics FX,FY,CX,CY`` and, with
    ``calibration`` (its help text), ``--calibration FILE``; read them back with :func:`intrinsics_from_args`."""
    for name, limits, text in (("fx", opt.FOCAL_PX, "focal length in x"), ("fy", opt.FOCAL_PX, "focal length in y"),
                               ("cx", opt.PRINCIPAL_PX, "principal point x"),
                               ("cy", opt.PRINCIPAL_PX, "principal point y")):  # fmt: skip
        extra = " (all four, or --calibration; --intrinsics FX,FY,CX,CY is the deprecated spelling)"
        parser.add_argument(f"--{name}", type=number(limits), metavar="PX",
                            help=f"{text} of {what}, pixels" + (extra if name == "fx" else ""))  # fmt: skip
    parser.add_argument("--intrinsics", metavar="FX,FY,CX,CY", help=argparse.SUPPRESS)
    if calibration is not None:
        parser.add_argument("--calibration", metavar="FILE", help=calibration + " (was --camera, still accepted)")
        add_deprecated_alias(parser, "--camera", "--calibration", "calibration", "FILE")


def intrinsics_from_args(a: argparse.Namespace):
    """The :class:`~motiondepth.geometry.camera.Intrinsics` of ``--fx --fy --cx --cy`` (or the deprecated
    ``--intrinsics``), None when none is given; :class:`InputError` when only some are."""
    import sys

    from motiondepth.geometry.camera import Intrinsics

    names = ("fx", "fy", "cx", "cy")
    values = {k: getattr(a, k, None) for k in names}
    if getattr(a, "intrinsics", None) is not None:
        print("warning: --intrinsics is deprecated and will be removed; use --fx --fy --cx --cy", file=sys.stderr)
        old = parse_intrinsics(a.intrinsics)
        for k, v in zip(names, old.as_array(), strict=True):
            values[k] = float(v) if values[k] is None else values[k]
    missing = [f"--{k}" for k, v in values.items() if v is None]
    if len(missing) == 4:
        return None
    if missing:
        raise InputError(missing[0], f"give all four of --fx --fy --cx --cy (missing {', '.join(missing)})")
    return Intrinsics(*(values[k] for k in names))


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
                        help=f"where {what} run(s): cpu (default), cuda / cuda:N, or auto (a GPU where torch sees "
                        "one, else the CPU)")  # fmt: skip


def add_frame_range_args(parser) -> None:
    """``--start --end --stride --resize`` with ``run``'s words and limits (its :class:`RunConfig` fields)."""
    from dataclasses import fields

    from motiondepth.workflow.config import RunConfig

    for f in fields(RunConfig):
        if f.name in ("start", "end", "stride", "resize"):
            md = f.metadata
            parser.add_argument(md["option"], type=number(md["limits"]), default=f.default, metavar=md.get("metavar"),
                                help=md["help"])  # fmt: skip
