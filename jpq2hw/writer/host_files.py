"""What the board's driver runs around the core (OUT/board/driver/host/): the float head and tail as ONNX files
for onnxruntime, and host.json with the input quantizer and, for float scales, the output's affine map.

The driver (templates/deploy/driver.py.j2 + host_side.py) reads them to turn raw inputs into the core's input
words and the core's output words into the model's outputs, exactly as the build's check did."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from jpq2hw.annotate.quant_types import QuantSpec
from jpq2hw.writer.board_files import BOARD_SUBDIR

HOST_SUBDIR = "driver/host"


def host_spec(normalized, in_q: QuantSpec) -> dict:
    host = normalized.host
    ref = normalized.reference
    return {
        "input": {"scale": float(in_q.scale), "bits": int(in_q.bits), "signed": bool(in_q.signed),
                  "narrow": bool(in_q.narrow), "rounding": in_q.rounding},
        # float scales: the core takes the input Quant's integer codes and returns integer codes
        "core_takes_codes": host is not None,
        "output_affine": None if host is None else {
            "alpha": [float(a) for a in host.output_alpha], "beta": [float(b) for b in host.output_beta],
            "relu": bool(host.output_relu)},
        "core_output_shape": [int(d) for d in ref.get_tensor_shape(ref.graph.output[0].name)[1:]],
        "head": "head.onnx" if normalized.head is not None else None,
        "tail": "tail.onnx" if normalized.tail is not None else None,
    }


def write_host_files(out: Path, normalized, in_q: QuantSpec) -> list[Path]:
    target = Path(out) / BOARD_SUBDIR / HOST_SUBDIR
    target.mkdir(parents=True, exist_ok=True)
    spec = host_spec(normalized, in_q)
    written = [target / "host.json"]
    written[0].write_text(json.dumps(spec, indent=1) + "\n")
    for part, name in ((normalized.head, spec["head"]), (normalized.tail, spec["tail"])):
        if part is not None:
            onnx.save(part.model, str(target / name))
            written.append(target / name)
    return written
