"""Shipped checkpoints: safetensors weights plus a JSON card, loaded strictly by name or path.

A checkpoint ``NAME`` is two files, ``NAME.safetensors`` and ``NAME.json`` (the card: which model,
its config, the data and seed it was trained on, the command, the git commit, the metrics).
Names resolve to the package's ``motiondepth/weights/`` folder; anything else is a path.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from motiondepth.errors import InputError
from motiondepth.io.atomic import atomic_path, write_json

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

# Default blur-depth checkpoint of the commands for real footage (``run``, ``depth``): the indoor fine-tune
# beats blur-depth-small on every real RGB-D pair of benchmarks/real_depth.py and in benchmarks/pipeline.py,
# while blur-depth-small (the model class's and ``eval blur-depth``'s default) stays best on the
# procedural clips both were trained on. Both share one configuration, so trajectory-small reads either;
# its dense trajectory error is the same on either's features (0.148 on 16 handheld-shake clips).
VIDEO_DEPTH_CHECKPOINT = "blur-depth-indoor"


def available() -> list[str]:
    """Names of the checkpoints shipped with the package."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def resolve(name_or_path: str | Path) -> Path:
    """Path of the ``.safetensors`` file for a shipped name or a user path."""
    p = Path(name_or_path)
    if p.suffix != ".safetensors" and (WEIGHTS_DIR / f"{name_or_path}.safetensors").is_file():
        return WEIGHTS_DIR / f"{name_or_path}.safetensors"
    if p.is_dir():
        p = p / "model.safetensors"
    if not p.is_file():
        raise InputError(name_or_path, f"no such checkpoint (shipped: {', '.join(available()) or 'none'})")
    return p


def read_card(name_or_path: str | Path) -> tuple[Path, dict]:
    """(weights path, card) of a checkpoint without loading its weights.

    Raises:
        InputError: no such checkpoint, no card beside it, or a card that is not JSON.
    """
    path = resolve(name_or_path)
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        card_path = path.parent / "config.json"
    if not card_path.is_file():
        raise InputError(path, "checkpoint has no JSON card beside it (NAME.json or config.json)")
    try:
        return path, json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(card_path, f"card is not valid JSON ({exc})") from None


def describe(name_or_path: str | Path) -> dict:
    """What a checkpoint is, read from its card and the safetensors header (no torch needed).

    Keys: ``name``, ``model``, ``path``, ``parameters`` (count), ``megabytes``, ``sha256`` (first 16 hex
    digits of the weights file's hash, as the benchmarks record it), ``validation`` (the card's metrics on
    its held-out set), ``trained_minutes`` (and ``trained_minutes_lower_bound``: a training stage in the
    card's history did not record its time), ``purpose`` and ``card`` (the whole card).
    """
    import hashlib

    path, card = read_card(name_or_path)
    data = path.read_bytes()
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        params = sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"not a readable safetensors file ({exc})") from None
    return {
        # a shipped checkpoint by its name; anything else by the path given (a run folder's card names its preset)
        "name": card.get("name", path.stem) if path.parent == WEIGHTS_DIR else str(name_or_path),
        "model": card.get("model"),
        "path": str(path),
        "parameters": params,
        "megabytes": round(len(data) / 2**20, 2),
        "sha256": hashlib.sha256(data).hexdigest()[:16],
        "validation": card.get("validation", {}),
        "trained_minutes": card.get("trained_minutes_total", card.get("trained_minutes_this_process")),
        # a history stage without its minutes: the total is a lower bound
        "trained_minutes_lower_bound": any(
            isinstance(h, dict) and h.get("minutes", 0) is None for h in card.get("history") or []
        ),
        "purpose": card.get("purpose"),
        "card": card,
    }


def load_weights(name_or_path: str | Path, expect_model: str | None = None):
    """(state_dict, card) of a checkpoint; the card is the sibling ``.json`` file.

    Raises:
        InputError: missing or unreadable file, missing card, or a card for another model.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path, card = read_card(name_or_path)
    if expect_model is not None and card.get("model") != expect_model:
        raise InputError(path, f"checkpoint is for model {card.get('model')!r}, expected {expect_model!r}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise InputError(path, f"not a readable safetensors file ({exc})") from None
    return state, card


def load_into(model, state: dict, source: str | Path, what: str, allow_missing: tuple[str, ...] = ()) -> None:
    """``model.load_state_dict(state)`` strictly, with a clear error when the weights are another model's.

    Checked before loading: keys the model lacks, keys the file lacks (except those starting with one of
    ``allow_missing``, e.g. a shared sub-module loaded elsewhere) and shape differences, each listed (first
    few) with the file and the model named, instead of torch's multi-line ``RuntimeError``.

    Raises:
        InputError: the weights do not fit ``model``.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.startswith(allow_missing)]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]  # fmt: skip
    if missing or unexpected or shapes:

        def few(keys: list[str]) -> str:
            return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")

        parts = [f"{len(missing)} missing ({few(missing)})" if missing else "",
                 f"{len(unexpected)} unexpected ({few(unexpected)})" if unexpected else "",
                 f"{len(shapes)} of another shape ({few(shapes)})" if shapes else ""]  # fmt: skip
        raise InputError(
            source,
            f"weights do not fit this model ({what}): keys "
            + "; ".join(p for p in parts if p)
            + " (the weights are another model's, or the card is)",
        )
    model.load_state_dict(state, strict=not allow_missing)


def save_weights(model, path: str | Path, card: dict) -> Path:
    """Write ``path`` (.safetensors) and its card ``path.with_suffix('.json')`` atomically.

    ``model`` is a module or a state dict (e.g. the part of a model a checkpoint holds).
    """
    from safetensors.torch import save_file

    path = Path(path)
    state = model if isinstance(model, dict) else model.state_dict()
    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    write_json(path.with_suffix(".json"), card)
    return path
