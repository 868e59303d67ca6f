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
    assert counts == {"images": 5, "points": 20}  # the unsolved frame 3 is left out
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
    assert write_nerfstudio(tmp_path / "run", tmp_path / "transforms.json") == {"images": 5}
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
    assert main(["export-trajectory", str(tmp_path / "run"), "--format", "colmap", "--out", str(tmp_path / "c")]) == 0
    assert "5 images, 20 points" in capsys.readouterr().out
