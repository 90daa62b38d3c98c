"""Run the real `run_build` up to (not including) the hls4ml conversion: load, validate, normalize, annotate.

Used by the hostile-input fuzz and the matrix's cheap checks. It calls `jpq2hw.build.run_build` itself, with
the converter replaced by a stub that stops the build, so it exercises exactly the code a user runs (and the
output-folder cleanup), without hls4ml or g++.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


class FrontHalfPassed(Exception):
    """Raised in place of the hls4ml conversion: every step before it accepted the model."""


@contextmanager
def _stop_before_convert():
    from jpq2hw.convert import hls4ml_convert

    original = hls4ml_convert.convert

    def stop(*args, **kwargs):
        raise FrontHalfPassed()

    hls4ml_convert.convert = stop
    try:
        yield
    finally:
        hls4ml_convert.convert = original


def front_half(model_path: Path, out: Path) -> str:
    """'accepted' if load..annotate accepted the model; raises JpqError (or anything else: a bug) otherwise."""
    from jpq2hw.build import BuildOptions, run_build

    with _stop_before_convert():
        try:
            run_build(BuildOptions(model=Path(model_path), out=Path(out), vectors=1, quiet=True))
        except FrontHalfPassed:
            return "accepted"
    raise AssertionError("run_build returned without reaching the conversion")
