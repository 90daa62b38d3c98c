"""Moved to jpq2hw/core/fixed.py (kept here for old imports)."""

from jpq2hw.core.fixed import *  # noqa: F401,F403
from jpq2hw.core.fixed import constant_range, dot_range, dyadic_frac, to_ints  # noqa: F401
