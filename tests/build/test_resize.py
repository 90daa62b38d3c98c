"""Nearest-neighbour upsampling (Resize, integer factors, as PyTorch's Upsample exports it with an empty RoI):
hls4ml's Resize layer in channels-last, exact in io_parallel and io_stream, with power-of-two or float scales."""

import numpy as np
import pytest
from onnx import helper

from jpq2hw.build import BuildOptions, run_build
from testkit.qonnx_builder import QonnxBuilder

pytestmark = pytest.mark.slow


def _upsampling_model(path, float_scale: bool):
    b = QonnxBuilder([1, 3, 6, 6], in_bits=6, in_signed=True, in_scale_exp=-3, seed=3)
    x = b.quant(b.relu(b.conv(b.x, 4, k=3, pad=1, bias=True)), 4, False, -2)
    roi, scales = b._const("roi", np.zeros((0,), np.float32)), b._const("scales", np.array([1, 1, 2, 2], np.float32))
    b.nodes.append(helper.make_node("Resize", [x, roi, scales], ["up"], name="upsample", mode="nearest",
                                    coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    b.shapes["up"] = [1, 4, 12, 12]
    y = b.quant(b.conv("up", 3, k=3, pad=1), 6, True, -2)
    m = b.build(y)
    if float_scale:  # a Brevitas-style float activation scale: integer codes and thresholds around the Resize
        q = next(n for n in m.graph.node if n.output[0] == x)
        m.set_initializer(q.input[1], np.array(0.37, dtype=np.float32))
    m.save(str(path))
    return path


@pytest.mark.parametrize("float_scale,io", [(False, "parallel"), (True, "stream")])
def test_nearest_upsampling_is_exact(tmp_path, float_scale, io):
    model = _upsampling_model(tmp_path / "up.onnx", float_scale)
    code, report = run_build(BuildOptions(model=model, out=tmp_path / "o", io=io, quiet=True, vectors=20))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    assert any("upsample" in name or "Resize" in name for name in report["hls_types"])
    out = np.load(tmp_path / "o" / "vectors" / "expected.npy")
    assert out.shape == (len(out), 3, 12, 12) and len(np.unique(out)) > 3
