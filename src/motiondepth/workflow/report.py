"""``report.html``: one self-contained page (images embedded as data URIs, no network) per run."""

from __future__ import annotations

import base64
import html
import urllib.parse
from pathlib import Path

import cv2
import numpy as np

from motiondepth import __version__
from motiondepth.depth.interval import likely
from motiondepth.eval.spectrum import short_text
from motiondepth.io.atomic import atomic_path
from motiondepth.types import SEVERITIES, Tracks
from motiondepth.viz.plots import depth_with_colorbar
from motiondepth.workflow.config import Result, Summary

MAX_WIDTH = 960  # embedded images are downscaled to this width

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
padding:0 1rem;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9rem} table{border-collapse:collapse;margin:.5rem 0} td,th{padding:.2rem .8rem;
border-bottom:1px solid #eee;text-align:left;vertical-align:top} th{background:#f6f6f6}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.6rem 1rem;margin:.4rem 0}
.warn.high{background:#fdecea;border-left-color:#d93025}.warn.note{background:#f3f6fa;border-left-color:#8aa4c8}
details.warnings>summary{cursor:pointer;font-weight:600;margin:.4rem 0}
.ok{background:#eef8ee;border-left:4px solid #3a3;padding:.6rem 1rem}
figure{margin:1rem 0} figcaption{color:#555;font-size:.9rem}
img,video{max-width:100%;height:auto;border:1px solid #ddd}
.pair{display:flex;gap:1rem;flex-wrap:wrap} .pair figure{flex:1 1 420px}
code{background:#f3f3f3;padding:0 .25rem}
"""


def _data_uri(img_rgb: np.ndarray, fmt: str = ".png") -> str:
    """(H, W, 3) uint8 RGB → ``data:`` URI (downscaled to :data:`MAX_WIDTH`)."""
    h, w = img_rgb.shape[:2]
    if w > MAX_WIDTH:
        img_rgb = cv2.resize(img_rgb, (MAX_WIDTH, round(h * MAX_WIDTH / w)), interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 88] if fmt == ".jpg" else []
    ok, buf = cv2.imencode(fmt, np.ascontiguousarray(img_rgb[..., ::-1]), params)
    if not ok:
        raise OSError(f"could not encode a {fmt} image for the report")
    mime = "image/jpeg" if fmt == ".jpg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.tobytes()).decode('ascii')}"


def _video(name: str, poster: str, alt: str) -> str:
    """A ``<video>`` of the file ``name`` beside the page, with an embedded still shown until it plays (or where
    the browser cannot play it)."""
    return (f'<video controls muted loop playsinline preload="metadata" poster="{poster}" src="{html.escape(name)}" '
            f'aria-label="{html.escape(alt)}"></video>')  # fmt: skip


def _file_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def tracks_still(frame: np.ndarray, tracks: Tracks, max_tracks: int = 400, magnify: float = 1.0) -> np.ndarray:
    """The last frame with each track's whole path drawn (red where visible, grey where lost)."""
    img = np.ascontiguousarray(frame).copy()
    n = tracks.num_points
    keep = np.unique(np.linspace(0, n - 1, min(max_tracks, n)).round().astype(int))
    thick = max(1, round(frame.shape[0] / 400))
    for i in keep:
        p = tracks.tracks[:, i]
        p = p[0] + magnify * (p - p[0])
        vis = tracks.visible[:, i]
        pts = np.round(p[vis]).astype(np.int32)
        if len(pts) > 1:
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, (255, 60, 40), thick, cv2.LINE_AA)
        end = np.round(p[-1]).astype(int)
        color = (255, 255, 0) if vis[-1] else (150, 150, 150)
        cv2.circle(img, (int(end[0]), int(end[1])), thick + 1, color, -1, cv2.LINE_AA)
    return img


def readout_text(entry: dict) -> str:
    """One line on the sensor readout of ``summary["rolling_shutter"]`` (report and command line)."""
    if entry.get("readout_ms"):
        return f"readout {entry['readout_ms']:g} ms (given); stabilized.mp4 warps each row to a global shutter"
    est = entry.get("estimated")
    if not est:
        return "readout unknown (too little motion to estimate it); pass --readout-ms if the sensor's is known"
    return (
        f"readout ≈ {est['readout_ms']:.1f} ± {est['stderr_ms']:.1f} ms, estimated from the shear of "
        f"{est['frames']} frames (lower bound for long lenses with noisy tracks); --readout-ms sets it"
    )


def _rows(items: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in items)


def _gyro_rows(gyro: dict | None) -> list[tuple[str, str]]:
    if not gyro:
        return []
    if not gyro.get("used"):
        return [("gyro", f"<code>{html.escape(str(gyro.get('file')))}</code> not used (see the warnings)")]
    return [
        (
            "gyro",
            f"<code>{html.escape(str(gyro['file']))}</code>: blur-compensated tracking; offset "
            f"{1e3 * gyro['offset_s']:+.1f} ms ({gyro['offset_source']}), axes '{html.escape(gyro['axes'])}', "
            f"rate correlation {gyro['rate_correlation']:.3f}; exposure {1e3 * gyro['exposure_s']:.1f} ms, "
            f"readout {1e3 * gyro['readout_s']:.1f} ms",
        )
    ]


def _shake_table(shake: dict) -> str:
    """Band table of ``summary["shake"]``: total RMS angle and rate per band, one column per series."""
    series = {k: v for k, v in shake.items() if "bands" in v}
    if not series:
        return "<p>" + "; ".join(html.escape(f"{k}: {v.get('unavailable')}") for k, v in shake.items()) + "</p>"
    names = {"dense": "dense trajectory", "per_frame": "per frame"}
    head = "<tr><th>band</th>" + "".join(f"<th>{names.get(k, k)}</th>" for k in series) + "</tr>"
    body = []
    first = next(iter(series.values()))
    for i, b in enumerate(first["bands"]):
        cells = []
        for v in series.values():
            e = v["bands"][i]
            cells.append(
                f'<td title="{html.escape(e["unresolved"])}">—</td>' if "unresolved" in e
                else f"<td>{e['rms_arcmin']['total']:.2f}′ · {e['rms_rate_deg_s']['total']:.2f} °/s</td>"
            )  # fmt: skip
        body.append(f"<tr><td>{b['lo_hz']:g}–{b['hi_hz']:g} Hz</td>{''.join(cells)}</tr>")
    peaks = "".join(
        f"<td>{v['peak_hz']:.1f} Hz</td>" if v["peak_hz"] is not None else "<td>—</td>" for v in series.values()
    )
    rates = "".join(f"<td>{v['rms_rate_deg_s']:.2f} °/s</td>" for v in series.values())
    body.append(f"<tr><td>peak angular rate at</td>{peaks}</tr><tr><td>RMS rate, resolved bands</td>{rates}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def warning_severity(warning: str) -> str:
    """How much a run's warning matters (:data:`~motiondepth.types.SEVERITIES`): the severity its maker declared
    (:class:`~motiondepth.types.RunWarning`: ``high`` where results are doubtful, ``note`` for what a reader should
    know), ``medium`` for plain text."""
    return getattr(warning, "severity", "medium")


def _warnings_block(warnings: list[str]) -> str:
    """The warnings, most serious first, in one collapsible block (open when any is ``high``)."""
    if not warnings:
        return '<div class="ok">No warnings.</div>'
    esc = html.escape
    ranked = sorted(warnings, key=lambda w: SEVERITIES.index(warning_severity(w)))
    counts = {s: sum(warning_severity(w) == s for w in warnings) for s in SEVERITIES}
    head = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    items = "".join(
        f'<div class="warn {warning_severity(w)}"><b>{warning_severity(w)}</b> · {esc(w)}</div>' for w in ranked
    )
    opened = " open" if counts["high"] else ""
    return f'<details class="warnings"{opened}><summary>{len(warnings)} warning(s): {head}</summary>{items}</details>'


def _motion_rows(motion: dict | None, depth: dict) -> list[tuple[str, str]]:
    """The motion model the run used, why, and the camera's translation."""
    if not motion:
        return []
    esc = html.escape
    crit = motion.get("criterion") or {}
    ranked = ", ".join(f"{k} {v:g}" for k, v in sorted(crit.items(), key=lambda kv: kv[1]))
    if motion.get("solver") == "lsq":
        grid = motion.get("grid_check") or {}
        worse = (
            f"the typical track's residual {grid['residual_ratio']:g} × the optics solver's, over "
            f"{grid['explained_tracks']} tracks"
            if "residual_ratio" in grid
            else f"loss {grid.get('bundle adjustment')} against {grid.get('lsq')} px²"
        )
        why = (
            f"the bundle adjustment preferred {motion['model']} ({ranked}) but did not explain the query grid's "
            f"tracks better ({worse}), as under long exposures"
            if motion["model"] == "6dof"
            else f"the bundle adjustment found no translation beyond the pivot's ({ranked})"
        )
        used = f"<b>pivot</b>, the papers' model, solved by the optics solver: {esc(why)}"
    else:
        used = (f"<b>{esc(motion['model'])}</b>, solved by the small-motion bundle adjustment; criterion (lower is "
                f"better): {esc(ranked)} — {esc(motion.get('chosen_by') or '')}")  # fmt: skip
    return [
        ("motion model", used),
        ("camera translation", f"up to {1e3 * motion['translation_max_m']:.1f} mm from frame 0"
         f"{likely(motion['translation_max_m'], depth, 1e3, 'mm')}, path {1e3 * motion['path_length_m']:.1f} mm "
         "(the scale follows the depth's)"),
    ]  # fmt: skip


def _summary_rows(res: Result, src: str) -> str:
    """The report's *Summary* table: input, intrinsics, motion, shake, fit, tracks, rolling shutter, gyro, depth."""
    s, clip = res.summary, res.clip
    rot, d = s["rotation"], s["depth_m"]
    esc = html.escape
    return _rows(
        [
            (
                "input",
                f"<code>{src}</code>: {s['frames']} frames, {s['size'][0]}×{s['size'][1]} px, "
                f"{s['duration_s']:.2f} s at {s['fps']:.1f} fps" + f" (times: {esc(clip.times_source)})",
            ),
            (
                "intrinsics",
                "fx, fy, cx, cy = "
                + ", ".join(f"{v:.1f}" for v in res.intrinsics.as_array())
                + f" px ({esc(res.intrinsics_source)})",
            ),
            (  # one rate figure: the shake row's (its band stated) when the dense trajectory gives one
                "camera motion",
                f"largest rotation from frame 0: <b>{s['max_rotation_deg']:.3f}°</b> "
                f"({s['max_rotation_arcmin']:.1f}′)"
                + (
                    ""
                    if "dense" in s.get("shake", {})
                    else f"; RMS angular rate {s['rms_rate_deg_s']:.2f}°/s (per-frame angles, frame to frame)"
                ),
            ),
            *_motion_rows(s.get("motion"), s["depth_m"]),
            *(
                [("shake", esc(short_text(s["shake"]["dense"])) + " (dense trajectory; see <i>Camera shake</i>)")]
                if "dense" in s.get("shake", {})
                else []
            ),
            *[
                (
                    f"{axis}",
                    f"{r['min_deg']:+.3f}° … {r['max_deg']:+.3f}° (peak to peak {r['peak_to_peak_arcmin']:.1f}′)",
                )
                for axis, r in rot.items()
            ],
            (
                "fit residual",
                f"median {s['residual_px']['median']:.3f} px, 95th percentile {s['residual_px']['p95']:.3f} px"
                " (RMS per frame)",
            ),
            (
                "tracks",
                f"{s['tracks']} query points; {100 * s['visible_mean']:.0f}% visible on average, "
                f"{100 * s['visible_last_frame']:.0f}% in the last frame",
            ),
            *([("rolling shutter", esc(readout_text(s["rolling_shutter"])))] if s.get("rolling_shutter") else []),
            *_gyro_rows(s.get("gyro")),
            (
                "depth (frame 0)",
                f"{d['p2']:.2f} – {d['p98']:.2f} m (2nd–98th percentile), median {d['median']:.2f} m"
                f"{likely(d['median'], d)}{' (80 %)' if d.get('median_interval') else ''}{esc(_interval_why(d))}; "
                f"{esc(d['source'])}",
            ),
            *([("metric scale", esc(_scale_text(d)))] if d.get("scale_source") else []),
            *(
                [
                    (
                        "depth confidence",
                        f"{100 * d['parallax_coverage']:.0f}% of frame 0's pixels take their depth "
                        "mostly from nearby parallax points (depth.npz 'confidence'); the rest keep the network's "
                        "shape",
                    )
                ]
                if "parallax_coverage" in d
                else []
            ),
            (
                "depth over time",
                f"{s['tracks3d_depth_m']['p5']:.2f} – {s['tracks3d_depth_m']['p95']:.2f} m "
                "(5th–95th percentile of visible track points, Seurat)",
            ),
        ]
    )


def _frames_section(out_dir: Path, s: Summary, poster: str) -> str:
    """The section on every frame's depth: ``depth.mp4`` in the page, with what ``summary.depth_frames`` says."""
    from motiondepth.workflow.steps import KEYFRAME, KEYFRAME_STEP

    if not (out_dir / "depth.mp4").is_file():
        return ""
    df = s.get("depth_frames", {})
    pct = {k: 100 * df.get(k, 0) for k in ("unseen_fraction_median", "unseen_fraction_max", "filled_fraction_median",
                                           "filled_fraction_max")}  # fmt: skip
    video = _video("depth.mp4", poster, "every frame's depth")
    return f"""<h2>Every frame's depth</h2>
<figure>{video}<figcaption>The depth of every frame ({df.get("frames", "?")} 16-bit PNGs in millimetres in
<a href="depth/">depth/</a>): the first frame's depth moved by the recovered camera path, one scale for the whole
clip and one colour range (the first frame's). What the first frame never saw ({pct["unseen_fraction_median"]:.1f} %
of a frame in the median, {pct["unseen_fraction_max"]:.1f} % at most) comes from keyframes every {KEYFRAME_STEP} frames
refined by their own parallax (confidence {KEYFRAME} in <a href="depth_frames.npz">depth_frames.npz</a>) where the
camera translates, and the rest takes the nearest depth around it (confidence 0:
{pct["filled_fraction_median"]:.1f} % in the median, {pct["filled_fraction_max"]:.1f} % at
most).</figcaption></figure>"""


def _sources_text(s: Summary) -> str:
    """One sentence on where the tracks' depth over time came from (``summary.tracks3d_depth_m.sources``)."""
    t3 = s.get("tracks3d_depth_m", {})
    by = t3.get("sources")
    if not by:
        return ""
    text = (
        f" Of the {sum(by.values())} tracks, {by.get('path', 0)} follow the camera path as static points, "
        f"{by.get('seurat', 0)} take Seurat's depth (the path's prediction missed them: they move, or their "
        f"track failed) and {by.get('fused', 0)} both, weighted frame by frame; "
        "<code>source</code> in tracks3d.npz says which."
    )
    if t3.get("recovered"):
        text += (
            f" The path found {t3['recovered']} hidden track frames again ({100 * t3['recovered_fraction']:.0f} % "
            "of those the tracker had lost: the point's patch was where the path puts it); "
            "<code>recovered</code> in tracks3d.npz marks them."
        )
    return text


SCENE_POINTS = 6000  # at most this many frame-0 points in the report's 3D view
SCENE_FRUSTA = 24  # … and this many camera frusta along the path

_SCENE_JS = """
(() => {
  const data = JSON.parse(document.getElementById('scene3d-data').textContent);
  const canvas = document.getElementById('scene3d'), g = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height, C = data.centre, F = 0.9 * W;
  let yaw = 0.5, pitch = -0.35, zoom = 1.0;
  const dist = 2.2 * data.radius;
  function proj(p) {  // frame 0's camera axes (x right, y down, z forward), turned about the scene's centre
    const x = p[0] - C[0], y = p[1] - C[1], z = p[2] - C[2];
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const x1 = cy * x - sy * z, z1 = sy * x + cy * z;
    const y1 = cp * y - sp * z1, z2 = sp * y + cp * z1 + dist;
    const s = zoom * F / Math.max(z2, 1e-3 * dist);
    return [W / 2 + x1 * s, H / 2 + y1 * s, z2];
  }
  function line(a, b) { g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); }
  function draw() {
    g.fillStyle = '#fff'; g.fillRect(0, 0, W, H);
    const pts = data.points.map((p, i) => [proj(p), data.colours[i]]).filter(q => q[0][2] > 0);
    pts.sort((a, b) => b[0][2] - a[0][2]);  // far first
    for (const [q, c] of pts) { g.fillStyle = 'rgb(' + c + ')'; g.fillRect(q[0] - 1.5, q[1] - 1.5, 3, 3); }
    g.strokeStyle = '#d62728'; g.lineWidth = 2; g.beginPath();
    data.path.forEach((p, i) => { const q = proj(p); if (i) g.lineTo(q[0], q[1]); else g.moveTo(q[0], q[1]); });
    g.stroke();
    g.strokeStyle = '#1f77b4'; g.lineWidth = 1; g.beginPath();
    for (const f of data.frusta) {  // apex and four far corners
      const a = proj(f[0]), k = f.slice(1).map(proj);
      for (let i = 0; i < 4; i++) { line(a, k[i]); line(k[i], k[(i + 1) % 4]); }
    }
    g.stroke();
    canvas.dataset.drawn = String(pts.length);
  }
  let drag = null;
  canvas.addEventListener('pointerdown', e => {
    drag = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointerup', () => { drag = null; });
  canvas.addEventListener('pointermove', e => {
    if (!drag) return;
    yaw += 0.01 * (e.clientX - drag[0]); pitch = Math.max(-1.5, Math.min(1.5, pitch - 0.01 * (e.clientY - drag[1])));
    drag = [e.clientX, e.clientY]; draw();
  });
  canvas.addEventListener('wheel', e => { e.preventDefault(); zoom *= Math.exp(-0.001 * e.deltaY); draw(); },
                          {passive: false});
  draw();
})();
"""


def scene_3d_data(res: Result) -> dict:
    """The report's 3D view: frame 0's points (metres, frame 0's camera axes, with their colours), the camera
    path's centres and a few frusta (apex and four far corners) along it."""
    from motiondepth.geometry.camera import unproject
    from motiondepth.geometry.rotations import euler_to_matrix
    from motiondepth.io.pointcloud import depth_to_points

    depth, k = res.depth, res.intrinsics
    h, w = depth.shape
    if res.clip.recorded is not None:  # not the black margin of undistorted frames
        depth = np.where(res.clip.recorded, depth, 0.0)
    pts, colours = depth_to_points(depth, res.clip.frames[0], k, max_points=SCENE_POINTS)  # as points.ply, sparser
    traj = res.trajectory
    centres = traj.centres if traj.centres is not None else np.zeros((len(traj.angles), 3))
    solved = np.isfinite(traj.angles).all(1) & np.isfinite(centres).all(1)
    size = 0.08 * (float(np.median(pts[:, 2])) if len(pts) else 1.0)  # a frustum's depth
    corners = unproject(np.array([[0, 0], [w, 0], [w, h], [0, h]]), 1.0, k)  # the image's corners at depth 1
    idx = np.flatnonzero(solved)
    frusta = []
    for j in idx[np.unique(np.linspace(0, len(idx) - 1, min(len(idx), SCENE_FRUSTA)).astype(int))] if len(idx) else []:
        r = euler_to_matrix(traj.angles[j])  # camera j → frame 0
        frusta.append(np.vstack([centres[j], centres[j] + size * corners @ r.T]).round(4).tolist())
    allp = np.vstack([pts, centres[solved]]) if len(pts) else centres[solved]
    centre = np.median(allp, 0) if len(allp) else np.zeros(3)
    radius = float(np.percentile(np.linalg.norm(allp - centre, axis=1), 95)) if len(allp) else 1.0
    return {"points": pts.round(4).tolist(), "colours": [",".join(map(str, c)) for c in colours.tolist()],
            "path": centres[solved].round(5).tolist(), "frusta": frusta, "centre": centre.round(4).tolist(),
            "radius": max(radius, 1e-3)}  # fmt: skip


def _scene_section(res: Result) -> str:
    import json

    data = json.dumps(scene_3d_data(res), separators=(",", ":")).replace("</", "<\\/")
    return f"""<h2>Scene in 3D</h2>
<figure><canvas id="scene3d" width="720" height="480" style="max-width:100%;border:1px solid #ddd;touch-action:none">
</canvas><figcaption>The first frame's points at their metric depth, in their colours, the camera's path (red; its
positions, in the first frame's camera axes) and its frustum every few frames (blue). Drag to turn, scroll to
zoom. The same points are in <a href="points.ply">points.ply</a>; the path is in
<a href="trajectory.csv">trajectory.csv</a>.</figcaption></figure>
<script type="application/json" id="scene3d-data">{data}</script>
<script>{_SCENE_JS}</script>"""


def render_report(out_dir: Path, res: Result, video: str, steps: dict, created: str = "") -> str:
    """The page as a string, from a run's result: ``video`` as given, ``steps`` the step cache's bookkeeping
    (seconds, cached), ``created`` the run's time stamp; reads ``trajectory.png`` from ``out_dir`` (written before
    the report)."""
    clip, tracks, depth, warnings = res.clip, res.tracks, res.depth, res.warnings
    s = res.summary
    d = s["depth_m"]
    src = html.escape(str(video))
    esc = html.escape
    rows = _summary_rows(res, src)
    warn_html = _warnings_block(warnings)
    timing_rows = _rows(
        [
            (name, "cached (from an earlier run)" if st.get("cached") else f"{st.get('seconds', 0.0):.2f} s")
            for name, st in steps.items()
        ]
    )
    traj_png = out_dir / "trajectory.png"
    traj_img = f'<img alt="camera rotation" src="{_file_uri(traj_png)}">' if traj_png.is_file() else ""
    spec_png = out_dir / "spectrum.png"
    spec_img = f'<img alt="shake spectrum" src="{_file_uri(spec_png)}">' if spec_png.is_file() else ""
    shake = s.get("shake", {})
    nyq = shake.get("per_frame", {}).get("resolved_hz", [None, None])[1]
    reach = (shake.get("dense", {}).get("reach") or {}).get("hz")
    first = _data_uri(clip.frames[0], ".jpg")
    depth_img = _data_uri(depth_with_colorbar(depth))
    still = _data_uri(tracks_still(clip.frames[-1], tracks), ".jpg")
    tdepth_png = out_dir / "tracks_depth.png"
    tdepth_img = f'<img alt="depth over time" src="{_file_uri(tdepth_png)}">' if tdepth_png.is_file() else ""
    overlay = _video("overlay.mp4", still, "tracks drawn on the clip") if (out_dir / "overlay.mp4").is_file() else ""
    stab = (
        _video("stabilized.mp4", first, "the clip stabilised by the recovered rotation")
        if (out_dir / "stabilized.mp4").is_file()
        else ""
    )
    frames_section = _frames_section(out_dir, s, depth_img)
    sources = _sources_text(s)
    file_list = " · ".join(f'<a href="{f}">{f}</a>' for f in res.files if f != "report.html")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>motiondepth report — {src}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>motiondepth report</h1>
<div class="meta"><code>{src}</code> · motiondepth {esc(__version__)} · {esc(created)}</div>
<h2>Summary</h2>
<table>{rows}</table>
<h2>Warnings</h2>
{warn_html}
<h2>Camera rotation</h2>
<figure>{traj_img}<figcaption>Roll, pitch and yaw relative to the first frame (arcminutes): per-frame solve
(red) and the dense trajectory decoder ({res.trajectory.dense.shape[1]} samples per frame, blue); right,
the rotation as a path in angle space, as in the paper's Figure 5 (the camera's positions are in the 3D view
below).</figcaption></figure>
<h2>Camera shake</h2>
<figure>{spec_img}<figcaption>Left: angular-rate spectral density of the rotation, all axes together. Right: RMS
rotation per frequency band. The per-frame solve cannot see above its Nyquist frequency
({f"{nyq:.1f} Hz" if nyq else "half the frame rate"}) and averages over each frame's exposure; the dense
trajectory samples inside every frame. Above that frequency its content is read from the blur by the decoder,
learned on simulated handheld shake: on the shake-spectrum benchmark's clips it recovers the 6–12 Hz bands at
0.86–0.90 of their true RMS. It is one continuous path with two knot intervals per frame, so it holds nothing
above one cycle per frame{f" ({reach:.1f} Hz)" if reach else ""}: the shaded part of the plot is out of the
method's reach. Bands a series cannot resolve are left out (—; the reason shows on hover). Band RMS per axis is in
<a href="config.json">config.json</a> under <code>summary.shake</code>.</figcaption></figure>
{_shake_table(shake)}
<h2>Depth</h2>
<div class="pair">
<figure><img alt="first frame" src="{first}"><figcaption>First frame.</figcaption></figure>
<figure><img alt="depth map" src="{depth_img}"><figcaption>Metric depth of the first frame, turbo colour map on
inverse depth: warm = near ({d["p2"]:.2f} m), cool = far ({d["p98"]:.2f} m); the bar is in metres (the same
image as <a href="depth.png">depth.png</a>).</figcaption></figure>
</div>
{frames_section}
{_scene_section(res)}
<h2>Depth over time</h2>
<figure>{tdepth_img}<figcaption>The depth of every tracked point over time, made metric by the first frame's
depth.{sources} Left: a sample of the tracks, coloured by their depth when first seen (as in the depth map), and
the median over the visible ones; right: how each track's depth changed since it was first seen, median and 5–95 %
band. The values are in <a href="tracks3d.npz">tracks3d.npz</a> (TAPVid-3D keys).</figcaption></figure>
<h2>Tracks</h2>
<div class="pair">
<figure>{overlay or f'<img alt="tracks" src="{still}">'}<figcaption>The tracks on the clip
(<a href="overlay.mp4">overlay.mp4</a>); before it plays, the last frame with every drawn track's path (red);
yellow dots: still tracked, grey: lost.</figcaption></figure>
<figure>{stab}<figcaption>The clip stabilised by the recovered rotation
(<a href="stabilized.mp4">stabilized.mp4</a>).</figcaption></figure>
</div>
<p class="meta">The videos play from the files beside this page: keep them together when you move it.</p>
<h2>Steps</h2>
<table>{timing_rows}</table>
<h2>Files</h2>
<p>{file_list}</p>
<p class="meta">Everything resolved for this run (options, intrinsics, checkpoints, versions, timings) is in
<a href="config.json">config.json</a>.</p>
</body></html>
"""


def write_report(path: str | Path, out_dir: Path, res: Result, video: str, steps: dict, created: str = "") -> None:
    """Write :func:`render_report` to ``path`` atomically."""
    page = render_report(Path(out_dir), res, video, steps, created)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")


# columns of the batch index: (summary.csv column, heading); clip, status and error are drawn apart
_INDEX_COLUMNS = (
    ("frames", "frames"),
    ("fps", "fps"),
    ("max_rotation_arcmin", "max rotation ′"),
    ("roll_p2p_arcmin", "roll p-p ′"),
    ("pitch_p2p_arcmin", "pitch p-p ′"),
    ("yaw_p2p_arcmin", "yaw p-p ′"),
    ("rms_rate_deg_s", "RMS rate °/s"),
    ("shake_peak_hz", "peak Hz"),
    ("residual_median_px", "residual px"),
    ("visible_last_frame", "tracks left"),
    ("depth_median_m", "depth median m"),
    ("warnings", "warnings"),
)


def render_batch_index(rows: list[dict]) -> str:
    """``index.html`` of a batch (:func:`motiondepth.workflow.batch.run_batch`): the rows of ``summary.csv``
    as a table, each clip that ran linked to its ``report.html`` by a relative path (the page works beside the
    clips' folders)."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for _, h in _INDEX_COLUMNS)
    body = []
    for r in rows:
        name = esc(str(r["clip"]))
        href = esc("./" + urllib.parse.quote(str(r["clip"])) + "/report.html")  # never a javascript: URL
        link = f'<a href="{href}" title="{esc(str(r["video"]))}">{name}</a>'
        if r["status"] != "ok":
            body.append(
                f"<tr><td>{name}</td>"
                f'<td colspan="{len(_INDEX_COLUMNS)}" class="warn">failed: {esc(str(r["error"]))}</td></tr>'
            )
            continue
        cells = "".join(f"<td>{esc(str(r[k]))}</td>" for k, _ in _INDEX_COLUMNS)  # blank where unknown
        body.append(f"<tr><td>{link}</td>{cells}</tr>")
    failed = sum(r["status"] != "ok" for r in rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>motiondepth batch — {len(rows)} clips</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}
.batch td,.batch th{{padding:.2rem .45rem;font-size:.88rem}} .batch td+td{{text-align:right}}
.batch td.warn{{text-align:left}}</style></head>
<body>
<h1>motiondepth batch</h1>
<div class="meta">{len(rows)} clips, {len(rows) - failed} done, {failed} failed · the same numbers are in
<a href="summary.csv">summary.csv</a></div>
<table class="batch"><tr><th>clip</th>{head}</tr>
{"".join(body)}
</table>
<p class="meta">Rotation angles are relative to each clip's first frame (′ = arcminute, p-p = peak to peak). RMS
rate and peak frequency come from the shake spectrum of the dense trajectory where the clip has one. Tracks left:
the share of query points still tracked in the last frame. Hover a clip's name for its file; open its report for
the warnings and plots.</p>
</body></html>
"""


def _interval_why(d: dict) -> str:
    if d.get("median_interval_widened"):
        return f", widened × {d['median_interval_widened']:.1f}: " + "; ".join(d["median_interval_why_widened"])
    return f" — no interval: {d['median_interval_why']}" if d.get("median_interval_why") else ""


def _scale_text(d: dict) -> str:
    """Where the run's metric scale came from, and with the accelerometer how well (summary ``depth_m``)."""
    acc = d.get("accel")
    if d["scale_source"] == "accelerometer":
        return (f"from the accelerometer: × {acc['scale']:.3g} of the depth prior's, ± {acc['sigma']:.0%} (axes "
                f"{acc['axes']}, offset {1e3 * acc['offset_s']:+.0f} ms; scale.json)")  # fmt: skip
    text = {"depth network": "from the depth network's median (off by up to 2× on real footage)",
            "depth model": "from the depth model's median", "--depth": "from the given depth map",
            "--scene-distance": "from the given scene distance"}.get(d["scale_source"], d["scale_source"])  # fmt: skip
    return text + (f"; the accelerometer was not used: {acc['why']}" if acc else "")
