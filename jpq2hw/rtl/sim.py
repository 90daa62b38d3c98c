"""Simulate the written RTL with Icarus Verilog on the build's test vectors and compare bit for bit with
the reference (onnxruntime) outputs."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

import numpy as np

from jpq2hw.errors import JpqError, ToolMissing
from jpq2hw.rtl.design import Design, pack, unpack
from jpq2hw.rtl.graph import hardware_inputs
from jpq2hw.templating import render

INSTALL_HINT = "apt-get install -y yosys iverilog"
FLAT = "rtl_flat.v"


@dataclass
class SimResult:
    bit_exact: bool
    vectors: int
    mismatched_vectors: int
    first_mismatch: int | None
    max_abs_error: float
    cycles: int | None
    seconds: float
    simulator: str

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(f"{tool} is not installed; install it with: {INSTALL_HINT}")
    return path


def iverilog_version() -> str:
    out = subprocess.run([require("iverilog"), "-V"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "iverilog"


def simulate(design: Design, xs: np.ndarray, timeout_s: float = 600) -> np.ndarray:
    """Run the test vectors (graph layout, float) through the RTL; returns the outputs as floats, in the
    hardware layout (channels-last), shape (n, *output_shape)."""
    require("iverilog")
    require("vvp")
    net, first, last = design.net, design.kernels[0], design.kernels[-1]
    ints = hardware_inputs(net, xs)
    n = len(xs)
    sim = design.folder / "sim"
    win = first.in_type.width
    if design.streaming:
        pixels = ints.reshape(n * int(np.prod(ints.shape[1:3])), ints.shape[3])
        lines = [pack(p, win) for p in pixels]
    else:
        lines = [pack(v, win) for v in ints]
    (sim / "inputs.hex").write_text("\n".join(lines) + "\n")
    n_out_beats = n * design.out_per_vector
    if design.streaming:
        tb = render("rtl/tb_stream.v.j2", top=design.top, inputs="inputs.hex", outputs="outputs.hex",
                    n_vectors=n, n_beats=len(lines), n_out_beats=n_out_beats, in_width=design.in_width,
                    out_width=design.out_width, max_cycles=20 * len(lines) + 2000)
    else:
        tb = render("rtl/tb_parallel.v.j2", top=design.top, inputs="inputs.hex", outputs="outputs.hex",
                    n_vectors=n, in_width=design.in_width, out_width=design.out_width)
    (sim / "tb.v").write_text(tb)
    (sim / "outputs.hex").unlink(missing_ok=True)
    flatten_for_simulation(design)
    comp = subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", "-s", "tb", FLAT, "tb.v"], cwd=sim,
                          capture_output=True, text=True, timeout=timeout_s)
    if comp.returncode != 0:
        raise JpqError(f"rtl: iverilog could not compile the design: {_first_line(comp.stderr)}")
    run = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=sim, capture_output=True, text=True, timeout=timeout_s)
    (sim / "vvp.log").write_text(run.stdout + run.stderr)
    if run.returncode != 0 or "TIMEOUT" in run.stdout:
        raise JpqError(f"rtl: simulation failed: {_first_line(run.stdout + run.stderr)} (see {sim / 'vvp.log'})")
    design.sim_cycles = next((int(l.split()[1]) for l in run.stdout.splitlines() if l.startswith("cycles ")), None)
    words = (sim / "outputs.hex").read_text().split()
    if len(words) != n_out_beats:
        raise JpqError(f"rtl: simulation wrote {len(words)} output beats, expected {n_out_beats}")
    t = last.out_type
    per_beat = design.out_width // t.width
    vals = np.array([unpack(w, per_beat, t.width, t.signed) for w in words], dtype=np.float64)
    return np.ldexp(vals, -t.frac).reshape(n, *net.output_shape)


def flatten_for_simulation(design: Design, timeout_s: float = 600) -> None:
    """Write sim/rtl_flat.v: the design's own sources as Yosys elaborates them (read, proc, flatten; no
    synthesis, no optimization beyond removing unused wires). vvp is about 15x slower on da4ml's thousands of
    small parameterized helper instances than on the same logic flattened into plain assignments."""
    require("yosys")
    reads = "; ".join(f"read_verilog ../{f}" for f in design.files)
    script = f"{reads}; hierarchy -check -top {design.top}; proc; flatten; opt_clean; write_verilog -noattr {FLAT}"
    (design.folder / "sim" / "flatten.ys").write_text(script.replace("; ", "\n") + "\n")
    run = subprocess.run(["yosys", "-q", "-s", "flatten.ys"], cwd=design.folder / "sim", capture_output=True,
                         text=True, timeout=timeout_s)
    if run.returncode != 0:
        raise JpqError(f"rtl: yosys could not elaborate the design: {_first_line(run.stderr + run.stdout)}")


def to_graph_layout(design: Design, hw: np.ndarray, expected_shape: tuple) -> np.ndarray:
    """Hardware-layout outputs -> the reference's layout (NCHW for an image output)."""
    if hw.ndim == 4 and len(expected_shape) == 4:
        hw = np.transpose(hw, (0, 3, 1, 2))
    return hw.reshape(len(hw), *expected_shape[1:])


def run_and_compare(design: Design, xs: np.ndarray, expected: np.ndarray) -> SimResult:
    t0 = time.perf_counter()
    design.sim_cycles = None
    hw = to_graph_layout(design, simulate(design, xs), expected.shape)
    exp = np.asarray(expected, dtype=np.float64)
    diff = np.abs(hw - exp).reshape(len(xs), -1)
    bad = np.nonzero(np.any(hw.reshape(len(xs), -1) != exp.reshape(len(xs), -1), axis=1))[0]
    np.save(design.folder / "sim" / "rtl_outputs.npy", hw)
    proven = design.folder / "sim" / "expected.hex"  # what run.sh compares a re-run against
    proven.unlink(missing_ok=True)
    if len(bad) == 0:  # these words equal the reference outputs, checked above
        proven.write_text((design.folder / "sim" / "outputs.hex").read_text())
    return SimResult(
        bit_exact=len(bad) == 0, vectors=len(xs), mismatched_vectors=int(len(bad)),
        first_mismatch=int(bad[0]) if len(bad) else None, max_abs_error=float(diff.max()) if diff.size else 0.0,
        cycles=design.sim_cycles, seconds=round(time.perf_counter() - t0, 3), simulator=iverilog_version())


def _first_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[0] if lines else "no output"
