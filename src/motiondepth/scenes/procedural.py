"""Seeded procedural scenes: a textured room plus boxes, spheres and slanted panels.

Two layouts. ``room`` (the default) fills a box room with objects at random depths anywhere in
the view. ``indoor`` is a furnished room seen from eye height: floor, walls and ceiling at real
distances, cabinets, tables with legs and balls standing on the floor, small items on top of
them, pictures on the walls, often plain (low-contrast) paint and a ceiling lamp whose light
falls off with distance, the camera tilted down and turned as a person holds it. Its images carry
the monocular cues of real indoor photographs (where the floor meets an object, how far a plain
wall is), which ``room`` scenes lack.

Every surface is an analytic primitive, so a ray cast gives exact metric z-depth and exact
surface points; the same scenes later feed training data for the learned models. Scenes are
built inside a camera frustum so that any camera preset (wide phone or narrow telephoto) sees
a full, depth-varied image.

Example:
    >>> from motiondepth.geometry import Intrinsics
    >>> intr = Intrinsics.centred(300.0, 64, 48)
    >>> scene = generate_scene(0, intr, (48, 64))
    >>> rgbd = scene.render(intr, (48, 64))
    >>> rgbd.rgb.shape, bool((rgbd.depth > 0).all())
    ((48, 64, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.scenes.texture import shade_texture
from motiondepth.sensor.color import linear_to_srgb_u8, srgb_to_linear
from motiondepth.types import RGBDImage

BOX, SPHERE, PANEL = "box", "sphere", "panel"
_INF = np.float64(np.inf)


@dataclass
class SceneConfig:
    """How :func:`generate_scene` populates a scene. Depth range follows the camera preset."""

    near_m: float = 1.0  # nearest object distance along the optical axis, metres
    far_m: float = 6.0  # back wall distance, metres
    num_objects: tuple[int, int] = (4, 8)  # inclusive range of objects inside the room
    object_size: tuple[float, float] = (0.08, 0.3)  # object radius as a fraction of the view width at its depth
    panel_probability: float = 0.3  # share of objects that are slanted panels
    sphere_probability: float = 0.3  # share of objects that are spheres (rest: boxes)
    texture_cycles: float = 1.5  # base texture cycles per 100 px of image at the surface's framing depth
    light_elevation_deg: float = 50.0  # directional light elevation
    ambient: float = 0.45  # ambient light share
    supersample: int = 2  # per-axis RGB supersampling (anti-aliasing); depth is sampled at pixel centres
    # Metric cues. By default texture frequency and object size are set in *image* units at each
    # surface's depth, which keeps texture trackable everywhere but removes every monocular cue to
    # metric depth. With ``metric_cues`` both are in world units, as in real scenes: texture has
    # ``texture_cycles`` per 100 px at ``texture_ref_m`` (so it is finer further away) and objects
    # have radii of ``object_radius_m`` metres (so they look smaller further away).
    metric_cues: bool = False
    texture_ref_m: float = 2.5
    object_radius_m: tuple[float, float] = (0.1, 0.4)
    layout: str = "room"  # room | indoor (module docstring)
    plain_probability: float = 0.6  # indoor: share of surfaces painted plain (low contrast)


@dataclass
class Primitive:
    """One analytic surface in its local frame, placed by ``rotation``/``translation``."""

    kind: str  # box | sphere | panel
    size: np.ndarray  # box: half extents (3,); sphere: (radius,); panel: half extents (2,)
    rotation: np.ndarray  # (3, 3) local-to-scene rotation
    translation: np.ndarray  # (3,) local origin in the scene frame, metres
    colours: np.ndarray  # (3, 3) linear-RGB colours of the texture
    pattern: int  # texture pattern id, see scenes.texture.shade_texture
    texture_freq: float  # cycles per metre
    texture_seed: int
    inside: bool = False  # box seen from inside (the room)


@dataclass
class Hit:
    """Nearest intersection per ray."""

    t: np.ndarray  # (N,) ray parameter (distance along a unit direction), inf = miss
    prim: np.ndarray  # (N,) index of the primitive hit, −1 = miss
    local: np.ndarray  # (N, 3) hit point in the primitive's local frame
    normal: np.ndarray  # (N, 3) scene-frame unit normal facing the ray


@dataclass
class ProceduralScene:
    """A set of primitives with a light; ray-castable from any camera pose."""

    primitives: list[Primitive]
    light_dir: np.ndarray  # (3,) unit vector towards the light, scene frame
    ambient: float = 0.45
    seed: int = 0
    config: SceneConfig = field(default_factory=SceneConfig)
    lamp: np.ndarray | None = None  # (3,) point light position, scene frame; brightness falls as 1/r²
    lamp_ref_m: float = 2.0  # distance at which the lamp is as bright as the directional light

    def raycast(self, origins: np.ndarray, dirs: np.ndarray) -> Hit:
        """Nearest hit of rays ``origins + t·dirs`` (both (N, 3), dirs unit length)."""
        n = len(dirs)
        best_t = np.full(n, _INF)
        best_p = np.full(n, -1, dtype=np.int64)
        best_local = np.zeros((n, 3))
        best_nrm = np.zeros((n, 3))
        for idx, prim in enumerate(self.primitives):
            o = (origins - prim.translation) @ prim.rotation  # Rᵀ (o − t), row-vector form
            d = dirs @ prim.rotation
            t, nrm_local = _intersect(prim, o, d)
            closer = t < best_t
            if not closer.any():
                continue
            best_t = np.where(closer, t, best_t)
            best_p[closer] = idx
            best_local[closer] = o[closer] + t[closer, None] * d[closer]
            best_nrm[closer] = nrm_local[closer] @ prim.rotation.T
        facing = np.sign(-(best_nrm * dirs).sum(-1, keepdims=True))
        return Hit(best_t, best_p, best_local, best_nrm * np.where(facing == 0, 1.0, facing))

    def shade(self, hit: Hit) -> np.ndarray:
        """Linear-RGB radiance (N, 3) at the hits; misses are black."""
        out = np.zeros((len(hit.t), 3), dtype=np.float32)
        lambert = np.clip(hit.normal @ self.light_dir, 0.0, 1.0).astype(np.float32)
        for idx, prim in enumerate(self.primitives):
            sel = np.flatnonzero(hit.prim == idx)
            if not len(sel):
                continue
            direct = lambert[sel]
            if self.lamp is not None:
                points = hit.local[sel] @ prim.rotation.T + prim.translation  # the hits in the scene frame
                direct = (0.4 * direct + 0.6 * self._lamp_light(points, hit.normal[sel])).astype(np.float32)
            albedo = shade_texture(hit.local[sel], prim.pattern, prim.colours, prim.texture_freq, prim.texture_seed)
            out[sel] = albedo * (self.ambient + (1.0 - self.ambient) * direct)[:, None]
        return out

    def _lamp_light(self, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """Lambert term of the lamp at scene points (N, 3) with unit normals (N, 3), falling as 1/r²."""
        to_lamp = self.lamp - points
        dist = np.maximum(np.linalg.norm(to_lamp, axis=1), 0.1)
        lamp = np.clip((normals * to_lamp).sum(1) / dist, 0.0, 1.0) * (self.lamp_ref_m / dist) ** 2
        return np.minimum(lamp, 2.0)

    def render(
        self,
        intr: Intrinsics,
        size: tuple[int, int],
        rotation: np.ndarray | None = None,
        position: np.ndarray | None = None,
    ) -> RGBDImage:
        """Ray-cast an RGB image and its z-depth.

        Args:
            intr: camera intrinsics for an image of ``size``.
            size: (H, W) output size.
            rotation: (3, 3) camera-to-scene rotation (default identity).
            position: (3,) camera centre in the scene frame, metres (default origin).

        Returns:
            :class:`RGBDImage` with sRGB uint8 colour and float32 z-depth in metres.
        """
        h, w = size
        rot = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
        pos = np.zeros(3) if position is None else np.asarray(position, dtype=np.float64)
        ss = max(1, int(self.config.supersample))
        # colour, supersampled: sub-pixel centres of an ss×ss grid within each pixel
        sub = intr.scaled(ss)
        hit, _ = self._cast_grid(sub, (h * ss, w * ss), rot, pos)
        radiance = self.shade(hit).reshape(h * ss, w * ss, 3)
        if ss > 1:
            radiance = cv2.resize(radiance, (w, h), interpolation=cv2.INTER_AREA)
        rgb = linear_to_srgb_u8(radiance)
        # depth at exact pixel centres (never averaged across an occlusion edge)
        hit1, zdir = self._cast_grid(intr, (h, w), rot, pos)
        depth = np.where(np.isfinite(hit1.t), hit1.t * zdir, 0.0).reshape(h, w).astype(np.float32)
        return RGBDImage(rgb=rgb, depth=depth, intrinsics=intr, source=f"procedural(seed={self.seed})")

    def _cast_grid(
        self, intr: Intrinsics, size: tuple[int, int], rot: np.ndarray, pos: np.ndarray
    ) -> tuple[Hit, np.ndarray]:
        h, w = size
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        rays = np.stack([(xs - intr.cx) / intr.fx, (ys - intr.cy) / intr.fy, np.ones_like(xs)], -1)
        rays = rays.reshape(-1, 3)
        norm = np.linalg.norm(rays, axis=1, keepdims=True)
        dirs_cam = rays / norm
        hit = self.raycast(np.broadcast_to(pos, dirs_cam.shape), dirs_cam @ rot.T)
        return hit, dirs_cam[:, 2]  # z component turns ray distance into z-depth


def _intersect(prim: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ray parameter of the first valid hit (inf if none) and local normals, (N,), (N, 3)."""
    eps = 1e-9
    n = len(d)
    nrm = np.zeros((n, 3))
    if prim.kind == SPHERE:
        r = prim.size[0]
        b = (o * d).sum(1)
        c = (o * o).sum(1) - r * r
        disc = b * b - c
        ok = disc >= 0
        sq = np.sqrt(np.where(ok, disc, 0.0))
        t0, t1 = -b - sq, -b + sq
        t = np.where(t0 > eps, t0, np.where(t1 > eps, t1, _INF))
        t = np.where(ok, t, _INF)
        nrm = (o + np.where(np.isfinite(t), t, 0.0)[:, None] * d) / r
        return t, nrm
    if prim.kind == PANEL:
        hx, hy = prim.size
        dz = np.where(np.abs(d[:, 2]) < eps, eps, d[:, 2])
        t = -o[:, 2] / dz
        p = o + t[:, None] * d
        ok = (t > eps) & (np.abs(p[:, 0]) <= hx) & (np.abs(p[:, 1]) <= hy)
        nrm[:, 2] = 1.0
        return np.where(ok, t, _INF), nrm
    # box (slab method); the room is a box seen from inside: its exit point
    half = prim.size
    inv = 1.0 / np.where(np.abs(d) < eps, np.copysign(eps, d + (d == 0)), d)
    t_lo = (-half - o) * inv
    t_hi = (half - o) * inv
    t_near = np.minimum(t_lo, t_hi)
    t_far = np.maximum(t_lo, t_hi)
    t_enter = t_near.max(1)
    t_exit = t_far.min(1)
    ok = t_exit >= np.maximum(t_enter, eps)
    if prim.inside:
        t = np.where(ok, t_exit, _INF)
        axis = np.argmin(t_far, 1)
    else:
        t = np.where(ok & (t_enter > eps), t_enter, _INF)
        axis = np.argmax(t_near, 1)
    rows = np.arange(n)
    nrm[rows, axis] = np.sign(d[rows, axis]) * (1.0 if prim.inside else -1.0)
    return t, nrm


