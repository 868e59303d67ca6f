"""Numeric options checked up front: finite, in range, the option named in the message.

A :class:`Range` serves both the command line (the argparse types made by :func:`number`) and the Python
API (:func:`check_number`). :class:`~motiondepth.workflow.RunConfig`'s fields carry theirs in their metadata,
so ``--pivot nan`` and ``run(..., pivot_m=float("nan"))`` fail with the same one-line message before
anything is read or written, instead of running to an all-NaN result. The ranges several commands share
are named here.
"""

from __future__ import annotations

import argparse
import math
import numbers
from dataclasses import dataclass

from motiondepth.errors import InputError

SEED_MAX = 2**32 - 1  # numpy's SeedSequence takes any non-negative int; 32 bits is every seed anyone types


@dataclass(frozen=True)
class Range:
    """Allowed values of one numeric option: ``lo ≤ x ≤ hi`` (``lo < x`` when ``lo_open``), finite, whole
    numbers when ``integer``; ``unit`` is for the message."""

    lo: float | None = None
    hi: float | None = None
    integer: bool = False
    lo_open: bool = False
    unit: str = ""

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        u = f" {self.unit}" if self.unit else ""
        lo_sign = ">" if self.lo_open else "≥"
        if self.lo is not None and self.hi is not None:
            if self.lo_open:
                return f"{kind} > {self.lo:g} and ≤ {self.hi:g}{u}"
            return f"{kind} from {self.lo:g} to {self.hi:g}{u}"
        if self.lo is not None:
            return f"{kind} {lo_sign} {self.lo:g}{u}"
        if self.hi is not None:
            return f"{kind} ≤ {self.hi:g}{u}"
        return f"a finite {kind.split()[-1]}{u}"

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not allowed, or None."""
        bad = f"must be {self.describe()}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return bad
        if not math.isfinite(float(value)):
            return bad
        if self.integer and value != int(value):
            return bad
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return bad
        if self.hi is not None and value > self.hi:
            return bad
        return None


def check_number(value: float | None, option: str, limits: Range) -> None:
    """:class:`InputError` naming ``option`` unless ``value`` is None or allowed by ``limits``."""
    if value is None:
        return
    problem = limits.problem(value)
    if problem:
        raise InputError(option, problem)


AS_WORD = object()  # number(…, auto_value=AS_WORD): the word ``auto`` parses to itself


def number(limits: Range, auto: str | None = None, auto_value: object = AS_WORD):
    """An argparse ``type`` that parses a number and checks it against ``limits``; the word ``auto``, when
    given, becomes ``auto_value`` (default: the word itself). argparse names the option in the one-line error."""

    def parse(text: str):
        if auto is not None and text == auto:
            return auto if auto_value is AS_WORD else auto_value
        try:
            value: float = int(text) if limits.integer else float(text)
        except ValueError:
            want = f"'{auto}' or " if auto else ""
            raise argparse.ArgumentTypeError(f"expected {want}{limits.describe()}, got {text!r}") from None
        problem = limits.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = "number"
    parse.limits = limits  # read by tests that walk every option
    return parse


# ----------------------------------------------------------------------------- shared ranges

PIVOT = Range(0.0, 5.0, unit="m")  # wrist-to-phone is 0.2 m; an arm's length is < 1 m
DEPTH_SCALE = Range(0.0, 100.0, lo_open=True, unit="m per unit")
HFOV = Range(1.0, 179.0, unit="degrees")
READOUT_MS = Range(0.0, 1000.0, unit="ms")
SEED = Range(0, SEED_MAX, integer=True)
SHAKE_SCALE = Range(0.0, 100.0, lo_open=True)
GRID_HALF = Range(1, 64, integer=True)  # 129² = 16 641 points: more is minutes of tracking for no gain
GRID_SIZE = Range(2, 129, integer=True)  # points per side (CoTracker's grid_size), the same limit
FRAME_SPAN_S = Range(0.0, 10.0, unit="s")
TIME_S = Range(-1e12, 1e12, unit="s")  # any clock (Unix time in seconds is 1.7e9)
FOCAL_PX = Range(0.0, 1e6, lo_open=True, unit="px")  # fx, fy
PRINCIPAL_PX = Range(0.0, 1e5, unit="px")  # cx, cy (checked against the frames once they are known)

#: the trackers built in (tracking.base registers them; spelled out here so that building the parser imports
#: no tracker; tests/cli/test_commands.py checks the two agree)
BUILTIN_TRACKERS = ("klt", "klt-chain", "dis")
