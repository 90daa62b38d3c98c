"""The sweep's pages: OUT/front.md and OUT/front.html (inline CSS and SVG, no script, like report.html), and
OUT/sweep.json (every record, the front, the comparison). Rendered through jpq2hw/templating.py's strict
environment (templates/sweep/); the plot geometry is computed here."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from jpq2hw.sweep.compare import comparison, method_label
from jpq2hw.sweep.pareto import LABELS, front_2d, pareto_front
from jpq2hw.templating import render

PLOT_W, PLOT_H, PAD_L, PAD_B, PAD_T, PAD_R = 560, 300, 64, 40, 12, 16
COLORS = ["#3866b0", "#c0392b", "#2a9d8f", "#d89614", "#7b5ea7", "#5f6b7a"]


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.4g}"
    return f"{int(x):,}"


def _axis(values: list[float], log: bool):
    lo, hi = min(values), max(values)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def scatter(records: list[dict], cost: str, metric_mode: str, colors: dict, labels: dict) -> dict | None:
    """One plot: the metric (y) against one hardware cost (x, log scale when it spans more than 10x)."""
    pts = [r for r in records if r.get("status") == "ok" and r.get(cost) and r.get("metric") is not None]
    if not pts:
        return None
    xs = [float(r[cost]) for r in pts]
    log = min(xs) > 0 and max(xs) / min(xs) > 10
    x0, x1 = _axis(xs, log)
    y0, y1 = _axis([float(r["metric"]) for r in pts], False)

    def px(v):
        v = math.log10(v) if log else v
        return PAD_L + (v - x0) / (x1 - x0) * PLOT_W

    def py(v):
        return PAD_T + (1 - (v - y0) / (y1 - y0)) * PLOT_H

    front = front_2d(pts, cost, metric_mode)
    front_ids = {r["trial_id"] for r in front}
    # staircase through the 2-D front, cheapest first
    steps, prev = [], None
    for r in sorted(front, key=lambda r: r[cost]):
        x, y = px(r[cost]), py(r["metric"])
        if prev is not None:
            steps.append(f"{x:.1f},{prev[1]:.1f}")
        steps.append(f"{x:.1f},{y:.1f}")
        prev = (x, y)
    ticks_x = []
    if log:  # 1, 2, 5 times each power of ten in range
        for e in range(math.floor(x0), math.ceil(x1) + 1):
            for m in (1, 2, 5):
                v = math.log10(m) + e
                if x0 <= v <= x1:
                    ticks_x.append({"x": PAD_L + (v - x0) / (x1 - x0) * PLOT_W, "label": _fmt(m * 10.0 ** e)})
    else:
        for i in range(5):
            v = x0 + (x1 - x0) * (i + 0.5) / 5
            ticks_x.append({"x": PAD_L + (v - x0) / (x1 - x0) * PLOT_W, "label": _fmt(round(v))})
    ticks_y = [{"y": py(y0 + (y1 - y0) * (i + 0.5) / 5), "label": f"{y0 + (y1 - y0) * (i + 0.5) / 5:.4g}"}
               for i in range(5)]
    dots = [{"x": px(r[cost]), "y": py(r["metric"]), "color": colors[labels[r["trial_id"]]],
             "front": r["trial_id"] in front_ids,
             "title": f"{r['trial_id']}: {labels[r['trial_id']]}; metric {_fmt(r['metric'])}, {LABELS[cost]} "
                      f"{_fmt(r[cost])}"} for r in pts]
    return {"cost": cost, "label": LABELS[cost] + (" (log scale)" if log else ""), "dots": dots,
            "staircase": " ".join(steps), "ticks_x": ticks_x, "ticks_y": ticks_y,
            "width": PAD_L + PLOT_W + PAD_R, "height": PAD_T + PLOT_H + PAD_B, "x0": PAD_L, "x1": PAD_L + PLOT_W,
            "y0": PAD_T, "y1": PAD_T + PLOT_H}


def page_context(spec, records: list[dict], runs: list[dict] | None = None) -> dict:
    records = sorted(records, key=lambda r: r["trial_id"])
    front = pareto_front(records, spec.objectives, spec.metric_mode)
    front_ids = {r["trial_id"] for r in front}
    cmp = comparison(records, spec.grid, front_ids, spec.metric_mode)
    how = cmp["how"] if cmp else []
    labels = {r["trial_id"]: (method_label(r["point"], how) if how else "trial") for r in records}
    legend = list(dict.fromkeys(labels.values()))
    colors = {m: COLORS[i % len(COLORS)] for i, m in enumerate(legend)}
    costs = [o for o in spec.objectives if o != "metric"]
    plots = [p for p in (scatter(records, c, spec.metric_mode, colors, labels) for c in costs) if p]
    counts = {s: sum(r["status"] == s for r in records) for s in ("ok", "not_exact", "failed")}
    return {"spec": spec, "records": records, "front": front, "front_ids": front_ids, "cmp": cmp, "plots": plots,
            "legend": [{"name": m, "color": colors[m]} for m in legend], "counts": counts, "costs": costs,
            "labels": LABELS, "grid_keys": list(spec.grid), "fmt": _fmt, "runs": runs or [],
            "wall_s": sum(r["wall_s"] for r in runs) if runs else None,
            "rel": lambda p: os.path.relpath(p, spec.output) if p else "-"}


def write_pages(spec, records: list[dict], runs: list[dict] | None = None) -> dict:
    """Write front.md, front.html, sweep.json (each atomically) and the front's models under front/."""
    ctx = page_context(spec, records, runs)
    out = Path(spec.output)
    front_dir = out / "front"
    front_dir.mkdir(parents=True, exist_ok=True)
    for r in ctx["front"]:
        if r.get("model") and Path(r["model"]).is_file():
            _write(front_dir / f"{r['trial_id']}.onnx", Path(r["model"]).read_bytes())
    summary = {"spec": spec.to_dict(), "wall_s": ctx["wall_s"], "runs": ctx["runs"], "counts": ctx["counts"],
               "front": [r["trial_id"] for r in ctx["front"]], "comparison": ctx["cmp"], "trials": ctx["records"]}
    _write(out / "sweep.json", json.dumps(summary, indent=1, default=str).encode())
    _write(out / "front.md", render("sweep/front.md.j2", **ctx).encode())
    _write(out / "front.html", render("sweep/front.html.j2", **ctx).encode())
    return ctx


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
