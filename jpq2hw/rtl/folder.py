"""A build folder without the HLS half: what `jpq2hw rtl` reads (model_normalized.onnx, vectors/, report.json),
made from a QONNX model by the build's own load/normalize/analyze/vectors/reference steps, without hls4ml or
g++. For the RTL tests and the sparsity benchmark, where compiling the C++ would cost minutes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def reference_folder(model_path: Path, out: Path, vectors: int = 20, board: str = "pynq-z2", seed: int = 0,
                     estimate: bool = True) -> Path:
    from jpq2hw import boards
    from jpq2hw.annotate.fixed import dot_range  # noqa: F401  (same exact arithmetic as the build)
    from jpq2hw.annotate.quant_types import analyze
    from jpq2hw.costmodel import estimate_for_report
    from jpq2hw.frontend.load import load_model
    from jpq2hw.normalize.passes import normalize
    from jpq2hw.rtl.graph import read_network
    from jpq2hw.verify import vectors as vec
    from jpq2hw.verify.reference import Reference

    out = Path(out)
    (out / "vectors").mkdir(parents=True, exist_ok=True)
    model = load_model(Path(model_path))
    normalized = normalize(model)
    hw = normalized.hardware
    analysis = analyze(hw, str(model_path))
    xs = vec.random_vectors(analysis.input_quant, analysis.input_shape[1:], vectors, seed)
    net = read_network(hw, str(model_path))
    widest = max(l.out_range.to_type().width for l in net.layers)
    expected = Reference(normalized.reference, widest).run_batch(xs)
    hw.save(str(out / "model_normalized.onnx"))
    np.save(out / "vectors" / "inputs.npy", xs)
    np.save(out / "vectors" / "expected.npy", expected)
    b = boards.load_board(board)
    report = {"model": str(model_path), "board": b.name, "part": b.part}
    if estimate:
        report["estimate"] = estimate_for_report(hw, analysis, b)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return out
