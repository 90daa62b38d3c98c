"""`jpq2hw build` as a Python API: a QONNX model to a board-ready HLS project, proven bit-exact.

The work is the list of named steps in jpq2hw/pipeline/steps.py (load -> normalize -> validate -> annotate ->
convert -> write -> reference -> simulate -> ... -> report), run in order over one BuildState.
"""

from __future__ import annotations

from jpq2hw.pipeline import BACKENDS, IO_TYPES, BuildOptions, BuildState, check_options, choose_io, run_steps

# the Python API is jpq2hw.build(...) (jpq2hw/__init__.py), a thin wrapper over run_build
__all__ = ["BACKENDS", "IO_TYPES", "BuildOptions", "check_options", "choose_io", "run_build"]


def run_build(opts: BuildOptions) -> tuple[int, dict]:
    """Build; returns the exit code (0 bit-exact, 1 not) and the report (report.json's content)."""
    state = run_steps(BuildState.start(opts))
    return state.exit_code, state.report

