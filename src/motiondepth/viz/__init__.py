"""Plots for reports and the demo (matplotlib, headless)."""

from motiondepth.viz.plots import plot_angles, plot_trajectory_3d, tracks_overlay

__all__ = ["plot_angles", "plot_trajectory_3d", "tracks_overlay"]
