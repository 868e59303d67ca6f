import numpy as np
import pytest

from motiondepth.geometry import Intrinsics
from motiondepth.scenes import Primitive, ProceduralScene, SceneConfig, generate_scene, render_procedural
from motiondepth.scenes.procedural import linear_to_srgb, linear_to_srgb_u8, srgb_to_linear

INTR = Intrinsics.centred(120.0, 96, 80)


def test_render_is_seeded_and_valid():
    a = render_procedural(3, INTR, (80, 96))
    b = render_procedural(3, INTR, (80, 96))
    c = render_procedural(4, INTR, (80, 96))
    assert a.rgb.shape == (80, 96, 3) and a.rgb.dtype == np.uint8
    assert a.depth.dtype == np.float32 and (a.depth > 0).all()
    np.testing.assert_array_equal(a.rgb, b.rgb)
    assert not np.array_equal(a.rgb, c.rgb)
    cfg = SceneConfig()
    assert a.depth.max() <= cfg.far_m * 1.0 + 1e-3  # the back wall bounds the depth
    assert a.rgb.std() > 20  # textured enough to track


def test_raycast_sphere_depth_is_exact():
    sphere = Primitive("sphere", np.array([0.5]), np.eye(3), np.array([0.0, 0.0, 3.0]), np.full((3, 3), 0.5), 0, 1.0, 0)
    scene = ProceduralScene([sphere], np.array([0.0, -1.0, 0.0]))
    out = scene.render(Intrinsics.centred(10.0, 21, 21), (21, 21))
    assert out.depth[10, 10] == pytest.approx(2.5, abs=1e-9)  # front of the sphere on the axis
    assert out.depth[0, 0] == 0.0  # a 45° ray misses the sphere: invalid depth
    # an off-axis ray: z-depth of the near intersection, from the ray–sphere quadratic
    d = np.array([1.0 / 10.0, 0.0, 1.0])
    d /= np.linalg.norm(d)
    b = -3.0 * d[2]
    t = -b - np.sqrt(b * b - (9.0 - 0.25))
    assert out.depth[10, 11] == pytest.approx(t * d[2], abs=1e-6)


def test_room_box_from_inside_and_panel():
    room = Primitive(
        "box",
        np.array([2.0, 2.0, 2.0]),
        np.eye(3),
        np.array([0.0, 0.0, 1.0]),
        np.full((3, 3), 0.5),
        1,
        1.0,
        0,
        inside=True,
    )
    panel = Primitive(
        "panel", np.array([0.2, 0.2]), np.eye(3), np.array([0.0, 0.0, 1.5]), np.full((3, 3), 0.2), 2, 1.0, 1
    )
    scene = ProceduralScene([room, panel], np.array([0.0, -1.0, 0.0]))
    out = scene.render(Intrinsics.centred(50.0, 31, 31), (31, 31))
    assert out.depth[15, 15] == pytest.approx(1.5)  # panel in front
    assert out.depth[0, 15] == pytest.approx(3.0, abs=0.3) or out.depth[0, 15] < 3.0  # wall/ceiling
    assert (out.depth > 0).all()


def test_generate_scene_rejects_bad_range():
    with pytest.raises(ValueError):
        generate_scene(0, INTR, (80, 96), SceneConfig(near_m=5.0, far_m=1.0))


def test_srgb_round_trip():
    x = np.linspace(0, 1, 101, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)
    u8 = linear_to_srgb_u8(srgb_to_linear(np.arange(256) / 255.0))
    assert np.abs(u8.astype(int) - np.arange(256)).max() <= 1
