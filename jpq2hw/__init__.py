"""jpq2hw: joint pruning & quantization to bit-exact FPGA hardware."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

# Import the submodule jpq2hw.build now: its first import binds the name `build` in this package, which would
# otherwise replace the function below whenever something (the CLI, a user) imported the submodule later.
from jpq2hw import build as _build_module  # noqa: E402


def build(model: str | Path, board: str = "pynq-z2", out: str | Path | None = None, **options) -> dict:
    """`jpq2hw build` from Python: QONNX `model` -> HLS project for `board` in `out`, checked bit for bit.
    Keyword options are jpq2hw.build.BuildOptions' fields (vectors, io, reuse_factor, clock_mhz, fit, rtl,
    input_data, seed, force, quiet, ...). Returns the build report (report.json's content: `bit_exact`,
    `estimate`, `layers`, ...); raises jpq2hw.errors.JpqError on bad input."""
    opts = _build_module.BuildOptions(model=Path(model), board=board, out=None if out is None else Path(out),
                                      **options)
    _, report = _build_module.run_build(opts)
    return report
