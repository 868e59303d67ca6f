"""Run the shipped (or any) blur-depth and trajectory-decoder checkpoints on a clip.

A checkpoint is trained at one square resolution (``image_size``) on ``num_frames`` frames in
windows of ``window``. :func:`prepare_frames` resizes a clip to that resolution (anisotropic
resize of the whole frame, no crop, so every pixel gets a depth; the depth map is resized back
to the input size — metric depth values are not rescaled) or, with ``resize=False``, refuses
frames of another size. Clips longer than ``num_frames`` use their first ``num_frames`` frames
for depth (the network predicts frame 0's depth); shorter clips use as many whole windows as
they hold, and fewer frames than one window is an error.

Dense trajectories for any length: the decoder runs on consecutive chunks of ``num_frames``
frames (the last chunk aligned to the clip's end), each re-referenced to its first frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from motiondepth.errors import InputError
from motiondepth.models.blur_depth import BlurDepthConfig, BlurDepthNet, frames_tensor
from motiondepth.models.trajectory_decoder import TrajectoryDecoder
from motiondepth.trajectory.continuous import continuous_dense

DEFAULT_DEPTH = "blur-depth-small"
DEFAULT_TRAJECTORY = "trajectory-small"


def prepare_frames(frames: np.ndarray, size: int, resize: bool = True, source: str = "frames") -> torch.Tensor:
    """(T, H, W, 3) uint8 → (1, T, 3, size, size) float in [0, 1]."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InputError(source, f"expected frames (T, H, W, 3), got shape {frames.shape}")
    if frames.shape[1:3] != (size, size):
        if not resize:
            raise InputError(
                source,
                f"frames are {frames.shape[2]}x{frames.shape[1]} but the checkpoint works at {size}x{size}; "
                "resize the clip (or allow resizing)",
            )
        frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    return frames_tensor(frames)[None]


