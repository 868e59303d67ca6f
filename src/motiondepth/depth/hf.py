"""A third-party metric depth model from a local Hugging Face folder, as the first-frame depth.

The shipped blur-depth network was trained on procedural scenes only; on real images its depth
structure is weak (docs/results.md, pipeline results). A user who has the weights of a metric monocular
depth model in the Hugging Face ``transformers`` format (a folder with ``config.json``, the
weights and ``preprocessor_config.json``; e.g. Depth Anything V2 *Metric* Indoor/Outdoor or
ZoeDepth) can use it instead: ``motiondepth run VIDEO --depth-model DIR`` or
``HFDepthPredictor(DIR).depth(frames)``. Nothing is downloaded (``local_files_only``); the
optional dependency is ``pip install -c constraints.txt transformers``.

Only *metric* models are accepted: relative (affine-invariant disparity) models give no metres,
and the pivot-parallax scale check cannot supply them reliably (docs/results.md, pipeline results). The
dense trajectory still comes from the blur network and its decoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from motiondepth.errors import InputError

METRIC_TYPES = ("zoedepth",)  # model types whose output is metric whatever the config says


def check_depth_model(path: str | Path) -> dict:
    """The folder's ``config.json`` if it holds a metric depth model; a clear :class:`InputError` if not."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(path, "is not a folder; --depth-model takes a local Hugging Face model folder")
    for name in ("config.json", "preprocessor_config.json"):
        if not (path / name).is_file():
            raise InputError(path, f"has no {name}; save the model and its image processor with save_pretrained")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(path / "config.json", f"is not readable JSON ({e})") from None
    kind = config.get("depth_estimation_type")
    if config.get("model_type") not in METRIC_TYPES and kind != "metric":
        raise InputError(
            path,
            f"is a {config.get('model_type', 'unknown')} model with depth_estimation_type={kind!r}; motiondepth needs "
            "metric depth (e.g. Depth Anything V2 Metric, ZoeDepth), not relative disparity",
        )
    return config


class HFDepthPredictor:
    """Metric depth of frame 0 from a local Hugging Face depth-estimation model.

    Example:
        >>> p = HFDepthPredictor("models/depth-anything-v2-metric-indoor-small")  # doctest: +SKIP
        >>> depth = p.depth(frames)  # (H, W) metres of frame 0 of a (T, H, W, 3) uint8 clip
    """

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        self.path = Path(path)
        self.config = check_depth_model(self.path)
        try:
            from transformers import AutoImageProcessor, AutoModelForDepthEstimation
        except ImportError:
            raise InputError(
                self.path, "needs the optional 'transformers' package: pip install -c constraints.txt transformers"
            ) from None
        try:
            self.processor = AutoImageProcessor.from_pretrained(self.path, local_files_only=True)
            self.model = AutoModelForDepthEstimation.from_pretrained(self.path, local_files_only=True).eval().to(device)
        except (OSError, ValueError, KeyError) as e:
            raise InputError(self.path, f"could not be loaded as a depth-estimation model ({e})") from None
        self.device = device

    def depth(self, frames: np.ndarray, source: str = "frames") -> np.ndarray:
        """Metric depth (H, W) float32 metres of ``frames[0]`` ((T, H, W, 3) or (H, W, 3) uint8)."""
        import torch

        frames = np.asarray(frames)
        image = frames[0] if frames.ndim == 4 else frames
        if image.ndim != 3 or image.shape[2] != 3:
            raise InputError(source, f"expected RGB frames (T, H, W, 3), got shape {frames.shape}")
        h, w = image.shape[:2]
        inputs = {k: v.to(self.device) for k, v in self.processor(images=image, return_tensors="pt").items()}
        with torch.inference_mode():
            pred = self.model(**inputs).predicted_depth
        d = pred.reshape(pred.shape[-2:]).float().cpu().numpy()
        d = cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR)
        if not np.isfinite(d).all():
            bad = int((~np.isfinite(d)).sum())
            raise InputError(self.path, f"predicted {bad} non-finite depth value(s) for {source}")
        return np.maximum(d, 1e-3).astype(np.float32)  # resampling can touch 0 at a sigmoid head's floor
