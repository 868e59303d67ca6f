"""Animated procedural scenes: a moving camera and independently moving rigid objects.

The project's stand-in for the Kubric MOVi-F generator that Seurat was trained on (docs/design.md §6).
A static :func:`~motiondepth.scenes.procedural.generate_scene` room is populated with objects;
each object then follows its own smooth rigid motion (velocity, acceleration and spin) while
the camera translates and turns. Because every surface is analytic, a surface point is a
(primitive, local coordinate) pair: its 2D track, z-depth and visibility in any frame are exact.
Visibility is real occlusion: a point is visible when the first surface hit along the pixel ray
through it is the point itself (and it lies inside the image, in front of the camera).

Example:
    >>> from motiondepth.geometry import Intrinsics
    >>> intr = Intrinsics.centred(200.0, 128, 96)
    >>> scene = generate_animated_scene(0, intr, (96, 128), num_frames=6)
    >>> pts = scene.surface_points(0, np.array([[64.0, 48.0], [10.0, 10.0]]))
    >>> xy, depth, vis = scene.track(pts)
    >>> xy.shape, depth.shape, bool(vis[0].all())
    ((6, 2, 2), (6, 2), True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.scenes.procedural import ProceduralScene, SceneConfig, generate_scene


@dataclass
class MotionConfig:
    """How cameras and objects move in :func:`generate_animated_scene` (per frame, 10 fps feel)."""

    camera_speed: tuple[float, float] = (0.005, 0.03)  # camera translation per frame, fraction of the room depth
    camera_forward_bias: float = 0.6  # share of camera motion along the optical axis (dolly) on average
    camera_turn_deg: tuple[float, float] = (0.0, 0.8)  # camera rotation rate per frame, degrees
    object_speed: tuple[float, float] = (0.01, 0.06)  # object translation per frame, fraction of its depth
    object_depth_bias: float = 0.5  # share of object motion along the depth direction on average
    object_spin_deg: tuple[float, float] = (0.0, 6.0)  # object rotation rate per frame, degrees
    moving_probability: float = 0.75  # chance that an object moves at all
    accel_fraction: float = 0.5  # acceleration magnitude as a fraction of velocity per 10 frames
    min_depth_m: float = 0.25  # objects and walls are kept at least this far in front of the camera at frame 0


@dataclass
class Pose:
    """Rigid poses per frame: local/camera-to-scene rotation and translation."""

    rotation: np.ndarray  # (T, 3, 3)
    translation: np.ndarray  # (T, 3)


@dataclass
class SurfacePoints:
    """Points glued to surfaces: which primitive and where in its local frame."""

    prim: np.ndarray  # (N,) int primitive index
    local: np.ndarray  # (N, 3) local coordinates, metres


@dataclass
class AnimatedScene:
    """A procedural scene with per-frame primitive and camera poses."""

    scene: ProceduralScene  # geometry (poses of frame 0 are the ones stored in its primitives)
    object_poses: list[Pose]  # per primitive
    camera: Pose  # camera-to-scene per frame
    intrinsics: Intrinsics
    size: tuple[int, int]  # (H, W)

    @property
    def num_frames(self) -> int:
        return len(self.camera.translation)

    def at(self, frame: int) -> ProceduralScene:
        """The scene's primitives placed as in ``frame``."""
        prims = [
            dataclasses.replace(p, rotation=pose.rotation[frame], translation=pose.translation[frame])
            for p, pose in zip(self.scene.primitives, self.object_poses, strict=False)
        ]
        return dataclasses.replace(self.scene, primitives=prims)

    def surface_points(self, frame: int, pixels: np.ndarray) -> SurfacePoints:
        """Surface points seen at ``pixels`` (N, 2) in ``frame`` (first hit along each ray).

        Rays that miss every surface (impossible inside the closed room) get primitive −1.
        """
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        k = self.intrinsics
        rays = np.stack([(pixels[:, 0] - k.cx) / k.fx, (pixels[:, 1] - k.cy) / k.fy, np.ones(len(pixels))], -1)
        dirs = rays / np.linalg.norm(rays, axis=1, keepdims=True)
        rot, pos = self.camera.rotation[frame], self.camera.translation[frame]
        hit = self.at(frame).raycast(np.broadcast_to(pos, dirs.shape), dirs @ rot.T)
        return SurfacePoints(hit.prim, hit.local)

    def track(self, points: SurfacePoints, frames: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Exact 2D tracks, z-depth and visibility of surface points.

        Args:
            points: from :meth:`surface_points`.
            frames: frame indices (default all).

        Returns:
            ``xy`` (T, N, 2) float64 pixels (projection even when occluded or off-image; NaN when
            behind the camera), ``depth`` (T, N) z in metres (≤ 0 behind the camera),
            ``visible`` (T, N) bool: first surface along the ray, inside the image, in front.
        """
        frames = np.arange(self.num_frames) if frames is None else np.asarray(frames)
        n = len(points.prim)
        h, w = self.size
        k = self.intrinsics
        xy = np.full((len(frames), n, 2), np.nan)
        depth = np.zeros((len(frames), n))
        vis = np.zeros((len(frames), n), dtype=bool)
        ok = points.prim >= 0
        prim = np.where(ok, points.prim, 0)
        tol_rel = 1e-6
        for i, f in enumerate(frames):
            rots = np.stack([p.rotation[f] for p in self.object_poses])[prim]  # (N, 3, 3)
            trans = np.stack([p.translation[f] for p in self.object_poses])[prim]
            world = np.einsum("nij,nj->ni", rots, points.local) + trans
            c_rot, c_pos = self.camera.rotation[f], self.camera.translation[f]
            rel = world - c_pos
            cam = rel @ c_rot  # R_cᵀ (X − c), row-vector form
            z = cam[:, 2]
            front = ok & (z > 1e-6)
            zs = np.where(front, z, 1.0)
            u = k.fx * cam[:, 0] / zs + k.cx
            v = k.fy * cam[:, 1] / zs + k.cy
            xy[i, front, 0], xy[i, front, 1] = u[front], v[front]
            depth[i] = np.where(ok, z, 0.0)
            inside = front & (u >= 0) & (u <= w - 1) & (v >= 0) & (v <= h - 1)
            sel = np.flatnonzero(inside)
            if len(sel):
                dist = np.linalg.norm(rel[sel], axis=1)
                dirs = rel[sel] / dist[:, None]
                hit = self.at(f).raycast(np.broadcast_to(c_pos, dirs.shape), dirs)
                same = (hit.prim == points.prim[sel]) & (np.abs(hit.t - dist) <= tol_rel * dist + 1e-6)
                vis[i, sel] = same
        return xy, depth, vis

    def depth_map(self, frame: int) -> np.ndarray:
        """(H, W) float32 z-depth of ``frame`` (for metric depth sources in evaluation)."""
        hit, zdir = self.at(frame)._cast_grid(
            self.intrinsics, self.size, self.camera.rotation[frame], self.camera.translation[frame]
        )
        depth = np.where(np.isfinite(hit.t), hit.t * zdir, 0.0)
        return depth.reshape(self.size).astype(np.float32)


def _smooth_path(rng: np.random.Generator, t: np.ndarray, speed: float, direction: np.ndarray, accel: float):
    """Positions of a constant-acceleration path starting at 0 (T, 3)."""
    vel = speed * direction
    acc_dir = rng.normal(size=3)
    acc_dir /= np.linalg.norm(acc_dir)
    acc = accel * speed / 10.0 * acc_dir
    return t[:, None] * vel + 0.5 * (t**2)[:, None] * acc


def _spin(rng: np.random.Generator, t: np.ndarray, rate_rad: float) -> np.ndarray:
    """(T, 3, 3) rotations about a random axis at a constant rate."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rate_rad * t
    kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * kx + (1 - c) * (kx @ kx)  # Rodrigues


def _direction(rng: np.random.Generator, depth_bias: float) -> np.ndarray:
    d = rng.normal(size=3)
    d[2] = d[2] * (1.0 + 3.0 * depth_bias) if rng.random() < depth_bias else d[2]
    return d / np.linalg.norm(d)


def generate_animated_scene(
    seed: int,
    intr: Intrinsics,
    size: tuple[int, int],
    num_frames: int,
    scene_config: SceneConfig | None = None,
    motion: MotionConfig | None = None,
) -> AnimatedScene:
    """Build a seeded animated scene: the same seed gives the same geometry and motion.

    Args:
        seed: random seed.
        intr: camera intrinsics (fixed over the clip).
        size: (H, W) image size.
        num_frames: T.
        scene_config: population of the static scene (:class:`SceneConfig`).
        motion: camera and object motion ranges (:class:`MotionConfig`).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be ≥ 1, got {num_frames}")
    mc = motion or MotionConfig()
    base = generate_scene(seed, intr, size, scene_config)
    rng = np.random.default_rng([seed, 7919])
    t = np.arange(num_frames, dtype=np.float64)
    room = base.primitives[0]
    far = float(room.translation[2] + room.size[2])

    # camera: dolly-biased translation kept inside the room, slow turn
    cam_dir = rng.normal(size=3) * np.array([1.0, 0.5, 1.0])
    cam_dir[2] += np.sign(rng.normal()) * 2.0 * mc.camera_forward_bias
    cam_dir /= np.linalg.norm(cam_dir)
    cam_speed = rng.uniform(*mc.camera_speed) * far
    cam_pos = _smooth_path(rng, t, cam_speed, cam_dir, mc.accel_fraction)
    # keep the camera inside the room (a margin from every wall); the start (origin) is always allowed
    lim = np.maximum(room.size - 0.1 * far, 0.05)
    lo = np.minimum(room.translation - lim, 0.0)
    hi = np.maximum(room.translation + lim, 0.0)
    cam_pos = np.clip(cam_pos, lo, hi)
    turn = np.deg2rad(rng.uniform(*mc.camera_turn_deg))
    axis_w = rng.normal(size=3) * np.array([0.3, 1.0, 1.0])  # mostly pan/tilt, little roll
    cam_rot = euler_to_matrix(np.outer(t, axis_w / np.linalg.norm(axis_w) * turn))
    camera = Pose(cam_rot, cam_pos)

    room_rot = np.broadcast_to(room.rotation, (num_frames, 3, 3)).copy()
    poses = [Pose(room_rot, np.tile(room.translation, (num_frames, 1)))]
    for prim in base.primitives[1:]:
        z0 = max(float(prim.translation[2]), mc.min_depth_m)
        if rng.random() < mc.moving_probability:
            speed = rng.uniform(*mc.object_speed) * z0
            path = _smooth_path(rng, t, speed, _direction(rng, mc.object_depth_bias), mc.accel_fraction)
            spin = _spin(rng, t, np.deg2rad(rng.uniform(*mc.object_spin_deg)))
        else:
            path = np.zeros((num_frames, 3))
            spin = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
        poses.append(Pose(spin @ prim.rotation, prim.translation + path))
    return AnimatedScene(base, poses, camera, intr, size)
