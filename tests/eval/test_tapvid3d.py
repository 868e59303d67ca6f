"""TAPVid-3D metrics against hand-computed values, every scaling mode, and the .npz evaluator."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.eval.tapvid3d import (
    depth_track_metrics,
    evaluate_dirs,
    rescale_intrinsics,
    tapvid3d_metrics,
    temporal_coherence,
)

INTR = np.array([100.0, 100.0, 50.0, 50.0])  # threshold unit = Z / 100


def _gt():
    """2 tracks × 4 frames at z = 2 m (unit 0.02 m), track 1 occluded at frame 2."""
    gt = np.zeros((4, 2, 3))
    gt[..., 2] = 2.0
    gt[:, 1, 0] = 1.0
    vis = np.ones((4, 2), bool)
    vis[2, 1] = False
    return gt, vis


def test_exact_prediction_scores_one():
    gt, vis = _gt()
    m = tapvid3d_metrics(gt, vis, gt, vis, INTR, "none")
    assert m["apd"] == 1.0 and m["3d_aj"] == 1.0 and m["occlusion_accuracy"] == 1.0 and m["tc"] == 0.0


def test_hand_computed_apd_and_aj_with_occlusion():
    gt, vis = _gt()
    pred = gt.copy()
    pred[0, 0, 0] += 0.03  # 1.5 units off: within δ = 2, 4, 8, 16 only
    pred[1, 1, 1] += 0.5  # 25 units off: within none
    pvis = vis.copy()
    pvis[2, 1] = True  # predicted visible where GT is occluded: a false positive at every δ
    m = tapvid3d_metrics(pred, pvis, gt, vis, INTR, "none")
    # 7 GT-visible points. δ=1: 5 correct; δ≥2: 6 correct
    assert m["pts_within_1"] == pytest.approx(5 / 7)
    assert m["pts_within_2"] == pytest.approx(6 / 7)
    assert m["apd"] == pytest.approx((5 / 7 + 4 * 6 / 7) / 5)
    # Jaccard δ=1: TP 5, FP = 1 (occluded) + 2 (far) → 5 / (7 + 3); δ≥2: 6 / (7 + 2)
    assert m["jaccard_1"] == pytest.approx(5 / 10)
    assert m["3d_aj"] == pytest.approx((5 / 10 + 4 * 6 / 9) / 5)
    assert m["occlusion_accuracy"] == pytest.approx(7 / 8)


def test_scaling_modes():
    gt, vis = _gt()
    pred = gt * 2.0  # right shape, wrong global scale
    assert tapvid3d_metrics(pred, vis, gt, vis, INTR, "none")["apd"] == 0.0
    assert tapvid3d_metrics(pred, vis, gt, vis, INTR, "median")["apd"] == pytest.approx(1.0)
    # per-trajectory: track 0 scaled ×2, track 1 ×3; query frames 0 and 3
    pred = gt.copy()
    pred[:, 0] *= 2.0
    pred[:, 1] *= 3.0
    m = tapvid3d_metrics(pred, vis, gt, vis, INTR, "per_trajectory", np.array([0, 3]))
    assert m["apd"] == pytest.approx(1.0)
    # median scaling cannot undo different per-track scales
    assert tapvid3d_metrics(pred, vis, gt, vis, INTR, "median")["apd"] < 0.6
    with pytest.raises(ValueError, match="unknown scaling"):
        tapvid3d_metrics(pred, vis, gt, vis, INTR, "mean")


def test_temporal_coherence_hand_case():
    gt = np.zeros((4, 1, 3))
    gt[..., 2] = 1.0
    pred = gt.copy()
    pred[1, 0, 2] += 0.1  # acceleration error at t=1: (0,0,-0.2), at t=2: (0,0,0.1)
    vis = np.ones((4, 1), bool)
    assert temporal_coherence(pred, gt, vis) == pytest.approx((0.2 + 0.1) / 2)
    vis[3] = False  # second triplet no longer fully visible
    assert temporal_coherence(pred, gt, vis) == pytest.approx(0.2)


def test_depth_metrics_median_scaled():
    g = np.array([[1.0, 2.0, 4.0]])
    m = depth_track_metrics(2 * g, g, np.ones_like(g, bool))
    assert m["abs_rel"] == pytest.approx(0.0) and m["delta1"] == 1.0


def test_intrinsics_rescaled_to_short_side_256():
    np.testing.assert_allclose(rescale_intrinsics([512.0, 512.0, 320.0, 240.0], (480, 640)),
                               np.array([512.0, 512.0, 320.0, 240.0]) * 256 / 480)  # fmt: skip


def _write_video(path, gt, vis, size=(512, 768)):
    _ok, jpg = cv2.imencode(".jpg", np.zeros(size + (3,), np.uint8))
    frames = np.empty(len(gt), dtype=object)
    for i in range(len(gt)):
        frames[i] = jpg.tobytes()
    np.savez(
        path,
        images_jpeg_bytes=frames,
        queries_xyt=np.array([[50.0, 50.0, 0.0], [10.0, 10.0, 3.0]]),
        tracks_XYZ=gt.astype(np.float32),
        visibility=vis,
        fx_fy_cx_cy=np.array([200.0, 200.0, 384.0, 256.0]),
    )


def test_evaluator_on_files_in_tapvid3d_format(tmp_path):
    gt, vis = _gt()
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    _write_video(tmp_path / "gt" / "a.npz", gt, vis)
    _write_video(tmp_path / "gt" / "b.npz", gt, vis)
    pred_b = gt.copy()
    pred_b[0, 0, 0] += 0.03
    np.savez(tmp_path / "pred" / "a.npz", tracks_XYZ=gt, visibility=vis)
    np.savez(tmp_path / "pred" / "b.npz", tracks_XYZ=pred_b, visibility=vis)
    res = evaluate_dirs(tmp_path / "gt", tmp_path / "pred", "none")
    # 512-px short side → intrinsics halved: fx = 100 → unit Z/100, as in the hand case
    b = tapvid3d_metrics(pred_b, vis, gt, vis, INTR, "none")
    assert res["per_video"]["b"]["apd"] == pytest.approx(b["apd"])
    assert res["mean"]["apd"] == pytest.approx((1.0 + b["apd"]) / 2)
    (tmp_path / "pred" / "b.npz").unlink()
    with pytest.raises(InputError, match="no prediction"):
        evaluate_dirs(tmp_path / "gt", tmp_path / "pred")
    np.savez(tmp_path / "pred" / "b.npz", tracks_XYZ=gt[:2], visibility=vis[:2])
    with pytest.raises(InputError, match="tracks_XYZ is"):
        evaluate_dirs(tmp_path / "gt", tmp_path / "pred")


def _procedural_tapvid3d(path, seed, frames=24):
    """A held-out procedural clip written in the TAPVid-3D ground-truth format (black JPEG frames)."""
    from motiondepth.data.seurat_synth import SeuratDataConfig, eval_clip
    from motiondepth.seurat.inference import to_tracks3d

    clip = eval_clip(seed, frames, 4, SeuratDataConfig(num_queries=256))
    xyz = to_tracks3d(clip.gt_tracks.astype(np.float64), clip.gt_visible, clip.depth, clip.intrinsics).xyz
    _ok, jpg = cv2.imencode(".jpg", np.zeros((*clip.image_size, 3), np.uint8))
    jpegs = np.empty(frames, dtype=object)
    jpegs[:] = [jpg.tobytes()] * frames
    np.savez(path, images_jpeg_bytes=jpegs, queries_xyt=clip.queries[:, [1, 2, 0]], tracks_XYZ=xyz,
             visibility=clip.gt_visible, fx_fy_cx_cy=clip.intrinsics.as_array())  # fmt: skip
    return clip


@pytest.mark.slow
def test_predictions_for_tapvid3d_files_score_like_the_methods(tmp_path, capsys):
    from motiondepth.cli import main
    from motiondepth.eval.harness.predict_tapvid3d import TapVid3DPredictor, project_tracks

    (tmp_path / "gt").mkdir()
    clips = [_procedural_tapvid3d(tmp_path / "gt" / f"clip{i}.npz", 2_000_000_000 + i) for i in range(3)]
    gt = np.load(tmp_path / "gt" / "clip0.npz", allow_pickle=True)
    uv, vis = project_tracks(gt["tracks_XYZ"], gt["visibility"], gt["fx_fy_cx_cy"])
    np.testing.assert_array_equal(vis, clips[0].gt_visible)
    np.testing.assert_allclose(uv[vis], clips[0].gt_tracks[vis], atol=1e-3)  # projection inverts the lift
    apd = {}
    for method in ("seurat", "handcrafted", "rigid", "static"):
        pred = TapVid3DPredictor(method, support="tracks", depth_checkpoint="blur-depth-small")
        res = pred.predict_dirs(tmp_path / "gt", tmp_path / method, progress=False)
        assert sorted(res["predicted"]) == ["clip0", "clip1", "clip2"]
        scores = evaluate_dirs(tmp_path / "gt", tmp_path / method, "per_trajectory")["mean"]
        assert scores["occlusion_accuracy"] == 1.0  # the ground truth's visibility, by construction
        apd[method] = scores["apd"]
    assert apd["seurat"] > apd["static"] > 0.1 and apd["handcrafted"] > 0.1, apd
    assert apd["rigid"] > apd["seurat"], apd  # these procedural clips are mostly static scene
    # rerun through the CLI: files already there are kept; a missing one is written again
    (tmp_path / "seurat" / "clip1.npz").unlink()
    args = ["predict-tapvid3d", "--gt", str(tmp_path / "gt"), "--out", str(tmp_path / "seurat"), "-q",
            "--support", "tracks", "--depth-checkpoint", "blur-depth-small"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "wrote 1 prediction(s) (seurat)" in out and "kept 2 already there" in out
    assert evaluate_dirs(tmp_path / "gt", tmp_path / "seurat", "per_trajectory")["mean"]["apd"] == pytest.approx(
        apd["seurat"]
    )
    np.savez(tmp_path / "gt" / "clip3.npz", **{k: v for k, v in gt.items() if k != "images_jpeg_bytes"})
    assert main(args) == 2
    assert "clip3.npz" in capsys.readouterr().err
