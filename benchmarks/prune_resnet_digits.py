"""The pruning stage alone, Taylor vs magnitude score, on a small ResNet (two residual blocks with BatchNorm,
global average pooling; tests/compress/user_models.py) and scikit-learn's digits (8x8, bundled: no data set can
be downloaded here; the paper used ResNets on CIFAR-10/ImageNet). Per seed, one float model is trained, then
each score prunes a copy with the same schedule and the same fine-tuning budget (masked fine-tuning, so only
the score differs; no quantization). Accuracy on the held-out 30% (540 images), float arithmetic.

    python benchmarks/prune_resnet_digits.py [--seeds 3] [--sparsity 0.8 0.9] [--lr 2e-3]
"""

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "digits"))
sys.path.insert(0, str(ROOT / "tests" / "compress"))

from digits import accuracy, digits_tensors  # noqa: E402
from user_models import TinyResNet  # noqa: E402

from jpq2hw.compress import CompressConfig  # noqa: E402
from jpq2hw.compress.pipeline import RunState, make_plan, run_step  # noqa: E402
from jpq2hw.compress.qmodules import prepare_model, set_quant_enabled  # noqa: E402
from jpq2hw.compress import masks as masklib  # noqa: E402

BUDGET = dict(prune_steps=4, epochs_per_step=2, finetune="masked", lr=2e-3, qat_epochs=0)


def train_float(model, loader, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    model.eval()


def prune_only(model, loader, score, sparsity, seed, lr):
    torch.manual_seed(seed)
    cfg = CompressConfig.for_method("joint" if score == "taylor" else "magnitude", target_sparsity=sparsity,
                                    seed=seed, **dict(BUDGET, lr=lr))
    example = next(iter(loader))[0][:1]
    state = RunState(prepare_model(model, cfg, example), cfg)
    for step in make_plan(cfg):
        if step.stage == "prune":
            run_step(state, step, loader, nn.CrossEntropyLoss())
    set_quant_enabled(state.model, False)
    return state.model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sparsity", type=float, nargs="+", default=[0.8, 0.9])
    p.add_argument("--pretrain-epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=BUDGET["lr"], help="fine-tuning learning rate after each step")
    args = p.parse_args()
    torch.set_num_threads(1)
    start = time.time()
    rows = []
    for seed in range(args.seeds):
        (xt, yt), (xv, yv) = digits_tensors(seed)
        torch.manual_seed(seed)
        loader = DataLoader(TensorDataset(xt, yt), batch_size=64, shuffle=True)
        base = TinyResNet(width=8)
        train_float(base, loader, args.pretrain_epochs, 3e-3)
        float_acc = accuracy(base, xv, yv)
        for sparsity in args.sparsity:
            for score in ("taylor", "magnitude"):
                pruned = prune_only(copy.deepcopy(base), loader, score, sparsity, seed, args.lr)
                rows.append((seed, sparsity, score, float_acc, accuracy(pruned, xv, yv), masklib.sparsity(pruned)))
                print(*rows[-1], flush=True)
    print(f"\nTinyResNet(width=8) on digits, pruning stage only ({BUDGET['prune_steps']} cubic steps x "
          f"{BUDGET['epochs_per_step']} epochs, masked fine-tuning, lr {args.lr}), {args.seeds} seeds, {time.time() - start:.0f} s")
    print(f"{'sparsity':>8} {'score':>10} {'float':>7} {'pruned (mean)':>14} {'min':>7} {'max':>7}")
    for sparsity in args.sparsity:
        for score in ("taylor", "magnitude"):
            accs = [r[4] for r in rows if r[1] == sparsity and r[2] == score]
            floats = [r[3] for r in rows if r[1] == sparsity and r[2] == score]
            print(f"{sparsity:>8} {score:>10} {sum(floats) / len(floats):7.4f} {sum(accs) / len(accs):14.4f} "
                  f"{min(accs):7.4f} {max(accs):7.4f}")


if __name__ == "__main__":
    main()
