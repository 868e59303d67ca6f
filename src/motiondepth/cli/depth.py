"""Depth from the learned models: ``depth`` (first frame, blur network or a Hugging Face model) and ``track-depth``
(Seurat or rigid geometry: depth over time of 2D tracks)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from motiondepth import options as opt
from motiondepth.cli.common import (
    CHAIN_CHOICES,
    add_deprecated_alias,
    add_device_argument,
    add_intrinsics_args,
    intrinsics_from_args,
)
from motiondepth.errors import InputError, check_device
from motiondepth.geometry.camera import DEFAULT_HFOV_DEG
from motiondepth.io.tracks import save_tracks3d
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.options import Range, number


def _intrinsics_for(a: argparse.Namespace, tracks_intr, size: tuple[int, int]):
    from motiondepth.geometry.camera import Intrinsics

    intr = intrinsics_from_args(a)
    if intr is not None:
        return intr, None
    if a.calibration:
        from motiondepth.io.camera import resolve_intrinsics

        return resolve_intrinsics(tuple(size), calibration=a.calibration)[0], None
    if tracks_intr is not None:
        return Intrinsics.from_array(tracks_intr), None
    h, w = size
    return Intrinsics.from_hfov(a.hfov, w, h), f"no intrinsics given: assumed a {a.hfov:.0f}° horizontal field of view"


def cmd_track_depth(a: argparse.Namespace) -> int:
    from motiondepth.io.tracks import load_tracks
    from motiondepth.seurat.depth_source import load_depth_source
    from motiondepth.seurat.inference import SeuratPredictor

    tracks, tracks_intr = load_tracks(a.tracks)
    size = tracks.image_size
    if min(size) <= 0:
        raise InputError(a.tracks, "tracks file has no image_size; needed to normalise positions")
    source = load_depth_source(a.depth, size, a.depth_scale)
    intr, warning = _intrinsics_for(a, tracks_intr, size)
    a.device = check_device(a.device)
    predictor = SeuratPredictor.from_pretrained(a.seurat_checkpoint, stride=a.stride, chain=a.chain, device=a.device)
    frames = None
    if a.video:
        from motiondepth.io.video import load_frames

        frames, _, _ = load_frames(a.video)
        if frames.shape[1:3] != tuple(size):
            raise InputError(a.video, f"video is {frames.shape[2]}x{frames.shape[1]}, tracks {size[1]}x{size[0]}")
        if len(frames) != tracks.num_frames:
            raise InputError(a.video, f"video has {len(frames)} frames, tracks {tracks.num_frames}")
    t0 = time.perf_counter()
    out = predictor.lift(tracks.tracks.astype(np.float64), tracks.visible, size, intr, source, tracks.queries,
                         frames=frames, method=a.method)  # fmt: skip
    save_tracks3d(a.out, out)
    z = out.depth[out.visible]
    if warning:
        print(f"warning: {warning}")
    print(
        f"wrote {a.out}: {out.xyz.shape[1]} tracks x {out.xyz.shape[0]} frames, depth {np.percentile(z, 5):.2f}–"
        f"{np.percentile(z, 95):.2f} m (5–95 %), {time.perf_counter() - t0:.2f} s"
    )
    return 0


def cmd_depth(a: argparse.Namespace) -> int:
    from motiondepth.depth.blur import BlurPredictor
    from motiondepth.io.atomic import save_npz
    from motiondepth.io.video import FrameSelection, load_frames
    from motiondepth.viz.plots import save_depth_png

    a.device = check_device(a.device)
    if a.depth_model:
        from motiondepth.depth.hf import HFDepthPredictor

        pred, used = HFDepthPredictor(a.depth_model, device=a.device), 2  # one frame is used; a clip has at least two
    else:
        pred = BlurPredictor(a.depth_checkpoint, None, resize=not a.no_resize, device=a.device)
        used = pred.cfg.num_frames
    # only the frames the network reads are decoded and kept (a long clip costs no memory)
    frames, _, _ = load_frames(a.input, a.start + used, select=FrameSelection(start=a.start))
    t0 = time.perf_counter()
    depth = pred.depth(frames, source=str(a.input))
    dt = time.perf_counter() - t0
    out = Path(a.out)
    model = a.depth_model or a.depth_checkpoint
    save_npz(out, depth=depth, checkpoint=np.array(str(model)), first_frame=np.array(a.start))
    png = out.with_suffix(".png")
    save_depth_png(png, depth)
    print(f"wrote {out} and {png}: depth {np.percentile(depth, 2):.2f}–{np.percentile(depth, 98):.2f} m "
          f"(2–98th percentile), median {np.median(depth):.2f} m; network {dt:.2f} s")  # fmt: skip
    return 0


def add_commands(sub) -> None:
    """Register ``track-depth`` and ``depth``."""
    _add_track_depth(sub)
    _add_depth(sub)


def _add_track_depth(sub) -> None:
    """Register ``track-depth``."""
    d = sub.add_parser(
        "track-depth",
        help="metric depth over time for 2D tracks (Seurat)",
        description="Lift 2D tracks to metric 3D: Seurat predicts each track's depth ratio over time in sliding "
        "windows, chains them, and scales each visible run by median matching against DEPTH (Eq. 10-11). Writes "
        "a TAPVid-3D-style .npz: tracks_XYZ (T,N,3) metres, visibility (T,N), fx_fy_cx_cy, queries_xyt.",
    )
    d.add_argument("tracks", metavar="TRACKS", help="tracks .npz (from 'motiondepth track' or any tracker: keys "
                   "tracks (T,N,2), visible (T,N), queries (N,3), image_size)")  # fmt: skip
    d.add_argument("--depth", required=True, metavar="DEPTH", help="metric depth: .npz/.npy 'depth' (H,W) for "
                   "frame 0 or (T,H,W) per frame, a 16-bit PNG, or a folder of per-frame maps")  # fmt: skip
    d.add_argument(
        "--depth-scale",
        type=number(opt.DEPTH_SCALE),
        metavar="M_PER_UNIT",
        help="metres per unit of integer depth images",
    )
    d.add_argument("--method", default="seurat", choices=["seurat", "rigid"], help="where the depth ratios come "
                   "from: the Seurat model (default) or rigid-scene geometry (camera motion per window from the "
                   "supporting tracks; exact on a static scene, wrong on moving objects; needs true "
                   "intrinsics)")  # fmt: skip
    d.add_argument("--seurat-checkpoint", default="seurat-small", metavar="NAME_OR_PATH",
                   help="Seurat checkpoint (default seurat-small; its window, stride and grid also serve --method "
                   "rigid; was --checkpoint, still accepted)")  # fmt: skip
    add_deprecated_alias(d, "--checkpoint", "--seurat-checkpoint", "seurat_checkpoint", "NAME_OR_PATH")
    add_device_argument(d)
    d.add_argument("--video", metavar="VIDEO", help="re-track the supporting grid per window on this video "
                   "(default: the tracks visible at each window start support it)")  # fmt: skip
    add_intrinsics_args(d, "the tracks' frames (default: those saved with the tracks)",
                        calibration="intrinsics file, any format 'run --calibration' reads (camera.json from simulate, "
                        "OpenCV, ROS, COLMAP, Gyroflow)")  # fmt: skip
    d.add_argument(
        "--hfov",
        type=number(opt.HFOV),
        default=DEFAULT_HFOV_DEG,
        metavar="DEG",
        help=f"horizontal field of view assumed without intrinsics (default {DEFAULT_HFOV_DEG:g})",
    )
    d.add_argument(
        "--stride",
        type=number(Range(1, 1000, integer=True)),
        metavar="S",
        help="window stride (default: the model's, 4)",
    )
    d.add_argument("--chain", choices=CHAIN_CHOICES, default="average", help="how overlapping windows are "
                   "chained: 'average' (default) links each window over all shared frames and averages them; "
                   "'last' is the paper's Eq. 9")  # fmt: skip
    d.add_argument("--out", required=True, metavar="TRACKS3D.npz", help="output file")
    d.set_defaults(func=cmd_track_depth)


def _add_depth(sub) -> None:
    """Register ``depth``."""
    dp = sub.add_parser(
        "depth",
        help="metric depth of the first frame from a shaky clip (blur network)",
        description="Predict the metric depth map of the first frame of a shaky clip with the blur-depth network "
        "(perspective-blur paper, section 3.3). INPUT is a video file, a folder of images or a 'motiondepth simulate' "
        "folder. Frames are "
        "resized to the checkpoint's square resolution and the depth map back to the input size. Writes OUT "
        "(.npz with 'depth' (H,W) metres) and a colour-mapped PNG beside it.",
    )
    dp.add_argument("input", metavar="VIDEO_OR_DIR")
    dp.add_argument("--depth-checkpoint", default=VIDEO_DEPTH_CHECKPOINT, metavar="NAME_OR_PATH",
                    help=f"blur-depth checkpoint (default {VIDEO_DEPTH_CHECKPOINT}, best on real indoor footage; "
                    "blur-depth-small is best on procedural clips; was --checkpoint, still accepted)")  # fmt: skip
    add_deprecated_alias(dp, "--checkpoint", "--depth-checkpoint", "depth_checkpoint", "NAME_OR_PATH")
    dp.add_argument("--depth-model", metavar="DIR",
                    help="local Hugging Face metric depth model folder to use instead (see run)")  # fmt: skip
    dp.add_argument(
        "--start",
        type=number(Range(0, 10**8, integer=True)),
        default=0,
        metavar="K",
        help="first frame to use (default 0)",
    )
    dp.add_argument("--no-resize", action="store_true", help="refuse frames whose size differs from the checkpoint's")
    add_device_argument(dp)
    dp.add_argument("--out", required=True, metavar="DEPTH.npz",
                    help="output: 'depth' (H,W) metres; a colour-mapped PNG is written beside it")  # fmt: skip
    dp.set_defaults(func=cmd_depth)
