"""Many clips in one go: :func:`run_batch` runs :func:`~motiondepth.workflow.run` on each clip and tabulates them.

A camera engineer comparing phones, stabiliser settings or operators has a folder of clips, not one.
Each clip gets its own output folder under the batch folder (named after the file, made unique), so
every clip keeps its full report and its step cache: rerunning the batch resumes where it stopped
and recomputes nothing that finished. Beside them the batch writes

- ``summary.csv``: one row per clip (motion, shake, fit, depth, warnings, or the error), for a
  spreadsheet or pandas;
- ``index.html``: the same table with a link to each clip's ``report.html``.

A clip that cannot be read (:class:`~motiondepth.errors.InputError`) is reported in its row and the
others still run; an output that cannot be written (:class:`~motiondepth.errors.OutputError`: disk
full, no permission) stops the batch, as every later clip would fail the same way.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motiondepth.errors import InputError, OutputError
from motiondepth.io.atomic import atomic_path
from motiondepth.workflow.cache import check_output_dir
from motiondepth.workflow.config import Result, Summary
from motiondepth.workflow.runner import run

BATCH_FILES = ("summary.csv", "index.html")  # what run_batch writes beside the clips' folders
PER_CLIP_OPTIONS = ("gyro", "depth", "gyro_offset", "tracks")  # inputs that belong to one clip, refused for several

# summary.csv's columns, in order (units in the names)
COLUMNS = (
    "clip", "video", "status", "frames", "width", "height", "fps", "intrinsics", "max_rotation_arcmin",
    "roll_p2p_arcmin", "pitch_p2p_arcmin", "yaw_p2p_arcmin", "rms_rate_deg_s", "shake_peak_hz", "shake_series",
    "residual_median_px", "visible_last_frame", "depth_p2_m", "depth_median_m", "depth_p98_m",
    "depth_median_low_m", "depth_median_high_m", "warnings",
    "seconds", "error",
)  # fmt: skip


@dataclass
class BatchItem:
    """One clip of a batch: its result, or why it failed."""

    video: str
    folder: str  # its output folder's name, under the batch folder
    result: Result | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass
class BatchResult:
    """What :func:`run_batch` produced: one item per clip, in the order given, and the table files."""

    out_dir: Path
    items: list[BatchItem]
    files: dict[str, Path]

    @property
    def failed(self) -> list[BatchItem]:
        return [it for it in self.items if not it.ok]


def clip_folders(videos: list[str | Path]) -> list[str]:
    """Output folder name of each clip: the file's stem (an image or ``simulate`` folder's own name). Where
    stems repeat (``phone-a/clip.mp4``, ``phone-b/clip.mp4``) the parent folder's name goes in front
    (``phone-a-clip``), and ``-2``, ``-3``… follow any name still taken, so no two clips share a cache."""
    paths = [Path(v) for v in videos]
    stems = [(p.name if p.is_dir() else p.stem) or "clip" for p in paths]
    count = Counter(s.lower() for s in stems)
    names: list[str] = []
    taken: set[str] = set()
    for p, stem in zip(paths, stems, strict=True):
        base = f"{p.parent.name}-{stem}" if count[stem.lower()] > 1 and p.parent.name else stem
        name, k = base, 2
        while name.lower() in taken or name in BATCH_FILES:
            name, k = f"{base}-{k}", k + 1
        taken.add(name.lower())
        names.append(name)
    return names


def clips_in(paths: list[str | Path]) -> list[Path]:
    """The clips ``paths`` name: each as it is, but a folder of video files (no images, not a ``simulate`` folder)
    stands for its videos, in natural name order."""
    from motiondepth.io.video import is_sim_dir, list_images, list_videos

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir() and not is_sim_dir(p) and not list_images(p) and list_videos(p):
            out.extend(list_videos(p))
        else:
            out.append(p)
    return out


def run_batch(videos: list[str | Path], out_dir: str | Path, **options: Any) -> BatchResult:
    """:func:`~motiondepth.workflow.run` on every clip, each into ``out_dir/<name>`` (:func:`clip_folders`),
    then ``summary.csv`` and ``index.html`` in ``out_dir``.

    Args:
        videos: video files, image folders or ``simulate`` folders, all filmed with the same camera
            settings (the intrinsics options apply to all).
        out_dir: the batch folder (created; each clip's folder in it is that clip's step cache).
        **options: fields of :class:`~motiondepth.workflow.RunConfig`, as for ``run``; the per-clip
            inputs ``gyro``, ``gyro_offset``, ``depth`` and ``tracks`` are refused (run such clips one at a time).

    Returns:
        :class:`BatchResult`; a clip that failed on its input has ``error`` set and the batch goes on.

    Raises:
        InputError: no clips, or a per-clip option given.
        OutputError: a file cannot be written (the batch stops; finished clips keep their folders).
    """
    from tqdm.auto import tqdm

    if not videos:
        raise InputError(None, "no clips given")
    for opt in PER_CLIP_OPTIONS:
        if options.get(opt) is not None and not (opt == "gyro" and options[opt] == "embedded"):  # each clip's own
            raise InputError(
                f"--{opt.replace('_', '-')}", f"belongs to one clip; with {len(videos)} clips run them one at a time"
            )
    out = check_output_dir(out_dir)
    progress = options.get("progress", True)
    items = []
    pairs = list(zip(videos, clip_folders(videos), strict=True))
    for video, folder in tqdm(pairs, desc="clips", disable=not progress or len(pairs) < 2):
        t0 = time.perf_counter()
        try:
            res, err = run(video, out / folder, **options), None
        except OutputError:
            raise
        except InputError as exc:
            res, err = None, str(exc)
        items.append(BatchItem(str(video), folder, res, err, time.perf_counter() - t0))
    files = {"summary.csv": out / "summary.csv", "index.html": out / "index.html"}
    rows = [summary_row(it) for it in items]
    with atomic_path(files["summary.csv"]) as tmp:
        tmp.write_text(rows_to_csv(rows), encoding="utf-8")
    from motiondepth.workflow.report import render_batch_index

    with atomic_path(files["index.html"]) as tmp:
        tmp.write_text(render_batch_index(rows), encoding="utf-8")
    return BatchResult(out, items, files)


def _shake(summary: Summary) -> tuple[str, dict]:
    """The shake spectrum a row quotes: the dense trajectory's when it has one (it sees inside each
    exposure), else the per-frame solve's."""
    for name in ("dense", "per_frame"):
        sp = summary.get("shake", {}).get(name, {})
        if "bands" in sp:
            return name, sp
    return "", {}


