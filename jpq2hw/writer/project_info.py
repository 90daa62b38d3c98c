"""What the board templates need to know about an hls4ml project, read from its ModelGraph.

Everything here mirrors what hls4ml's writer (hls4ml/writer/vivado_writer.py) puts in firmware/<project>.h:
- io_parallel: `void top(input_t in[N], result_t out[M])`, input_t being the element type itself;
- io_stream:   `void top(hls::stream<input_t> &in, hls::stream<result_t> &out)`, input_t being an
  nnet::array<element, C> carrying C channels (the last dimension) per stream beat."""

from __future__ import annotations

from dataclasses import dataclass

from jpq2hw.errors import JpqError

SUPPORTED_BACKENDS = ("Vitis", "Vivado")


def axis_word_bits(element_bits: int) -> int:
    """AXI-Stream TDATA width: one element per word, padded to a power of two bytes (DMA-friendly)."""
    bits = 8
    while bits < element_bits:
        bits *= 2
    return bits


@dataclass(frozen=True)
class PortInfo:
    """One input or output of hls4ml's top function."""

    name: str  # C++ argument name, e.g. global_in
    type_name: str  # typedef in defines.h, e.g. input_t (an nnet::array in io_stream)
    element_type: str  # C++ type of one element, e.g. ap_fixed<16,6>
    width: int  # bits of one element
    integer: int  # integer bits (ap_fixed's I)
    signed: bool
    shape: tuple[int, ...]
    size: int  # elements in the tensor
    elements_per_beat: int  # io_stream: channels per nnet::array; io_parallel: 1 (the array is flat)
    declaration: str  # the parameter as hls4ml declares it, e.g. "input_t global_in[8]"

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    @property
    def beats(self) -> int:
        """hls::stream reads/writes per tensor in io_stream."""
        return self.size // self.elements_per_beat

    @property
    def axis_bits(self) -> int:
        return axis_word_bits(self.width)

    def to_report(self) -> dict:
        """The port as report.json lists it: what a driver or a DMA needs to know."""
        return {"shape": list(self.shape), "type": self.element_type, "axis_word_bits": self.axis_bits,
                "words": self.size}


@dataclass(frozen=True)
class ProjectInfo:
    project_name: str  # hls4ml's project name = name of its top function
    backend: str  # "Vitis" or "Vivado"
    io_type: str  # "io_parallel" or "io_stream"
    namespace: str | None  # hls4ml writer's Namespace, if the top lives in one
    input: PortInfo
    output: PortInfo
    top_declaration: str  # the prototype as in firmware/<project>.h
    board_name: str
    part: str
    clock_mhz: float
    hls_subdir: str  # hls4ml project folder, relative to the build output folder

    @property
    def wrapper_name(self) -> str:
        return f"{self.project_name}_axis"

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    @property
    def cpp_prefix(self) -> str:
        """Qualifier for hls4ml's names (top function and typedefs) when they live in a namespace."""
        return f"{self.namespace}::" if self.namespace else ""

    @property
    def is_stream(self) -> bool:
        return self.io_type == "io_stream"


def project_info_from_hls_model(hls_model, board, clock_mhz: float | None, hls_subdir: str) -> ProjectInfo:
    """Describe a converted (and written) hls4ml ModelGraph for the board templates.

    `board` is a jpq2hw.boards.Board; `clock_mhz` None means the board's default clock."""
    config = hls_model.config
    backend = config.backend.name
    if backend not in SUPPORTED_BACKENDS:
        raise JpqError(f"board files support the Vitis and Vivado backends, not {backend}")
    io_type = config.get_config_value("IOType")
    inputs, outputs = hls_model.get_input_variables(), hls_model.get_output_variables()
    if len(inputs) != 1 or len(outputs) != 1:
        raise JpqError(
            f"the AXI-Stream wrapper needs one input and one output; the model has {len(inputs)} input(s) "
            f"({', '.join(v.name for v in inputs)}) and {len(outputs)} output(s) ({', '.join(v.name for v in outputs)})"
        )
    brams = [v.name for v in hls_model.get_weight_variables() if v.storage.lower() == "bram"]
    if brams:
        # With BRAM-stored weights hls4ml's top takes the weights as extra ports the wrapper cannot feed.
        raise JpqError(f"weights stored as top-level BRAM ports are not supported by the wrapper: {', '.join(brams)}")
    project = config.get_project_name()
    inp, out = _port(inputs[0], io_type), _port(outputs[0], io_type)
    return ProjectInfo(
        project_name=project,
        backend=backend,
        io_type=io_type,
        namespace=config.get_writer_config().get("Namespace"),
        input=inp,
        output=out,
        top_declaration=f"void {project}({inp.declaration}, {out.declaration})",
        board_name=board.name,
        part=board.part,
        clock_mhz=float(clock_mhz or board.clock_mhz),
        hls_subdir=hls_subdir,
    )


def _port(var, io_type: str) -> PortInfo:
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType  # hls4ml is slow to import

    precision = var.type.precision
    if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
        raise JpqError(f"{var.name} has type {precision}; the AXI-Stream wrapper needs ap_fixed or ap_int")
    if io_type == "io_stream":
        packed = var.type  # PackedType: n_elem channels, packed (or unpacked) n_pack at a time
        per_beat = packed.n_elem // packed.n_pack if packed.unpack else packed.n_elem * packed.n_pack
    else:
        per_beat = 1
    return PortInfo(
        name=var.name,
        type_name=var.type.name,
        element_type=precision.definition_cpp(),
        width=int(precision.width),
        integer=int(precision.integer),
        signed=bool(precision.signed),
        shape=tuple(int(d) for d in var.shape),
        size=int(var.size()),
        elements_per_beat=int(per_beat),
        declaration=var.definition_cpp(as_reference=True),
    )
