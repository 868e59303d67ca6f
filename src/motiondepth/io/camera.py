"""Camera files: a ``motiondepth simulate`` folder's ``camera.json`` (any JSON with ``intrinsics`` and ``pivot_m``)."""

from __future__ import annotations

import json
from pathlib import Path

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics


def read_json_object(path: str | Path, what: str = "JSON file") -> dict:
    """A JSON object from ``path``; every failure an :class:`InputError` naming the file and ``what`` it is."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} not found")
    try:
        rec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if not isinstance(rec, dict):
        raise InputError(path, f"a {what} is a JSON object, not a JSON {type(rec).__name__}")
    return rec


def read_camera_json(path: str | Path) -> dict:
    return read_json_object(path, "camera file")


def camera_from_record(rec: dict, source: str | Path) -> tuple[Intrinsics, float, int | None]:
    """(intrinsics, pivot_m, image height) from a camera.json dict."""
    try:
        intr = Intrinsics.from_array(rec["intrinsics"] if "intrinsics" in rec else rec["derived"]["intrinsics"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(source, f"camera file needs 'intrinsics' [fx, fy, cx, cy] and 'pivot_m' ({exc})") from None
    height = rec.get("height")
    return intr, pivot_from_record(rec, source, 0.0), None if height is None else int(height)


def pivot_from_record(rec: dict, source: str | Path, default: float) -> float:
    """A camera file's ``pivot_m`` (``default`` without one), checked like ``--pivot`` with the file named."""
    from motiondepth.geometry.pivot import check_pivot

    pivot = rec.get("pivot_m", default)
    try:
        pivot = float(pivot)
    except (TypeError, ValueError):
        raise InputError(source, f"pivot_m must be a number of metres, got {pivot!r}") from None
    check_pivot(pivot, f"{source} pivot_m")
    return pivot
