"""The threshold node runs in qonnx's executor (for layer tracing) exactly as the requantization it replaces:
the streamlined integer graph, executed node by node, gives the codes of the original float-scale graph."""

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from jpq2hw import extensions
from jpq2hw.annotate.quant_types import input_quant
from jpq2hw.normalize.passes import normalize
from jpq2hw.verify.reference import Reference
from jpq2hw.verify.vectors import random_vectors


@pytest.mark.parametrize("kind", ["brevitas_float_mlp", "brevitas_binary_mlp"])
def test_streamlined_graph_executes_to_the_reference_codes(model_file, kind):
    extensions.register_all()  # the threshold node's qonnx op
    norm = normalize(ModelWrapper(str(model_file(kind))), kind)
    hw, host = norm.hardware, norm.host
    assert any(n.op_type == "Jpq2hwThreshold" for n in hw.graph.node)
    q = input_quant(norm.reference, kind)
    shape = list(norm.reference.get_tensor_shape(norm.reference.graph.input[0].name)[1:])
    xs = random_vectors(q, shape, 30, seed=2)
    expected = Reference(norm.reference, 64, force_float64=True).run_batch(xs)
    name = hw.graph.input[0].name
    codes = np.stack([execute_onnx(hw, {name: (x / host.input_scale)[None].astype(np.float32)})[hw.graph.output[0].name][0]
                      for x in xs]).astype(np.float64)
    assert np.array_equal(codes, host.reference_codes(expected, codes))
    assert len(np.unique(codes)) > 1


def test_add_of_a_plain_quantizer_and_thresholds_is_in_one_unit(tmp_path):
    """Streamlined (a Clip forces it): a branch whose requantization is a power-of-two step would stay a plain
    Quant in the units of its accumulator, the other branch gives threshold codes; an add needs both in the
    same units, so the first becomes thresholds too, and the result equals the reference."""
    from testkit.qonnx_builder import QonnxBuilder

    b = QonnxBuilder([1, 12], in_bits=6, in_signed=True, in_scale_exp=-3, seed=4)
    plain = b.quant(b.dense(b.x, 8, wbits=4, w_scale_exp=-3, sparsity=0.2), 6, True, -2)
    clipped = b.quant(b.clip(b.dense(b.x, 8, wbits=4, w_scale_exp=-3, sparsity=0.2), -1.0, 0.75), 6, True, -2)
    y = b.dense(b.quant(b.add(plain, clipped), 7, True, -2), 4, wbits=4, sparsity=0.2)
    b.save(y, tmp_path / "m.onnx")
    norm = normalize(ModelWrapper(str(tmp_path / "m.onnx")), "m")
    hw, host = norm.hardware, norm.host
    assert sum(n.op_type == "Jpq2hwThreshold" for n in hw.graph.node) == 2  # both branches
    q = input_quant(norm.reference, "m")
    xs = random_vectors(q, [12], 40, seed=3)
    expected = Reference(norm.reference, 64, force_float64=True).run_batch(xs)
    name = hw.graph.input[0].name
    codes = np.stack([execute_onnx(hw, {name: (x / host.input_scale)[None].astype(np.float32)})[hw.graph.output[0].name][0]
                      for x in xs]).astype(np.float64)
    assert np.array_equal(codes, host.reference_codes(expected, codes))
    assert len(np.unique(codes)) > 3
