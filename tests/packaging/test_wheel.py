"""The package works outside the checkout: a wheel built from the sources, installed into a fresh plain virtual
environment (no system site-packages, so no torch), builds the digits example bit-exact; the optional parts
(--rtl, compress) refuse at once with their install line."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from testkit import EXAMPLES, REPO

DIGITS = EXAMPLES / "digits" / "digits_cnn.onnx"
WHEEL_SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "jpq2hw", "templates", "boards")


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)


@pytest.mark.slow
def test_wheel_in_fresh_venv_builds_digits_without_torch(tmp_path):
    src = tmp_path / "src"  # a copy: building in place would leave build/ and *.egg-info in the checkout
    src.mkdir()
    for name in WHEEL_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(REPO / name, src / name)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", src,
                 "-w", tmp_path / "dist"])
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("jpq2hw-*.whl")

    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", venv]).returncode == 0
    py, cli = venv / "bin" / "python", venv / "bin" / "jpq2hw"
    installed = run([py, "-m", "pip", "install", "-q", wheel])
    assert installed.returncode == 0, installed.stderr[-2000:]

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing from the checkout
    env["OMP_NUM_THREADS"] = "1"
    work = tmp_path / "work"
    work.mkdir()
    no_torch = run([py, "-c", "import torch"], env=env, cwd=work)
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr
    where = run([py, "-c", "from jpq2hw import paths; print(paths.TEMPLATES); print(paths.BOARDS)"], env=env, cwd=work)
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout  # the wheel's data

    built = run([cli, "build", DIGITS, "--vectors", "3", "-o", "digits", "-q"], env=env, cwd=work)
    assert built.returncode == 0, built.stderr[-2000:]
    report = json.loads((work / "digits" / "report.json").read_text())
    assert report["bit_exact"] is True and report["vectors"] == 3

    # refused before any build work (its time: benchmarks/refusal_times.py)
    rtl = run([cli, "build", DIGITS, "--rtl", "-o", "digits_rtl", "-q"], env=env, cwd=work)
    assert rtl.returncode == 2 and "pip install 'jpq2hw[rtl]'" in rtl.stderr, rtl.stderr
    assert len(rtl.stderr.strip().splitlines()) == 1 and not (work / "digits_rtl").exists()

    comp = run([cli, "compress", EXAMPLES / "digits" / "compress.yaml", "-o", work / "c.onnx"], env=env, cwd=work)
    assert comp.returncode == 2 and "pip install torch==2.13.0 'jpq2hw[compress]'" in comp.stderr, comp.stderr
    assert not (work / "c.onnx").exists()
