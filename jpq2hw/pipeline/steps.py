"""The build's steps, in order. Each is one function `step(state)` over a BuildState: it reads what earlier
steps set and sets its own fields (documented in state.py). `STEPS` pairs each with its name, its progress
label and whether it runs inside the output folder; jpq2hw/pipeline/runner.py runs them.

Front half (no files written): load -> normalize -> validate -> exact_types -> annotate (what `jpq2hw report`
runs) -> limits.
Back half (inside OUT): convert -> write -> vectors -> reference -> compile -> simulate -> host_tail -> trace
-> save_vectors -> report -> rtl -> write_report; then summary. compile builds one program (network, AXI-Stream
wrapper, testbench) and simulate runs it once: the C-simulation and the wrapper check together. rtl and the
report pages are optional late steps: their failure keeps the verified build (report.json: failed_steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from jpq2hw.errors import EXIT_LATE_STEP_FAILED, EXIT_NOT_EXACT, EXIT_OK, JpqError
from jpq2hw.pipeline.options import BACKENDS, choose_io
from jpq2hw.pipeline.state import BuildState


@dataclass(frozen=True)
class Step:
    name: str  # also the key of its time in report.json's timings_s
    run: Callable[[BuildState], None]
    label: Callable[[BuildState], str] | None = None  # progress line; None: quick bookkeeping, not shown or timed
    when: Callable[[BuildState], bool] | None = None  # skipped when this says False
    in_output_folder: bool = False  # runs inside OUT (created before the first such step, removed on failure)


# --- front half ---------------------------------------------------------------------------------------------

def load(state: BuildState) -> None:
    from jpq2hw import extensions
    from jpq2hw.frontend.load import load_model
    from jpq2hw.frontend.validate import validate_structure

    extensions.register_all()  # custom layers and their pattern passes, for every entry point
    state.model = load_model(state.options.model)
    if not state.options.no_limits:  # before normalization, whose time grows with the node count
        from jpq2hw.limits import check_graph_size

        check_graph_size(state.model, state.source)
    validate_structure(state.model, state.source)


def normalize(state: BuildState) -> None:
    from jpq2hw.frontend.input_type import parse_input_type
    from jpq2hw.normalize.host_boundary import HostBoundary
    from jpq2hw.normalize.passes import normalize as normalize_model

    declared = parse_input_type(state.options.input_type) if state.options.input_type is not None else None
    try:
        state.normalized = normalize_model(state.model, state.source, input_type=declared)
    except JpqError:
        raise
    except Exception as exc:
        raise JpqError(f"{state.source}: qonnx could not normalize the model ({type(exc).__name__}: {exc})") from None
    state.model = state.normalized.hardware
    n = state.normalized
    state.boundary = HostBoundary(head=n.head, io=n.host, tail=n.tail)


def validate(state: BuildState) -> None:
    from jpq2hw.frontend.validate import validate_hardware_ops, validate_quantizers

    validate_hardware_ops(state.model, state.source)
    validate_quantizers(state.model, state.source)


def exact_types(state: BuildState) -> None:
    """The one value-range analysis of the hardware graph: every tensor's exact range (what the cost model,
    `report`, --fit auto and the RTL price and build)."""
    from jpq2hw.annotate.value_ranges import value_ranges

    state.constants = {}
    state.types = value_ranges(state.model, state.constants)


def annotate(state: BuildState) -> None:
    from jpq2hw.annotate.quant_types import analyze, input_quant
    from jpq2hw.annotate.value_ranges import accumulator_bits
    from jpq2hw.costmodel import cost_layers, fit_auto
    from jpq2hw.verify import vectors

    opts, n = state.options, state.normalized
    state.analysis = analyze(state.model, state.source, accumulator_bits(state.model, state.types), state.constants)
    # vectors have the reference's input shape (the hardware's may be lifted from 1-D to 2-D)
    state.input_shape = list(n.reference.get_tensor_shape(n.reference.graph.input[0].name)[1:])
    state.input_quant = (input_quant(n.reference, state.source) if state.boundary.integer_core
                         else state.analysis.input_quant)
    raw_shape = list(n.full_reference.get_tensor_shape(n.full_reference.graph.input[0].name)[1:])
    state.user_raw = np.zeros((0, *raw_shape))  # with a float head: the user's inputs before it
    if opts.input_data is not None:
        state.user_raw = vectors.read_user_inputs(Path(opts.input_data), raw_shape)
        state.user_vectors = vectors.load_user_vectors(Path(opts.input_data), state.input_quant, raw_shape, n.head)
    else:
        state.user_vectors = np.zeros((0, *state.input_shape))
    state.io_type, state.io_why = choose_io(state.model, opts.io)
    state.progress.info(f"  io type: {state.io_type} ({state.io_why})")
    if opts.fit == "auto":
        state.plan = fit_auto(cost_layers(state.model, state.analysis), state.board, io_type=state.io_type,
                              clock_mhz=state.clock_mhz)


def check_limits(state: BuildState) -> None:
    """Refuse, before hls4ml, g++ or the vectors, a design no board holds or whose check cannot finish."""
    from jpq2hw import boards
    from jpq2hw.limits import check_design

    vectors = state.options.vectors + len(state.user_vectors)
    check_design(state.model, state.analysis, vectors, state.source, boards.load_all_boards())


# --- back half: inside the output folder --------------------------------------------------------------------

def convert(state: BuildState) -> None:
    from jpq2hw.convert.hls4ml_convert import ConvertOptions, accumulator_widths, convert as hls4ml_convert, layer_types

    opts = state.options
    state.convert_options = ConvertOptions(backend=BACKENDS[opts.backend], io_type=state.io_type,
                                           reuse_factor=opts.reuse_factor, clock_mhz=state.clock_mhz,
                                           part=state.board.part, plan=state.plan)
    state.hls_model = hls4ml_convert(state.model, state.analysis, state.out / "hls", state.convert_options)
    state.hls_types = layer_types(state.hls_model)
    built = accumulator_widths(state.hls_model)  # the cost model priced the analysis's widths: say if hls4ml differs
    for layer in state.analysis.layers:
        if layer.accum_bits is not None and built.get(layer.output, layer.accum_bits) != layer.accum_bits:
            state.progress.warn(f"  note: layer {layer.name}: hls4ml's accumulator has {built[layer.output]} bits, "
                                f"the value-range analysis the estimate prices {layer.accum_bits}")
    state.model.save(str(state.out / "model_normalized.onnx"))


def write(state: BuildState) -> None:
    from jpq2hw.writer.board_files import render_board_files
    from jpq2hw.writer.host_files import write_host_files
    from jpq2hw.writer.project_info import project_info_from_hls_model

    state.project_info = project_info_from_hls_model(state.hls_model, state.board, state.clock_mhz, "hls")
    render_board_files(state.out, state.board, state.project_info)
    if state.board.templates.pynq_overlay:  # the driver runs the host head/tail and the input quantizer
        write_host_files(state.out, state.normalized, state.input_quant)


def make_vectors(state: BuildState) -> None:
    """Random vectors over the input's range, then the user's; and the same in the hardware's units."""
    from jpq2hw.verify import vectors

    opts = state.options
    rand, kinds = vectors.build_vectors(state.input_quant, state.input_shape, opts.vectors, opts.seed)
    state.vector_kinds = kinds + ["user"] * len(state.user_vectors)
    head = state.boundary.head
    if head is None:
        state.xs = np.concatenate([rand, state.user_vectors])
    else:  # the vectors are raw inputs; the build runs the head on them as the board's host does
        user = state.user_raw if state.user_raw is not None else np.zeros((0, *head.invert(rand[:1]).shape[1:]))
        state.raw_xs = np.concatenate([head.invert(rand), user])
        state.xs = vectors.quantize_inputs(head.run(state.raw_xs), state.input_quant)
    state.hw_in = state.boundary.to_hardware(state.xs)


