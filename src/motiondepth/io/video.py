"""Video reading (PyAV) and preview writing, plus loading a simulate output directory."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.atomic import atomic_path
from motiondepth.io.memory import MEMORY_FRACTION, memory_budget, physical_memory

# a run holds about this many times its decoded frames' bytes at its peak, besides ≈ 0.5 GB of code and models
# (measured with /usr/bin/time on a 16-frame simulate clip: 536 MB peak at 518², 635 MB at 1036², i.e. 2.6 × the
# 39 MB the larger frames added; rounded up for the steps that scale with the frame count)
RUN_BYTES_PER_FRAME_BYTE = 4
MAX_UPSCALE = 4  # --resize may enlarge the frames this many times at most


def frame_memory_budget() -> int:
    """Bytes the decoded frames of one clip may take, so that the whole run stays within :data:`MEMORY_FRACTION`
    of the physical memory: that share over :data:`RUN_BYTES_PER_FRAME_BYTE`."""
    return memory_budget() // RUN_BYTES_PER_FRAME_BYTE


@dataclass(frozen=True)
class FrameSelection:
    """Which frames of a source to keep, and at what size: indices ``start, start + stride, …``, the longer
    side scaled to ``resize`` px (aspect kept; area averaging when shrinking). Readers apply it while
    decoding, so a long or 4K clip holds only what is kept in memory."""

    start: int = 0
    stride: int = 1
    resize: int | None = None

    def keeps(self, i: int) -> bool:
        return i >= self.start and (i - self.start) % self.stride == 0

    def size_of(self, h: int, w: int) -> tuple[int, int]:
        """(H, W) a frame of (h, w) is kept at."""
        if self.resize is None or max(h, w) == self.resize:
            return h, w
        s = self.resize / max(h, w)
        return max(1, round(h * s)), max(1, round(w * s))

    def scaled(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        size = self.size_of(h, w)
        if size == (h, w):
            return frame
        return cv2.resize(
            frame, size[::-1], interpolation=cv2.INTER_AREA if max(size) < max(h, w) else cv2.INTER_LINEAR
        )


class _Kept:
    """The frames a :class:`FrameSelection` keeps, offered one at a time and held within the memory budget.

    They go straight into one preallocated array (sized by ``expected``, the number of frames the source
    says it has, and grown when it was wrong), so no second copy is made to stack them."""

    def __init__(self, source: Path, select: FrameSelection | None, expected: int | None = None) -> None:
        self.source, self.select = source, select or FrameSelection()
        self.buffer: np.ndarray | None = None
        self.indices: list[int] = []
        self.seen = 0  # frames offered (kept or not)
        self.source_size: tuple[int, int] | None = None  # (H, W) as stored
        self.budget = frame_memory_budget()
        self.expected = expected

    def offer(self, read) -> None:
        """Frame number ``self.seen``: ``read()`` returns it (H, W, 3) uint8 RGB, called only when it is kept."""
        i, self.seen = self.seen, self.seen + 1
        if not self.select.keeps(i):
            return
        frame = read()
        if self.source_size is None:
            self.source_size = frame.shape[:2]
            side, target = max(frame.shape[:2]), self.select.resize
            if target is not None and target > MAX_UPSCALE * side:
                raise InputError("--resize", f"{target} px would enlarge the {side}-px frames of {self.source} "
                                 f"{target / side:.0f} ×; enlarging adds no detail, only memory and time: at most "
                                 f"{MAX_UPSCALE} × ({MAX_UPSCALE * side} px)")  # fmt: skip
        n = len(self.indices)
        h, w = self.select.size_of(*frame.shape[:2])
        nbytes = h * w * frame.shape[2]
        # the whole run's memory, budgeted before the frames are scaled and kept: with the count the source
        # announces at the first frame, else as they come
        count = max(n + 1, self._expected_kept())
        if count * nbytes > self.budget:
            so_far = "" if count > n + 1 else " so far"
            raise InputError(
                self.source,
                f"the run would hold {count} frames of {w}x{h}{so_far}, about "
                f"{RUN_BYTES_PER_FRAME_BYTE * count * nbytes / 2**30:.1f} GiB with its working copies, more than "
                f"{100 * MEMORY_FRACTION:g} % of this machine's memory ({physical_memory() / 2**30:.0f} GiB): keep "
                "fewer or smaller frames (--end, --stride, --resize)",
            )
        frame = self.select.scaled(frame)
        if self.buffer is not None and frame.shape != self.buffer.shape[1:]:  # a stream that changes resolution
            raise InputError(self.source, f"frame {i} is {frame.shape}, the first {self.buffer.shape[1:]}")
        if self.buffer is None or n == len(self.buffer):
            self._grow(frame, n)
        self.buffer[n] = frame
        self.indices.append(i)

    def adopt(self, frames: np.ndarray) -> None:
        """All frames of a source already in memory (a ``simulate`` folder's), instead of offering each.

        The kept ones are taken as a view of ``frames``; they are copied only when ``resize`` scales them.
        """
        sel = self.select
        if sel.resize is not None and max(frames.shape[1:3]) != sel.resize:
            self.expected = len(frames)  # budgeted at the first frame
            for frame in frames:
                self.offer(lambda f=frame: f)
            return
        self.seen = len(frames)
        self.indices = list(range(sel.start, len(frames), sel.stride))
        self.source_size = tuple(frames.shape[1:3])
        self.buffer = frames[sel.start :: sel.stride]

    def _expected_kept(self) -> int:
        """How many frames the selection keeps of the count the source announced (0: unknown)."""
        return len(range(self.select.start, self.expected, self.select.stride)) if self.expected else 0

    def _grow(self, frame: np.ndarray, n: int) -> None:
        cap = max(self._expected_kept(), 2 * n, 16)
        cap = min(cap, max(self.budget // frame.nbytes, n + 1))
        grown = np.empty((cap, *frame.shape), np.uint8)  # pages are committed as frames arrive
        if n:
            grown[:n] = self.buffer[:n]
        self.buffer = grown

    def stacked(self) -> np.ndarray:
        """(T, H, W, 3) of the kept frames; at least 2 of them, or a clear error."""
        n = len(self.indices)
        if n < 2:
            sel = self.select
            raise InputError(
                self.source,
                f"{n} frame(s) selected of {self.seen} (start={sel.start}, stride={sel.stride}); need at least 2",
            )
        return self.buffer[:n]


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode a video file → frames (T, H, W, 3) uint8 RGB and timestamps (T,) seconds.

    The frames are as stored: a display rotation (a phone's portrait video) is not applied; see
    :func:`load_frames`, which reports it.

    Raises:
        InputError: missing file, undecodable data, or fewer than 2 frames.
    """
    kept = _Kept(Path(path), None)
    times, _ = _decode(path, max_frames, kept)
    return kept.stacked(), times


def _decode(path: str | Path, max_frames: int | None, kept: _Kept) -> tuple[np.ndarray, int]:
    """Decode a video into ``kept``; returns the kept frames' times (s from the first frame) and the
    counter-clockwise display rotation in degrees (0, 90, 180, 270) with which players show the frames
    (phones store portrait video as landscape frames, in the sensor's row order, with a display matrix
    that turns them upright)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video not found")
    times, rotation = [], 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(path, "file has no video stream")
            stream = container.streams.video[0]
            if stream.frames:  # the container's count: sizes the frame buffer
                kept.expected = min(stream.frames, max_frames or stream.frames)
            for frame in container.decode(stream):
                if not times:
                    rotation = round(getattr(frame, "rotation", 0) or 0) % 360  # display matrix; old PyAV: none
                t = frame.time if frame.time is not None else len(times) / float(stream.average_rate or 30)
                times.append(t)
                kept.offer(lambda f=frame: f.to_ndarray(format="rgb24"))
                if max_frames is not None and len(times) >= max_frames:
                    break
    except InputError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(path, f"cannot decode video ({exc.__class__.__name__}: {exc})") from None
    if len(times) < 2:
        raise InputError(path, f"video has {len(times)} decodable frame(s); need at least 2")
    ts = np.asarray(times, dtype=np.float64)
    return ts[kept.indices] - ts[0], rotation


def write_video(path: str | Path, frames, fps: float = 10.0, rotation_deg: int = 0) -> None:
    """Write frames (T, H, W, 3) uint8 RGB as an H.264 (or MPEG-4) preview, atomically.

    ``frames`` may be any iterable of (H, W, 3) frames, e.g. a generator, so that a long clip is encoded
    as it is made instead of held in memory first. ``rotation_deg``: a display rotation (counter-clockwise)
    players apply, as in the source video.
    """
    import av

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    h, w = first.shape[:2]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            try:
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
                # mbtree=0: with x264's macroblock-tree rate control, frames whose sides are not multiples of 16
                # encode differently from run to run (up to 29 grey levels after decoding; docs/results.md,
                # Run-to-run noise); without it every encode of the same frames is the same file
                stream.options = {"crf": "18", "preset": "veryfast", "x264-params": "mbtree=0"}
            except (av.error.FFmpegError, ValueError):
                stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height = w + (w % 2), h + (h % 2)  # yuv420 needs even sizes
            stream.pix_fmt = "yuv420p"
            if rotation_deg % 360 and hasattr(stream, "set_display_rotation"):  # old PyAV cannot write one
                stream.set_display_rotation(rotation_deg % 360)
            for f in itertools.chain([first], frames):
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
    from motiondepth.io.npz import read_npz

    frames = read_npz(path / "frames.npz", ("frames",), "frames file")["frames"]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(path / "frames.npz", f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if len(frames) < 2:
        raise InputError(path / "frames.npz", f"has {len(frames)} frame(s); need at least 2")
    camera = {}
    if (path / "camera.json").is_file():
        from motiondepth.io.camera import read_camera_json

        camera = read_camera_json(path / "camera.json")
    return frames, camera


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# video files a folder of clips is made of (``run FOLDER`` runs them as a batch); GoPro's and Insta360's own too
VIDEO_FILE_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mts", ".360", ".insv", ".lrv")


def list_videos(folder: str | Path) -> list[Path]:
    """The video files in ``folder`` (by :data:`VIDEO_FILE_SUFFIXES`, natural name order; not its subfolders)."""
    folder = Path(folder)
    return sorted((f for f in folder.iterdir() if f.suffix.lower() in VIDEO_FILE_SUFFIXES and f.is_file()),
                  key=_natural_key)  # fmt: skip


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
    folder: str | Path, max_frames: int | None = None, fps: float | None = None, select: FrameSelection | None = None
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Frames (T, H, W, 3) uint8 RGB of a folder of images, their times (T,) s from the first image, the first
    image's time on the source clock (:func:`image_times`) and where the times came from.

    Images are taken in natural name order (see :func:`list_images`), the first ``max_frames`` of them, of
    which only those ``select`` keeps are read (scaled as it says); times as :func:`image_times`.

    Raises:
        InputError: no images, an unreadable image, images of different sizes, or fewer than 2.
    """
    kept = _Kept(Path(folder), select)
    times, origin, source = _read_images(Path(folder), list_images(folder), max_frames, fps, kept)
    return kept.stacked(), times, origin, source


def _read_images(folder: Path, images: list[Path], max_frames: int | None, fps: float | None, kept: _Kept):
    """:func:`read_image_folder` of the folder's ``images`` (:func:`list_images`) into ``kept``: the kept frames'
    times, the time origin and the times' source."""
    if len(images) < 2:
        raise InputError(folder, f"folder has {len(images)} image(s) ({', '.join(IMAGE_SUFFIXES)}); need at least 2")
    times, origin, source = image_times(folder, images, fps)

    def read(f: Path) -> np.ndarray:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f, "cannot decode image")
        if kept.source_size is not None and img.shape[:2] != kept.source_size:
            h, w = kept.source_size
            raise InputError(f, f"image is {img.shape[1]}x{img.shape[0]}, the first {w}x{h}; all must match")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    kept.expected = len(images[:max_frames])
    for f in images[:max_frames]:
        kept.offer(lambda f=f: read(f))
    return times[kept.indices], origin, source


