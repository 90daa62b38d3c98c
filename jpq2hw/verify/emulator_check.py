"""The emulator beside the C-simulation: the same vectors through jpq2hw/emulate, compared bit for bit with the
C++'s outputs. It widens the check (the emulator then runs any number of frames, e.g. a test split or
examples/stereo/predict.py --hw) and never replaces it: a disagreement fails the verdict and names the first
layer where the two differ (the C++ traced on that vector by hls4ml)."""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from jpq2hw.emulate.fixed import Unsupported
from jpq2hw.emulate.program import Program, from_hls_model
from jpq2hw.emulate.run import run

FOLDER = "emulator"  # OUT/emulator/: program.json + weights.npz


@dataclass
class EmulatorCheck:
    status: str  # "agrees" | "disagrees" | "not emulated"
    vectors: int = 0
    mismatched_vectors: int = 0
    first_mismatch: int | None = None
    first_divergent_layer: str | None = None
    why: str | None = None  # for "not emulated": the layer or type the emulator does not reproduce
    seconds: float = 0.0

    @property
    def fails(self) -> bool:
        return self.status == "disagrees"

    def to_report(self) -> dict:
        return asdict(self)


def check(hls_model, hw_in: np.ndarray, csim_out: np.ndarray, out: Path) -> EmulatorCheck:
    """Emulate every vector the C-simulation ran and compare; save the program in OUT/emulator/ when it agrees."""
    start = time.perf_counter()
    try:
        program = from_hls_model(hls_model)
        result = compare_with_csim(program, hw_in, csim_out, hls_model.trace)
    except Unsupported as exc:
        return EmulatorCheck("not emulated", why=str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001  an emulator fault must not take the C-simulation's verdict with it
        return EmulatorCheck("not emulated", why=f"emulator error: {type(exc).__name__}: {exc}",
                             seconds=time.perf_counter() - start)
    if result.status == "agrees":
        program.save(out / FOLDER)
    result.seconds = time.perf_counter() - start
    return result


def compare_with_csim(program: Program, hw_in: np.ndarray, csim_out: np.ndarray, trace) -> EmulatorCheck:
    """`trace(x)` -> (output, {layer: values}): the C++ traced on one vector (hls4ml's ModelGraph.trace)."""
    n = len(hw_in)
    try:
        emulated = run(program, hw_in.reshape(n, -1))
    except Unsupported as exc:
        return EmulatorCheck("not emulated", why=str(exc))
    got, want = emulated.reshape(n, -1), np.asarray(csim_out, dtype=np.float64).reshape(n, -1)
    if got.shape != want.shape:
        bad = np.arange(n)
    else:
        bad = np.nonzero(np.any(got != want, axis=1))[0]
    result = EmulatorCheck("agrees" if len(bad) == 0 else "disagrees", vectors=n, mismatched_vectors=int(len(bad)),
                           first_mismatch=int(bad[0]) if len(bad) else None)
    if len(bad):
        result.first_divergent_layer = first_divergent_layer(program, hw_in[bad[0]], trace)
    return result


def first_divergent_layer(program: Program, x: np.ndarray, trace) -> str | None:
    """The first layer whose traced C++ output differs from the emulator's on one vector."""
    with contextlib.redirect_stdout(io.StringIO()):
        _, traced = trace(np.ascontiguousarray(x.reshape(1, -1), dtype=np.float64))
    _, emulated = run(program, x.reshape(1, -1), trace=True)
    for op in program.ops:
        if op.name not in traced or op.name not in emulated:
            continue
        a = np.asarray(traced[op.name], dtype=np.float64).ravel()
        b = emulated[op.name].ravel()
        if a.size != b.size or np.any(a != b):
            return op.name
    return program.ops[-1].name  # every traced layer agrees: the difference is after the last one traced
