"""Run the real build's steps up to (not including) the hls4ml conversion: load, normalize, validate, annotate,
limits.

Used by the hostile-input fuzz and the matrix's cheap checks: the same option checks and steps a user's
`jpq2hw build` runs (jpq2hw.pipeline), stopped before the conversion, so without hls4ml, g++ or an output folder.
"""

from __future__ import annotations

from pathlib import Path


def front_half(model_path: Path, out: Path) -> str:
    """'accepted' if load..annotate accepted the model; raises JpqError (or anything else: a bug) otherwise."""
    from jpq2hw.pipeline import BuildOptions, BuildState, run_steps

    opts = BuildOptions(model=Path(model_path), out=Path(out), vectors=1, quiet=True)
    run_steps(BuildState.start(opts), stop_after="limits")
    return "accepted"
