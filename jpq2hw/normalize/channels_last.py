"""qonnx's channels-last conversion, with its two transpose-moving passes made exact for quantizers.

qonnx's ConvertToChannelsLastAndClean moves the inserted Transposes through elementwise ops until they cancel.
Two gaps, both measured on files Brevitas exports:
- MoveChanLastUpstream moves a to-channels-last Transpose up through a Quant without transposing the Quant's
  parameters: a per-channel activation scale [1, C, 1, 1] then sits on an NHWC tensor [1, H, W, C] (wrong
  broadcast, refused later as "do not broadcast").
- Neither pass moves a Transpose through BipolarQuant (1-bit activations), so Transposes stay between the layers
  of a binary conv net (refused later as "reshaping a tensor with per-channel scales").
Here both passes move through Quant and BipolarQuant and transpose every parameter of the data's rank; the
rest of the conversion is qonnx's own, in qonnx's order.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.channels_last.base_wrapped_op import to_channels_first_args, to_channels_last_args
from qonnx.transformation import channels_last as qcl
from qonnx.transformation.base import Transformation
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit
from qonnx.util.onnx import is_eltwise_optype

QUANTIZERS = ("Quant", "BipolarQuant")
MOVE_THROUGH = tuple(set(qcl._move_through_nodes) | set(QUANTIZERS))  # ops that treat every value alike


def _perm(node, model) -> list[int]:
    return qcl.get_transpose_perms(node, model)


def _transpose_params(model: ModelWrapper, node, perm: list[int]) -> None:
    """Give a quantizer's parameters of the data's rank (per-channel scales) the data's new layout; each gets a
    new tensor (exporters share parameter tensors between nodes)."""
    for k, name in enumerate(node.input[1:], start=1):
        value = model.get_initializer(name)
        if value is not None and value.ndim == len(perm):
            new = model.make_new_valueinfo_name()
            model.set_initializer(new, np.ascontiguousarray(np.transpose(value, perm)))
            node.input[k] = new


class MoveChanLastUpstreamExact(Transformation):
    """qonnx's MoveChanLastUpstream, also through BipolarQuant, transposing quantizer parameters."""

    def apply(self, model: ModelWrapper):
        for n in model.graph.node:
            if n.op_type != "Transpose":
                continue
            shape = model.get_tensor_shape(n.input[0])
            perm = _perm(n, model)
            if shape is None or list(to_channels_last_args(len(shape))) != perm:
                continue
            pred = model.find_producer(n.input[0])
            if pred is None or model.is_fork_node(pred) or model.get_initializer(pred.input[0]) is not None:
                continue
            movable = pred.op_type in MOVE_THROUGH
            if pred.op_type in qcl._move_through_nodes_if_scalar:
                movable |= model.get_tensor_shape(pred.input[1]) in ([1], [])
            if not movable:
                continue
            if pred.op_type in QUANTIZERS:
                _transpose_params(model, pred, perm)
            t1, t2, t3 = pred.input[0], n.input[0], n.output[0]  # t1 -> pred -> t2 -> n -> t3
            n.input[0], n.output[0] = t1, t2
            pred.input[0], pred.output[0] = t2, t3
            model.set_tensor_shape(t2, model.get_tensor_shape(t3))
            return model, True
        return model, False


class MoveChanFirstDownstreamExact(Transformation):
    """qonnx's MoveChanFirstDownstream, also through BipolarQuant (its parameters are transposed back by qonnx's
    own move_transpose_past_eltwise, as for Quant)."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "Transpose":
                continue
            shape = model.get_tensor_shape(node.input[0])
            if shape is None or list(to_channels_first_args(len(shape))) != _perm(node, model):
                continue
            if model.find_direct_predecessors(node) is None:
                continue
            successors = model.find_direct_successors(node)
            if successors is None:
                continue
            succ = successors[0]
            if is_eltwise_optype(succ.op_type) or succ.op_type == "BipolarQuant":
                return qcl.move_transpose_past_eltwise(node, succ, model), True
        return model, False


class ConvertToChannelsLastExact(Transformation):
    """qonnx's ConvertToChannelsLastAndClean (make_input_channels_last=False) with the two passes above."""

    def apply(self, model: ModelWrapper):
        assert model.check_all_tensor_shapes_specified(), "All tensor shapes must be specified"
        model = model.transform(qcl.InsertChannelsLastDomainsAndTrafos())
        before = model.model.SerializeToString()
        model = model.transform(qcl.RemoveConsecutiveChanFirstAndChanLastTrafos())
        model = model.transform(MoveChanLastUpstreamExact())
        model = model.transform(FoldTransposeIntoQuantInit())
        model = model.transform(qcl.RemoveConsecutiveChanFirstAndChanLastTrafos())
        model = model.transform(MoveChanFirstDownstreamExact())
        model = model.transform(qcl.MoveTransposePastFork())
        model = model.transform(qcl.RemoveConsecutiveChanFirstAndChanLastTrafos())
        model = model.transform(qcl.AbsorbChanFirstIntoMatMul())
        changed = before != model.model.SerializeToString()
        model = model.transform(InferShapes())
        model = model.transform(FoldConstants())
        return model, changed
