"""Write the Verilog of a network: one da4ml core per layer, a wrapper giving every element its declared
type, and a top level (parallel for MLPs, a stream of sliding-window stages with line buffers for CNNs).
All hand-written Verilog comes from templates/rtl/."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jpq2hw.errors import JpqError
from jpq2hw.rtl.graph import Network
from jpq2hw.rtl.kernels import Kernel, core_widths, input_slices, output_slices, trace_layer
from jpq2hw.templating import render

TOP = "jpq2hw_top"


@dataclass
class Design:
    net: Network
    folder: Path  # OUT/rtl
    top: str
    kernels: list[Kernel]
    files: list[str] = field(default_factory=list)  # Verilog sources, relative to folder, in read order
    streaming: bool = False
    in_width: int = 0  # bits per input beat (stream: one pixel; parallel: the whole vector)
    out_width: int = 0
    out_per_vector: int = 1  # output beats per input vector
    trace_s: float = 0.0

    def layer_files(self, k: Kernel) -> list[str]:
        """The sources of one layer's kernel alone (da4ml core + helpers + wrapper): for per-layer synthesis."""
        return self.static_files(k.verilog) + [f"src/{k.module}.v", f"src/{wrapper_name(k)}.v"]

    def static_files(self, verilog: str) -> list[str]:
        used = set(re.findall(r"\b(\w+) #\(", verilog))
        if "lookup_table" in used:
            raise JpqError("rtl: a da4ml core uses a lookup table; jpq2hw does not write table memories")
        helpers = {p.stem for p in _static_source_dir().glob("*.v")}
        return [f"src/static/{m}.v" for m in sorted(used & helpers)]


def wrapper_name(k: Kernel) -> str:
    return k.module.removesuffix("_core")


def _safe(name: str) -> str:
    s = re.sub(r"\W", "_", name)
    return s if s[:1].isalpha() else f"l_{s}"


def _static_source_dir() -> Path:
    from da4ml.codegen import rtl

    return Path(rtl.__file__).parent / "verilog" / "source"


def trace_network(net: Network, weights_override: dict | None = None) -> list[Kernel]:
    kernels = []
    for layer in net.layers:
        w = (weights_override or {}).get(layer.name)
        kernels.append(trace_layer(layer, f"{_safe(layer.name)}_core", weights=w))
    return kernels


def write_design(net: Network, folder: Path, source: str = "model", weights_override: dict | None = None,
                 kernels: list[Kernel] | None = None) -> Design:
    import time

    t0 = time.perf_counter()
    kernels = kernels if kernels is not None else trace_network(net, weights_override)
    trace_s = time.perf_counter() - t0
    folder = Path(folder)
    # written into a sibling temp folder and renamed over `folder` only once complete: a refusal (constant
    # layer, lookup table, conv after flatten) or any other failure leaves the previous `folder` as it was
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        design = _write_into(net, tmp, source, kernels, trace_s)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    design.folder = folder
    return design


def _write_into(net: Network, folder: Path, source: str, kernels: list[Kernel], trace_s: float) -> Design:
    (folder / "src" / "static").mkdir(parents=True)
    (folder / "sim").mkdir()
    (folder / "synth").mkdir()

    design = Design(net, folder, TOP, kernels, streaming=net.streaming, trace_s=trace_s)
    static = set()
    for k in kernels:
        ci, co = core_widths(k)
        if ci == 0 or co == 0:
            raise JpqError(f"rtl: layer '{k.layer.name}' is constant (all weights zero): nothing to write")
        (folder / "src" / f"{k.module}.v").write_text(k.verilog)
        static.update(design.static_files(k.verilog))
        (folder / "src" / f"{wrapper_name(k)}.v").write_text(render(
            "rtl/layer.v.j2", module=wrapper_name(k), core=k.module, layer_name=k.layer.name, kind=k.layer.kind,
            n_in=k.n_in, n_out=k.n_out, in_type=k.in_type.hls(), out_type=k.out_type.hls(),
            win=k.in_type.width, wout=k.out_type.width, core_in=ci, core_out=co,
            ins=input_slices(k), outs=output_slices(k)))
    for rel in sorted(static):
        shutil.copy(_static_source_dir() / Path(rel).name, folder / rel)
    files = sorted(static)
    for k in kernels:
        files += [f"src/{k.module}.v", f"src/{wrapper_name(k)}.v"]

    if net.streaming:
        files += _write_stream_top(design, source)
    else:
        files += _write_parallel_top(design, source)
    design.files = files
    return design


def _layer_ref(k: Kernel) -> dict:
    return {"module": wrapper_name(k), "name": k.layer.name, "n": k.n_out, "type": k.out_type.hls(),
            "width": k.n_out * k.out_type.width}


def _write_parallel_top(d: Design, source: str) -> list[str]:
    ks = d.kernels
    first, last = ks[0], ks[-1]
    d.in_width = first.n_in * first.in_type.width
    d.out_width = last.n_out * last.out_type.width
    (d.folder / "src" / f"{d.top}.v").write_text(render(
        "rtl/top_parallel.v.j2", top=d.top, source=source, layers=[_layer_ref(k) for k in ks],
        n_in=first.n_in, win=first.in_type.width, in_type=first.in_type.hls(),
        n_out=last.n_out, wout=last.out_type.width, out_type=last.out_type.hls()))
    return [f"src/{d.top}.v"]


