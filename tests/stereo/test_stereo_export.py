"""The stereo network's QONNX export: onnxruntime (the build's reference) computes exactly what the torch
quantized model computes, on real synthetic stereo pairs; the pattern pass absorbs the cost volume and the
argmax into single nodes whose numpy semantics equal the reference's."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from jpq2hw.compress import CompressConfig, compress, to_qonnx
from jpq2hw.compress.stereo import cost_volume

ROOT = Path(__file__).resolve().parents[2]


def _load_example():
    import importlib.util

    spec = importlib.util.spec_from_file_location("stereo_example", ROOT / "examples" / "stereo" / "stereo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stereo_example"] = module
    spec.loader.exec_module(module)
    return module


S = _load_example()


@pytest.fixture(scope="module")
def small_compressed(tmp_path_factory):
    """A briefly trained, 90%-sparse, 4-bit stereo net (seconds, not the example's minutes)."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y, _ = S.tensors("train", 32)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True)
    cfg = CompressConfig.for_method("joint", target_sparsity=0.9, weight_bits=4, prune_steps=1, epochs_per_step=1,
                                    qat_epochs=1, pretrain_epochs=1, lr=5e-3)  # lr: leave the constant map
    model, _ = compress(S.StereoNet(), loader, None, cfg, loss_fn=S.soft_bin_loss)
    path = tmp_path_factory.mktemp("stereo") / "stereo_small.onnx"
    to_qonnx(model, x[:1], path)
    return model, path


def test_cost_volume_definition():
    x = torch.randn(2, 6, 4, 7)
    out = cost_volume(x, 5)
    for d in range(5):
        for col in range(7):
            want = (x[:, :3, :, col] * x[:, 3:, :, col - d]).sum(1) if col >= d else torch.zeros(2, 4)
            assert torch.allclose(out[:, d, :, col], want, atol=1e-6)


def test_onnxruntime_equals_torch_quantized(small_compressed):
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.verify.reference import Reference

    model, path = small_compressed
    images, _, _ = S.tensors("test", 8)
    model.eval()
    with torch.no_grad():
        want = model(images).numpy()
    ref = Reference(ModelWrapper(str(path)), max_accum_bits=20)
    assert ref.kind == "onnxruntime-qcdq-float32"
    got = ref.run_batch(images.numpy())
    assert got.shape == want.shape == (8, 1, S.HEIGHT, S.WIDTH)
    assert np.array_equal(got, want)
    assert len(np.unique(want)) > 1  # not a constant map


def test_pattern_pass_absorbs_cost_volume_and_argmax(small_compressed):
    import jpq2hw.extensions  # noqa: F401
    from qonnx.core.onnx_exec import execute_onnx

    from jpq2hw.frontend.load import load_model
    from jpq2hw.frontend.validate import validate_hardware_ops
    from jpq2hw.normalize.passes import normalize
    from jpq2hw.verify.reference import Reference

    _, path = small_compressed
    norm = normalize(load_model(path))
    ops = [n.op_type for n in norm.hardware.graph.node]
    assert ops.count("StereoCostVolume") == 1 and ops.count("StereoArgmax") == 1
    assert not {"Slice", "Pad", "ReduceSum", "ArgMax", "Cast", "Concat", "Mul"} & set(ops)
    validate_hardware_ops(norm.hardware, str(path))
    ref_ops = [n.op_type for n in norm.reference.graph.node]
    assert "ReduceSum" in ref_ops and "ArgMax" in ref_ops  # the reference keeps the original ops
    images, _, _ = S.tensors("test", 2)
    reference = Reference(norm.reference, 20)
    hw = norm.hardware
    for img in images.numpy():
        got = execute_onnx(hw, {hw.graph.input[0].name: img[None]})[hw.graph.output[0].name]
        assert np.array_equal(got, reference.run(img[None])["output"])
