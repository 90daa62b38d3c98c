"""`jpq2hw build`: load -> validate -> normalize -> annotate -> convert -> write -> verify -> report.

Each step is its own module; this file only runs them in order, times them, and guarantees that a failed
build leaves nothing behind (and that an existing output folder survives unless --force).
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jpq2hw import boards
from jpq2hw.errors import EXIT_NOT_EXACT, EXIT_OK, JpqError
from jpq2hw.progress import Progress

BACKENDS = {"vitis": "Vitis", "vivado": "Vivado"}
IO_TYPES = {"parallel": "io_parallel", "stream": "io_stream"}


@dataclass
class BuildOptions:
    model: Path
    board: str = "pynq-z2"
    out: Path | None = None
    vectors: int = 100
    input_data: Path | None = None
    backend: str = "vitis"
    io: str = "auto"  # parallel | stream | auto (chosen from the model's feature-map sizes)
    reuse_factor: int = 1
    clock_mhz: float | None = None
    force: bool = False
    quiet: bool = False
    seed: int = 0
    fit: str = "none"  # none | auto: pick strategy and reuse factor per layer so the estimate fits the board
    rtl: bool = False  # also Verilog through da4ml, simulated bit-exact (iverilog) and synthesized (Yosys)
    input_type: str | None = None  # the grid of an unquantized float input, e.g. fixed<16,6> (frontend/input_type.py)

    def output_dir(self) -> Path:
        return self.out if self.out is not None else Path(f"{Path(self.model).name.split('.')[0]}_{self.board}")


def check_options(opts: BuildOptions):
    board = boards.load_board(opts.board)  # raises with the list of known boards
    if opts.backend not in BACKENDS:
        raise JpqError(f"--backend {opts.backend}: choose one of {', '.join(BACKENDS)}")
    if opts.io not in IO_TYPES and opts.io != "auto":
        raise JpqError(f"--io {opts.io}: choose one of {', '.join(IO_TYPES)} or auto")
    if opts.fit not in ("none", "auto"):
        raise JpqError(f"--fit {opts.fit}: choose none or auto")
    if opts.vectors < 1:
        raise JpqError(f"--vectors {opts.vectors}: need at least 1")
    if opts.reuse_factor < 1:
        raise JpqError(f"--reuse-factor {opts.reuse_factor}: must be >= 1")
    if opts.clock_mhz is not None and not 1 <= opts.clock_mhz <= 1000:
        raise JpqError(f"--clock-mhz {opts.clock_mhz}: must be between 1 and 1000")
    if opts.input_data is not None and not Path(opts.input_data).is_file():
        raise JpqError(f"--input-data {opts.input_data}: no such file")
    if opts.input_type is not None:
        from jpq2hw.frontend.input_type import parse_input_type

        parse_input_type(opts.input_type)  # a malformed type fails before anything is built
    out = opts.output_dir()
    if out.exists() and not opts.force:
        raise JpqError(f"output folder {out} exists; pass --force to replace it")
    if opts.rtl:
        from jpq2hw.rtl.run import check_tools

        check_tools()  # missing yosys/iverilog fail before anything is built
    return board


@contextmanager
def output_folder(out: Path, force: bool):
    """Build straight into `out` (hls4ml writes absolute paths, so the folder cannot be moved afterwards);
    an old `out` is kept aside until the build succeeds, and a failed build removes every trace."""
    backup = None
    if out.exists():
        assert force
        backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(backup / out.name)
    out.mkdir(parents=True)
    try:
        yield out
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if backup is not None:
            (backup / out.name).rename(out)
            shutil.rmtree(backup, ignore_errors=True)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def run_build(opts: BuildOptions) -> tuple[int, dict]:
    board = check_options(opts)  # before the heavy imports: a bad option or a missing extra fails at once
    from jpq2hw.annotate.quant_types import analyze, input_quant
    from jpq2hw.costmodel import cost_layers, estimate_for_report, fit_auto
    from jpq2hw.convert.hls4ml_convert import ConvertOptions, convert, layer_types
    from jpq2hw.frontend.load import load_model
    from jpq2hw import extensions  # noqa: F401  (registers the custom layers and their pattern passes)
    from jpq2hw.frontend.validate import validate_hardware_ops, validate_quantizers, validate_structure
    from jpq2hw.normalize.passes import normalize
    from jpq2hw.normalize.host_split import within_tolerance
    from jpq2hw.report.build_report import layer_rows, totals, write_reports
    from jpq2hw.verify import csim, vectors
    from jpq2hw.verify.reference import Reference
    from jpq2hw.writer.axis_check import check_axis_wrapper
    from jpq2hw.writer.board_files import render_board_files
    from jpq2hw.writer.host_files import write_host_files
    from jpq2hw.writer.project_info import project_info_from_hls_model

    source = str(opts.model)
    progress = Progress(quiet=opts.quiet)
    clock = float(opts.clock_mhz or board.clock_mhz)
    out = opts.output_dir()

    with progress.step("load", f"Loading {source}"):
        model = load_model(opts.model)
        validate_structure(model, source)
    with progress.step("normalize", "Normalizing with qonnx (cleanup, channels-last, Gemm->MatMul)"):
        try:
            from jpq2hw.frontend.input_type import parse_input_type

            declared = parse_input_type(opts.input_type) if opts.input_type is not None else None
            normalized = normalize(model, source, input_type=declared)
            model = normalized.hardware
        except JpqError:
            raise
        except Exception as exc:
            raise JpqError(f"{source}: qonnx could not normalize the model ({type(exc).__name__}: {exc})") from None
        validate_hardware_ops(model, source)
        validate_quantizers(model, source)
    with progress.step("annotate", "Deriving fixed-point types from the Quant nodes"):
        analysis = analyze(model, source)
        host = normalized.host  # float scales: integer hardware between a host head and tail
        # vectors have the reference's input shape (the hardware's may be lifted from 1-D to 2-D)
        in_shape = list(normalized.reference.get_tensor_shape(normalized.reference.graph.input[0].name)[1:])
        in_q = input_quant(normalized.reference, source) if host else analysis.input_quant
        if opts.input_data is not None:
            raw_shape = normalized.full_reference.get_tensor_shape(normalized.full_reference.graph.input[0].name)
            user = vectors.load_user_vectors(Path(opts.input_data), in_q, list(raw_shape[1:]), normalized.head)
        else:
            user = np.zeros((0, *in_shape))
        io_type, io_why = choose_io(model, opts.io)
        progress.info(f"  io type: {io_type} ({io_why})")
        plan = None
        if opts.fit == "auto":
            plan = fit_auto(cost_layers(model, analysis), board, io_type=io_type, clock_mhz=clock)

    with output_folder(out, opts.force):
        cfg = ConvertOptions(backend=BACKENDS[opts.backend], io_type=io_type,
                             reuse_factor=opts.reuse_factor, clock_mhz=clock, part=board.part, plan=plan)
        with progress.step("convert", f"Converting with hls4ml ({cfg.backend}, {cfg.io_type})"):
            hls_model = convert(model, analysis, out / "hls", cfg)
            types = layer_types(hls_model)
            for layer in analysis.layers:
                hls_layer = next((l for l in hls_model.get_layers() if l.outputs[0] == layer.output), None)
                acc = hls_layer.get_attr("accum_t") if hls_layer is not None else None
                layer.accum_bits = int(acc.precision.width) if acc is not None else None
            model.save(str(out / "model_normalized.onnx"))
        with progress.step("write", f"Rendering board files for {board.name}"):
            info = project_info_from_hls_model(hls_model, board, clock, "hls")
            render_board_files(out, board, info)
            if board.templates.pynq_overlay:  # the driver runs the host head/tail and the input quantizer
                write_host_files(out, normalized, in_q)

        xs = np.concatenate([
            vectors.random_vectors(in_q, in_shape, opts.vectors, opts.seed), user])
        hw_in = xs if host is None else xs / host.input_scale  # exact: the input Quant's integer codes
        max_accum = max([l.accum_bits or 0 for l in analysis.layers] + [_max_width(types)])
        # thresholds are solved in exact arithmetic, which float64 reproduces; float32 may round at a step
        reference = Reference(normalized.reference, max_accum, force_float64=host is not None)
        with progress.step("reference", f"Running the reference ({reference.kind}) on {len(xs)} vectors"):
            expected = reference.run_batch(xs)
            float32_differs = None
            if host is not None:
                ref32 = Reference(normalized.reference, 0)
                if ref32.kind != reference.kind:  # vectors where float32 rounding alone moved a quantizer step
                    moved = ~np.isclose(ref32.run_batch(xs), expected, rtol=2.0**-20, atol=0)
                    float32_differs = [int(i) for i in np.nonzero(np.any(moved.reshape(len(xs), -1), axis=1))[0]]
        with progress.step("compile", "Compiling the C++ with g++ (C-simulation)"):
            csim.compile_model(hls_model)
        with progress.step("simulate", f"Simulating {len(xs)} vectors and comparing bit for bit"):
            hw = csim.simulate(hls_model, hw_in, list(expected.shape[1:]))
            # float scales: the hardware part is integer; compare in its units (host.reference_codes)
            result = csim.compare(hw, expected if host is None else host.reference_codes(expected, hw))
            host_float_error = None if host is None else float(np.max(np.abs(host.to_real(hw) - expected)))
        tail_error, tail_ok = None, True
        if normalized.tail is not None:
            with progress.step("host_tail", "Running the host tail (float ops after the core) on both"):
                hw_final = normalized.tail.run(hw if host is None else host.to_real(hw))
                ref_final = (Reference(normalized.full_reference, max_accum).run_batch(xs) if normalized.head is None
                             else normalized.tail.run(expected))
                tail_error = float(np.max(np.abs(hw_final.astype(np.float64) - ref_final)))
                tail_ok = within_tolerance(hw_final, ref_final)
        with progress.step("axis", "Checking the AXI-Stream wrapper against the reference (g++)"):
            # the wrapper must reproduce the top function: its proven outputs (the reference's, in hardware units)
            axis_expected = expected if host is None else hw
            axis = check_axis_wrapper(out, info, hw_in.reshape(len(xs), -1), axis_expected.reshape(len(xs), -1))
        divergent = None
        if not result.bit_exact:  # after the wrapper check: tracing recompiles the C++ with tracing code
            with progress.step("trace", "Tracing layers to find where the C++ diverges"):
                divergent = csim.first_divergent_layer(hls_model, model, hw_in[result.first_mismatch][None])

        vec_dir = out / "vectors"
        vec_dir.mkdir()
        np.save(vec_dir / "inputs.npy", xs)
        np.save(vec_dir / "expected.npy", expected)
        if host is not None:  # what the hardware itself sees and returns (integer codes)
            np.save(vec_dir / "hw_inputs.npy", hw_in)
            np.save(vec_dir / "hw_outputs.npy", hw)

        rows = layer_rows(analysis)
        report = {
            "model": str(opts.model),
            "board": board.name,
            "part": board.part,
            "clock_mhz": clock,
            "backend": cfg.backend,
            "io_type": cfg.io_type,
            "reuse_factor": cfg.reuse_factor,
            "io_choice": io_why,
            "bit_exact": bool(result.bit_exact and axis.passed),
            "vectors": result.vectors,
            "mismatched_vectors": result.mismatched_vectors,
            "max_abs_error": result.max_abs_error,
            "host_float_max_abs_error": host_float_error,
            "first_divergent_layer": divergent,
            "reference": reference.kind,
            "host_ops": (normalized.head.ops if normalized.head else []) + (host.host_ops if host else [])
            + (normalized.tail.ops if normalized.tail else []),
            "host_tail_max_abs_error": tail_error,
            "host_tail_within_tolerance": tail_ok,  # |error| <= HOST_ATOL + HOST_RTOL * |reference|
            "float32_reference_differs": float32_differs,
            "axis_wrapper": "bit-exact" if axis.passed else f"FAILED at {axis.stage}",
            "input_type": analysis.input_quant.fixed_type().hls(),
            "input_type_declared": opts.input_type,  # --input-type: the model's float input, on this grid
            "interface": {"input": info.input.to_report(), "output": info.output.to_report()},
            "layers": rows,
            "totals": totals(rows),
            "hls_types": types,
            "timings_s": {k: round(v, 3) for k, v in progress.timings.items()},
        }
        report["estimate"] = estimate_for_report(model, analysis, board, io_type=cfg.io_type,
                                                 reuse_factor=cfg.reuse_factor, clock_mhz=clock,
                                                 choices=plan.choices if plan else None)
        if opts.rtl:
            from jpq2hw.rtl import rtl_for_build

            rtl_in, rtl_expected = (xs, expected) if host is None else (hw_in, hw)
            report.setdefault("synthesis", {})["yosys"] = rtl_for_build(out, model, rtl_in, rtl_expected, board, progress,
                                                          estimate=report["estimate"], source=str(opts.model))
            report["bit_exact"] = report["bit_exact"] and report["synthesis"]["yosys"]["bit_exact"]
        write_reports(out, report)

    verdict = "bit-exact" if report["bit_exact"] else "NOT bit-exact"
    progress.info(f"{out}: {verdict} on {result.vectors} vectors ({reference.kind}); report in {out / 'report.md'}")
    if not result.bit_exact:
        progress.info(f"  {result.mismatched_vectors} vectors differ, max abs error {result.max_abs_error:g}, "
                      f"first divergent layer: {divergent}")
    if not axis.passed:
        progress.info(f"  AXI-Stream wrapper check failed at {axis.stage}: {axis.log.strip().splitlines()[-1:]}")
    if not tail_ok:
        progress.info(f"  host tail outside its float tolerance: max abs error {tail_error:g}")
    return (EXIT_OK if report["bit_exact"] and tail_ok else EXIT_NOT_EXACT), report


STREAM_ABOVE_ELEMENTS = 4096  # io_parallel fully unrolls every feature map: past this, stream it


def choose_io(model, requested: str) -> tuple[str, str]:
    """The hls4ml io type, and why. io_parallel keeps whole tensors in registers: fastest for small networks,
    but its size grows with the feature maps, which io_stream passes pixel by pixel."""
    if requested != "auto":
        return IO_TYPES[requested], f"--io {requested}"
    sizes = [int(np.prod(model.get_tensor_shape(o)[1:] or [1])) for n in model.graph.node for o in n.output
             if n.op_type == "Conv" and model.get_tensor_shape(o)]
    largest = max(sizes, default=0)
    if largest > STREAM_ABOVE_ELEMENTS:
        return "io_stream", f"auto: largest conv feature map has {largest} values (> {STREAM_ABOVE_ELEMENTS})"
    return "io_parallel", f"auto: largest conv feature map has {largest} values (<= {STREAM_ABOVE_ELEMENTS})"


def _max_width(types: dict) -> int:
    import re

    widths = [int(m.group(1)) for t in types.values() for v in t.values() for m in [re.search(r"<(\d+)", v)] if m]
    return max(widths, default=0)
