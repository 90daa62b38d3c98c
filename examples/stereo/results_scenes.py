"""The photo-scene stereo network against its peers on the same test split, as measured: writes RESULTS_SCENES.md
and results_scenes.png next to this file.

    python examples/stereo/results_scenes.py [--motorcycle]

Needs train_scenes.py's outputs (out_scenes/float.pt, out_scenes/checkpoints/joint/). Rows, on the N_TEST
pairs of the test split at the exported frame (120x160, D = 16):
  float dense           the trained float network
  compressed (joint)    the network `jpq2hw compress` made (scenenet.onnx computes exactly this)
  OpenCV SGBM           cv2.StereoSGBM (block 5, 16 disparities, 3-way), holes (no disparity) counted as 0
  median constant       every pixel the median disparity of the training split: the floor a net must beat
EPE and D1 over all pixels, and over the pixels visible in both views. --motorcycle also reports, ONCE and after
everything else is fixed, the real pair skimage.data.stereo_motorcycle (never used to train, tune or select).

Memory, BOPs and resources use the build's definitions (jpq2hw.compress.metrics, jpq2hw.costmodel on the hardware
graph of the exported model, io_stream, PYNQ-Z2 clock). The cost model does not count the cost volume and the
argmax; their row here is a separate rough figure (see cost_volume_estimate).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import results as R  # noqa: E402  (metrics, colour map, PNG writer)
import scenenet as N  # noqa: E402

from jpq2hw.data.stereo import d1, epe  # noqa: E402


def sgbm(images: np.ndarray, max_disp: int = N.MAX_DISP, block: int = 5) -> np.ndarray:
    """OpenCV's semi-global block matching on the same pairs; pixels it leaves without a disparity are 0."""
    import cv2

    matcher = cv2.StereoSGBM_create(minDisparity=0, numDisparities=max_disp, blockSize=block, P1=8 * block ** 2,
                                    P2=32 * block ** 2, uniquenessRatio=5, speckleWindowSize=50, speckleRange=2,
                                    mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    out = []
    for pair in images:
        left, right = ((np.clip(v, 0, 1) * 255).round().astype(np.uint8) for v in pair)
        d = matcher.compute(left, right).astype(np.float32) / 16.0
        out.append(np.where(d < 0, 0.0, d))
    return np.stack(out)


def scores(pred, gt, visible) -> dict:
    return {"epe": epe(pred, gt), "d1": d1(pred, gt), "epe_visible": epe(pred, gt, visible),
            "d1_visible": d1(pred, gt, visible)}


def hardware_estimate(onnx_path: Path) -> dict:
    """jpq2hw's estimate (io_stream, PYNQ-Z2) of the hardware graph the build makes from onnx_path."""
    from jpq2hw.costmodel import cost_layers
    from jpq2hw.costmodel import estimate as cost_estimate
    from jpq2hw.pipeline import analyze_file

    state = analyze_file(onnx_path)  # the build's own front half (registers the stereo layers)
    est = cost_estimate(cost_layers(state.model, state.analysis), state.board, io_type="io_stream")
    d = est.to_dict()
    return {**est.resources(), "fit": est.fit_status(), "fps": d["performance"]["throughput_per_s"],
            "clock_mhz": d["clock_mhz"]}


def cost_volume_estimate(features: int = N.FEATURES, max_disp: int = N.MAX_DISP, bits: int = 8) -> dict:
    """A rough figure outside the cost model: the io_stream cost volume multiplies F x D pairs of b-bit
    variables each pixel (II = 1): F*D fabric multipliers of about b*b LUTs each plus their adder trees
    (about 2*b LUTs per product)."""
    products = features * max_disp
    return {"multipliers": products, "lut": products * (bits * bits + 2 * bits)}


def motorcycle(models: dict) -> dict:
    """The one real pair (Middlebury 2014 'motorcycle', shipped by scikit-image), downscaled so its disparities
    fit D, run in frame-size tiles as predict.py runs a pair; every finite ground-truth pixel counted.
    models: name -> function(pair [2, h, w]) -> disparity [h, w]."""
    from skimage import data
    from skimage.transform import resize

    left, right, disp = data.stereo_motorcycle()
    valid = np.isfinite(disp)
    scale = (N.MAX_DISP - 1) / disp[valid].max()
    h, w = int(round(disp.shape[0] * scale)), int(round(disp.shape[1] * scale))
    gray = [resize(im[..., :3] @ np.array([0.299, 0.587, 0.114]) / 255.0, (h, w), anti_aliasing=True)
            for im in (left, right)]
    gt = resize(np.where(valid, disp, np.nan), (h, w), order=0) * scale
    pair = np.stack(gray).astype(np.float32)
    m = np.isfinite(gt)
    out = {"size": [h, w], "scale": round(float(scale), 4)}
    for name, fn in models.items():
        pred = fn(pair)
        out[name] = {"epe": epe(pred[m], gt[m]), "d1": d1(pred[m], gt[m])}
    return out


def tiled(model):
    """A torch stereo model as predict.py's tiling sees an exported one (frame-size tiles, any image size)."""
    import predict as P

    class Tiled:
        frame, max_disp = N.FRAME, N.MAX_DISP

        def run(self, batch):
            return N.predict(model, torch.tensor(batch))[:, None]

    return lambda pair: P.predict(Tiled(), pair[0], pair[1])


def picture(x, gt, preds: dict, path: Path, rows=(0, 1, 2, 3), gap: int = 3):
    """One row per test pair: left | ground truth | each prediction, one colour scale (0 to D-1 px)."""
    vmax = N.MAX_DISP - 1
    lines = []
    for i in rows:
        left = np.repeat((x[i, 0] * 255).clip(0, 255).astype(np.uint8)[..., None], 3, -1)
        panels = [left, R._colour(gt[i], vmax)] + [R._colour(p[i], vmax) for p in preds.values()]
        sep = np.full((N.FRAME[0], gap, 3), 255, np.uint8)
        line = np.concatenate([q for panel in panels for q in (panel, sep)][:-1], 1)
        lines += [line, np.full((gap, line.shape[1], 3), 255, np.uint8)]
    R.write_png(path, np.concatenate(lines[:-1], 0))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--motorcycle", action="store_true", help="also report the real pair, once, at the end")
    p.add_argument("--no-hardware", action="store_true",
                   help="skip the cost-model estimates (normalizing a 120x160 stereo graph takes minutes)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    test = N.split("test", N.N_TEST)
    x, gt, vis = test["image"], test["disparity"], test["visible"]
    xt = torch.tensor(x)
    float_model = N.SceneNet()
    float_model.load_state_dict(torch.load(N.OUT / "float.pt"))
    float_model.eval()
    # the compressed variants present: (row name, checkpoint, exported model); the first is the target run
    variants = [(f"compressed {pct} (joint, {onnx})", N.OUT / "checkpoints" / ckpt, HERE / onnx)
                for pct, ckpt, onnx in (("98%", "joint", "scenenet.onnx"), ("90%", "joint90", "scenenet_90.onnx"))
                if (N.OUT / "checkpoints" / ckpt / "checkpoint.pt").exists()]
    compressed = {name: N.load_compressed(ckpt) for name, ckpt, _ in variants}
    joint = next(iter(compressed.values()))
    median = float(np.median(N.split("train", N.N_TRAIN)["disparity"]))

    preds, rows = {}, []
    t = time.perf_counter()
    preds["OpenCV SGBM"] = sgbm(x)
    sgbm_s = (time.perf_counter() - t) / len(x)
    preds["float dense"] = N.predict(float_model, xt)
    for name, model in compressed.items():
        preds[name] = N.predict(model, xt)
    preds["median constant"] = np.full_like(gt, median)
    example = xt[:1]
    hw = {} if args.no_hardware else {name: hardware_estimate(onnx) for name, _, onnx in variants if onnx.exists()}
    models = {"float dense": float_model, **compressed}
    m_float = R.metrics(float_model, example)
    for name, pred in preds.items():
        row = {"name": name, **scores(pred, gt, vis)}
        if name in models:
            m = R.metrics(models[name], example)
            row.update(sparsity=m["sparsity"], weight_bits="/".join(map(str, sorted({l["weight_bits"] for l in m["layers"]}))),
                       memory_bits=m["memory_bits"], bops=m["bops"])
        rows.append(row)
    base, final = rows[1], rows[2]
    cv = cost_volume_estimate()
    lines = [
        "# Stereo on photo-textured scenes: the next flagship candidate",
        "",
        "Produced by `python examples/stereo/results_scenes.py` from the models `examples/stereo/train_scenes.py`",
        f"trained and compressed (seeded, one CPU thread). Test split: {N.N_TEST} pairs of `jpq2hw.data.stereo_scenes`",
        f"at {N.FRAME[0]}x{N.FRAME[1]}, D = {N.MAX_DISP} (photographs on planes, a ground plane, walls, objects at every",
        "depth, half-occlusions, per-camera gain/offset/blur/noise). EPE in px, D1 = error > 3 px and > 5%;",
        "'all' = every pixel (SGBM's holes count as disparity 0), 'visible' = pixels seen by both views.",
        "",
        "| model | EPE all | D1 all | EPE visible | D1 visible | sparsity | weight bits | weight memory (bits) | BOPs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        extra = (f"{100 * r['sparsity']:.2f}% | {r['weight_bits']} | {R.fmt_int(r['memory_bits'])} | {R.fmt_int(r['bops'])}"
                 if "sparsity" in r else "- | - | - | -")
        lines.append(f"| {r['name']} | {r['epe']:.3f} | {100 * r['d1']:.2f}% | {r['epe_visible']:.3f} | "
                     f"{100 * r['d1_visible']:.2f}% | {extra} |")
    rel = final["epe"] / base["epe"] - 1
    lines += [
        "",
        f"Compressed vs float: EPE {100 * rel:+.1f}% (target: within +10%); weight memory "
        f"{100 * (1 - final['memory_bits'] / base['memory_bits']):.2f}% below float dense "
        f"({base['memory_bits'] / final['memory_bits']:.0f}x); BOPs {100 * (1 - final['bops'] / base['bops']):.3f}% below "
        f"({base['bops'] / final['bops']:.0f}x). SGBM: {1000 * sgbm_s:.1f} ms a pair on one CPU core.",
        "",
        f"Hardware estimates (jpq2hw.costmodel of the hardware graph, io_stream, PYNQ-Z2; convolutions only; "
        f"not synthesis), frames/s at {N.FRAME[0]}x{N.FRAME[1]} with one pixel a clock per layer:",
        "",
        *(f"- {name}: {R.fmt_int(e['lut'])} LUT, {R.fmt_int(e['ff'])} FF, {e['dsp']} DSP, {e['bram36']:g} BRAM36 "
          f"({e['fit']}); {R.fmt_int(e['fps'])} frames/s at {e['clock_mhz']:g} MHz" for name, e in hw.items()),
        "",
        f"Not in the cost model: the cost volume ({cv['multipliers']} variable 8x8-bit products a pixel, roughly "
        f"{R.fmt_int(cv['lut'])} LUT by a rough b*b + 2b LUT a product) and the argmax ({N.MAX_DISP} comparisons a pixel).",
        f"Network: receptive field {N.receptive_field()[1]} px wide x {N.receptive_field()[0]} px tall; "
        f"{sum(l['total'] for l in m_float['layers']):,} weights.",
    ]
    summary = N.OUT / "train_summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        lines += ["", f"train_scenes.py: data {s.get('data_s')} s, float training ({s.get('epochs')} epochs) "
                  f"{s.get('float_train_s')} s, compression {s.get('compress_s')} s on one thread of a loaded 2-core machine."]
    if args.motorcycle:
        mc = motorcycle({"float dense": tiled(float_model), "compressed 98%": tiled(joint),
                         "OpenCV SGBM": lambda pair: sgbm(pair[None])[0]})
        lines += ["", f"Real pair, reported once (skimage.data.stereo_motorcycle, downscaled x{mc['scale']} to "
                  f"{mc['size'][0]}x{mc['size'][1]} so its disparities fit D, in frame-size tiles; every ground-truth pixel): "
                  + "; ".join(f"{k} EPE {v['epe']:.2f} px, D1 {100 * v['d1']:.1f}%" for k, v in mc.items()
                              if isinstance(v, dict)) + "."]
    shown = {k: v for k, v in preds.items() if k != "median constant"}
    picture(x, gt, shown, HERE / "results_scenes.png")
    lines += ["", "Four test pairs, one per row: left | ground truth | " + " | ".join(shown) +
              f" (0 to {N.MAX_DISP - 1} px, dark to bright).", "", "![results](results_scenes.png)", ""]
    (HERE / "RESULTS_SCENES.md").write_text("\n".join(lines))
    (N.OUT / "results.json").write_text(json.dumps({"rows": rows, "hardware": hw}, indent=1, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
