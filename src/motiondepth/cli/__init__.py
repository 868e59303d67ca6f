"""Command line: ``motiondepth <command> --help`` explains each step.

One module per command group, each parser beside its command: :mod:`~motiondepth.cli.simulate`
(``simulate``, ``demo``), :mod:`~motiondepth.cli.tracks` (``track``, ``trajectory``, ``eval trajectory``),
:mod:`~motiondepth.cli.run` (``run``, its flags generated from :class:`~motiondepth.workflow.RunConfig`;
``compare-gyro``, ``shake``, ``export-trajectory``), :mod:`~motiondepth.cli.models` (the learned models:
``train``, ``models``, ``export-data``, ``depth``, ``track-depth``, ``predict-tapvid3d``, ``eval …``).
"""

from motiondepth.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
