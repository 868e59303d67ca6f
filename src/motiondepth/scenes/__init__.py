"""Procedural textured RGB-D scenes rendered by ray casting (no downloads, any resolution)."""

from motiondepth.scenes.procedural import (
    Primitive,
    ProceduralScene,
    SceneConfig,
    generate_scene,
    render_procedural,
)

__all__ = ["Primitive", "ProceduralScene", "SceneConfig", "generate_scene", "render_procedural"]