def _bits(n: int) -> int:
    return max(1, int(n).bit_length())


def _write_stream_top(d: Design, source: str) -> list[str]:
    stages, tail, files = [], [], []
    image_done = False
    for k in d.kernels:
        layer = k.layer
        if layer.kind in ("conv", "maxpool"):
            if image_done:
                raise JpqError(f"rtl: layer '{layer.name}' comes after a flatten; not supported in the stream top")
            name = f"{wrapper_name(k)}_stage"
            (d.folder / "src" / f"{name}.v").write_text(_window_stage(name, k))
            files.append(f"src/{name}.v")
            stages.append({"module": name, "out_width": layer.out_shape[2] * k.out_type.width})
        else:
            if not image_done:
                h, w, c = d.kernels[len(stages) - 1].layer.out_shape if stages else (1, 1, layer.in_shape[0])
                pix = c * k.in_type.width
                name = "flatten_stage"
                (d.folder / "src" / f"{name}.v").write_text(render(
                    "rtl/collect_stage.v.j2", module=name, n=h * w, pix=pix, cbits=_bits(h * w)))
                files.append(f"src/{name}.v")
                stages.append({"module": name, "out_width": h * w * pix})
                image_done = True
            tail.append(_layer_ref(k))
    first = d.kernels[0]
    in_pix = first.layer.in_shape[2] * first.in_type.width
    last = d.kernels[-1]
    if tail:
        out_width = tail[-1]["width"]
        out_desc = f"one beat per image, {last.n_out} x {last.out_type.hls()}"
        d.out_per_vector = 1
    else:
        oh, ow, oc = last.layer.out_shape
        out_width = oc * last.out_type.width
        out_desc = f"one pixel ({oc} x {last.out_type.hls()}) per beat, raster order, {oh}x{ow} per image"
        d.out_per_vector = oh * ow
    d.in_width, d.out_width = in_pix, out_width
    (d.folder / "src" / f"{d.top}.v").write_text(render(
        "rtl/top_stream.v.j2", top=d.top, source=source, stages=stages, tail=tail, in_pix=in_pix,
        in_channels=first.layer.in_shape[2], in_type=first.in_type.hls(), out_width=out_width, out_desc=out_desc,
        stage_names=[s["module"] for s in stages] + [t["module"] for t in tail]))
    return files + [f"src/{d.top}.v"]


def _window_stage(name: str, k: Kernel) -> str:
    layer = k.layer
    h, w, cin = layer.in_shape
    kh, kw = layer.kernel
    sh, sw = layer.stride
    pt, pl, pb, pr = layer.pads
    hp, wp = h + pt + pb, w + pl + pr
    taps = (kh - 1) * wp + kw
    pad_terms = []
    if pt:
        pad_terms.append(f"(row < {pt})")
    if pb:
        pad_terms.append(f"(row >= {pt + h})")
    if pl:
        pad_terms.append(f"(col < {pl})")
    if pr:
        pad_terms.append(f"(col >= {pl + w})")
    emit_terms = []
    if kh > 1:
        emit_terms.append(f"(row >= {kh - 1})")
    if kw > 1:
        emit_terms.append(f"(col >= {kw - 1})")
    if sh > 1:
        emit_terms.append(f"(((row - {kh - 1}) % {sh}) == 0)")
    if sw > 1:
        emit_terms.append(f"(((col - {kw - 1}) % {sw}) == 0)")
    window_taps = [{"dy": dy, "dx": dx, "index": dy * kw + dx, "offset": (kh - 1 - dy) * wp + (kw - 1 - dx)}
                   for dy in range(kh) for dx in range(kw)]
    return render(
        "rtl/window_stage.v.j2", module=name, layer_name=layer.name, kind=layer.kind, kernel=wrapper_name(k),
        h=h, w=w, cin=cin, cout=layer.out_shape[2], win=k.in_type.width, wout=k.out_type.width,
        hp=hp, wp=wp, pt=pt, pl=pl, pb=pb, pr=pr, kh=kh, kw=kw, sh=sh, sw=sw, taps=taps,
        rbits=_bits(hp - 1), cbits=_bits(wp - 1),
        pad_expr=" || ".join(pad_terms) if pad_terms else "1'b0",
        emit_expr=" && ".join(emit_terms) if emit_terms else "1'b1",
        window_taps=window_taps)


# --- vectors <-> hex lines -------------------------------------------------------------------------

def pack(values: np.ndarray, width: int) -> str:
    """Integers (element 0 in the low bits), each in two's complement of `width` bits -> one hex word."""
    word, mask = 0, (1 << width) - 1
    for i, v in enumerate(np.asarray(values).ravel().tolist()):
        word |= (int(v) & mask) << (i * width)
    n = len(np.asarray(values).ravel()) * width
    return format(word, "x").zfill((n + 3) // 4)


def unpack(word: str, n: int, width: int, signed: bool) -> list[int]:
    if any(c in word.lower() for c in "xz"):
        raise ValueError(f"undefined bits in simulation output: {word}")
    v, mask = int(word, 16), (1 << width) - 1
    out = []
    for i in range(n):
        e = (v >> (i * width)) & mask
        if signed and e >> (width - 1):
            e -= 1 << width
        out.append(e)
    return out
