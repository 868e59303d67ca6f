"""Command line: ``motiondepth <command> --help`` explains each step.

One module per command group, each parser beside its command: :mod:`~motiondepth.cli.simulate` (``simulate``,
``demo``), :mod:`~motiondepth.cli.tracks` (``track``, ``trajectory``), :mod:`~motiondepth.cli.depth` (``depth``,
``track-depth``), :mod:`~motiondepth.cli.models` (``train``, ``models``, ``export-data``),
:mod:`~motiondepth.cli.evaluate` (``eval …``, ``predict-tapvid3d``), :mod:`~motiondepth.cli.run` (``run``, its flags
generated from :class:`~motiondepth.workflow.RunConfig`), :mod:`~motiondepth.cli.gyro` (``compare-gyro``,
``shake``) and :mod:`~motiondepth.cli.export` (``export-trajectory``); :mod:`~motiondepth.cli.main` assembles them.
"""

from motiondepth.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
