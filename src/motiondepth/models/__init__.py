"""Learned models: one network per file; weights loaded by name with ``from_pretrained``."""
