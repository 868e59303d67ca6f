"""Figures: angles over time, a 3D trajectory (paper Figure 5 style), a shake spectrum, depth over time, depth with a
colour bar, a tracks overlay."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from motiondepth.io.atomic import atomic_path

ARCMIN = 180.0 / np.pi * 60.0
_STYLES = {"lsq": ("tab:red", "o"), "paper": ("tab:orange", "s"), "homography": ("tab:green", "^")}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_angles(
    path: str | Path,
    times: np.ndarray,
    truth: np.ndarray,
    estimates: dict[str, np.ndarray],
    dense_truth: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Roll, pitch and yaw over time in arcminutes: truth as a line, each estimate as markers.

    Args:
        path: output image (PNG).
        times: (T,) frame times, s (plotted at the middle of each frame's span if dense given).
        truth: (T, 3) sparse ground truth, rad.
        estimates: name → (T, 3) rad, best first: it is drawn filled and on top, the others as open markers.
        dense_truth: optional ((T·S,) times, (T·S, 3) angles) drawn as a thin line.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    for i, (ax, name) in enumerate(zip(axes, ("roll", "pitch", "yaw"), strict=True)):
        if dense_truth is not None:
            ax.plot(
                dense_truth[0],
                dense_truth[1][:, i] * ARCMIN,
                color="tab:blue",
                lw=0.8,
                alpha=0.6,
                label="truth (dense)",
            )
        ax.plot(times, truth[:, i] * ARCMIN, color="black", lw=1.8, label="truth (per frame)")
        for j, (label, est) in enumerate(estimates.items()):  # the first (the best) drawn on top, filled
            color, marker = _STYLES.get(label, (None, "x"))
            style = {"ms": 4.5} if j == 0 else {"ms": 5.5, "mfc": "none", "mew": 1.0}
            ax.plot(times, est[:, i] * ARCMIN, ls="none", marker=marker, color=color, label=label,
                    zorder=4 + len(estimates) - j, **style)  # fmt: skip
        ax.set_ylabel(f"{name} [arcmin]")
        ax.grid(alpha=0.3)
    _legend_above(axes[0], ncol=len(estimates) + 1 + (dense_truth is not None))
    axes[-1].set_xlabel("time [s]")
    fig.suptitle("Camera rotation relative to frame 0")
    fig.tight_layout()
    _save(fig, path)


def plot_trajectory_3d(
    path: str | Path, dense_truth: np.ndarray, truth: np.ndarray, estimate: np.ndarray, label: str = "estimate"
) -> None:
    """3D plot of (roll, pitch, yaw) in arcminutes, as the paper's Figure 5.

    Ground-truth dense trajectory as a blue line, ground-truth per-frame means as black dots,
    the estimated sparse trajectory as red markers.

    Args:
        dense_truth: (T, S, 3) rad; truth: (T, 3) rad; estimate: (T, 3) rad.
    """
    plt = _pyplot()
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    d = dense_truth.reshape(-1, 3) * ARCMIN
    ax.plot(d[:, 0], d[:, 1], d[:, 2], color="tab:blue", lw=1.2, label="truth (dense)")
    t = truth * ARCMIN
    ax.scatter(t[:, 0], t[:, 1], t[:, 2], color="black", s=10, label="truth (per frame)")
    e = estimate * ARCMIN
    ax.scatter(e[:, 0], e[:, 1], e[:, 2], color="tab:red", marker="^", s=22, label=label)
    ax.set_xlabel("roll [′]")
    ax.set_ylabel("pitch [′]")
    ax.set_zlabel("yaw [′]")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def tracks_overlay(
    path: str | Path,
    frame: np.ndarray,
    tracks: np.ndarray,
    visible: np.ndarray,
    magnify: float = 1.0,
    max_tracks: int = 169,
) -> None:
    """Draw track paths (optionally magnified about their start) on ``frame``.

    Args:
        frame: (H, W, 3) uint8 RGB background.
        tracks: (T, N, 2) pixels; visible: (T, N).
        magnify: scale displacements from the first position (shake is small; >1 makes it visible).
        max_tracks: draw at most this many tracks (an even subsample), so paths stay readable.
    """
    n = tracks.shape[1]
    side = round(float(np.sqrt(n)))
    if side * side == n and n > max_tracks:  # a square query grid: every k-th row and column
        k = int(np.ceil(side / np.sqrt(max_tracks)))
        keep = (np.arange(0, side, k)[:, None] * side + np.arange(0, side, k)[None, :]).ravel()
    else:
        keep = np.unique(np.linspace(0, n - 1, min(max_tracks, n)).round().astype(int))
    tracks, visible = tracks[:, keep], visible[:, keep]
    img = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    img = (0.75 * img).astype(np.uint8)
    start = tracks[0]
    path_pts = start[None] + magnify * (tracks - start[None])
    t_len = len(tracks)
    for n in range(tracks.shape[1]):
        for k in range(1, t_len):
            if visible[k, n] and visible[k - 1, n]:
                hue = int(120 * k / max(t_len - 1, 1))
                color = cv2.cvtColor(np.uint8([[[hue, 255, 255]]]), cv2.COLOR_HSV2BGR)[0, 0].tolist()
                p, q = path_pts[k - 1, n], path_pts[k, n]
                cv2.line(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), color, 2, cv2.LINE_AA)
        cv2.circle(img, (int(start[n, 0]), int(start[n, 1])), 2, (255, 255, 255), -1)
    cv2.putText(
        img,
        f"tracks, motion x{magnify:g} (red: early, blue: late)",
        (8, 20),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp), img)


def _save(fig, path: str | Path) -> None:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _legend_above(ax, ncol: int = 4, **kwargs) -> None:
    """The axes' legend in one row above it, outside the data, so that no marker is hidden behind it."""
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=ncol, fontsize=8, frameon=False, borderaxespad=0.2,
              **kwargs)  # fmt: skip


