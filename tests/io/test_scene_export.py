"""COLMAP and nerfstudio exports of a run folder: poses, intrinsics and points read back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motiondepth.cli import main
from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix, quat_to_matrix
from motiondepth.io.scene_export import write_colmap, write_nerfstudio
from motiondepth.io.tracks import save_tracks, save_tracks3d
from motiondepth.io.trajectory import write_trajectory_csv
from motiondepth.types import Tracks, Tracks3D, Trajectory

K = (500.0, 502.0, 159.5, 119.5)


def _run(path, t_len=6, n=20, rng=None):
    """A run folder: trajectory with centres, config.json, tracks and their 3D points (frame 0 = world)."""
    rng = rng or np.random.default_rng(0)
    path.mkdir()
    t = np.arange(t_len) / 30
    ang = np.stack([0.01 * t, 0.02 * np.sin(5 * t), -0.015 * t], 1)
    cen = np.stack([0.05 * t, -0.02 * t, 0.01 * np.sin(4 * t)], 1)
    ang[3] = np.nan  # an unsolved frame
    write_trajectory_csv(path / "trajectory.csv", Trajectory(ang, t, np.zeros(t_len), "small-motion-6dof", centres=cen))
    cfg = {"intrinsics": {"fx_fy_cx_cy": list(K)}, "input": {"size": [240, 320], "indices": [10, 15]},
           "options": {"stride": 1}, "pivot_m": 0.2}  # fmt: skip
    (path / "config.json").write_text(json.dumps(cfg))
    intr = Intrinsics(*K)
    world = np.stack([rng.uniform(-1, 1, n), rng.uniform(-0.7, 0.7, n), rng.uniform(2, 4, n)], 1)
    uv, xyz = np.zeros((t_len, n, 2)), np.zeros((t_len, n, 3))
    for k in range(t_len):
        r = euler_to_matrix(np.nan_to_num(ang[k]))
        xyz[k] = (world - cen[k]) @ r  # Rᵀ (X − C), row vectors
        uv[k] = np.stack([K[0] * xyz[k, :, 0] / xyz[k, :, 2] + K[2], K[1] * xyz[k, :, 1] / xyz[k, :, 2] + K[3]], 1)
    vis = np.ones((t_len, n), bool)
    vis[4, :5] = False
    q = np.concatenate([np.zeros((n, 1)), uv[0]], 1).astype(np.float32)
    save_tracks(path / "tracks.npz", Tracks(uv.astype(np.float32), vis, q, (240, 320)))
    save_tracks3d(path / "tracks3d.npz", Tracks3D(xyz.astype(np.float32), vis, intr, q, xyz[..., 2].astype(np.float32)))
    return ang, cen, world, uv


def _parse_images(path):
    rows = [r for r in path.read_text().splitlines() if not r.startswith("#")]
    return [(rows[i].split(), rows[i + 1].split()) for i in range(0, len(rows), 2)]


def test_colmap_text_model_reprojects_its_points(tmp_path):
    ang, cen, world, _ = _run(tmp_path / "run")
    counts = write_colmap(tmp_path / "run", tmp_path / "colmap")
    # the unsolved frame 3 is left out
    assert counts == {"images": 5, "points": 20, "observations left out": 0, "image files": 0}
    cam = [r for r in (tmp_path / "colmap" / "cameras.txt").read_text().splitlines() if not r.startswith("#")]
    assert cam[0].split()[:4] == ["1", "PINHOLE", "320", "240"]
    fx, fy, cx, cy = (float(v) for v in cam[0].split()[4:])
    points = {}
    for row in (tmp_path / "colmap" / "points3D.txt").read_text().splitlines():
        if not row.startswith("#"):
            v = row.split()
            points[int(v[0])] = np.array([float(x) for x in v[1:4]])
    np.testing.assert_allclose(np.stack([points[i + 1] for i in range(20)]), world, atol=1e-5)
    images = _parse_images(tmp_path / "colmap" / "images.txt")
    assert [im[0][-1] for im in images] == [f"frame_{10 + k:06d}.png" for k in (0, 1, 2, 4, 5)]
    for (head, obs), k in zip(images, (0, 1, 2, 4, 5), strict=True):
        qw, qx, qy, qz, tx, ty, tz = (float(v) for v in head[1:8])
        r_cw = quat_to_matrix(np.array([qx, qy, qz, qw]))
        np.testing.assert_allclose(r_cw, euler_to_matrix(ang[k]).T, atol=1e-9)
        np.testing.assert_allclose(-r_cw.T @ [tx, ty, tz], cen[k], atol=1e-7)  # the camera centre
        triples = np.array(obs, float).reshape(-1, 3)
        assert len(triples) == (15 if k == 4 else 20)
        for u, v, pid in triples:  # COLMAP's projection of each point lands on its observation
            p = r_cw @ points[int(pid)] + [tx, ty, tz]
            np.testing.assert_allclose([fx * p[0] / p[2] + cx, fy * p[1] / p[2] + cy], [u, v], atol=2e-3)


def test_colmap_export_reads_back_with_pycolmap(tmp_path):
    pycolmap = pytest.importorskip("pycolmap")
    _run(tmp_path / "run")
    write_colmap(tmp_path / "run", tmp_path / "colmap")
    rec = pycolmap.Reconstruction(str(tmp_path / "colmap"))
    assert rec.num_images() == 5 and rec.num_points3D() == 20


def test_nerfstudio_transforms_are_opengl_camera_to_world(tmp_path):
    ang, cen, _, _ = _run(tmp_path / "run")
    assert write_nerfstudio(tmp_path / "run", tmp_path / "transforms.json") == {
        "images": 5,
        "image files": 0,
    }
    doc = json.loads((tmp_path / "transforms.json").read_text())
    assert (doc["fl_x"], doc["fl_y"], doc["cx"], doc["cy"], doc["w"], doc["h"]) == (*K, 320, 240)
    m = np.array(doc["frames"][3]["transform_matrix"])  # frame 4
    assert doc["frames"][3]["file_path"] == "images/frame_000014.png"
    np.testing.assert_allclose(m[:3, 3], cen[4], atol=1e-9)
    np.testing.assert_allclose(m[:3, :3] @ np.diag([1, -1, -1]), euler_to_matrix(ang[4]), atol=1e-9)


def test_scene_exports_need_a_run_folder(tmp_path, capsys):
    with pytest.raises(InputError, match="not a 'motiondepth run' output folder"):
        write_colmap(tmp_path, tmp_path / "out")
    _run(tmp_path / "run")
    assert main(["export-trajectory", str(tmp_path / "run"), "--format", "colmap", "--out", str(tmp_path / "c"),
                 "--no-images"]) == 0  # fmt: skip
    assert "5 images, 20 points" in capsys.readouterr().out
    # with images, the run's input must be there to decode them from
    assert main(["export-trajectory", str(tmp_path / "run"), "--format", "colmap", "--out", str(tmp_path / "d")]) == 2
    assert "input None is not there" in capsys.readouterr().err


def test_a_point_that_moves_is_observed_only_where_it_reprojects(tmp_path):
    """Issue 48 #5: a track on something that moves does not reproject with the camera's path (on TUM up to 150 px);
    its far observations are left out, and a point left with fewer than two is dropped."""
    _run(tmp_path / "run")
    from motiondepth.io.tracks import load_tracks

    tracks, intr = load_tracks(tmp_path / "run" / "tracks.npz")
    tracks.tracks[2:, 0] += 30.0  # point 1 moves 30 px from frame 2 on: seen where it is, in frames 0–1 only
    tracks.tracks[1:, 1] += 30.0  # point 2 from frame 1 on: one observation left
    save_tracks(tmp_path / "run" / "tracks.npz", tracks, intr)
    counts = write_colmap(tmp_path / "run", tmp_path / "colmap")
    # solved frames 0, 1, 2, 4, 5, and the first 5 points are hidden in frame 4: point 1 loses frames 2 and 5,
    # point 2 all four of its observations (frames 0, 1, 2, 5) with the point
    assert counts["points"] == 19 and counts["observations left out"] == 2 + 4
    rows = [r.split() for r in (tmp_path / "colmap" / "points3D.txt").read_text().splitlines() if r[0] != "#"]
    first = next(r for r in rows if r[0] == "1")
    assert len(first[8:]) == 2 * 2 and float(first[7]) < 1e-3  # two images, ERROR the mean kept residual
    assert not any(r[0] == "2" for r in rows)


@pytest.mark.slow
def test_a_real_clips_colmap_export_opens_in_pycolmap_with_its_undistorted_images(tum_fr1, tmp_path):
    """Issue 48 #5 on TUM fr1_xyz 0–29 (distorted lens, undistorted by the run): every image present, as the run
    saw it; pycolmap's reprojection of the export within COLMAP's 4 px filter (before: median 1.42 px, 11 % of the
    observations above 5 px, up to 150 px)."""
    pycolmap = pytest.importorskip("pycolmap")
    import cv2

    from motiondepth.io.atomic import write_json
    from motiondepth.workflow import run

    tum = tum_fr1.folder
    pos = tum_fr1.seq.positions(0, 30)
    write_json(tmp_path / "tum.json", tum_fr1.calibration)
    res = run(tum / "rgb", tmp_path / "run", start=int(pos[0]), end=int(pos[-1]) + 1,
              calibration=str(tmp_path / "tum.json"), progress=False)  # fmt: skip
    from motiondepth.workflow.inputs import run_frames

    counts = write_colmap(tmp_path / "run", tmp_path / "colmap", run_frames(tmp_path / "run"))
    rec = pycolmap.Reconstruction(str(tmp_path / "colmap"))
    assert rec.num_images() == counts["images"] == 30 and rec.num_points3D() == counts["points"] > 100
    errors = []
    for image in rec.images.values():
        path = tmp_path / "colmap" / "images" / image.name
        assert path.is_file()
        k = int(image.name[6:12])
        if k == 0:
            np.testing.assert_array_equal(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), res.clip.frames[0])
        cam = rec.cameras[image.camera_id]
        for p2d in image.points2D:
            if p2d.has_point3D():
                xyz = rec.points3D[p2d.point3D_id].xyz
                uv = cam.img_from_cam(image.cam_from_world() * xyz)
                errors.append(np.linalg.norm(np.asarray(uv) - p2d.xy))
    errors = np.asarray(errors)
    # measured: median 1.00 px, the worst 4.0 (the points are the tracks' frame-0 depths, not triangulated anew)
    assert np.median(errors) < 1.25 and errors.max() <= 4.0 + 1e-3, (np.median(errors), errors.max())
