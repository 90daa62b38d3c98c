"""Mutation testing of the verdict itself: break the verification code in ways a careless change could (compare
with a tolerance, skip a vector, compare the hardware with itself, ignore the wrapper or the host tail...) and
check that the verdict checks of testkit/verdict.py then fail on some prepared build. A mutation that leaves
every check passing "survives": the verdict could lie that way and no test would notice.

scripts/mutate_verdict.py runs every mutation on every path and writes the report; tests/verdict runs them on
the builds it already has."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator
from unittest import mock

import numpy as np

from jpq2hw.errors import EXIT_NOT_EXACT, EXIT_OK
from testkit import verdict

# --- the checks: each returns None or raises AssertionError --------------------------------------------------


def check_clean_is_exact(p: verdict.Prepared) -> None:
    s = verdict.judge(p)
    assert s.exit_code == EXIT_OK and s.report["bit_exact"] is True, "a clean build judged NOT exact"
    assert s.report["mismatched_vectors"] == 0


def _hw_off_by_one_step(p: verdict.Prepared, vector: int, index: int) -> None:
    s = verdict.judge(p, hw=verdict.corrupt_one(p.hw, vector, index, verdict.output_step(p)))
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False, "a wrong hardware value judged exact"
    assert s.report["mismatched_vectors"] == 1 and s.result.first_mismatch == vector, "wrong vector count"
    if p.state.boundary.tail is not None:
        assert s.report["host_tail_within_tolerance"] is False, "the host tail did not see the wrong value"


def check_hw_first_vector(p: verdict.Prepared) -> None:
    _hw_off_by_one_step(p, 0, p.hw[0].size - 1)


def check_hw_last_vector(p: verdict.Prepared) -> None:
    _hw_off_by_one_step(p, len(p.hw) - 1, 0)


def _reference_moved(p: verdict.Prepared, fraction: float, to_nan: bool = False) -> None:
    """One reference value moved by `fraction` of the output's quantizer step (or made NaN): NOT exact, that
    vector. An integer core's step is the channel's output factor alpha (the channel with the largest is moved)."""
    s0 = p.state
    if s0.boundary.integer_core:
        alpha = np.abs(np.asarray(s0.boundary.io.output_alpha, dtype=np.float64)).ravel()
        index = int(np.argmax(alpha)) % p.expected[0].size
        step = float(alpha.max())
    else:
        index, step = 0, 2.0 ** -s0.project_info.output.fractional
    expected = p.expected.copy()
    vector = len(expected) // 2
    flat = expected.reshape(len(expected), -1)
    flat[vector, index] = np.nan if to_nan else flat[vector, index] + step * fraction
    s = verdict.judge(p, expected=expected)
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False, "a wrong reference judged exact"
    assert s.report["mismatched_vectors"] == 1 and s.result.first_mismatch == vector, "wrong vector count"


def check_reference_one_step(p: verdict.Prepared) -> None:
    _reference_moved(p, 1.0)


def check_reference_third_step(p: verdict.Prepared) -> None:
    """A reference value between two hardware values (it maps to no code: rounding it to one would hide it)."""
    _reference_moved(p, 1 / 3)


def check_reference_thousandth_step(p: verdict.Prepared) -> None:
    _reference_moved(p, 1e-3)


def check_reference_tiny(p: verdict.Prepared) -> None:
    """2^-30 of a step: below any float tolerance. An integer core maps the reference to codes with a 1e-6 code
    snap (its float64 folds differ from alpha * h + beta in the last bits), so this check is for fixed point."""
    if not p.state.boundary.integer_core:
        _reference_moved(p, 2.0 ** -30)


def check_reference_nan(p: verdict.Prepared) -> None:
    _reference_moved(p, 0.0, to_nan=True)


def check_wrapper_failure(p: verdict.Prepared) -> None:
    s = verdict.judge(p, axis_passed=False)
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False, "a failed wrapper check judged exact"


def check_tail_off(p: verdict.Prepared) -> None:
    """The host tail itself wrong (its output 1e-3 off, the hardware right): exit 1, the tail outside tolerance."""
    if p.state.boundary.tail is None:
        return
    from jpq2hw.normalize.host_split import HostPart

    real = HostPart.run
    with mock.patch.object(HostPart, "run", lambda self, xs: real(self, xs) + 1e-3):
        s = verdict.judge(p)
    assert s.exit_code == EXIT_NOT_EXACT and s.report["host_tail_within_tolerance"] is False, "a wrong tail passed"


CHECKS: dict[str, Callable[[verdict.Prepared], None]] = {
    "clean build exact": check_clean_is_exact,
    "hardware value off by one step (first vector)": check_hw_first_vector,
    "hardware value off by one step (last vector)": check_hw_last_vector,
    "reference value off by one step": check_reference_one_step,
    "reference value off by a third of a step": check_reference_third_step,
    "reference value off by 1/1000 of a step": check_reference_thousandth_step,
    "reference value off by 2^-30 of a step (fixed point)": check_reference_tiny,
    "reference value NaN": check_reference_nan,
    "wrapper check failed": check_wrapper_failure,
    "host tail 1e-3 off (models with a tail)": check_tail_off,
}


def run_checks(p: verdict.Prepared) -> list[str]:
    """The names of the checks that fail on `p` (none for the real verification code)."""
    failed = []
    for name, check in CHECKS.items():
        try:
            check(p)
        except AssertionError:
            failed.append(name)
    return failed


# --- the mutations of the verification code -------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str  # the broken line, as a reviewer would describe it
    apply: Callable[[], contextlib.AbstractContextManager]


def _patch(target: str, make: Callable[[Callable], Callable]) -> Callable[[], contextlib.AbstractContextManager]:
    """A mutation replacing `target` (module.attr or module.Class.attr) with make(original)."""
    def apply():
        import importlib

        module_name, _, attr = target.rpartition(".")
        try:
            owner = importlib.import_module(module_name)
        except ImportError:
            mod, _, cls = module_name.rpartition(".")
            owner = getattr(importlib.import_module(mod), cls)
        return mock.patch.object(owner, attr, make(getattr(owner, attr)))
    return apply


def _step(name: str, after: Callable) -> Callable[[], contextlib.AbstractContextManager]:
    """A mutation that runs `after(state)` after the build step `name`."""
    @contextlib.contextmanager
    def apply() -> Iterator[None]:
        from jpq2hw.pipeline import steps

        i = next(k for k, s in enumerate(steps.STEPS) if s.name == name)
        real = steps.STEPS[i]

        def run(state):
            real.run(state)
            after(state)

        import dataclasses

        steps.STEPS[i] = dataclasses.replace(real, run=run)
        try:
            yield
        finally:
            steps.STEPS[i] = real
    return apply


def _tail_against_itself(state) -> None:
    """The host tail's reference as the same tail code run on the reference's core output (what the build did
    with a float head before): a wrong tail is wrong on both sides alike."""
    from jpq2hw.normalize.host_split import within_tolerance

    b = state.boundary
    hw_final, ref_final = b.tail.run(b.to_real(state.hw)), b.tail.run(state.expected)
    state.tail_error = float(np.max(np.abs(hw_final - ref_final)))
    state.tail_ok = within_tolerance(hw_final, ref_final)


def _replace_step(name: str, run: Callable) -> Callable[[], contextlib.AbstractContextManager]:
    @contextlib.contextmanager
    def apply() -> Iterator[None]:
        import dataclasses

        from jpq2hw.pipeline import steps

        i = next(k for k, s in enumerate(steps.STEPS) if s.name == name)
        real = steps.STEPS[i]
        steps.STEPS[i] = dataclasses.replace(real, run=run)
        try:
            yield
        finally:
            steps.STEPS[i] = real
    return apply


def _compare_within(atol):
    def make(real):
        def compare(hw, ref):
            close = np.isclose(hw, ref, rtol=0, atol=atol) | (hw == ref)
            return real(np.where(close, ref, hw), ref)
        return compare
    return make


def _set(key, value):
    return lambda state: state.report.__setitem__(key, value(state))


MUTATIONS: list[Mutation] = [
    Mutation("reference codes are the hardware's", "HostIO.reference_codes returns the hardware's own codes",
             _patch("jpq2hw.normalize.streamline.HostIO.reference_codes", lambda real: lambda self, y, hw, atol=1e-6: hw)),
    Mutation("expected codes are the hardware's", "HostBoundary.expected_codes returns hw",
             _patch("jpq2hw.normalize.host_boundary.HostBoundary.expected_codes", lambda real: lambda self, e, hw: hw)),
    Mutation("compare within 1e-3", "csim.compare treats |hw - ref| <= 1e-3 as equal",
             _patch("jpq2hw.verify.csim.compare", _compare_within(1e-3))),
    Mutation("compare within one unit", "csim.compare treats |hw - ref| <= 1 as equal",
             _patch("jpq2hw.verify.csim.compare", _compare_within(1.0))),
    Mutation("allclose", "csim.compare uses np.allclose's defaults (rtol 1e-5, atol 1e-8) on the whole batch",
             _patch("jpq2hw.verify.csim.compare", lambda real: lambda hw, ref: real(
                 ref if np.allclose(hw, ref) else hw, ref))),
    Mutation("skip the last vector", "csim.compare drops the last vector (an off-by-one in a loop)",
             _patch("jpq2hw.verify.csim.compare", lambda real: lambda hw, ref: real(hw[:-1], ref[:-1]))),
    Mutation("skip the first vector", "csim.compare starts at vector 1",
             _patch("jpq2hw.verify.csim.compare", lambda real: lambda hw, ref: real(hw[1:], ref[1:]))),
    Mutation("first value only", "csim.compare looks at the first output value of each vector",
             _patch("jpq2hw.verify.csim.compare", lambda real: lambda hw, ref: real(
                 hw.reshape(len(hw), -1)[:, :1], ref.reshape(len(ref), -1)[:, :1]))),
    Mutation("NaN codes match", "a reference value that maps to no hardware code counts as equal",
             _patch("jpq2hw.verify.csim.compare", lambda real: lambda hw, ref: real(
                 hw, np.where(np.isnan(ref), hw, ref)))),
    Mutation("rounded codes", "the reference codes are rounded to the nearest integer instead of kept exact",
             _patch("jpq2hw.normalize.streamline.HostIO.reference_codes", lambda real: lambda self, y, hw, atol=1e-6:
                    np.rint(real(self, y, hw, atol=0.5)))),
    Mutation("wrapper check ignored", "bit_exact is the comparison alone, not the AXI-Stream wrapper check",
             _step("report", _set("bit_exact", lambda s: bool(s.result.bit_exact)))),
    Mutation("exit code 0 always", "summary exits 0 whatever the verdict",
             _step("summary", lambda s: setattr(s, "exit_code", EXIT_OK))),
    Mutation("host tail always within tolerance", "within_tolerance returns True",
             _patch("jpq2hw.normalize.host_split.within_tolerance", lambda real: lambda got, want: True)),
    Mutation("mismatch count from the first vector", "mismatched_vectors counts vector 0 only",
             _step("report", _set("mismatched_vectors", lambda s: int(s.result.first_mismatch == 0)))),
    Mutation("host tail against itself", "the tail's reference is the same tail code on the reference's core output",
             _replace_step("host_tail", _tail_against_itself)),
]


def survivors(prepared: list[verdict.Prepared], mutations: list[Mutation] = MUTATIONS) -> dict[str, list[str]]:
    """For each mutation, the checks it made fail on each build ("path: check"); an empty list: it survived."""
    base = {p.name: run_checks(p) for p in prepared}
    bad = {k: v for k, v in base.items() if v}
    if bad:
        raise AssertionError(f"the real verification code fails checks: {bad}")
    killed_by = {}
    for m in mutations:
        with m.apply():
            killed_by[m.name] = [f"{p.name}: {c}" for p in prepared for c in run_checks(p)]
    return killed_by
