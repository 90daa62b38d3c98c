"""A build folder without the HLS half: what `jpq2hw rtl` reads (model_normalized.onnx, vectors/, report.json),
made from a QONNX model by the build's own steps (load, normalize, validate, annotate, vectors, reference)
without hls4ml or g++. For the RTL tests, where compiling the C++ would cost minutes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jpq2hw.costmodel import estimate_for_report
from jpq2hw.pipeline import analyze_file, steps
from jpq2hw.rtl.graph import read_network
from jpq2hw.verify.reference import Reference


def reference_folder(model_path: Path, out: Path, vectors: int = 20, board: str = "pynq-z2", seed: int = 0,
                     estimate: bool = True) -> Path:
    out = Path(out)
    (out / "vectors").mkdir(parents=True, exist_ok=True)
    state = analyze_file(model_path, board=board, vectors=vectors, seed=seed)
    steps.make_vectors(state)
    # no HLS types here: the reference's float32-or-float64 choice comes from the RTL's own widths
    net = read_network(state.model, state.source)
    state.max_accum_bits = max(l.out_range.to_type().width for l in net.layers)
    state.reference = Reference(state.normalized.reference, state.max_accum_bits)
    steps.reference(state)
    state.model.save(str(out / "model_normalized.onnx"))
    np.save(out / "vectors" / "inputs.npy", state.xs)
    np.save(out / "vectors" / "expected.npy", state.expected)
    report = {"model": str(model_path), "board": state.board.name, "part": state.board.part}
    if estimate:
        report["estimate"] = estimate_for_report(state.model, state.analysis, state.board)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return out
