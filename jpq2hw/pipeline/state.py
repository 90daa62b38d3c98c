"""The one object the build's steps read and write. Each field says which step sets it; a step reads only
fields set by the steps before it (jpq2hw/pipeline/steps.py lists them in order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jpq2hw.boards import Board
from jpq2hw.pipeline.options import BuildOptions, check_options
from jpq2hw.progress import Progress

if TYPE_CHECKING:  # types only: importing them here would load hls4ml, onnxruntime and qonnx for every command
    from hls4ml.model import ModelGraph
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.annotate.quant_types import ModelAnalysis, QuantSpec
    from jpq2hw.convert.hls4ml_convert import ConvertOptions
    from jpq2hw.core.fixed import Range
    from jpq2hw.costmodel.fit import FitPlan
    from jpq2hw.normalize.host_boundary import HostBoundary
    from jpq2hw.normalize.passes import Normalized
    from jpq2hw.verify.csim import Comparison
    from jpq2hw.verify.emulator_check import EmulatorCheck
    from jpq2hw.verify.reference import Reference
    from jpq2hw.writer.axis_check import AxisCheckResult
    from jpq2hw.writer.project_info import ProjectInfo


@dataclass
class BuildState:
    options: BuildOptions
    board: Board
    progress: Progress

    # load: the file as read (qonnx ModelWrapper); from normalize on, the hardware graph hls4ml converts
    model: ModelWrapper | None = None
    # normalize: the reference and hardware graphs and the host parts
    normalized: Normalized | None = None
    boundary: HostBoundary | None = None  # host <-> hardware values
    # exact_types: tensor -> exact Range (jpq2hw.core.fixed.Range) of the hardware graph
    types: dict[str, Range] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # weights/biases as quantized, read once
    # annotate
    analysis: ModelAnalysis | None = None  # the layers of the hardware graph
    input_quant: QuantSpec | None = None  # the quantizer of the real input the test vectors are drawn for
    input_shape: list[int] = field(default_factory=list)  # one vector's shape (the reference's input, no batch)
    user_vectors: np.ndarray | None = None  # --input-data, quantized like the input (empty without it)
    user_raw: np.ndarray | None = None  # --input-data as given (before a float head)
    io_type: str = ""  # io_parallel | io_stream
    io_why: str = ""  # why that io type (for the report)
    plan: FitPlan | None = None  # of --fit auto, else None
    # convert
    convert_options: ConvertOptions | None = None
    hls_model: ModelGraph | None = None  # exact types set
    hls_types: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> {type name: rendered HLS type}
    # write
    project_info: ProjectInfo | None = None  # of the board files
    # vectors
    xs: np.ndarray | None = None  # test inputs as the model takes them (random over the input range + user)
    raw_xs: np.ndarray | None = None  # with a float head: the same vectors before it (vectors/inputs.npy)
    hw_in: np.ndarray | None = None  # the same inputs as the hardware takes them (boundary.to_hardware)
    vector_kinds: list[str] = field(default_factory=list)  # per vector: corner | natural | random | user
    # choose_reference
    max_accum_bits: int = 0  # widest accumulator / HLS type: decides whether float32 can be the reference
    reference: Reference | None = None  # the reference run chosen for the accumulator widths
    # reference
    expected: np.ndarray | None = None  # the reference's outputs
    float32_differs: list[int] | None = None  # vectors where a float32 reference would have rounded differently
    float32_max: float | None = None  # and the largest difference there
    # simulate (one run of the program compile built: the C-simulation and the AXI-Stream wrapper check)
    axis: AxisCheckResult | None = None  # the testbench run (passed: the wrapper's words and bits; outputs; stage, log)
    hw: np.ndarray | None = None  # the C-simulation's outputs (hardware units), through the wrapper
    result: Comparison | None = None  # (bit_exact, mismatches, first_mismatch)
    host_float_error: float | None = None
    # host_tail
    tail_error: float | None = None
    tail_ok: bool = True
    # trace
    emulator: EmulatorCheck | None = None  # the numpy emulator against the C++
    divergent: str | None = None  # first layer where the C++ departs from the reference, when not bit-exact
    # report
    report: dict = field(default_factory=dict)  # report.json's content
    exit_code: int | None = None  # set by the last step
    # runner: OUT's temporary sibling while the back half writes (renamed to OUT when it is done; output_folder.py)
    work_dir: Path | None = None

    @classmethod
    def start(cls, options: BuildOptions) -> "BuildState":
        """A build's state after every option is checked (before any work)."""
        return cls(options=options, board=check_options(options), progress=Progress(quiet=options.quiet))

    @property
    def source(self) -> str:
        return str(self.options.model)

    @property
    def clock_mhz(self) -> float:
        return float(self.options.clock_mhz or self.board.clock_mhz)

    @property
    def out(self) -> Path:
        """Where the build writes: the temporary sibling while the back half runs, then OUT itself."""
        return self.work_dir if self.work_dir is not None else self.options.output_dir()
