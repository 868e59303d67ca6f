"""Shipped checkpoints: safetensors weights plus a JSON card, loaded strictly by name or path.

A checkpoint ``NAME`` is two files, ``NAME.safetensors`` and ``NAME.json`` (the card: which model,
its config, the data and seed it was trained on, the command, the git commit, the metrics).
Names resolve to the package's ``motiondepth/weights/`` folder; anything else is a path.
"""

from __future__ import annotations

import json
from pathlib import Path

from motiondepth.errors import InputError
from motiondepth.io.atomic import atomic_path, write_json

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


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


def load_weights(name_or_path: str | Path, expect_model: str | None = None):
    """(state_dict, card) of a checkpoint; the card is the sibling ``.json`` file.

    Raises:
        InputError: missing or unreadable file, missing card, or a card for another model.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = resolve(name_or_path)
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        card_path = path.parent / "config.json"
    if not card_path.is_file():
        raise InputError(path, "checkpoint has no JSON card beside it (NAME.json or config.json)")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(card_path, f"card is not valid JSON ({exc})") from None
    if expect_model is not None and card.get("model") != expect_model:
        raise InputError(path, f"checkpoint is for model {card.get('model')!r}, expected {expect_model!r}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise InputError(path, f"not a readable safetensors file ({exc})") from None
    return state, card


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
