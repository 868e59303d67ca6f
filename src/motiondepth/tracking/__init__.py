"""Query grids and point trackers behind one interface."""

from motiondepth.tracking.base import Tracker, available_trackers, make_tracker, register_tracker
from motiondepth.tracking.blur_fit import BlurFit, BlurFitConfig, fit_blur_trace, track_with_blur_fit
from motiondepth.tracking.chain import ChainConfig, ChainedKLTTracker, track_chained
from motiondepth.tracking.crossblur import BlurKernels, CrossBlurConfig, exposure_kernels, track_cross_blur
from motiondepth.tracking.flow import DISFlowTracker, FlowConfig
from motiondepth.tracking.grid import grid_points, grid_queries, query_grid, track_frames
from motiondepth.tracking.klt import KLTConfig, KLTTracker

__all__ = [
    "BlurFit",
    "BlurFitConfig",
    "BlurKernels",
    "ChainConfig",
    "ChainedKLTTracker",
    "CrossBlurConfig",
    "DISFlowTracker",
    "FlowConfig",
    "KLTConfig",
    "KLTTracker",
    "Tracker",
    "available_trackers",
    "exposure_kernels",
    "fit_blur_trace",
    "grid_points",
    "grid_queries",
    "make_tracker",
    "query_grid",
    "register_tracker",
    "track_chained",
    "track_cross_blur",
    "track_frames",
    "track_with_blur_fit",
]
