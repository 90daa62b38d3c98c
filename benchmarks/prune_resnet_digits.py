"""The pruning stage alone, Taylor vs magnitude score, on a small ResNet (two residual blocks with BatchNorm,
global average pooling; tests/compress/user_models.py) and scikit-learn's digits (8x8, bundled: no data set can
be downloaded here; the paper used ResNets on CIFAR-10/ImageNet). Per seed, one float model is trained, then
each score prunes a copy with the same schedule and the same fine-tuning budget (masked fine-tuning, so only
the score differs; no quantization). Accuracy on the held-out 30% (540 images), float arithmetic.

    python benchmarks/prune_resnet_digits.py [--seeds 3] [--sparsity 0.8 0.9 0.95 0.98] [--criterion global]
        [--width 16] [--pretrain-epochs 40] [--lr 2e-3] [--out results.md]

Scores: the paper's first-order Taylor score, magnitude, and random (the floor any criterion must beat). The
parent is trained to convergence first (its accuracy is printed), so a criterion is not judged on a starved net.
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


SCORES = ("taylor", "magnitude", "random")


def prune_only(model, loader, score, sparsity, seed, lr, criterion="global"):
    torch.manual_seed(seed)
    cfg = CompressConfig.for_method("magnitude" if score == "magnitude" else "joint", target_sparsity=sparsity,
                                    seed=seed, score=score, prune_criterion=criterion, **dict(BUDGET, lr=lr))
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
    p.add_argument("--sparsity", type=float, nargs="+", default=[0.8, 0.9, 0.95, 0.98])
    p.add_argument("--criterion", choices=("global", "lamp", "per_layer"), default="global")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--pretrain-epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=BUDGET["lr"], help="fine-tuning learning rate after each step")
    p.add_argument("--out", help="also write the table as markdown here")
    args = p.parse_args()
    torch.set_num_threads(1)
    start = time.time()
    rows = []
    for seed in range(args.seeds):
        (xt, yt), (xv, yv) = digits_tensors(seed)
        torch.manual_seed(seed)
        loader = DataLoader(TensorDataset(xt, yt), batch_size=64, shuffle=True)
        base = TinyResNet(width=args.width)
        train_float(base, loader, args.pretrain_epochs, 3e-3)
        float_acc = accuracy(base, xv, yv)
        print(f"seed {seed}: float parent accuracy {float_acc:.4f}", flush=True)
        for sparsity in args.sparsity:
            for score in SCORES:
                pruned = prune_only(copy.deepcopy(base), loader, score, sparsity, seed, args.lr, args.criterion)
                rows.append((seed, sparsity, score, float_acc, accuracy(pruned, xv, yv), masklib.sparsity(pruned)))
                print(*rows[-1], flush=True)
    weights = sum(m.weight.numel() for m in base.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    lines = [f"TinyResNet(width={args.width}, {weights:,} conv/linear weights) on digits, pruning stage only "
             f"({BUDGET['prune_steps']} cubic steps x {BUDGET['epochs_per_step']} epochs, masked fine-tuning, lr "
             f"{args.lr}, {args.criterion} selection), parents trained {args.pretrain_epochs} epochs, {args.seeds} "
             f"seeds, {time.time() - start:.0f} s on one thread (machine load noted by whoever runs it).", "",
             "| sparsity | score | float parent (mean) | pruned (mean) | min | max |", "|---|---|---|---|---|---|"]
    for sparsity in args.sparsity:
        for score in SCORES:
            accs = [r[4] for r in rows if r[1] == sparsity and r[2] == score]
            floats = [r[3] for r in rows if r[1] == sparsity and r[2] == score]
            lines.append(f"| {sparsity:.2f} | {score} | {sum(floats) / len(floats):.4f} | {sum(accs) / len(accs):.4f} | "
                         f"{min(accs):.4f} | {max(accs):.4f} |")
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
