"""The disparity colour map of the stereo examples (numpy only: predict.py needs no torch)."""

from __future__ import annotations

import numpy as np

# viridis at 5 control points (linear in between): enough for a disparity map
VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)


def colour(values: np.ndarray, vmax: float) -> np.ndarray:
    """RGB uint8 of values in [0, vmax] (far dark, near bright)."""
    t = np.clip(values / vmax, 0, 1) * (len(VIRIDIS) - 1)
    lo = np.floor(t).astype(int).clip(0, len(VIRIDIS) - 2)
    f = (t - lo)[..., None]
    return (VIRIDIS[lo] * (1 - f) + VIRIDIS[lo + 1] * f).astype(np.uint8)
