"""Synthetic data sets generated on the fly (no downloads)."""
