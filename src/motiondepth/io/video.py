"""Video reading (PyAV) and preview writing, plus loading a simulate output directory."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.atomic import atomic_path


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode a video file → frames (T, H, W, 3) uint8 RGB and timestamps (T,) seconds.

    Raises:
        InputError: missing file, undecodable data, or fewer than 2 frames.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video not found")
    frames, times = [], []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(path, "file has no video stream")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
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
    return np.stack(frames), ts - ts[0]


def write_video(path: str | Path, frames: np.ndarray, fps: float = 10.0) -> None:
    """Write frames (T, H, W, 3) uint8 RGB as an H.264 (or MPEG-4) preview, atomically."""
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


def load_frames(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Frames from a video file or a simulate directory → (frames, timestamps or None, camera dict)."""
    path = Path(path)
    if is_sim_dir(path):
        frames, camera = load_sim_dir(path)
        interval = camera.get("frame_interval_s")
        times = None if interval is None else np.arange(len(frames)) * float(interval)
        return frames, times, camera
    if path.is_dir():
        raise InputError(path, "directory has no frames.npz (not a 'motiondepth simulate' output)")
    if not path.exists():
        raise InputError(path, "input not found")
    frames, times = read_video(path)
    return frames, times, {}
