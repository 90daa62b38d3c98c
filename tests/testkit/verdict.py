"""Build once, judge many times: the verdict steps rerun on a finished build's saved C-simulation outputs, with
one value of the hardware's outputs or of the reference changed, to show the verdict can say no.

`prepare` runs a real build up to and including the C-simulation (convert, g++, the testbench run) and the numpy
emulator's check of it, and keeps its state and the testbench's result. `judge` copies that state and reruns the steps that decide the verdict
(simulate's comparison, host_tail, report, summary, and trace if asked) on outputs given to it instead of the
testbench's, in milliseconds. The emulator's check keeps the clean build's result (it has its own tests,
tests/build/test_emulator.py), so what is judged here is the comparison with the reference, the wrapper check
and the host tail. tests/verdict/ and scripts/mutate_verdict.py share it."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

from jpq2hw.pipeline.options import BuildOptions
from jpq2hw.pipeline.runner import run_steps
from jpq2hw.pipeline.state import BuildState
from jpq2hw.pipeline.steps import STEPS
from jpq2hw.progress import Progress
from jpq2hw.writer import axis_check

VERDICT_STEPS = ("simulate", "host_tail", "report", "summary")


@dataclass
class Prepared:
    name: str
    state: BuildState  # after the real simulate step (the output folder renamed into place)
    axis: axis_check.AxisCheckResult  # the real testbench run: its outputs, in the hardware's units

    @property
    def hw(self) -> np.ndarray:
        return self.axis.outputs

    @property
    def expected(self) -> np.ndarray:
        return self.state.expected


def prepare(name: str, model: Path, out: Path, **options) -> Prepared:
    """A real build of `model` up to the C-simulation; asserts nothing (the caller checks the clean verdict)."""
    state = BuildState.start(BuildOptions(model=Path(model), out=Path(out), quiet=True, **options))
    seen: list[axis_check.AxisCheckResult] = []
    real = axis_check.run_testbench

    def keep(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    with mock.patch.object(axis_check, "run_testbench", keep):
        run_steps(state, stop_after="emulate")
    state.work_dir = None  # the runner renamed the temporary folder to OUT when it stopped
    return Prepared(name, state, seen[-1])


def output_step(prepared: Prepared) -> np.ndarray:
    """One quantizer step of each output value, in the hardware's units (an integer core counts codes)."""
    s = prepared.state
    if s.boundary.integer_core:
        return np.ones(prepared.hw.shape[1:])
    step = 2.0 ** -prepared.state.project_info.output.fractional
    return np.full(prepared.hw.shape[1:], step)


def corrupt_one(values: np.ndarray, vector: int, index: int, by: np.ndarray | float) -> np.ndarray:
    """A copy of `values` (vectors, ...) with one value of one vector moved by `by` (its step there)."""
    out = np.array(values, dtype=np.float64, copy=True)
    flat = out.reshape(len(out), -1)
    step = np.asarray(by, dtype=np.float64).ravel()
    flat[vector, index] += step[index % step.size]
    return out


def judge(prepared: Prepared, hw: np.ndarray | None = None, expected: np.ndarray | None = None,
          axis_passed: bool | None = None, with_trace: bool = False) -> BuildState:
    """Rerun the verdict on the prepared build, with the testbench's outputs replaced by `hw` (hardware units,
    shaped like prepared.hw) and the reference's by `expected` where given. Returns the judged state
    (exit_code, report, divergent...)."""
    s = copy.copy(prepared.state)
    s.progress = Progress(quiet=True)
    s.report, s.exit_code, s.divergent, s.tail_error, s.tail_ok = {}, None, None, None, True
    if expected is not None:
        s.expected = np.asarray(expected, dtype=np.float64).reshape(prepared.expected.shape)
    axis = dataclasses.replace(prepared.axis, outputs=prepared.hw if hw is None else np.asarray(hw, np.float64))
    if axis_passed is not None:
        axis = dataclasses.replace(axis, passed=axis_passed)
    names = VERDICT_STEPS[:2] + (("trace",) if with_trace else ()) + VERDICT_STEPS[2:]
    steps = [dataclasses.replace(st, in_output_folder=False) for st in STEPS if st.name in names]
    with mock.patch.object(axis_check, "run_testbench", lambda *a, **k: axis):
        run_steps(s, steps=steps)
    return s


def flip_one_weight(hls_model) -> str:
    """Change the C++ itself: negate the largest positive weight of the last layer that has weights (its type
    holds the negated value, so nothing saturates) and rewrite the project. Returns the layer's name."""
    layer = [l for l in hls_model.get_layers() if "weight" in l.weights and np.any(l.weights["weight"].data > 0)][-1]
    data = layer.weights["weight"].data
    k = int(np.argmax(data))
    data.flat[k] = -data.flat[k]
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model.write()
    return layer.name


def build_with_flipped_weight(model: Path, out: Path, **options) -> tuple[BuildState, str]:
    """A whole build (trace included) whose C++ has one weight negated after conversion; returns the state and
    the corrupted layer's name."""
    from jpq2hw.convert import hls4ml_convert

    real, flipped = hls4ml_convert.convert, []

    def convert_then_flip(*args, **kwargs):
        hls_model = real(*args, **kwargs)
        flipped.append(flip_one_weight(hls_model))
        return hls_model

    state = BuildState.start(BuildOptions(model=Path(model), out=Path(out), quiet=True, **options))
    with mock.patch.object(hls4ml_convert, "convert", convert_then_flip):
        run_steps(state)
    return state, flipped[0]
