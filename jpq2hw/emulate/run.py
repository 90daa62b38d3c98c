"""Run an emulator program: numpy over the whole batch, each layer as the generated C++ computes it.

Every tensor is (codes, frac): int64 codes of the layer's result type, value = code * 2**-frac. Products and sums
follow hls4ml's kernels: each product assigned to the accumulator type, the bias assigned to it first, the sum
kept in it (wrapping sums are summed exactly then wrapped: the same modulo 2**W), the result assigned to the
result type."""

from __future__ import annotations

import contextlib

import numpy as np

from jpq2hw.emulate.fixed import MAX_BITS, Fix, Unsupported, cast, from_float, to_float
from jpq2hw.emulate.program import Op, Program

FLOAT_EXACT = 2 ** 52  # below this every partial sum of integer products is exact in float64


CHUNK_VALUES = 1 << 20  # input values per pass: a conv's window matrix is ~taps times larger (memory, not speed)


def run(program: Program, x: np.ndarray, trace: bool = False):
    """x: (N, *input shape) floats on the input type's grid (the testbench's inputs). Returns the output values
    (N, ...) as float64, and with trace=True also {layer name: values} of every layer. Runs in chunks of vectors
    (every vector is independent) so that a batch of frames does not hold every window matrix at once."""
    x = np.asarray(x, dtype=np.float64)
    step = max(1, CHUNK_VALUES // max(1, int(np.prod(x.shape[1:])) * 64))
    with _one_blas_thread():
        if trace or len(x) <= step:
            return _run(program, x, trace)
        return np.concatenate([_run(program, x[i:i + step], False) for i in range(0, len(x), step)])


def _one_blas_thread():
    """The matrix products are small; BLAS threads waiting on a shared machine cost more than they give (a
    120x160 stereo frame: 10.7 s with OpenBLAS's default threads, 1.2 s with one, at load ~14 on 2 cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _run(program: Program, x: np.ndarray, trace: bool):
    n = x.shape[0]
    env: dict[str, tuple[np.ndarray, int]] = {}
    layers = {}
    for op in program.ops:
        if op.kind == "Input":
            fix = op.types["result_t"]
            env[op.output] = (from_float(x.reshape(n, *op.shape), fix), fix.frac)
        else:
            try:
                env[op.output] = _RUN[op.kind](op, [env[i] for i in op.inputs])
            except Unsupported as exc:
                raise Unsupported(f"layer {op.name} ({op.kind}): {exc}") from None
        if trace:
            layers[op.name] = to_float(*env[op.output])
    codes, frac = env[program.outputs[0]]
    out = to_float(codes, frac)
    return (out, layers) if trace else out


def _result(op: Op, code: np.ndarray, frac: int):
    fix = op.types["result_t"]
    return cast(code, frac, fix), fix.frac




def _dot(op: Op, cols: np.ndarray, frac_x: int, w: np.ndarray, w_frac: int, bias: np.ndarray | None):
    """cols (..., K) input codes, w (K, F) weight codes: acc = bias + sum_k cols*w in accum_t, then result_t."""
    # float64 sums of integer products are exact below 2**52; the windows are made in float64 directly
    bound = float(np.max(np.abs(cols), initial=0)) * float(np.max(np.sum(np.abs(w), axis=0), initial=0))
    _check_exact(bound)
    total = np.rint(cols @ w.astype(np.float64)).astype(np.int64)
    return _accumulate(op, total, frac_x + w_frac, bias, bound)


def _check_exact(bound: float) -> None:
    if bound >= FLOAT_EXACT:
        raise Unsupported(f"sums up to {bound:.3g} steps: beyond the emulator's exact range")


def _accumulate(op: Op, total: np.ndarray, prod_frac: int, bias: np.ndarray | None, bound: float):
    """Exact sums of products (codes at prod_frac) into accum_t with the bias, then into result_t."""
    acc_t: Fix = op.types.get("accum_t") or Fix(MAX_BITS, prod_frac, True)
    if acc_t.frac < prod_frac:
        raise Unsupported(f"products with {prod_frac} fractional bits rounded into a {acc_t.frac}-bit accumulator")
    if bound * 2.0 ** (acc_t.frac - prod_frac) >= 2.0 ** MAX_BITS:
        raise Unsupported(f"sums up to {bound:.3g} steps: beyond the emulator's exact range")
    total = total << (acc_t.frac - prod_frac)
    if bias is not None:
        b = cast(bias, op.types["bias_t"].frac, acc_t)
        total = total + b
        bound += float(np.max(np.abs(b), initial=0)) * 2.0 ** (prod_frac - acc_t.frac)
    if acc_t.saturation != "WRAP" and bound * 2.0 ** (acc_t.frac - prod_frac) > min(-acc_t.lo, acc_t.hi):
        raise Unsupported(f"a saturating accumulator ({acc_t.saturation}) that partial sums may reach")
    acc = cast(total, acc_t.frac, acc_t)  # wrapping: the same modulo 2**W as wrapping each partial sum
    return _result(op, acc, acc_t.frac)


def _dense(op, ins):
    (x, fx), = ins
    w = op.arrays["weight"]
    bias = op.arrays.get("bias")
    return _dot(op, x.reshape(x.shape[0], -1).astype(np.float64), fx, w.reshape(-1, w.shape[-1]),
                op.types["weight_t"].frac, bias)


def _windows(x: np.ndarray, fh: int, fw: int, sh: int, sw: int, dh: int = 1, dw: int = 1) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, fh, fw, C) views of each window."""
    view = np.lib.stride_tricks.sliding_window_view(x, ((fh - 1) * dh + 1, (fw - 1) * dw + 1), axis=(1, 2))
    view = view[:, ::sh, ::sw, :, ::dh, ::dw]  # (N, OH, OW, C, fh, fw)
    return view.transpose(0, 1, 2, 4, 5, 3)


def _pad(x: np.ndarray, p: dict) -> np.ndarray:
    return np.pad(x, ((0, 0), (p["pad_top"], p["pad_bottom"]), (p["pad_left"], p["pad_right"]), (0, 0)))


def _conv2d(op, ins):
    (x, fx), = ins
    p = op.params
    x = _pad(x, p).astype(np.float64)
    win = _windows(x, p["filt_height"], p["filt_width"], p["stride_height"], p["stride_width"],
                   p.get("dilation_height") or 1, p.get("dilation_width") or 1)
    oh, ow = op.shape[0], op.shape[1]
    win = win[:, :oh, :ow]
    w = op.arrays["weight"]  # (fh, fw, C, F)
    cols = win.reshape(*win.shape[:3], -1)
    out, frac = _dot(op, cols, fx, w.reshape(-1, w.shape[-1]), op.types["weight_t"].frac, op.arrays.get("bias"))
    return out, frac


def _depthwise(op, ins):
    """One filter per channel (depth multiplier 1): out[..., c] = bias[c] + sum over the window of x[..., c] w[c]."""
    (x, fx), = ins
    p = op.params
    win = _windows(_pad(x, p).astype(np.float64), p["filt_height"], p["filt_width"], p["stride_height"],
                   p["stride_width"], p.get("dilation_height") or 1, p.get("dilation_width") or 1)
    win = win[:, :op.shape[0], :op.shape[1]]
    w = op.arrays["weight"]
    c = x.shape[-1]
    if w.size != p["filt_height"] * p["filt_width"] * c:
        raise Unsupported("a depth multiplier other than 1")
    w = w.reshape(p["filt_height"] * p["filt_width"], c)
    cols = win.reshape(*win.shape[:3], -1, c)  # (N, OH, OW, taps, C)
    bound = float(np.max(np.abs(cols), initial=0)) * float(np.max(np.sum(np.abs(w), axis=0), initial=0))
    _check_exact(bound)
    total = np.rint(np.einsum("...tc,tc->...c", cols, w.astype(np.float64))).astype(np.int64)
    bias = op.arrays.get("bias")
    return _accumulate(op, total, fx + op.types["weight_t"].frac, None if bias is None else bias.reshape(-1), bound)


def _resize(op, ins):
    (x, fx), = ins
    p = op.params
    fh, fw = p["out_height"] // p["in_height"], p["out_width"] // p["in_width"]
    if fh * p["in_height"] != p["out_height"] or fw * p["in_width"] != p["out_width"]:
        raise Unsupported("a resize by a non-integer factor")
    return _result(op, np.repeat(np.repeat(x, fh, axis=1), fw, axis=2), fx)


def _zeropad(op, ins):
    (x, fx), = ins
    return _result(op, _pad(x, op.params), fx)


def _pool(op, ins):
    (x, fx), = ins
    p = op.params
    if any(p[k] for k in ("pad_top", "pad_bottom", "pad_left", "pad_right")):
        raise Unsupported("padded max pooling")
    win = _windows(x, p["pool_height"], p["pool_width"], p["stride_height"], p["stride_width"])
    win = win[:, :op.shape[0], :op.shape[1]]
    return _result(op, win.max(axis=(3, 4)), fx)


def _transpose(op, ins):
    (x, fx), = ins
    return _result(op, np.transpose(x, (0, *[int(a) + 1 for a in op.params["perm"]])), fx)


def _reshape(op, ins):
    (x, fx), = ins
    return x.reshape(x.shape[0], *op.shape), fx  # no type change: layout only


def _activation(op, ins):
    (x, fx), = ins
    if op.params["activation"] == "relu":
        x = np.where(x > 0, x, 0)
    return _result(op, x, fx)


def _align(a, fa, b, fb):
    f = max(fa, fb)
    return a << (f - fa), b << (f - fb), f


def _merge(op, ins):
    (a, fa), (b, fb) = ins
    a, b, f = _align(a, fa, b, fb)
    kind = str(op.params["op"]).lower()
    if kind == "add":
        return _result(op, a + b, f)
    if kind in ("subtract", "sub"):
        return _result(op, a - b, f)
    raise Unsupported(f"merge op {kind}")


def _concatenate(op, ins):
    (a, fa), (b, fb) = ins
    res = op.types["result_t"]
    axis = int(op.params["axis"])
    axis = axis + 1 if axis >= 0 else axis
    return np.concatenate([cast(a, fa, res), cast(b, fb, res)], axis=axis), res.frac


def _threshold(op, ins):
    (x, fx), = ins
    thr_t: Fix = op.types["thresholds_t"]
    signed_t = Fix(thr_t.width + 1, thr_t.frac, True)  # ap_fixed<thr.width + 1, thr.integer + 1>, AP_TRN/AP_WRAP
    n_chan, levels = int(op.params["n_chan"]), int(op.params["n_levels"])
    flat = x.reshape(x.shape[0], -1)
    chan = np.arange(flat.shape[1]) % n_chan
    signs = op.arrays["signs"].reshape(-1)[chan]  # codes of signs_t
    neg = (signs * 2.0 ** -op.types["signs_t"].frac) < 0
    v = cast(np.where(neg, -flat, flat), fx, signed_t)
    thr = op.arrays["thresholds"].reshape(n_chan, levels)[chan]  # (n_in, levels) codes at thr_t.frac
    count = np.sum(v[..., None] >= thr[None], axis=-1)
    code = int(op.params["out_lo"]) + int(op.params.get("out_step") or 1) * count
    return _result(op, code.reshape(x.shape), 0)


def _cost_volume(op, ins):
    (x, fx), = ins
    f, dmax = int(op.params["n_feat"]), int(op.params["max_disp"])
    acc_t: Fix = op.types["accum_t"]
    if acc_t.frac < 2 * fx:
        raise Unsupported("products rounded into the accumulator")
    left, right = x[..., :f], x[..., f:]
    n, h, w, _ = x.shape
    out = np.zeros((n, h, w, dmax), dtype=np.int64)
    for d in range(dmax):  # the shift register reads zeros left of the row start
        s = np.einsum("nhwf,nhwf->nhw", left[:, :, d:], right[:, :, :w - d])
        out[:, :, d:, d] = cast(s << (acc_t.frac - 2 * fx), acc_t.frac, acc_t)
    return _result(op, out, acc_t.frac)


def _argmax(op, ins):
    (x, fx), = ins
    return _result(op, np.argmax(x, axis=-1)[..., None], 0)  # the first maximum, as the C++ loop keeps


_RUN = {"Dense": _dense, "Conv2D": _conv2d, "PointwiseConv2D": _conv2d, "DepthwiseConv2D": _depthwise,
        "Resize": _resize, "ZeroPadding2D": _zeropad, "Pooling2D": _pool, "Transpose": _transpose,
        "Reshape": _reshape, "Activation": _activation, "Merge": _merge, "Concatenate": _concatenate,
        "Jpq2hwThreshold": _threshold, "StereoCostVolume": _cost_volume, "StereoArgmax": _argmax}
