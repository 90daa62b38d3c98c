"""HardSigmoid, the op added as one module (jpq2hw/ops/hard_sigmoid.py): streamlined into thresholds, the
hardware graph gives the float64 reference's codes on every input, clamped at both ends (seconds, no g++)."""

import numpy as np
from onnx import helper

from jpq2hw.ops import OPS
from jpq2hw.pipeline import analyze_file
from jpq2hw.verify.reference import Reference
from jpq2hw.verify.vectors import random_vectors
from testkit.qonnx_builder import QonnxBuilder


def _hard_sigmoid_model(path):
    """Dense (6-bit input, 4-bit weights) -> HardSigmoid(1/6, 0.5) as PyTorch exports it -> 4-bit unsigned Quant of
    scale 1/15 (codes 0..15 over [0, 1])."""
    b = QonnxBuilder([1, 6], in_bits=6, in_signed=True, in_scale_exp=-2, seed=3)
    x = b.dense(b.x, 4, wbits=4, w_scale_exp=-1)
    b.nodes.append(helper.make_node("HardSigmoid", [x], ["hsig"], name="hard_sigmoid", alpha=1 / 6, beta=0.5))
    b.shapes["hsig"] = b.shapes[x]
    y = b.quant("hsig", 4, False, 0)
    m = b.build(y)
    q = next(n for n in m.graph.node if n.output[0] == y)
    m.set_initializer(q.input[1], np.array(1 / 15, dtype=np.float32))
    m.save(str(path))
    return path


def test_hard_sigmoid_streamlines_to_the_reference_codes(tmp_path):
    from qonnx.core.onnx_exec import execute_onnx

    assert OPS["HardSigmoid"].streamline is not None
    state = analyze_file(_hard_sigmoid_model(tmp_path / "m.onnx"))
    hw, b = state.model, state.boundary
    assert not any(n.op_type == "HardSigmoid" for n in hw.graph.node)  # folded into the thresholds
    assert any(n.op_type == "Jpq2hwThreshold" for n in hw.graph.node)
    xs = random_vectors(state.input_quant, state.input_shape, 150, seed=2)
    expected = Reference(state.normalized.reference, 64, force_float64=True).run_batch(xs)
    name, out = hw.graph.input[0].name, hw.graph.output[0].name
    codes = np.stack([execute_onnx(hw, {name: x[None].astype(np.float32)})[out][0] for x in b.to_hardware(xs)])
    assert np.array_equal(codes, b.expected_codes(expected, codes))
    assert codes.min() == 0 and codes.max() == 15 and len(np.unique(codes)) > 8  # both clamps and the slope in between
    # the reference itself is the op's meaning: clip(x / 6 + 0.5, 0, 1) quantized to (float32) fifteenths
    ref, step = Reference(state.normalized.reference, 64, force_float64=True), float(np.float32(1 / 15))
    hsig = next(n for n in state.normalized.reference.graph.node if n.op_type == "HardSigmoid")
    for x, want in zip(xs[:8], expected[:8]):
        h = ref.run(x[None], tensors=[hsig.input[0]])[hsig.input[0]][0]
        y = np.clip(h * np.float64(np.float32(1 / 6)) + 0.5, 0, 1)
        assert np.array_equal(want, np.clip(np.round(y / step), 0, 15) * step)
