"""Reading ``.npz``/``.npy`` files a user hands us: never code, always one clear error.

``np.load`` needs care on untrusted files: ``allow_pickle=True`` lets an object array run any code
while it is read, and a truncated or corrupt archive fails with errors outside ``OSError``/
``ValueError`` (``zipfile.BadZipFile``, ``zlib.error``, ``EOFError``) that surface as tracebacks.
:func:`read_npz` reads every array without pickle and turns each of those failures into an
:class:`~motiondepth.errors.InputError` naming the file. :func:`read_bytes_array` reads the one kind
of object array real benchmark files need (TAPVid-3D's JPEG bytes) through an unpickler that can
build nothing but NumPy arrays of ``bytes``.
"""

from __future__ import annotations

import io
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.memory import memory_budget

# what a damaged archive raises besides OSError and ValueError
READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)


def read_npz(
    path: str | Path, required: tuple[str, ...] = (), what: str = ".npz", skip: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (or the one array of an ``.npy``, under key ``"arr_0"``), read without pickle.

    Args:
        path: the file.
        required: keys that must be present (the message lists what the file has).
        what: how the message names the file's kind ("tracks file", "TAPVid-3D file", …).
        skip: keys not to read here (e.g. an object array read by :func:`read_bytes_array`).

    Raises:
        InputError: missing file, not an archive, truncated or corrupt, a missing key, or an object
            array (which only pickle could read: refused, never executed).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} not found")
    check_declared_sizes(path, what, skip)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):  # a .npy
            return {"arr_0": data}
        with data:
            missing = [k for k in required if k not in data.files]
            if missing:
                raise InputError(path, f"{what} lacks key(s) {missing}; it has {sorted(data.files)}")
            return {k: data[k] for k in data.files if k not in skip}
    except InputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(path, f"{what} holds an object array, which could run code when read; refused") from None
        raise InputError(path, f"not a readable {what} ({exc})") from None
    except READ_ERRORS as exc:
        raise InputError(path, f"not a readable {what}: truncated or corrupt ({type(exc).__name__}: {exc})") from None


def _declared(raw, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from an ``.npy`` header at the start of ``raw``; ValueError when there is none."""
    version = np.lib.format.read_magic(raw)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(raw)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = np.lib.format.read_array_header_2_0(raw)
    else:  # pragma: no cover - read_magic refuses other versions already
        raise ValueError(f"unknown .npy version {version}")
    return tuple(int(v) for v in shape), dtype


def check_declared_sizes(path: Path, what: str, skip: tuple[str, ...] = ()) -> None:
    """Refuse an ``.npz``/``.npy`` whose array headers declare more data than the file holds, or more than this
    machine's memory budget, before anything is allocated (a header can declare petabytes in a few bytes), and
    any member of an ``.npz`` that is not an ``.npy`` array."""
    budget, total = memory_budget(), 0
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                members = [(i.filename, i.file_size, zf.open(i)) for i in zf.infolist() if not i.is_dir()]
        else:
            members = [(path.name, path.stat().st_size, open(path, "rb"))]
    except READ_ERRORS as exc:
        raise InputError(path, f"not a readable {what}: truncated or corrupt ({type(exc).__name__}: {exc})") from None
    try:
        for name, stored, fh in members:
            key = name[:-4] if name.endswith(".npy") else name
            head = fh.read(1 << 16)
            raw = io.BytesIO(head)
            try:
                shape, dtype = _declared(raw, name)
            except (ValueError, EOFError, SyntaxError) as exc:
                raise InputError(path, f"{what} member '{name}' is not a NumPy array (no valid .npy header: {exc})"
                                 ) from None  # fmt: skip
            if key in skip:
                continue
            count = int(np.prod(shape, dtype=object)) if shape else 1
            need = count * max(dtype.itemsize, 1)
            if dtype.hasobject:
                continue  # read_npz refuses object arrays by name; read_bytes_array checks its own
            if need > stored - raw.tell():
                raise InputError(path, f"{what} array '{key}' declares shape {shape} ({_size(need)}) but the file "
                                 f"holds {_size(max(stored - raw.tell(), 0))} of data: corrupt or crafted")  # fmt: skip
            total += need
            if total > budget:
                raise InputError(path, f"{what} arrays need {_size(total)} in memory, more than this machine allows "
                                 f"({_size(budget)}); split it")  # fmt: skip
    except READ_ERRORS as exc:
        raise InputError(path, f"not a readable {what}: truncated or corrupt ({type(exc).__name__}: {exc})") from None
    finally:
        for _, _, fh in members:
            fh.close()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def real_array(path: str | Path, key: str, arr: np.ndarray, what: str = ".npz") -> np.ndarray:
    """``arr`` as float64, refusing what is not a real number: text, complex values (whose imaginary part a plain
    cast would drop in silence), records, dates. Booleans and integers convert."""
    kind = np.asarray(arr).dtype.kind
    if kind not in "biuf":
        named = {"c": "complex", "U": "text", "S": "bytes", "O": "objects", "V": "records", "M": "dates",
                 "m": "durations"}.get(kind, kind)  # fmt: skip
        raise InputError(path, f"{what} array '{key}' holds {named} ({arr.dtype}); it must hold real numbers")
    return np.asarray(arr, dtype=np.float64)


class _BytesArrayUnpickler(pickle.Unpickler):
    """Builds NumPy arrays of ``bytes`` and nothing else: any other global (a function to call,
    a class to construct) is refused before it can run."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),  # bytes pickled by protocol 2 (Python 2 era files)
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def read_bytes_array(path: str | Path, key: str, what: str = ".npz") -> np.ndarray | None:
    """The object array ``key`` of an ``.npz`` whose entries are all ``bytes`` (e.g. JPEG frames), or None if absent.

    Read with :class:`_BytesArrayUnpickler`, so a crafted file cannot execute code: anything but an
    array of bytes is refused with an :class:`InputError`.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            name = f"{key}.npy"
            if name not in zf.namelist():
                return None
            with zf.open(name) as fh:
                raw = io.BytesIO(fh.read())
        version = np.lib.format.read_magic(raw)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(raw)
        if dtype.hasobject:
            arr = _BytesArrayUnpickler(raw).load()
        else:  # plain bytes arrays (fixed-width 'S') need no pickle at all
            arr = np.frombuffer(raw.read(), dtype=dtype).reshape(shape)
    except pickle.UnpicklingError as exc:
        raise InputError(path, f"{what} key '{key}' is not an array of bytes ({exc}); refused") from None
    except READ_ERRORS as exc:
        raise InputError(path, f"not a readable {what}: truncated or corrupt ({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray) or (arr.dtype == object and not all(isinstance(b, bytes) for b in arr.flat)):
        raise InputError(path, f"{what} key '{key}' must be an array of bytes")
    return arr
