"""Moved to jpq2hw/core/node_names.py (kept here for old imports)."""

from jpq2hw.core.node_names import SOURCE_NAME_KEY, node_label, source_name  # noqa: F401
