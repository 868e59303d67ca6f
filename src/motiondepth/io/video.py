"""Video reading (PyAV) and preview writing, plus loading a simulate output directory."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.atomic import atomic_path


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode a video file → frames (T, H, W, 3) uint8 RGB and timestamps (T,) seconds.

    The frames are as stored: a display rotation (a phone's portrait video) is not applied; see
    :func:`load_frames`, which reports it.

    Raises:
        InputError: missing file, undecodable data, or fewer than 2 frames.
    """
    frames, times, _ = _decode(path, max_frames)
    return frames, times


def _decode(path: str | Path, max_frames: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`read_video`'s frames and times, and the counter-clockwise display rotation in degrees (0, 90, 180,
    270) with which players show them: phones store portrait video as landscape frames, in the sensor's row
    order, with a display matrix that turns them upright."""
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video not found")
    frames, times, rotation = [], [], 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(path, "file has no video stream")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                if not frames:
                    rotation = round(getattr(frame, "rotation", 0) or 0) % 360  # display matrix; old PyAV: none
                frames.append(frame.to_ndarray(format="rgb24"))
                t = frame.time if frame.time is not None else len(times) / float(stream.average_rate or 30)
                times.append(t)
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except InputError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(path, f"cannot decode video ({exc.__class__.__name__}: {exc})") from None
    if len(frames) < 2:
        raise InputError(path, f"video has {len(frames)} decodable frame(s); need at least 2")
    ts = np.asarray(times, dtype=np.float64)
    return np.stack(frames), ts - ts[0], rotation


def write_video(path: str | Path, frames: np.ndarray, fps: float = 10.0, rotation_deg: int = 0) -> None:
    """Write frames (T, H, W, 3) uint8 RGB as an H.264 (or MPEG-4) preview, atomically.

    ``rotation_deg``: a display rotation (counter-clockwise) players apply, as in the source video.
    """
    import av

    h, w = frames.shape[1:3]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            try:
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
                stream.options = {"crf": "18", "preset": "veryfast"}
            except (av.error.FFmpegError, ValueError):
                stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height = w + (w % 2), h + (h % 2)  # yuv420 needs even sizes
            stream.pix_fmt = "yuv420p"
            if rotation_deg % 360 and hasattr(stream, "set_display_rotation"):  # old PyAV cannot write one
                stream.set_display_rotation(rotation_deg % 360)
            for f in frames:
                if f.shape[:2] != (stream.height, stream.width):
                    f = np.pad(f, ((0, stream.height - h), (0, stream.width - w), (0, 0)), mode="edge")
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def is_sim_dir(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "frames.npz").is_file()


def load_sim_dir(path: str | Path) -> tuple[np.ndarray, dict]:
    """Frames (T, H, W, 3) and camera.json (or {}) of a ``motiondepth simulate`` output directory."""
    path = Path(path)
    try:
        with np.load(path / "frames.npz") as data:
            frames = data["frames"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(path / "frames.npz", f"cannot read frames ({exc})") from None
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(path / "frames.npz", f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if len(frames) < 2:
        raise InputError(path / "frames.npz", f"has {len(frames)} frame(s); need at least 2")
    camera = {}
    if (path / "camera.json").is_file():
        camera = read_camera_json(path / "camera.json")
    return frames, camera


def read_camera_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "camera file not found")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
TIMESTAMP_FILES = ("timestamps.txt", "times.txt")
# plausible frame intervals, seconds: numbers in names or timestamp files are read in the first unit
# (s, ms, µs, ns) whose median interval falls in this range
_INTERVAL_RANGE_S = (2e-4, 2.0)


def _natural_key(path: Path) -> list:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", path.name)]


def list_images(folder: str | Path) -> list[Path]:
    """Image files of ``folder`` in natural name order (``frame2`` before ``frame10``)."""
    folder = Path(folder)
    return sorted((f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()), key=_natural_key)


def _seconds(values: np.ndarray) -> tuple[np.ndarray, float, str] | None:
    """Numbers in an unknown unit → (seconds from the first, the first in seconds, unit), by the first
    unit with a plausible median interval."""
    steps = np.diff(values)
    if len(values) < 2 or not np.all(steps > 0):
        return None
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if _INTERVAL_RANGE_S[0] <= np.median(steps) * scale <= _INTERVAL_RANGE_S[1]:
            return (values - values[0]) * scale, float(values[0] * scale), unit
    return None


def _timestamp_file_times(path: Path, count: int) -> tuple[np.ndarray, float, str]:
    """First field of every non-comment line of a timestamp file: a number or a date-time (KITTI raw)."""
    from datetime import datetime

    values = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            values.append(float(re.split(r"[\s,]+", line)[0]))
        except ValueError:
            try:  # '2011-09-26 13:02:25.964389445': whole seconds from the date-time, then the fraction
                day, _, frac = line.partition(".")
                stamp = datetime.fromisoformat(day).timestamp()
            except ValueError:
                raise InputError(path, f"cannot read a time from line {line!r}") from None
            values.append(stamp + float("0." + (frac or "0")))
    if len(values) != count:
        raise InputError(path, f"has {len(values)} times for {count} images")
    secs = _seconds(np.asarray(values, dtype=np.float64))
    if secs is None:
        raise InputError(path, "times must increase with a frame interval between 0.2 ms and 2 s")
    return secs[0], secs[1], f"{path.name} ({secs[2]})"


def _frame_counters(stems: np.ndarray) -> bool:
    """Small whole numbers in constant steps (``0000.png``, ``0010.png``, …) count frames, not time."""
    steps = np.diff(stems)
    return bool(np.all(stems == np.round(stems)) and stems[-1] < 1e6 and np.all(steps == steps[0]))


def image_times(folder: Path, images: list[Path], fps: float | None) -> tuple[np.ndarray, float, str]:
    """Frame times (T,) s from the first image, the first image's time on the source's clock (0 if
    none), and where the times came from.

    In order: ``fps`` when given; a ``timestamps.txt`` or ``times.txt`` beside the images (one time
    per image, first field per line: a number in s, ms, µs or ns, or a KITTI-style date-time);
    numbers in the file names when they are timestamps (TUM ``1305031102.175304.png``, EuRoC
    nanoseconds), not frame counters; otherwise 30 fps, and the source says it was assumed.
    """
    n = len(images)
    if fps is not None:
        return np.arange(n) / fps, 0.0, f"--fps {fps:g}"
    for name in TIMESTAMP_FILES:
        if (folder / name).is_file():
            return _timestamp_file_times(folder / name, n)
    try:
        stems = np.array([float(f.stem) for f in images])
    except ValueError:
        stems = None
    if stems is not None and not _frame_counters(stems):
        secs = _seconds(stems)
        if secs is not None:
            return secs[0], secs[1], f"file names ({secs[2]})"
    return np.arange(n) / 30.0, 0.0, "assumed 30 fps (no timestamps; give --fps)"


def read_image_folder(
    folder: str | Path, max_frames: int | None = None, fps: float | None = None
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Frames (T, H, W, 3) uint8 RGB of a folder of images, their times (T,) s from the first, the first's
    time on the source clock (:func:`image_times`) and where the times came from.

    Images are taken in natural name order (see :func:`list_images`); times as :func:`image_times`.

    Raises:
        InputError: no images, an unreadable image, images of different sizes, or fewer than 2.
    """
    folder = Path(folder)
    images = list_images(folder)
    if len(images) < 2:
        raise InputError(folder, f"folder has {len(images)} image(s) ({', '.join(IMAGE_SUFFIXES)}); need at least 2")
    times, origin, source = image_times(folder, images, fps)
    images = images[:max_frames]
    frames = []
    for f in images:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f, "cannot decode image")
        if frames and img.shape != frames[0].shape:
            h, w = frames[0].shape[:2]
            raise InputError(f, f"image is {img.shape[1]}x{img.shape[0]}, the first {w}x{h}; all must match")
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return np.stack(frames), times[: len(frames)], origin, source


