"""Hostile and careless input through the real command line (issue 35): no data file runs code, no silent
wrong result, every failure one clear line (exit code 2, the file or option named, no traceback) with
nothing left behind that was not there before."""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from motiondepth.cli import build_parser, main
from motiondepth.io.tracks import save_tracks
from motiondepth.models.weights import WEIGHTS_DIR, available
from motiondepth.simulate import camera_preset
from motiondepth.simulate.scene import simulate_scene, write_simulation
from motiondepth.tracking.grid import track_frames

HAVE_WEIGHTS = {"blur-depth-indoor", "blur-depth-small", "trajectory-small", "seurat-small"} <= set(available())
needs_weights = pytest.mark.skipif(not HAVE_WEIGHTS, reason="shipped checkpoints missing from this checkout")


class Payload:
    """Unpickling this object runs code: it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def fails_cleanly(args: list[str], needle: str, root: Path, capsys, code: int = 2) -> str:
    """Run the command; assert one stderr line naming ``needle``, exit ``code``, and nothing new under ``root``."""
    before = _tree(root)
    capsys.readouterr()
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == code, (args, rc, err)
    assert len(lines) == 1 and "Traceback" not in err, (args, err)
    assert needle in lines[0], (args, needle, lines[0])
    assert _tree(root) == before, (args, sorted(_tree(root) - before))
    return lines[0]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """A 12-frame 160 × 160 simulate folder, its KLT tracks, and a depth file."""
    d = tmp_path_factory.mktemp("sim")
    video = simulate_scene(camera_preset("phone", width=160, height=160, num_frames=12), scene_seed=3, shake_seed=3)
    write_simulation(video, d / "clip")
    tracks = track_frames(video.frames, 6, video.intrinsics)
    save_tracks(d / "tracks.npz", tracks, video.intrinsics.as_array())
    np.savez(d / "depth.npz", depth=video.depth)
    return {"dir": d / "clip", "tracks": d / "tracks.npz", "depth": d / "depth.npz", "video": video}


# ----------------------------------------------------------------------------- security


def _tapvid3d_arrays(t: int = 6, n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    xyz = np.concatenate([rng.uniform(-0.5, 0.5, (t, n, 2)), rng.uniform(1.0, 3.0, (t, n, 1))], -1)
    return {"queries_xyt": np.zeros((n, 3), np.float32), "tracks_XYZ": xyz.astype(np.float32),
            "visibility": np.ones((t, n), bool), "fx_fy_cx_cy": np.array([100.0, 100.0, 64.0, 48.0], np.float32),
            "image_size": np.array([96, 128])}  # fmt: skip


def test_tapvid3d_file_with_a_pickle_payload_runs_no_code(tmp_path, capsys):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    marker = tmp_path / "PWNED"
    arrays = _tapvid3d_arrays()
    np.savez(gt / "v.npz", **arrays, extra=np.array([Payload(marker)], dtype=object))
    np.savez(pred / "v.npz", tracks_XYZ=arrays["tracks_XYZ"], visibility=arrays["visibility"])
    fails_cleanly(["eval", "tapvid3d", "--gt", gt, "--pred", pred, "--out", tmp_path / "r.json"], "v.npz", tmp_path,
                  capsys)  # fmt: skip
    assert not marker.exists()
    # the same payload where real files keep their JPEG bytes: refused by the bytes-only unpickler
    np.savez(gt / "v.npz", **arrays, images_jpeg_bytes=np.array([Payload(marker), b"x"], dtype=object))
    line = fails_cleanly(["eval", "tapvid3d", "--gt", gt, "--pred", pred, "--out", tmp_path / "r.json"],
                         "images_jpeg_bytes", tmp_path, capsys)  # fmt: skip
    assert "v.npz" in line and not marker.exists()
    fails_cleanly(["predict-tapvid3d", "--gt", gt, "--out", tmp_path / "p2", "-q"], "v.npz", tmp_path, capsys)
    assert not marker.exists()


def test_tapvid3d_jpeg_bytes_still_read(tmp_path):
    """A real TAPVid-3D file's object array of JPEG bytes loads (without pickle's code paths)."""
    import cv2

    from motiondepth.io.tapvid3d import read_ground_truth

    jpeg = cv2.imencode(".jpg", np.zeros((96, 128, 3), np.uint8))[1].tobytes()
    arrays = {k: v for k, v in _tapvid3d_arrays().items() if k != "image_size"}
    np.savez(tmp_path / "v.npz", **arrays, images_jpeg_bytes=np.array([jpeg] * 6, dtype=object))
    gt, size = read_ground_truth(tmp_path / "v.npz")
    assert size == (96, 128) and gt["images_jpeg_bytes"][0] == jpeg


def test_planted_training_checkpoint_runs_no_code(tmp_path, capsys):
    import torch

    out = tmp_path / "train"
    out.mkdir()
    marker = tmp_path / "PWNED"
    torch.save({"model": {}, "optimizer": {}, "scheduler": {}, "step": 1, "torch_rng": Payload(marker)},
               out / "checkpoint.pt")  # fmt: skip
    fails_cleanly(["train", "seurat", "--out", out, "train.steps=1", "train.val_every=0"], "checkpoint.pt",
                  tmp_path, capsys)  # fmt: skip
    assert not marker.exists()
    (out / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")  # a torn write: refused, no traceback
    fails_cleanly(["train", "seurat", "--out", out, "train.steps=1"], "checkpoint.pt", tmp_path, capsys)


def test_summary_csv_cells_cannot_be_formulas(tmp_path, capsys):
    """A crafted clip name (and its error message) reaches summary.csv as text, never as a formula."""
    import csv

    bad = tmp_path / "=HYPERLINK(1).mp4"
    bad.write_bytes(b"not a video")
    other = tmp_path / "@other.mp4"
    other.write_bytes(b"not a video either")
    assert main(["run", str(bad), str(other), "--out", str(tmp_path / "batch"), "-q"]) == 1
    rows = list(csv.reader((tmp_path / "batch" / "summary.csv").open()))
    cells = [c for row in rows[1:] for c in row if c]
    assert cells and not any(c.startswith(("=", "+", "-", "@")) for c in cells), cells
    assert "'=HYPERLINK(1)" in cells and "'@other" in cells
    page = (tmp_path / "batch" / "index.html").read_text()
    assert "<td>=HYPERLINK(1)</td>" in page  # html-escaped text there, no formula risk


# ----------------------------------------------------------------------------- numeric options


def _numeric_options():
    """(command path, option, type) of every option of every command that takes a number."""
    found = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif action.option_strings and action.type not in (None, str) and action.nargs != 0:
                found.append((tuple(path), action.option_strings[-1], action))

    walk(build_parser(), [])
    return found


def test_every_numeric_option_has_a_range():
    """New numeric options must declare their range (options.number) or a fixed set of choices."""
    for path, option, action in _numeric_options():
        assert hasattr(action.type, "limits") or action.choices, (path, option)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e30", "99999999999999999999", "abc"])
def test_numeric_options_reject_what_they_cannot_use(value, tmp_path, capsys):
    """Table-driven over every command's numeric options: a value outside the option's range exits 2 with one
    line naming the option, before anything is read or written; a value inside it parses."""
    for path, option, action in _numeric_options():
        limits = getattr(action.type, "limits", None)
        if limits is None:  # a fixed set of choices
            ok = any(str(c) == value for c in action.choices)
        else:
            try:
                number = int(value) if limits.integer else float(value)
            except ValueError:
                number = None
            ok = number is not None and limits.problem(number) is None
        if ok:
            action.type(value)  # accepted as it is
            continue
        fails_cleanly([*path, option, value], option, tmp_path, capsys)


def test_run_api_checks_numbers_like_the_flags(tmp_path):
    import motiondepth
    from motiondepth.errors import InputError

    for field, flag, value in (("pivot_m", "--pivot", float("nan")), ("stabilize_sigma", "--stabilize-sigma",
                               float("inf")), ("depth_scale", "--depth-scale", 1e30), ("grid_half", "--grid-half",
                               1000), ("end", "--end", 0), ("tracker", "--tracker", "foo")):  # fmt: skip
        with pytest.raises(InputError, match=flag):
            motiondepth.run(tmp_path / "missing.mp4", tmp_path / "out", **{field: value})
    assert not (tmp_path / "out").exists()


def test_run_api_checks_every_choice_and_exclusion_like_the_flags(tmp_path):
    """One check from RunConfig's metadata (config.check_options): every field with choices refuses a value outside
    them through the Python API, naming its flag, and settings that exclude each other are refused together."""
    from dataclasses import fields

    import motiondepth
    from motiondepth.errors import InputError
    from motiondepth.workflow.config import EXCLUSIVE, RunConfig

    with_choices = [f for f in fields(RunConfig) if f.metadata.get("choices")]
    assert {f.name for f in with_choices} >= {"motion", "depth_rescale", "rolling_shutter", "tracker", "ply_axes"}
    for f in with_choices:
        with pytest.raises(InputError, match=f.metadata["option"]):
            motiondepth.run(tmp_path / "missing.mp4", tmp_path / "out", **{f.name: "bogus"})
    values = {"tracks": "t.npz", "gyro": "g.csv", "blur_fit": True, "scene_distance_m": 2.0, "depth": "d.npz"}
    for a, b, why in EXCLUSIVE:
        with pytest.raises(InputError, match=re.escape(why)):
            motiondepth.run(tmp_path / "missing.mp4", tmp_path / "out", **{a: values[a], b: values[b]})
    assert not (tmp_path / "out").exists()


def test_bad_intrinsics_and_principal_point(sim, tmp_path, capsys):
    fails_cleanly(["track-depth", sim["tracks"], "--depth", sim["depth"], "--fx", "nan", "--fy", "1",
                   "--cx", "2", "--cy", "3", "--out", tmp_path / "x.npz"], "--fx", tmp_path, capsys)  # fmt: skip
    line = fails_cleanly(["run", sim["dir"], "--out", tmp_path / "o", "--cx", "5000", "-q"], "--cx", tmp_path, capsys)
    assert "outside" in line


# ----------------------------------------------------------------------------- silent wrong results


def test_trajectory_on_tracks_with_nothing_visible(sim, tmp_path, capsys):
    d = dict(np.load(sim["tracks"]))
    d["visible"] = np.zeros_like(d["visible"])
    np.savez(tmp_path / "none.npz", **d)
    line = fails_cleanly(["trajectory", tmp_path / "none.npz", "--calibration", sim["dir"] / "camera.json", "--depth",
                          sim["depth"], "--out", tmp_path / "t.csv"], "none.npz", tmp_path, capsys)  # fmt: skip
    assert "too few tracked points" in line


def test_frames_that_lose_their_tracks_are_nan_not_zero(sim, tmp_path, capsys):
    from motiondepth.io.trajectory import read_trajectory_csv

    d = dict(np.load(sim["tracks"]))
    d["visible"][5:8] = False  # frames 5–7 lose every point
    np.savez(tmp_path / "gap.npz", **d)
    out = tmp_path / "t.csv"
    assert main(["trajectory", str(tmp_path / "gap.npz"), "--calibration", str(sim["dir"] / "camera.json"),
                 "--depth", str(sim["depth"]), "--out", str(out)]) == 0  # fmt: skip
    assert "3 frame(s) had too few tracked points" in capsys.readouterr().out
    angles = read_trajectory_csv(out).angles
    assert np.isnan(angles[5:8]).all() and np.isfinite(angles[:5]).all() and np.isfinite(angles[8:]).all()


@needs_weights
def test_track_depth_stride_must_overlap_windows(sim, tmp_path, capsys):
    line = fails_cleanly(["track-depth", sim["tracks"], "--depth", sim["depth"], "--stride", "100",
                          "--out", tmp_path / "x.npz"], "--stride", tmp_path, capsys)  # fmt: skip
    assert "window" in line


# ----------------------------------------------------------------------------- outputs


def test_single_file_outputs_that_cannot_be_written(sim, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cam = sim["dir"] / "camera.json"
    cases = [
        (["track", sim["dir"], "--grid-half", "2", "--out", folder], "a-folder"),
        (["depth", sim["dir"], "--out", folder], "a-folder"),
        (["trajectory", sim["tracks"], "--calibration", cam, "--depth", sim["depth"], "--out", folder], "a-folder"),
        (["shake", sim["dir"] / "gyro.csv", "--plot", folder], "a-folder"),
        (["simulate", "--procedural", "--frames", "2", "--out", a_file], "a-file"),
        (["track", sim["dir"], "--out", a_file / "t.npz"], "a-file"),
    ]
    for args, needle in cases:
        fails_cleanly(args, needle, tmp_path, capsys)

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    with monkeypatch.context() as m:  # a read-only folder (as root, permissions cannot be tested by chmod)
        m.setattr(tempfile, "mkstemp", denied)
        line = fails_cleanly(["trajectory", sim["tracks"], "--calibration", cam, "--depth", sim["depth"], "--out",
                              tmp_path / "new" / "t.csv"], "t.csv", tmp_path, capsys)  # fmt: skip
        assert "Permission denied" in line

    def full(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:  # a full disk
        m.setattr(np, "savez_compressed", full)
        line = fails_cleanly(["track", sim["dir"], "--grid-half", "2", "--out", tmp_path / "sub" / "t.npz"], "t.npz",
                             tmp_path, capsys)  # fmt: skip
        assert "No space left" in line


def test_truncated_npz_inputs(sim, tmp_path, capsys):
    data = sim["tracks"].read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    cam = sim["dir"] / "camera.json"
    fails_cleanly(["trajectory", cut, "--calibration", cam, "--depth", sim["depth"], "--out", tmp_path / "t.csv"],
                  "cut.npz", tmp_path, capsys)  # fmt: skip
    fails_cleanly(["track-depth", cut, "--depth", sim["depth"], "--out", tmp_path / "x.npz"], "cut.npz", tmp_path,
                  capsys)  # fmt: skip
    depth = sim["depth"].read_bytes()
    (tmp_path / "dcut.npz").write_bytes(depth[: len(depth) // 3])
    fails_cleanly(["trajectory", sim["tracks"], "--calibration", cam, "--depth", tmp_path / "dcut.npz", "--out",
                   tmp_path / "t.csv"], "dcut.npz", tmp_path, capsys)  # fmt: skip


@needs_weights
@pytest.mark.parametrize(
    "name, text, needle",
    [
        ("top.gyroflow", "[1, 2, 3]", "raw_imu"),
        # each runs four commands: the first case in the default suite, the others with the slow tests
        *(
            pytest.param(*case, marks=pytest.mark.slow)
            for case in [
                ("objects.gyroflow", json.dumps({"raw_imu": [{"timestamp_ms": 0, "gyro": [0, 0, 0]}]}), "objects"),
                ("empty.csv", "", "empty"),
                ("header.csv", "time_s,wx,wy,wz\n", "no samples"),
                ("header.gcsv", "t,gx,gy,gz\n", "no samples"),
                ("short.csv", "time_s,wx,wy,wz\n0,1,2\n0.1,1,2,3\n", "line 2"),
            ]
        ),
    ],
)
def test_bad_gyro_logs_in_every_command(name, text, needle, sim, tmp_path, capsys):
    log = tmp_path / name
    log.write_text(text)
    traj = tmp_path / "traj.csv"
    assert main(["trajectory", str(sim["tracks"]), "--calibration", str(sim["dir"] / "camera.json"), "--depth",
                 str(sim["depth"]), "--out", str(traj)]) == 0  # fmt: skip
    for args in (["shake", log], ["compare-gyro", traj, log], ["simulate", "--procedural", "--shake", log, "--out",
                 tmp_path / "s"], ["run", sim["dir"], "--gyro", log, "--out", tmp_path / "r", "-q"]):  # fmt: skip
        line = fails_cleanly(args, name, tmp_path, capsys)
        assert needle in line, (args, line)


def test_checkpoint_whose_card_names_another_model(tmp_path, capsys):
    """A card saying blur-depth over Seurat's weights: which file, which model, which keys."""
    import shutil

    bad = tmp_path / "swapped.safetensors"
    shutil.copy(WEIGHTS_DIR / "seurat-small.safetensors", bad)
    shutil.copy(WEIGHTS_DIR / "blur-depth-small.json", bad.with_suffix(".json"))
    video = tmp_path / "v"
    cam = camera_preset("phone", width=128, height=128, num_frames=4)
    write_simulation(simulate_scene(cam, scene_seed=0, shake_seed=0), video)
    line = fails_cleanly(["depth", video, "--depth-checkpoint", bad, "--out", tmp_path / "d.npz"],
                         "swapped.safetensors", tmp_path, capsys)  # fmt: skip
    assert "blur-depth" in line and "missing" in line and "unexpected" in line


