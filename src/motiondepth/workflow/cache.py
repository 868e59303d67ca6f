"""The step cache of a run's output folder: input fingerprints, step keys and ``config.json``."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import platform
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from motiondepth import __version__
from motiondepth.errors import InputError, OutputError
from motiondepth.io.atomic import file_digest, write_json

log = logging.getLogger(__name__)


def file_fingerprint(path: str | Path | None) -> dict | None:
    """Identity of an input file (path, size, modification time), for cache keys."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        if not (p / "frames.npz").is_file():  # a folder of images
            return {"path": str(p.resolve()), "files": folder_fingerprint(p)}
        p = p / "frames.npz"
    try:
        st = p.stat()
    except OSError:
        return {"path": str(path)}
    return {"path": str(p.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def folder_fingerprint(path: str | Path) -> list:
    """:func:`file_fingerprint` of every file in a folder (a model's config and weights), for cache keys."""
    return [file_fingerprint(p) for p in sorted(Path(path).iterdir()) if p.is_file()]


def checkpoint_info(name: str) -> dict:
    from motiondepth.models.weights import resolve

    p = resolve(name)
    card = {}
    try:
        card = json.loads(p.with_suffix(".json").read_text())
    except (OSError, json.JSONDecodeError):
        pass
    return {
        "name": name,
        "path": str(p),
        "bytes": p.stat().st_size,
        "mtime_ns": p.stat().st_mtime_ns,
        "git_commit": card.get("git_commit"),
        "model_config": card.get("model_config", {}),
    }


def step_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_output_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` if needed and check that files can be written there."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test."):
            pass
    except FileExistsError:
        raise OutputError(out, "exists and is not a folder") from None
    except OSError as exc:
        raise OutputError(out, f"cannot write to the output folder ({exc.strerror or exc})") from None
    return out


LOCK_NAME = ".motiondepth.lock"  # held (flock) by the run writing into a folder; holds its process id


@contextlib.contextmanager
def locked_output_dir(out_dir: Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``out_dir`` for the block: a second run into the same folder fails at once
    with one line naming the folder and the process that holds it, so two runs never mix their files.

    The lock is ``flock`` on ``out_dir/.motiondepth.lock`` (released by the system if the process dies);
    the file is removed when the block ends. Where ``fcntl`` is missing (Windows) the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield out_dir
        return
    path = out_dir / LOCK_NAME
    # never follow a link planted as the lock (it would truncate the file it points to), and never block on a
    # FIFO or a device planted there: open without following links or waiting, then insist on a regular file
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    while True:
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP or path.is_symlink():
                raise OutputError(path, "is a symbolic link, not motiondepth's lock file; remove it") from None
            raise OutputError(out_dir, f"cannot create the folder's lock file ({exc.strerror or exc})") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            os.close(fd)
            raise OutputError(path, "is not a regular file of its own (a FIFO, a device, a hard link?), so it "
                              "cannot be the folder's lock file; remove it")  # fmt: skip
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputError(
                out_dir, f"another motiondepth process (pid {holder}) is writing to this folder; wait for it to "
                "finish or give another --out"
            ) from None  # fmt: skip
        try:  # the holder before us may have removed the file between our open and our lock: lock the new one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield out_dir
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)  # closing releases the lock


KEY_ENTRY = "cache_key.npy"  # the step key, stored inside every .npz a cached step writes


def embed_key(path: Path, key: str) -> None:
    """Add the step key to a written ``.npz`` (as array ``cache_key``), so the file itself says which settings
    made it."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.array(key))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(KEY_ENTRY, buf.getvalue())


def embedded_key(path: Path) -> str | None:
    """The step key stored in a ``.npz`` by :func:`embed_key`, or None (absent, unreadable)."""
    from motiondepth.io.npz import READ_ERRORS

    try:
        with np.load(path, allow_pickle=False) as d:
            return str(d["cache_key"]) if "cache_key" in d.files else None
    except READ_ERRORS:
        return None


class StepCache:
    """Runs pipeline steps, skipping those whose outputs in ``out_dir`` were made with the same key.

    A step is reused only when ``config.json`` records the same key for it *and* each of its files is the
    one written under that key: the same SHA-256 as recorded when it was written and, for ``.npz`` files,
    the key stored inside. A file from other settings, a truncated file or one edited since is recomputed.
    """

    def __init__(self, out_dir: Path, record: dict, overwrite: bool = False) -> None:
        self.out = out_dir
        self.record = record
        self.overwrite = overwrite
        self.previous: dict = {}
        cfg = out_dir / "config.json"
        if cfg.is_file() and not overwrite:
            try:
                self.previous = json.loads(cfg.read_text()).get("steps", {})
            except (OSError, json.JSONDecodeError, AttributeError):
                log.warning("%s is unreadable; recomputing every step", cfg)
        self.record.setdefault("steps", {})

    def run(
        self,
        name: str,
        parts: dict,
        files: list[str],
        compute: Callable[[], Any],
        write: Callable[[Any, Path], None],
        load: Callable[[Path], Any],
    ) -> tuple[Any, str]:
        """Load step ``name`` from ``files`` if cached under the same key, else compute and write it."""
        key = step_key({"step": name, **parts})
        prev = self.previous.get(name, {})
        if not self.overwrite and prev.get("key") == key and self._intact(name, key, prev, files):
            try:
                value = load(self.out)
            except InputError as exc:
                log.warning("cached %s is unreadable (%s); recomputing", name, exc)
            else:
                self.record["steps"][name] = {**prev, "cached": True}
                return value, key
        t0 = time.perf_counter()
        value = compute()
        try:
            write(value, self.out)
        except (OSError, OutputError) as exc:
            for f in files:  # a step's files are all or nothing
                _remove(self.out / f)
            if isinstance(exc, OutputError):
                raise
            target = exc.filename or (self.out / files[0])
            raise OutputError(target, f"cannot write {name} output ({exc.strerror or exc})") from None
        seconds = time.perf_counter() - t0  # writing included: a video step makes its frames as it writes them
        try:
            for f in files:
                if f.endswith(".npz"):
                    embed_key(self.out / f, key)
            digests = {f: file_digest(self.out / f) for f in files}
        except (OSError, zipfile.BadZipFile) as exc:
            raise OutputError(self.out / files[0], f"cannot finish {name} output ({exc})") from None
        self.record["steps"][name] = {"key": key, "files": files, "sha256": digests, "seconds": round(seconds, 4),
                                      "cached": False}  # fmt: skip
        self.save()
        return value, key

    def _intact(self, name: str, key: str, prev: dict, files: list[str]) -> bool:
        """Whether every file of a step cached under ``key`` is still the one written under it."""
        digests = prev.get("sha256") or {}
        for f in files:
            p = self.out / f
            if not (p.is_dir() if f.endswith("/") else p.is_file()):
                return False
            try:
                same = digests.get(f) == file_digest(p)
            except OSError:
                same = False
            if not same or (f.endswith(".npz") and embedded_key(p) != key):
                log.warning("cached %s: %s is not the file written under this step's settings; recomputing", name, p)
                return False
        return True

    def save(self) -> None:
        """Write ``config.json`` (atomically)."""
        path = self.out / "config.json"
        try:
            write_json(path, self.record)
        except OSError as exc:
            raise OutputError(path, f"cannot write ({exc.strerror or exc})") from None


def _remove(path: Path) -> None:
    """Remove a step's file, or its folder (a name ending in ``/``) with what is in it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def environment() -> dict:
    """Versions of what the results depend on."""
    import av
    import torch

    return {
        "motiondepth": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "av": av.__version__,
        "threads": torch.get_num_threads(),
    }
