"""The README's Python example runs as written, on a simulated clip in place of ``clip.mp4``."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    from motiondepth.sensor.camera import camera_preset
    from motiondepth.simulate.scene import simulate_scene, write_simulation

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no Python example"
    cam = camera_preset("phone", width=192, height=192, num_frames=12)
    write_simulation(simulate_scene(cam, scene_seed=5, shake_seed=5), tmp_path / "sim")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clip.mp4").symlink_to(tmp_path / "sim" / "video.mp4")
    for code in blocks:
        scope: dict = {}
        exec(compile(code, str(README), "exec"), scope)  # the README's own code, nothing else
    res = scope["res"]
    assert (tmp_path / "out" / "report.html").is_file()
    assert scope["tracks3d"].xyz.shape == res.tracks3d.xyz.shape
