import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motiondepth.geometry import (
    Intrinsics,
    camera_centre,
    euler_derivatives,
    euler_to_matrix,
    euler_to_quat,
    focal_length_px,
    image_distance,
    matrix_to_euler,
    project,
    project_pivot,
    quat_to_euler,
    quat_to_matrix,
    rotvec_to_quat,
    transform_pivot,
    unproject,
)
from motiondepth.geometry.rotations import matrix_to_quat

INTR = Intrinsics(525.0, 520.0, 319.5, 239.5)


def test_project_unproject_round_trip(rng):
    uv = rng.uniform([0, 0], [640, 480], (100, 2))
    z = rng.uniform(0.3, 10.0, 100)
    pts = unproject(uv, z, INTR)
    np.testing.assert_allclose(pts[:, 2], z)
    np.testing.assert_allclose(project(pts, INTR), uv, atol=1e-9)


def test_project_analytic():
    np.testing.assert_allclose(project(np.array([0.5, -0.25, 2.0]), INTR), [525 * 0.25 + 319.5, 520 * -0.125 + 239.5])


def test_intrinsics_scaling_is_pixel_centre_aware():
    k = Intrinsics.centred(500.0, 640, 480)
    half = k.scaled(0.5)
    assert half.cx == pytest.approx((320 - 1) / 2) and half.fx == 250.0
    with pytest.raises(ValueError):
        Intrinsics.from_array([1, 2, 3])


def test_euler_matches_scipy_convention(rng):
    ang = rng.uniform(-0.6, 0.6, (50, 3))
    ref = Rotation.from_euler("ZYX", ang[:, [0, 2, 1]]).as_matrix()
    np.testing.assert_allclose(euler_to_matrix(ang), ref, atol=1e-12)


def test_euler_axes_meaning():
    # roll about +z, pitch about +x, yaw about +y
    np.testing.assert_allclose(
        euler_to_matrix(np.array([0.3, 0, 0])), Rotation.from_rotvec([0, 0, 0.3]).as_matrix(), atol=1e-12
    )
    np.testing.assert_allclose(
        euler_to_matrix(np.array([0, 0.3, 0])), Rotation.from_rotvec([0.3, 0, 0]).as_matrix(), atol=1e-12
    )
    np.testing.assert_allclose(
        euler_to_matrix(np.array([0, 0, 0.3])), Rotation.from_rotvec([0, 0.3, 0]).as_matrix(), atol=1e-12
    )


def test_euler_matrix_quat_round_trips(rng):
    ang = rng.uniform(-1.2, 1.2, (200, 3))
    np.testing.assert_allclose(matrix_to_euler(euler_to_matrix(ang)), ang, atol=1e-10)
    q = euler_to_quat(ang)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0)
    np.testing.assert_allclose(quat_to_matrix(q), euler_to_matrix(ang), atol=1e-12)
    np.testing.assert_allclose(quat_to_euler(q), ang, atol=1e-10)
    q2 = matrix_to_quat(euler_to_matrix(ang))
    np.testing.assert_allclose(np.abs((q2 * q).sum(-1)), 1.0, atol=1e-12)
    # scipy stores quaternions scalar-last as well
    ref = Rotation.from_euler("ZYX", ang[:, [0, 2, 1]]).as_quat()
    np.testing.assert_allclose(np.abs((ref * q).sum(-1)), 1.0, atol=1e-12)


def test_rotvec_to_quat_small_and_large():
    v = np.array([[1e-12, 0, 0], [0.0, 0.7, 0.0]])
    np.testing.assert_allclose(quat_to_matrix(rotvec_to_quat(v)), Rotation.from_rotvec(v).as_matrix(), atol=1e-12)


def test_euler_derivatives_match_finite_differences(rng):
    ang = rng.uniform(-0.5, 0.5, (5, 3))
    d = euler_derivatives(ang)
    eps = 1e-6
    for j in range(3):
        step = np.zeros(3)
        step[j] = eps
        num = (euler_to_matrix(ang + step) - euler_to_matrix(ang - step)) / (2 * eps)
        np.testing.assert_allclose(d[:, j], num, atol=1e-9)


def test_thin_lens():
    assert image_distance(0.005, 1.0) == pytest.approx(0.005 * 1.0 / 0.995)
    assert focal_length_px(0.00686, 1.5, 14.24e-6) == pytest.approx(0.00686 * 1.5 / (1.5 - 0.00686) / 14.24e-6)
    with pytest.raises(ValueError):
        image_distance(0.01, 0.005)


def test_pivot_zero_is_pure_rotation(rng):
    pts = unproject(rng.uniform(0, 640, (20, 2)), rng.uniform(0.5, 5, 20), INTR)
    r = euler_to_matrix(np.array([0.01, -0.02, 0.015]))
    np.testing.assert_allclose(transform_pivot(pts, r, 0.0), pts @ r, atol=1e-12)
    # pure rotation: image motion independent of depth
    uv = rng.uniform(0, 480, (1, 2))
    near, far = unproject(uv, 0.5, INTR), unproject(uv, 50.0, INTR)
    np.testing.assert_allclose(project_pivot(near, r, 0.0, INTR), project_pivot(far, r, 0.0, INTR), atol=1e-9)


def test_pivot_translation_and_parallax():
    d = 0.2
    r = euler_to_matrix(np.array([0.0, 0.0, 0.01]))  # yaw
    c = camera_centre(r, d)
    # camera centre moves on a circle of radius d about the pivot
    assert np.linalg.norm(c - np.array([0, 0, -d])) == pytest.approx(d)
    np.testing.assert_allclose(c, [d * np.sin(0.01), 0.0, -d + d * np.cos(0.01)], atol=1e-15)
    # a pivot adds depth-dependent motion ≈ f·θ·d/Z
    uv = np.array([[319.5, 239.5]])
    shift = lambda z: project_pivot(unproject(uv, z, INTR), r, d, INTR)[0, 0] - 319.5
    assert shift(0.5) - shift(1e6) == pytest.approx(-525 * 0.01 * d / 0.5, rel=0.02)
