"""Joint against sequential (prune-then-quantize, quantize-then-prune, PTQ, ...) at equal budget.

The grid's "how" options (method, order, ptq, score, finetune) are the methods compared; the other grid options
(sparsity, bits, seed, ...) are the points where they are compared. Each row is one point, each column one
method: the metric, the LUT estimate and the training epochs it ran (its budget), so a reader sees that the
budgets are equal (or not) instead of taking it on trust."""

from __future__ import annotations

import json

HOW_KEYS = ("method", "order", "ptq", "score", "finetune")


def method_label(point: dict, how: list[str]) -> str:
    return ", ".join(f"{point[k]}" if k == "method" else f"{k}={point[k]}" for k in how)


def comparison(records: list[dict], grid: dict, front_ids: set, metric_mode: str) -> dict | None:
    how = [k for k in HOW_KEYS if k in grid]
    where = [k for k in grid if k not in how]
    if not how:
        return None
    methods, rows = [], {}
    for r in records:
        label = method_label(r["point"], how)
        if label not in methods:
            methods.append(label)
        key = json.dumps([r["point"].get(k) for k in where], sort_keys=True, default=str)  # values may be dicts
        rows.setdefault(key, {})[label] = r
    table = []
    for key in sorted(rows):
        cells = rows[key]
        ok = {m: c for m, c in cells.items() if c.get("status") == "ok" and c.get("metric") is not None}
        best = None
        if ok:
            pick = max if metric_mode == "max" else min
            best = pick(ok, key=lambda m: ok[m]["metric"])
        budgets = {c.get("budget_epochs") for c in cells.values() if c.get("budget_epochs") is not None}
        table.append({"point": dict(zip(where, json.loads(key))), "best": best, "equal_budget": len(budgets) <= 1,
                      "cells": [cells.get(m) for m in methods]})
    summary = []
    for m in methods:
        mine = [r for r in records if method_label(r["point"], how) == m]
        ok = [r for r in mine if r.get("status") == "ok" and r.get("metric") is not None]
        summary.append({"method": m, "trials": len(mine), "ok": len(ok),
                        "on_front": sum(r["trial_id"] in front_ids for r in mine),
                        "wins": sum(row["best"] == m for row in table),
                        "mean_metric": sum(r["metric"] for r in ok) / len(ok) if ok else None,
                        "budgets": sorted({r["budget_epochs"] for r in ok if r.get("budget_epochs") is not None})})
    return {"how": how, "where": where, "methods": methods, "rows": table, "summary": summary}
