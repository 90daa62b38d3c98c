"""qonnx's normalization passes at a cost that does not grow with the frame.

1. Shape inference for qonnx's channels-last ops without building their output tensors. qonnx infers the shapes
of a custom op by swapping it, for the time of ONNX shape inference, for a standard node with the same output
shape. Its channels-last Conv, MaxPool and BatchNormalization build that node as a Constant
holding a full-size random output tensor (a 32-channel 120x160 map: 614k floats through a Python list), and
qonnx's InferShapes then turns every swapped node into a string (`str(node)`) twice to swap it back. A 128x128
image model spent 99% of its normalization there (227 of 228 s), and the time grows with the frame.

install() gives those three ops the output shape only, with qonnx's own output-size formulas
(compute_conv_output_dim, compute_pool_output_dim), as a RandomNormal node whose `shape` attribute is the shape
(qonnx's `make_const_shape_op`, which its other custom ops already use): no tensor, the same inferred shapes.
tests/build/test_frame_free.py compares the two on every case against qonnx's original methods.

2. Constant folding without an execution context of the whole graph. qonnx's FoldConstants folds one node per
pass and repeats until nothing changes, and each pass starts from `make_empty_exec_context()`: a zero-filled
array for every tensor of the graph, activations included (22 s of a 256x256 U-Net's normalization). Folding
reads only constants, so install() gives the two folding passes a context that holds the initializers and makes
any other tensor's zeros only when a node reads it (what qonnx's context holds for it, from the same value_info).
"""

from __future__ import annotations

import contextlib

_ORIGINALS: dict[type, tuple[str, object]] = {}  # class -> (method name, qonnx's own method)


def channels_last_conv_shape(ishape, kernel_shape, strides, pads, dilations, out_ch) -> list[int]:
    """qonnx's channels-last Conv output shape: [1, *spatial, C_out]; pads are [begins..., ends...] (or
    [begin, end] for one spatial axis)."""
    from qonnx.custom_op.general.im2col import compute_conv_output_dim

    ndim = len(ishape)
    assert ndim in (3, 4), "ChannelsLast Conv currently only supports 3D and 4D input tensors."
    dims = []
    for i in range(ndim - 2):
        padding = pads[0] + pads[1] if ndim == 3 else pads[i] + pads[i + 2]
        dims.append(compute_conv_output_dim(ishape[i + 1], kernel_shape[i], strides[i], padding, dilations[i]))
    return [1, *dims, out_ch]


def channels_last_pool_shape(ishape, kernel_shape, strides, pads) -> list[int]:
    """qonnx's channels-last MaxPool output shape, with its refusal of uneven padding."""
    from qonnx.custom_op.general.maxpoolnhwc import compute_pool_output_dim

    ndim = len(ishape)
    assert ndim in (3, 4), "ChannelsLast MaxPool currently only supports 3D and 4D input tensors."
    if ndim == 3:
        assert pads[0] == pads[1], "Uneven padding not supported"
    else:
        assert pads[0] == pads[2] and pads[1] == pads[3], "Uneven padding not supported"
    dims = [compute_pool_output_dim(ishape[i + 1], kernel_shape[i], strides[i], pads[i]) for i in range(ndim - 2)]
    return [1, *dims, ishape[-1]]


def _conv_op(self, model):
    node = self.onnx_node
    shape = channels_last_conv_shape(model.get_tensor_shape(node.input[0]), self.get_nodeattr("kernel_shape"),
                                     self.get_nodeattr("strides"), self.get_nodeattr("pads"),
                                     self.get_nodeattr("dilations"), model.get_tensor_shape(node.input[1])[0])
    return _shape_node(self, shape)


def _pool_op(self, model):
    shape = channels_last_pool_shape(model.get_tensor_shape(self.onnx_node.input[0]),
                                     self.get_nodeattr("kernel_shape"), self.get_nodeattr("strides"),
                                     self.get_nodeattr("pads"))
    return _shape_node(self, shape)


def _batchnorm_op(self, model):
    return _shape_node(self, list(model.get_tensor_shape(self.onnx_node.input[0])))


def _shape_node(op, shape):
    node = op.make_const_shape_op(shape)
    node.name = op.onnx_node.name
    return node


class LazyExecContext(dict):
    """qonnx's empty execution context, made on demand: initializers now, any other tensor's zeros when read."""

    def __init__(self, model):
        from onnx import numpy_helper

        graph = model.graph
        # qonnx fills inputs, outputs, value_info, then initializers: later entries win, as in this dict
        self._infos = {vi.name: vi for vi in [*graph.input, *graph.output, *graph.value_info]}
        super().__init__((t.name, numpy_helper.to_array(t)) for t in graph.initializer)
        self[""] = None

    def __missing__(self, name):
        from qonnx.util.onnx import valueinfo_to_tensor

        value = valueinfo_to_tensor(self._infos[name])
        self[name] = value
        return value


def _with_lazy_context(apply):
    def folding_apply(self, model):
        model.make_empty_exec_context = lambda: LazyExecContext(model)  # this model object only
        try:
            return apply(self, model)
        finally:
            del model.make_empty_exec_context

    folding_apply.__wrapped__ = apply
    return folding_apply


def install() -> None:
    """Replace the three tensor-building shape ops and give constant folding a lazy context (once)."""
    from qonnx.custom_op.channels_last.batch_normalization import BatchNormalization_v1
    from qonnx.custom_op.channels_last.conv import Conv_v1
    from qonnx.custom_op.channels_last.max_pool import MaxPool_v1
    from qonnx.transformation.fold_constants import FoldConstants, FoldConstantsFiltered

    for cls, rule in ((Conv_v1, _conv_op), (MaxPool_v1, _pool_op), (BatchNormalization_v1, _batchnorm_op)):
        if cls not in _ORIGINALS:
            _ORIGINALS[cls] = ("make_shape_compatible_op", cls.make_shape_compatible_op)
            cls.make_shape_compatible_op = rule
    for cls in (FoldConstants, FoldConstantsFiltered):
        if cls not in _ORIGINALS:
            _ORIGINALS[cls] = ("apply", cls.apply)
            cls.apply = _with_lazy_context(cls.apply)


@contextlib.contextmanager
def qonnx_own_methods():
    """qonnx's own (frame-sized) methods for the duration: for the test and the benchmark that compare the two."""
    install()
    ours = {cls: getattr(cls, name) for cls, (name, _) in _ORIGINALS.items()}
    for cls, (name, theirs) in _ORIGINALS.items():
        setattr(cls, name, theirs)
    try:
        yield
    finally:
        for cls, method in ours.items():
            setattr(cls, _ORIGINALS[cls][0], method)