def _random_colours(rng: np.random.Generator) -> np.ndarray:
    """Three well-separated linear-RGB colours: a dark, a light and an accent."""
    hue = rng.random()
    base = np.array([hue, hue + 0.33, hue + 0.66]) % 1.0
    sat = rng.uniform(0.2, 0.8)
    dark = _hsv(base[0], sat, rng.uniform(0.05, 0.25))
    light = _hsv(base[1], sat * 0.6, rng.uniform(0.55, 0.95))
    accent = _hsv(base[2], rng.uniform(0.4, 1.0), rng.uniform(0.3, 0.9))
    return srgb_to_linear(np.stack([dark, light, accent]))


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def generate_scene(
    seed: int, intr: Intrinsics, size: tuple[int, int], config: SceneConfig | None = None
) -> ProceduralScene:
    """Build a seeded random scene that fills the view of a camera at the origin.

    A room (box seen from inside; back wall at ``far_m``, walls, floor and ceiling inside the
    frustum so they are visible and converge) holds boxes, spheres and slanted panels placed
    between ``near_m`` and ``far_m`` within the view, each with its own texture.

    Args:
        seed: random seed; the same seed gives the same scene.
        intr: intrinsics of the camera the scene is framed for.
        size: (H, W) image size of that camera.
        config: population settings (default :class:`SceneConfig`).
    """
    cfg = config or SceneConfig()
    if not 0 < cfg.near_m < cfg.far_m:
        raise ValueError(f"need 0 < near_m < far_m, got {cfg.near_m}, {cfg.far_m}")
    if cfg.layout == "indoor":
        return _indoor_scene(seed, intr, size, cfg)
    if cfg.layout != "room":
        raise ValueError(f"unknown scene layout {cfg.layout!r}; use 'room' or 'indoor'")
    rng = np.random.default_rng(seed)
    h, w = size
    tan_x = max(intr.cx, w - 1 - intr.cx) / intr.fx
    tan_y = max(intr.cy, h - 1 - intr.cy) / intr.fy
    far = cfg.far_m * rng.uniform(0.85, 1.0)

    def texture(depth_m: float) -> dict:
        # frequency scales inversely with viewing distance so detail stays a few pixels wide
        # (or, with metric cues, is fixed in cycles per metre)
        pixels_per_m = intr.fx / (cfg.texture_ref_m if cfg.metric_cues else depth_m)
        freq = cfg.texture_cycles * pixels_per_m / 100.0 * rng.uniform(0.7, 1.4)
        return dict(
            colours=_random_colours(rng),
            pattern=int(rng.integers(0, 4)),
            texture_freq=float(freq),
            texture_seed=int(rng.integers(0, 2**31 - 1)),
        )

    prims: list[Primitive] = []
    half = np.array([far * tan_x * rng.uniform(0.55, 0.85), far * tan_y * rng.uniform(0.55, 0.85), 0.5 * (far + 1.0)])
    room_t = np.array([rng.uniform(-0.1, 0.1) * half[0], rng.uniform(-0.1, 0.1) * half[1], far - half[2]])
    prims.append(Primitive(BOX, half, np.eye(3), room_t, inside=True, **texture(0.7 * far)))

    n_obj = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    for _ in range(n_obj):
        z = np.exp(rng.uniform(np.log(cfg.near_m), np.log(0.8 * far)))
        view_w = 2.0 * z * tan_x
        radius = view_w * rng.uniform(*cfg.object_size) * 0.5
        if cfg.metric_cues:
            radius = rng.uniform(*cfg.object_radius_m)
        centre = np.array([rng.uniform(-0.8, 0.8) * z * tan_x, rng.uniform(-0.8, 0.8) * z * tan_y, z + radius])
        rot = euler_to_matrix(rng.uniform(-np.pi, np.pi, 3) * np.array([1.0, 0.5, 1.0]))
        u = rng.random()
        if u < cfg.sphere_probability:
            prims.append(Primitive(SPHERE, np.array([radius]), np.eye(3), centre, **texture(z)))
        elif u < cfg.sphere_probability + cfg.panel_probability:
            # slanted panel: tilted by up to 60° so depth varies strongly across it
            tilt = euler_to_matrix(
                np.array([rng.uniform(-np.pi, np.pi), rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)])
            )
            size2 = radius * rng.uniform(0.8, 1.8, 2)
            prims.append(Primitive(PANEL, size2, tilt, centre, **texture(z)))
        else:
            prims.append(Primitive(BOX, radius * rng.uniform(0.5, 1.0, 3), rot, centre, **texture(z)))

    elev = np.deg2rad(cfg.light_elevation_deg)
    az = rng.uniform(-np.pi, np.pi)
    light = np.array([np.cos(elev) * np.sin(az), -np.sin(elev), -np.cos(elev) * np.cos(az)])
    return ProceduralScene(prims, light / np.linalg.norm(light), cfg.ambient, seed, cfg)


