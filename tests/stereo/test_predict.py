"""examples/stereo/predict.py as a user meets it: numpy and Pillow only (no torch), a warning when the scene's
disparities exceed the model's range at the chosen scale, --max-disparity to give that range, and --hw for the
hardware's own disparity (the build's emulator; tests/stereo/test_stereo_build.py checks it against the model)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "stereo"
MODEL = EXAMPLE / "stereo.onnx"  # the flagship: 24x48 frame, D = 12

NO_TORCH = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")


def _pair(tmp_path, shift: int, size=(24, 96)):
    """A textured pair whose right view is the left shifted by `shift` px (disparity = shift everywhere)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    h, w = size
    texture = rng.integers(0, 256, size=(h, w + shift)).astype(np.uint8)
    left, right = texture[:, shift:], texture[:, :w]  # right[x - shift] = left[x]
    Image.fromarray(left).save(tmp_path / "left.png")
    Image.fromarray(right).save(tmp_path / "right.png")
    return tmp_path / "left.png", tmp_path / "right.png"


def _predict(*args):
    return subprocess.run([sys.executable, "-c", NO_TORCH, str(EXAMPLE / "predict.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def _module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("predict_example", EXAMPLE / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_warns_when_predictions_pile_up_at_the_last_disparity():
    P = _module()
    small = np.zeros((10, 10))
    assert P.pile_up_warning(small, 12, 1.0) is None
    small[:2] = 11  # 20% at D-1
    warning = P.pile_up_warning(small, 12, 0.5)
    assert "20%" in warning and "22.0 input px" in warning and "--max-disparity" in warning
    small[:2] = 10  # near the end, not at it
    assert P.pile_up_warning(small, 12, 0.5) is None


def test_runs_without_torch_and_max_disparity_sets_the_scale(tmp_path):
    left, right = _pair(tmp_path, shift=8)
    out = tmp_path / "d.png"
    run = _predict(left, right, "-o", out, "--model", MODEL, "--max-disparity", "22", "--raw", tmp_path / "d.npy")
    assert run.returncode == 0, run.stderr
    assert "scale 0.500" in run.stdout and out.is_file()  # (D - 1) / 22 = 11 / 22
    d = np.load(tmp_path / "d.npy")
    assert d.shape == (24, 96) and 0 <= d.min() and d.max() <= 22


def test_bad_max_disparity_and_missing_build_are_one_line(tmp_path):
    left, right = _pair(tmp_path, shift=2)
    bad = _predict(left, right, "-o", tmp_path / "e.png", "--model", MODEL, "--max-disparity", "0")
    assert bad.returncode == 2 and "--max-disparity" in bad.stderr and "Traceback" not in bad.stderr
    run = _predict(left, right, "-o", tmp_path / "d.png", "--hw", tmp_path)
    assert run.returncode == 2 and "emulator" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "e.png").exists() and not (tmp_path / "d.png").exists()
