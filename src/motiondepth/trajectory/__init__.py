"""Sparse camera trajectory: the optics-based solver (paper and lsq modes) and baselines."""

from motiondepth.trajectory.homography import solve_homography
from motiondepth.trajectory.optics import (
    SolverConfig,
    estimate_readout,
    reprojection_residuals,
    sample_depth,
    solve_lsq,
    solve_paper,
    solve_trajectory,
)

__all__ = [
    "SolverConfig",
    "estimate_readout",
    "reprojection_residuals",
    "sample_depth",
    "solve_homography",
    "solve_lsq",
    "solve_paper",
    "solve_trajectory",
]
