"""The ONNX ops jpq2hw maps to hardware, and what each becomes. Validation and the README read this table."""

SUPPORTED_OPS = {
    "Quant": "fixed-point type of a weight (folded into it) or an activation quantizer (ap_fixed, RND_CONV, SAT)",
    "BipolarQuant": "+1/-1 weights (integer codes) or activations (a one-step threshold layer)",
    "Conv": "Conv1D/Conv2D: any kernel, stride, zero padding, dilation 1; depthwise (group = channels) as "
            "DepthwiseConv, other groups as a dense Conv with block-diagonal weights",
    "MatMul": "Dense",
    "Gemm": "Dense (alpha = beta = 1)",
    "Relu": "ReLU",
    "LeakyRelu": "LeakyReLU with the slope in an exact fixed-point type (power-of-two slope), or folded into the "
                 "next quantizer's thresholds (any other slope >= 0)",
    "MaxPool": "MaxPooling1D/2D",
    "GlobalMaxPool": "GlobalMaxPooling",
    "AveragePool": "an exact window sum (depthwise Conv of ones), then / size: a shift for a power of two, "
                   "else folded into the next quantizer's thresholds",
    "GlobalAveragePool": "as AveragePool, over the whole feature map",
    "Clip": "ReLU6 / hardtanh: a clamp folded into the next quantizer's thresholds",
    "Add": "residual Add of two activations, or a bias folded into the layer before",
    "Sub": "Subtract of two activations",
    "BatchNormalization": "BatchNormalization (scale and shift in exact fixed point) or folded into a constant",
    "Flatten": "Reshape (no hardware)",
    "Reshape": "Reshape (no hardware)",
    "Transpose": "layout change (no hardware, after channels-last conversion)",
    "Identity": "removed",
    "Concat": "Concatenate",
    "Resize": "nearest-neighbour upsampling by integer factors (hls4ml Resize: each value repeated)",
    "Mul": "scaling by a power-of-two constant (folded into the fixed-point type)",
    "Div": "division by a constant (folded exactly into the integer arithmetic and thresholds)",
}

# Float ops with no fixed-point form: they run on the host, in the tail after the quantized core
# (jpq2hw/normalize/host_split.py moves them off the hardware, with the Squeeze/Unsqueeze around them).
HOST_TAIL_OPS = ("Softmax", "LogSoftmax", "Sigmoid", "Tanh", "ArgMax", "TopK", "Exp", "Log",
                 # distance heads (squared or absolute difference to prototypes, reduced over the embedding)
                 "ReduceSum", "ReduceMean", "ReduceL2", "ReduceMax", "Pow", "Sqrt", "Abs", "Neg")
HOST_OPS = {op: "host tail" for op in HOST_TAIL_OPS} | {"Squeeze": "layout", "Unsqueeze": "layout",
                                                        # pixel shuffle: moved to the end, a host-tail layout op
                                                        "DepthToSpace": "layout"}

# Ops that only carry constants/layout and disappear in normalization.
CONSTANT_OPS = {"Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast"}

QUANT_DOMAINS = {"qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general", "finn", "qonnx", ""}

# Ops that are not hardware on their own but that a registered pattern pass (jpq2hw/extensions/) rewrites into a
# custom layer in the hardware graph, e.g. the Slice/Mul/ReduceSum/Concat of a stereo cost volume.
# op type -> name of the pattern that consumes it
PATTERN_OPS: dict[str, str] = {}


def register_pattern_ops(ops, pattern: str) -> None:
    for op in ops:
        PATTERN_OPS.setdefault(op, pattern)