def choose_reference(state: BuildState) -> None:
    from jpq2hw.convert.hls4ml_convert import widest_type_bits
    from jpq2hw.verify.reference import Reference

    state.max_accum_bits = max([l.accum_bits or 0 for l in state.analysis.layers] + [widest_type_bits(state.hls_model)])
    # thresholds are solved in exact arithmetic, which float64 reproduces; float32 may round at a step
    state.reference = Reference(state.normalized.reference, state.max_accum_bits,
                                force_float64=state.boundary.integer_core)


def reference(state: BuildState) -> None:
    from jpq2hw.verify.reference import Reference

    xs = state.xs
    state.expected = state.reference.run_batch(xs)
    state.float32_differs, state.float32_max = None, None
    if state.boundary.integer_core:
        ref32 = Reference(state.normalized.reference, 0)
        if ref32.kind != state.reference.kind:  # vectors where float32 rounding alone moved a quantizer step
            out32 = ref32.run_batch(xs)
            moved = ~np.isclose(out32, state.expected, rtol=2.0**-20, atol=0)
            state.float32_differs = [int(i) for i in np.nonzero(np.any(moved.reshape(len(xs), -1), axis=1))[0]]
            state.float32_max = float(np.max(np.abs(out32 - state.expected), initial=0.0))


