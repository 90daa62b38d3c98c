"""Sparsity schedules: the target sparsity after each of n pruning steps.

cubic (Zhu & Gupta 2017): s_t = s_f + (s_0 - s_f) * (1 - t/n)^3, prunes fast while many redundant
weights remain and slowly near the target; stepwise: equal increments s_0 + (s_f - s_0) * t/n."""

from __future__ import annotations


def sparsity_targets(kind: str, final: float, steps: int, initial: float = 0.0) -> list[float]:
    if steps < 1:
        raise ValueError("steps must be at least 1")
    if kind == "cubic":
        return [final + (initial - final) * (1 - t / steps) ** 3 for t in range(1, steps + 1)]
    if kind == "stepwise":
        return [initial + (final - initial) * t / steps for t in range(1, steps + 1)]
    raise ValueError(f"unknown schedule {kind!r}")
