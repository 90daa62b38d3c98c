"""AXI-Stream words <-> values, from templates/deploy/stream_words.py (the very code the PYNQ driver includes), and
the ROM files of the no-PS stream harness."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jpq2hw import paths

_SOURCE = paths.TEMPLATES / "deploy" / "stream_words.py"
_namespace: dict = {}
exec(compile(_SOURCE.read_text(), str(_SOURCE), "exec"), _namespace)  # noqa: S102 (our own file)

word_dtype = _namespace["word_dtype"]
to_words = _namespace["to_words"]
extend_words = _namespace["extend_words"]
from_words = _namespace["from_words"]

HARNESS_INPUTS = "jpq2hw_inputs.mem"
HARNESS_EXPECTED = "jpq2hw_expected.mem"


def input_words(port: dict, x: np.ndarray) -> np.ndarray:
    """inputs.npy (n, ...) -> (n, size) words, the element order the build's checks feed hls4ml (flattened)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return to_words(x, port["width"], port["fractional"], port["signed"], port["axis_bits"]).reshape(len(x), -1)


def output_words(port: dict, y: np.ndarray) -> np.ndarray:
    """expected.npy (n, ...) -> (n, size) words exactly as the core writes them (extension bits included)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    words = to_words(y, port["width"], port["fractional"], port["signed"], port["axis_bits"])
    return extend_words(words, port["width"], port["signed"], port["axis_bits"]).reshape(len(y), -1)


def write_mem(path: Path, words: np.ndarray, axis_bits: int) -> None:
    """One hex word per line ($readmemh)."""
    digits = axis_bits // 4
    path.write_text("".join(f"{int(w):0{digits}x}\n" for w in np.asarray(words).reshape(-1)))


def write_harness_roms(harness_dir: Path, ports: dict, x: np.ndarray, y: np.ndarray) -> tuple[Path, Path]:
    harness_dir.mkdir(parents=True, exist_ok=True)
    inputs, expected = harness_dir / HARNESS_INPUTS, harness_dir / HARNESS_EXPECTED
    write_mem(inputs, input_words(ports["input"], x), ports["input"]["axis_bits"])
    write_mem(expected, output_words(ports["output"], y), ports["output"]["axis_bits"])
    return inputs, expected
