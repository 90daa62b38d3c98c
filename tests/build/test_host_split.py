"""Float head and tail: they run on the host; the quantized core is hardware, checked bit for bit."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from build.test_bad_input import assert_refused
from jpq2hw.build import BuildOptions, run_build
from testkit.qonnx_builder import QonnxBuilder


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


def distance_model(path, reduce_in_the_middle=False):
    """A quantized embedding MLP, then a distance head: squared distance of the embedding to 4 prototypes
    (Unsqueeze, Sub, Mul(d, d), ReduceSum, Squeeze). With reduce_in_the_middle, the distances feed a quantized
    layer again, so the ReduceSum sits inside the hardware part."""
    b = QonnxBuilder([1, 12], in_bits=8, in_signed=True, in_scale_exp=-4, seed=5)
    x = b.quant(b.relu(b.dense(b.x, 10, wbits=4, sparsity=0.4)), 4, False, -2)
    x = b.quant(b.dense(x, 6, wbits=4, sparsity=0.4), 6, True, -2)
    b.inits.append(helper.make_tensor("ax1", TensorProto.INT64, [1], [1]))
    b.inits.append(helper.make_tensor("ax2", TensorProto.INT64, [1], [2]))
    protos = b._const("protos", b.rng.normal(size=[4, 6]).astype(np.float32))
    b.nodes += [
        helper.make_node("Unsqueeze", [x, "ax1"], ["e3"], name="unsqueeze_emb"),
        helper.make_node("Sub", ["e3", protos], ["diff"], name="sub_protos"),
        helper.make_node("Mul", ["diff", "diff"], ["sq"], name="square"),
        helper.make_node("ReduceSum", ["sq", "ax2"], ["d3"], name="reduce_sum", keepdims=1),
        helper.make_node("Squeeze", ["d3", "ax2"], ["dist"], name="squeeze_dist"),
    ]
    b.shapes["dist"] = [1, 4]
    if reduce_in_the_middle:
        b.save(b.quant(b.dense(b.quant("dist", 8, False, -2), 3, wbits=4), 8, True, -2), path)
    else:
        b.save("dist", path)
    return path


def test_distance_head_is_split_off_whole(tmp_path):
    """normalize: the core ends at the embedding quantizer, the host tail holds the five distance ops, and
    core + tail compute what the whole model computes (the square's repeated input survives qonnx's cleanup)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.normalize.passes import normalize

    model = distance_model(tmp_path / "d.onnx")
    norm = normalize(ModelWrapper(str(model)), "d.onnx")
    assert [n.op_type for n in norm.tail.model.graph.node] == ["Unsqueeze", "Sub", "Mul", "ReduceSum", "Squeeze"]
    square = norm.tail.model.graph.node[2]
    assert square.input[0] == square.input[1]  # Mul(d, d), not a dangling second input
    assert norm.reference.graph.node[-1].op_type == "Quant"
    from jpq2hw.verify.reference import Reference

    xs = np.random.default_rng(1).integers(-128, 128, size=(20, 1, 12)).astype(np.float32) / 16
    whole = Reference(norm.full_reference, 0).run_batch(xs[:, 0])
    core = Reference(norm.reference, 0).run_batch(xs[:, 0])
    assert np.array_equal(norm.tail.run(core), whole)
    assert not np.allclose(whole, 0)


@pytest.mark.slow
def test_distance_head_builds_with_the_tail_on_the_host(tmp_path):
    code, report = run_build(BuildOptions(model=distance_model(tmp_path / "d.onnx"), out=tmp_path / "o",
                                          quiet=True, vectors=40))
    assert code == 0 and report["bit_exact"] and report["host_tail_within_tolerance"]
    assert [h["op"] for h in report["host_ops"]] == ["Unsqueeze", "Sub", "Mul", "ReduceSum", "Squeeze"]
    md = (tmp_path / "o" / "report.md").read_text()
    assert "## What runs where" in md and "| ReduceSum |" in md


@pytest.mark.slow
def test_host_tail_outside_tolerance_fails_the_build(tmp_path, monkeypatch):
    """The host tail's check can fail: a tail that is off by 1e-3 gives exit 1, while the hardware part stays
    bit-exact."""
    from jpq2hw.normalize.host_split import HostPart

    real_run = HostPart.run
    monkeypatch.setattr(HostPart, "run", lambda self, xs: real_run(self, xs) + 1e-3)
    code, report = run_build(BuildOptions(model=distance_model(tmp_path / "d.onnx"), out=tmp_path / "o",
                                          quiet=True, vectors=20))
    assert code == 1 and report["bit_exact"] and not report["host_tail_within_tolerance"]
    assert report["host_tail_max_abs_error"] >= 1e-3 * 0.99


def test_distance_op_inside_the_hardware_is_refused(tmp_path, capsys):
    model = distance_model(tmp_path / "d.onnx", reduce_in_the_middle=True)
    assert_refused(tmp_path, capsys, model, "Unsqueeze", "host tail")