def summary_row(item: BatchItem) -> dict:
    """One ``summary.csv`` row (:data:`COLUMNS`); numbers rounded for reading, blank where not known."""
    row: dict = dict.fromkeys(COLUMNS, "")
    row |= {"clip": item.folder, "video": item.video, "seconds": round(item.seconds, 1)}
    if not item.ok:
        return row | {"status": "failed", "error": item.error}
    res = item.result
    s = res.summary
    series, shake = _shake(s)
    rot = s["rotation"]
    row |= {
        "status": "ok",
        "frames": s["frames"],
        "width": s["size"][0],
        "height": s["size"][1],
        "fps": round(s["fps"], 3),
        "intrinsics": res.intrinsics_source,
        "max_rotation_arcmin": round(s["max_rotation_arcmin"], 2),
        **{f"{ax}_p2p_arcmin": round(rot[ax]["peak_to_peak_arcmin"], 2) for ax in ("roll", "pitch", "yaw")},
        "residual_median_px": round(s["residual_px"]["median"], 3),
        "visible_last_frame": round(s["visible_last_frame"], 3),
        **{f"depth_{k}_m": round(s["depth_m"][k], 3) for k in ("p2", "median", "p98")},
        **{
            f"depth_median_{k}_m": round(x, 3)
            for k, x in zip(("low", "high"), s["depth_m"].get("median_interval") or (), strict=False)
        },
        "warnings": len(res.warnings),
    }
    if shake:
        peak = shake.get("peak_hz")
        row |= {
            "rms_rate_deg_s": round(shake["rms_rate_deg_s"], 3),
            "shake_peak_hz": "" if peak is None else round(peak, 2),
            "shake_series": series,
        }
    return row


def rows_to_csv(rows: list[dict]) -> str:
    """``summary.csv``'s text; text cells that a spreadsheet would run as a formula are neutralised
    (:func:`spreadsheet_safe`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what Excel, LibreOffice and Google Sheets read as a formula


def spreadsheet_safe(value: object) -> object:
    """A text cell starting like a formula gets a leading apostrophe (OWASP's advice on CSV injection), so a
    crafted clip name or error message is shown, never evaluated; numbers are left as they are.

    Example:
        >>> spreadsheet_safe("=HYPERLINK(1)"), spreadsheet_safe(-0.5), spreadsheet_safe("clip")
        ("'=HYPERLINK(1)", -0.5, 'clip')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
