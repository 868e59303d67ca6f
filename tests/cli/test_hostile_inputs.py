"""Hostile and careless input through the real command line (issue 35): no data file runs code, no silent
wrong result, every failure one clear line (exit code 2, the file or option named, no traceback) with
nothing left behind that was not there before."""

from __future__ import annotations

import argparse
import errno
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from motiondepth.cli import build_parser, main
from motiondepth.io.trajectory import save_tracks
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
        ("objects.gyroflow", json.dumps({"raw_imu": [{"timestamp_ms": 0, "gyro": [0, 0, 0]}]}), "objects"),
        ("empty.csv", "", "empty"),
        ("header.csv", "time_s,wx,wy,wz\n", "no samples"),
        ("header.gcsv", "t,gx,gy,gz\n", "no samples"),
        ("short.csv", "time_s,wx,wy,wz\n0,1,2\n0.1,1,2,3\n", "line 2"),
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
    np.testing.assert_array_equal(third.tracks3d.xyz, res.tracks3d.xyz)
    assert not (out / ".motiondepth.lock").exists()


@needs_weights
def test_run_leaves_no_empty_folder_when_a_step_check_fails(sim, tmp_path, capsys):
    """--blur-fit without an exposure time fails inside the tracks step: the folder the run made is gone."""
    video = tmp_path / "clip.mp4"
    video.write_bytes((sim["dir"] / "video.mp4").read_bytes())
    fails_cleanly(["run", video, "--blur-fit", "--out", tmp_path / "out", "-q"], "--exposure-ms", tmp_path, capsys)


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