def compile_cpp(state: BuildState) -> None:
    """One C++ program: hls4ml's network, the AXI-Stream wrapper and its testbench (jpq2hw/writer/axis_check.py)."""
    from jpq2hw.verify.stack import check_stack
    from jpq2hw.writer.axis_check import build_testbench

    check_stack(state.hls_model)  # a layer too large for the system's stack is refused before g++ runs
    built = build_testbench(state.out, state.project_info)
    if not built.ok:
        from jpq2hw.errors import DISK_FULL_TEXTS, disk_full_error

        if any(text in built.log for text in DISK_FULL_TEXTS):  # not the generated C++'s fault
            raise disk_full_error(state.options.output_dir())
        lines = [l for l in built.log.splitlines() if "error" in l.lower()] or built.log.strip().splitlines()
        raise JpqError(f"g++ failed to compile the generated C++: {(lines or ['(no output)'])[0].strip()}")


NO_LAYER_DIVERGES = "none (every layer matches the hardware graph: the AXI-Stream wrapper, the host's output map or the reference differs)"
DIRECT_VECTORS = 4  # the corners (all-min, all-max, zeros) and one natural frame or random vector


def simulate(state: BuildState) -> None:
    """One run of the program over every vector: the wrapper around hls4ml's top (the top alone beside it on the
    first few: the same bits), its outputs compared with the reference here."""
    from jpq2hw.verify import csim
    from jpq2hw.writer.axis_check import run_testbench, testbench_path, write_vectors

    b, n = state.boundary, len(state.xs)
    state.axis = run_testbench(state.out, state.project_info, state.hw_in.reshape(n, -1),
                               direct_vectors=DIRECT_VECTORS)
    if state.axis.outputs is None:
        why = " ".join(state.axis.log.strip().splitlines()[-1:])
        if "signal 11" in why:  # SIGSEGV
            from jpq2hw.verify.stack import stack_limit

            limit = stack_limit()
            why += f" (a stack overflow? the stack limit is {'unlimited' if limit is None else f'{limit >> 20} MiB'})"
        raise JpqError(f"the C-simulation did not finish: {why}")
    state.hw = state.axis.outputs.reshape(n, *state.expected.shape[1:])
    # an integer core is compared in its own units (the reference's outputs mapped to codes)
    state.result = csim.compare(state.hw, b.expected_codes(state.expected, state.hw))
    state.host_float_error = b.float_error(state.hw, state.expected)
    # `make csim` in OUT/board reruns the check against the outputs proven equal to the reference; it compiles
    # the testbench again: this one has the temporary folder's absolute weights path compiled in
    write_vectors(state.out / "board" / "tb_data" / "expected.txt",
                  b.proven_outputs(state.expected, state.hw).reshape(n, -1))
    testbench_path(state.out, state.project_info).unlink(missing_ok=True)


def emulate(state: BuildState) -> None:
    """The numpy emulator on every simulated vector, bit for bit against the C++ (it widens the check)."""
    from jpq2hw.verify.emulator_check import check

    n = len(state.xs)
    state.emulator = check(state.hls_model, state.hw_in, state.axis.outputs.reshape(n, -1), state.out)


def host_tail(state: BuildState) -> None:
    from jpq2hw.normalize.host_split import within_tolerance
    from jpq2hw.verify.reference import Reference

    n, b = state.normalized, state.boundary
    hw_final = b.tail.run(b.to_real(state.hw))
    # the whole model on the very inputs the host takes (raw, before a head): the same tail code applied to the
    # reference's core output could not see a wrong split. In the verdict's arithmetic: where float32 alone moves
    # a quantizer step (an integer core's reference is float64), a float32 whole model would differ by that step
    ref_final = Reference(n.full_reference, state.max_accum_bits, force_float64=b.integer_core).run_batch(
        state.xs if b.head is None else state.raw_xs)
    state.tail_error = float(np.max(np.abs(hw_final.astype(np.float64) - ref_final)))
    state.tail_ok = within_tolerance(hw_final, ref_final)


