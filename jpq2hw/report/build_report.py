"""report.json (the machine-readable record of a build), report.md and report.html (the same for a person).

report.json keeps the keys of issue 2 (model, board, ..., layers, totals, timings_s) and adds `estimate` (the
hardware cost model, jpq2hw.costmodel) and `synthesis` (`hls`: the parsed csynth.xml when OUT/hls holds one; `yosys`: from `jpq2hw rtl`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jpq2hw.annotate.quant_types import ModelAnalysis  # its layers' figures follow jpq2hw/metrics.py
from jpq2hw.templating import render

LAYER_KEYS = ("params", "nonzero_params", "weight_memory_bits", "bops")


def layer_rows(analysis: ModelAnalysis) -> list[dict]:
    return [
        {
            "name": l.name,
            "op": l.op,
            "weight_bits": l.weight_bits,
            "act_bits": l.act_bits,
            "params": l.params,
            "nonzero_params": l.nonzero_params,
            "sparsity": round(l.sparsity, 6),
            "weight_memory_bits": l.weight_memory_bits,
            "bias_count": l.bias_count,
            "bias_bits": l.bias_bits,
            "copies": l.copies,  # 2: one kernel shared by two views (counted once for params and memory)
            "accum_bits": l.accum_bits,
            "bops": l.bops,
        }
        for l in analysis.layers
    ]


def totals(rows: list[dict]) -> dict:
    t = {k: sum(r[k] for r in rows) for k in LAYER_KEYS}
    t["sparsity"] = round(1 - t["nonzero_params"] / t["params"], 6) if t["params"] else 0.0
    return t


def interface_from_graph(model, analysis: ModelAnalysis) -> dict:
    """Before conversion (`jpq2hw report`): the ports' shapes (channels-last, no batch) and the input's type and
    AXI-Stream word width; the output's type is exact only after conversion (the build lists it)."""
    from jpq2hw.writer.project_info import axis_word_bits

    def shape(tensor):
        return [int(d) for d in (model.get_tensor_shape(tensor) or [])[1:]]

    def reorders(node) -> bool:  # a Transpose that only moves size-1 axes is a reshape: no layer in hardware
        dims = model.get_tensor_shape(node.input[0]) or []
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), list(range(len(dims)))[::-1])
        return [d for d in perm if dims[d] != 1] != [d for d in range(len(dims)) if dims[d] != 1]

    def after_layout(tensor):  # the top function's input is behind a channels-last Transpose that moves nothing
        consumers = model.find_consumers(tensor) or []
        while len(consumers) == 1 and consumers[0].op_type == "Transpose" and not reorders(consumers[0]):
            tensor = consumers[0].output[0]
            consumers = model.find_consumers(tensor) or []
        return tensor

    in_type = analysis.input_quant.fixed_type()
    size = lambda dims: int(np.prod(dims)) if dims else 1  # noqa: E731
    in_shape, out_shape = shape(after_layout(model.graph.input[0].name)), shape(model.graph.output[0].name)
    return {"input": {"shape": in_shape, "type": in_type.hls(), "axis_word_bits": axis_word_bits(in_type.width),
                      "words": size(in_shape)},
            "output": {"shape": out_shape, "type": None, "axis_word_bits": None, "words": size(out_shape)}}


def synthesis_vs_estimate(report: dict) -> list[dict]:
    """Rows (quantity, estimate, synthesis, ratio) when both an estimate and a synthesis report exist."""
    est, syn = report.get("estimate"), hls_synthesis(report)
    if not est or not syn:
        return []
    t, perf, res = est["totals"], est["performance"], syn.get("resources", {})
    pairs = [("LUT", t["lut"], res.get("lut")), ("FF", t["ff"], res.get("ff")), ("DSP", t["dsp"], res.get("dsp")),
             ("BRAM36", t["bram36"], res.get("bram36")),
             ("Latency (cycles)", perf["latency_cycles"], syn.get("latency_worst_cycles")),
             ("II (cycles)", perf["ii_cycles"], syn.get("interval_max_cycles") or syn.get("interval_min_cycles"))]
    rows = []
    for name, e, s in pairs:
        ratio = round(e / s, 2) if s not in (None, 0) else None
        rows.append({"quantity": name, "estimate": e, "synthesis": s, "ratio": ratio})
    return rows


