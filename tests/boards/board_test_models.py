"""Tiny hand-made QONNX models (power-of-two scales, so hls4ml is exact on them) and their hls4ml conversion."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

QUANT_DOMAIN = "qonnx.custom_op.general"


def quant(prefix, x, y, bits, scale, signed=1):
    """A Quant node with power-of-two scale and zero point 0 (exactly representable as ap_fixed)."""
    node = helper.make_node("Quant", [x, f"{prefix}_scale", f"{prefix}_zero", f"{prefix}_bits"], [y],
                            domain=QUANT_DOMAIN, signed=signed, narrow=0, rounding_mode="ROUND")
    inits = [numpy_helper.from_array(np.array(v, np.float32), f"{prefix}_{k}")
             for k, v in (("scale", scale), ("zero", 0.0), ("bits", bits))]
    return [node], inits


def make_model(nodes, inits, in_shape, out_shape):
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def tiny_mlp():
    """Quant(4b, 2^-2) -> MatMul(4b weights, 2^-1) -> Quant(8b, 2^-3) -> Relu."""
    weights = np.random.default_rng(0).integers(-8, 8, (8, 4)).astype(np.float32)
    nodes, inits = [], [numpy_helper.from_array(weights, "w")]
    for n, i in (quant("qx", "x", "xq", 4, 0.25), quant("qw", "w", "wq", 4, 0.5)):
        nodes += n
        inits += i
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["acc"]))
    n, i = quant("qa", "acc", "accq", 8, 0.125)
    nodes += n + [helper.make_node("Relu", ["accq"], ["y"])]
    return make_model(nodes, inits + i, [1, 8], [1, 4])


def tiny_conv():
    """Quant(4b) -> 3x3 Conv, 1 -> 2 channels, padding 1 (4b weights) -> Quant(8b) -> Relu, on 1x1x4x4."""
    weights = np.random.default_rng(1).integers(-8, 8, (2, 1, 3, 3)).astype(np.float32)
    nodes, inits = [], [numpy_helper.from_array(weights, "w")]
    for n, i in (quant("qx", "x", "xq", 4, 0.25), quant("qw", "w", "wq", 4, 0.5)):
        nodes += n
        inits += i
    nodes.append(helper.make_node("Conv", ["xq", "wq"], ["acc"], kernel_shape=[3, 3], strides=[1, 1],
                                  dilations=[1, 1], group=1, pads=[1, 1, 1, 1]))
    n, i = quant("qa", "acc", "accq", 8, 0.125)
    nodes += n + [helper.make_node("Relu", ["accq"], ["y"])]
    return make_model(nodes, inits + i, [1, 1, 4, 4], [1, 2, 4, 4])


MODELS = {"mlp": tiny_mlp, "conv": tiny_conv}


def convert(kind, io_type, hls_dir, backend="Vitis"):
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(MODELS[kind]()))
    model = cleanup_model(model.transform(ConvertToChannelsLastAndClean()))
    config = hls4ml.utils.config_from_onnx_model(model, granularity="name", backend=backend)
    hls_model = hls4ml.converters.convert_from_onnx_model(
        model, output_dir=str(hls_dir), io_type=io_type, backend=backend, hls_config=config)
    hls_model.write()
    return hls_model



def grid_inputs(n, size, seed=0):
    """Random inputs on the 4-bit signed input grid (step 2^-2), as the build's vectors would be."""
    return np.random.default_rng(seed).integers(-8, 8, (n, size)).astype(np.float32) * 0.25
