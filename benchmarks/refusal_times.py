"""How fast jpq2hw refuses what it must refuse before any heavy work: the seconds the tests used to assert (on a
loaded machine a time bound in a test fails for the wrong reason, so the tests check what happened and this
script prints how long it took).

    python benchmarks/refusal_times.py [--reps 3]

- `build --rtl` without da4ml (tests/packaging/test_extras.py, test_wheel.py): refused in one line;
- a 50,000,000-value input (tests/build/test_limits.py): refused by the limits, in a child process, with its peak
  memory;
- `compress` of a model with an unsupported layer (tests/compress/test_user_models.py): listed before training
  (needs torch).
Prints the median and the largest of --reps runs of each, and the machine's load average.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stderr
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def rtl_without_da4ml(tmp: Path) -> float:
    from jpq2hw.cli import main

    saved = sys.modules.get("da4ml")
    sys.modules["da4ml"] = None  # as if not installed (only this key: the modules the build imports stay loaded)
    try:
        t0 = time.monotonic()
        with redirect_stderr(io.StringIO()) as err:
            code = main(["build", str(ROOT / "examples" / "digits" / "digits_cnn.onnx"), "--rtl", "-o", str(tmp / "o"),
                         "-q"])
        seconds = time.monotonic() - t0
    finally:
        if saved is None:
            del sys.modules["da4ml"]
        else:
            sys.modules["da4ml"] = saved
    assert code == 2 and "jpq2hw[rtl]" in err.getvalue(), err.getvalue()
    return seconds


def fifty_million_inputs(tmp: Path) -> float:
    from build.test_limits import activation_only, refuse

    rc, err, peak_mib, seconds = refuse(activation_only(tmp / "wide.onnx", 50_000_000))
    assert rc == 2, err
    print(f"    (peak memory {peak_mib:.0f} MiB)")
    return seconds


def unsupported_layer_listed(tmp: Path) -> float:
    from compress.test_user_models import TINY, CountingLoader, WithGelu, digits
    from jpq2hw.compress import CompressConfig, compress
    from jpq2hw.errors import JpqError

    loader, _ = digits(128)
    t0 = time.monotonic()
    try:
        compress(WithGelu(), CountingLoader(loader), None, CompressConfig.for_method("joint", **TINY))
    except JpqError:
        return time.monotonic() - t0
    raise AssertionError("not refused")


CASES = {"build --rtl without da4ml": rtl_without_da4ml, "50,000,000-value input": fifty_million_inputs,
         "compress: unsupported layer listed": unsupported_layer_listed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, case in CASES.items():
        runs = []
        for _ in range(args.reps):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(case(Path(tmp)))
        print(f"{name}: median {statistics.median(runs):.2f} s, max {max(runs):.2f} s over {len(runs)} runs")


if __name__ == "__main__":
    main()
