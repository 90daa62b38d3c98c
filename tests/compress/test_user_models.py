"""Bring your own model: ordinary PyTorch models (BatchNorm, residual add, torch.cat, average pools, ReLU6,
LeakyReLU, Dropout, depthwise convs, view) go through compress -> export -> build bit-exact as written; what
cannot is refused before the first epoch, naming the user's layer; per-layer options are checked by name."""

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from jpq2hw.cli import main as cli_main
from jpq2hw.compress import CompressConfig, compress, to_qonnx
from jpq2hw.compress.qmodules import weight_layers
from jpq2hw.errors import JpqError

sys.path.insert(0, str(Path(__file__).parent))
from user_models import MODELS  # noqa: E402

TINY = dict(pretrain_epochs=1, prune_steps=1, epochs_per_step=1, qat_epochs=1, target_sparsity=0.5,
            score_batches=2, calibration_batches=2, regrow_interval=2, weight_bits=4, act_bits=8)


def digits(n=256):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images[:n] / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(d.target[:n], dtype=torch.long)
    return DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True), x


class CountingLoader:
    """A loader that counts the batches drawn from it (to prove nothing trained)."""

    def __init__(self, loader):
        self.loader, self.batches = loader, 0

    def __iter__(self):
        for batch in self.loader:
            self.batches += 1
            yield batch


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(MODELS))
def test_user_models_compress_export_and_build_bit_exact(kind, tmp_path):
    from onnx import load

    from jpq2hw.build import BuildOptions, run_build

    torch.manual_seed(0)
    loader, x = digits()
    small = {"width": 4} if kind == "resnet" else {}  # a smaller build; the model code is unchanged
    model, _ = compress(MODELS[kind](**small), loader, None, CompressConfig.for_method("joint", **TINY))
    path = tmp_path / f"{kind}.onnx"
    to_qonnx(model, x[:1], path)
    ops = {n.op_type for n in load(str(path)).graph.node}
    assert "BatchNormalization" not in ops  # folded before pruning
    expected = {"cnn": {"MaxPool"}, "resnet": {"Add", "GlobalAveragePool"}, "mobilenet": {"Concat", "AveragePool",
                                                                                         "Clip"},
                "mlp": {"LeakyRelu"}}[kind]
    assert expected <= ops
    code, report = run_build(BuildOptions(model=path, out=tmp_path / "o", quiet=True, vectors=20))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    if kind == "mobilenet":
        assert any(name.startswith("DepthwiseConv2D") for name in report["hls_types"])


@pytest.mark.slow
def test_batchnorm_that_cannot_fold_is_kept_and_exact(tmp_path):
    from onnx import load

    from jpq2hw.build import BuildOptions, run_build
    from user_models import BatchNormAfterAdd

    torch.manual_seed(0)
    loader, x = digits()
    model, _ = compress(BatchNormAfterAdd(), loader, None, CompressConfig.for_method("joint", **TINY))
    to_qonnx(model, x[:1], tmp_path / "m.onnx")
    assert "BatchNormalization" in {n.op_type for n in load(str(tmp_path / "m.onnx")).graph.node}
    code, report = run_build(BuildOptions(model=tmp_path / "m.onnx", out=tmp_path / "o", quiet=True, vectors=20))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0


class WithGelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GELU())
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        y = self.body(x)
        y = y * torch.sigmoid(y)
        return self.fc(y.flatten(1))


def test_unsupported_layers_are_listed_before_training():
    loader, _ = digits(128)
    counting = CountingLoader(loader)
    with pytest.raises(JpqError) as info:
        compress(WithGelu(), counting, None, CompressConfig.for_method("joint", **TINY))
    msg = str(info.value)
    assert counting.batches == 1  # the example batch only: no training
    assert "3 layer(s)" in msg and "body.1 (GELU)" in msg and "net." not in msg
    assert "mul" in msg and "test_user_models.py:" in msg  # the operation's source line
    assert "\n" not in msg


