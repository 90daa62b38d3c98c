"""`jpq2hw report model.onnx --board B [-o DIR]`: the hardware estimate and per-layer table without building
(the build's steps up to annotate; no hls4ml conversion, no compilation)."""

from __future__ import annotations

from pathlib import Path

from jpq2hw.errors import JpqError, printable
from jpq2hw.pipeline.options import IO_TYPES


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
    p.add_argument("--io", choices=sorted(IO_TYPES) + ["auto"], default="auto",
                   help="io type; auto (default) picks as `jpq2hw build` does: stream when a conv feature map "
                        "exceeds 4096 values")
    p.add_argument("--reuse-factor", type=int, default=1, help="global reuse factor (1 = Latency, hard-wired)")
    p.add_argument("--fit", choices=["none", "auto"], default="none",
                   help="auto: pick strategy and reuse factor per layer so the design fits the board")
    p.add_argument("--clock-mhz", type=float, help="target clock (default: the board's)")
    p.add_argument("--csynth", type=Path, help="a csynth.xml to show next to the estimate")
    p.add_argument("--input-type", metavar="TYPE",
                   help="grid of an unquantized float input, as for `jpq2hw build` (e.g. fixed<16,6>)")
    p.add_argument("--force", action="store_true",
                   help="with -o: replace report files an earlier `jpq2hw report -o` wrote there")
    p.set_defaults(func=run)


REPORT_FILES = ("report.json", "report.md", "report.html")
REPORT_MARKER = ".jpq2hw-report"  # written beside the report files: `--force` replaces only files it vouches for


def check_report_folder(out: Path, force: bool) -> None:
    """Before any work: -o may add report files to a folder, and replace them only with --force and only where
    jpq2hw's marker says it wrote them; never a build's own report (its record of the check)."""
    from jpq2hw.output_folder import BUILD_MARKER

    if out.exists() and not out.is_dir():
        raise JpqError(f"-o {out}: exists and is not a folder")
    if (out / BUILD_MARKER).is_file():
        raise JpqError(f"-o {out}: a build folder, whose report.json is the record of its check; write the estimate "
                       f"into another folder")
    existing = [name for name in REPORT_FILES if (out / name).exists() or (out / name).is_symlink()]
    if not existing:
        return
    if not force:
        raise JpqError(f"-o {out}: {', '.join(existing)} exist there; pass --force to replace them")
    if not (out / REPORT_MARKER).is_file():
        raise JpqError(f"-o {out}: {', '.join(existing)} were not written by `jpq2hw report` (no {REPORT_MARKER} "
                       f"marker); --force replaces only those, so nothing was written")


def build_estimate_report(model_path: Path, board_name: str, io: str = "auto", reuse_factor: int = 1,
                          fit: str = "none", clock_mhz: float | None = None, csynth: Path | None = None,
                          input_type: str | None = None) -> dict:
    """The report dict (same keys as a build's report.json minus the build-only ones) for a model: the build's
    own steps up to annotate (load, normalize, validate, annotate), then the estimate."""
    from jpq2hw.costmodel import cost_layers, estimate, estimate_for_report
    from jpq2hw.pipeline import analyze_file
    from jpq2hw.report.build_report import interface_from_graph, layer_rows, totals

    if reuse_factor < 1:
        raise JpqError(f"--reuse-factor {reuse_factor}: must be >= 1")
    if clock_mhz is not None and not 1 <= clock_mhz <= 1000:
        raise JpqError(f"--clock-mhz {clock_mhz}: must be between 1 and 1000")
    if input_type is not None:
        from jpq2hw.frontend.input_type import parse_input_type

        parse_input_type(input_type)  # a malformed type fails before anything is read
    state = analyze_file(model_path, board=board_name, io=io, reuse_factor=reuse_factor, fit=fit,
                         clock_mhz=clock_mhz, input_type=input_type)
    board, analysis, io_type, clock, source = state.board, state.analysis, state.io_type, state.clock_mhz, state.source
    if state.plan is not None:
        est = state.plan.estimate
    else:
        est = estimate(cost_layers(state.model, analysis), board, io_type=io_type, clock_mhz=clock,
                       reuse_factor=reuse_factor)
    rows = layer_rows(analysis)
    report = {
        "model": source, "board": board.name, "part": board.part, "clock_mhz": clock, "io_type": io_type,
        "io_choice": state.io_why,
        "reuse_factor": reuse_factor if fit != "auto" else "auto", "input_type": analysis.input_quant.fixed_type().hls(),
        "interface": interface_from_graph(state.model, analysis),
        "layers": rows, "totals": totals(rows), "estimate": estimate_for_report(state.model, analysis, board, est=est),
    }
    if csynth is not None:
        from jpq2hw.report.hls_synth import parse_csynth

        if not Path(csynth).is_file():
            raise JpqError(f"--csynth {csynth}: no such file")
        report.setdefault("synthesis", {})["hls"] = parse_csynth(csynth).to_dict()
    return report


def run(args) -> int:
    from jpq2hw.report.build_report import render_markdown, write_reports

    from jpq2hw.errors import check_utf8_path

    check_utf8_path(args.model, "model file")
    if args.out is not None:
        check_utf8_path(args.out, "-o")
        check_report_folder(Path(args.out), args.force)
    report = build_estimate_report(args.model, args.board, io=args.io, reuse_factor=args.reuse_factor,
                                   fit=args.fit, clock_mhz=args.clock_mhz, csynth=args.csynth,
                                   input_type=args.input_type)
    print(render_markdown(report), end="")
    if args.out is not None:
        out = Path(args.out)
        check_report_folder(out, args.force)  # again: the folder may have changed meanwhile
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / REPORT_MARKER).write_text("report files written by `jpq2hw report -o`; `--force` may replace "
                                             f"them: {', '.join(REPORT_FILES)}\n")
        except OSError as exc:
            raise JpqError(f"-o {out}: cannot write there ({exc.strerror})") from None
        write_reports(out, report)
        print()
        print(printable(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.html'}"))
    return 0
