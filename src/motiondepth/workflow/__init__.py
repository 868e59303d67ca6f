"""``motiondepth run``: a short shaky clip → camera rotation, metric depth and depth over time.

The two methods compose (docs/design.md §1): the blur network gives metric depth at the start, the optics
solver gives the camera rotation from tracked points, and Seurat carries depth through time.
Steps, each a plain function usable on its own:

1. :func:`decode_video`        frames from a video file (PyAV), an image folder or a ``simulate`` folder; range,
                               stride, resize; every frame interval checked
2. :func:`resolve_intrinsics`  from ``fx/fy/cx/cy``, a calibration file, a field of view, or a default
3. :func:`track_points`        the paper's query grid tracked through the clip (KLT unless told otherwise), or
                               the user's own tracks (``--tracks``)
4. :func:`estimate_depth`      metric depth of the first frame: the blur network, or a user depth map
5. :func:`solve_motion`        rotation and translation by the small-motion bundle adjustment (``--motion auto``,
                               the default), which keeps the papers' pivot model where it fits better;
   :func:`solve_rotation`      the papers' optics-based per-frame rotation (``--motion lsq``, and in that case)
6. :func:`densify`             dense trajectory, S samples per frame, from the trajectory decoder
7. :func:`lift_tracks`         Seurat depth over time of every track, scaled by the first-frame depth
8. :func:`write_exports`       ``points.ply``, ``overlay.mp4``, ``stabilized.mp4``, ``trajectory.png``,
                               ``spectrum.png``, ``report.html``

:func:`summarize` also measures the shake's spectrum (RMS rotation per frequency band, from the
dense trajectory and from the per-frame solve; :mod:`motiondepth.eval.spectrum`).

:func:`run` chains them with a cache in the output folder (:class:`StepCache`). Each step's settings
and inputs (upstream steps included) hash to a key kept in ``config.json``; a step whose files exist
under the same key is loaded instead of recomputed, a changed setting recomputes that step and those
after it, and ``overwrite=True`` recomputes everything. Every file is written to a temporary name
and renamed, and ``config.json`` is updated after each step, so an interrupted or failed run never
leaves a half-written file and the next run resumes after the last finished step.

Modules: :mod:`~motiondepth.workflow.config` (settings, containers, thresholds),
:mod:`~motiondepth.workflow.inputs` (frames, intrinsics, timing), :mod:`~motiondepth.workflow.steps`
(the computing steps), :mod:`~motiondepth.workflow.stages` (the steps as ``run`` caches
them), :mod:`~motiondepth.workflow.summary` (numbers and warnings),
:mod:`~motiondepth.workflow.cache` (the step cache), :mod:`~motiondepth.workflow.exports` (files for
people and other tools), :mod:`~motiondepth.workflow.runner` (:func:`run`) and
:mod:`~motiondepth.workflow.batch` (:func:`run_batch`: many clips, one table).
"""

from motiondepth.geometry.camera import DEFAULT_HFOV_DEG
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
from motiondepth.io.camera import calibration_record, read_calibration, read_lens_distortion, resolve_intrinsics
from motiondepth.workflow.batch import BatchItem, BatchResult, clips_in, run_batch
from motiondepth.workflow.cache import StepCache, check_output_dir, environment
from motiondepth.workflow.config import ARCMIN_PER_RAD, FOCAL_AUTO, OUTPUT_FILES, Clip, Result, RunConfig
from motiondepth.workflow.exports import write_exports
from motiondepth.workflow.inputs import decode_video, exposure_timing, gyro_aid, solver_config
from motiondepth.workflow.runner import run
from motiondepth.workflow.steps import (
    densify,
    estimate_depth,
    estimate_focal_length,
    focal_outcome,
    lift_tracks,
    make_tracks,
    rescale_by_parallax,
    scale_to_distance,
    solve_motion,
    solve_rotation,
    track_points,
)
from motiondepth.workflow.summary import add_depth_notes, add_median_interval, scale_warning, shake_spectra, summarize

__all__ = [
    "ARCMIN_PER_RAD",
    "DEFAULT_HFOV_DEG",
    "DEFAULT_PIVOT_M",
    "FOCAL_AUTO",
    "OUTPUT_FILES",
    "BatchItem",
    "BatchResult",
    "Clip",
    "Result",
    "RunConfig",
    "StepCache",
    "add_depth_notes",
    "add_median_interval",
    "calibration_record",
    "check_output_dir",
    "clips_in",
    "decode_video",
    "densify",
    "environment",
    "estimate_depth",
    "estimate_focal_length",
    "exposure_timing",
    "focal_outcome",
    "gyro_aid",
    "lift_tracks",
    "make_tracks",
    "read_calibration",
    "read_lens_distortion",
    "rescale_by_parallax",
    "resolve_intrinsics",
    "run",
    "run_batch",
    "scale_to_distance",
    "scale_warning",
    "shake_spectra",
    "solve_motion",
    "solve_rotation",
    "solver_config",
    "summarize",
    "track_points",
    "write_exports",
]  # fmt: skip
