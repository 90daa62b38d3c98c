"""Moved to jpq2hw/core/attrs.py (kept here for old imports)."""

from jpq2hw.core.attrs import attr  # noqa: F401
