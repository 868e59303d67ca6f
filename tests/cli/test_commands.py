"""End to end through the command line, including bad input handling."""

import json

import cv2
import numpy as np
import pytest

from motiondepth.cli import main
from motiondepth.io.trajectory import read_trajectory_csv


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "sim"
    assert main(["simulate", "--procedural", "--frames", "6", "--seed", "2", "--out", str(out)]) == 0
    return out


def test_simulate_outputs(sim_dir):
    files = ["camera.json", "frames.npz", "groundtruth.npz", "gyro.csv", "video.mp4"]
    assert sorted(p.name for p in sim_dir.iterdir()) == files
    with np.load(sim_dir / "frames.npz") as f:
        assert f["frames"].shape == (6, 518, 518, 3) and f["frames"].dtype == np.uint8
    with np.load(sim_dir / "groundtruth.npz") as g:
        assert g["trajectory"].shape == (6, 3)
        assert g["trajectory_dense_15"].shape == (6, 15, 3) and g["trajectory_dense_30"].shape == (6, 30, 3)
        assert g["depth"].shape == (518, 518) and g["intrinsics"].shape == (4,) and g["timestamps"].shape == (6,)
        np.testing.assert_array_equal(g["trajectory"][0], 0.0)
    cam = json.loads((sim_dir / "camera.json").read_text())
    assert cam["name"] == "phone" and cam["num_frames"] == 6 and cam["exposure_s"] == 0.06


