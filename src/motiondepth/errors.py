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


def check_device(device: str, option: str = "--device") -> str:
    """The device to run on: ``device`` itself when it is the CPU or a CUDA device torch can use, ``auto``'s choice
    (the first GPU torch sees, else the CPU), or :class:`InputError` naming ``option``.

    The one check of a device asked for: the commands' ``--device`` and the training loop's ``train.device``.
    """
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"

    try:
        dev = torch.device(device)
    except RuntimeError:
        dev = None
    if dev is None or dev.type != "cuda":
        raise InputError(option, f"{device!r} is not a device to run on; use cpu, cuda (cuda:N) or auto")
    if not torch.cuda.is_available():
        raise InputError(option, f"{device} asked for, but torch sees no GPU on this machine")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(option, f"{device}: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


class OutputError(InputError):
    """An output cannot be written: the folder is not writable, the disk is full, a path is taken.

    A subclass of :class:`InputError` so callers that catch bad input also catch this; the message
    names the file or folder and the operating system's reason.
    """
