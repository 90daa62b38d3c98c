"""report.json (the machine-readable record of a build) and report.md (the same for a person)."""

from __future__ import annotations

import json
from pathlib import Path

from jpq2hw.annotate.quant_types import ModelAnalysis
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
            "accum_bits": l.accum_bits,
            "bops": l.bops,
        }
        for l in analysis.layers
    ]


def totals(rows: list[dict]) -> dict:
    t = {k: sum(r[k] for r in rows) for k in LAYER_KEYS}
    t["sparsity"] = round(1 - t["nonzero_params"] / t["params"], 6) if t["params"] else 0.0
    return t


def write_reports(out_dir: Path, report: dict) -> None:
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(render("report/report.md.j2", r=report))
