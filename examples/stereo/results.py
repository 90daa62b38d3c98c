"""The stereo example's paper-style table and picture, as measured: writes RESULTS.md and results.png next to this file.

    python examples/stereo/results.py [--no-baselines]

Needs train.py's outputs (out/float.pt, out/checkpoints/joint/, stereo.onnx). The baselines (magnitude pruning
with the same schedule and QAT; Taylor pruning + post-training quantization without QAT) are compressed here
from the same float model with the same config but the method changed (checkpoints in out/checkpoints/<method>,
reused when present; 1-4 minutes each on 2 shared cores).

Rows, all on the 200 pairs of the test split (EPE, D1 over all pixels):
  float dense            the trained float model
  pruned (joint, float)  the joint model's masked weights with its quantizers switched off
  pruned + quantized     the joint model as exported (stereo.onnx computes exactly this)
  magnitude / PTQ        the baselines

Sparsity, memory and BOPs follow jpq2hw/metrics.py (the definitions `jpq2hw compress` and the build report use):
memory counts the Siamese conv's shared weights once (one stored kernel), BOPs count that conv for BOTH views
(it runs twice). Resources are jpq2hw.costmodel's estimate (io_stream, PYNQ-Z2, Latency strategy) of the
hardware graph `jpq2hw build` makes from stereo.onnx, with each variant's nonzero weights and bit widths: an
estimate, not synthesis.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stereo as S  # noqa: E402


FLOAT_BITS = 32


def metrics(model, example) -> dict:
    """jpq2hw.metrics' figures of a torch model (a Siamese conv: `copies` 2, stored once, computed twice)."""
    from jpq2hw.compress.metrics import model_metrics

    return model_metrics(model, example)


def hardware_layers():
    """jpq2hw's CostLayers of the hardware graph of stereo.onnx (what `jpq2hw build`/`report` estimate)."""
    from jpq2hw.costmodel import cost_layers
    from jpq2hw.pipeline import analyze_file

    state = analyze_file(HERE / "stereo.onnx")
    return cost_layers(state.model, state.analysis)


def estimate(hw_layers, m: dict) -> dict:
    """Resource estimate of the hardware graph with this variant's weights: hardware layer i is torch layer i
    (a Siamese conv is one block-diagonal conv in hardware: twice the nonzeros of the shared kernel)."""
    from jpq2hw import boards
    from jpq2hw.costmodel import estimate as cost_estimate

    assert len(hw_layers) == len(m["layers"]), (len(hw_layers), len(m["layers"]))
    layers = []
    for hw, t in zip(hw_layers, m["layers"]):
        nz = t["nonzero"] * t["copies"]
        a_bits = None if t["act_bits"] == FLOAT_BITS else t["act_bits"]
        layers.append(dataclasses.replace(hw, nonzero_params=nz, weight_bits=t["weight_bits"], act_bits=a_bits,
                                          accum_bits=None if a_bits is None else hw.accum_bits))
    est = cost_estimate(layers, boards.load_board("pynq-z2"), io_type="io_stream")
    r = est.resources()
    return {**r, "fit": est.fit_status()}


def baseline(method: str, float_state: dict):
    """Compress the float model with `method` (the example's config otherwise); resumes from its checkpoint."""
    import yaml

    from jpq2hw.compress import CompressConfig, compress

    options = yaml.safe_load((HERE / "compress.yaml").read_text())["compress"]
    options.update(method=method, checkpoint_dir=str(S.OUT / "checkpoints" / method))
    cfg = CompressConfig.from_dict(options)
    entry = S.make()
    entry["model"].load_state_dict(float_state)
    start = time.perf_counter()
    model, _ = compress(entry["model"], entry["train_loader"], entry["val_fn"], cfg, loss_fn=entry["loss_fn"])
    print(f"baseline {method}: {time.perf_counter() - start:.0f} s", flush=True)
    return model.eval()


