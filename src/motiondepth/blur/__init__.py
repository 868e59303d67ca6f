"""Inference with the perspective-blur models: metric depth and dense trajectories from a clip."""

from motiondepth.blur.inference import BlurPredictor, prepare_frames

__all__ = ["BlurPredictor", "prepare_frames"]
