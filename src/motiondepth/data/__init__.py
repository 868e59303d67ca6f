"""Datasets: procedural training data and loaders for real formats.

Seeds: training samples use small seeds (``data_seed·10⁸ + index``); held-out sets start at the
bases below, so no training run can reach them.
"""

VAL_SEED_BASE = 1_000_000_000  # held-out validation samples: seeds VAL_SEED_BASE + i
EVAL_SEED_BASE = 2_000_000_000  # held-out evaluation clips (``motiondepth eval …``)
