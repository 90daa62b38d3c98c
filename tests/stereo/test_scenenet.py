"""The photo-scene stereo network (examples/stereo/scenenet.py): exported at the frame its config gives, with D
disparities, a receptive field wider than the disparity range; predict.py turns a pair into a disparity image."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

pytest.importorskip("skimage")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "stereo"


def _load(name):
    sys.path.insert(0, str(EXAMPLE))
    spec = importlib.util.spec_from_file_location(f"scenes_{name}", EXAMPLE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


N = _load("scenenet")


def _shape(vi):
    return [d.dim_value for d in vi.type.tensor_type.shape.dim]


@pytest.mark.parametrize("frame", [N.FRAME, (40, 72)])
def test_export_follows_the_frame_and_disparities(tmp_path, frame):
    torch.manual_seed(0)
    path = tmp_path / "net.onnx"
    N.export_float(N.SceneNet(), path, frame)
    g = onnx.load(str(path)).graph
    assert _shape(g.input[0]) == [1, 2, *frame]
    assert _shape(g.output[0]) == [1, 1, *frame]
    concat = [len(n.input) for n in g.node if n.op_type == "Concat"]
    assert concat.count(N.MAX_DISP) == 1 and max(concat) == N.MAX_DISP   # the cost volume: one slice per disparity


def test_config_frame_and_receptive_field():
    assert N.FRAME[0] >= 120 and N.FRAME[1] >= 160 and N.MAX_DISP >= 16
    h, w = N.receptive_field()
    assert w > 2 * N.MAX_DISP and h > 16
    # the receptive field is what the layers give: a one-pixel change in the input moves outputs this far only
    torch.manual_seed(0)
    net = N.SceneNet().train()  # training mode returns the scores (continuous)
    x = torch.rand(1, 2, 48, 96)
    y = x.clone()
    y[0, 0, 24, 48] += 1.0
    with torch.no_grad():
        diff = (net(x) - net(y)).abs().sum(1)[0]
    cols = torch.nonzero(diff.sum(0) > 0)[:, 0]
    rows = torch.nonzero(diff.sum(1) > 0)[:, 0]
    assert int(cols.max() - cols.min()) + 1 <= w + N.MAX_DISP and int(cols.max() - cols.min()) + 1 >= w - 2
    assert int(rows.max() - rows.min()) + 1 == h


def test_predict_writes_a_disparity_image(tmp_path):
    from PIL import Image

    from jpq2hw.data.stereo_scenes import SceneConfig, make_scene

    torch.manual_seed(0)
    model = tmp_path / "net.onnx"
    N.export_float(N.SceneNet(), model, (40, 72))
    p = make_scene(5, SceneConfig(height=60, width=100, max_disp=16))
    for k in ("left", "right"):
        Image.fromarray((p[k] * 255).astype(np.uint8)).save(tmp_path / f"{k}.png")
    out = tmp_path / "d.png"
    run = subprocess.run([sys.executable, str(EXAMPLE / "predict.py"), str(tmp_path / "left.png"),
                          str(tmp_path / "right.png"), "-o", str(out), "--model", str(model), "--scale", "1",
                          "--raw", str(tmp_path / "d.npy")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    img = np.asarray(Image.open(out))
    assert img.shape[0] >= 60 and img.shape[1] > 100 and img.shape[2] == 3   # the map plus its scale bar
    d = np.load(tmp_path / "d.npy")
    assert d.shape == (60, 100) and d.min() >= 0 and d.max() <= N.MAX_DISP - 1
    # a bad input is one line and exit 2, and the output is not touched
    before = out.read_bytes()
    bad = subprocess.run([sys.executable, str(EXAMPLE / "predict.py"), str(tmp_path / "left.png"),
                          str(tmp_path / "nope.png"), "-o", str(out), "--model", str(model)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "nope.png" in bad.stderr and "Traceback" not in bad.stderr
    assert out.read_bytes() == before


def test_predict_runs_the_shipped_compressed_model(tmp_path):
    """The default model is the committed QONNX one, run through the build's reference: on a frame-size pair
    (a test-split scene, never the real pair) predict.py's map is exactly the reference's output."""
    from PIL import Image
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.data.stereo_scenes import make_scene
    from jpq2hw.verify.reference import Reference

    p = make_scene(2_000_003, N.DATA)
    views = [(p[k] * 255).round().astype(np.uint8) for k in ("left", "right")]
    for k, v in zip(("left", "right"), views):
        Image.fromarray(v).save(tmp_path / f"{k}.png")
    run = subprocess.run([sys.executable, str(EXAMPLE / "predict.py"), str(tmp_path / "left.png"),
                          str(tmp_path / "right.png"), "-o", str(tmp_path / "d.png"), "--raw", str(tmp_path / "d.npy")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "scenenet_90.onnx" in run.stdout
    ref = Reference(ModelWrapper(str(EXAMPLE / "scenenet_90.onnx")), max_accum_bits=20)
    want = ref.run_batch(np.stack(views)[None].astype(np.float32) / 255.0)[0, 0]
    got = np.load(tmp_path / "d.npy")
    assert got.shape == want.shape == N.FRAME
    assert np.array_equal(got, want)
    assert len(np.unique(want)) > 3   # a disparity map, not a constant
