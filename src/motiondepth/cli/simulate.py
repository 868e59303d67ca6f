"""``simulate`` and ``demo``: the forward model and the built-in demo."""

from __future__ import annotations

import argparse
import time

import numpy as np

from motiondepth import options as opt
from motiondepth.cli.common import add_intrinsics_args, intrinsics_from_args
from motiondepth.errors import InputError
from motiondepth.options import Range, number


def cmd_simulate(a: argparse.Namespace) -> int:
    from motiondepth.simulate.scene import preset_camera, rgbd_from_files, simulate_scene, write_simulation
    from motiondepth.simulate.shake import check_shake_spec

    cam = preset_camera(a.camera, pivot_m=a.pivot, num_frames=a.frames)
    rgbd = None
    if not a.procedural:
        if a.rgb is None or a.depth is None:
            raise InputError(None, "give --rgb IMAGE --depth DEPTH, or --procedural")
        rgbd = rgbd_from_files(a.rgb, a.depth, cam, a.depth_scale, intrinsics_from_args(a))
    shake = a.shake
    check_shake_spec(shake)
    t0 = time.perf_counter()
    video = simulate_scene(
        cam, rgbd, scene_seed=a.seed, shake=shake, shake_seed=a.shake_seed, shake_scale=a.shake_scale,
        shake_highpass_hz=a.shake_highpass,
        shake_start_s=None if a.shake_start < 0 else a.shake_start,  # negative: random (seeded) offset
        progress=True,
    )  # fmt: skip
    write_simulation(video, a.out)
    print(
        f"wrote {a.out}/: {len(video.frames)} frames {cam.width}x{cam.height}, median blur "
        f"{np.median(video.blur_px):.1f} px, {time.perf_counter() - t0:.1f} s"
    )
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from motiondepth.demo import run_demo, summary_table

    t0 = time.perf_counter()
    metrics = run_demo(a.out, seed=a.seed, camera=a.camera)
    print(summary_table(metrics))
    print(
        f"done in {time.perf_counter() - t0:.1f} s; see {a.out}/run/report.html (the full pipeline), "
        f"{a.out}/angles.png, trajectory_3d.png, tracks.png, metrics.json"
    )
    return 0


def add_simulate(sub) -> None:
    """Register ``simulate``."""
    s = sub.add_parser(
        "simulate",
        help="render a shaky rolling-shutter video from an RGB-D image",
        description="Render a shaky, rolling-shutter, motion-blurred video from one RGB-D image (or a built-in "
        "procedural scene), with ground-truth camera rotation. Writes DIR/frames.npz, DIR/video.mp4, "
        "DIR/groundtruth.npz and DIR/camera.json.",
    )
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--procedural", action="store_true", help="use a built-in procedural scene (seed: --seed)")
    src.add_argument("--rgb", metavar="IMAGE", help="colour image registered to --depth")
    s.add_argument(
        "--depth", metavar="DEPTH", help="depth map: 16-bit PNG/PGM (times --depth-scale) or .npz key 'depth' (m)"
    )
    s.add_argument(
        "--depth-scale",
        type=number(opt.DEPTH_SCALE),
        metavar="METRES_PER_UNIT",
        help="metres per unit of a 16-bit depth image (default 0.001)",
    )
    add_intrinsics_args(s, "the RGB-D pair (default: the preset's field of view)")
    s.add_argument(
        "--camera", default="phone", help="camera preset: phone (wide, f≈484 px) or telephoto (5x periscope, f≈2400 px)"
    )
    s.add_argument(
        "--shake",
        default="synthetic",
        metavar="synthetic|handheld|handheld-6dof|PATH",
        help="synthetic hand shake (handheld: the 2-12 Hz shake of real phone gyro logs; handheld-6dof: the same "
        "with hand translation, a centimetre of sway), or a gyro log (CSV time_s,wx,wy,wz; .gcsv; .gyroflow), "
        "an angle trace CSV time_s,roll_rad,pitch_rad,yaw_rad, or a TUM motion-capture groundtruth.txt "
        "(rotation and translation)",
    )
    s.add_argument(
        "--shake-seed",
        type=number(opt.SEED),
        default=0,
        metavar="N",
        help="seed of the synthetic shake (and of a random --shake-start)",
    )
    s.add_argument(
        "--shake-scale",
        type=number(opt.SHAKE_SCALE),
        default=1.0,
        metavar="X",
        help="multiply the shake angles (real logs often need < 1)",
    )
    s.add_argument(
        "--shake-highpass",
        type=number(Range(0.0, 1000.0, lo_open=True, unit="Hz")),
        metavar="HZ",
        help="remove slow pans from a log with a high-pass at HZ",
    )
    s.add_argument(
        "--shake-start",
        type=number(Range(-1e6, 1e6, unit="s")),
        default=0.0,
        metavar="SECONDS",
        help="offset into the log (default 0; negative = random)",
    )
    s.add_argument(
        "--pivot",
        type=number(opt.PIVOT),
        metavar="METRES",
        help="rotation pivot distance behind the camera (default 0.2 m)",
    )
    s.add_argument(
        "--frames", type=number(Range(2, 10000, integer=True)), metavar="N", help="number of frames (default 30)"
    )
    s.add_argument("--seed", type=number(opt.SEED), default=0, metavar="N", help="procedural scene seed")
    s.add_argument("--out", required=True, metavar="DIR", help="output directory")
    s.set_defaults(func=cmd_simulate)


def add_demo(sub) -> None:
    """Register ``demo``."""
    d = sub.add_parser(
        "demo",
        help="simulate → track → solve → score on a built-in scene (< 1 min)",
        description="Procedural scene → shaky phone video → KLT tracks → rotation by the paper's solver, the lsq "
        "refinement and the homography baseline → metrics and plots.",
    )
    d.add_argument(
        "--out", default="motiondepth-demo", metavar="DIR", help="output directory (default ./motiondepth-demo)"
    )
    d.add_argument("--seed", type=number(opt.SEED), default=0, metavar="N", help="procedural scene and shake seed")
    d.add_argument("--camera", default="phone", choices=["phone", "telephoto"], help="camera preset")
    d.set_defaults(func=cmd_demo)