class BlurPredictor:
    """Blur-depth network (+ optional dense trajectory decoder) loaded strictly from checkpoints.

    Example:
        >>> p = BlurPredictor()                      # doctest: +SKIP
        >>> depth = p.depth(frames)                  # (H, W) metres, frame 0
        >>> dense = p.dense_trajectory(frames, sparse_angles, intr.fx, samples=15)  # (T, 15, 3) rad
    """

    def __init__(
        self,
        depth_checkpoint: str | BlurDepthNet = DEFAULT_DEPTH,
        trajectory_checkpoint: str | None = DEFAULT_TRAJECTORY,
        resize: bool = True,
        device: str = "cpu",
    ) -> None:
        if isinstance(depth_checkpoint, BlurDepthNet):  # a model in memory (e.g. random weights for timing)
            self.net = depth_checkpoint.eval().to(device)
        else:
            self.net = BlurDepthNet.from_pretrained(depth_checkpoint).to(device)
        self.cfg = self.net.cfg
        self.resize = resize
        self.device = torch.device(device)
        self.decoder: TrajectoryDecoder | None = None
        self.samples: tuple[int, ...] = ()
        if trajectory_checkpoint is not None:
            self.decoder = load_decoder(trajectory_checkpoint, self.net).to(device)
            self.samples = tuple(self.decoder.card.get("samples", (15, 30)))

    def _input(self, frames: np.ndarray, source: str) -> torch.Tensor:
        s = self.cfg.window
        t = len(frames)
        if t < s:
            raise InputError(source, f"{t} frame(s) is fewer than one window of {s} frames; the blur network needs "
                             f"at least {s} (checkpoint trained on {self.cfg.num_frames})")  # fmt: skip
        use = min(self.cfg.num_frames, (t // s) * s)
        return prepare_frames(frames[:use], self.cfg.image_size, self.resize, source).to(self.device)

    @torch.no_grad()
    def depth(self, frames: np.ndarray, source: str = "frames") -> np.ndarray:
        """Metric depth (H, W) float32 metres of frame 0 of ``frames`` (T, H, W, 3) uint8."""
        h, w = np.asarray(frames).shape[1:3]
        d = self.net(self._input(frames, source))["depth"][0].cpu().numpy()
        if d.shape != (h, w):
            d = cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR)
        return d.astype(np.float32)

    @torch.no_grad()
    def dense_trajectory(self, frames: np.ndarray, sparse: np.ndarray, fx_px: float, samples: int = 15,
                         source: str = "frames", continuous: bool = True, progress: bool = False
                         ) -> np.ndarray:  # fmt: skip
        """Dense trajectory (T, S, 3) rad from frames (T, H, W, 3) and the solver's sparse (T, 3); ``progress``: a bar
        over the network's windows.

        ``fx_px`` is the focal length in pixels of ``frames`` (the decoder reads blur in pixels). The
        decoder predicts each frame's samples on its own; with ``continuous`` (the default) they are
        joined into one continuous path whose frame means are the solver's angles
        (:func:`~motiondepth.trajectory.continuous.continuous_dense`). Frames with NaN angles are
        unsolved: the decoder reads them as zero, and the continuous path leaves them NaN.
        """
        if self.decoder is None:
            raise InputError("trajectory checkpoint", "no trajectory decoder loaded")
        anchors = np.asarray(sparse, dtype=np.float64)
        sparse = np.nan_to_num(anchors)
        t = len(frames)
        if sparse.shape != (t, 3):
            raise InputError(source, f"sparse trajectory {sparse.shape} does not match {t} frames")
        if not np.isfinite(fx_px) or fx_px <= 0:
            raise InputError(source, f"focal length {fx_px} px is not a positive number")
        focal = torch.tensor([fx_px / np.asarray(frames).shape[2]], dtype=torch.float32, device=self.device)
        n = self.cfg.num_frames
        if t < self.cfg.window:
            self._input(frames, source)  # raises the clear too-few-frames error
        chunk = min(n, (t // self.cfg.window) * self.cfg.window)
        starts = list(range(0, max(t - chunk, 0) + 1, chunk))
        if starts[-1] + chunk < t:
            starts.append(t - chunk)
        out = np.zeros((t, samples, 3))
        filled = np.zeros(t, dtype=bool)
        from tqdm.auto import tqdm

        for k in tqdm(starts, desc="dense trajectory", unit="window", disable=not progress, leave=False):
            x = prepare_frames(frames[k : k + chunk], self.cfg.image_size, self.resize, source).to(self.device)
            feats = self.net(x)
            ref = sparse[k].copy()
            sp = torch.from_numpy((sparse[k : k + chunk] - ref)[None]).float().to(self.device)
            dense = self.decoder.decode(x, sp, feats, focal, samples)[0].cpu().numpy() + ref
            new = ~filled[k : k + chunk]
            out[k : k + chunk][new] = dense[new]
            filled[k : k + chunk] = True
        if continuous:
            return continuous_dense(out, anchors)
        return np.where(np.isfinite(anchors).all(1)[:, None, None], out, np.nan)  # unsolved frames: no anchor


def load_decoder(name_or_path: str, depth_net: BlurDepthNet) -> TrajectoryDecoder:
    """A trajectory-decoder checkpoint, attached to ``depth_net`` (whose Self-Window it shares)."""
    from dataclasses import replace

    from motiondepth.models.weights import load_into, load_weights

    state, card = load_weights(name_or_path, expect_model="trajectory-decoder")
    try:
        trained = BlurDepthConfig.from_dict(card.get("model_config", {}))
    except TypeError as exc:
        raise InputError(name_or_path, f"card has an unreadable model_config ({exc})") from None
    if replace(trained, extra={}) != replace(depth_net.cfg, extra={}):
        raise InputError(
            name_or_path,
            f"trajectory decoder was trained on depth checkpoint {card.get('depth_checkpoint')!r} with a different "
            "configuration than the depth network given",
        )
    decoder = TrajectoryDecoder(depth_net.cfg, depth_net.self_window)
    load_into(decoder, state, name_or_path, "trajectory-decoder", allow_missing=("self_window.",))  # shared, loaded
    decoder.card = card
    return decoder.eval()