def test_degenerate_rigid_window_falls_back_and_is_counted():
    """Clip 6 of 'eval seurat --seed 90210' crashed OpenCV's five-point solver (solvePoly) in window 9."""
    from motiondepth.data.seurat_synth import EVAL_SEED_BASE, SeuratDataConfig, eval_clip
    from motiondepth.seurat.rigid import window_priors
    from motiondepth.seurat.windows import window_starts

    clip = eval_clip(EVAL_SEED_BASE + 90210 * 10_000 + 6, 48, 4, SeuratDataConfig(window=8, grid=12, num_queries=256))
    starts = window_starts(48, 8, 4)[9:10]
    (prior,) = window_priors(clip.tracks.astype(np.float64), clip.visible, clip.intrinsics, starts, 8,
                             (clip.support[9:10], clip.support_visible[9:10]))  # fmt: skip
    assert prior.motion.degenerate_starts > 0 and np.isfinite(prior.motion.residual_px)
    assert np.isfinite(prior.query_log_ratio).all()


# ----------------------------------------------------------------------------- run: lock, cache, camera


@needs_weights
def test_run_folder_lock_and_verified_cache(sim, tmp_path, capsys):
    import motiondepth
    from motiondepth.workflow.cache import embedded_key, locked_output_dir

    out = tmp_path / "run"
    res = motiondepth.run(sim["dir"], out, progress=False, grid_half=4)
    # the simulate folder's camera.json gives the intrinsics, and the report says so
    assert res.intrinsics.as_array() == pytest.approx(sim["video"].intrinsics.as_array())
    assert "camera.json" in res.intrinsics_source and not any("no intrinsics" in w for w in res.warnings)
    # a second run while the first holds the folder: one line, the folder and the holder named
    with locked_output_dir(out):
        line = fails_cleanly(["run", sim["dir"], "--out", out, "--grid-half", "5", "-q"], str(out), tmp_path, capsys)
    assert f"pid {os.getpid()}" in line
    steps = json.loads((out / "config.json").read_text())["steps"]
    assert embedded_key(out / "tracks.npz") == steps["tracks"]["key"]
    # a tracks.npz from other settings put in its place: not trusted, recomputed
    other = motiondepth.run(sim["dir"], tmp_path / "other", progress=False, grid_half=5)
    (out / "tracks.npz").write_bytes((other.out_dir / "tracks.npz").read_bytes())
    again = motiondepth.run(sim["dir"], out, progress=False, grid_half=4)
    assert "tracks" not in again.cached and again.tracks.num_points == res.tracks.num_points
    # a truncated cached file: detected and recomputed, no BadZipFile
    data = (out / "tracks3d.npz").read_bytes()
    (out / "tracks3d.npz").write_bytes(data[: len(data) // 2])
    third = motiondepth.run(sim["dir"], out, progress=False, grid_half=4)
    assert "tracks3d" not in third.cached and "tracks" in third.cached
    # the same answer (to float32 rounding: the tracks were recomputed on the way, and threads may sum in any order)
    np.testing.assert_allclose(third.tracks3d.xyz, res.tracks3d.xyz, rtol=1e-6, atol=1e-7)
    assert not (out / ".motiondepth.lock").exists()


@needs_weights
def test_run_leaves_no_empty_folder_when_a_step_check_fails(sim, tmp_path, capsys):
    """--blur-fit with an exposure longer than the frame interval fails inside the tracks step: the folder the run
    made is gone."""
    video = tmp_path / "clip.mp4"
    video.write_bytes((sim["dir"] / "video.mp4").read_bytes())
    fails_cleanly(["run", video, "--blur-fit", "--exposure-ms", "500", "--out", tmp_path / "out", "-q"],
                  "--exposure-ms", tmp_path, capsys)  # fmt: skip


def test_small_video_names_the_file(tmp_path, capsys):
    from motiondepth.io.video import write_video

    write_video(tmp_path / "tiny.mp4", np.zeros((12, 20, 24, 3), np.uint8), fps=30)
    line = fails_cleanly(["run", tmp_path / "tiny.mp4", "--out", tmp_path / "o", "-q"], "tiny.mp4", tmp_path, capsys)
    assert "24x20" in line


def test_training_overrides_of_the_wrong_kind(tmp_path, capsys):
    for override, needle in (("train.lr=nan", "train.lr"), ("train.steps=-1", "train.steps"),
                             ("model.hidden=abc", "model.hidden"), ("nokey=1", "nokey")):  # fmt: skip
        fails_cleanly(["train", "seurat", "--out", tmp_path / "t", override], needle, tmp_path, capsys)


def test_npz_readers_refuse_object_arrays(tmp_path):
    from motiondepth.errors import InputError
    from motiondepth.io.npz import read_npz

    marker = tmp_path / "PWNED"
    np.savez(tmp_path / "t.npz", tracks=np.array([Payload(marker)], dtype=object))
    with pytest.raises(InputError, match="object array"):
        read_npz(tmp_path / "t.npz")
    assert not marker.exists()
    with np.load(tmp_path / "t.npz", allow_pickle=True) as d:  # control: with pickle allowed the payload runs
        d["tracks"]
    assert marker.exists()


# ----------------------------------------------------------------------------- siblings found in the sweep


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("intrinsics", np.array([np.nan, 1.0, 2.0, 3.0]), "'intrinsics'"),
        ("intrinsics", np.array([1.0, 2.0]), "'intrinsics'"),
        ("image_size", np.array([-5, 10]), "'image_size'"),
        ("image_size", np.array([1, 2, 3]), "'image_size'"),
        ("meta", np.array("[1, 2]"), "'meta'"),
    ],
)
def test_malformed_tracks_files(key, value, needle, sim, tmp_path, capsys):
    d = dict(np.load(sim["tracks"]))
    d[key] = value
    np.savez(tmp_path / "bad.npz", **d)
    cam, bad, depth = sim["dir"] / "camera.json", tmp_path / "bad.npz", sim["depth"]
    for args in (["trajectory", bad, "--calibration", cam, "--depth", depth, "--out", tmp_path / "t"],
                 ["track-depth", bad, "--depth", depth, "--out", tmp_path / "x"]):  # fmt: skip
        line = fails_cleanly(args, "bad.npz", tmp_path, capsys)
        assert needle in line


