"""The stereo compression study (why 98% collapsed, and what holds): named runs of `jpq2hw compress` on a trained
float parent of scenenet.py, each resumable, each recording after every step the validation EPE and what
pruning left per layer and per output channel (compress's own history), then the test-split scores.

    python examples/stereo/study.py run NAME [NAME ...] [--threads 1]   # resumable; skips finished runs
    python examples/stereo/study.py list                                 # the runs and whether they are done
    python examples/stereo/study.py report                               # STUDY.md from the finished runs

Every run of one comparison has the same fine-tuning budget (epochs over the same crops); selection uses the
validation split only; the test split is scored once per finished run. Results: out_scenes/study/NAME/result.json.
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

import scenenet as N  # noqa: E402

from jpq2hw.errors import JpqError  # noqa: E402

STUDY = N.OUT / "study"

# budgets in epochs of 50 batches of 40x96 crops: "short" is what compress_scenes.yaml shipped with (4x1 + 2)
SHIPPED = dict(prune_steps=4, epochs_per_step=1, qat_epochs=2)
BUDGET = dict(prune_steps=6, epochs_per_step=1, qat_epochs=3)         # 9 epochs: the equal budget of comparisons
LONG = dict(prune_steps=8, epochs_per_step=2, qat_epochs=6)           # 22 epochs
XLONG = dict(prune_steps=10, epochs_per_step=3, qat_epochs=8)         # 38 epochs
QUANT = dict(weight_bits=4, act_bits=8, input_bits=8, lr=1e-3, pretrain_epochs=0, schedule="cubic",
             finetune="regrow")
# the fixes the study tests, one at a time then together
FLOOR = dict(min_kept_per_channel=1)
# the shipped behaviour: no channel floor, a collapse allowed (every layer named)
NO_FLOOR = dict(min_kept_per_channel=0, allow_dead_channels=[n for n, m in N.SceneNet().named_modules()
                                                              if isinstance(m, torch.nn.Conv2d)])
LAMP = dict(prune_criterion="lamp")
KD = dict(distill=0.5, distill_temperature=2.0, lr_schedule="cosine")


def _runs() -> dict:
    runs = {
        # diagnosis: the shipped recipe, then each ingredient alone
        "shipped_98": dict(method="joint", target_sparsity=0.98, **SHIPPED, **NO_FLOOR),
        "quant_only": dict(method="joint", target_sparsity=0.0, **BUDGET),
        "global_98": dict(method="joint", target_sparsity=0.98, **BUDGET, **FLOOR),
        "lamp_98": dict(method="joint", target_sparsity=0.98, **BUDGET, **FLOOR, **LAMP),
        "lamp_kd_98": dict(method="joint", target_sparsity=0.98, **BUDGET, **FLOOR, **LAMP, **KD),
        "magnitude_lamp_kd_98": dict(method="magnitude", target_sparsity=0.98, **BUDGET, **FLOOR, **LAMP, **KD),
        "random_lamp_kd_98": dict(method="joint", score="random", target_sparsity=0.98, **BUDGET, **FLOOR, **LAMP,
                                  **KD),
        "global_kd_98": dict(method="joint", target_sparsity=0.98, **BUDGET, **FLOOR, **KD),
        "lamp_kd_98_long": dict(method="joint", target_sparsity=0.98, **LONG, **FLOOR, **LAMP, **KD),
        "lamp_kd_90_long": dict(method="joint", target_sparsity=0.90, **LONG, **FLOOR, **LAMP, **KD),
        "lamp_kd_95_long": dict(method="joint", target_sparsity=0.95, **LONG, **FLOOR, **LAMP, **KD),
        "lamp_kd_98_xlong": dict(method="joint", target_sparsity=0.98, **XLONG, **FLOOR, **LAMP, **KD),
        "magnitude_90": dict(method="magnitude", target_sparsity=0.90, **BUDGET, **FLOOR, **LAMP, **KD),
    }
    for pct in (50, 80, 90, 95, 99):  # the sweep of the chosen recipe
        runs[f"lamp_kd_{pct}"] = dict(method="joint", target_sparsity=pct / 100, **BUDGET, **FLOOR, **LAMP, **KD)
    for seed in (1, 2):  # seeds of the criteria comparison at 98%
        for name in ("lamp_kd_98", "magnitude_lamp_kd_98", "random_lamp_kd_98"):
            runs[f"{name}_s{seed}"] = {**runs[name], "seed": seed}
    for name in ("lamp_kd_98", "lamp_kd_99"):  # the wider parent
        runs[f"wide_{name}"] = {**runs[name], "parent": "wide"}
    return {k: {**QUANT, **v} for k, v in runs.items()}


RUNS = _runs()


def _evaluate(model, split: dict) -> dict:
    pred = N.predict(model, split["image"])
    from jpq2hw.data.stereo import d1, epe

    gt, vis = split["disparity"], split["visible"]
    hist = np.bincount(np.clip(np.rint(pred), 0, N.MAX_DISP - 1).astype(int).ravel(), minlength=N.MAX_DISP)
    return {"epe": epe(pred, gt), "d1": d1(pred, gt), "epe_visible": epe(pred, gt, vis),
            "d1_visible": d1(pred, gt, vis), "max_pred": float(pred.max()),
            "pred_histogram": (hist / hist.sum()).round(4).tolist()}


def run(name: str) -> dict:
    from jpq2hw.compress import CompressConfig, compress
    from jpq2hw.compress.metrics import model_metrics

    folder = STUDY / name
    result_path = folder / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    spec = dict(RUNS[name])
    parent = spec.pop("parent", "base")
    seed = spec.get("seed", 0)
    entry = N.make_trained(parent=parent, seed=seed)
    float_model = entry["model"]
    test = N.split("test", N.N_TEST)
    float_scores = _evaluate(float_model, test)
    float_metrics = model_metrics(float_model, entry["example_input"])
    config = CompressConfig.from_dict({**spec, "checkpoint_dir": str(folder / "checkpoint")}, source=name)
    start = time.perf_counter()
    refusal = None
    try:
        model, history = compress(float_model, entry["train_loader"], entry["val_fn"], config,
                                  loss_fn=entry["loss_fn"], progress=_Progress(name))
    except JpqError as exc:  # compress refused its result (e.g. a dead channel): measure what it made anyway
        refusal = str(exc)
        model, history = _from_checkpoint(folder / "checkpoint", parent, config)
    seconds = time.perf_counter() - start
    result = {"name": name, "parent": parent, "config": config.to_dict(), "history": history, "refusal": refusal,
              "float_test": float_scores, "test": _evaluate(model, test), "float_metrics": float_metrics,
              "metrics": model_metrics(model, entry["example_input"]), "compress_seconds": round(seconds, 1),
              "threads": torch.get_num_threads()}
    torch.save(model.state_dict(), folder / "model.pt")
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float))
    tmp.replace(result_path)
    return result


def _from_checkpoint(folder: Path, parent: str, config):
    from jpq2hw.compress.pipeline import CHECKPOINT_NAME
    from jpq2hw.compress.qmodules import prepare_model, set_quant_enabled

    payload = torch.load(folder / CHECKPOINT_NAME, weights_only=False)
    model = prepare_model(N.SceneNet(*N.PARENTS[parent]), config)
    set_quant_enabled(model, payload["quantized"])
    model.load_state_dict(payload["model"])
    return model.eval(), payload["history"]


class _Progress:
    def __init__(self, name):
        self.name = name

    def info(self, message):
        print(f"{time.strftime('%H:%M:%S')} {self.name}: {message}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run (or resume) named runs in order")
    r.add_argument("names", nargs="+", choices=sorted(RUNS))
    r.add_argument("--threads", type=int, default=1)
    sub.add_parser("list", help="the runs and whether they are done")
    sub.add_parser("report", help="write STUDY.md from the finished runs")
    e = sub.add_parser("estimate", help="hardware estimates of finished runs (cached in their folders)")
    e.add_argument("names", nargs="+", choices=sorted(RUNS))
    args = p.parse_args(argv)
    if args.command == "list":
        for name in RUNS:
            print(f"{name:28s} {'done' if (STUDY / name / 'result.json').exists() else '-'}")
    elif args.command == "run":
        torch.set_num_threads(args.threads)
        for name in args.names:
            res = run(name)
            print(f"{name}: test EPE {res['test']['epe']:.3f} (float {res['float_test']['epe']:.3f}), "
                  f"sparsity {res['history'][-1]['sparsity']:.4f}", flush=True)
    elif args.command == "estimate":
        for name in args.names:
            print(name, json.dumps(hardware_estimate(name)), flush=True)
    else:
        import study_report

        study_report.write(RUNS, STUDY, HERE / "STUDY.md")



def load_run(name: str):
    """A finished run's compressed torch model (quantized, masked)."""
    from jpq2hw.compress import CompressConfig
    from jpq2hw.compress.qmodules import prepare_model, set_quant_enabled

    result = json.loads((STUDY / name / "result.json").read_text())
    cfg = CompressConfig.from_dict({k: v for k, v in result["config"].items() if v is not None}, source=name)
    model = prepare_model(N.SceneNet(*N.PARENTS[result["parent"]]), cfg)
    set_quant_enabled(model, True)
    model.load_state_dict(torch.load(STUDY / name / "model.pt"))
    return model.eval()


