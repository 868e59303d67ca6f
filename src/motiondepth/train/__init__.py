"""Training: one generic loop (``loop.fit``) and per-model tasks."""
