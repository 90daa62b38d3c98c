"""The hardware cost estimate (jpq2hw.costmodel) for example models, dense vs sparse, printed.

    python benchmarks/cost_estimate.py [--board pynq-z2] [--no-da4ml] [MODEL.onnx ...]

Without arguments: the shipped example (examples/digits/digits_cnn.onnx, if present) and the report tests'
conv net and MLP made at several sparsities. Everything is an estimate (no synthesis). When da4ml is
installed, each layer's integer weights are also traced through da4ml's CMVM optimizer and its LUT cost is
printed next to our distributed-arithmetic figure (alpha_da * nz * b_w * b_a) as an independent check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "report"))
sys.path.insert(0, str(ROOT / "tests"))  # testkit, which the report test models use


def analyse(path: Path):
    from jpq2hw.pipeline import analyze_file

    state = analyze_file(path)
    return state.model, state.analysis


def da4ml_luts(model, analysis) -> list[float | None]:
    """da4ml's analytic LUT cost of each layer's constant matrix (fan-in x outputs), or None."""
    try:
        from da4ml.trace import FixedVariableArray, comb_trace
    except ImportError:
        return [None] * len(analysis.layers)
    from jpq2hw.annotate.quant_types import _producer_quant, quant_spec, quantized_constant

    nodes = {n.name: n for n in model.graph.node}
    out = []
    for layer in analysis.layers:
        node = nodes[layer.name]
        wq = model.find_producer(node.input[1])
        spec = quant_spec(model, wq)
        w = np.asarray(quantized_constant(model, wq)) * 2.0 ** -spec.scale_exp  # integers
        w = w.reshape(w.shape[0], -1).T if layer.op == "Conv" else w  # -> (fan-in, outputs)
        aq = _producer_quant(model, node.input[0])
        a = quant_spec(model, aq) if aq is not None else None
        bits, signed = (a.bits, a.signed) if a is not None else (16, True)
        n = w.shape[0]
        inp = FixedVariableArray.from_kif(np.full(n, int(signed)), np.full(n, bits - int(signed)), np.zeros(n))
        out.append(float(comb_trace(inp, inp @ w).cost) if np.any(w) else 0.0)
    return out


def row(name, sparsity_label, est, da_cost, da_est):
    t, p = est.totals(), est.to_dict()["performance"]
    fit = est.fit_status()
    da = f"{da_cost:>8,.0f} / {da_est:>8,.0f}" if da_cost is not None else "        -"
    return (f"{name:<22} {sparsity_label:>6} {t['nonzero_params']:>7,}/{t['params']:<7,} {t['weight_memory_bits']:>9,} "
            f"{t['bops']:>12,} {t['multipliers']:>7,} {t['lut']:>8,} {t['ff']:>8,} {t['dsp']:>4} {t['bram36']:>6} "
            f"{p['ii_cycles']:>6} {p['latency_us']:>8.3f} {fit:>13}   {da}")


def main(argv=None) -> int:
    from jpq2hw.boards import load_board
    from jpq2hw.costmodel import cost_layers, estimate, fit_auto
    from jpq2hw.errors import JpqError
    from jpq2hw.costmodel.model import ALPHA_DA

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--no-da4ml", action="store_true")
    args = ap.parse_args(argv)
    board = load_board(args.board)

    work = Path(tempfile.mkdtemp(prefix="jpq2hw-cost-"))
    cases = [(p.stem, "-", p) for p in args.models]
    if not cases:
        example = ROOT / "examples" / "digits" / "digits_cnn.onnx"
        if example.exists():
            cases.append(("digits_cnn (example)", "-", example))
        from report_models import conv_net, mlp

        for s in (0.0, 0.5, 0.9):
            cases.append(("conv_net", f"{s:.0%}", conv_net(work / f"conv_{s}.onnx", sparsity=s)))
        for s in (0.0, 0.9, 0.95, 0.99):
            cases.append(("mlp 32-128-10", f"{s:.0%}", mlp(work / f"mlp_{s}.onnx", sparsity=s, width=128)))

    print(f"Hardware cost ESTIMATE on {board.name} ({board.part}, {board.clock_mhz} MHz), io_parallel, "
          f"Latency strategy (hard-wired weights); not a synthesis result.")
    head = (f"{'model':<22} {'sparse':>6} {'nonzero/params':>15} {'mem bits':>9} {'BOPs':>12} {'mults':>7} "
            f"{'LUT':>8} {'FF':>8} {'DSP':>4} {'BRAM36':>6} {'II':>6} {'lat us':>8} {'fit':>13}   "
            f"da4ml LUT / ours(DA)")
    print(head)
    print("-" * len(head))
    unfit = []
    for name, label, path in cases:
        model, analysis = analyse(path)
        layers = cost_layers(model, analysis)
        est = estimate(layers, board)
        da_cost = da_est = None
        if not args.no_da4ml:
            costs = da4ml_luts(model, analysis)
            if all(c is not None for c in costs):
                da_cost = sum(costs)
                da_est = sum(ALPHA_DA * l.nonzero_params * l.weight_bits * l.a_bits for l in layers)
        print(row(name, label, est, da_cost, da_est))
        if est.fit_status() != "fits":
            unfit.append((name, label, layers))
    for name, label, layers in unfit:
        try:
            plan = fit_auto(layers, board)
        except JpqError as exc:
            print(f"\n--fit auto, {name} {label}: {exc}")
            continue
        print(f"\n--fit auto, {name} {label}: " + ", ".join(f"{k}: {c.label}" for k, c in plan.choices.items()))
        print(row(name, label + "*", plan.estimate, None, None))
    print("\nmem bits: weight memory, dense or CSR + biases (jpq2hw/metrics.py, docs/report.md); BOPs: nonzero MACs x b_w x b_a; mults: multipliers left after "
          "pruning; lat us: latency estimate at the board clock.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
