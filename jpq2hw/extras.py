"""The optional parts of jpq2hw and what each needs: checked before any work, naming the exact install line.
The build itself (build, report, boards, synth) needs none of them."""

from __future__ import annotations

import importlib.util

from jpq2hw.errors import ToolMissing

# extra -> (Python modules it imports, the install line; torch must be exactly 2.13.0: another spec pulls CUDA)
EXTRAS = {
    "compress": (("torch", "sklearn"), "pip install torch==2.13.0 'jpq2hw[compress]'"),
    "rtl": (("da4ml",), "pip install 'jpq2hw[rtl]'"),
    "sweep": (("ray", "ray.tune", "optuna"), "pip install torch==2.13.0 'jpq2hw[sweep]'"),
}


def missing_modules(extra: str) -> list[str]:
    modules, _ = EXTRAS[extra]
    return [m for m in modules if _find(m) is None]


def _find(module: str):
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a submodule (ray.tune) of a missing or stubbed-out package
        return None


def require_extra(extra: str, what: str) -> None:
    """Raise a one-line ToolMissing naming the missing modules and the install line, before any work."""
    missing = missing_modules(extra)
    if missing:
        raise ToolMissing(f"{what} needs {', '.join(missing)}, which is not installed; "
                          f"install it with: {EXTRAS[extra][1]}")
