"""The bit-accuracy matrix: records how many generated models were built bit-exact, and prints it at the end
of the session (and writes it to $JPQ2HW_MATRIX_SUMMARY, default jpq2hw_matrix_summary.txt in the temporary folder)."""

import os
import tempfile
from pathlib import Path

import pytest

RESULTS: list[dict] = []


@pytest.fixture
def record_matrix():
    """record_matrix(name, io, exact, reference, max_abs_error): one generated model's outcome."""

    def record(name, io, exact, reference=None, max_abs_error=None):
        RESULTS.append({"name": name, "io": io, "exact": bool(exact), "reference": reference,
                        "max_abs_error": max_abs_error})

    return record


def _summary() -> str | None:
    if not RESULTS:
        return None
    exact = sum(r["exact"] for r in RESULTS)
    bad = [f"{r['name']}({r['io']})" for r in RESULTS if not r["exact"]]
    line = f"jpq2hw matrix: {exact}/{len(RESULTS)} generated models built bit-exact"
    return line + (f"; NOT exact: {', '.join(bad)}" if bad else "")


def pytest_terminal_summary(terminalreporter):
    line = _summary()
    if line:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session):
    line = _summary()
    if not line:
        return
    # outside the checkout by default: the suite writes nothing there
    path = Path(os.environ.get("JPQ2HW_MATRIX_SUMMARY", Path(tempfile.gettempdir()) / "jpq2hw_matrix_summary.txt"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line + "\n")
    except OSError:
        pass
