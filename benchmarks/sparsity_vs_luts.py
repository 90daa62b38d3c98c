"""What sparsity buys in real LUTs: the digits example's layers (and a 64x32 layer), dense vs 90/95/99% sparse,
each written as Verilog by da4ml and synthesized by Yosys (synth_xilinx -family xc7 -flatten -noiopad).

Per row: the cost model's LUT estimate (jpq2hw.costmodel, Latency strategy), da4ml's own estimate, Yosys
LUT/FF/CARRY4, the pre-route logic delay (Yosys sta, no place-and-route) and the synthesis time. Each layer keeps
its input type and its ReLU/requantization from the example; only the weights change (random 4-bit nonzeros,
seeded). Also checks each core bit for bit with iverilog against numpy on random inputs.

    python benchmarks/sparsity_vs_luts.py                       # 64x32 + digits MatMul_0, Conv_0 (minutes)
    python benchmarks/sparsity_vs_luts.py --layers all          # + the digits convs (dense Conv_2: long)
    python benchmarks/sparsity_vs_luts.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from jpq2hw.core.fixed import Range, dot_range
from jpq2hw.errors import JpqError
from jpq2hw.rtl.design import write_design
from jpq2hw.rtl.graph import Layer, Network, Requant
from jpq2hw.rtl.synth import synthesize

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def digits_layers() -> list[Layer]:
    from jpq2hw.pipeline import analyze_file
    from jpq2hw.rtl.graph import read_network

    net = read_network(analyze_file(EXAMPLES / "digits" / "digits_cnn.onnx").model)
    return [l for l in net.layers if l.kind != "maxpool"]


def layer_64x32() -> Layer:
    """64 -> 32, 8-bit signed inputs, 4-bit weights: the issue's reference layer (no requant)."""
    w = np.zeros((64, 32))
    return Layer("dense_64x32", "dense", (64,), (32,), Range(-128, 127, 4), weights=w, out_range=Range(0, 0, 0))


def with_sparsity(layer: Layer, sparsity: float | None, seed: int = 0) -> Layer:
    """The layer with random 4-bit weights (nonzero, scale 2**-3) at `sparsity` (None: its own weights)."""
    if sparsity is None:
        w = layer.weights
    else:
        rng = np.random.default_rng(seed)
        w = rng.choice([-7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7], size=layer.weights.shape) * 2.0**-3
        flat = w.reshape(-1)
        flat[rng.permutation(flat.size)[: int(round(sparsity * flat.size))]] = 0.0
    n_out = w.shape[-1]
    out = dot_range(layer.in_range, w.reshape(-1, n_out), layer.bias)
    for op in layer.post:
        out = out.relu() if op == "relu" else op.range()
    return replace(layer, weights=w, out_range=out)


def estimate_lut(layer: Layer) -> int:
    from jpq2hw.costmodel.model import CostLayer, layer_cost

    cl = CostLayer(name=layer.name, op="Conv" if layer.kind == "conv" else "MatMul", weight_bits=4,
                   act_bits=layer.in_type.width, params=layer.params, nonzero_params=layer.nonzero,
                   n_in=layer.window, n_out=layer.n_out)
    return layer_cost(cl).lut


def check_core(layer: Layer, design, n: int = 64) -> bool:
    """The core alone, as a one-layer parallel network, simulated against numpy on random inputs."""
    from jpq2hw.rtl.sim import simulate

    t = layer.in_type
    lo, hi = (-(1 << (t.width - 1)), (1 << (t.width - 1)) - 1) if t.signed else (0, (1 << t.width) - 1)
    ints = np.random.default_rng(1).integers(lo, hi + 1, size=(n, layer.window))
    x = ints * 2.0**-t.frac
    ref = x @ layer.weights.reshape(layer.window, -1) + (layer.bias if layer.bias is not None else 0)
    for op in layer.post:
        if op == "relu":
            ref = np.maximum(ref, 0)
        else:
            qlo, qhi = op.int_bounds()
            ref = np.clip(np.round(ref * 2.0**op.frac), qlo, qhi) * 2.0**-op.frac
    return bool(np.array_equal(simulate(design, x), ref))


