"""Samples on disk: any seeded sample function exported in compressed ``.npz`` shards.

Training data in motiondepth is a pure function ``sample_fn(seed, cfg) -> dict of arrays``, so it
can be generated on the fly or, when generation is slower than a training step (the blur
simulator), exported once and read back. ``export_shards`` keeps finished shards, so an
interrupted export resumes; ``workers > 1`` generates shards in parallel processes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from motiondepth.io.atomic import atomic_path, write_json

SampleFn = Callable[[int, Any], dict[str, np.ndarray]]


def _write_shard(path: Path, sample_fn: SampleFn, seeds: range, cfg: Any) -> None:
    samples = [sample_fn(s, cfg) for s in seeds]
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **{key: np.stack([s[key] for s in samples]) for key in samples[0]})


def _reuse_freed_memory() -> None:
    """Let glibc's malloc keep freed memory for reuse instead of handing it back to the kernel.

    The blur simulator allocates and frees about 100 MB of multi-megabyte temporaries per clip.
    By default each of them is a fresh mmap that is unmapped when freed, so every clip faults its
    pages in again: 24 k page faults per clip here, 15 % of its time on a bare machine, and far
    more on virtual machines where a page fault is expensive. A fixed 32 MB mmap threshold (the
    largest glibc allows) and a high trim threshold bring that to about 50 faults per clip.
    Only for worker processes: it changes how the whole process allocates. No-op off glibc.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_top_pad, 64 << 20)


def _worker_setup() -> None:
    """Worker processes are the parallelism: one OpenCV thread each, freed memory reused."""
    import cv2

    cv2.setNumThreads(1)
    _reuse_freed_memory()


def export_shards(
    out_dir: str | Path,
    sample_fn: SampleFn,
    start_seed: int,
    count: int,
    shard_size: int = 256,
    cfg: Any = None,
    progress: bool = True,
    workers: int = 1,
) -> Path:
    """Write ``count`` samples (seeds ``start_seed …``) as ``shard-XXXXX.npz`` + ``index.json``.

    Each shard stacks its samples on a leading axis. ``sample_fn`` must be importable (a module
    level function) when ``workers > 1``.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_shards = (count + shard_size - 1) // shard_size
    todo = []
    for k in range(n_shards):
        path = out / f"shard-{k:05d}.npz"
        if not path.exists():
            todo.append((path, range(start_seed + k * shard_size, start_seed + min(count, (k + 1) * shard_size))))
    bar = tqdm(total=n_shards, initial=n_shards - len(todo), desc="shards", disable=not progress)
    if workers > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawned, not forked: a fork of a process whose other threads hold locks (torch's or
        # OpenCV's pools, as in a test session or a notebook) can leave a worker waiting forever
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_worker_setup) as pool:
            for fut in [pool.submit(_write_shard, p, sample_fn, seeds, cfg) for p, seeds in todo]:
                fut.result()
                bar.update(1)
    else:
        for path, seeds in todo:
            _write_shard(path, sample_fn, seeds, cfg)
            bar.update(1)
    bar.close()
    meta = {
        "start_seed": start_seed,
        "count": count,
        "shard_size": shard_size,
        "sample_fn": f"{sample_fn.__module__}.{sample_fn.__qualname__}",
        "config": asdict(cfg) if is_dataclass(cfg) else cfg,
    }
    write_json(out / "index.json", meta)
    return out


class ShardReader:
    """Random access to samples exported by :func:`export_shards` (sample ``i`` wraps modulo count).

    By default one shard is held in memory at a time, so read mostly in order. ``preload=True``
    reads every shard first (in parallel threads) and keeps them all, for fast random access
    when memory allows (a 224-px, 12-frame blur clip is about 2 MB). Safe to read from several
    threads.
    """

    def __init__(self, root: str | Path, preload: bool = False) -> None:
        self.root = Path(root)
        index = self.root / "index.json"
        if not index.is_file():
            raise FileNotFoundError(f"{self.root}: no index.json (not a shard folder written by export_shards)")
        meta = json.loads(index.read_text())
        self.meta = meta
        self.count, self.shard_size = int(meta["count"]), int(meta["shard_size"])
        self._cache: tuple[int, dict] | None = None
        self._all: list[dict] | None = None
        if preload:
            from concurrent.futures import ThreadPoolExecutor

            n_shards = (self.count + self.shard_size - 1) // self.shard_size
            with ThreadPoolExecutor(min(8, n_shards)) as pool:  # zlib inflates without the GIL
                self._all = list(pool.map(self._read, range(n_shards)))

    def _read(self, k: int) -> dict[str, np.ndarray]:
        from motiondepth.io.npz import read_npz

        return read_npz(self.root / f"shard-{k:05d}.npz", what="training shard")

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        k, j = divmod(int(i) % self.count, self.shard_size)
        if self._all is not None:
            shard = self._all[k]
        else:
            cache = self._cache  # one read of the attribute: another thread may replace it
            if cache is None or cache[0] != k:
                cache = self._cache = (k, self._read(k))
            shard = cache[1]
        return {key: v[j] for key, v in shard.items()}
