"""The Pareto front of a sweep's trials: the bit-exact trials no other bit-exact trial beats on every objective.

Objectives: `metric` (the task metric, maximized or minimized as the spec says) and hardware costs, all
minimized: weight_memory_bits, bops, lut (the cost model's estimate), yosys_lut (Yosys, with build.rtl)."""

from __future__ import annotations

LABELS = {"weight_memory_bits": "weight memory (bits)", "bops": "BOPs", "lut": "LUT (estimate)",
          "yosys_lut": "LUT (Yosys)"}


def objective_vector(record: dict, objectives, metric_mode: str) -> tuple | None:
    """The record's objectives as numbers to minimize, or None when one is missing."""
    values = []
    for name in objectives:
        value = record.get(name)
        if value is None:
            return None
        if name == "metric" and metric_mode == "max":
            value = -value
        values.append(float(value))
    return tuple(values)


def dominates(a: tuple, b: tuple) -> bool:
    """a is at least as good as b everywhere and strictly better somewhere (all minimized)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(records: list[dict], objectives, metric_mode: str) -> list[dict]:
    """The non-dominated bit-exact trials, best metric first. Two trials with equal objectives both stay."""
    scored = [(r, objective_vector(r, objectives, metric_mode)) for r in records if r.get("status") == "ok"]
    scored = [(r, v) for r, v in scored if v is not None]
    front = [r for r, v in scored if not any(dominates(w, v) for _, w in scored)]
    key = (lambda r: -r["metric"]) if metric_mode == "max" else (lambda r: r["metric"])
    return sorted(front, key=lambda r: (key(r), r["trial_id"]))


def front_2d(records: list[dict], cost: str, metric_mode: str) -> list[dict]:
    """The front of one hardware cost against the metric alone (the staircase drawn on each plot)."""
    return pareto_front(records, ("metric", cost), metric_mode)
