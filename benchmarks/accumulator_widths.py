"""The accumulator widths the value-range analysis gives (what `jpq2hw report`, --fit auto and the build's cost
model price) against the ones hls4ml is given by the conversion (what the C++ computes), per layer, for the test
models, the digits and stereo examples and the corpus files: conversion only, no g++.

    PYTHONPATH=. python benchmarks/accumulator_widths.py [model.onnx ... | --corpus]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def models(tmp: Path) -> list[Path]:
    from build import models as test_models

    files = [getattr(test_models, k)(tmp / f"{k}.onnx") for k in
             ("sparse_mlp", "conv_stack", "brevitas_mlp", "brevitas_conv", "brevitas_float_mlp", "brevitas_float_conv",
              "brevitas_binary_mlp", "brevitas_conv1d")]
    files += sorted((ROOT / "examples").glob("*/*.onnx"))
    return files


def corpus() -> list[tuple[Path, dict]]:
    """The corpus files the build accepts, with their options (tests/testkit/corpus.py)."""
    from testkit.corpus import CASES, CORPUS_DIR

    found = []
    for case in CASES:
        if case.pending or case.expect != "exact" or not (CORPUS_DIR / case.file).is_file():
            continue
        opts = dict(zip(case.options[::2], case.options[1::2]))
        found.append((CORPUS_DIR / case.file, {"input_type": opts["--input-type"]} if "--input-type" in opts else {}))
    return found


def compare(path: Path, out: Path, **options) -> list[tuple]:
    from jpq2hw.convert.hls4ml_convert import accumulator_widths
    from jpq2hw.pipeline import analyze_file, steps

    state = analyze_file(path, out=out, io="stream" if "stereo" in path.name else "auto", **options)
    state.out.mkdir(parents=True)
    steps.convert(state)
    built = accumulator_widths(state.hls_model)
    return [(layer.name, layer.accum_bits, built.get(layer.output)) for layer in state.analysis.layers]


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if argv == ["--corpus"]:
            paths = corpus()
        else:
            paths = [(Path(a), {}) for a in argv] or [(p, {}) for p in models(tmp)]
        differ = 0
        for k, (path, options) in enumerate(paths):
            try:
                rows = compare(path, tmp / f"out{k}", **options)
            except Exception as exc:  # noqa: BLE001  (a model the build refuses: say so, go on)
                print(f"{path.name}: not converted ({type(exc).__name__}: {str(exc)[:100]})")
                continue
            bad = [r for r in rows if r[1] != r[2]]
            differ += len(bad)
            print(f"{path.name}: {len(rows)} layers, {len(bad)} differ" + "".join(
                f"\n  {name}: analysis {a}, hls4ml {h}" for name, a, h in bad))
        print(f"layers whose widths differ: {differ}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
