"""`jpq2hw report model.onnx --board B [-o DIR]`: the hardware estimate and per-layer table without building
(load, validate, normalize, analyze; no hls4ml conversion, no compilation)."""

from __future__ import annotations

from pathlib import Path

from jpq2hw.errors import JpqError, printable

IO_TYPES = {"parallel": "io_parallel", "stream": "io_stream"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="estimate resources, latency and board fit of a QONNX model without building it",
        description="Read a quantized (QONNX) model, derive its per-layer bit widths and sparsity, and print the "
        "hardware cost estimate (weight memory, BOPs, multipliers, LUT/FF/DSP/BRAM, latency) against the board. "
        "With -o, also write report.json, report.md and report.html there. Nothing is converted or compiled: "
        "the numbers are an estimate, not a synthesis result.",
    )
    p.add_argument("model", type=Path, help="the .onnx (QONNX) model")
    p.add_argument("--board", default="pynq-z2", help="target board (see `jpq2hw boards`; default pynq-z2)")
    p.add_argument("-o", "--out", type=Path, help="write report.json/.md/.html into this folder")
    p.add_argument("--io", choices=sorted(IO_TYPES), default="parallel", help="io type (default parallel)")
    p.add_argument("--reuse-factor", type=int, default=1, help="global reuse factor (1 = Latency, hard-wired)")
    p.add_argument("--fit", choices=["none", "auto"], default="none",
                   help="auto: pick strategy and reuse factor per layer so the design fits the board")
    p.add_argument("--clock-mhz", type=float, help="target clock (default: the board's)")
    p.add_argument("--csynth", type=Path, help="a csynth.xml to show next to the estimate")
    p.add_argument("--input-type", metavar="TYPE",
                   help="grid of an unquantized float input, as for `jpq2hw build` (e.g. fixed<16,6>)")
    p.set_defaults(func=run)


def build_estimate_report(model_path: Path, board_name: str, io: str = "parallel", reuse_factor: int = 1,
                          fit: str = "none", clock_mhz: float | None = None, csynth: Path | None = None,
                          input_type: str | None = None) -> dict:
    """The report dict (same keys as a build's report.json minus the build-only ones) for a model."""
    from jpq2hw import boards
    from jpq2hw import extensions  # noqa: F401  (custom layers and pattern passes, as the build registers them)
    from jpq2hw.annotate.quant_types import analyze
    from jpq2hw.costmodel import cost_layers, estimate, estimate_for_report, fit_auto
    from jpq2hw.frontend.load import load_model
    from jpq2hw.frontend.validate import validate_quantizers, validate_structure
    from jpq2hw.normalize.passes import normalize
    from jpq2hw.report.build_report import interface_from_graph, layer_rows, totals

    board = boards.load_board(board_name)
    if reuse_factor < 1:
        raise JpqError(f"--reuse-factor {reuse_factor}: must be >= 1")
    if clock_mhz is not None and not 1 <= clock_mhz <= 1000:
        raise JpqError(f"--clock-mhz {clock_mhz}: must be between 1 and 1000")
    from jpq2hw.frontend.input_type import parse_input_type

    declared = parse_input_type(input_type) if input_type is not None else None
    source = str(model_path)
    model = load_model(model_path)
    validate_structure(model, source)
    try:
        model = normalize(model, source, input_type=declared).hardware
    except JpqError:
        raise
    except Exception as exc:
        raise JpqError(f"{source}: qonnx could not normalize the model ({type(exc).__name__}: {exc})") from None
    validate_quantizers(model, source)
    analysis = analyze(model, source)
    layers = cost_layers(model, analysis)
    io_type = IO_TYPES[io]
    clock = float(clock_mhz or board.clock_mhz)
    if fit == "auto":
        est = fit_auto(layers, board, io_type=io_type, clock_mhz=clock).estimate
    else:
        est = estimate(layers, board, io_type=io_type, clock_mhz=clock, reuse_factor=reuse_factor)
    rows = layer_rows(analysis)
    report = {
        "model": source, "board": board.name, "part": board.part, "clock_mhz": clock, "io_type": io_type,
        "reuse_factor": reuse_factor if fit != "auto" else "auto", "input_type": analysis.input_quant.fixed_type().hls(),
        "interface": interface_from_graph(model, analysis),
        "layers": rows, "totals": totals(rows), "estimate": estimate_for_report(model, analysis, board, est=est),
    }
    if csynth is not None:
        from jpq2hw.report.hls_synth import parse_csynth

        if not Path(csynth).is_file():
            raise JpqError(f"--csynth {csynth}: no such file")
        report.setdefault("synthesis", {})["hls"] = parse_csynth(csynth).to_dict()
    return report


def run(args) -> int:
    from jpq2hw.report.build_report import render_markdown, write_reports

    report = build_estimate_report(args.model, args.board, io=args.io, reuse_factor=args.reuse_factor,
                                   fit=args.fit, clock_mhz=args.clock_mhz, csynth=args.csynth,
                                   input_type=args.input_type)
    print(render_markdown(report), end="")
    if args.out is not None:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise JpqError(f"-o {out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        write_reports(out, report)
        print()
        print(printable(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.html'}"))
    return 0
