"""Seurat inference: tracks → depth ratios over time → metric 3D tracks (Seurat §3.4–3.5)."""

from motiondepth.seurat.depth_source import DepthMaps, DepthSource, FlickeringDepth, load_depth_source
from motiondepth.seurat.inference import SeuratPredictor, scale_match
from motiondepth.seurat.windows import chain_log_ratios
from motiondepth.types import Tracks3D

__all__ = [
    "DepthMaps",
    "DepthSource",
    "FlickeringDepth",
    "SeuratPredictor",
    "Tracks3D",
    "chain_log_ratios",
    "load_depth_source",
    "scale_match",
]
