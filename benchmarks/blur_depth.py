"""Perspective-blur benchmark: CPU inference time of the depth network and held-out accuracy.

Speed: a 30-frame 518 × 518 simulated clip through :class:`motiondepth.depth.BlurPredictor`
(resize to the checkpoint's resolution, the frames it uses, the network; the depth map resized
back), median over ``--repeats`` runs after one warm-up. The ``paper`` preset (ViT-B/14, 518 px,
30 frames, random weights: same cost as trained ones) runs ``--paper-repeats`` times on the same
clip. Timings are not in the unit tests.

Accuracy: ``motiondepth eval blur-depth`` on held-out procedural clips (the shipped checkpoints),
with the model-based blur-fit reference on the first ``--blur-fit-scenes`` of them; then the same
on ``--handheld-scenes`` clips with the ``handheld`` shake (the shake the trajectory decoder is
trained on; ``blur_depth_handheld.{json,md}``).

    python benchmarks/blur_depth.py            # full run
    python benchmarks/blur_depth.py --quick    # fewer scenes and repeats
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from motiondepth.data.blur_data import BlurDataConfig, procedural_blur_sample
from motiondepth.depth.blur import BlurPredictor
from motiondepth.eval.harness.blur_depth import evaluate_procedural, markdown_table
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.models.blur_depth import BlurDepthNet, config_from_preset


def time_depth(predictor: BlurPredictor, frames: np.ndarray, repeats: int) -> dict[str, float]:
    predictor.depth(frames)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predictor.depth(frames)
        times.append(time.perf_counter() - t0)
    return {"median_s": float(np.median(times)), "min_s": float(np.min(times)), "repeats": repeats}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--checkpoint", default="blur-depth-small")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--paper-repeats", type=int, default=2)
    p.add_argument("--scenes", type=int, default=64)
    p.add_argument("--blur-fit-scenes", type=int, default=16, help="clips with the model-based blur-fit reference")
    p.add_argument("--handheld-scenes", type=int, default=16, help="clips of the handheld-shake evaluation (0: skip)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = p.parse_args()
    repeats, scenes, fit_scenes = (3, 8, 2) if a.quick else (a.repeats, a.scenes, a.blur_fit_scenes)
    handheld = min(a.handheld_scenes, 4) if a.quick else a.handheld_scenes
    clip = procedural_blur_sample(4242, BlurDataConfig(size=518, num_frames=30))["frames"]
    small = BlurPredictor(a.checkpoint, None)
    speed = {"small": {**time_depth(small, clip, repeats), "frames_used": small.cfg.num_frames,
                       "resolution": small.cfg.image_size}}  # fmt: skip
    print(json.dumps(speed, indent=1))
    torch.manual_seed(0)
    paper = BlurPredictor(BlurDepthNet(config_from_preset("paper")), None)  # random weights: same cost as trained
    speed["paper"] = {**time_depth(paper, clip, a.paper_repeats), "frames_used": 30, "resolution": 518}
    print(json.dumps(speed, indent=1))
    t0 = time.perf_counter()
    acc = evaluate_procedural(a.checkpoint, scenes=scenes, seed=0, blur_fit_scenes=min(fit_scenes, scenes))
    print(f"eval: {time.perf_counter() - t0:.0f} s")
    result = {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "torch": torch.__version__},
        "inference": speed, "accuracy": acc,
    }  # fmt: skip
    md = [
        "## Blur-depth inference time (30-frame 518 × 518 clip, CPU)",
        "",
        "| preset | frames used | resolution | median s | min s | runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in speed.items():
        md.append(f"| {name} | {s['frames_used']} | {s['resolution']} | {s['median_s']:.2f} | {s['min_s']:.2f} | "
                  f"{s['repeats']} |")  # fmt: skip
    md += ["", "## Accuracy", "", markdown_table(acc)]
    write_json_and_markdown(Path(a.out) / "blur_depth.json", result, "\n".join(md) + "\n")
    print("\n".join(md))
    if handheld:
        t0 = time.perf_counter()
        hh = evaluate_procedural(a.checkpoint, scenes=handheld, seed=0, blur_fit_scenes=min(fit_scenes, handheld),
                                 shake="handheld")  # fmt: skip
        print(f"eval (handheld shake): {time.perf_counter() - t0:.0f} s")
        hh_result = {"machine": result["machine"], "accuracy": hh}
        write_json_and_markdown(Path(a.out) / "blur_depth_handheld.json", hh_result, markdown_table(hh) + "\n")
        print(markdown_table(hh))


if __name__ == "__main__":
    main()