def trace(state: BuildState) -> None:
    """hls4ml rewrites and recompiles the C++ with tracing code (its own shared library) to name the layer."""
    from jpq2hw.verify import csim

    state.divergent = csim.first_divergent_layer(state.hls_model, state.model,
                                                 state.hw_in[state.result.first_mismatch][None])


def save_vectors(state: BuildState) -> None:
    vec_dir = state.out / "vectors"
    vec_dir.mkdir()
    b = state.boundary
    if b.head is None:
        np.save(vec_dir / "inputs.npy", state.xs)
        np.save(vec_dir / "expected.npy", state.expected)
    else:  # raw inputs, before the head, and the model's outputs for them: what the driver's --predict gives
        np.save(vec_dir / "inputs.npy", state.raw_xs)
        np.save(vec_dir / "expected.npy", state.expected if b.tail is None else b.tail.run(state.expected))
    if b.integer_core or b.head is not None:  # what the hardware itself sees and returns
        np.save(vec_dir / "hw_inputs.npy", state.hw_in)
        np.save(vec_dir / "hw_outputs.npy", b.proven_outputs(state.expected, state.hw))


def report(state: BuildState) -> None:
    from jpq2hw.costmodel import estimate_for_report
    from jpq2hw.report.build_report import layer_rows, totals

    opts, cfg, result, b = state.options, state.convert_options, state.result, state.boundary
    rows = layer_rows(state.analysis)
    state.report = {
        "model": str(opts.model),
        "board": state.board.name,
        "part": state.board.part,
        "clock_mhz": state.clock_mhz,
        "backend": cfg.backend,
        "io_type": cfg.io_type,
        "reuse_factor": cfg.reuse_factor,
        "io_choice": state.io_why,
        "bit_exact": bool(result.bit_exact and state.axis.passed and not state.emulator.fails),
        "vectors": result.vectors,
        "vector_kinds": {k: state.vector_kinds.count(k) for k in dict.fromkeys(state.vector_kinds)},
        "mismatched_vectors": result.mismatched_vectors,
        "max_abs_error": result.max_abs_error,
        "host_float_max_abs_error": state.host_float_error,
        "first_divergent_layer": state.divergent,
        "reference": state.reference.kind,
        "host_ops": b.ops,
        "host_tail_max_abs_error": state.tail_error,
        "host_tail_within_tolerance": state.tail_ok,  # |error| <= HOST_ATOL + HOST_RTOL * |reference|
        "float32_reference_differs": state.float32_differs,
        "float32_max_abs_difference": state.float32_max,
        "axis_wrapper": "bit-exact" if state.axis.passed else f"FAILED at {state.axis.stage}",
        "emulator": state.emulator.to_report(),  # jpq2hw/verify/emulator_check.py
        "input_type": state.analysis.input_quant.fixed_type().hls(),
        "input_type_declared": opts.input_type,  # --input-type: the model's float input, on this grid
        "interface": {"input": state.project_info.input.to_report(), "output": state.project_info.output.to_report()},
        "layers": rows,
        "totals": totals(rows),
        "hls_types": state.hls_types,
        "timings_s": {k: round(v, 3) for k, v in state.progress.timings.items()},
    }
    state.report["estimate"] = estimate_for_report(state.model, state.analysis, state.board, io_type=cfg.io_type,
                                                   reuse_factor=cfg.reuse_factor, clock_mhz=state.clock_mhz,
                                                   choices=state.plan.choices if state.plan else None)


def rtl(state: BuildState) -> None:
    """Optional and late: a failure here (a refusal, da4ml, iverilog, Yosys) keeps the verified build; report.json
    records it under failed_steps and the exit code is EXIT_LATE_STEP_FAILED."""
    from jpq2hw.report.build_report import failed_step
    from jpq2hw.rtl import rtl_for_build

    b = state.boundary
    try:
        section = rtl_for_build(state.out, state.model, state.hw_in, b.proven_outputs(state.expected, state.hw),
                                state.board, state.progress, estimate=state.report["estimate"], source=state.source)
    except Exception as exc:  # noqa: BLE001  (Ctrl-C and SIGTERM still stop the build)
        state.report.setdefault("failed_steps", []).append(failed_step("rtl", exc))
        state.progress.info(f"  the RTL step failed; the verified build is kept: {state.report['failed_steps'][-1]['error']}")
        return
    state.report.setdefault("synthesis", {})["yosys"] = section
    state.report["bit_exact"] = state.report["bit_exact"] and section["bit_exact"]