def test_track_trajectory_eval(sim_dir, tmp_path, capsys):
    tracks = tmp_path / "tracks.npz"
    assert main(["track", str(sim_dir), "--grid-half", "6", "--out", str(tracks)]) == 0
    with np.load(tracks) as t:
        assert t["tracks"].shape == (6, 169, 2) and t["queries"].shape == (169, 3)
        assert list(t["image_size"]) == [518, 518]
    for mode in ("paper", "lsq", "homography"):
        csv = tmp_path / f"{mode}.csv"
        args = [
            "trajectory",
            str(tracks),
            "--depth",
            str(sim_dir / "groundtruth.npz"),
            "--calibration",
            str(sim_dir / "camera.json"),
        ]
        assert main([*args, "--mode", mode, "--out", str(csv)]) == 0
    capsys.readouterr()
    assert (
        main(["eval", "trajectory", "--pred", str(tmp_path / "lsq.csv"), "--gt", str(sim_dir / "groundtruth.npz")]) == 0
    )
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["rmse_arcmin"] < 2.0 and {"abs_rel", "e1", "e2"} <= set(metrics)
    # rolling-shutter models: all finite and close to one another on this phone clip
    angles = {}
    for rs in ("prior", "free", "off"):
        csv = tmp_path / f"rs-{rs}.csv"
        assert main([*args, "--rolling-shutter", rs, "--readout-ms", "2.07", "--out", str(csv)]) == 0
        angles[rs] = read_trajectory_csv(csv).angles
    assert np.isfinite(angles["off"]).all() and np.abs(angles["prior"] - angles["free"]).max() < 1e-3
    assert main([*args, "--readout-ms", "-3", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--readout-ms" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()


def _err(capsys):
    return capsys.readouterr().err.strip()


def test_bad_inputs_exit_nonzero_with_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    rgb = tmp_path / "rgb.png"
    cv2.imwrite(str(rgb), np.zeros((40, 50, 3), np.uint8))
    bad_size = tmp_path / "depth_size.png"
    cv2.imwrite(str(bad_size), np.full((40, 60), 1000, np.uint16))
    zeros = tmp_path / "zeros.png"
    cv2.imwrite(str(zeros), np.zeros((40, 50), np.uint16))
    nan = tmp_path / "nan.npz"
    np.savez(nan, depth=np.full((40, 50), np.nan))
    gyro = tmp_path / "gyro.csv"
    gyro.write_text("time_s,wx,wy,wz\n0,0,0,0\n0.2,0,0,0\n0.1,0,0,0\n3,0,0,0\n")
    cases = [
        (["simulate", "--rgb", str(tmp_path / "missing.png"), "--depth", str(zeros), "--out", str(out)], "missing.png"),
        (["simulate", "--rgb", str(rgb), "--depth", str(bad_size), "--out", str(out)], "depth_size.png"),
        (["simulate", "--rgb", str(rgb), "--depth", str(zeros), "--out", str(out)], "all zero"),
        (["simulate", "--rgb", str(rgb), "--depth", str(nan), "--out", str(out)], "NaN"),
        (["simulate", "--procedural", "--shake", str(gyro), "--out", str(out)], "not strictly increasing"),
        (["simulate", "--procedural", "--frames", "1", "--out", str(out)], "--frames"),
        (["track", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "t.npz")], "nope.mp4"),
        (["eval", "trajectory", "--pred", str(tmp_path / "p.csv"), "--gt", str(tmp_path / "g.npz")], "p.csv"),
    ]
    for args, needle in cases:
        assert main(args) == 2, args
        err = _err(capsys)
        assert needle in err and err.count("\n") == 0 and "Traceback" not in err, err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    assert main(["track", str(broken), "--out", str(tmp_path / "t.npz")]) == 2
    assert "broken.mp4" in _err(capsys)
    assert not out.exists() and not (tmp_path / "t.npz").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_help_texts(capsys):
    for cmd in (["--help"], ["simulate", "--help"], ["track", "--help"], ["trajectory", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(cmd)
        assert e.value.code == 0
    assert "rolling-shutter" in capsys.readouterr().out


def _option_actions():
    """(command, argparse action) of every option of every command."""
    import argparse

    from motiondepth.cli import build_parser

    def walk(parser, name):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for cmd, sub in action.choices.items():
                    yield from walk(sub, f"{name} {cmd}".strip())
            elif action.option_strings:
                yield name, action

    return list(walk(build_parser(), ""))


def test_every_option_has_help_and_one_vocabulary():
    """Every option says what it does, and the same thing has the same flag in every command (cli/common.py)."""
    import argparse

    actions = _option_actions()
    shown = [(cmd, a) for cmd, a in actions if a.help != argparse.SUPPRESS]
    assert not [f"{cmd} {a.option_strings[0]}" for cmd, a in shown if not a.help]
    # one spelling per destination among the shown options
    flags: dict[str, set] = {}
    for _, a in shown:
        if a.dest not in ("help", "version", "out"):
            flags.setdefault(a.dest, set()).add(a.option_strings[-1])
    assert not {d: f for d, f in flags.items() if len(f) > 1}
    # checkpoints: named by what they hold; intrinsics: --fx/--fy/--cx/--cy and --calibration; --camera: a preset
    shown_flags = {f"{cmd} {a.option_strings[-1]}": a for cmd, a in shown}
    assert not [k for k in shown_flags if k.endswith(" --checkpoint") or k.endswith(" --intrinsics")]
    assert {k for k in shown_flags if k.endswith(" --camera")} == {"simulate --camera", "demo --camera"}
    hidden = sorted(f"{cmd} {a.option_strings[0]}" for cmd, a in actions if a.help == argparse.SUPPRESS)
    assert hidden == sorted([
        "depth --checkpoint", "eval blur-depth --checkpoint", "eval seurat --checkpoint",
        "predict-tapvid3d --checkpoint", "track-depth --checkpoint", "simulate --intrinsics", "track --intrinsics",
        "track-depth --intrinsics",
        "track --camera", "track-depth --camera", "trajectory --camera",
    ])  # fmt: skip


def test_old_flag_names_still_work_with_a_deprecation_warning(capsys):
    from motiondepth.cli import build_parser

    parser = build_parser()
    a = parser.parse_args(["depth", "v.mp4", "--checkpoint", "blur-depth-small", "--out", "d.npz"])
    assert a.depth_checkpoint == "blur-depth-small"
    a = parser.parse_args(["track-depth", "t.npz", "--depth", "d.npz", "--checkpoint", "x", "--camera", "c.json",
                           "--out", "o.npz"])  # fmt: skip
    assert (a.seurat_checkpoint, a.calibration) == ("x", "c.json")
    err = capsys.readouterr().err
    assert "--checkpoint is deprecated" in err and "use --depth-checkpoint" in err and "use --calibration" in err
    help_text = " ".join(parser._subparsers._group_actions[0].choices["track-depth"].format_help().split())
    assert "was --checkpoint, still accepted" in help_text and "--intrinsics FX,FY,CX,CY is the deprecated" in help_text
    from motiondepth.cli.common import intrinsics_from_args

    a = parser.parse_args(["track", "clip", "--intrinsics", "100,110,50,60", "--cx", "55", "--out", "t.npz"])
    intr = intrinsics_from_args(a)
    assert (intr.fx, intr.fy, intr.cx, intr.cy) == (100, 110, 55, 60)  # the new flags win where both are given
    assert "--intrinsics is deprecated" in capsys.readouterr().err
    from motiondepth.errors import InputError

    with pytest.raises(InputError, match="missing --cx, --cy"):
        intrinsics_from_args(parser.parse_args(["track", "clip", "--fx", "100", "--fy", "100", "--out", "t.npz"]))


def test_python_dash_m_motiondepth_is_the_command():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "motiondepth", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "simulate" in out.stdout and "run" in out.stdout


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    names = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"angles.png", "trajectory_3d.png", "tracks.png", "metrics.json", "simulation"} <= names
    m = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert m["methods"]["lsq"]["rmse_arcmin"] < m["methods"]["homography"]["rmse_arcmin"]
    assert "lsq" in capsys.readouterr().out


def test_spelled_out_choices_match_the_library():
    """The parser lists some choices literally (to keep start-up light); they must match the library."""
    import argparse

    from motiondepth.cli import build_parser
    from motiondepth.seurat.windows import CHAIN_MODES
    from motiondepth.trajectory.optics import ROLLING_SHUTTER_MODES

    def subparsers(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield sub
                    yield from subparsers(sub)

    found = {}
    for sub in subparsers(build_parser()):
        for action in sub._actions:
            if action.dest in ("chain", "rolling_shutter"):
                found.setdefault(action.dest, []).append(tuple(action.choices))
    assert len(found["chain"]) == 2 and all(set(c) == set(CHAIN_MODES) for c in found["chain"])
    from motiondepth.options import BUILTIN_TRACKERS
    from motiondepth.tracking import available_trackers

    assert set(BUILTIN_TRACKERS) == set(available_trackers())
    trackers = [a.choices for sub in subparsers(build_parser()) for a in sub._actions if a.dest == "tracker"]
    assert len(trackers) == 2 and all(tuple(c) == BUILTIN_TRACKERS for c in trackers)
    assert len(found["rolling_shutter"]) == 2
    assert all(set(c) == set(ROLLING_SHUTTER_MODES) for c in found["rolling_shutter"])


def test_real_footage_commands_share_one_depth_default():
    """``run``, ``depth`` and ``motiondepth.run`` use the same shipped depth checkpoint by default;
    ``eval blur-depth`` keeps the procedural benchmark's model."""
    from motiondepth.cli import build_parser
    from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT, available
    from motiondepth.workflow import RunConfig

    parser = build_parser()
    assert VIDEO_DEPTH_CHECKPOINT in available()
    assert RunConfig().depth_checkpoint == VIDEO_DEPTH_CHECKPOINT
    assert parser.parse_args(["run", "v.mp4", "--out", "o"]).depth_checkpoint == VIDEO_DEPTH_CHECKPOINT
    assert parser.parse_args(["depth", "v.mp4", "--out", "d.npz"]).depth_checkpoint == VIDEO_DEPTH_CHECKPOINT
    assert parser.parse_args(["eval", "blur-depth", "--out", "r.json"]).depth_checkpoint == "blur-depth-small"


def test_models_lists_checkpoints_and_their_default_uses(capsys):
    from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT, available, load_weights

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in available())
    block = out.split(VIDEO_DEPTH_CHECKPOINT, 1)[1].split("\n")[1]  # the line under the checkpoint's row
    assert "run --depth-checkpoint" in block and "depth --depth-checkpoint" in block

    assert main(["models", "seurat-small"]) == 0
    info = json.loads(capsys.readouterr().out)
    state, card = load_weights("seurat-small")
    assert info["parameters"] == sum(v.numel() for v in state.values())
    assert info["model"] == card["model"] == "seurat" and info["card"] == card

    assert main(["models", "no-such-model"]) == 2
    assert "no-such-model" in _err(capsys)


def test_models_names_a_checkpoint_given_by_path_by_its_path(tmp_path, capsys):
    import torch

    from motiondepth.models.weights import save_weights

    path = save_weights({"w": torch.zeros(3, 4), "b": torch.zeros(4)}, tmp_path / "mine.safetensors",
                        {"model": "seurat", "name": "small"})  # fmt: skip
    assert main(["models", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == str(path) and info["parameters"] == 16 and info["card"]["name"] == "small"


def test_models_rejects_a_file_that_is_not_safetensors(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 12)
    bad.with_suffix(".json").write_text('{"model": "seurat"}')
    assert main(["models", str(bad)]) == 2
    assert "bad.safetensors" in _err(capsys)


def test_output_into_a_closed_pipe_is_not_an_error():
    """``motiondepth models | head -1``: the reader leaves early; no traceback, exit status 0."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "motiondepth.cli", "models", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.close()  # before the child has written anything: its first write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_trajectory_command_takes_the_lens_out_of_the_tracks_and_depth(tmp_path, monkeypatch):
    """`trajectory --calibration CALIB` with distortion: the distorted tracks and depth solve like the pinhole ones."""
    import motiondepth.io.camera as video_io
    from motiondepth.geometry.distortion import LensDistortion, distort_frames
    from motiondepth.io.tracks import save_tracks
    from motiondepth.simulate import camera_preset
    from motiondepth.simulate.scene import simulate_scene
    from motiondepth.tracking.grid import track_frames

    cam = camera_preset("phone", width=192, height=192, num_frames=10)
    video = simulate_scene(cam, scene_seed=5, shake_seed=5)
    k, lens = video.intrinsics, LensDistortion("opencv", (-0.3, 0.08, 0.0, 0.0))
    tracks = track_frames(video.frames, 8, k)
    save_tracks(tmp_path / "pinhole.npz", tracks)
    tracks.tracks = lens.distort_points(tracks.tracks, k).astype(np.float32)  # where the lens would record them
    save_tracks(tmp_path / "lens.npz", tracks)
    np.savez(tmp_path / "depth.npz", depth=video.depth)
    np.savez(tmp_path / "depth_lens.npz", depth=distort_frames(video.depth[None], k, lens)[0])
    calib = {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy, "pivot_m": cam.pivot_m}
    (tmp_path / "pinhole.json").write_text(json.dumps(calib))
    (tmp_path / "lens.json").write_text(json.dumps(calib | {"dist_coeffs": list(lens.coeffs)}))

    def solve(tr, depth, camera):
        out = tmp_path / f"{tr}-{camera}.csv"
        d, c = tmp_path / f"{depth}.npz", tmp_path / f"{camera}.json"
        args = ["trajectory", str(tmp_path / f"{tr}.npz"), "--depth", str(d), "--calibration", str(c)]
        assert main([*args, "--out", str(out)]) == 0
        return read_trajectory_csv(out).angles

    truth = solve("pinhole", "depth", "pinhole")
    reads = []
    read = video_io.read_camera_json
    monkeypatch.setattr(video_io, "read_camera_json", lambda p: reads.append(p) or read(p))
    undistorted = solve("lens", "depth_lens", "lens")
    assert len(reads) == 1  # the calibration file is parsed once for intrinsics, pivot and lens
    as_pinhole = solve("lens", "depth_lens", "pinhole")
    err_lens, err_pinhole = (np.abs(a - truth)[1:].max() for a in (undistorted, as_pinhole))
    assert err_lens < 0.1 * err_pinhole and err_lens < 2e-4, (err_lens, err_pinhole)


def test_track_speaks_runs_words_for_frames_and_the_camera(sim_dir, tmp_path):
    """Issue 48 #9: --start/--end/--stride and --calibration as run has them; a simulate folder's camera.json is
    used without being asked for."""
    from motiondepth.io.tracks import load_tracks

    out = tmp_path / "t.npz"
    assert main(["track", str(sim_dir), "--grid-half", "3", "--start", "1", "--end", "5", "--stride", "2",
                 "--out", str(out)]) == 0  # fmt: skip
    tracks, intr = load_tracks(out)
    assert tracks.num_frames == 2 and intr is not None
    cam = json.loads((sim_dir / "camera.json").read_text())
    assert np.allclose(intr, cam["intrinsics"])
    assert main(["track", str(sim_dir), "--grid-half", "3", "--calibration", str(sim_dir / "camera.json"),
                 "--out", str(out)]) == 0  # fmt: skip
    assert np.allclose(load_tracks(out)[1], cam["intrinsics"])


def test_track_on_a_real_image_folder_without_intrinsics(tum_fr1, tmp_path, capsys):
    """Issue 48 #9: an image folder has no camera.json; the grid goes about the image centre (it named a
    camera.json that did not exist). With the TUM calibration the frames are undistorted, as run does."""
    from motiondepth.io.atomic import write_json
    from motiondepth.io.tracks import load_tracks

    rgb = tum_fr1.folder / "rgb"
    out = tmp_path / "t.npz"
    assert main(["track", str(rgb), "--grid-half", "3", "--end", "4", "--out", str(out)]) == 0
    assert load_tracks(out)[0].num_frames == 4
    calib = tmp_path / "tum.json"
    write_json(calib, tum_fr1.calibration)
    capsys.readouterr()
    assert main(["track", str(rgb), "--grid-half", "3", "--end", "4", "--calibration", str(calib), "--out",
                 str(out)]) == 0  # fmt: skip
    assert "undistorted" in capsys.readouterr().out
    assert np.allclose(load_tracks(out)[1], [tum_fr1.calibration[k] for k in ("fx", "fy", "cx", "cy")])
