"""Train the float stereo network on CPU, compress it with `jpq2hw compress` (>= 95% sparsity, 4-bit weights),
evaluate both on the test split and export examples/stereo/stereo.onnx (QONNX).

    python examples/stereo/train.py [--epochs 8] [--skip-float]

About 5-10 minutes on 2 shared CPU cores (seeded). Writes out/float.pt, out/checkpoints/joint/ (compress
checkpoint), out/history.json, out/train_summary.json, and next to this file stereo.onnx (QONNX, the model
`jpq2hw build` takes) and test_pairs.npy (the first test-split pairs, for `jpq2hw build --input-data`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stereo as S  # noqa: E402

N_PAIRS = 8  # real test pairs shipped for `jpq2hw build --input-data` (plus its 100 random vectors)


def train_float(epochs: int, lr: float = 2e-3, seed: int = 0):
    torch.manual_seed(seed)
    entry = S.make(seed=seed)
    model, loader = entry["model"], entry["train_loader"]
    opt = torch.optim.Adam(model.parameters(), lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(loader))
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            S.soft_bin_loss(model(x), y).backward()
            opt.step()
            sched.step()
        print(f"float epoch {epoch + 1}/{epochs}: val EPE {-entry['val_fn'](model):.3f} px "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--skip-float", action="store_true", help="reuse out/float.pt")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    S.OUT.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    if not args.skip_float:
        model = train_float(args.epochs)
        torch.save(model.state_dict(), S.OUT / "float.pt")
    t_float = time.perf_counter() - t0
    subprocess.run([sys.executable, "-m", "jpq2hw.cli", "compress", str(HERE / "compress.yaml"), "--fresh",
                    "--history", str(S.OUT / "history.json")], check=True)
    t_total = time.perf_counter() - t0

    x, y, vis = S.tensors("test", S.N_TEST)
    float_model = S.StereoNet()
    float_model.load_state_dict(torch.load(S.OUT / "float.pt"))
    compressed = S.load_compressed(S.OUT / "checkpoints" / "joint")
    summary = {"float": S.evaluate(float_model, x, y), "compressed": S.evaluate(compressed, x, y),
               "float_train_s": round(t_float, 1), "total_s": round(t_total, 1)}
    np.save(HERE / "test_pairs.npy", x[:N_PAIRS].numpy())
    (S.OUT / "train_summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