def _axis_rotation(axis: int, angle: float) -> np.ndarray:
    """Right-handed rotation by ``angle`` radians about coordinate axis 0 (x), 1 (y) or 2 (z)."""
    angles = np.zeros(3)
    angles[(1, 2, 0)[axis]] = angle  # euler_to_matrix's [roll (z), pitch (x), yaw (y)]
    return euler_to_matrix(angles)


def _indoor_scene(seed: int, intr: Intrinsics, size: tuple[int, int], cfg: SceneConfig) -> ProceduralScene:
    """A furnished room seen from eye height (``layout="indoor"``, module docstring).

    Built in a level world frame (x right, y down, z ahead; the camera at the origin, the floor at
    y = eye height), then expressed in the frame of a camera tilted down by up to 30° and turned by
    up to ±30° (yaw) and ±3° (roll). Everything stands on the floor or on furniture; nothing floats.
    """
    rng = np.random.default_rng(seed)
    tan_x = max(intr.cx, size[1] - 1 - intr.cx) / intr.fx
    eye = rng.uniform(1.0, 1.7)  # camera height above the floor, metres
    height = rng.uniform(2.4, 3.2)  # floor to ceiling
    far = cfg.far_m * rng.uniform(0.5, 1.2)  # back wall
    width = rng.uniform(2.5, 6.0)
    x0 = rng.uniform(-0.35, 0.35) * width  # room centre, left-right of the camera
    yaw, tilt, roll = rng.uniform(-0.5, 0.5), rng.uniform(-0.1, 0.5), rng.uniform(-0.05, 0.05)
    half = np.array([width / 2, height / 2, (far + 1.0) / 2])
    centre = np.array([x0, eye - height / 2, far - half[2]])

    def paint(depth_m: float, plain: bool | None = None, pattern: int | None = None) -> dict:
        pixels_per_m = intr.fx / (cfg.texture_ref_m if cfg.metric_cues else depth_m)
        colours = _random_colours(rng)
        if (rng.random() < cfg.plain_probability) if plain is None else plain:
            # plain paint: one colour with a faint mottle, so the surface is still (barely) trackable
            base = _hsv(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.35, 0.95))
            colours = srgb_to_linear(np.stack([base * 0.9, base, base * 0.8]))
        return dict(
            colours=colours,
            pattern=int(rng.integers(0, 4)) if pattern is None else pattern,
            texture_freq=float(cfg.texture_cycles * pixels_per_m / 100.0 * rng.uniform(0.7, 1.4)),
            texture_seed=int(rng.integers(0, 2**31 - 1)),
        )

    prims: list[Primitive] = [Primitive(BOX, half, np.eye(3), centre, inside=True, **paint(0.7 * far))]
    # the floor as its own slab just above the room's floor face: wood, tiles or carpet
    floor = paint(0.5 * far, plain=rng.random() < 0.3, pattern=int(rng.choice([0, 1, 2])))
    prims.append(Primitive(PANEL, half[[0, 2]], _axis_rotation(0, np.pi / 2), centre + [0, half[1] - 1e-3, 0], **floor))
    lo, hi = centre - half + 0.05, centre + half - 0.05  # room interior (x, ·, z) bounds

    def spot(r: float, extent: float) -> np.ndarray | None:
        """A floor position (x, z) in view at distance ``r`` for an object of half-size ``extent``."""
        bearing = yaw + rng.uniform(-1.0, 1.0) * np.arctan(tan_x)
        x, z = r * np.sin(bearing), r * np.cos(bearing)
        x, z = np.clip(x, lo[0] + extent, hi[0] - extent), np.clip(z, 0.6 + extent, hi[2] - extent)
        return None if np.hypot(x, z) < 0.7 + extent else np.array([x, z])

    def on_top(x: float, z: float, top_y: float, spread: float, count: int) -> None:
        """``count`` small items standing on a surface at height ``top_y`` (y down) around (x, z)."""
        for _ in range(count):
            r = rng.uniform(0.04, 0.15)
            pos = np.array([x + rng.uniform(-spread, spread), top_y - r, z + rng.uniform(-spread, spread)])
            if rng.random() < 0.4:
                prims.append(Primitive(SPHERE, np.array([r]), np.eye(3), pos, **paint(pos[2])))
            else:
                ext = r * rng.uniform(0.5, 1.0, 3)
                pos[1] = top_y - ext[1]
                prims.append(Primitive(BOX, ext, _axis_rotation(1, rng.uniform(-np.pi, np.pi)), pos, **paint(pos[2])))

    for _ in range(int(rng.integers(2, 8))):
        r = np.exp(rng.uniform(np.log(max(cfg.near_m, 0.8)), np.log(0.95 * far)))
        kind = rng.choice(["cabinet", "table", "ball"], p=[0.5, 0.3, 0.2])
        turn = _axis_rotation(1, rng.uniform(-np.pi, np.pi) if rng.random() < 0.5 else 0.0)
        if kind == "cabinet":
            ext = np.array([rng.uniform(0.15, 0.6), rng.uniform(0.15, 1.0), rng.uniform(0.15, 0.4)])
            xz = spot(r, ext[[0, 2]].max())
            if xz is None:
                continue
            prims.append(Primitive(BOX, ext, turn, np.array([xz[0], eye - ext[1], xz[1]]), **paint(r)))
            if rng.random() < 0.5:
                on_top(xz[0], xz[1], eye - 2 * ext[1], 0.5 * ext[[0, 2]].min(), int(rng.integers(1, 4)))
        elif kind == "table":
            top = np.array([rng.uniform(0.3, 0.8), 0.025, rng.uniform(0.3, 0.6)])
            legs = rng.uniform(0.4, 0.8)  # table height
            xz = spot(r, top[[0, 2]].max())
            if xz is None:
                continue
            look = paint(r)
            prims.append(Primitive(BOX, top, turn, np.array([xz[0], eye - legs, xz[1]]), **look))
            for sx, sz in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
                corner = turn @ np.array([sx * (top[0] - 0.05), 0.0, sz * (top[2] - 0.05)])
                leg = np.array([xz[0] + corner[0], eye - legs / 2, xz[1] + corner[2]])
                prims.append(Primitive(BOX, np.array([0.025, legs / 2, 0.025]), turn, leg, **look))
            on_top(xz[0], xz[1], eye - legs - 0.025, 0.5 * top[[0, 2]].min(), int(rng.integers(0, 4)))
        else:
            rad = rng.uniform(0.1, 0.35)
            xz = spot(r, rad)
            if xz is not None:
                prims.append(Primitive(SPHERE, np.array([rad]), np.eye(3), np.array([xz[0], eye - rad, xz[1]]),
                                       **paint(r)))  # fmt: skip
    # pictures, windows and doors: panels a centimetre in front of the back or a side wall
    for _ in range(int(rng.integers(0, 4))):
        ext = rng.uniform(0.2, 0.7, 2)
        up = eye - rng.uniform(0.3, 1.6)  # picture centre height (y down)
        wall = rng.integers(0, 3)
        if wall == 0:
            pos = np.array([rng.uniform(lo[0] + ext[0], hi[0] - ext[0]), up, hi[2] + 0.04])
            rot = np.eye(3)
        else:
            side = lo[0] + 0.04 if wall == 1 else hi[0] - 0.04
            pos = np.array([side, up, rng.uniform(1.0, hi[2] - ext[0])])
            rot = _axis_rotation(1, np.pi / 2)
        prims.append(Primitive(PANEL, ext, rot, pos, **paint(np.hypot(pos[0], pos[2]))))

    # express the world in the camera's frame: camera-to-world = yaw · tilt-down · roll
    cam = _axis_rotation(1, yaw) @ _axis_rotation(0, -tilt) @ _axis_rotation(2, roll)
    for prim in prims:
        prim.rotation = cam.T @ prim.rotation
        prim.translation = cam.T @ prim.translation
    elev = np.deg2rad(rng.uniform(40.0, 80.0))
    az = rng.uniform(-np.pi, np.pi)
    light = cam.T @ np.array([np.cos(elev) * np.sin(az), -np.sin(elev), -np.cos(elev) * np.cos(az)])
    lamp = cam.T @ np.array([x0 + rng.uniform(-0.3, 0.3) * width, eye - height + 0.15, far * rng.uniform(0.2, 0.7)])
    ambient = rng.uniform(0.25, 0.45)
    return ProceduralScene(prims, light / np.linalg.norm(light), ambient, seed, cfg, lamp=lamp)


def render_procedural(
    seed: int, intr: Intrinsics, size: tuple[int, int], config: SceneConfig | None = None
) -> RGBDImage:
    """Generate scene ``seed`` and render it from the origin: the built-in default input."""
    return generate_scene(seed, intr, size, config).render(intr, size)
