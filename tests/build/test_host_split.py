"""Float head and tail: they run on the host; the quantized core is hardware, checked bit for bit."""

import numpy as np
import pytest
from onnx import helper

from build.test_bad_input import assert_refused
from jpq2hw.build import BuildOptions, run_build
from jpq2hw.testing.qonnx_builder import QonnxBuilder


def head_core_tail_model(path, softmax_in_the_middle=False):
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=-4, seed=2)
    # head: (raw - 0.5) * 2 before the input quantizer
    b.nodes.insert(0, helper.make_node("Sub", ["raw", b._const("mean", np.float32(0.5))], ["centered"], name="sub_mean"))
    b.nodes.insert(1, helper.make_node("Mul", ["centered", b._const("k", np.float32(2.0))], ["x"], name="scale_in"))
    b.input, b.shapes["raw"] = "raw", [1, 16]
    x = b.dense(b.x, 12, wbits=4, sparsity=0.5)
    x = b.quant(b.relu(x), 4, False, -2)
    if softmax_in_the_middle:
        b.nodes.append(helper.make_node("Softmax", [x], ["mid"], name="mid_softmax", axis=-1))
        b.shapes["mid"] = b.shapes[x]
        x = b.quant("mid", 4, False, -4)
    x = b.quant(b.dense(x, 5, wbits=4, sparsity=0.5), 6, True, -2)
    b.nodes.append(helper.make_node("Softmax", [x], ["probs"], name="softmax", axis=-1))
    b.shapes["probs"] = [1, 5]
    b.save("probs", path)
    return path


@pytest.mark.slow
def test_head_and_tail_run_on_the_host(tmp_path):
    model = head_core_tail_model(tmp_path / "m.onnx")
    np.save(tmp_path / "raw.npy", np.random.default_rng(0).uniform(-2, 2, size=(5, 16)))
    code, report = run_build(BuildOptions(model=model, out=tmp_path / "o", quiet=True, vectors=50,
                                          input_data=tmp_path / "raw.npy"))
    assert code == 0 and report["bit_exact"] and report["vectors"] == 55
    where = {h["op"]: h["where"] for h in report["host_ops"]}
    assert "tail" in where["Softmax"] and "head" in where["Sub"] and "head" in where["Mul"]
    assert report["host_tail_max_abs_error"] is not None and report["host_tail_max_abs_error"] < 1e-6
    assert all("Softmax" not in name for name in report["hls_types"])  # not in the hardware


def test_float_op_inside_the_core_is_refused(tmp_path, capsys):
    model = head_core_tail_model(tmp_path / "m.onnx", softmax_in_the_middle=True)
    assert_refused(tmp_path, capsys, model, "Softmax", "host")
