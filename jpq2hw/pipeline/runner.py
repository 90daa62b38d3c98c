"""Run the build's steps in order over one BuildState, timing each through the state's Progress."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from jpq2hw.output_folder import output_folder
from jpq2hw.pipeline.state import BuildState
from jpq2hw.pipeline.steps import STEPS, Step


def step_names(steps: list[Step] = STEPS) -> list[str]:
    return [s.name for s in steps]


def run_steps(state: BuildState, stop_after: str | None = None, steps: list[Step] = STEPS) -> BuildState:
    """Run `steps` up to and including `stop_after` (all of them by default). The steps marked
    in_output_folder write into a temporary sibling of OUT (state.out while they run), made before the first of
    them, renamed to OUT when the last of them succeeds and deleted when any fails (jpq2hw/output_folder.py)."""
    if stop_after is not None and stop_after not in step_names(steps):
        raise ValueError(f"stop_after={stop_after!r}: no such step ({', '.join(step_names(steps))})")
    with ExitStack() as folder:
        in_folder = False
        for step in steps:
            if step.in_output_folder and not in_folder:
                state.work_dir = folder.enter_context(output_folder(state.options.output_dir(), state.options.force,
                                                                    announce=state.progress.warn,
                                                                    keep=(Path(state.options.model),)))
                in_folder = True
            elif in_folder and not step.in_output_folder:
                folder.close()  # the output is complete: renamed into place
                state.work_dir = None
                in_folder = False
            if step.when is None or step.when(state):
                if step.label is None:
                    step.run(state)
                else:
                    with state.progress.step(step.name, step.label(state)):
                        step.run(state)
            if step.name == stop_after:
                break
    return state


def analyze_file(model: Path | str, **options) -> BuildState:
    """The front half of a build on a model file (load, normalize, validate, annotate) without checking or
    touching an output folder: what `jpq2hw report`, the RTL reference folders and the tests need.
    `options` are BuildOptions fields (board, io, fit, reuse_factor, clock_mhz...)."""
    from jpq2hw import boards
    from jpq2hw.pipeline.options import BuildOptions
    from jpq2hw.progress import Progress

    opts = BuildOptions(model=Path(model), **{"quiet": True, "no_limits": True, **options})
    state = BuildState(options=opts, board=boards.load_board(opts.board), progress=Progress(quiet=opts.quiet))
    return run_steps(state, stop_after="annotate")
