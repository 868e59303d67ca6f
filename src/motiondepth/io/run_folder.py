"""A ``motiondepth run`` output folder, read back: the one reader of its ``config.json`` for every tool that
takes a run folder as input (``export-trajectory``'s TUM, rates, COLMAP and nerfstudio writers).

``config.json`` records the resolved settings, the decoded frames (count, size, source indices, time origin)
and, per cached step, its files with their SHA-256; :meth:`RunFolder.check_files` holds a file to that record, so
that a file cut short or edited since is refused rather than read as if whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from motiondepth.errors import InputError
from motiondepth.io.atomic import file_digest

CONFIG = "config.json"


@dataclass
class RunFolder:
    """What the readers of a run folder need from its ``config.json``."""

    path: Path
    record: dict  # config.json as written
    fx_fy_cx_cy: tuple[float, float, float, float] | None  # the decoded frames' pinhole intrinsics
    size: tuple[int, int] | None  # (H, W) of the decoded frames
    frames: int | None  # how many frames the run kept
    first_index: int  # the first kept frame's number in the source
    stride: int  # --stride
    pivot_m: float | None
    time_origin_s: float  # the first kept frame's time on the source's clock

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Read ``path/config.json``; one :class:`InputError` naming it when it is missing or malformed."""
        from motiondepth.io.camera import read_json_object

        path = Path(path)
        config = path / CONFIG
        if not path.is_dir() or not config.is_file():
            raise InputError(path, f"not a 'motiondepth run' output folder (no {CONFIG})")
        record = read_json_object(config, "run's settings file")
        try:
            inp = record.get("input") or {}
            k = (record.get("intrinsics") or {}).get("fx_fy_cx_cy")
            size = inp.get("size")
            frames = inp.get("frames")
            pivot = record.get("pivot_m")
            return cls(
                path,
                record,
                None if k is None else tuple(float(v) for v in k),
                None if size is None else (int(size[0]), int(size[1])),
                None if frames is None else int(frames),
                int((inp.get("indices") or [0])[0]),
                int((record.get("options") or {}).get("stride") or 1),
                None if pivot is None else float(pivot),
                float(inp.get("time_origin_s") or 0.0),
            )
        except (TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
            raise InputError(config, f"cannot read the run's settings ({exc})") from None

    def check_files(self, *names: str) -> None:
        """The files ``names`` (those present) must be the ones the run wrote: the SHA-256 that ``config.json``
        records for each step's files. A file cut short or edited since (or from another run) is refused."""
        digests: dict[str, str] = {}
        for step in (self.record.get("steps") or {}).values():
            if isinstance(step, dict) and isinstance(step.get("sha256"), dict):
                digests |= {str(k): str(v) for k, v in step["sha256"].items()}
        for name in names:
            file = self.path / name
            if file.is_file() and name in digests and file_digest(file) != digests[name]:
                raise InputError(file, f"is not the file the run wrote (its SHA-256 differs from the one in {CONFIG}): "
                                 "cut short or edited since; run 'motiondepth run' into this folder again")  # fmt: skip

    def check_frame_count(self, name: str, count: int) -> None:
        """``name`` holds ``count`` frames: as many as the run kept."""
        if self.frames is not None and count != self.frames:
            raise InputError(self.path / name, f"holds {count} frames but {CONFIG} says the run had {self.frames}: "
                             "cut short?")  # fmt: skip

    def require(self, what: str) -> tuple[tuple[float, float, float, float], tuple[int, int]]:
        """(intrinsics, (H, W)), which ``what`` (an export) needs; refused when the record lacks them."""
        if self.fx_fy_cx_cy is None or self.size is None:
            raise InputError(self.path / CONFIG, f"{what} needs the run's intrinsics and frame size, which it lacks")
        return self.fx_fy_cx_cy, self.size
