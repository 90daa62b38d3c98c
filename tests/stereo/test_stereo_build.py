"""`jpq2hw build` of stereo networks is bit-exact against onnxruntime: the shipped example (io_stream, real
synthetic stereo pairs plus random vectors) and a tiny net in both io types (the cost volume and argmax custom
layers have an io_parallel and an io_stream C++ version each)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "stereo"


def _build(model, out, *extra):
    return subprocess.run([sys.executable, "-m", "jpq2hw.cli", "build", "--board", "pynq-z2", str(model), "-o", str(out),
                           "-q", *extra], capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_shipped_stereo_model_is_bit_exact_on_real_pairs(shipped_stereo_build):
    pairs = np.load(EXAMPLE / "test_pairs.npy")
    assert pairs.ndim == 4 and pairs.shape[1] == 2 and len(pairs) >= 4
    assert 0.0 <= pairs.min() and pairs.max() <= 1.0 and pairs.std() > 0.05  # real images, not constants
    run, out = shipped_stereo_build  # 96 random vectors + the real pairs (conftest.py)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"] is True
    assert report["vectors"] >= 100
    assert report["mismatched_vectors"] == 0
    assert report["axis_wrapper"] == "bit-exact"
    assert report["io_type"] == "io_stream"  # --io auto: the feature maps are large
    expected = np.load(out / "vectors" / "expected.npy")
    assert len(np.unique(expected[-len(pairs):])) > 3  # the real pairs give real disparity maps
    # the numpy emulator computed the same bits as the C++ on every simulated vector, and saved its program
    assert report["emulator"]["status"] == "agrees" and report["emulator"]["vectors"] == report["vectors"]
    assert (out / "emulator" / "program.json").is_file()


@pytest.mark.slow
def test_saved_emulator_reproduces_the_build_outputs(shipped_stereo_build):
    """OUT/emulator/ alone (no hls4ml, no g++) gives the C-simulation's outputs on the build's vectors."""
    from jpq2hw.emulate.program import Program
    from jpq2hw.emulate.run import run as emulate

    _, out = shipped_stereo_build
    program = Program.load(out / "emulator")
    x = np.load(out / "vectors" / "inputs.npy")
    expected = np.load(out / "vectors" / "expected.npy")  # proven equal to the C-simulation's outputs
    got = emulate(program, x.reshape(len(x), -1))
    assert np.array_equal(got.reshape(len(x), -1), expected.reshape(len(x), -1))


@pytest.mark.slow
def test_predict_hw_gives_the_model_disparity(shipped_stereo_build, tmp_path):
    """predict.py --hw OUT (the build's emulator) on a frame-size pair: the same map as the model itself."""
    from PIL import Image

    _, out = shipped_stereo_build
    pair = np.load(EXAMPLE / "test_pairs.npy")[0]
    for k, view in zip(("left", "right"), pair):
        Image.fromarray((view * 255).round().astype(np.uint8)).save(tmp_path / f"{k}.png")
    maps = {}
    for name, source in (("hw", ["--hw", str(out)]), ("model", ["--model", str(EXAMPLE / "stereo.onnx")])):
        run = subprocess.run([sys.executable, str(EXAMPLE / "predict.py"), str(tmp_path / "left.png"),
                              str(tmp_path / "right.png"), "-o", str(tmp_path / f"{name}.png"), "--scale", "1",
                              "--raw", str(tmp_path / f"{name}.npy"), *source], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        maps[name] = np.load(tmp_path / f"{name}.npy")
    assert maps["hw"].shape == pair.shape[1:] and np.array_equal(maps["hw"], maps["model"])
    assert len(np.unique(maps["hw"])) > 3


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A briefly trained, 90%-sparse 4-bit stereo net on 4x12 images, D = 4 (io_parallel compiles in about a minute)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("stereo_example_build", EXAMPLE / "stereo.py")
    S = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(S)
    from jpq2hw.compress import CompressConfig, compress, to_qonnx
    from jpq2hw.data.stereo import StereoConfig, make_split

    torch.manual_seed(0)
    data = make_split("train", 32, StereoConfig(height=4, width=12, max_disp=4))
    x, y = torch.tensor(data["image"]), torch.tensor(data["disparity"])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True)
    cfg = CompressConfig.for_method("joint", target_sparsity=0.9, weight_bits=4, prune_steps=1, epochs_per_step=1,
                                    qat_epochs=1, pretrain_epochs=1)
    model, _ = compress(S.StereoNet(4, 4, 4), loader, None, cfg, loss_fn=S.soft_bin_loss)
    path = tmp_path_factory.mktemp("tiny") / "tiny_stereo.onnx"
    to_qonnx(model, x[:1], path)
    np.save(path.parent / "pairs.npy", x[:4].numpy())
    return path


@pytest.mark.slow
@pytest.mark.parametrize("io", ["parallel", "stream"])
def test_tiny_stereo_bit_exact_in_both_io_types(tiny_model, tmp_path, io):
    out = tmp_path / f"tiny_{io}"
    run = _build(tiny_model, out, "--io", io, "--vectors", "20", "--input-data", str(tiny_model.parent / "pairs.npy"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"] is True and report["io_type"] == f"io_{io}"
    assert report["axis_wrapper"] == "bit-exact"
    firmware = "".join(p.read_text() for p in (out / "hls" / "firmware").glob("*.cpp"))
    assert "stereo_cost_volume" in firmware and "stereo_argmax" in firmware
