"""The build as named steps over one state object (steps.py: the steps in order; state.py: what each sets;
runner.py: runs them, times them, owns the output folder)."""

from jpq2hw.pipeline.options import BACKENDS, IO_TYPES, BuildOptions, check_options, choose_io
from jpq2hw.pipeline.runner import analyze_file, run_steps, step_names
from jpq2hw.pipeline.state import BuildState
from jpq2hw.pipeline.steps import STEPS, Step

__all__ = ["BACKENDS", "IO_TYPES", "STEPS", "BuildOptions", "BuildState", "Step", "analyze_file", "check_options",
           "choose_io", "run_steps", "step_names"]
