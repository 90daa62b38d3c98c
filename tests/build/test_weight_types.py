"""A constant is given the narrowest exact type: a 4-bit narrow weight of scale 2^-4 is fixed<4,0> (not the
fixed<5,1> that a rounded-from value needs), and the C-simulation stays bit-exact with it."""

import pytest

from jpq2hw.build import BuildOptions, run_build
from testkit.qonnx_builder import QonnxBuilder

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("io", ["parallel", "stream"])
def test_four_bit_narrow_weights_are_four_bits(tmp_path, io):
    b = QonnxBuilder([1, 2, 6, 6], in_bits=8, in_signed=False, in_scale_exp=-8, seed=3)
    x = b.conv(b.x, 4, k=3, stride=1, pad=1, wbits=4, w_scale_exp=-4, sparsity=0.3, bias=True)
    x = b.quant(b.relu(x), 6, signed=False, scale_exp=-4)
    x = b.dense(b.flatten(x), 5, wbits=4, w_scale_exp=-4, sparsity=0.5)
    path = tmp_path / "w4.onnx"
    b.save(x, path)
    code, report = run_build(BuildOptions(model=path, out=tmp_path / "out", io=io, vectors=30, quiet=True))
    assert code == 0 and report["bit_exact"] and report["max_abs_error"] == 0.0
    weight_types = {k: v["weight_t"] for k, v in report["hls_types"].items() if "weight_t" in v}
    assert len(weight_types) == 2 and all(t.startswith("fixed<4,0,") for t in weight_types.values()), weight_types
