"""How much memory a run, or one input file, may take: a share of the machine's physical memory."""

from __future__ import annotations

import os

MEMORY_FRACTION = 0.5  # a run (or one input file) may take this share of the machine's memory at its peak


def physical_memory() -> int:
    """Bytes of physical memory (16 GiB assumed where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return 16 << 30


def memory_budget() -> int:
    """Bytes one run or one input file may take: :data:`MEMORY_FRACTION` of the physical memory."""
    return int(physical_memory() * MEMORY_FRACTION)