def load_frames(
    path: str | Path, max_frames: int | None = None, fps: float | None = None
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Frames of a video file, a folder of images or a ``simulate`` folder.

    Returns:
        ``(frames, times, camera)``: (T, H, W, 3) uint8 RGB, (T,) seconds from the first frame, and
        the ``simulate`` folder's camera.json (else ``{}``) with ``"times_source"`` added: where the
        times came from (the video's timestamps, camera.json, an image folder's names or timestamp
        file, ``--fps``, or an assumed 30 fps); for an image folder also ``"time_origin_s"``, the first
        image's time on the clock of its names or timestamp file (0 without one); for a video file
        shown rotated, ``"display_rotation_deg"`` (counter-clockwise; the frames stay as stored).
    """
    path = Path(path)
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise InputError("--fps", f"must be a positive frame rate, got {fps}")
    if is_sim_dir(path):
        frames, camera = load_sim_dir(path)
        interval = camera.get("frame_interval_s")
        if fps is not None:
            interval, source = 1.0 / fps, f"--fps {fps:g}"
        else:
            source = "camera.json" if interval else "assumed 30 fps (camera.json has no frame_interval_s)"
        times = np.arange(len(frames)) * float(interval or 1.0 / 30)
        return frames[:max_frames], times[:max_frames], {**camera, "times_source": source}
    if path.is_dir():
        if not list_images(path):
            raise InputError(path, "folder has neither images nor frames.npz (a 'motiondepth simulate' output)")
        frames, times, origin, source = read_image_folder(path, max_frames, fps)
        return frames, times, {"times_source": source, "time_origin_s": origin}
    if not path.exists():
        raise InputError(path, "input not found")
    frames, times, rotation = _decode(path, max_frames)
    info = {"display_rotation_deg": rotation} if rotation else {}
    if fps is not None:
        return frames, np.arange(len(frames)) / fps, {"times_source": f"--fps {fps:g}", **info}
    return frames, times, {"times_source": "video timestamps", **info}
