"""Model generators for the tests and benchmarks (QONNX builder, random models, hostile files, the model zoo).
They live beside the tests, not in the jpq2hw package: nothing here is shipped or a supported API."""

import os
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent


def child_command(module: str, *args: str) -> tuple[list[str], dict]:
    """argv and environment to run `python -m testkit.<module>` in a child process (tests/ on its path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH", "")) if p)
    return [sys.executable, "-m", f"testkit.{module}", *args], env

REPO = TESTS_DIR.parent  # the checkout (examples/, Dockerfile, ...)
EXAMPLES = REPO / "examples"