def write_report(state: BuildState) -> None:
    from jpq2hw.report.build_report import write_reports

    for failure in write_reports(state.out, state.report):  # a page that cannot render is left out, recorded
        state.progress.info(f"  {failure['step']} failed; report.json is written: {failure['error']}")


def summary(state: BuildState) -> None:
    """The verdict line (and why not) and the exit code."""
    info, result, out = state.progress.info, state.result, state.out
    verdict = "bit-exact" if state.report["bit_exact"] else "NOT bit-exact"
    differs = ""
    if state.float32_differs:  # the verdict is against float64; say how far onnxruntime's float32 alone lands
        differs = (f"; {len(state.float32_differs)} of them differ from onnxruntime float32 by up to "
                   f"{state.float32_max:.3g} (float32 rounding moves a quantizer step)")
    from jpq2hw.verify.vectors import describe_kinds

    info(f"{out}: {verdict} on {result.vectors} vectors ({describe_kinds(state.vector_kinds)}; "
         f"{state.reference.kind}){differs}; "
         f"report in {out / 'report.md'}")
    if not result.bit_exact:
        info(f"  {result.mismatched_vectors} vectors differ, max abs error {result.max_abs_error:g}, "
             f"first divergent layer: {state.divergent or NO_LAYER_DIVERGES}")
    if not state.axis.passed:
        info(f"  AXI-Stream wrapper check failed at {state.axis.stage}: {state.axis.log.strip().splitlines()[-1:]}")
    if state.emulator.fails:
        info(f"  the emulator disagrees with the C-simulation on {state.emulator.mismatched_vectors} vectors, "
             f"first at layer {state.emulator.first_divergent_layer}")
    if not state.tail_ok:
        info(f"  host tail outside its float tolerance: max abs error {state.tail_error:g}")
    if not (state.report["bit_exact"] and state.tail_ok):
        state.exit_code = EXIT_NOT_EXACT
    elif state.report.get("failed_steps"):
        state.exit_code = EXIT_LATE_STEP_FAILED  # built and exact; what failed is in report.json
    else:
        state.exit_code = EXIT_OK


STEPS: list[Step] = [
    Step("load", load, lambda s: f"Loading {s.source}"),
    Step("normalize", normalize, lambda s: "Normalizing with qonnx (cleanup, channels-last, Gemm->MatMul)"),
    Step("validate", validate),
    Step("exact_types", exact_types),
    Step("annotate", annotate, lambda s: "Deriving fixed-point types from the Quant nodes"),
    Step("limits", check_limits, when=lambda s: not s.options.no_limits),
    Step("convert", convert, lambda s: f"Converting with hls4ml ({BACKENDS[s.options.backend]}, {s.io_type})",
         in_output_folder=True),
    Step("write", write, lambda s: f"Rendering board files for {s.board.name}", in_output_folder=True),
    Step("vectors", make_vectors, in_output_folder=True),
    Step("choose_reference", choose_reference, in_output_folder=True),
    Step("reference", reference, lambda s: f"Running the reference ({s.reference.kind}) on {len(s.xs)} vectors",
         in_output_folder=True),
    Step("compile", compile_cpp, lambda s: "Compiling the C++ once with g++ (network, AXI-Stream wrapper, testbench)",
         in_output_folder=True),
    Step("simulate", simulate, lambda s: f"Simulating {len(s.xs)} vectors through the AXI-Stream wrapper and "
         "comparing bit for bit", in_output_folder=True),
    Step("emulate", emulate, lambda s: f"Emulating the {len(s.xs)} vectors in numpy and comparing with the C++",
         in_output_folder=True),
    Step("host_tail", host_tail, lambda s: "Running the host tail (float ops after the core) on both",
         when=lambda s: s.boundary.tail is not None, in_output_folder=True),
    Step("trace", trace, lambda s: "Tracing layers to find where the C++ diverges",
         when=lambda s: not s.result.bit_exact, in_output_folder=True),
    Step("save_vectors", save_vectors, in_output_folder=True),
    Step("report", report, in_output_folder=True),
    Step("rtl", rtl, when=lambda s: s.options.rtl, in_output_folder=True),  # rtl_for_build times its own steps
    Step("write_report", write_report, in_output_folder=True),
    Step("summary", summary),
]
