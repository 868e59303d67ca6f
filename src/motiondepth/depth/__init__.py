"""First-frame metric depth sources, side by side: the blur-depth network with its dense trajectory decoder
(:mod:`motiondepth.depth.blur`) and a local Hugging Face metric depth model (:mod:`motiondepth.depth.hf`)."""

from motiondepth.depth.blur import BlurPredictor, prepare_frames

__all__ = ["BlurPredictor", "prepare_frames"]