from colours import colour as _colour  # noqa: E402  (shared with predict.py, which runs without torch)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """A minimal RGB PNG writer (zlib + struct; no imaging package needed)."""
    import struct
    import zlib

    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def picture(x, y, preds: dict, path: Path, rows=(0, 1, 2), scale: int = 4, gap: int = 4):
    """One row per test pair: left image | ground-truth disparity | each prediction (same colour scale)."""
    vmax = S.MAX_DISP - 1
    lines = []
    for i in rows:
        left = np.repeat((x[i, 0].numpy() * 255).clip(0, 255).astype(np.uint8)[..., None], 3, -1)
        panels = [left, _colour(y[i].numpy(), vmax)] + [_colour(p[i], vmax) for p, _ in preds.values()]
        sep = np.full((S.HEIGHT, gap // 2 or 1, 3), 255, np.uint8)
        line = np.concatenate([q for panel in panels for q in (panel, sep)][:-1], 1)
        lines += [line, np.full((gap // 2 or 1, line.shape[1], 3), 255, np.uint8)]
    img = np.concatenate(lines[:-1], 0)
    write_png(path, np.repeat(np.repeat(img, scale, 0), scale, 1))


def fmt_int(v):
    return f"{v:,}" if isinstance(v, (int, np.integer)) else f"{v:,.1f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-baselines", action="store_true", help="skip the magnitude and PTQ baselines")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    from jpq2hw.compress.qmodules import set_quant_enabled

    x, y, _ = S.tensors("test", S.N_TEST)
    example = x[:1]
    float_state = torch.load(S.OUT / "float.pt")
    float_model = S.StereoNet()
    float_model.load_state_dict(float_state)
    float_model.eval()
    joint = S.load_compressed(S.OUT / "checkpoints" / "joint")
    pruned = S.load_compressed(S.OUT / "checkpoints" / "joint")
    set_quant_enabled(pruned, False)

    variants = {"float dense": float_model, "pruned (joint, quantizers off)": pruned,
                "pruned + quantized (joint, stereo.onnx)": joint}
    if not args.no_baselines:
        variants["magnitude prune + QAT (baseline)"] = baseline("magnitude", float_state)
        variants["Taylor prune + PTQ (baseline)"] = baseline("ptq", float_state)

    hw_layers = hardware_layers()
    rows, preds = [], {}
    for name, model in variants.items():
        m = metrics(model, example)
        acc = S.evaluate(model, x, y)
        bits = sorted({l["weight_bits"] for l in m["layers"]})
        rows.append({"name": name, "epe": acc["epe"], "d1": acc["d1"], "sparsity": m["sparsity"],
                     "weight_bits": "/".join(map(str, bits)), "memory_bits": m["memory_bits"], "bops": m["bops"],
                     "estimate": estimate(hw_layers, m), "layers": m["layers"]})
        if name in ("float dense", "pruned + quantized (joint, stereo.onnx)"):
            preds[name] = (S.predict(model, x[:4]), acc["epe"])

    base = rows[0]
    lines = [
        "# Stereo example: results",
        "",
        "Produced by `python examples/stereo/results.py` from the models `examples/stereo/train.py` trained and",
        f"compressed (seeded). Test split: {S.N_TEST} synthetic pairs, {S.HEIGHT}x{S.WIDTH}, D = {S.MAX_DISP}; "
        "EPE and D1 over all pixels.",
        "Memory: weight storage (dense or CSR, whichever is smaller, plus biases; the Siamese kernel once). BOPs:",
        "nonzero MACs x weight bits x activation bits, the Siamese convs counted for both views. Resources:",
        "jpq2hw.costmodel estimate of the io_stream hardware graph on the PYNQ-Z2 (not synthesis; "
        "docs/report.md).",
        "",
        "| model | EPE (px) | D1 (%) | sparsity | weight bits | weight memory (bits) | BOPs | est. LUT | est. DSP | "
        "est. BRAM36 | memory reduction | BOPs reduction |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        e = r["estimate"]
        mem_red = 1 - r["memory_bits"] / base["memory_bits"]
        bops_red = 1 - r["bops"] / base["bops"]
        lines.append(f"| {r['name']} | {r['epe']:.3f} | {100 * r['d1']:.2f} | {100 * r['sparsity']:.2f}% | "
                     f"{r['weight_bits']} | {fmt_int(r['memory_bits'])} | {fmt_int(r['bops'])} | {fmt_int(e['lut'])} | "
                     f"{fmt_int(e['dsp'])} | {e['bram36']:g} | {100 * mem_red:.2f}% ({base['memory_bits'] / r['memory_bits']:.1f}x) | "
                     f"{100 * bops_red:.3f}% ({base['bops'] / r['bops']:.0f}x) |")
    final = rows[2]
    epe_rel = final["epe"] / base["epe"] - 1
    lines += [
        "",
        "Targets (issue 4): memory reduction >= 95%: "
        f"**{100 * (1 - final['memory_bits'] / base['memory_bits']):.2f}%**; BOPs reduction >= 99%: "
        f"**{100 * (1 - final['bops'] / base['bops']):.3f}%**; EPE within 10% of the float model: "
        f"**{100 * epe_rel:+.1f}%** ({final['epe']:.3f} vs {base['epe']:.3f} px).",
        "",
        "Per layer (pruned + quantized):",
        "",
        "| layer | weights | nonzero | weight bits | act bits | BOPs |",
        "|---|---|---|---|---|---|",
    ]
    for l in final["layers"]:
        lines.append(f"| {l['name']}{' (Siamese, both views)' if l['copies'] == 2 else ''} | {l['total']} | {l['nonzero']} | "
                     f"{l['weight_bits']} | {l['act_bits']} | {fmt_int(l['bops'])} |")
    summary = HERE / "out" / "train_summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        lines += ["", f"train.py: float training {s.get('float_train_s')} s, float + compression {s.get('total_s')} s "
                  "(2 shared CPU cores)."]
    lines += ["", "The next flagship candidate (photo-textured scenes at 120x160, D = 16, beside OpenCV SGBM) is in "
              "[RESULTS_SCENES.md](RESULTS_SCENES.md)."]
    lines += ["", "Three test pairs, one per row: left image | ground-truth disparity | float dense prediction | "
              "pruned + quantized prediction (disparity 0 to "
              f"{S.MAX_DISP - 1} px, dark to bright).", "", "![left, ground truth, float, compressed](results.png)", ""]
    picture(x, y, preds, HERE / "results.png")
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    (S.OUT / "results.json").write_text(json.dumps(rows, indent=1, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
