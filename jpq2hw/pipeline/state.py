"""The one object the build's steps read and write. Each field says which step sets it; a step reads only
fields set by the steps before it (jpq2hw/pipeline/steps.py lists them in order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jpq2hw.boards import Board
from jpq2hw.pipeline.options import BuildOptions, check_options
from jpq2hw.progress import Progress


@dataclass
class BuildState:
    options: BuildOptions
    board: Board
    progress: Progress

    # load: the file as read (qonnx ModelWrapper); from normalize on, the hardware graph hls4ml converts
    model: Any = None
    # normalize: reference/hardware graphs and host parts (jpq2hw.normalize.passes.Normalized)
    normalized: Any = None
    boundary: Any = None  # jpq2hw.normalize.host_boundary.HostBoundary: host <-> hardware values
    # annotate
    analysis: Any = None  # jpq2hw.annotate.quant_types.ModelAnalysis of the hardware graph
    input_quant: Any = None  # the quantizer of the real input the test vectors are drawn for
    input_shape: list[int] = field(default_factory=list)  # one vector's shape (the reference's input, no batch)
    user_vectors: np.ndarray | None = None  # --input-data, quantized like the input (empty without it)
    user_raw: np.ndarray | None = None  # --input-data as given (before a float head)
    io_type: str = ""  # io_parallel | io_stream
    io_why: str = ""  # why that io type (for the report)
    plan: Any = None  # costmodel FitPlan of --fit auto, else None
    # convert
    convert_options: Any = None  # jpq2hw.convert.hls4ml_convert.ConvertOptions
    hls_model: Any = None  # the hls4ml ModelGraph (exact types set)
    hls_types: dict = field(default_factory=dict)  # layer -> {type name: rendered HLS type}
    # write
    project_info: Any = None  # jpq2hw.writer.project_info.ProjectInfo of the board files
    # vectors
    xs: np.ndarray | None = None  # test inputs as the model takes them (random over the input range + user)
    raw_xs: np.ndarray | None = None  # with a float head: the same vectors before it (vectors/inputs.npy)
    hw_in: np.ndarray | None = None  # the same inputs as the hardware takes them (boundary.to_hardware)
    vector_kinds: list[str] = field(default_factory=list)  # per vector: corner | natural | random | user
    # choose_reference
    max_accum_bits: int = 0  # widest accumulator / HLS type: decides whether float32 can be the reference
    reference: Any = None  # jpq2hw.verify.reference.Reference chosen for the accumulator widths
    # reference
    expected: np.ndarray | None = None  # the reference's outputs
    float32_differs: list[int] | None = None  # vectors where a float32 reference would have rounded differently
    float32_max: float | None = None  # and the largest difference there
    # simulate (one run of the program compile built: the C-simulation and the AXI-Stream wrapper check)
    axis: Any = None  # the testbench run (passed: the wrapper's words and bits; outputs; stage, log)
    hw: np.ndarray | None = None  # the C-simulation's outputs (hardware units), through the wrapper
    result: Any = None  # jpq2hw.verify.csim comparison (bit_exact, mismatches, first_mismatch)
    host_float_error: float | None = None
    # host_tail
    tail_error: float | None = None
    tail_ok: bool = True
    # trace
    divergent: Any = None  # first layer where the C++ departs from the reference, when not bit-exact
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