def test_stale_checkpoint_names_fresh(tmp_path):
    loader, _ = digits(128)
    cfg = CompressConfig.for_method("joint", **dict(TINY, pretrain_epochs=0, qat_epochs=0), checkpoint_dir=str(tmp_path))
    compress(MODELS["mlp"](), loader, None, cfg)
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(JpqError, match="different model.*--fresh"):
        compress(other, loader, None, cfg)


@pytest.mark.parametrize("options,needle", [
    ({"layer_bits": {"layers.9": {"weight": 4}}}, "no layer named 'layers.9'"),
    ({"layer_sparsity": {"layer.4": 0.5}}, "layer_sparsity.layer.4: no layer named"),
    ({"exclude": ["layers.2"]}, "'layers.2' is a LeakyReLU; only Conv/Linear"),
    ({"layer_bits": {"layers.1": {"act": 4}}}, "'layers.1' is a Linear, not an activation; set it on the "
                                                "activation that quantizes this layer's output, e.g. 'layers.2'"),
])
def test_layer_names_in_the_config_are_checked(options, needle):
    loader, _ = digits(64)
    with pytest.raises(JpqError) as info:
        compress(MODELS["mlp"](), loader, None, CompressConfig.for_method("joint", **TINY, **options))
    assert needle in str(info.value)


def test_exclude_layer_sparsity_and_per_layer_criterion():
    loader, _ = digits(128)
    cfg = CompressConfig.for_method("joint", **dict(TINY, pretrain_epochs=0, qat_epochs=0, target_sparsity=0.8),
                                    exclude=["layers.1"], layer_sparsity={"layers.6": 0.25}, prune_criterion="per_layer")
    model, _ = compress(MODELS["mlp"](), loader, None, cfg)
    sparsity = {name[4:]: 1 - l.weight_mask.mean().item() for name, l in weight_layers(model).items()}
    assert sparsity["layers.1"] == 0.0
    assert sparsity["layers.6"] == pytest.approx(0.25, abs=0.01)
    assert sparsity["layers.4"] == pytest.approx(0.8, abs=0.01)


def test_cli_result_compares_float_and_compressed(tmp_path, capsys):
    (tmp_path / "entry.py").write_text(textwrap.dedent("""
        import torch, torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset
        def make():
            torch.manual_seed(0)
            x = torch.rand(64, 1, 6, 6); y = (x.mean((1, 2, 3)) > 0.5).long()
            model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6(), nn.Flatten(),
                                  nn.Linear(144, 2))
            return model, DataLoader(TensorDataset(x, y), batch_size=16), lambda m: 0.123456
    """))
    (tmp_path / "c.yaml").write_text("entry: entry.py:make\noutput: m.onnx\ncompress: {target_sparsity: 0.5, "
                                     "prune_steps: 1, epochs_per_step: 1, qat_epochs: 1, score_batches: 1, "
                                     "calibration_batches: 1, layer_bits: {'2': {act: 6}}}\n")
    assert cli_main(["compress", str(tmp_path / "c.yaml")]) == 0
    err = capsys.readouterr().err
    assert "val 0.1235 float -> 0.1235 compressed (+0.0000)" in err
    rows = [line.split() for line in err.splitlines() if line.strip().startswith(("0 ", "4 "))]
    assert [r[0] for r in rows] == ["0", "4"] and "net." not in err
    assert "kbit" in err and "BOPs" in err
    assert "out ch alive" in err and [r[-2] for r in rows] == ["4/4", "2/2"]  # every output channel kept a weight
    assert all(int(r[-1]) >= 1 for r in rows)


@pytest.mark.parametrize("kind", ["cnn", "resnet", "mobilenet"])
def test_batchnorm_folding_keeps_the_function(kind):
    import copy

    from jpq2hw.compress.qmodules import prepare_model

    torch.manual_seed(1)
    model = MODELS[kind]()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # statistics a trained network would have
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.rand(8, 1, 8, 8)
    prepared = prepare_model(copy.deepcopy(model), CompressConfig(), x[:1]).eval()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in prepared.modules())
    assert torch.allclose(prepared(x), model(x), atol=1e-5)