def test_camera_files_of_the_wrong_shape(sim, tmp_path, capsys):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "none.json").write_text('{"foo": 1}')
    (tmp_path / "nan.json").write_text('{"intrinsics": [100, 100, 80, 60], "pivot_m": NaN}')
    tr = ["--depth", sim["depth"], "--out", tmp_path / "x"]
    fails_cleanly(["track-depth", sim["tracks"], "--calibration", tmp_path / "list.json", *tr], "list.json", tmp_path,
                  capsys)  # fmt: skip
    fails_cleanly(["track-depth", sim["tracks"], "--calibration", tmp_path / "none.json", *tr], "none.json", tmp_path,
                  capsys)  # fmt: skip
    line = fails_cleanly(["trajectory", sim["tracks"], "--calibration", tmp_path / "nan.json", *tr], "nan.json",
                         tmp_path, capsys)  # fmt: skip
    assert "pivot_m" in line


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("fx_fy_cx_cy", np.array([np.nan, 1.0, 2.0, 3.0]), "fx_fy_cx_cy"),
        ("fx_fy_cx_cy", np.array([1.0, 2.0]), "fx_fy_cx_cy"),
        ("queries_xyt", np.zeros(2), "queries_xyt"),
        ("image_size", np.array([96]), "image_size"),
    ],
)
def test_malformed_tapvid3d_ground_truth(key, value, needle, tmp_path, capsys):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    arrays = _tapvid3d_arrays() | {key: value}
    np.savez(gt / "v.npz", **arrays)
    np.savez(pred / "v.npz", tracks_XYZ=arrays["tracks_XYZ"], visibility=arrays["visibility"])
    line = fails_cleanly(["eval", "tapvid3d", "--gt", gt, "--pred", pred, "--out", tmp_path / "r.json"], "v.npz",
                         tmp_path, capsys)  # fmt: skip
    assert needle in line


