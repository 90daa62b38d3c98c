"""Will the C-simulation fit in the stack? hls4ml's io_parallel dense layers (Latency strategy) keep all
n_in x n_out products in one local array (nnet_dense_latency.h: `accum_t mult[n_in * n_out]`), and a
convolution its n_pixels x kernel input buffer and products (nnet_conv2d_latency.h). The testbench runs with
the largest stack the system allows (axis_check._large_stack); where that limit is finite and a layer needs
more, the build stops before compiling, naming the layer, its size and the limit.

Measured (benchmarks/build_speed.py's machine, g++ -O1): a 4096 x 2048 dense layer (8.4M weights) needs about
32 MiB and crashes (SIGSEGV) under the usual 8 MiB and under 16 MiB, runs under 64 MiB and unlimited."""

from __future__ import annotations

import resource

from jpq2hw.errors import JpqError

MIB = 1 << 20
BASE_BYTES = 8 * MIB  # the rest of the program: layer outputs, the testbench, libc


def stack_limit() -> int | None:
    """The hard stack limit in bytes (what the testbench is given), None if unlimited."""
    hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
    return None if hard == resource.RLIM_INFINITY else int(hard)


def largest_local_arrays(hls_model) -> tuple[str, int, str] | None:
    """(layer name, bytes, what) of the layer whose local arrays are largest in the C-simulation."""
    if hls_model.config.get_config_value("IOType") != "io_parallel":
        return None
    worst = None
    for layer in hls_model.get_layers():
        strategy = str(layer.get_attr("strategy", "latency")).lower()
        if strategy != "latency" or layer.class_name not in ("Dense", "Conv1D", "Conv2D", "PointwiseConv2D"):
            continue
        acc = layer.get_attr("accum_t")
        acc_bytes = _bytes(acc.precision.width) if acc is not None else 4
        if layer.class_name == "Dense":
            n_in, n_out = int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
            need, what = n_in * n_out * acc_bytes, f"{n_in} x {n_out} products"
        else:
            k = int(layer.get_attr("filt_height", 1)) * int(layer.get_attr("filt_width", 1))
            n_chan, n_filt = int(layer.get_attr("n_chan")), int(layer.get_attr("n_filt"))
            pixels = int(layer.get_attr("out_height", 1)) * int(layer.get_attr("out_width", 1))
            need = pixels * (k * n_chan + n_filt) * acc_bytes + k * n_chan * n_filt * acc_bytes
            what = f"{pixels} pixels x {k * n_chan} inputs"
        if worst is None or need > worst[1]:
            worst = (layer.name, need, what)
    return worst


def check_stack(hls_model) -> None:
    limit = stack_limit()
    worst = largest_local_arrays(hls_model)
    if limit is None or worst is None:
        return
    name, need, what = worst
    if need + BASE_BYTES > limit:
        raise JpqError(f"layer {name}: its io_parallel C-simulation keeps {what} on the stack (~{need / MIB:.0f} MiB), "
                       f"more than this system allows ({limit / MIB:.0f} MiB, ulimit -Hs); use --reuse-factor 2 or "
                       "more (no product array) or raise the limit")


def _bytes(width: int) -> int:
    """sizeof an ap_fixed/ap_int of `width` bits in the shipped ap_types (int, then long long, then arrays)."""
    return 4 if width <= 32 else 8 if width <= 64 else (width + 63) // 64 * 8
