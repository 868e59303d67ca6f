"""Held-out evaluation harnesses: they run the models (and their baselines) on clips and files and score
them with the metrics of :mod:`motiondepth.eval` (``motiondepth eval blur-depth``, ``eval seurat`` and
``predict-tapvid3d``)."""
