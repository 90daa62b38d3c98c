"""Trace each layer's per-pixel kernel with da4ml into a constant-weight shift-add adder graph.

The kernel of a dense layer is the whole layer; of a conv layer, one output pixel from its kh x kw x cin
window (inputs ordered kh, kw, cin); of a max-pool, the per-channel maximum of its window. The inputs are
declared with exactly the fixed-point type the HLS path gives the layer's input (FixedVariableArray.from_kif);
the bias, ReLU and requantization (round half to even + saturation, as ap_fixed<..., AP_RND_CONV, AP_SAT>
and QONNX Quant ROUND) are traced after the sum, so the Verilog is bit-exact by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jpq2hw.core.fixed import FixedType
from jpq2hw.errors import JpqError
from jpq2hw.rtl.graph import Layer, Requant


@dataclass
class Kernel:
    layer: Layer
    module: str  # Verilog module name of the da4ml core
    sol: object  # da4ml CombLogic
    in_type: FixedType  # every input element (declared)
    out_type: FixedType  # every output element (declared)
    verilog: str  # the da4ml core module

    @property
    def n_in(self) -> int:
        return len(self.sol.inp_qint)

    @property
    def n_out(self) -> int:
        return len(self.sol.out_qint)

    @property
    def da4ml_cost(self) -> float:
        return float(self.sol.cost)


def kif(t: FixedType) -> tuple[int, int, int]:
    """FixedType -> da4ml (keep_negative, integer bits without the sign, fractional bits)."""
    k = int(t.signed)
    return k, t.integer - k, t.frac


def _round_half_even(v, f: int):
    """v (a da4ml FixedVariable) rounded to the 2**-f grid, ties to even, without overflow (wide result)."""
    k0, i0, f0 = v.kif
    if f >= f0:
        return v
    lsb = v.quantize(0, 1 - f, f, "WRAP", "TRN")  # the bit of weight 2**-f, as b * 2**-f
    t = v + (2.0 ** -(f + 1) - 2.0**-f0) + lsb * 2.0 ** (f - f0)
    tk, ti, _ = t.kif
    return t.quantize(tk, ti, f, "WRAP", "TRN")  # floor on the 2**-f grid


def requantize(v, rq: Requant):
    """QONNX Quant on one traced value: round (half to even, or floor), then clip to [qmin, qmax]."""
    if rq.rounding == "ROUND":
        r = _round_half_even(v, rq.frac)
    else:
        k0, i0, _ = v.kif
        r = v.quantize(k0, i0, rq.frac, "WRAP", "TRN") if v.kif[2] > rq.frac else v
    lo, hi = rq.int_bounds()
    step = 2.0**-rq.frac
    if r.low < lo * step:
        r = r.max_of(lo * step)
    if r.high > hi * step:
        r = r.min_of(hi * step)
    t = rq.fixed_type()
    k, i, f = kif(t)
    return r.quantize(k, i, f, "WRAP", "TRN")


def _post(arr, layer: Layer):
    from da4ml.trace import FixedVariableArray

    vars_ = arr._vars.ravel()
    out = []
    for v in vars_:
        for op in layer.post:
            v = v.relu() if op == "relu" else requantize(v, op)
        out.append(v)
    return FixedVariableArray(np.array(out).reshape(arr._vars.shape), arr.solver_options, hwconf=arr.hwconf)


def trace_layer(layer: Layer, module: str, weights: np.ndarray | None = None) -> Kernel:
    """The da4ml solution and Verilog of `layer`'s kernel. `weights` overrides the layer's (for tests)."""
    from da4ml.codegen.rtl.verilog import comb_logic_gen
    from da4ml.trace import FixedVariableArray, comb_trace

    in_t, out_t = layer.in_type, layer.out_type
    k, i, f = kif(in_t)
    n = layer.window
    inp = FixedVariableArray.from_kif(np.full(n, k), np.full(n, i), np.full(n, f))
    w = layer.weights if weights is None else weights
    if layer.kind in ("dense", "conv"):
        y = inp @ np.asarray(w, dtype=np.float64).reshape(n, layer.n_out)
        if layer.bias is not None:
            y = y + np.asarray(layer.bias, dtype=np.float64)
        y = _post(y, layer)
    elif layer.kind == "maxpool":
        win = inp.reshape(layer.kernel[0] * layer.kernel[1], layer.in_shape[2])
        y = win[0]
        for r in range(1, win.shape[0]):
            y = np.maximum(y, win[r])
    else:
        raise JpqError(f"rtl: layer kind {layer.kind} has no kernel")
    sol = comb_trace(inp, y)
    _check_io(sol, layer, in_t, out_t)
    verilog = comb_logic_gen(sol, module, False, "`timescale 1ns/1ps")
    return Kernel(layer, module, sol, in_t, out_t, verilog)


def _check_io(sol, layer: Layer, in_t: FixedType, out_t: FixedType) -> None:
    """The core's packed ports hold exactly the declared types (checked, so the wrapper's bit slicing is right)."""
    from da4ml.types import minimal_kif

    k, i, f = kif(in_t)
    for j, (q, s) in enumerate(zip(sol.inp_qint, sol.inp_shifts)):
        kk, ii, ff = minimal_kif(q)
        if kk + ii + ff == 0:
            continue  # input unused (all its weights are zero)
        if s != 0 or ff != f or kk + ii + ff != in_t.width:
            raise JpqError(f"rtl: layer '{layer.name}': da4ml changed the type of input {j} ({q}, shift {s})")
    for j, q in enumerate(sol.out_qint):
        kk, ii, ff = minimal_kif(q)
        if kk + ii + ff == 0:
            continue
        # da4ml's interval may be wider than the exact range (its adder graph bounds each partial sum on its
        # own); the declared type holds every value the layer can produce, so the extra high bits are dropped
        # (two's complement wrap, exact). A finer grid than declared would mean a real mismatch.
        if ff > out_t.frac:
            raise JpqError(f"rtl: layer '{layer.name}': output {j} ({q}) is finer than {out_t.hls()}")


def output_slices(k: Kernel) -> list[dict]:
    """Per output element: where its bits sit in the core's packed output and how to widen them to the
    declared type (sign or zero extension on the left, zeros on the right)."""
    from da4ml.types import minimal_kif

    W, F = k.out_type.width, k.out_type.frac
    pos, out = 0, []
    for j, q in enumerate(k.sol.out_qint):
        kk, ii, ff = minimal_kif(q)
        w = kk + ii + ff
        if w == 0 or k.sol.out_idxs[j] < 0:
            out.append({"width": 0, "lo": pos, "left": 0, "right": 0, "signed": False})
            pos += max(w, 0)
            continue
        right = F - ff
        left = W - right - w
        used = w + min(left, 0)  # more integer bits than declared: keep the low ones (values fit: exact)
        assert right >= 0, (q, k.out_type)
        if used <= 0:
            out.append({"width": 0, "lo": pos, "left": 0, "right": 0, "signed": False})
        else:
            out.append({"width": used, "lo": pos, "left": max(left, 0), "right": right,
                        "signed": bool(kk) and k.out_type.signed})
        pos += w
    return out


def input_slices(k: Kernel) -> list[dict]:
    from da4ml.types import minimal_kif

    pos, out = 0, []
    for q in k.sol.inp_qint:
        w = sum(minimal_kif(q))
        out.append({"width": w, "lo": pos})
        pos += w
    return out


def core_widths(k: Kernel) -> tuple[int, int]:
    from da4ml.types import minimal_kif

    return (sum(sum(minimal_kif(q)) for q in k.sol.inp_qint), sum(sum(minimal_kif(q)) for q in k.sol.out_qint))
