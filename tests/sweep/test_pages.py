"""front.md / front.html / sweep.json from records: the front's rows, the plot's points, escaping, the models."""

import json
import re
from pathlib import Path

from jpq2hw.sweep.pages import write_pages
from jpq2hw.sweep.spec import parse_spec

ENTRY = str(Path(__file__).with_name("tiny_entry.py")) + ":make"
EVIL = "<script>x</script>|`"


def records(tmp_path):
    def rec(tid, method, s, metric, lut, status="ok"):
        model = tmp_path / f"{tid}.onnx"
        model.write_bytes(tid.encode())
        if status != "ok":  # a failed trial's record has no results
            return {"trial_id": tid, "point": {"method": method, "target_sparsity": s}, "status": status,
                    "reason": f"bad {EVIL}\nsecond line", "seconds": {}}
        return {"trial_id": tid, "point": {"method": method, "target_sparsity": s}, "status": status,
                "reason": None, "metric": metric, "weight_memory_bits": lut * 3, "bops": lut * 100, "lut": lut,
                "sparsity": s, "budget_epochs": 20, "model": str(model), "seconds": {"compress": 1.0, "build": 2.0}}

    return [rec("t0", "joint", 0.9, 0.97, 1000), rec("t1", "quantize_then_prune", 0.9, 0.95, 1100),
            rec("t2", "joint", 0.98, 0.90, 200), rec("t3", "quantize_then_prune", 0.98, None, None, "failed")]


def test_pages(tmp_path):
    spec = parse_spec({"entry": ENTRY, "output": "out", "grid": {"method": ["joint", "quantize_then_prune"],
                                                                  "target_sparsity": [0.9, 0.98]}},
                      tmp_path / "sweep.yaml")
    runs = [{"wall_s": 100.0, "load_start": "1.0 / 1.0 / 1.0", "load_end": "2.0 / 1.5 / 1.0", "cpus": 2,
             "address": "local"}]
    ctx = write_pages(spec, records(tmp_path), runs=runs)
    out = spec.output
    assert [r["trial_id"] for r in ctx["front"]] == ["t0", "t2"]  # t1 is worse and dearer than t0
    # the front's models, copied by trial id; no other
    assert sorted(p.name for p in (out / "front").iterdir()) == ["t0.onnx", "t2.onnx"]
    assert (out / "front" / "t2.onnx").read_bytes() == b"t2"
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["front"] == ["t0", "t2"] and summary["counts"] == {"ok": 3, "not_exact": 0, "failed": 1}
    md = (out / "front.md").read_text()
    front_section = md.split("## Pareto front")[1].split("##")[0]
    assert "| t0 |" in front_section and "| t2 |" in front_section and "t1" not in front_section
    assert "<script>" not in md and not any(line.startswith("second line") for line in md.splitlines())
    html = (out / "front.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    # one plot per hardware objective, a point per bit-exact trial, the front's outlined
    assert html.count('<svg class="chart"') == 3
    dots = re.findall(r'<circle [^>]*class="dot( front)?"', html)
    assert len(dots) == 9 and sum(bool(d) for d in dots) >= 2 * 3
    assert "joint compared" not in html and "method compared at equal budget" in html
