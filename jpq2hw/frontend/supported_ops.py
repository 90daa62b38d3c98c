"""The op table: every ONNX op jpq2hw accepts, described once. Validation (what is accepted, input counts),
the host split (what runs on the host), annotate (which layers have weights, which ops keep a quantizer's
type), `jpq2hw rtl` (what becomes Verilog) and the README's "Supported ops" read it from here; the arithmetic of
each op lives in the pass that handles it (streamline.on_<Op>, exact_precision, rtl/graph), by the same name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Op:
    becomes: str | None = None  # what it becomes in hardware (README); None: no hardware form of its own
    inputs: tuple[int, int] | None = None  # (min, max) non-empty inputs validation accepts; None: not checked here
    host: str | None = None  # "tail": a float op run on the host after the core; "layout": reshaping around them
    constant: bool = False  # may carry only constants and shapes, which normalization folds away
    layout: bool = False  # moves or relabels values, computes nothing (no hardware of its own)
    type_preserving: bool = False  # its output has its input's quantizer type (annotate walks back through it)
    weights: str | None = None  # "dense" | "conv": a layer with constant weights (annotate, cost model)
    rtl: str | None = None  # what `jpq2hw rtl` writes for it; None: refused by name


_HOST_TAIL = Op(host="tail")

OPS: dict[str, Op] = {
    "Quant": Op("fixed-point type of a weight (folded into it) or an activation quantizer (ap_fixed, RND_CONV, SAT)",
                inputs=(4, 4), rtl="Quant"),
    "BipolarQuant": Op("+1/-1 weights (integer codes) or activations (a one-step threshold layer)", inputs=(2, 2)),
    "Conv": Op("Conv1D/Conv2D: any kernel, stride, zero padding, dilation 1; depthwise (group = channels) as "
               "DepthwiseConv, other groups as a dense Conv with block-diagonal weights", inputs=(2, 3),
               weights="conv", rtl="conv"),
    "MatMul": Op("Dense", inputs=(2, 2), weights="dense", rtl="dense"),
    "Gemm": Op("Dense (alpha = beta = 1)", inputs=(2, 3), weights="dense", rtl="dense"),
    "Relu": Op("ReLU", inputs=(1, 1), type_preserving=True, rtl="ReLU"),
    "LeakyRelu": Op("LeakyReLU with the slope in an exact fixed-point type (power-of-two slope), or folded into the "
                    "next quantizer's thresholds (any other slope >= 0)", inputs=(1, 1)),
    "MaxPool": Op("MaxPooling1D/2D", inputs=(1, 1), type_preserving=True, rtl="max-pool"),
    "GlobalMaxPool": Op("GlobalMaxPooling", inputs=(1, 1), type_preserving=True),
    "AveragePool": Op("an exact window sum (depthwise Conv of ones), then / size: a shift for a power of two, "
                      "else folded into the next quantizer's thresholds", inputs=(1, 1)),
    "GlobalAveragePool": Op("as AveragePool, over the whole feature map", inputs=(1, 1)),
    # jpq2hw/normalize/trunc.py: checks, hardware form and float64 reference
    "Trunc": Op("Brevitas's quantized average pooling (TruncAvgPool): the window sum's integer code shifted to "
                "the output bits (round half to even or floor), two fixed-point quantizers", inputs=(5, 6)),
    "Clip": Op("ReLU6 / hardtanh: a clamp folded into the next quantizer's thresholds", inputs=(1, 3)),
    "Add": Op("residual Add of two activations, or a bias folded into the layer before", inputs=(2, 2),
              rtl="bias Add"),
    "Sub": Op("Subtract of two activations", inputs=(2, 2)),
    "BatchNormalization": Op("BatchNormalization (scale and shift in exact fixed point) or folded into a constant",
                             inputs=(5, 5)),
    "Flatten": Op("Reshape (no hardware)", inputs=(1, 1), layout=True, type_preserving=True, rtl="flatten"),
    "Reshape": Op("Reshape (no hardware)", inputs=(2, 2), layout=True, type_preserving=True, rtl="flatten"),
    "Transpose": Op("layout change (no hardware, after channels-last conversion)", inputs=(1, 1), layout=True,
                    type_preserving=True),
    "Identity": Op("removed", inputs=(1, 1), layout=True, type_preserving=True, rtl="identity"),
    "Concat": Op("Concatenate", inputs=(1, 1 << 16)),
    "Resize": Op("nearest-neighbour upsampling by integer factors (hls4ml Resize: each value repeated)", inputs=(2, 4)),
    "Mul": Op("scaling by a power-of-two constant (folded into the fixed-point type)", inputs=(2, 2)),
    "Div": Op("division by a constant (folded exactly into the integer arithmetic and thresholds)", inputs=(2, 2)),
    # float ops with no fixed-point form: on the host, in the tail after the quantized core
    # (jpq2hw/normalize/host_split.py moves them off the hardware, with the Squeeze/Unsqueeze around them)
    **{op: _HOST_TAIL for op in ("Softmax", "LogSoftmax", "Sigmoid", "Tanh", "ArgMax", "TopK", "Exp", "Log")},
    # distance heads (squared or absolute difference to prototypes, reduced over the embedding)
    **{op: _HOST_TAIL for op in ("ReduceSum", "ReduceMean", "ReduceL2", "ReduceMax", "Pow", "Sqrt", "Abs", "Neg")},
    "Squeeze": Op(host="layout", constant=True),
    "Unsqueeze": Op(host="layout", constant=True),
    "DepthToSpace": Op(host="layout", inputs=(1, 1)),  # pixel shuffle: moved to the end, a host-tail layout op
    # constants and shapes only: they disappear in normalization
    "Constant": Op(constant=True),
    "Shape": Op(constant=True),
    "Gather": Op(constant=True),
    "Cast": Op(constant=True),
}

# Views of the table, by what reads them
SUPPORTED_OPS = {name: op.becomes for name, op in OPS.items() if op.becomes}
HOST_TAIL_OPS = tuple(name for name, op in OPS.items() if op.host == "tail")
HOST_OPS = {name: ("host tail" if op.host == "tail" else "layout") for name, op in OPS.items() if op.host}
CONSTANT_OPS = {name for name, op in OPS.items() if op.constant}
LAYOUT_OPS = tuple(name for name, op in OPS.items() if op.layout)
WIRING_OPS = LAYOUT_OPS + tuple(name for name, op in OPS.items() if op.host == "layout")  # cost no hardware
TYPE_PRESERVING_OPS = tuple(name for name, op in OPS.items() if op.type_preserving)
WEIGHT_OPS = tuple(name for name, op in OPS.items() if op.weights)
RTL_OPS = {name: op.rtl for name, op in OPS.items() if op.rtl}
ARITY = {name: op.inputs for name, op in OPS.items() if op.inputs and name != "Quant"}  # Quant: its own message

QUANT_DOMAINS = {"qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general", "finn", "qonnx", ""}

# Ops that are not hardware on their own but that a registered pattern pass (jpq2hw/extensions/) rewrites into a
# custom layer in the hardware graph, e.g. the Slice/Mul/ReduceSum/Concat of a stereo cost volume.
# op type -> name of the pattern that consumes it
PATTERN_OPS: dict[str, str] = {}


def register_pattern_ops(ops, pattern: str) -> None:
    for op in ops:
        PATTERN_OPS.setdefault(op, pattern)


def accepted(op_type: str) -> bool:
    """The op is in the table or part of a registered pattern."""
    return op_type in OPS or op_type in PATTERN_OPS
