"""The build's typed options, their checks (before any work), and the io-type choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jpq2hw import boards
from jpq2hw.errors import JpqError

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
    no_limits: bool = False  # build past the resource limits (jpq2hw/limits.py)
    input_type: str | None = None  # the grid of an unquantized float input, e.g. fixed<16,6> (frontend/input_type.py)

    def output_dir(self) -> Path:
        return self.out if self.out is not None else Path(f"{Path(self.model).name.split('.')[0]}_{self.board}")


def check_options(opts: BuildOptions):
    """The board of a build, after every option is checked (one-line errors, before anything is built)."""
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
    if opts.input_data is not None:
        from jpq2hw.frontend.load import not_a_regular_file

        problem = not_a_regular_file(Path(opts.input_data))  # a FIFO would block, a device never end
        if problem:
            raise JpqError(f"--input-data {opts.input_data}: {'no such file' if problem == 'is missing' else problem}")
    if opts.input_type is not None:
        from jpq2hw.frontend.input_type import parse_input_type

        parse_input_type(opts.input_type)  # a malformed type fails before anything is built
    from jpq2hw.errors import check_utf8_path
    from jpq2hw.output_folder import check_replaceable

    check_utf8_path(opts.model, "model file")
    check_utf8_path(opts.output_dir(), "output folder")

    check_replaceable(opts.output_dir(), opts.force, keep=(Path(opts.model),))  # before any work; deletes nothing
    if opts.rtl:
        from jpq2hw.rtl.run import check_tools

        check_tools()  # missing yosys/iverilog fail before anything is built
    return board


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
