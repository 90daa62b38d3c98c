"""Moved to jpq2hw/core/node_names.py (kept here for old imports)."""

from jpq2hw.core.node_names import SOURCE_NAME_KEY, nearest_source_name, node_label, source_name  # noqa: F401
