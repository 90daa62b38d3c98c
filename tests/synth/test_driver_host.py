"""The board driver's host side: a model with a float head (input scaling), float (non power-of-two) scales
and a distance-head tail. Off the board, with the core stood in by the build's own proven vectors, the driver's
host side must feed the core exactly the codes the build checked, and end at the model's outputs."""

import json

import numpy as np
import pytest
from onnx import TensorProto, helper

from jpq2hw.build import BuildOptions, run_build
from testkit.qonnx_builder import QonnxBuilder
from synth.test_driver import fake_pynq, load_driver

pytestmark = pytest.mark.slow


def head_float_core_distance_tail(path):
    b = QonnxBuilder([1, 12], in_bits=8, in_signed=True, in_scale_exp=-4, seed=7)
    b.nodes.insert(0, helper.make_node("Mul", ["raw", b._const("gain", np.float32(1.5))], ["x"], name="input_gain"))
    b.input, b.shapes["raw"] = "raw", [1, 12]
    x = b.quant(b.relu(b.dense(b.x, 10, wbits=4, sparsity=0.4)), 4, False, -2)
    emb = b.quant(b.dense(x, 6, wbits=4, sparsity=0.4), 6, True, -2)
    b.inits.append(helper.make_tensor("ax1", TensorProto.INT64, [1], [1]))
    b.inits.append(helper.make_tensor("ax2", TensorProto.INT64, [1], [2]))
    b.nodes += [
        helper.make_node("Unsqueeze", [emb, "ax1"], ["e3"], name="unsqueeze_emb"),
        helper.make_node("Sub", ["e3", b._const("protos", b.rng.normal(size=[3, 6]).astype(np.float32))], ["diff"],
                         name="sub_protos"),
        helper.make_node("Mul", ["diff", "diff"], ["sq"], name="square"),
        helper.make_node("ReduceSum", ["sq", "ax2"], ["d3"], name="reduce_sum", keepdims=1),
        helper.make_node("Squeeze", ["d3", "ax2"], ["dist"], name="squeeze_dist"),
    ]
    b.shapes["dist"] = [1, 3]
    m = b.build("dist")
    quants = [n for n in m.graph.node if n.op_type == "Quant"]
    m.set_initializer(next(q for q in quants if q.input[0] == "x").input[1], np.array(0.093, dtype=np.float32))
    m.set_initializer(next(q for q in quants if q.output[0] == emb).input[1], np.array(0.31, dtype=np.float32))
    m.save(str(path))
    return path


@pytest.fixture(scope="module")
def built_host(tmp_path_factory):
    root = tmp_path_factory.mktemp("driver_host")
    model = head_float_core_distance_tail(root / "m.onnx")
    raw = np.random.default_rng(3).normal(scale=4.0, size=(6, 12))
    np.save(root / "raw.npy", raw)
    code, report = run_build(BuildOptions(model=model, out=root / "out", vectors=20, quiet=True,
                                          input_data=root / "raw.npy"))
    assert code == 0 and report["bit_exact"], report["mismatched_vectors"]
    return root, report


def test_host_files_say_what_runs_around_the_core(built_host):
    root, report = built_host
    host = root / "out" / "board" / "driver" / "host"
    spec = json.loads((host / "host.json").read_text())
    assert spec["core_takes_codes"] and spec["input"]["bits"] == 8 and spec["input"]["scale"] == pytest.approx(0.093)
    assert spec["head"] == "head.onnx" and spec["tail"] == "tail.onnx" and spec["core_output_shape"] == [6]
    assert (host / "head.onnx").is_file() and (host / "tail.onnx").is_file()
    ops = {h["op"] for h in report["host_ops"]}
    assert {"Mul", "ReduceSum", "Squeeze"} <= ops


