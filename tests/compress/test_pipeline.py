"""Masks hold through fine-tuning; an interrupted run resumes to the same result; CLI basics."""

import textwrap

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from jpq2hw.cli import main as cli_main
from jpq2hw.compress import CompressConfig, compress
from jpq2hw.compress.qmodules import weight_layers

TINY = dict(prune_steps=2, epochs_per_step=1, qat_epochs=2, score_batches=2, calibration_batches=2,
            regrow_interval=2, lr=1e-2, weight_bits=4, act_bits=6)


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(96, 1, 6, 6, generator=g)
    y = (x[:, 0, :3].mean((1, 2)) > x[:, 0, 3:].mean((1, 2))).long()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True), x[:1]


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 2))


@pytest.mark.parametrize("finetune", ["masked", "regrow", "qat"])
def test_pruned_weights_stay_exactly_zero(finetune):
    loader, _ = data()
    seen = []

    def check(_key):
        for layer in weight_layers(model_holder[0]).values():
            pruned = layer.weight_mask == 0
            assert torch.all(layer.weight[pruned] == 0)
            assert torch.all(layer.effective_weight()[pruned] == 0)
        seen.append(_key)

    model_holder = []
    cfg = CompressConfig.for_method("joint", target_sparsity=0.8, finetune=finetune, **TINY)
    from jpq2hw.compress.qmodules import prepare_model
    model = prepare_model(net(), cfg)
    model_holder.append(model)
    model, history = compress(model, loader, None, cfg, on_step_done=check)
    assert seen == [h["step"] for h in history]
    assert history[-1]["sparsity"] == pytest.approx(0.8, abs=0.01)


def test_masked_finetuning_keeps_optimizer_state_zero():
    from jpq2hw.compress.pipeline import RunState, Step, _train_epochs, run_step
    from jpq2hw.compress.qmodules import prepare_model

    loader, _ = data()
    cfg = CompressConfig.for_method("joint", finetune="masked", **TINY)
    model = prepare_model(net(), cfg)
    state = RunState(model, cfg)
    loss = nn.CrossEntropyLoss()
    _train_epochs(state, Step("warm", "pretrain", 0.0, 1), loader, loss, 1e-2)  # Adam moments everywhere
    run_step(state, Step("prune_1", "prune", 0.7, 1), loader, loss)
    for layer in weight_layers(model).values():
        pruned = layer.weight_mask == 0
        for value in state.optimizer.state[layer.weight].values():
            if torch.is_tensor(value) and value.shape == layer.weight.shape:
                assert torch.all(value[pruned] == 0)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    loader, _ = data()
    cfg = dict(TINY, target_sparsity=0.75, seed=3)
    reference, ref_history = compress(net(), loader, None, CompressConfig.for_method("joint", **cfg))

    class Interrupt(Exception):
        pass

    def stop_after_prune_2(key):
        if key == "prune_2":
            raise Interrupt

    ckpt_cfg = CompressConfig.for_method("joint", checkpoint_dir=str(tmp_path / "ckpt"), **cfg)
    with pytest.raises(Interrupt):
        compress(net(), loader, None, ckpt_cfg, on_step_done=stop_after_prune_2)
    done_again = []
    resumed, history = compress(net(), loader, None, ckpt_cfg, on_step_done=done_again.append)
    assert done_again == ["calibrate", "qat_1", "qat_2"]  # nothing before the interruption was redone
    assert [h["step"] for h in history] == [h["step"] for h in ref_history]
    for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


def test_checkpoint_from_another_config_is_refused(tmp_path):
    from jpq2hw.errors import JpqError

    loader, _ = data()
    compress(net(), loader, None, CompressConfig.for_method("joint", checkpoint_dir=str(tmp_path), **TINY))
    with pytest.raises(JpqError, match="different config"):
        compress(net(), loader, None, CompressConfig.for_method("joint", checkpoint_dir=str(tmp_path),
                                                                **dict(TINY, target_sparsity=0.5)))


def write_entry(tmp_path):
    (tmp_path / "entry.py").write_text(textwrap.dedent("""
        import torch, torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset
        def make():
            torch.manual_seed(0)
            x = torch.rand(64, 1, 6, 6); y = (x.mean((1, 2, 3)) > 0.5).long()
            model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
            return model, DataLoader(TensorDataset(x, y), batch_size=16), lambda m: 0.5
    """))


def test_cli_compress_writes_qonnx_and_resumes(tmp_path, capsys):
    write_entry(tmp_path)
    (tmp_path / "c.yaml").write_text(textwrap.dedent("""
        entry: entry.py:make
        output: out/m.onnx
        checkpoint_dir: ckpt
        compress: {target_sparsity: 0.5, prune_steps: 1, epochs_per_step: 1, qat_epochs: 1, score_batches: 1,
                   calibration_batches: 1}
    """))
    assert cli_main(["compress", str(tmp_path / "c.yaml"), "--quiet"]) == 0
    assert (tmp_path / "out" / "m.onnx").is_file() and (tmp_path / "ckpt" / "checkpoint.pt").is_file()
    assert cli_main(["compress", str(tmp_path / "c.yaml")]) == 0  # everything done: resumes, re-exports
    assert "resuming" in capsys.readouterr().err


@pytest.mark.parametrize("body,needle", [
    ("entry: entry.py:make\ncompress: {target_sparsity: 2}\n", "target_sparsity"),
    ("entry: entry.py:make\ncompress: {weight_bits: 12}\n", "weight_bits"),
    ("entry: entry.py:make\ncompress: {sparsity: 0.5}\n", "unknown compress option"),
    ("entry: nothere.py:make\n", "not found"),
    ("compress: {}\n", "missing 'entry'"),
])
def test_cli_user_errors_are_one_line(tmp_path, capsys, body, needle):
    write_entry(tmp_path)
    (tmp_path / "c.yaml").write_text(body)
    assert cli_main(["compress", str(tmp_path / "c.yaml"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_preparing_a_prepared_model_takes_the_new_bit_widths():
    from jpq2hw.compress.qmodules import act_quantizers, prepare_model

    first = prepare_model(net(), CompressConfig(weight_bits=4, act_bits=6))
    again = prepare_model(first.net, CompressConfig(weight_bits=3, act_bits=5, layer_bits={"4": {"weight": 7}}))
    assert [l.weight_bits for l in weight_layers(again).values()] == [3, 7]
    assert [q.bits for name, q in act_quantizers(again).items() if name != "input_quant"] == [5]
