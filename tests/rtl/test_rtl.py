"""RTL through da4ml: simulated bit for bit (iverilog) against onnxruntime, synthesized (Yosys)."""

import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import rtl_models
from jpq2hw.cli import main
from testkit import EXAMPLES
from testkit.rtl_folder import reference_folder

needs_tools = pytest.mark.needs_tools


def _folder(tmp_path, make, vectors=40, **kw):
    model = make(tmp_path / "model.onnx", **kw)
    return reference_folder(model, tmp_path / "build", vectors=vectors)


def _rtl(folder, *args):
    code = main(["rtl", str(folder), "-q", *args])
    report = json.loads((folder / "report.json").read_text())
    return code, report.get("synthesis", {}).get("yosys")


@needs_tools
@pytest.mark.parametrize("make", [rtl_models.sparse_mlp, rtl_models.signed_requant_mlp])
def test_sparse_mlp_rtl_bit_exact(tmp_path, make):
    folder = _folder(tmp_path, make, vectors=60)
    code, y = _rtl(folder, "--synth", "none")
    assert code == 0 and y["bit_exact"] and y["vectors"] == 60 and y["mismatched_vectors"] == 0
    assert y["interface"].startswith("parallel")
    assert (folder / "rtl" / "src" / "jpq2hw_top.v").is_file() and (folder / "rtl" / "run.sh").is_file()
    # the hand-written parts come from templates; da4ml's helpers are copied only if instantiated
    assert "templates/rtl/top_parallel.v.j2" in (folder / "rtl" / "src" / "jpq2hw_top.v").read_text()
    assert not (folder / "rtl" / "src" / "static" / "lookup_table.v").exists()
    # rtl/run.sh re-runs the simulation and compares with the proven outputs; a wrong expectation fails it
    import subprocess

    rerun = subprocess.run(["sh", str(folder / "rtl" / "run.sh")], capture_output=True, text=True)
    assert rerun.returncode == 0 and "bit-exact" in rerun.stdout, rerun.stdout + rerun.stderr
    proven = folder / "rtl" / "sim" / "expected.hex"
    words = proven.read_text().split()
    words[-1] = format(int(words[-1], 16) ^ 1, "x").zfill(len(words[-1]))
    proven.write_text("\n".join(words) + "\n")
    rerun = subprocess.run(["sh", str(folder / "rtl" / "run.sh")], capture_output=True, text=True)
    assert rerun.returncode == 1 and "differ" in rerun.stdout


@needs_tools
def test_conv_stream_rtl_bit_exact(tmp_path):
    """Line-buffer streaming wrapper: padding, stride 2, max-pool, flatten into a dense layer."""
    folder = _folder(tmp_path, rtl_models.small_cnn, vectors=25)
    code, y = _rtl(folder, "--synth", "none")
    assert code == 0 and y["bit_exact"] and y["vectors"] == 25
    assert y["interface"].startswith("stream") and y["sim_cycles"] > 25 * 36


@needs_tools
def test_shipped_example_rtl_bit_exact(tmp_path):
    folder = reference_folder(EXAMPLES / "digits" / "digits_cnn.onnx", tmp_path / "digits", vectors=8)
    code, y = _rtl(folder, "--synth", "none")
    assert code == 0 and y["bit_exact"] and y["vectors"] == 8
    kinds = [l["kind"] for l in y["layers"]]
    assert kinds == ["conv", "conv", "maxpool", "conv", "maxpool", "dense"]
    assert all(l["sparsity"] > 0.3 for l in y["layers"] if l["kind"] != "maxpool")


@needs_tools
def test_sabotaged_constant_fails(tmp_path, capsys):
    """One weight changed in the hardware graph after the reference ran: the RTL must differ, exit 1."""
    folder = _folder(tmp_path, rtl_models.sparse_mlp, vectors=40)
    path = folder / "model_normalized.onnx"
    m = onnx.load(str(path))
    quant_inputs = {n.input[0] for n in m.graph.node if n.op_type == "Quant"}
    init = next(i for i in m.graph.initializer if i.name in quant_inputs and len(i.dims) == 2)
    w = numpy_helper.to_array(init).copy()
    idx = np.unravel_index(np.argmax(np.abs(w)), w.shape)
    w[idx] = -w[idx]
    init.CopyFrom(numpy_helper.from_array(w, init.name))
    onnx.save(m, str(path))
    code = main(["rtl", str(folder), "--synth", "none"])
    y = json.loads((folder / "report.json").read_text())["synthesis"]["yosys"]
    assert code == 1 and not y["bit_exact"] and y["mismatched_vectors"] > 0 and y["max_abs_error"] > 0
    assert "NOT bit-exact" in capsys.readouterr().err


@needs_tools
def test_yosys_stats_and_luts_fall_with_sparsity(tmp_path):
    """The same 20x12 layer (4-bit weights, 8-bit inputs) at 0/60/95% sparsity: Yosys LUTs fall."""
    luts = []
    for s in (0.0, 0.6, 0.95):
        sub = tmp_path / f"s{int(s * 100)}"
        sub.mkdir()
        model = rtl_models.one_layer(sub / "m.onnx", 20, 12, s)
        folder = reference_folder(model, sub / "build", vectors=10)
        code, y = _rtl(folder, "--synth", "layers")
        assert code == 0 and y["bit_exact"]
        layer = y["layers"][0]
        for key in ("lut", "ff", "carry", "dsp", "bram", "logic_delay_ns", "synth_s"):
            assert key in layer
        assert layer["dsp"] == 0 and layer["bram"] == 0 and layer["ff"] == 0  # combinational shift-add
        assert layer["lut"] > 0 and layer["logic_delay_ns"] > 0
        assert y["tool"].startswith("Yosys") and y["family"] == "xc7"
        assert "estimate_lut" in layer and "estimate_error" in layer
        luts.append(layer["lut"])
    assert luts[0] > luts[1] > luts[2], luts


@needs_tools
def test_top_synthesis_for_ultrascale(tmp_path):
    folder = _folder(tmp_path, rtl_models.signed_requant_mlp, vectors=10)
    code = main(["rtl", str(folder), "-q", "--synth", "top", "--board", "zcu104"])
    y = json.loads((folder / "report.json").read_text())["synthesis"]["yosys"]
    assert code == 0 and y["family"] == "xcup" and y["top"]["lut"] > 0 and y["top"]["logic_delay_ns"] > 0
    assert (folder / "rtl" / "synth" / "jpq2hw_top_stat.json").is_file()


def test_missing_tools_one_line(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "b"
    folder.mkdir()
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda t, *a, **k: None if t in ("yosys", "iverilog") else real(t, *a, **k))
    code = main(["rtl", str(folder)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "apt-get install -y yosys iverilog" in err[0]


def test_not_a_build_folder(tmp_path, capsys):
    if any(shutil.which(t) is None for t in ("yosys", "iverilog", "vvp")):
        pytest.skip("needs yosys and iverilog")
    code = main(["rtl", str(tmp_path)])
    assert code == 2 and "not a jpq2hw build folder" in capsys.readouterr().err
