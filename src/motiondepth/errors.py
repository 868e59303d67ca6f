"""The one exception type users see for bad input."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input: a missing or malformed file, inconsistent shapes, invalid values.

    The message always names the offending file (or argument) and the problem, on one line,
    so the command line can print it as is.
    """

    def __init__(self, source: str | Path | None, problem: str) -> None:
        self.source = None if source is None else str(source)
        self.problem = problem
        super().__init__(problem if source is None else f"{source}: {problem}")


class OutputError(InputError):
    """An output cannot be written: the folder is not writable, the disk is full, a path is taken.

    A subclass of :class:`InputError` so callers that catch bad input also catch this; the message
    names the file or folder and the operating system's reason.
    """
