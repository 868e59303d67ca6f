"""How far the frame-0 median depth can be trusted: its 80 % interval (``summary.depth_m.median_interval``).

On a 6-DoF clip the images fix the depths only up to one factor; ``run`` takes it from the accelerometer
(``--accel``) or else from the depth prior, whose median is off by up to 2 × on real footage. The interval says so
in metres:

- **the depth prior's scale**: the median times two factors, the 10th and 90th percentiles of truth / predicted
  median over the scenes the checkpoint was calibrated on (``median_interval`` in its card, fitted by
  ``benchmarks/depth_interval.py``, one vote per scene);
- **the accelerometer's scale**: the median times exp(± z σ f), σ the fit's relative uncertainty, z the normal
  quantile of the level, f = :data:`ACCEL_SIGMA_INFLATION` (the fit's σ is too small: see docs/metric-scale.md).

Where the clip contradicts the prior (:func:`prior_interval`: a median outside those the card was calibrated on,
the clip's own parallax moving the prior's depths by more than 2 ×, or a depth range wider than any calibration
scene's, as in a street or a far field) the interval is widened by the size of the contradiction, towards the
side the evidence points to, and ``run`` warns with high severity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LEVEL = 0.8  # the interval's share: it should hold the truth on 80 % of clips
Z_80 = 1.2816  # the standard normal's 90th percentile: ± z σ holds 80 %
# the accelerometer's σ times this holds the truth on 80 % of the TUM tuning clips (benchmarks/results/
# accel_scale.json: |log(truth / run)| / σ, its 80th percentile over the 7 tuning clips is 2.38 = z × 1.86)
ACCEL_SIGMA_INFLATION = 1.86
PARALLAX_DISAGREES = 2.0  # the clip's parallax moved the prior's median by more than this factor
RANGE_MARGIN = 2.0  # a depth range (p98 / p2) this many times the widest calibration scene's is a far field
PRED_MARGIN = 1.25  # a predicted median this far outside the calibration's predictions is an extrapolation


def fit_factors(ratios, scenes, level: float = LEVEL) -> tuple[float, float]:
    """(low, high): the weighted (1 − level)/2 and (1 + level)/2 quantiles of ``ratios`` (truth / prediction),
    each scene one vote shared by its rows (windows, seeds), interpolated in log space."""
    r = np.log(np.asarray(ratios, float))
    scenes = np.asarray(scenes)
    _, inverse, counts = np.unique(scenes, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    order = np.argsort(r)
    r, w = r[order], w[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()  # the midpoint rule: the weighted median of two rows is their mean
    lo, hi = np.interp([(1 - level) / 2, (1 + level) / 2], cum, r)
    return float(np.exp(lo)), float(np.exp(hi))


@dataclass
class MedianInterval:
    """The frame-0 median depth's interval, metres, and what it rests on."""

    low_m: float
    high_m: float
    source: str  # what calibrated it
    level: float = LEVEL
    widened: float = 1.0  # how many times wider the clip's contradiction of the prior made it (1: not at all)
    reasons: list[str] = field(default_factory=list)  # why it was widened

    def as_dict(self) -> dict:
        return {"median_interval": [round(self.low_m, 4), round(self.high_m, 4)],
                "median_interval_level": self.level, "median_interval_source": self.source,
                **({"median_interval_widened": round(self.widened, 2), "median_interval_why_widened": self.reasons}
                   if self.widened > 1 else {})}  # fmt: skip

    def text(self, median_m: float) -> str:
        """``"1.55 m, likely 0.70–3.30 m"``."""
        return f"{median_m:.2f} m, likely {self.low_m:.2f}–{self.high_m:.2f} m"


def card_calibration(card: dict) -> dict | None:
    """The ``median_interval`` block of a depth checkpoint's card, None where it was never calibrated."""
    block = card.get("median_interval")
    if not isinstance(block, dict) or len(block.get("factors", ())) != 2:
        return None
    return block


def prior_interval(median_m: float, calibration: dict, name: str, prior_median_m: float,
                   parallax_scale: float | None = None, depth_range: float | None = None,
                   ) -> MedianInterval:  # fmt: skip
    """The interval where the depth prior ``name`` set the scale: ``median_m`` (the run's, after any parallax
    correction) times the card's factors, widened where the clip contradicts the prior.

    ``prior_median_m``: the prior's own median, checked against the medians of the calibration;
    ``parallax_scale``: how the bundle adjustment's parallax moved the prior's depths (the median ratio), None
    where no bundle adjustment ran; ``depth_range``: p98 / p2 of the run's map."""
    lo, hi = calibration["factors"]
    down, up, reasons = 1.0, 1.0, []  # how far the low end moves down and the high end up
    a, b = calibration.get("pred_range_m", (0.0, np.inf))
    if prior_median_m < a / PRED_MARGIN or prior_median_m > b * PRED_MARGIN:  # no direction known: both ends
        f = max(a / prior_median_m, prior_median_m / b)
        down, up = down * f, up * f
        reasons.append(f"the depth prior's median ({prior_median_m:.2f} m) lies outside those it was calibrated on "
                       f"({a:.2f}–{b:.2f} m)")  # fmt: skip
    if parallax_scale is not None and not 1 / PARALLAX_DISAGREES <= parallax_scale <= PARALLAX_DISAGREES:
        # the truth may lie at the prior's scale as well as at the run's: reach towards the prior's
        if parallax_scale < 1:
            up /= parallax_scale
        else:
            down *= parallax_scale
        reasons.append(f"the clip's parallax moved the prior's depths by × {parallax_scale:.2f}")
    widest = calibration.get("true_range_max")
    if depth_range is not None and widest and depth_range > RANGE_MARGIN * widest:  # farther than rooms: up only
        up *= depth_range / widest
        reasons.append(f"the depth spans × {depth_range:.0f} (p98 / p2), more than any calibration scene (× "
                       f"{widest:.0f}): a far field, a street or sky, unlike the rooms the prior knows")  # fmt: skip
    return MedianInterval(median_m * lo / down, median_m * hi * up, f"{name}'s calibration (its card)",
                          widened=down * up, reasons=reasons)  # fmt: skip


def accel_interval(median_m: float, sigma: float) -> MedianInterval:
    """The interval where the accelerometer set the scale with relative uncertainty ``sigma``."""
    half = Z_80 * ACCEL_SIGMA_INFLATION * float(sigma)
    return MedianInterval(median_m * float(np.exp(-half)), median_m * float(np.exp(half)),
                          f"the accelerometer's σ × {ACCEL_SIGMA_INFLATION}")  # fmt: skip


def likely(value: float, depth_summary: dict, scale: float = 1.0, unit: str = "m") -> str:
    """``", likely 0.70–3.30 m"``: the interval of any metric number of the run (it shares the depth's one scale
    factor), from ``summary.depth_m``; ``scale`` converts metres to ``unit``. Empty where there is no interval."""
    interval = depth_summary.get("median_interval")
    if not interval or not depth_summary.get("median"):
        return ""
    lo, hi = (value * x / depth_summary["median"] * scale for x in interval)
    digits = 1 if unit == "mm" else 2
    return f", likely {lo:.{digits}f}–{hi:.{digits}f} {unit}"