# the estimate's frame: the full width (line buffers hold whole rows) and a few rows; the per-pixel datapath is
# the same at any height, and frames/s is scaled to the full frame (one pixel a clock per layer)
ESTIMATE_FRAME = (16, N.FRAME[1])


def hardware_estimate(name: str) -> dict:
    """jpq2hw's cost model (io_stream, PYNQ-Z2) on the run's QONNX, plus the two stereo layers it does not
    price (cost volume and argmax), by a rough count of their fabric multipliers and comparators."""
    import tempfile

    from jpq2hw.compress import to_qonnx
    from jpq2hw.costmodel import cost_layers
    from jpq2hw.costmodel import estimate as cost_estimate
    from jpq2hw.pipeline import analyze_file

    cached = STUDY / name / "estimate.json"
    if cached.exists():
        return json.loads(cached.read_text())
    model = load_run(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.onnx"
        to_qonnx(model, torch.zeros(1, 2, *ESTIMATE_FRAME), path)
        state = analyze_file(path)
        est = cost_estimate(cost_layers(state.model, state.analysis), state.board, io_type="io_stream")
    d = est.to_dict()
    from jpq2hw.compress.stereo import Siamese

    features = [m for m in model.modules() if isinstance(m, Siamese)][-1].conv.out_channels
    cv_products, bits = features * N.MAX_DISP, 8
    extra_lut = cv_products * (bits * bits + 2 * bits) + N.MAX_DISP * 2 * bits  # products + argmax comparators
    res = est.resources()
    scale = ESTIMATE_FRAME[0] * ESTIMATE_FRAME[1] / (N.FRAME[0] * N.FRAME[1])
    out = {**res, "lut_with_stereo_layers": res.get("lut", 0) + extra_lut, "stereo_layers_lut": extra_lut,
            "fit": est.fit_status(), "fps_full_frame": round(d["performance"]["throughput_per_s"] * scale, 1),
            "clock_mhz": d["clock_mhz"]}
    cached.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
