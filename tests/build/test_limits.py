"""Resource bombs are refused before any heavy work, in one line naming the layer or tensor and the number, with
bounded memory; `--no-limits` lifts the limits. Each model sits just past one limit (jpq2hw/limits.py)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from jpq2hw import limits
from testkit.qonnx_builder import QUANT_DOMAIN, QonnxBuilder


def refuse(model, *extra, timeout=120):
    """Run `jpq2hw build` in a child that reports its own peak memory; (exit code, stderr, peak MiB, seconds)."""
    code = textwrap.dedent(f"""
        import json, resource, sys, time
        from jpq2hw.cli import main
        t = time.time()
        rc = main(["build", {str(model)!r}, "-o", {str(model.parent / 'out')!r}, "-q", *{list(extra)!r}])
        print(json.dumps([rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.time() - t]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    rc, peak_mib, seconds = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not (model.parent / "out").exists()
    return rc, proc.stderr.strip(), peak_mib, seconds


def activation_only(path, n_values):
    """x -> Quant -> Relu -> Quant: a few hundred bytes, any input size (the 50,000,000-value probe)."""
    b = QonnxBuilder([1, n_values], seed=0)
    b.save(b.quant(b.relu(b.x), 4, False, -2), path)
    return path


def test_a_50_million_value_input_is_refused_in_bounded_memory(tmp_path):
    model = activation_only(tmp_path / "wide.onnx", 50_000_000)
    assert model.stat().st_size < 1000
    rc, err, peak_mib, seconds = refuse(model)
    assert rc == 2 and "50,000,000 values per inference" in err and "--no-limits" in err, err
    assert len(err.splitlines()) == 1 and peak_mib < 1500, (peak_mib, seconds)  # its time: benchmarks/refusal_times.py


def test_vectors_that_would_not_fit_in_memory_are_refused(tmp_path):
    model = activation_only(tmp_path / "m.onnx", 1_000_000)
    rc, err, peak_mib, _ = refuse(model, "--vectors", "100")
    assert rc == 2 and "100 test vectors of 2,000,000 input and output values need 6.0 GiB" in err, err
    assert peak_mib < 1500


def test_a_long_chain_is_refused_before_normalizing(tmp_path):
    n = limits.MAX_NODES + 1
    inits = [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in (("s", 0.25), ("z", 0.0), ("b", 4.0))]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["t0"], domain=QUANT_DOMAIN, signed=1, narrow=0,
                              rounding_mode="ROUND", name="q")]
    nodes += [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"r{i}") for i in range(n - 1)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(f"t{n - 1}", TensorProto.FLOAT, [1, 4])], inits)
    model = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QUANT_DOMAIN, 1)]),
              str(model))
    rc, err, _, seconds = refuse(model)
    assert rc == 2 and f"{n:,} nodes" in err and seconds < 30, (err, seconds)


def test_a_layer_no_board_can_hold_is_refused(tmp_path):
    b = QonnxBuilder([1, 2048], seed=0)  # 2048 x 2048 weights of 16 bits: 67 Mbit, more than a ZCU104 holds
    b.save(b.quant(b.dense(b.x, 2048, wbits=16, w_scale_exp=-12), 8, True, -2), tmp_path / "big.onnx")
    rc, err, _, _ = refuse(tmp_path / "big.onnx", timeout=300)
    assert rc == 2 and "can hold at all" in err and "zcu104" in err and "MatMul" in err, err


def test_too_many_weights_for_g_plus_plus_are_refused(tmp_path):
    b = QonnxBuilder([1, 2900], seed=0)  # 2-bit: fits a board's storage, but 8,410,000 > 2^23 C++ constants
    b.save(b.quant(b.dense(b.x, 2900, wbits=2, w_scale_exp=-1), 8, True, -2), tmp_path / "wide.onnx")
    rc, err, _, _ = refuse(tmp_path / "wide.onnx", timeout=300)
    assert rc == 2 and "8,410,000 weights" in err and "C++ constants" in err, err


def test_a_c_simulation_that_would_not_finish_is_refused(tmp_path):
    b = QonnxBuilder([1, 3, 72, 72], seed=0)
    b.save(b.quant(b.conv(b.x, 8, k=3, pad=1), 8, True, -2), tmp_path / "conv.onnx")
    rc, err, _, _ = refuse(tmp_path / "conv.onnx", "--vectors", "10000")
    assert rc == 2 and "multiply-accumulates" in err and "fewer --vectors" in err, err


@pytest.mark.slow
def test_no_limits_lifts_them(tmp_path, monkeypatch):
    from jpq2hw.cli import main

    b = QonnxBuilder([1, 4], seed=0)
    b.save(b.dense(b.x, 3), tmp_path / "tiny.onnx")
    monkeypatch.setattr(limits, "MAX_NODES", 2)
    assert main(["build", str(tmp_path / "tiny.onnx"), "-o", str(tmp_path / "a"), "-q"]) == 2
    assert main(["build", str(tmp_path / "tiny.onnx"), "-o", str(tmp_path / "b"), "-q", "--vectors", "3",
                 "--no-limits"]) == 0
