"""Write, simulate and synthesize the RTL of a build: OUT/rtl/ and report.json's `synthesis.yosys`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jpq2hw.errors import EXIT_NOT_EXACT, EXIT_OK, JpqError
from jpq2hw.progress import Progress

SYNTH_CHOICES = ("all", "layers", "top", "none")
NOTE = ("Yosys synth_xilinx of da4ml's shift-add Verilog (combinational kernels; streaming line-buffer wrapper "
        "for convolutions). LUT/FF/CARRY/DSP/BRAM are cell counts after technology mapping, before Vivado's "
        "optimization and placement; logic_delay_ns is Yosys `sta` over cell delays only (pre-route logic delay, "
        "no wires, no place-and-route): a lower bound of the critical path, not a timing sign-off.")


def check_tools() -> None:
    """da4ml, iverilog and yosys, checked before anything is built or written."""
    from jpq2hw.extras import require_extra
    from jpq2hw.rtl.sim import require

    require_extra("rtl", "RTL generation (--rtl, jpq2hw rtl)")
    require("iverilog")
    require("vvp")
    require("yosys")  # also elaborates the design for simulation, whatever --synth says


def rtl_for_build(out: Path, model, xs: np.ndarray, expected: np.ndarray, board, progress: Progress | None = None,
                  estimate: dict | None = None, synth: str = "all", source: str = "model") -> dict:
    """Inside a build (or `jpq2hw rtl`): write OUT/rtl, simulate the vectors, synthesize; returns the
    `synthesis.yosys` section of report.json (with `bit_exact`). `model`: the normalized hardware ModelWrapper."""
    from jpq2hw.rtl.design import write_design
    from jpq2hw.rtl.graph import read_network
    from jpq2hw.rtl.sim import iverilog_version, run_and_compare
    from jpq2hw.rtl.synth import synthesize, yosys_version

    if synth not in SYNTH_CHOICES:
        raise JpqError(f"--synth {synth}: choose one of {', '.join(SYNTH_CHOICES)}")
    progress = progress or Progress(quiet=True)
    check_tools()
    out = Path(out)
    family = board.yosys_family
    with progress.step("rtl", "Writing Verilog through da4ml (one shift-add core per layer)"):
        net = read_network(model, source)
        design = write_design(net, out / "rtl", source)
    with progress.step("rtl-sim", f"Simulating the RTL (iverilog) on {len(xs)} vectors, comparing bit for bit"):
        sim = run_and_compare(design, xs, expected)
    est_layers = {l["name"]: l for l in (estimate or {}).get("layers", [])}
    layers = []
    for k in design.kernels:
        l = k.layer
        row = {"name": l.name, "kind": l.kind, "module": k.module, "in_type": k.in_type.hls(),
               "out_type": k.out_type.hls(), "params": l.params, "nonzero_params": l.nonzero,
               "sparsity": round(1 - l.nonzero / l.params, 6) if l.params else None,
               "da4ml_cost_lut": round(k.da4ml_cost, 1)}
        if l.name in est_layers:
            row["estimate_lut"] = est_layers[l.name].get("lut")
        layers.append(row)
    top = None
    if synth in ("all", "layers"):
        for k, row in zip(design.kernels, layers):
            with progress.step("rtl-synth", f"Yosys synth_xilinx -family {family}: layer {k.layer.name}"):
                stats = synthesize(design.folder, design.layer_files(k), k.module, family)
            row.update({key: stats[key] for key in ("lut", "ff", "carry", "dsp", "bram", "logic_delay_ns", "synth_s")})
            if row.get("estimate_lut") is not None and stats["lut"]:
                row["estimate_error"] = round((row["estimate_lut"] - stats["lut"]) / stats["lut"], 4)
    if synth in ("all", "top"):
        with progress.step("rtl-synth", f"Yosys synth_xilinx -family {family}: the whole design ({design.top})"):
            top = synthesize(design.folder, design.files, design.top, family)
        top.pop("family", None)
    (out / "rtl" / "run.sh").write_text(_run_script(design, family))
    section = {
        "tool": yosys_version(),
        "simulator": iverilog_version(),
        "generator": f"da4ml {_da4ml_version()}",
        "family": family,
        "interface": "stream (valid/ready, one pixel per beat, line buffers)" if design.streaming else
                     "parallel (combinational)",
        "bit_exact": sim.bit_exact,
        "vectors": sim.vectors,
        "mismatched_vectors": sim.mismatched_vectors,
        "first_mismatch": sim.first_mismatch,
        "max_abs_error": sim.max_abs_error,
        "sim_cycles": sim.cycles,
        "layers": layers,
        "top": top,
        "trace_s": round(design.trace_s, 3),
        "note": NOTE,
    }
    (out / "rtl" / "synthesis.json").write_text(json.dumps(section, indent=1) + "\n")
    return section


def run_rtl(out: Path, board: str | None = None, synth: str = "all", vectors: int | None = None,
            quiet: bool = False) -> tuple[int, dict]:
    """`jpq2hw rtl OUT`: RTL of an existing build folder; adds `synthesis.yosys` to OUT/report.json."""
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw import boards

    out = Path(out)
    check_tools()
    report_file = out / "report.json"
    needed = [out / "model_normalized.onnx", out / "vectors" / "inputs.npy", out / "vectors" / "expected.npy",
              report_file]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise JpqError(f"{out} is not a jpq2hw build folder (missing {', '.join(missing)}); run `jpq2hw build` first")
    try:
        report = json.loads(report_file.read_text())
    except json.JSONDecodeError as exc:
        raise JpqError(f"{report_file}: not valid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JpqError(f"{report_file}: cannot read ({type(exc).__name__}: {exc})") from None
    if not isinstance(report, dict):
        raise JpqError(f"{report_file}: not a jpq2hw report (a JSON {type(report).__name__}, not an object)")
    board_obj = boards.load_board(board or report.get("board", "pynq-z2"))
    vec = out / "vectors"
    if (vec / "hw_inputs.npy").is_file() and (vec / "hw_outputs.npy").is_file():
        # float scales: the hardware sees integer codes; its outputs were proven equal to the reference's
        xs_file, expected_file = vec / "hw_inputs.npy", vec / "hw_outputs.npy"
    else:
        xs_file, expected_file = vec / "inputs.npy", vec / "expected.npy"
    xs, expected = _load_vectors(xs_file), _load_vectors(expected_file)
    if len(xs) != len(expected):
        raise JpqError(f"{xs_file} holds {len(xs)} vectors but {expected_file} holds {len(expected)}")
    if vectors is not None:
        if vectors < 1:
            raise JpqError(f"--vectors {vectors}: need at least 1")
        xs, expected = xs[:vectors], expected[:vectors]
    model_file = out / "model_normalized.onnx"
    try:
        model = ModelWrapper(str(model_file))
    except Exception as exc:
        raise JpqError(f"{model_file}: cannot read the ONNX model ({type(exc).__name__}: "
                       f"{_first_line(exc)})") from None
    if not model.graph.input or not model.graph.node:
        raise JpqError(f"{model_file}: an empty ONNX graph (no inputs or no nodes); rerun `jpq2hw build`")
    progress = Progress(quiet=quiet)
    section = rtl_for_build(out, model, xs, expected, board_obj, progress, estimate=report.get("estimate"),
                            synth=synth, source=report.get("model", str(out)))
    report.setdefault("synthesis", {})["yosys"] = section
    report_file.write_text(json.dumps(report, indent=1) + "\n")
    progress.info(summary_line(out, section))
    return (EXIT_OK if section["bit_exact"] else EXIT_NOT_EXACT), report


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


def _load_vectors(path: Path) -> np.ndarray:
    try:
        arr = np.load(path)
    except Exception as exc:
        raise JpqError(f"{path}: cannot read the vectors ({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(arr, np.ndarray) or arr.ndim == 0:
        raise JpqError(f"{path}: not an array of vectors (one row per vector)")
    return arr


def summary_line(out: Path, s: dict) -> str:
    verdict = "bit-exact" if s["bit_exact"] else (
        f"NOT bit-exact ({s['mismatched_vectors']} vectors differ, first {s['first_mismatch']}, "
        f"max abs error {s['max_abs_error']:g})")
    line = f"{out / 'rtl'}: RTL {verdict} on {s['vectors']} vectors (iverilog)"
    if s["top"]:
        t = s["top"]
        line += (f"; Yosys {s['family']}: {t['lut']} LUT, {t['ff']} FF, {t['carry']} CARRY, {t['dsp']} DSP, "
                 f"{t['bram']} BRAM, pre-route logic delay {t['logic_delay_ns']} ns")
    elif any("lut" in l for l in s["layers"]):
        line += f"; Yosys {s['family']}: {sum(l.get('lut', 0) for l in s['layers'])} LUT over the layers"
    return line


def _da4ml_version() -> str:
    try:
        from importlib.metadata import version

        return version("da4ml")
    except Exception:
        return "?"


def _run_script(design, family: str) -> str:
    from jpq2hw.templating import render

    return render("rtl/run.sh.j2", top=design.top, family=family,
                  layers=[(k.module) for k in design.kernels])