def _near_fraction(depth, lo: float, hi: float):
    """Where ``depth`` (clipped to [lo, hi]) lies on the colour maps' inverse-depth scale: 1 at ``lo`` (near),
    0 at ``hi`` (far)."""
    hi = max(hi, lo * 1.0001)
    inv = 1.0 / np.clip(depth, lo, hi)
    return (inv - 1.0 / hi) / max(1.0 / lo - 1.0 / hi, 1e-12)


def depth_to_color(depth: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """(H, W) metres → (H, W, 3) uint8 RGB, turbo colour map on inverse depth (near = warm).

    The range is the 2nd–98th percentile of valid depth unless given; invalid (≤ 0 or non-finite)
    pixels are black.
    """
    d = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(d) & (d > 0)
    if not valid.any():
        return np.zeros((*d.shape, 3), np.uint8)
    lo = float(np.percentile(d[valid], 2)) if lo is None else lo
    hi = float(np.percentile(d[valid], 98)) if hi is None else hi
    t = np.where(valid, _near_fraction(np.where(valid, d, lo), lo, hi), 0.0)
    bgr = cv2.applyColorMap(np.clip(t * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    bgr[~valid] = 0
    return bgr[..., ::-1].copy()


def _depth_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Depths (metres) to label a colour bar from lo to hi: both ends, and round values (1, 1.5, 2, 3, 4, 5, 6, 8
    × a power of ten) between them, spaced about evenly in inverse depth (the bar's scale)."""

    def frac(v: float) -> float:  # 1 at lo (the top of the bar), 0 at hi
        return float(_near_fraction(v, lo, hi))

    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    nice = sorted({round(m * 10.0**k, 6) for k in decades for m in (1, 1.5, 2, 3, 4, 5, 6, 8)})
    nice = [v for v in nice if lo < v < hi]
    out = [lo, hi]
    for target in np.linspace(1.0, 0.0, count)[1:-1]:
        if nice:
            v = min(nice, key=lambda x: abs(frac(x) - target))
            if all(abs(frac(v) - frac(u)) > 0.6 / count for u in out):
                out.append(v)
    return sorted(out)


def depth_with_colorbar(depth: np.ndarray) -> np.ndarray:
    """(H, W) metres → RGB image: :func:`depth_to_color` with a colour bar on its right, labelled in metres.

    The bar runs from the near end of the range (top, warm) to the far end (bottom), on the same inverse-depth
    scale as the map; its ticks are round depths.
    """
    d = np.asarray(depth, dtype=np.float64)
    img = depth_to_color(d)
    valid = np.isfinite(d) & (d > 0)
    if not valid.any():
        return img
    lo, hi = float(np.percentile(d[valid], 2)), float(np.percentile(d[valid], 98))
    hi = max(hi, lo * 1.0001)
    h, w = img.shape[:2]
    scale = max(0.35, h / 900)
    thick = max(1, round(scale * 1.5))
    bar_w = max(10, w // 40)
    label_w = cv2.getTextSize("00.0 m", cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0]
    margin = max(4, bar_w // 2)
    top, bottom = margin * 2, h - margin * 2
    panel = np.full((h, margin + bar_w + margin + label_w + margin, 3), 255, np.uint8)
    t = np.linspace(1.0, 0.0, max(bottom - top, 2))[:, None]  # near (t = 1) at the top
    ramp = cv2.applyColorMap(np.clip(t * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_TURBO)[..., ::-1]
    panel[top:bottom, margin : margin + bar_w] = np.repeat(ramp, bar_w, axis=1)[: bottom - top]
    for v in _depth_ticks(lo, hi):
        y = round(top + (1.0 - _near_fraction(v, lo, hi)) * (bottom - top - 1))
        cv2.line(panel, (margin + bar_w, y), (margin + bar_w + margin // 2 + 1, y), (0, 0, 0), thick)
        text = f"{v:.2g} m" if v in (lo, hi) else f"{v:g} m"
        size = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0]
        cv2.putText(panel, text, (margin + bar_w + margin, y + size[1] // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thick, cv2.LINE_AA)  # fmt: skip
    return np.concatenate([img, panel], axis=1)


def save_depth_png(path: str | Path, depth: np.ndarray) -> None:
    """Write the colour-mapped depth with its colour bar in metres (:func:`depth_with_colorbar`) as a PNG,
    atomically. The map is the image's left (H, W) part, pixel for pixel."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), depth_with_colorbar(depth)[..., ::-1]):
            raise OSError(f"{path}: could not write PNG")


def plot_run_trajectory(
    path: str | Path,
    times: np.ndarray,
    sparse: np.ndarray,
    dense: np.ndarray | None = None,
    dense_times: np.ndarray | None = None,
    title: str = "Recovered camera rotation relative to frame 0",
    centres: np.ndarray | None = None,
    centres_label: str = "",
) -> None:
    """Angles over time (left) beside the paper's Figure 5-style 3D view (right), no ground truth.

    Args:
        times: (T,) times of the per-frame angles, s (each is a frame's mean rotation: the middle of its span);
            sparse: (T, 3) per-frame angles, rad.
        dense: optional (T, S, 3) rad with ``dense_times`` (T, S) s, drawn as a line.
        centres: optional (T, 3) camera centres, metres (reference camera axes), drawn below the angles in
            millimetres, with ``centres_label`` (e.g. the motion model) in the panel's legend.
    """
    plt = _pyplot()
    rows = 3 if centres is None else 4
    fig = plt.figure(figsize=(13, 6 if centres is None else 7.5))
    grid = fig.add_gridspec(rows, 2, width_ratios=(1.3, 1.0))
    ax3d = fig.add_subplot(grid[:, 1], projection="3d")
    first = None
    for i, name in enumerate(("roll", "pitch", "yaw")):
        ax = fig.add_subplot(grid[i, 0], sharex=first)
        first = first or ax
        if dense is not None and dense_times is not None:
            ax.plot(dense_times.ravel(), dense[..., i].ravel() * ARCMIN, color="tab:blue", lw=0.9, label="dense")
        ax.plot(times, sparse[:, i] * ARCMIN, ls="none", marker="o", ms=3.5, color="tab:red", label="per frame")
        ax.set_ylabel(f"{name} [arcmin]")
        ax.grid(alpha=0.3)
        if i == 0:
            _legend_above(ax, ncol=2)
        if i == rows - 1:
            ax.set_xlabel("time [s]")
    if centres is not None:
        ax = fig.add_subplot(grid[3, 0], sharex=first)
        for k, (axis, colour) in enumerate(zip("xyz", ("tab:red", "tab:green", "tab:blue"), strict=True)):
            ax.plot(times, centres[:, k] * 1e3, marker=".", ms=3, lw=1, color=colour, label=f"{axis}")
        ax.set_ylabel("centre [mm]")
        ax.set_xlabel("time [s]")
        ax.grid(alpha=0.3)
        _legend_above(ax, ncol=4, title=centres_label or None, title_fontsize=8, alignment="left")
    if dense is not None:
        d = dense.reshape(-1, 3) * ARCMIN
        ax3d.plot(d[:, 0], d[:, 1], d[:, 2], color="tab:blue", lw=1.0, label="dense")
    e = sparse * ARCMIN
    ax3d.scatter(e[:, 0], e[:, 1], e[:, 2], color="tab:red", marker="^", s=18, label="per frame")
    ax3d.set_xlabel("roll [′]")
    ax3d.set_ylabel("pitch [′]")
    ax3d.set_zlabel("yaw [′]")
    ax3d.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def plot_tracks_depth(path: str | Path, times: np.ndarray, depth: np.ndarray, visible: np.ndarray,
                      max_tracks: int = 80) -> None:  # fmt: skip
    """Depth over time of tracked points (Seurat), two panels.

    Left: the metric depth of up to ``max_tracks`` tracks spread over the grid, each coloured by its depth when
    first seen as in ``depth.png`` (near = warm), drawn where visible; the median over the visible tracks in black.
    Right: each track's depth relative to its first visible depth, in percent: median and the 5–95 % band.

    Args:
        times: (T,) frame times, s; depth: (T, N) metres; visible: (T, N).
    """
    plt = _pyplot()
    d = np.where(visible, np.asarray(depth, dtype=np.float64), np.nan)
    first = np.argmax(visible, axis=0)
    seen = visible.any(0)
    d0 = d[first, np.arange(d.shape[1])]
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(13, 4.2))
    keep = np.flatnonzero(seen & np.isfinite(d0) & (d0 > 0))
    if len(keep):  # up to max_tracks of them, spread over the grid
        keep = keep[np.unique(np.linspace(0, len(keep) - 1, min(max_tracks, len(keep))).round().astype(int))]
    if len(keep):
        lo, hi = np.percentile(d0[keep], [2, 98])
        cmap = plt.get_cmap("turbo")
        for i in keep:
            ax.plot(times, d[:, i], color=cmap(float(_near_fraction(d0[i], lo, hi))), lw=0.8, alpha=0.7)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames with no visible track: NaN
        ax.plot(times, np.nanmedian(d, axis=1), color="black", lw=2.0, label="median of the visible tracks")
        ratio = 100.0 * (d / d0[None] - 1.0)
        none = np.full(len(times), np.nan)
        p5, p50, p95 = np.nanpercentile(ratio[:, seen], [5, 50, 95], axis=1) if seen.any() else (none,) * 3
    ax.set_xlabel("time [s]")
    ax.set_ylabel("depth [m]")
    ax.grid(alpha=0.3)
    _legend_above(ax, ncol=1)
    rel.fill_between(times, p5, p95, color="tab:blue", alpha=0.25, label="5–95 % of the tracks")
    rel.plot(times, p50, color="tab:blue", lw=2.0, label="median")
    rel.axhline(0.0, color="0.5", lw=0.8)
    rel.set_xlabel("time [s]")
    rel.set_ylabel("depth change since first seen [%]")
    rel.grid(alpha=0.3)
    _legend_above(rel, ncol=2)
    fig.suptitle(f"Depth over time of {int(seen.sum())} tracked points (Seurat; {len(keep)} drawn on the left)")
    fig.tight_layout()
    _save(fig, path)


def _readable_log_axis(ax) -> None:
    """A log y axis labelled in plain numbers (0.5, 1, 2, 5 …, not 5×10⁻¹), every decade's 1-2-5 marked."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_shake_spectrum(
    path: str | Path,
    spectra: dict,
    max_hz: float | None = None,
    title: str = "Camera shake",
    bands: tuple[tuple[float, float], ...] | None = None,
) -> None:
    """Angular-rate spectral density (left) and RMS angle per band (right) of one or more series.

    Args:
        spectra: label → :class:`motiondepth.eval.spectrum.ShakeSpectrum`; each is drawn over the
            range it resolves, its end (Nyquist frequency or reach) marked when inside the plot. What
            lies beyond every series' end is shaded: out of reach.
        max_hz: right end of the frequency axis (default: the highest Nyquist, at most 40 Hz).
        bands: the bars' frequency bands, Hz (default :data:`motiondepth.eval.spectrum.DEFAULT_BANDS_HZ`).
    """
    from motiondepth.eval.spectrum import DEFAULT_BANDS_HZ

    plt = _pyplot()
    fig, (ax, bar) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": (1.4, 1.0)})
    top = max_hz or min(40.0, max(s.nyquist_hz for s in spectra.values()))
    colors = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange")
    bands = [b for b in (bands or DEFAULT_BANDS_HZ) if b[0] < top]
    width = 0.8 / len(spectra)
    for i, (label, s) in enumerate(spectra.items()):
        c = colors[i % len(colors)]
        sel = (s.freqs_hz >= s.lowest_hz) & (s.freqs_hz <= min(s.highest_hz, top))
        asd = np.rad2deg(np.sqrt(s.rate_psd.sum(1)))  # °/s per √Hz, all axes
        ax.plot(s.freqs_hz[sel], asd[sel], color=c, lw=1.2, label=label)
        if s.highest_hz < top:
            name = "Nyquist" if s.highest_hz == s.nyquist_hz else "reach"
            ax.axvline(s.highest_hz, color=c, ls=":", lw=1.0)
            ax.text(s.highest_hz, 1.0, f" {name}", color=c, fontsize=7, va="top", transform=ax.get_xaxis_transform())
        drawn = [(j, e["rms_arcmin"]["total"]) for j, e in enumerate(s.band(lo, hi) for lo, hi in bands)
                 if "unresolved" not in e]  # fmt: skip
        if drawn:
            x, h = zip(*drawn, strict=True)
            bar.bar(np.array(x) + (i - (len(spectra) - 1) / 2) * width, h, width, color=c, label=label)
    for lo, _ in bands[1:]:
        ax.axvline(lo, color="0.85", lw=0.8, zorder=0)
    reach = max(s.highest_hz for s in spectra.values())
    if reach < top:
        ax.axvspan(reach, top, color="0.92", zorder=-1)
        ax.text(0.5 * (reach + top), 0.5, "out of reach", color="0.4", fontsize=8, ha="center", rotation=90,
                transform=ax.get_xaxis_transform())  # fmt: skip
    _readable_log_axis(ax)
    ax.set_xlim(0, top)
    ax.set_xlabel("frequency [Hz]")
    ax.set_ylabel("angular rate density [°/s/√Hz]")
    ax.grid(alpha=0.3, which="both")
    _legend_above(ax, ncol=2)
    bar.set_xticks(range(len(bands)), [f"{lo:g}–{hi:g}" for lo, hi in bands], fontsize=8)
    bar.set_xlabel("band [Hz]")
    bar.set_ylabel("RMS angle [arcmin], all axes")
    bar.grid(alpha=0.3, axis="y")
    if bar.get_legend_handles_labels()[0]:
        _legend_above(bar, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def iter_drawn_tracks(
    frames: np.ndarray, tracks: np.ndarray, visible: np.ndarray, tail: int = 8, max_tracks: int = 400
) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8, one at a time (a long clip is written without a second copy in memory), with
    each visible track's last ``tail`` positions drawn on them.

    Points are coloured by their position in the query grid (so neighbours keep their colour across
    frames); a track that the tracker lost stops being drawn.
    """
    t_len, n = visible.shape
    keep = np.unique(np.linspace(0, n - 1, min(max_tracks, n)).round().astype(int))
    tr, vis = np.rint(np.nan_to_num(tracks[:, keep])).astype(np.int64).tolist(), visible[:, keep]  # (as round())
    hue = (np.arange(len(keep)) * 179 // max(len(keep), 1)).astype(np.uint8)
    colors = cv2.cvtColor(np.stack([hue, np.full_like(hue, 230), np.full_like(hue, 255)], -1)[None],
                          cv2.COLOR_HSV2RGB)[0].tolist()  # fmt: skip
    h = frames.shape[1]
    radius = max(2, round(h / 240))
    thick = max(1, round(h / 480))
    for k in range(t_len):
        img = np.ascontiguousarray(frames[k]).copy()
        for i in np.flatnonzero(vis[k]):
            for j in range(max(1, k - tail + 1), k + 1):
                if vis[j, i] and vis[j - 1, i]:
                    cv2.line(img, tr[j - 1][i], tr[j][i], colors[i], thick, cv2.LINE_AA)
            cv2.circle(img, tr[k][i], radius, colors[i], -1, cv2.LINE_AA)
        yield img
