"""A graph input annotated finn_datatype BIPOLAR (FINN's +1/-1 bits, no Quant node on it): normalization puts a
BipolarQuant of scale 1 there, which passes +1/-1 unchanged; the hardware graph gives the reference's codes."""

import numpy as np
import onnx

from jpq2hw.pipeline import analyze_file
from jpq2hw.verify.reference import Reference
from jpq2hw.verify.vectors import random_vectors
from testkit.qonnx_builder import QonnxBuilder


def bipolar_input_mlp(path):
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=0, seed=7)
    first = b.nodes.pop(0)  # no input Quant: the graph input itself is BIPOLAR
    b.inits = [i for i in b.inits if i.name not in first.input]
    b.x = "x"
    x = b.quant(b.relu(b.dense(b.x, 12, wbits=4, w_scale_exp=-3)), 4, signed=False, scale_exp=-1)
    model = b.build(b.dense(x, 6, wbits=4)).model
    ann = onnx.TensorAnnotation(tensor_name="x")
    ann.quant_parameter_tensor_names.add(key="finn_datatype", value="BIPOLAR")
    model.graph.quantization_annotation.append(ann)
    onnx.save(model, str(path))
    return path


def test_bipolar_input_builds_from_plus_minus_one(tmp_path):
    from qonnx.core.onnx_exec import execute_onnx

    state = analyze_file(bipolar_input_mlp(tmp_path / "m.onnx"))
    q = state.input_quant
    assert (q.bits, q.signed, q.scale) == (1, True, 1.0)
    xs = random_vectors(q, state.input_shape, 30, seed=2)
    assert set(np.unique(xs)) == {-1.0, 1.0}
    expected = Reference(state.normalized.reference, 64, force_float64=True).run_batch(xs)
    hw, b = state.model, state.boundary
    name, out = hw.graph.input[0].name, hw.graph.output[0].name
    got = np.stack([execute_onnx(hw, {name: x[None].astype(np.float32)})[out][0] for x in b.to_hardware(xs)])
    assert np.array_equal(got, b.expected_codes(expected, got)) and len(np.unique(got)) > 4
