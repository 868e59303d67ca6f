"""Camera presets for the imaging simulator (docs/design.md §3.6), with their sources.

The simulated image is a square crop of the sensor's short side, binned to ``height`` pixels,
so the effective pixel pitch is ``sensor_short_side / height`` and the field of view matches
the real module's short-side field of view.

``phone`` — main wide camera of the iPhone 15 Pro / 14 Pro: focal length 6.86 mm (EXIF),
    48 MP 8064 × 6048 sensor, 1.22 µm pixels (short side 7.38 mm), 24 mm equivalent.
    Effective pitch at 518 px: 14.24 µm → f ≈ 484 px, vertical FOV ≈ 56°.
``telephoto`` — 5× tetraprism (periscope) telephoto of the iPhone 15 Pro Max: focal length
    15.66 mm (EXIF), 12 MP 4032 × 3024 sensor, 1.12 µm pixels (short side 3.39 mm), 120 mm
    equivalent. Effective pitch at 518 px: 6.54 µm → f ≈ 2397 px, vertical FOV ≈ 12.3°.

Timing follows the perspective-blur paper (§4.1): 60 ms exposure per row, 4 µs row time,
30 frames, rotation trace sampled every 2 ms. Frame interval defaults to exposure + readout
(back-to-back frames), as in docs/design.md §3.3.

Pivot: a handheld phone rotates about the wrist/forearm, not its optical centre. We use
0.2 m (roughly wrist-to-phone distance when holding a phone out); ``--pivot`` overrides it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from motiondepth.geometry.camera import Intrinsics, focal_length_px
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M


@dataclass
class CameraConfig:
    """Everything the simulator needs to know about the camera. Units in the field names."""

    name: str = "phone"  # preset name (informational)
    focal_length_mm: float = 6.86  # lens focal length F
    sensor_short_side_mm: float = 7.38  # physical sensor extent along the image's short side
    focus_distance_m: float = 1.5  # thin-lens focus distance s
    pivot_m: float = DEFAULT_PIVOT_M  # distance d of the rotation pivot behind the optical centre
    exposure_s: float = 0.060  # per-row exposure τ_exp
    row_time_s: float = 4e-6  # rolling-shutter row delay τ_row
    frame_interval_s: float | None = None  # frame start spacing; None → exposure + H·row time
    num_frames: int = 30  # T
    width: int = 518  # W, pixels
    height: int = 518  # H, pixels
    trace_dt_s: float = 0.002  # rotation-trace sampling interval
    max_subsample_step_px: float = 1.0  # blur integration: max image motion between sub-samples
    min_subsamples: int = 4  # lower bound on exposure sub-samples per frame
    max_subsamples: int = 128  # upper bound on exposure sub-samples per frame
    noise_std: float = 0.0  # Gaussian read noise, linear-light units (0 = noiseless)
    scene_near_m: float = 0.8  # procedural scenes: nearest object distance
    scene_far_m: float = 6.0  # procedural scenes: back wall distance

    def __post_init__(self) -> None:
        problems = []
        for key in ("focal_length_mm", "sensor_short_side_mm", "exposure_s", "trace_dt_s"):
            if not getattr(self, key) > 0:
                problems.append(f"{key} must be > 0")
        if self.row_time_s < 0 or self.pivot_m < 0:
            problems.append("row_time_s and pivot_m must be ≥ 0")
        if self.num_frames < 2:
            problems.append(f"num_frames must be at least 2, got {self.num_frames}")
        if self.width < 8 or self.height < 8:
            problems.append("width and height must be at least 8 pixels")
        if self.focus_distance_m * 1e3 <= self.focal_length_mm:
            problems.append("focus_distance_m must exceed the focal length")
        if problems:
            raise ValueError("invalid camera config: " + "; ".join(problems))

    @property
    def pixel_pitch_m(self) -> float:
        """Effective pixel pitch of the simulated (binned, square-cropped) image."""
        return self.sensor_short_side_mm * 1e-3 / min(self.width, self.height)

    @property
    def focal_px(self) -> float:
        """Thin-lens focal length in pixels, ``v / pitch`` (docs/design.md §3.1)."""
        return focal_length_px(self.focal_length_mm * 1e-3, self.focus_distance_m, self.pixel_pitch_m)

    @property
    def intrinsics(self) -> Intrinsics:
        return Intrinsics.centred(self.focal_px, self.width, self.height)

    @property
    def readout_s(self) -> float:
        return self.height * self.row_time_s

    @property
    def frame_span_s(self) -> float:
        """Exposure span of one frame, first row start to last row end: τ_exp + H·τ_row."""
        return self.exposure_s + self.readout_s

    @property
    def interval_s(self) -> float:
        return self.frame_span_s if self.frame_interval_s is None else self.frame_interval_s

    @property
    def duration_s(self) -> float:
        """Time from the first frame's start to the last frame's end."""
        return (self.num_frames - 1) * self.interval_s + self.frame_span_s

    def replace(self, **changes: object) -> CameraConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The resolved configuration with derived values, as written to ``camera.json``."""
        d = dataclasses.asdict(self)
        d["frame_interval_s"] = self.interval_s
        d["derived"] = {
            "pixel_pitch_um": self.pixel_pitch_m * 1e6,
            "focal_px": self.focal_px,
            "intrinsics": self.intrinsics.as_array().tolist(),
            "readout_s": self.readout_s,
            "frame_span_s": self.frame_span_s,
            "duration_s": self.duration_s,
        }
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CameraConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


PRESETS: dict[str, CameraConfig] = {
    "phone": CameraConfig(),
    "telephoto": CameraConfig(
        name="telephoto",
        focal_length_mm=15.66,
        sensor_short_side_mm=3.39,
        focus_distance_m=15.0,
        scene_near_m=8.0,
        scene_far_m=60.0,
    ),
}


def camera_preset(name: str, **overrides: object) -> CameraConfig:
    """A copy of preset ``name`` (``phone`` or ``telephoto``) with ``overrides`` applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown camera preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name].replace(**{k: v for k, v in overrides.items() if v is not None})
