"""report.html: the build report as one self-contained page (inline CSS and inline SVG charts; no script, no
network, no new dependency). The numbers come from the report dict (report.json); the chart geometry is
computed here and drawn by templates/report/report.html.j2."""

from __future__ import annotations

import math

from jpq2hw.report.build_report import hls_synthesis, synthesis_vs_estimate, yosys_beside_estimate
from jpq2hw.templating import render

RESOURCES = [("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP"), ("bram36", "BRAM36")]
CHART_WIDTH = 520  # px of the bar area (labels sit left of it)


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.1f}"
    return f"{int(x):,}"


def resource_bars(est: dict) -> list[dict]:
    """One bar per resource: used / capacity, capped at 100% of the bar (the text says the real figure)."""
    board = est.get("board")
    if not board:
        return []
    rows = []
    for key, name in RESOURCES:
        used, cap = est["totals"][key], board["capacity"][key]
        frac = board["utilization"][key]
        state = "ok" if frac <= board["max_utilization"] else ("warn" if frac <= 1 else "bad")
        rows.append({"name": name, "frac": frac, "width": CHART_WIDTH * min(frac, 1.0), "state": state,
                     "text": f"{_fmt(used)} of {_fmt(cap)} ({100 * frac:.1f}%)"})
    return rows


def layer_bars(layers: list[dict], key: str, scale: float | None = None, fmt="{:.0%}") -> list[dict]:
    values = [l[key] or 0 for l in layers]
    top = scale or max(values + [1e-12])
    return [{"name": l["name"], "value": v, "width": CHART_WIDTH * v / top, "text": fmt.format(v)}
            for l, v in zip(layers, values)]


def bit_bars(layers: list[dict]) -> dict:
    top = max([l["weight_bits"] for l in layers] + [l["act_bits"] or 0 for l in layers] + [1])
    step = CHART_WIDTH / top
    return {"rows": [{"name": l["name"], "w": l["weight_bits"], "a": l["act_bits"],
                      "w_width": l["weight_bits"] * step, "a_width": (l["act_bits"] or 0) * step} for l in layers],
            "ticks": [{"x": b * step, "label": b} for b in range(0, top + 1, 2 if top > 8 else 1)]}


def reduction_bars(est: dict) -> list[dict]:
    """Log-scale bars: how many times smaller than the dense baselines."""
    rows = []
    labels = {"weight_memory_bits": "weight memory", "bops": "BOPs", "multipliers": "multipliers", "lut": "LUT"}
    factors = [v for red in est["reductions"].values() for v in red.values() if v]
    top = math.log10(max(factors + [10.0]))
    for base, red in est["reductions"].items():
        for key, label in labels.items():
            f = red.get(key)
            if f is None:
                continue
            width = CHART_WIDTH * (math.log10(f) / top if f > 1 else 0)
            rows.append({"name": label, "factor": f, "width": max(width, 2),
                         "text": f"{f:,.1f}x smaller" if f >= 1 else f"{1 / f:,.1f}x larger", "base": base})
    return rows


def layer_table(report: dict) -> list[dict]:
    est_layers = {l["name"]: l for l in (report.get("estimate") or {}).get("layers", [])}
    rows = []
    for l in report["layers"]:
        rows.append({**l, "est": est_layers.get(l["name"])})
    return rows


def synthesis_warning(report: dict) -> str | None:
    """A synthesis report made for another part than the board's is shown, but flagged."""
    syn = hls_synthesis(report)
    if not syn or not report.get("part"):
        return None
    norm = lambda p: p.replace("-", "").lower()  # noqa: E731 (xc7z020-clg400-1 == xc7z020clg400-1)
    if norm(syn.get("part", "")) != norm(report["part"]):
        return f"This synthesis report is for part {syn['part']}, not the board's {report['part']}."
    return None


def render_html(report: dict) -> str:
    est = report.get("estimate")
    layers = report["layers"]
    return render(
        "report/report.html.j2",
        r=report,
        est=est,
        built="bit_exact" in report,
        resource_bars=resource_bars(est) if est else [],
        sparsity_bars=layer_bars(layers, "sparsity", scale=1.0),
        lut_bars=layer_bars(est["layers"], "lut", fmt="{:,} LUT") if est else [],
        bits=bit_bars(layers),
        reductions=reduction_bars(est) if est else [],
        table=layer_table(report),
        synth_rows=synthesis_vs_estimate(report),
        synth_warning=synthesis_warning(report),
        yosys=yosys_beside_estimate(report),
        chart_width=CHART_WIDTH,
        fmt=_fmt,
    )
