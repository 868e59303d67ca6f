"""Write-then-rename helpers so a failed run never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from motiondepth.errors import OutputError


def _missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, outermost first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing[::-1]


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove the folders a failed write created (innermost first), as long as they are empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    where = exc.filename if isinstance(exc.filename, str) and not Path(exc.filename).name.startswith(".") else path
    return OutputError(where, f"cannot write ({reason})")


def check_output_file(path: str | Path) -> Path:
    """Check, creating nothing, that ``path`` can be written as a file: not an existing folder, and the nearest
    existing folder above it writable. Commands call it before their work so a bad ``--out`` fails in a second.

    Raises:
        OutputError: naming the path and the problem.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder; give a file name")
    return _check_writable(path, next((p for p in path.parents if p.exists()), Path(".")))


def check_output_folder(path: str | Path) -> Path:
    """:func:`check_output_file` for an output folder: an existing file in its place is refused."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(path, "exists and is not a folder")
    return _check_writable(path, path if path.is_dir() else next((p for p in path.parents if p.exists()), Path(".")))


def _check_writable(path: Path, existing: Path) -> Path:
    """``path`` unless ``existing`` (the nearest folder of it that exists) is a file or cannot be written in."""
    if not existing.is_dir():
        raise OutputError(path, f"{existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(path, f"cannot write in {existing} (permission denied)")
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps the suffix of ``path`` so that writers which pick a format from the
    extension (OpenCV, PyAV, numpy) behave as for the final name. Every output goes through here (or
    :func:`staged_output_dir`): an operating-system failure (no permission, disk full, a folder in the
    way) becomes one :class:`~motiondepth.errors.OutputError` naming the file, and neither the temporary
    file nor any folder made for it is left behind.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
        >>> with atomic_path(out) as tmp:
        ...     np.save(tmp, np.zeros(3))
        >>> out.exists()
        True
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder; give a file name")
    made = _missing_parents(path)
    tmp_path = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException as exc:
        _cleanup(tmp_path, made)
        if isinstance(exc, OSError):
            raise _output_error(path, exc) from None
        raise
    else:
        _cleanup(tmp_path, [])


def _cleanup(tmp_path: Path | None, made: list[Path]) -> None:
    if tmp_path is not None:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
    remove_empty_folders(made)


@contextlib.contextmanager
def staged_output_dir(out_dir: str | Path) -> Iterator[Path]:
    """Stage a multi-file output in a hidden sibling folder and move the files into ``out_dir``.

    Either every file the block wrote lands in ``out_dir`` or none does; files already in
    ``out_dir`` that the block did not write are left alone. Operating-system failures become one
    :class:`~motiondepth.errors.OutputError`, with no staging folder (or new parent folder) left behind.
    """
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    made = _missing_parents(out_dir)
    stage = None
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging.", dir=out_dir.parent))
        yield stage
        created = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            for item in sorted(stage.rglob("*")):
                if item.is_file():
                    target = out_dir / item.relative_to(stage)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(item, target)
        except OSError:
            if created:
                shutil.rmtree(out_dir, ignore_errors=True)
            raise
    except BaseException as exc:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        remove_empty_folders(made)
        if isinstance(exc, OSError):
            raise _output_error(out_dir, exc) from None
        raise
    else:
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


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex, first 16 digits): binds a cached file to the step key it was written under,
    and lets a reader of a run folder (``export-trajectory``) tell a file cut short or edited since. A folder's
    digest covers the names and bytes of every file in it."""
    import hashlib

    h = hashlib.sha256()
    path = Path(path)
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}\0{file_digest(f)}\0".encode())
        return h.hexdigest()[:16]
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


@contextlib.contextmanager
def replaced_folder(path: str | Path) -> Iterator[Path]:
    """Write a folder whole: the block fills a hidden sibling, which then replaces ``path`` (an earlier folder of
    that name goes, with every file in it, so none is left from a longer clip); on failure nothing changes."""
    path = Path(path)
    check_output_folder(path)
    stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.staging.", dir=path.parent))
    try:
        yield stage
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(stage, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _output_error(path, exc) from None
        raise
