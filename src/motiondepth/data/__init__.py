"""Datasets: procedural training data and loaders for real formats."""