def test_driver_runs_raw_inputs_end_to_end(built_host, monkeypatch):
    root, report = built_host
    out = root / "out"
    driver = load_driver(out, monkeypatch)
    hw_in, hw_out = np.load(out / "vectors" / "hw_inputs.npy"), np.load(out / "vectors" / "hw_outputs.npy")
    raw = np.load(root / "raw.npy")
    spec = driver.load_host(str(out / "board" / "driver" / "host"))
    # the head and the input quantizer give the very codes the build fed the C++ for these inputs
    assert np.array_equal(driver.host_before(spec, raw), hw_in[-len(raw):])
    proven = {hw_in[i].tobytes(): hw_out[i] for i in range(len(hw_in))}
    core = lambda x: np.stack([proven[np.asarray(v, dtype=np.float64).tobytes()] for v in x])  # noqa: E731
    y = driver.predict_model(core, raw, str(out / "board" / "driver" / "host"))
    # the whole original model in float64 (qonnx), head and tail included
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.normalize.host_split import within_tolerance
    from jpq2hw.verify.reference import Reference

    whole = Reference(ModelWrapper(str(root / "m.onnx")), 64, force_float64=True).run_batch(raw)
    assert y.shape == whole.shape == (len(raw), 3) and within_tolerance(y, whole)
    assert not within_tolerance(y + 1e-3, whole)


def test_driver_checks_the_integer_core_on_its_own_codes(built_host, monkeypatch, capsys):
    """With float scales the core's words are codes: the check streams hw_inputs.npy and expects hw_outputs.npy."""
    out = built_host[0] / "out"
    plain = load_driver(out, monkeypatch)
    x, y = plain.load_vectors(str(out / "vectors"))
    assert np.array_equal(y, np.load(out / "vectors" / "hw_outputs.npy"))
    lookup = {bytes(w.tobytes()): e for w, e in zip(plain.pack_inputs(x), plain.expected_words(y))}
    driver = load_driver(out, monkeypatch, fake_pynq(lookup))
    assert driver.main(["--vectors", str(out / "vectors"), "--bit", "x.bit"]) == 0
    assert f"{len(x)} vectors, bit-exact" in capsys.readouterr().out


def test_predict_on_the_saved_vectors_reproduces_expected(built_host, monkeypatch):
    """With a float head, vectors/inputs.npy holds raw inputs (before the head) and expected.npy the model's
    outputs for them: the driver's --predict, which runs the head itself, gives expected.npy back (the head is
    applied once, not twice)."""
    from jpq2hw.normalize.host_split import within_tolerance

    root, report = built_host
    out = root / "out"
    driver = load_driver(out, monkeypatch)
    hw_in, hw_out = np.load(out / "vectors" / "hw_inputs.npy"), np.load(out / "vectors" / "hw_outputs.npy")
    inputs, expected = np.load(out / "vectors" / "inputs.npy"), np.load(out / "vectors" / "expected.npy")
    assert np.array_equal(inputs[-6:], np.load(root / "raw.npy"))  # the user's raw inputs, as given
    host = str(out / "board" / "driver" / "host")
    spec = driver.load_host(host)
    assert np.array_equal(driver.host_before(spec, inputs), hw_in)  # the head runs once, on the saved inputs
    proven = {hw_in[i].tobytes(): hw_out[i] for i in range(len(hw_in))}
    core = lambda x: np.stack([proven[np.asarray(v, dtype=np.float64).tobytes()] for v in x])  # noqa: E731
    y = driver.predict_model(core, inputs, host)
    assert y.shape == expected.shape == (len(inputs), 3)
    assert within_tolerance(y, expected) and np.array_equal(y.argmin(axis=1), expected.argmin(axis=1))
    np.save(root / "x.npy", inputs)  # the command line does the same
    monkeypatch.setattr(driver, "Core", lambda bit: type("C", (), {"predict": staticmethod(core)})())
    assert driver.main(["--predict", str(root / "x.npy"), "--save", str(root / "y.npy"), "--bit", "x.bit"]) == 0
    assert within_tolerance(np.load(root / "y.npy"), expected)
