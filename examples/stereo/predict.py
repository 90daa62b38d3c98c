"""Disparity of a rectified stereo pair through a stereo model, written as a coloured image with a scale bar.

    python examples/stereo/predict.py LEFT.png RIGHT.png -o disparity.png [--model scenenet_90.onnx]
                                      [--scale S | --max-disparity PX] [--hw BUILD_FOLDER]

The model is an .onnx the stereo examples export (scenenet_90.onnx: 90% sparse, 4-bit, the default;
scenenet.onnx: 98% sparse, which collapsed (RESULTS_SCENES.md); scenenet_float.onnx: float; stereo.onnx: the
flagship), run by onnxruntime (a QONNX model through the build's reference, i.e. the
arithmetic the hardware reproduces bit for bit). Its input is one fixed frame [1, 2, H, W] with D disparities,
so the pair is converted to grayscale, scaled (by --scale, default: to the model's frame width, so the
disparities of a typical photo shrink into the model's 0..D-1 px), and cut into overlapping frame-size tiles;
each output pixel comes from the tile where it lies farthest from a tile border. The disparity is written
back in the input's own pixels (divided by the scale), at the input's size. When the scene's disparities exceed
what the model can give at that scale, predictions pile up at D-1: predict.py warns, and --max-disparity PX (the
scene's largest disparity in input pixels) sets the scale so that 0..PX maps onto 0..D-1.

--hw OUT gives the hardware's own disparity: the build folder's exact integer emulator (OUT/emulator/, written by
`jpq2hw build` once it agreed bit for bit with the C-simulation on the build's vectors), instead of the model.
Needs only numpy and Pillow (`pip install '.[bench]'`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = HERE / "scenenet_90.onnx"


class UserError(Exception):
    pass


def read_gray(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"{path}: cannot read the image ({exc.__class__.__name__})") from None


def resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.float32)


class Model:
    """An exported stereo model: frame (H, W), number of disparities, and run(batch [N, 2, H, W])."""

    def __init__(self, path: Path):
        import onnx

        if not path.exists():
            raise UserError(f"{path}: model not found")
        try:
            proto = onnx.load(str(path))
        except Exception as exc:  # onnx raises several types for a file that is not a model
            raise UserError(f"{path}: not an ONNX model ({exc.__class__.__name__})") from None
        dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[1] != 2:
            raise UserError(f"{path}: input {dims} is not a stereo pair [1, 2, H, W]")
        self.frame = (dims[2], dims[3])
        argmax = [n for n in proto.graph.node if n.op_type == "ArgMax"]
        if not argmax:
            raise UserError(f"{path}: no ArgMax over disparities: not a stereo model of these examples")
        self.max_disp = self._disparities(proto)
        if any(n.op_type in ("Quant", "BipolarQuant") for n in proto.graph.node):
            from qonnx.core.modelwrapper import ModelWrapper

            from jpq2hw.verify.reference import Reference

            ref = Reference(ModelWrapper(str(path)), max_accum_bits=20)
            self.run = ref.run_batch
        else:
            import onnxruntime as ort

            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            self.run = lambda x: session.run(None, {name: x.astype(np.float32)})[0]

    @staticmethod
    def _disparities(proto) -> int:
        """D: the channel count of the cost volume's Concat (the ArgMax's input has D channels)."""
        from onnx import shape_inference

        inferred = shape_inference.infer_shapes(proto)
        argmax = next(n for n in inferred.graph.node if n.op_type == "ArgMax")
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
            if vi.name == argmax.input[0]:
                return vi.type.tensor_type.shape.dim[1].dim_value
        raise UserError("cannot infer the number of disparities of the model")


class HardwareModel:
    """A `jpq2hw build` output folder's emulator: the same frame, D and run() as Model, in the hardware's
    arithmetic (jpq2hw/emulate: what the generated C++ computes, bit for bit)."""

    def __init__(self, out: Path):
        import json

        folder = out / "emulator"
        if not (folder / "program.json").is_file():
            raise UserError(f"{out}: no emulator/ in this folder (a `jpq2hw build` output where the emulator agreed "
                            f"with the C-simulation)")
        report = json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else {}
        if report.get("host_ops"):
            raise UserError(f"{out}: the model runs {', '.join(report['host_ops'])} on the host; --hw takes builds "
                            f"whose hardware reads the pair directly")
        from jpq2hw.emulate.program import Program
        from jpq2hw.emulate.run import run

        self.program = Program.load(folder)
        shape = self.program.ops[0].shape
        argmax = [op for op in self.program.ops if op.kind == "StereoArgmax"]
        if len(shape) != 3 or shape[0] != 2 or not argmax:
            raise UserError(f"{out}: input {shape} and no disparity argmax: not a stereo build")
        self.frame = (shape[1], shape[2])
        self.max_disp = int(argmax[-1].params["max_disp"])
        self.run = lambda x: run(self.program, x.reshape(len(x), -1)).reshape(len(x), 1, *self.frame)


PILE_UP = 0.1  # warn when more than this fraction of the pixels lies at D-1


def pile_up_warning(small: np.ndarray, max_disp: int, scale: float) -> str | None:
    """A warning when many pixels sit at D-1: the model's range ends there, the scene's probably does not."""
    piled = float(np.mean(small >= max_disp - 1))
    if piled <= PILE_UP:
        return None
    return (f"{piled:.0%} of the pixels are at the largest disparity the model gives (D-1 = {max_disp - 1} at scale "
            f"{scale:.3f}, i.e. {(max_disp - 1) / scale:.1f} input px): the scene's disparities probably go further; "
            f"give its largest disparity with --max-disparity PX")


def tiles(size: int, frame: int, margin: int) -> list[int]:
    """Start positions of frame-long tiles covering [0, size) with `margin` px of overlap on each side."""
    if size <= frame:
        return [0]
    step = max(1, frame - 2 * margin)
    starts = list(range(0, size - frame, step)) + [size - frame]
    return sorted(set(starts))


def predict(model: Model, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Disparity (px of the given images) of a pair already at the working scale; any size (tiled, padded)."""
    fh, fw = model.frame
    h, w = left.shape
    ph, pw = max(h, fh), max(w, fw)
    pair = np.zeros((2, ph, pw), np.float32)
    pair[0, :h, :w], pair[1, :h, :w] = left, right
    out = np.zeros((ph, pw), np.float32)
    best = np.full((ph, pw), -1.0)
    ys, xs = tiles(ph, fh, fh // 6), tiles(pw, fw, fw // 5)
    batch = np.stack([pair[:, y:y + fh, x:x + fw] for y in ys for x in xs])
    pred = np.concatenate([model.run(batch[i:i + 1]) for i in range(len(batch))])[:, 0]
    yy, xx = np.mgrid[0:fh, 0:fw]
    # distance to the tile border; the image's own borders do not count (no other tile sees past them)
    for k, (y, x) in enumerate((y, x) for y in ys for x in xs):
        dy = np.minimum(yy if y > 0 else fh, fh - 1 - yy if y + fh < ph else fh)
        dx = np.minimum(xx if x > 0 else fw, fw - 1 - xx if x + fw < pw else fw)
        dist = np.minimum(dy, dx)
        region = (slice(y, y + fh), slice(x, x + fw))
        take = dist > best[region]
        out[region] = np.where(take, pred[k], out[region])
        best[region] = np.where(take, dist, best[region])
    return out[:h, :w]


def colour_image(disparity: np.ndarray, vmax: float, bar_width: int = 24) -> np.ndarray:
    """RGB image of the disparity (viridis, 0 to vmax: far dark, near bright) with a labelled scale bar."""
    from PIL import Image, ImageDraw

    sys.path.insert(0, str(HERE))
    from colours import colour as _colour

    h, w = disparity.shape
    pad = 6
    label_w = 64
    canvas = np.full((max(h, 120), w + pad + bar_width + label_w, 3), 255, np.uint8)
    canvas[:h, :w] = _colour(disparity, vmax)
    bar_h = canvas.shape[0] - 2 * pad
    ramp = np.linspace(vmax, 0, bar_h)[:, None].repeat(bar_width, 1)
    canvas[pad:pad + bar_h, w + pad:w + pad + bar_width] = _colour(ramp, vmax)
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = pad + int(round((1 - frac) * (bar_h - 1)))
        x0 = w + pad + bar_width
        draw.line([(x0, y), (x0 + 4, y)], fill=(0, 0, 0))
        draw.text((x0 + 6, max(0, min(y - 5, canvas.shape[0] - 11))), f"{frac * vmax:.1f} px", fill=(0, 0, 0))
    return np.asarray(img)


def run(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("left")
    p.add_argument("right")
    p.add_argument("-o", "--output", required=True, help="coloured disparity image (.png)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="stereo .onnx (default: scenenet_90.onnx)")
    scale_group = p.add_mutually_exclusive_group()
    scale_group.add_argument("--scale", type=float,
                             help="resize factor before matching (default: to the model's width)")
    scale_group.add_argument("--max-disparity", type=float, metavar="PX",
                             help="the scene's largest disparity in input pixels: scale so that it maps to D-1")
    p.add_argument("--hw", metavar="BUILD_FOLDER",
                   help="the hardware's own disparity: a `jpq2hw build` output folder's emulator instead of --model")
    p.add_argument("--raw", help="also save the disparity in input pixels as .npy here")
    args = p.parse_args(argv)
    try:
        if args.max_disparity is not None and not args.max_disparity > 0:
            raise UserError(f"--max-disparity {args.max_disparity}: must be > 0 (input pixels)")
        model = HardwareModel(Path(args.hw)) if args.hw else Model(Path(args.model))
        left, right = read_gray(args.left), read_gray(args.right)
        if left.shape != right.shape:
            raise UserError(f"{args.right}: size {right.shape[::-1]} differs from {args.left}'s {left.shape[::-1]}")
        if args.max_disparity is not None:
            scale = (model.max_disp - 1) / args.max_disparity
        else:
            scale = args.scale or model.frame[1] / left.shape[1]
        if not 0 < scale <= 8:
            raise UserError(f"scale {scale:g}: must lie in (0, 8] (--scale, or D-1 / --max-disparity)")
        shape = (max(1, round(left.shape[0] * scale)), max(1, round(left.shape[1] * scale)))
        small = predict(model, resize(left, shape), resize(right, shape))
        warning = pile_up_warning(small, model.max_disp, scale)
        disparity = resize(small, left.shape) / scale
        out = Path(args.output)
        if out.suffix.lower() != ".png":
            raise UserError(f"{out}: the output must be a .png")
        from PIL import Image

        tmp = out.with_name(out.name + ".tmp.png")
        Image.fromarray(colour_image(disparity, (model.max_disp - 1) / scale)).save(tmp)
        tmp.replace(out)  # an existing output is replaced only by a complete image
        if args.raw:
            np.save(args.raw, disparity)
    except UserError as exc:
        print(f"predict.py: error: {exc}", file=sys.stderr)
        return 2
    source = f"hardware emulator of {args.hw}" if args.hw else f"model {Path(args.model).name}"
    print(f"{out}: disparity 0..{disparity.max():.1f} px ({source}, frame "
          f"{model.frame[0]}x{model.frame[1]}, D = {model.max_disp}, scale {scale:.3f})")
    if warning:
        print(f"predict.py: warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run())