def load_frames(
    path: str | Path, max_frames: int | None = None, fps: float | None = None, select: FrameSelection | None = None
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Frames of a video file, a folder of images or a ``simulate`` folder.

    Of the first ``max_frames`` frames only those ``select`` keeps are decoded and held, scaled as it says
    (:class:`FrameSelection`), within :func:`frame_memory_budget` bytes.

    Returns:
        ``(frames, times, camera)``: (T, H, W, 3) uint8 RGB, (T,) seconds from the source's first frame, and
        the ``simulate`` folder's camera.json (else ``{}``) with ``"times_source"`` added: where the
        times came from (the video's timestamps, camera.json, an image folder's names or timestamp
        file, ``--fps``, or an assumed 30 fps); for an image folder also ``"time_origin_s"``, the first
        image's time on the clock of its names or timestamp file (0 without one); for a video file
        shown rotated, ``"display_rotation_deg"`` (counter-clockwise; the frames stay as stored). With
        ``select``, also ``"indices"`` (the kept frames' numbers in the source) and ``"source_size"``
        ((H, W) of the frames as stored).

    Raises:
        InputError: unreadable input, fewer than 2 frames kept, or kept frames over the memory budget.
    """
    path = Path(path)
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise InputError("--fps", f"must be a positive frame rate, got {fps}")
    kept = _Kept(path, select)
    if is_sim_dir(path):
        frames, info = load_sim_dir(path)
        interval = info.get("frame_interval_s")
        kept.adopt(frames[:max_frames])
        source = "camera.json" if interval else "assumed 30 fps (camera.json has no frame_interval_s)"
        times = np.asarray(kept.indices) * float(interval or 1.0 / 30)
    elif path.is_dir():
        images = list_images(path)
        if not images:
            hint = (
                (
                    f"; it holds {len(list_videos(path))} video file(s): run them as a batch (motiondepth run FOLDER "
                    "--out DIR, or workflow.run_batch(workflow.clips_in(FOLDER), DIR))"
                )
                if list_videos(path)
                else ""
            )
            raise InputError(path, "folder has neither images nor frames.npz (a 'motiondepth simulate' output)" + hint)
        times, origin, source = _read_images(path, images, max_frames, fps, kept)
        info = {"time_origin_s": origin}
    elif not path.exists():
        raise InputError(path, "input not found")
    else:
        times, rotation = _decode(path, max_frames, kept)
        source, info = "video timestamps", ({"display_rotation_deg": rotation} if rotation else {})
    frames = kept.stacked()
    if fps is not None:
        times, source = np.asarray(kept.indices) / fps, f"--fps {fps:g}"
    info = {**info, "times_source": source}
    if select is not None:
        info |= {"indices": np.asarray(kept.indices), "source_size": kept.source_size}
    return frames, np.asarray(times, dtype=np.float64), info