def yosys_beside_estimate(report: dict) -> dict | None:
    """Yosys's numbers (from `jpq2hw rtl` / `build --rtl`) beside the estimate, and a timing warning when the
    pre-route logic delay already exceeds the clock period (routing only adds delay)."""
    y = (report.get("synthesis") or {}).get("yosys")
    if not y:
        return None
    top = y.get("top") or {}
    layers = [l for l in y.get("layers", []) if l.get("lut") is not None]
    measured = top if top else ({k: sum(l.get(k) or 0 for l in layers) for k in ("lut", "ff", "dsp", "bram")}
                                if layers else {})
    est = (report.get("estimate") or {}).get("totals", {})
    rows = [{"quantity": name, "estimate": est.get(key), "yosys": measured.get(ykey)}
            for name, key, ykey in (("LUT", "lut", "lut"), ("FF", "ff", "ff"), ("DSP", "dsp", "dsp"),
                                    ("BRAM", "bram36", "bram"))] if measured else []
    delays = [(l["name"], l["logic_delay_ns"]) for l in layers if l.get("logic_delay_ns") is not None]
    if top.get("logic_delay_ns") is not None:
        delays.append(("whole design", top["logic_delay_ns"]))
    worst = max(delays, key=lambda d: d[1], default=None)
    period = 1000.0 / float(report["clock_mhz"]) if report.get("clock_mhz") else None
    warning = None
    if worst is not None and period is not None and worst[1] > period:
        warning = (f"Timing: the pre-route logic delay of {worst[0]} is {worst[1]:g} ns, more than the "
                   f"{period:g} ns clock period at {report['clock_mhz']:g} MHz, before any routing delay: as "
                   f"synthesized it would not meet timing (pipeline it, or lower --clock-mhz).")
    return {"scope": "whole design" if top else "sum of the layers", "rows": rows,
            "worst_delay": None if worst is None else {"where": worst[0], "ns": worst[1]},
            "clock_period_ns": period, "timing_warning": warning}


def hls_synthesis(report: dict) -> dict | None:
    """report['synthesis'] holds one entry per tool: 'hls' (Vitis/Vivado HLS csynth.xml), 'yosys' (jpq2hw rtl)."""
    return (report.get("synthesis") or {}).get("hls")


def add_synthesis(out_dir: Path, report: dict) -> None:
    """Put the parsed OUT/hls csynth.xml into report['synthesis']['hls'] if synthesis has run (and it is not there)."""
    if hls_synthesis(report) is not None:
        return
    from jpq2hw.report.hls_synth import synthesis_for_report

    syn = synthesis_for_report(out_dir)
    if syn is not None:
        report.setdefault("synthesis", {})["hls"] = syn


def write_reports(out_dir: Path, report: dict) -> list[dict]:
    """report.json, report.md, report.html. Rendering a page is an optional late step: one that fails is left out
    and recorded in report['failed_steps'] (returned too), so report.json is always written, and last."""
    from jpq2hw.report.html_report import render_html

    out_dir = Path(out_dir)
    add_synthesis(out_dir, report)
    failed = []
    for name, render_page in (("report.md", render_markdown), ("report.html", render_html)):
        try:
            text = render_page(report)
        except Exception as exc:  # noqa: BLE001  (a page the templates cannot render must not lose the build)
            failed.append(failed_step(f"render {name}", exc))
            continue
        (out_dir / name).write_text(text)
    if failed:
        report.setdefault("failed_steps", []).extend(failed)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return failed


def failed_step(step: str, exc: BaseException) -> dict:
    """report.json's record of an optional step that failed: which, and why in one line."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return {"step": step, "error": f"{type(exc).__name__}: {text[:300]}{where}"}


def render_markdown(report: dict) -> str:
    from jpq2hw.report.html_report import synthesis_warning

    return render("report/report.md.j2", r=report, synth_rows=synthesis_vs_estimate(report),
                  synth_warning=synthesis_warning(report), yosys=yosys_beside_estimate(report))
