"""Compression benchmark on scikit-learn's digits (8x8, bundled): float baseline vs the Taylor
pipeline vs magnitude pruning vs post-training quantization, at 90/95/98% sparsity and 8/4/3-bit
weights (8-bit activations and input), plus the fine-tuning modes and the quantize-then-prune order
at 95% / 4 bits. All methods get the same epoch budget (PTQ: stage 1 only, no QAT).

    python benchmarks/compress_digits.py            # ~3-5 minutes on 2 CPU cores
    python benchmarks/compress_digits.py --quick    # one sparsity / bit width, for a smoke test

Accuracy is on the held-out 30% (540 images); no model selection is done on it. Memory and BOPs
follow jpq2hw.compress.metrics (weight memory includes the sparse index overhead)."""

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "digits"))

from digits import make  # noqa: E402

from jpq2hw.compress import CompressConfig, compress  # noqa: E402
from jpq2hw.compress.metrics import model_metrics  # noqa: E402

BUDGET = dict(prune_steps=5, epochs_per_step=4, qat_epochs=8, lr=3e-3, act_bits=8, input_bits=8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pretrain-epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny layers: threads cost more than they bring
    entry = make()
    loader, val_fn, example = entry["train_loader"], entry["val_fn"], entry["example_input"]

    start = time.perf_counter()
    float_cfg = CompressConfig.for_method("ptq", pretrain_epochs=args.pretrain_epochs, target_sparsity=0.0,
                                          prune_steps=1, epochs_per_step=0, lr=3e-3)
    trained, history = compress(entry["model"], loader, val_fn, float_cfg)
    float_net = trained.net  # pretrained float layers (quantizers switched off below)
    from jpq2hw.compress.qmodules import set_quant_enabled
    set_quant_enabled(trained, False)
    float_acc = val_fn(trained)
    fm = model_metrics(trained, example)
    rows = [("float", "-", 0.0, 32, float_acc, fm["sparsity"], fm["memory_bits"], fm["bops"], time.perf_counter() - start)]

    sparsities = [0.95] if args.quick else [0.90, 0.95, 0.98]
    bit_widths = [4] if args.quick else [8, 4, 3]
    runs = [(method, finetune, s, b) for s in sparsities for b in bit_widths
            for method, finetune in (("joint", "regrow"), ("magnitude", "masked"), ("ptq", "regrow"))]
    runs += [("joint", "masked", 0.95, 4), ("joint", "qat", 0.95, 4), ("magnitude", "regrow", 0.95, 4),
             ("quantize_then_prune", "masked", 0.95, 4)]
    if not args.quick:
        runs += [("joint", "masked", 0.98, 4), ("joint", "qat", 0.98, 4), ("magnitude", "regrow", 0.98, 4)]
    for method, finetune, sparsity, bits in runs:
        t0 = time.perf_counter()
        cfg = CompressConfig.for_method(method, target_sparsity=sparsity, weight_bits=bits, finetune=finetune, **BUDGET)
        model, _ = compress(copy.deepcopy(float_net), loader, val_fn, cfg)
        m = model_metrics(model, example)
        rows.append((method, finetune, sparsity, bits, val_fn(model), m["sparsity"], m["memory_bits"], m["bops"],
                     time.perf_counter() - t0))
        print(f"  {method:20s} {finetune:7s} s={sparsity:.2f} {bits}b  acc {rows[-1][4]:.4f}  ({rows[-1][-1]:.1f} s)",
              file=sys.stderr, flush=True)

    header = f"{'method':20s} {'finetune':8s} {'target':>6s} {'w_bits':>6s} {'acc':>7s} {'d_acc':>6s} " \
             f"{'sparsity':>8s} {'mem_kbit':>9s} {'MBOPs':>9s} {'sec':>5s}"
    print(header)
    print("-" * len(header))
    for method, finetune, target, bits, acc, sp, mem, bops, sec in rows:
        print(f"{method:20s} {finetune:8s} {target:6.2f} {bits:6d} {acc:7.4f} {100 * (acc - float_acc):+6.2f} "
              f"{sp:8.4f} {mem / 1000:9.2f} {bops / 1e6:9.3f} {sec:5.1f}")
    print(f"\nfloat accuracy {float_acc:.4f}; d_acc in points; total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
