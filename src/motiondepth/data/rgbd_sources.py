"""RGB-D sources that the simulator turns into shaky training videos (docs/design.md §6).

Every source is a sequence of :class:`~motiondepth.types.RGBDImage` (sRGB uint8 + metric z-depth
with 0 = invalid + intrinsics): ``len(src)`` and ``src[i]``. Sources:

* :class:`ProceduralSource` — the seeded procedural scenes (default, infinite).
* :class:`NYULabeled` — NYU Depth v2 ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5; needs h5py).
* :class:`PngFolder` — ``rgb/NAME.png`` + ``depth/NAME.png`` (16-bit, ``scale`` metres per unit).
* :class:`SkyScenesFolder` — SkyScenes-style ``Images/…/NAME.png`` + ``Depth/…/NAME.png`` with
  CARLA's 24-bit depth encoding (metres = (R + 256 G + 65536 B) / (2²⁴ − 1) · 1000).
* :class:`KittiObject` — KITTI object ``image_2``/``velodyne``/``calib``: LiDAR projected to a
  sparse depth map (X_cam = R0_rect · Tr_velo_to_cam · X_velo; uvw = P2 · X_cam; depth = w).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.io.depth import load_depth, load_image
from motiondepth.types import RGBDImage

# NYU Depth v2 Kinect colour intrinsics (Silberman et al. 2012 toolbox, camera_params.m)
NYU_INTRINSICS = Intrinsics(518.857901, 519.469611, 325.582449, 253.736166)


@dataclass
class ProceduralSource:
    """Seeded procedural RGB-D scenes: item i is scene ``seed0 + i``."""

    size: tuple[int, int] = (224, 224)  # (H, W) of the rendered image
    hfov_deg: float = 65.0  # horizontal field of view of the rendering camera
    seed0: int = 0
    count: int = 1_000_000
    metric_cues: bool = False  # texture and object sizes in world units (see SceneConfig)
    layout: str = "room"  # room | indoor (see SceneConfig)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> RGBDImage:
        from motiondepth.scenes.procedural import SceneConfig, render_procedural

        h, w = self.size
        intr = Intrinsics.from_hfov(self.hfov_deg, w, h)
        cfg = SceneConfig(metric_cues=self.metric_cues, layout=self.layout)
        return render_procedural(self.seed0 + int(i), intr, self.size, cfg)


class NYULabeled:
    """NYU Depth v2 labeled set (1449 RGB-D pairs) from the official ``.mat`` file."""

    def __init__(self, path: str | Path, indices: list[int] | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(self.path, "NYU .mat file not found")
        try:
            import h5py
        except ImportError:
            raise InputError(self.path, "reading NYU .mat (HDF5) needs h5py: pip install h5py") from None
        try:
            self._file = h5py.File(self.path, "r")
            n = self._file["images"].shape[0]
            self._file["depths"]
        except (OSError, KeyError) as exc:
            raise InputError(self.path, f"not an NYU labeled .mat (HDF5 with 'images', 'depths'): {exc}") from None
        self.indices = list(range(n)) if indices is None else list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> RGBDImage:
        k = self.indices[i]
        rgb = np.asarray(self._file["images"][k]).transpose(2, 1, 0)  # MATLAB (3, W, H) → (H, W, 3)
        depth = np.asarray(self._file["depths"][k], dtype=np.float32).T
        return RGBDImage(np.ascontiguousarray(rgb, dtype=np.uint8), depth, NYU_INTRINSICS, f"{self.path}#{k}")


class PngFolder:
    """``root/rgb/*.png|jpg`` with ``root/depth/<same stem>.png`` (16-bit integer depth)."""

    def __init__(self, root: str | Path, scale: float = 1e-3, hfov_deg: float = 60.0) -> None:
        self.root = Path(root)
        rgb_dir, depth_dir = self.root / "rgb", self.root / "depth"
        if not rgb_dir.is_dir() or not depth_dir.is_dir():
            raise InputError(self.root, "expected sub-folders rgb/ and depth/")
        self.items = []
        for p in sorted(rgb_dir.iterdir()):
            if p.suffix.lower() in (".png", ".jpg", ".jpeg"):
                d = depth_dir / f"{p.stem}.png"
                if not d.is_file():
                    raise InputError(d, f"no depth map for {p.name}")
                self.items.append((p, d))
        if not self.items:
            raise InputError(rgb_dir, "no images")
        self.scale, self.hfov_deg = scale, hfov_deg

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> RGBDImage:
        rgb_p, depth_p = self.items[i]
        rgb = load_image(rgb_p)
        depth = load_depth(depth_p, self.scale)
        if depth.shape != rgb.shape[:2]:
            raise InputError(depth_p, f"depth {depth.shape} does not match image {rgb.shape[:2]}")
        h, w = depth.shape
        return RGBDImage(rgb, depth, Intrinsics.from_hfov(self.hfov_deg, w, h), str(rgb_p))


def decode_carla_depth(bgr: np.ndarray, far_m: float = 1000.0) -> np.ndarray:
    """CARLA / SkyScenes 24-bit depth PNG (OpenCV BGR order) → metres."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    return ((r + 256.0 * g + 65536.0 * b) / (256.0**3 - 1) * far_m).astype(np.float32)


class SkyScenesFolder:
    """SkyScenes-style tree: ``root/Images/**/NAME.png`` with ``root/Depth/**/NAME.png`` (same relative path)."""

    def __init__(self, root: str | Path, hfov_deg: float = 110.0, max_depth_m: float = 1000.0) -> None:
        self.root = Path(root)
        img_dir, depth_dir = self.root / "Images", self.root / "Depth"
        if not img_dir.is_dir() or not depth_dir.is_dir():
            raise InputError(self.root, "expected sub-folders Images/ and Depth/")
        self.items = []
        for p in sorted(img_dir.rglob("*.png")):
            d = depth_dir / p.relative_to(img_dir)
            if d.is_file():
                self.items.append((p, d))
        if not self.items:
            raise InputError(img_dir, "no image with a matching Depth/ file")
        self.hfov_deg, self.max_depth_m = hfov_deg, max_depth_m

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> RGBDImage:
        rgb_p, depth_p = self.items[i]
        rgb = load_image(rgb_p)
        raw = cv2.imread(str(depth_p), cv2.IMREAD_COLOR)
        if raw is None:
            raise InputError(depth_p, "not a readable depth image")
        depth = decode_carla_depth(raw)
        depth[depth >= 0.999 * self.max_depth_m] = 0.0  # sky: no depth
        h, w = depth.shape
        return RGBDImage(rgb, depth, Intrinsics.from_hfov(self.hfov_deg, w, h), str(rgb_p))


def read_kitti_calib(path: Path) -> dict[str, np.ndarray]:
    """KITTI object calibration file → {'P2': (3, 4), 'R0_rect': (3, 3), 'Tr_velo_to_cam': (3, 4), …}."""
    out = {}
    try:
        for line in path.read_text().splitlines():
            if ":" not in line:
                continue
            key, vals = line.split(":", 1)
            v = np.array([float(x) for x in vals.split()])
            out[key.strip()] = v.reshape(3, 3) if v.size == 9 else v.reshape(3, 4)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a KITTI calibration file ({exc})") from None
    for key in ("P2", "R0_rect", "Tr_velo_to_cam"):
        if key not in out:
            raise InputError(path, f"missing {key}")
    return out


def kitti_sparse_depth(points: np.ndarray, calib: dict[str, np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Project LiDAR points (M, ≥3) into the left colour camera: (H, W) sparse depth, 0 = none.

    Where several points land in one pixel the nearest wins.
    """
    h, w = size
    xyz1 = np.concatenate([points[:, :3], np.ones((len(points), 1))], 1)
    cam = calib["R0_rect"] @ (calib["Tr_velo_to_cam"] @ xyz1.T)  # (3, M)
    uvw = calib["P2"] @ np.vstack([cam, np.ones((1, cam.shape[1]))])
    z = uvw[2]
    front = z > 0.1
    u = np.round(uvw[0, front] / z[front]).astype(np.int64)
    v = np.round(uvw[1, front] / z[front]).astype(np.int64)
    z = z[front]
    ok = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    u, v, z = u[ok], v[ok], z[ok]
    depth = np.zeros((h, w), np.float32)
    order = np.argsort(-z)  # far first, near overwrites
    depth[v[order], u[order]] = z[order]
    return depth


