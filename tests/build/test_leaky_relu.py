"""LeakyRelu between quantizers: a power-of-two slope stays a fixed-point LeakyReLU layer (the slope in its own
exact type); any other slope folds into the next quantizer's thresholds. Both are checked bit for bit."""

import numpy as np
import pytest

from jpq2hw.build import BuildOptions, run_build
from testkit.qonnx_builder import QonnxBuilder

pytestmark = pytest.mark.slow


def _model(tmp_path, alpha, io_shape, float_scale=False):
    b = QonnxBuilder(io_shape, in_bits=6, in_signed=True, in_scale_exp=-3, seed=3)
    x = b.conv(b.x, 4, k=3, pad=1, bias=True) if len(io_shape) == 4 else b.dense(b.x, 6, bias=True)
    x = b.quant(b.leaky_relu(x, alpha), 5, True, -3)
    y = b.conv(x, 3, k=1, pad=0) if len(io_shape) == 4 else b.dense(x, 3)
    y = b.quant(y, 6, True, -2)
    m = b.build(y)
    if float_scale:  # a Brevitas-style float scale on the activation quantizer
        q = next(n for n in m.graph.node if n.op_type == "Quant" and n.input[0].startswith("leaky"))
        m.set_initializer(q.input[1], np.array(0.1371, dtype=np.float32))
    p = tmp_path / "leaky.onnx"
    m.save(str(p))
    return p


@pytest.mark.parametrize("alpha,float_scale,shape", [
    (0.125, False, [1, 3, 6, 6]),  # power of two: fixed-point LeakyReLU layer
    (0.1015625, True, [1, 8]),     # 13/128 (the hls4ml example models' slope), float scale: thresholds
])
def test_leaky_relu_is_exact(tmp_path, alpha, float_scale, shape):
    code, report = run_build(BuildOptions(model=_model(tmp_path, alpha, shape, float_scale), out=tmp_path / "o",
                                          quiet=True, vectors=60))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    thresholds = any("thresholds" in name for name in report["hls_types"])
    assert thresholds == (alpha != 0.125 or float_scale)
    out = np.load(tmp_path / "o" / "vectors" / "expected.npy")
    assert len(np.unique(out)) > 3  # the vectors exercise the network, negative side included
