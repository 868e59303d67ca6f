import numpy as np
import pytest

from motiondepth.geometry import Intrinsics
from motiondepth.scenes import Primitive, ProceduralScene, SceneConfig, generate_scene, render_procedural
from motiondepth.sensor.color import linear_to_srgb, linear_to_srgb_u8, srgb_to_linear

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


def test_indoor_layout_is_seeded_closed_and_stands_on_the_floor():
    cfg = SceneConfig(layout="indoor", metric_cues=True)
    a = render_procedural(5, INTR, (80, 96), cfg)
    np.testing.assert_array_equal(a.rgb, render_procedural(5, INTR, (80, 96), cfg).rgb)
    assert not np.array_equal(a.rgb, render_procedural(5, INTR, (80, 96)).rgb)  # not the room layout
    nearer = []
    for seed in range(6):
        d = render_procedural(seed, INTR, (80, 96), cfg).depth
        assert (d > 0).all() and d.max() < 1.2 * cfg.far_m * 1.2  # a closed room, walls within reach
        nearer.append(np.median(d[-10:]) < np.median(d[:10]))  # the floor comes closer towards the bottom
    assert np.mean(nearer) >= 5 / 6


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="layout"):
        generate_scene(0, INTR, (80, 96), SceneConfig(layout="garden"))


def test_lamp_light_falls_off_with_distance():
    grey = np.full((3, 3), 0.5)
    wall = Primitive("panel", np.array([5.0, 5.0]), np.eye(3), np.array([0.0, 0.0, 3.0]), grey, 0, 1.0, 0)
    lit = ProceduralScene([wall], np.array([0.0, 0.0, -1.0]), ambient=0.0, lamp=np.array([-1.0, 0.0, 2.5]))
    img = lit.render(Intrinsics.centred(20.0, 41, 21), (21, 41)).rgb.mean(axis=(0, 2))
    assert img[:10].mean() > img[-10:].mean() + 10  # brighter on the lamp's side
    plain = ProceduralScene([wall], np.array([0.0, 0.0, -1.0]), ambient=0.0)
    flat = plain.render(Intrinsics.centred(20.0, 41, 21), (21, 41)).rgb.mean(axis=(0, 2))
    assert abs(flat[:10].mean() - flat[-10:].mean()) < 10