def run(layers, sparsities, family="xc7", json_out=None, check=True):
    rows = []
    for base in layers:
        for s in sparsities:
            if s == "as-is" and not np.any(base.weights):
                continue  # a synthetic layer has no weights of its own
            layer = with_sparsity(base, None if s == "as-is" else float(s))
            flat = replace(layer, kind="dense", in_shape=(layer.window,), out_shape=(layer.n_out,),
                           weights=layer.weights.reshape(layer.window, -1))
            q = Requant(layer.in_type.width, layer.in_type.signed, False, -layer.in_type.frac, "ROUND")
            net = Network("x", (layer.window,), None, q, [flat], (layer.n_out,))
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    d = write_design(net, Path(tmp) / "rtl", base.name)
                except JpqError as exc:  # e.g. one negative weight left before a ReLU: the layer is a constant
                    print(f"{base.name:>12} {layer.window}x{layer.n_out:<4} {s}: skipped ({exc})", flush=True)
                    continue
                k = d.kernels[0]
                ok = check_core(flat, d) if check else None
                st = synthesize(d.folder, d.layer_files(k), k.module, family)
            rows.append({
                "layer": base.name, "shape": f"{layer.window}x{layer.n_out}",
                "sparsity": round(1 - layer.nonzero / layer.params, 4), "nonzero": layer.nonzero,
                "estimate_lut": estimate_lut(layer), "da4ml_lut": int(k.da4ml_cost), "yosys_lut": st["lut"],
                "ff": st["ff"], "carry": st["carry"], "dsp": st["dsp"], "logic_delay_ns": st["logic_delay_ns"],
                "synth_s": st["synth_s"], "trace_s": round(d.trace_s, 2), "bit_exact": ok})
            r = rows[-1]
            err = (r["estimate_lut"] - r["yosys_lut"]) / r["yosys_lut"] if r["yosys_lut"] else float("nan")
            print(f"{r['layer']:>12} {r['shape']:>7} {r['sparsity']:>7.1%} {r['nonzero']:>6} {r['estimate_lut']:>8} "
                  f"{r['da4ml_lut']:>7} {r['yosys_lut']:>7} {err:>+7.0%} {r['ff']:>4} {r['carry']:>6} "
                  f"{r['logic_delay_ns']:>7} {r['synth_s']:>7} {str(r['bit_exact']):>6}", flush=True)
    if json_out:
        Path(json_out).write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", default="default", help="default (64x32, MatMul_0, Conv_0) | all | comma list")
    p.add_argument("--sparsities", default="0,0.9,0.95,0.99", help="comma list; 'as-is' = the example's weights")
    p.add_argument("--family", default="xc7")
    p.add_argument("--json", help="write the rows here")
    p.add_argument("--no-check", action="store_true", help="skip the iverilog check of each core")
    a = p.parse_args(argv)
    digits = {l.name: l for l in digits_layers()}
    pool = {"dense_64x32": layer_64x32(), **digits}
    names = {"default": ["dense_64x32", "MatMul_0", "Conv_0"], "all": list(pool)}.get(a.layers, a.layers.split(","))
    sparsities = [s if s == "as-is" else float(s) for s in a.sparsities.split(",")]
    print(f"{'layer':>12} {'shape':>7} {'sparse':>7} {'nz':>6} {'est LUT':>8} {'da4ml':>7} {'yosys':>7} {'est err':>7} "
          f"{'FF':>4} {'CARRY4':>6} {'delay':>7} {'synth s':>7} {'exact':>6}")
    run([pool[n] for n in names], sparsities, a.family, a.json, check=not a.no_check)
    print("LUT/FF/CARRY4: Yosys synth_xilinx cell counts; delay: Yosys sta pre-route logic delay in ns "
          "(no place-and-route); est: jpq2hw cost model (Latency strategy).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
