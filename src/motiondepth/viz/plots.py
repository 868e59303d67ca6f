"""Figures: angles over time, a 3D trajectory (paper Figure 5 style), a shake spectrum, a tracks overlay."""

from __future__ import annotations

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
        estimates: name → (T, 3) rad.
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
        for label, est in estimates.items():
            color, marker = _STYLES.get(label, (None, "x"))
            ax.plot(times, est[:, i] * ARCMIN, ls="none", marker=marker, ms=4, color=color, label=label)
        ax.set_ylabel(f"{name} [arcmin]")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8, ncol=3)
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
    inv = np.where(valid, 1.0 / np.clip(d, lo, max(hi, lo * 1.0001)), 0.0)
    t = (inv - 1.0 / max(hi, lo * 1.0001)) / max(1.0 / lo - 1.0 / max(hi, lo * 1.0001), 1e-12)
    bgr = cv2.applyColorMap(np.clip(t * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    bgr[~valid] = 0
    return bgr[..., ::-1].copy()


def save_depth_png(path: str | Path, depth: np.ndarray) -> None:
    """Write the colour-mapped depth (:func:`depth_to_color`) as a PNG, atomically."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), depth_to_color(depth)[..., ::-1]):
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
        times: (T,) frame times, s; sparse: (T, 3) per-frame angles, rad.
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
            ax.legend(loc="best", fontsize=8)
        if i == rows - 1:
            ax.set_xlabel("time [s]")
    if centres is not None:
        ax = fig.add_subplot(grid[3, 0], sharex=first)
        for k, (axis, colour) in enumerate(zip("xyz", ("tab:red", "tab:green", "tab:blue"), strict=True)):
            ax.plot(times, centres[:, k] * 1e3, marker=".", ms=3, lw=1, color=colour, label=f"{axis}")
        ax.set_ylabel("centre [mm]")
        ax.set_xlabel("time [s]")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8, ncol=3, title=centres_label or None, title_fontsize=8)
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
    ax.set_yscale("log")
    ax.set_xlim(0, top)
    ax.set_xlabel("frequency [Hz]")
    ax.set_ylabel("angular rate density [°/s/√Hz]")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    bar.set_xticks(range(len(bands)), [f"{lo:g}–{hi:g}" for lo, hi in bands], fontsize=8)
    bar.set_xlabel("band [Hz]")
    bar.set_ylabel("RMS angle [arcmin], all axes")
    bar.grid(alpha=0.3, axis="y")
    if bar.get_legend_handles_labels()[0]:
        bar.legend(loc="best", fontsize=8)
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
    tr, vis = tracks[:, keep], visible[:, keep]
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
                    p, q = tr[j - 1, i], tr[j, i]
                    cv2.line(img, (round(p[0]), round(p[1])), (round(q[0]), round(q[1])), colors[i], thick,
                             cv2.LINE_AA)  # fmt: skip
            c = tr[k, i]
            cv2.circle(img, (round(c[0]), round(c[1])), radius, colors[i], -1, cv2.LINE_AA)
        yield img