class KittiObject:
    """KITTI object-detection layout: ``image_2/NNNNNN.png``, ``velodyne/NNNNNN.bin``, ``calib/NNNNNN.txt``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        for sub in ("image_2", "velodyne", "calib"):
            if not (self.root / sub).is_dir():
                raise InputError(self.root, f"expected sub-folder {sub}/")
        self.ids = sorted(
            p.stem
            for p in (self.root / "image_2").glob("*.png")
            if (self.root / "velodyne" / f"{p.stem}.bin").is_file()
        )
        if not self.ids:
            raise InputError(self.root / "image_2", "no image with a velodyne scan")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> RGBDImage:
        k = self.ids[i]
        rgb = load_image(self.root / "image_2" / f"{k}.png")
        calib = read_kitti_calib(self.root / "calib" / f"{k}.txt")
        scan = self.root / "velodyne" / f"{k}.bin"
        raw = np.fromfile(scan, dtype=np.float32)
        if raw.size % 4:
            raise InputError(scan, "velodyne scan size is not a multiple of 4 float32 (x, y, z, reflectance)")
        depth = kitti_sparse_depth(raw.reshape(-1, 4), calib, rgb.shape[:2])
        p2 = calib["P2"]
        intr = Intrinsics(p2[0, 0], p2[1, 1], p2[0, 2], p2[1, 2])
        return RGBDImage(rgb, depth, intr, f"kitti:{k}")