def test_batch_index_links_are_relative(tmp_path):
    from motiondepth.workflow.batch import COLUMNS
    from motiondepth.workflow.report import render_batch_index

    rows = [dict.fromkeys(COLUMNS, "") | {"clip": f"javascript:alert({i})", "video": "x", "status": s, "error": "e"}
            for i, s in ((1, "failed"), (2, "ok"))]  # fmt: skip
    page = render_batch_index(rows)
    assert 'href="javascript:' not in page and 'href="./javascript%3Aalert%282%29/report.html"' in page


# ----------------------------------------------------------------------------- round 2 (issue 44): the new inputs


@pytest.fixture(scope="module")
def image_clip(sim, tmp_path_factory):
    """The simulate clip's frames as a PNG folder (a clip with frame times of its own), for frame-time cases."""
    import cv2

    d = tmp_path_factory.mktemp("imgs") / "imgs"
    d.mkdir()
    for k, frame in enumerate(sim["video"].frames):
        cv2.imwrite(str(d / f"{k:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return d


def _run(sim, out, *extra) -> list:
    return ["run", sim["dir"], "--out", out, "-q", "--grid-half", "4", *extra]


def test_a_planted_lock_link_or_fifo_is_refused_and_its_target_untouched(sim, tmp_path, capsys):
    """#1: a symbolic link planted as the lock file would have been followed, truncating its target."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".motiondepth.lock").symlink_to(victim)
    fails_cleanly(_run(sim, out), ".motiondepth.lock", tmp_path, capsys)
    assert victim.read_text() == "precious"
    fifo = tmp_path / "out2"
    fifo.mkdir()
    os.mkfifo(fifo / ".motiondepth.lock")  # would block, or give an OSError traceback
    assert "not a regular file" in fails_cleanly(_run(sim, fifo), ".motiondepth.lock", tmp_path, capsys)
    hard = tmp_path / "out3"
    hard.mkdir()
    os.link(victim, hard / ".motiondepth.lock")
    fails_cleanly(_run(sim, hard), ".motiondepth.lock", tmp_path, capsys)
    assert victim.read_text() == "precious"


def test_tracks_belong_to_one_clip(sim, tmp_path, capsys):
    """#2: one --tracks file for several clips would solve every clip from the first one's tracks."""
    line = fails_cleanly(["run", sim["dir"], sim["dir"] / "video.mp4", "--out", tmp_path / "b", "--tracks",
                          sim["tracks"], "-q"], "--tracks", tmp_path, capsys)  # fmt: skip
    assert "one clip" in line


def _tracks_with(sim, path: Path, **change) -> Path:
    d = dict(np.load(sim["tracks"]))
    d |= change
    np.savez(path, **d)
    return path


@needs_weights
@pytest.mark.parametrize("value", [pytest.param(1e5, marks=pytest.mark.slow), pytest.param(1e7, marks=pytest.mark.slow),
                                   1e30])  # fmt: skip
def test_a_few_positions_far_outside_the_frame_are_not_visible(value, sim, tmp_path, capsys):
    """#3: 4 positions at 1e5…1e30 px gave 65.7° … 1e26° of rotation; now they are hidden, with a warning, and the
    rotation is that of the clean tracks."""
    import motiondepth

    d = dict(np.load(sim["tracks"]))
    tr = d["tracks"].copy()
    for t, n in np.argwhere(d["visible"])[[5, 50, 100, 150]]:
        tr[t, n] = value
    bad = _tracks_with(sim, tmp_path / "far.npz", tracks=tr)
    clean = motiondepth.run(sim["dir"], tmp_path / "clean", progress=False, grid_half=4, tracks=str(sim["tracks"]))
    capsys.readouterr()
    assert main([str(a) for a in _run(sim, tmp_path / "far", "--tracks", bad)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    cfg = json.loads((tmp_path / "far" / "config.json").read_text())
    assert any("4 position(s) of the imported tracks lay more than 10% outside" in w for w in cfg["warnings"])
    got = cfg["summary"]["max_rotation_arcmin"]
    assert got == pytest.approx(clean.summary["max_rotation_arcmin"], rel=0.05), got
    # beyond 1 % of the positions: the coordinates are wrong, refused
    tr = d["tracks"].copy()
    tr[d["visible"] & (np.arange(tr.shape[1]) % 10 == 0)] = 1e30
    fails_cleanly(_run(sim, tmp_path / "o", "--tracks", _tracks_with(sim, tmp_path / "many.npz", tracks=tr)),
                  "many.npz", tmp_path, capsys)  # fmt: skip


def test_gyro_rates_no_camera_records_are_refused(sim, tmp_path, capsys):
    """#4: a log in deg/s read as rad/s (or a wrong gscale) reached a 36 TiB blur-kernel allocation."""
    from motiondepth.io.gyro_log import read_gyro_log, write_gyro_log

    t, w = read_gyro_log(sim["dir"] / "gyro.csv")
    write_gyro_log(tmp_path / "deg.csv", t, np.degrees(w) * 100)  # > 2000 °/s
    line = fails_cleanly(_run(sim, tmp_path / "o", "--gyro", tmp_path / "deg.csv"), "deg.csv", tmp_path, capsys)
    assert "deg/s" in line
    body = "\n".join(f"{a:.6f},{b:.6f},{c:.6f},{e:.6f}" for a, (b, c, e) in zip(t * 1e3, w, strict=True))
    (tmp_path / "g.gcsv").write_text(f"GYROFLOW IMU LOG\ntscale,0.001\ngscale,1000\nt,gx,gy,gz\n{body}\n")
    assert "gscale" in fails_cleanly(["shake", tmp_path / "g.gcsv"], "g.gcsv", tmp_path, capsys)


@needs_weights
@pytest.mark.parametrize("factor", [3.0, pytest.param(57.3, marks=pytest.mark.slow)])
def test_gyro_rates_that_disagree_with_the_video_are_not_used(factor, sim, tmp_path, capsys):
    """#4: at × 3 the run used the log and gave a worse result in silence; the log is now checked against the
    video's rates and left out, with a warning that says why."""
    from motiondepth.io.gyro_log import read_gyro_log, write_gyro_log

    t, w = read_gyro_log(sim["dir"] / "gyro.csv")
    write_gyro_log(tmp_path / "g.csv", t, w * factor)
    assert main([str(a) for a in _run(sim, tmp_path / "o", "--gyro", tmp_path / "g.csv")]) == 0
    cfg = json.loads((tmp_path / "o" / "config.json").read_text())
    assert cfg["summary"]["gyro"]["used"] is False
    assert any("not used" in x and "× the video's" in x for x in cfg["warnings"]), cfg["warnings"]


def test_blur_kernels_are_capped():
    from motiondepth.tracking.crossblur import MAX_KERNEL_RADIUS, _splat

    assert _splat(np.array([[0.0, 0.0], [3.0, 1.0]])).shape == (9, 9)
    for far in (MAX_KERNEL_RADIUS + 1.0, 1e12, np.inf):
        with pytest.raises(ValueError, match="blur kernel"):
            _splat(np.array([[0.0, 0.0], [far, 0.0]]))


@pytest.mark.parametrize(
    "name, text, needle",
    [
        ("big.json", '{"fx": 1e30, "fy": 1e30, "cx": 80, "cy": 80}', "fx"),
        ("tiny.json", '{"fx": 1e-9, "fy": 1e-9, "cx": 80, "cy": 80}', "field of view"),
        ("tiny.yaml", "%YAML:1.0\ncamera_matrix: !!opencv-matrix\n  rows: 3\n  cols: 3\n  dt: d\n"
                      "  data: [1e-9, 0, 80, 0, 1e-9, 80, 0, 0, 1]\n", "field of view"),
        ("cameras.txt", "1 PINHOLE 160 160 1e30 1e30 80 80\n", "fx"),
        ("narrow.txt", "1 PINHOLE 160 160 1e5 1e5 80 80\n", "field of view"),
        ("zero.txt", "1 PINHOLE 0 0 100 100 80 80\n", "image size"),
        ("inf.json", '{"fx": 100, "fy": 100, "cx": 80, "cy": 80, "width": 1e999, "height": 160}', "image size"),
        ("zero.yaml", "%YAML:1.0\nimage_width: 0\nimage_height: 0\ncamera_matrix: !!opencv-matrix\n  rows: 3\n"
                      "  cols: 3\n  dt: d\n  data: [100, 0, 80, 0, 100, 80, 0, 0, 1]\n", "image size"),
        ("fisheye.json", '{"fx": 100, "fy": 100, "cx": 80, "cy": 80, "distortion_model": "fisheye", '
                         '"distortion_coeffs": [1e10, 0, 0, 0]}', "lens distortion"),
    ],
)  # fmt: skip
def test_calibration_files_meet_the_flags_ranges(name, text, needle, sim, tmp_path, capsys):
    """#5, #14, #17: fx = 1e30 or 1e-9 in a file gave a rotation of 1e-28°; a zero or infinite size a
    ZeroDivisionError/OverflowError; fisheye k1 = 1e10 a message about prior depths."""
    calib = tmp_path / name
    calib.write_text(text)
    line = fails_cleanly(_run(sim, tmp_path / "o", "--calibration", calib), name, tmp_path, capsys)
    assert needle in line, line


def test_colmap_cameras_with_indented_comments_are_read(tmp_path):
    """#14: COLMAP trims each line before looking for '#'."""
    from motiondepth.io.camera import read_calibration_file

    path = tmp_path / "cameras.txt"
    path.write_text("  # Camera list\n\t# CAMERA_ID, MODEL\n1 PINHOLE 160 120 100 101 80 60\n")
    assert read_calibration_file(path)["fy"] == 101.0


@pytest.mark.parametrize("last, needle", [(1e9, "gap in the recording"), (7200.0, "gap in the recording")])
def test_frame_times_with_a_gap_are_refused(last, needle, image_clip, tmp_path, capsys):
    """#6: a last frame at 1e9 s allocated 3.3 TiB in the spectrum; at 7200 s the spectrum spanned the gap."""
    import shutil

    clip = tmp_path / "imgs"
    shutil.copytree(image_clip, clip)
    times = np.arange(len(list(clip.glob("*.png")))) / 30.0
    times[-1] = last
    (clip / "timestamps.txt").write_text("".join(f"{t:.6f}\n" for t in times))
    line = fails_cleanly(["run", clip, "--out", tmp_path / "o", "-q"], "imgs", tmp_path, capsys)
    assert needle in line and "--end 11" in line, line


def test_frame_intervals_are_all_checked():
    from motiondepth.errors import InputError
    from motiondepth.workflow.inputs import check_frame_times

    times, idx = np.arange(30) / 30.0, np.arange(30)
    assert check_frame_times("c", times, idx, "test") == ()
    dropped = times.copy()
    dropped[10:] += 2 / 30  # two frames dropped: a warning
    (note,) = check_frame_times("c", dropped, idx, "test")
    assert "dropped frames" in note and "after frame 9" in note
    with pytest.raises(InputError, match=r"frames 9 and 10 are 15.\d+ s apart.*--end 10, or --start 10"):
        check_frame_times("c", np.r_[times[:10], times[10:] + 15.0], idx, "test")


def test_real_tum_folder_across_its_gap_is_refused(real_data, tmp_path, capsys):
    """#6: the TUM folder in ../shared jumps 15 s from frame 239 to 700 (positions 239 → 240)."""
    line = fails_cleanly(["run", real_data / "video-rgbd-tum-fr1xyz" / "rgb", "--out", tmp_path / "o", "--start",
                          "230", "--end", "250", "-q"], "rgb", tmp_path, capsys)  # fmt: skip
    assert "frames 239 and 240" in line and "--end 240, or --start 240" in line


def test_spectrum_refuses_a_gap_before_allocating():
    from motiondepth.errors import InputError
    from motiondepth.eval.spectrum import angle_spectrum

    times = np.arange(64) / 30.0
    angles = np.zeros((64, 3))
    for last in (7200.0, 1e9):
        t = times.copy()
        t[-1] = last
        with pytest.raises(InputError, match="a gap"):
            angle_spectrum(angles, t)


@needs_weights
def test_tracks_at_another_resolution(sim, tmp_path, capsys):
    """#7: positions at half the image size gave a rotation 40 % short in silence."""
    d = dict(np.load(sim["tracks"]))
    line = fails_cleanly(_run(sim, tmp_path / "o", "--tracks", _tracks_with(sim, tmp_path / "s.npz",
                         image_size=np.array([80, 80]))), "s.npz", tmp_path, capsys)  # fmt: skip
    assert "80x80" in line and "160x160" in line
    # without size metadata (a CSV): run, with a warning that names the likely cause
    rows = [f"{t},{n},{x / 2:.3f},{y / 2:.3f},1" for t, n in np.argwhere(d["visible"]) for x, y in [d["tracks"][t, n]]]
    half = _csv(tmp_path / "half.csv", rows)
    assert main([str(a) for a in _run(sim, tmp_path / "h", "--tracks", half)]) == 0
    cfg = json.loads((tmp_path / "h" / "config.json").read_text())
    assert any("cover only" in w and "half the resolution" in w for w in cfg["warnings"]), cfg["warnings"]
    k = next(i for i, w in enumerate(cfg["warnings"]) if "cover only" in w)
    assert cfg["warning_severities"][k] == "high"


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("frame,point,x,y,visible\n" + "\n".join(rows) + "\n")
    return path


def _grid_rows(frames: int = 12, points: int = 30) -> list[str]:
    rng = np.random.default_rng(0)
    xy = rng.uniform(10, 150, (points, 2))
    return [f"{t},{n},{xy[n, 0] + t:.2f},{xy[n, 1]:.2f},1" for t in range(frames) for n in range(points)]


@pytest.mark.parametrize(
    "case, needle",
    [
        ("query_beyond", "'queries'"),
        ("query_nan", "'queries'"),
        ("duplicate", "appears 2 times"),
        ("frame_1e9", "names frame 1000000000"),
        ("frame_1e19", "names frame"),
        ("frame_1e20", "names frame"),
        ("three_points", "only 3 track(s)"),
        ("first_frame_only", "only 0 track(s)"),
        ("text", "non-numeric"),
    ],
)
def test_bad_imported_tracks(case, needle, sim, tmp_path, capsys):
    """#8, #9, #17: queries beyond the clip or NaN reached tracks3d.npz; a duplicate row silently won; huge frame
    numbers allocated 17 GB or raised IndexError; too few tracks blamed 'trajectory' without naming the file."""
    d = dict(np.load(sim["tracks"]))
    q = d["queries"].copy()
    rows = _grid_rows()
    if case == "query_beyond":
        q[3, 0] = 99
        path = _tracks_with(sim, tmp_path / "t.npz", queries=q)
    elif case == "query_nan":
        q[3, 1] = np.nan
        path = _tracks_with(sim, tmp_path / "t.npz", queries=q)
    elif case == "duplicate":
        path = _csv(tmp_path / "t.csv", [*rows, rows[40].replace(",1", ",1", 1)])
    elif case.startswith("frame_"):
        big = {"frame_1e9": "1000000000", "frame_1e19": "1e19", "frame_1e20": "100000000000000000000"}[case]
        path = _csv(tmp_path / "t.csv", [*rows, f"{big},0,10,10,1"])
    elif case == "three_points":
        path = _csv(tmp_path / "t.csv", _grid_rows(points=3))
    elif case == "first_frame_only":
        path = _csv(tmp_path / "t.csv", [r for r in _grid_rows() if r.startswith("0,")] + ["11,0,5,5,0"])
    else:
        path = _csv(tmp_path / "t.csv", [*rows[:5], "3,1,abc,4,1"])
    line = fails_cleanly(_run(sim, tmp_path / "o", "--tracks", path), path.name, tmp_path, capsys)
    assert needle in line, line


def test_huge_frame_numbers_are_refused_before_allocating(tmp_path):
    """#9: frame 1 000 000 000 allocated 17 GB before failing; now the frames are checked first."""
    import tracemalloc

    from motiondepth.errors import InputError
    from motiondepth.io.tracks import read_tracks_file

    path = _csv(tmp_path / "t.csv", [*_grid_rows(), "1000000000,0,10,10,1"])
    tracemalloc.start()
    try:
        for frames in (12, None):
            with pytest.raises(InputError, match="names frame 1000000000"):
                read_tracks_file(path, frames)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, peak


def test_a_large_tracks_csv_is_streamed(tmp_path):
    """#9: 1e6 rows took 804 MB as a list of dicts; streamed into compact arrays they take a fraction."""
    import tracemalloc

    from motiondepth.io.tracks import read_tracks_file

    t, n = np.meshgrid(np.arange(100), np.arange(2000), indexing="ij")
    x = 5 + (n % 50) * 3 + 0.01 * t
    y = 5 + (n // 50) * 3.0
    table = np.stack([t.ravel(), n.ravel(), x.ravel(), y.ravel(), np.ones(t.size)], 1)
    path = tmp_path / "big.csv"
    np.savetxt(path, table, fmt=["%d", "%d", "%.2f", "%.2f", "%d"], delimiter=",", header="frame,point,x,y,visible",
               comments="")  # fmt: skip
    tracemalloc.start()
    try:
        tracks = read_tracks_file(path, 100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tracks.tracks.shape == (100, 2000, 2) and tracks.visible.all()
    assert peak < 100 << 20, peak  # 200 000 rows: 8 MB of values, 1.6 MB of tracks; far below the old ≈ 160 MB


def test_run_refuses_what_would_not_fit_in_memory_before_decoding(sim, tmp_path, capsys, monkeypatch):
    """#10: --resize 9000 ran to 8 GB and died, 16384 was refused after 6.2 GB; the budget is now the whole run's,
    checked at the first frame."""
    import resource

    from motiondepth.io import video

    for size in ("16384", "9000"):  # the 160-px clip enlarged 100 × or 56 ×: refused as such
        line = fails_cleanly(_run(sim, tmp_path / "o", "--resize", size), "--resize", tmp_path, capsys)
        assert "enlarge the 160-px frames" in line
    # within the enlargement limit but beyond the memory: refused at the first frame, the whole run budgeted
    budget = video.frame_memory_budget()
    monkeypatch.setattr(video, "frame_memory_budget", lambda: 11 * 640 * 640 * 3)  # 12 frames of 640² do not fit
    line = fails_cleanly(_run(sim, tmp_path / "o", "--resize", "640"), "clip", tmp_path, capsys)
    assert "the run would hold 12 frames of 640x640" in line and "keep fewer or smaller frames" in line
    assert budget >= 10 << 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 6 << 20  # KiB: this process never held 6 GiB


def _npz_with_header(path: Path, shape: tuple, member: str = "tracks.npy") -> Path:
    """An .npz whose member declares ``shape`` in its header but holds a few bytes."""
    import zipfile

    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    buf = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, buf.getvalue() + b"\0" * 64)
    return path


def test_npz_headers_are_checked_against_the_file_size(tmp_path, capsys):
    """#11: a header declaring (8, 1e14, 2) asked for 5.68 PiB; a member with no .npy header gave a traceback."""
    from motiondepth.errors import InputError
    from motiondepth.io.npz import read_npz

    huge = _npz_with_header(tmp_path / "huge.npz", (8, 10**14, 2))
    with pytest.raises(InputError, match=r"declares shape \(8, 100000000000000, 2\)"):
        read_npz(huge)
    line = fails_cleanly(["track-depth", huge, "--depth", tmp_path / "d.npz", "--out", tmp_path / "x.npz"],
                         "huge.npz", tmp_path, capsys)  # fmt: skip
    assert "PiB" in line
    import zipfile

    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as zf:
        zf.writestr("tracks.npy", b"no header at all")
    with pytest.raises(InputError, match=r"'tracks\.npy' is not a NumPy array"):
        read_npz(tmp_path / "raw.npz")


def test_more_tracks_than_the_densest_grid_are_refused(sim, tmp_path, capsys):
    """#12: 100 000 imported tracks ran for 453 s with no message."""
    n = 100_000
    rng = np.random.default_rng(0)
    xy = rng.uniform(5, 155, (1, n, 2)).astype(np.float32)
    path = tmp_path / "many.npz"
    np.savez(path, pred_tracks=np.repeat(xy, 12, 0), pred_visibility=np.ones((12, n), bool))
    line = fails_cleanly(_run(sim, tmp_path / "o", "--tracks", path), "many.npz", tmp_path, capsys)
    assert "16641" in line


@pytest.mark.parametrize(
    "arrays, needle",
    [
        ({"pred_visibility": np.ones((1, 12, 30, 3), bool)}, "pred_visibility"),
        ({"pred_visibility": np.ones(30, bool)}, "pred_visibility"),
        ({"pred_visibility": np.ones((1, 1, 12, 30), bool)}, "pred_visibility"),
        ({"pred_tracks": np.full((12, 30, 2), "1.0")}, "text"),
        ({"pred_tracks": np.ones((12, 30, 2)) * (1 + 1j)}, "complex"),
        ({"pred_visibility": np.ones((12, 30)) * 1j}, "complex"),
    ],
)
def test_malformed_cotracker_arrays(arrays, needle, sim, tmp_path, capsys):
    """#13: shapes and kinds that raised ValueError/TypeError/AttributeError, or dropped an imaginary part."""
    rng = np.random.default_rng(0)
    base = {"pred_tracks": rng.uniform(5, 155, (12, 30, 2)), "pred_visibility": np.ones((12, 30), bool)}
    np.savez(tmp_path / "ct.npz", **(base | arrays))
    line = fails_cleanly(_run(sim, tmp_path / "o", "--tracks", tmp_path / "ct.npz"), "ct.npz", tmp_path, capsys)
    assert needle in line, line


def test_malformed_tapir_arrays(sim, tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tp.npz", tracks=rng.uniform(5, 155, (30, 12, 2)), occluded=np.zeros(30, bool))
    assert "'occluded'" in fails_cleanly(_run(sim, tmp_path / "o", "--tracks", tmp_path / "tp.npz"), "tp.npz",
                                         tmp_path, capsys)  # fmt: skip


@needs_weights
def test_export_into_folders_and_from_cut_runs(sim, tmp_path, capsys):
    """#15: --out an existing file raised FileExistsError, an existing empty folder was refused, and a run folder
    whose trajectory.csv was cut mid-row exported 1 image of 8."""
    import shutil

    run_dir = tmp_path / "r"
    assert main([str(a) for a in _run(sim, run_dir)]) == 0
    (tmp_path / "file").write_text("x")
    fails_cleanly(["export-trajectory", run_dir, "--format", "colmap", "--out", tmp_path / "file"], "file",
                  tmp_path, capsys)  # fmt: skip
    (tmp_path / "empty").mkdir()
    assert main(["export-trajectory", str(run_dir), "--format", "colmap", "--out", str(tmp_path / "empty")]) == 0
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["cameras.txt", "images", "images.txt",
                                                                       "points3D.txt"]  # fmt: skip
    cut = tmp_path / "cut"
    shutil.copytree(run_dir, cut)
    text = (cut / "trajectory.csv").read_text()
    (cut / "trajectory.csv").write_text(text[: len(text) // 3])
    for fmt, out in (("colmap", tmp_path / "c"), ("tum", tmp_path / "t.txt"), ("nerfstudio", tmp_path / "n.json")):
        line = fails_cleanly(["export-trajectory", cut, "--per-frame", "--format", fmt, "--out", out],
                             "trajectory.csv", tmp_path, capsys)  # fmt: skip
        assert "SHA-256" in line


def test_output_folder_inside_the_input_folder_is_refused(image_clip, tmp_path, capsys):
    """#16: run imgs/ --out imgs/ succeeded, and the rerun read its own outputs as frames."""
    for out in (image_clip, image_clip / "out"):
        line = fails_cleanly(["run", image_clip, "--out", out, "-q"], "--out", image_clip.parent, capsys)
        assert "inside the input folder" in line


def test_python_warnings_do_not_reach_stderr(tmp_path, capsys, monkeypatch):
    """#17: a RuntimeWarning (or ComplexWarning) from inside a command is for developers: -v shows it."""
    import warnings

    from motiondepth.errors import InputError

    def noisy(args):
        warnings.warn("overflow encountered in multiply", RuntimeWarning, stacklevel=1)
        raise InputError(args.input, "bad")

    def to_stderr(message, category, filename, lineno, file=None, line=None):  # as a plain Python process shows it
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr("motiondepth.cli.export.cmd_export_trajectory", noisy)
    args = ["export-trajectory", tmp_path / "x", "--out", tmp_path / "y.txt"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = to_stderr
        assert "RuntimeWarning" not in fails_cleanly(args, "x: bad", tmp_path, capsys)
        assert main(["-v", *map(str, args)]) == 2
    assert "RuntimeWarning" in capsys.readouterr().err  # -v shows it


def test_accelerometer_inputs_fail_cleanly_before_anything_is_written(sim, tmp_path, capsys):
    """Issue 47: a wrong unit, a clock the frames are not on, a model without translation, a bad axes map and the
    accelerometer's options without a log each give one line naming the file or option."""
    t = np.arange(0, 2.0, 0.005)
    ok = np.c_[t, 0.1 * np.sin(5 * t), 9.81 + 0 * t, 0.2 * np.cos(3 * t)]
    np.savetxt(tmp_path / "acc.csv", ok, delimiter=",", header="time,ax,ay,az", comments="")
    np.savetxt(tmp_path / "late.csv", ok + [1000.0, 0, 0, 0], delimiter=",", header="time,ax,ay,az", comments="")
    np.savetxt(tmp_path / "unit.csv", ok * [1, 10, 10, 10], delimiter=",", header="time,ax,ay,az", comments="")
    out = tmp_path / "o"
    assert "must cover every frame" in fails_cleanly(_run(sim, out, "--accel", tmp_path / "late.csv"), "late.csv",
                                                     tmp_path, capsys)  # fmt: skip
    assert "neither m/s²" in fails_cleanly(_run(sim, out, "--accel", tmp_path / "unit.csv"), "unit.csv", tmp_path,
                                           capsys)  # fmt: skip
    assert "has none" in fails_cleanly(_run(sim, out, "--accel", tmp_path / "acc.csv", "--motion", "lsq"), "--accel",
                                       tmp_path, capsys)  # fmt: skip
    fails_cleanly(_run(sim, out, "--accel", tmp_path / "acc.csv", "--accel-axes", "xxy"), "--accel-axes", tmp_path,
                  capsys)  # fmt: skip
    assert "needs --accel" in fails_cleanly(_run(sim, out, "--accel-axes", "XYz"), "--accel-axes", tmp_path, capsys)
    fails_cleanly(_run(sim, out, "--accel", tmp_path / "missing.csv"), "missing.csv", tmp_path, capsys)


def test_device_auto_picks_the_cpu_where_torch_sees_no_gpu(monkeypatch):
    """Issue 48 #14: --device auto is the GPU where torch sees one, else the CPU; a wrong name is one line."""
    import torch

    from motiondepth.errors import InputError, check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert check_device("auto") == "cpu" and check_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert check_device("auto") == "cuda"
    with pytest.raises(InputError, match=r"cpu, cuda .* or auto"):
        check_device("tpu")


def test_a_run_says_where_your_tracks_are_used_and_where_not(sim, tmp_path):
    """Issue 48 #8: with the bundle adjustment's path, the camera motion does not come from --tracks: said."""
    import motiondepth

    res = motiondepth.run(sim["dir"], tmp_path / "o", progress=False, grid_half=4, tracks=str(sim["tracks"]),
                          motion="6dof")  # fmt: skip
    assert any(w.startswith("--tracks: your tracks give") and "own chained tracks" in w for w in res.warnings)
