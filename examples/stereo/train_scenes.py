"""Train the photo-scene stereo network (scenenet.py) on crops, compress it with `jpq2hw compress` (98% sparse,
4-bit weights, 8-bit activations) and export it at the full frame (scenenet.onnx).

    python examples/stereo/train_scenes.py [--epochs 10] [--skip-float] [--skip-compress]

One CPU thread (seeded). Writes out_scenes/ (cached splits, float.pt, a checkpoint per epoch, the compress
checkpoint, history.json, train_summary.json) and next to this file scenenet.onnx (compressed QONNX) and scenenet_float.onnx.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scenenet as N  # noqa: E402


def train_float(epochs: int, lr: float = 2e-3, seed: int = 0, parent: str = "base"):
    entry = N.make(seed=seed, parent=parent)
    model, loader = entry["model"], entry["train_loader"]
    opt = torch.optim.Adam(model.parameters(), lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * len(loader), pct_start=0.1)
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            N.soft_bin_loss(model(x), y).backward()
            opt.step()
            sched.step()
        torch.save(model.state_dict(), N.float_weights(parent))  # each epoch: a run cut short still leaves a model
        print(f"float epoch {epoch + 1}/{epochs}: val EPE {-entry['val_fn'](model):.3f} px "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--skip-float", action="store_true", help="reuse out_scenes/float.pt")
    p.add_argument("--skip-compress", action="store_true", help="stop after the float model")
    p.add_argument("--parent", choices=sorted(N.PARENTS), default="base", help="float parent size (scenenet.PARENTS)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: bit-for-bit repeatable)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    N.OUT.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    N.split("train", N.N_TRAIN), N.split("val", N.N_VAL), N.split("test", N.N_TEST)
    t_data = time.perf_counter() - t0
    print(f"data: {t_data:.0f} s", flush=True)
    if not args.skip_float:
        name = "scenenet_float.onnx" if args.parent == "base" else f"scenenet_{args.parent}_float.onnx"
        N.export_float(train_float(args.epochs, parent=args.parent), HERE / name)
    t_float = time.perf_counter() - t0 - t_data
    summary = {"data_s": round(t_data, 1), "float_train_s": round(t_float, 1), "epochs": args.epochs,
               "parent": args.parent}
    if not args.skip_compress:
        subprocess.run([sys.executable, "-m", "jpq2hw.cli", "compress", str(HERE / "compress_scenes.yaml"), "--fresh",
                        "--history", str(N.OUT / "history.json")], check=True)
        summary["compress_s"] = round(time.perf_counter() - t0 - t_data - t_float, 1)
    (N.OUT / ("train_summary.json" if args.parent == "base" else f"train_summary_{args.parent}.json")).write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
