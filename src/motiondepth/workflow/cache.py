"""The step cache of a run's output folder: input fingerprints, step keys and ``config.json``."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from motiondepth import __version__
from motiondepth.errors import InputError, OutputError
from motiondepth.io.atomic import write_json

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
    """:func:`_fingerprint` of every file in a folder (a model's config and weights), for cache keys."""
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


class StepCache:
    """Runs pipeline steps, skipping those whose outputs in ``out_dir`` were made with the same key."""

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
        if not self.overwrite and prev.get("key") == key and all((self.out / f).is_file() for f in files):
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
        except OSError as exc:
            for f in files:  # a step's files are all or nothing
                (self.out / f).unlink(missing_ok=True)
            target = exc.filename or (self.out / files[0])
            raise OutputError(target, f"cannot write {name} output ({exc.strerror or exc})") from None
        seconds = time.perf_counter() - t0  # writing included: a video step makes its frames as it writes them
        self.record["steps"][name] = {"key": key, "files": files, "seconds": round(seconds, 4), "cached": False}
        self.save()
        return value, key

    def save(self) -> None:
        """Write ``config.json`` (atomically)."""
        path = self.out / "config.json"
        try:
            write_json(path, self.record)
        except OSError as exc:
            raise OutputError(path, f"cannot write ({exc.strerror or exc})") from None


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
