"""Write-then-rename helpers so a failed run never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps the suffix of ``path`` so that writers which pick a format from the
    extension (OpenCV, PyAV, numpy) behave as for the final name.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
        >>> with atomic_path(out) as tmp:
        ...     np.save(tmp, np.zeros(3))
        >>> out.exists()
        True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def staged_output_dir(out_dir: str | Path) -> Iterator[Path]:
    """Stage a multi-file output in a hidden sibling folder and move the files into ``out_dir``.

    Either every file the block wrote lands in ``out_dir`` or none does; files already in
    ``out_dir`` that the block did not write are left alone.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging.", dir=out_dir.parent))
    try:
        yield stage
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(stage.rglob("*")):
            if item.is_file():
                target = out_dir / item.relative_to(stage)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def json_default(obj: object) -> object:
    """``json.dumps(default=…)`` for numpy values: scalars as numbers, arrays as lists, anything else as text."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    return str(obj)


def write_json(path: str | Path, obj: object) -> Path:
    """Write ``obj`` as indented JSON to ``path`` through :func:`atomic_path` (numpy-aware, see
    :func:`json_default`); returns the path."""
    import json

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=json_default) + "\n")
    return path


def write_json_and_markdown(path: str | Path, result: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``result`` as ``path`` (JSON via :func:`write_json`) and ``markdown`` beside it as ``.md``.

    Both files go through :func:`atomic_path`; returns (json path, markdown path).
    """
    out = write_json(path, result)
    md = out.with_suffix(".md")
    with atomic_path(md) as tmp:
        tmp.write_text(markdown)
    return out, md


def save_npz(path: str | Path, **arrays: object) -> None:
    """``np.savez_compressed`` through :func:`atomic_path`."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
