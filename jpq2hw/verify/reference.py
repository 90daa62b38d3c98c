"""The golden model: the normalized QONNX graph run by onnxruntime.

Two lowerings, both exact for what they are chosen for:
- "onnxruntime-qcdq-float32": qonnx's QuantToQCDQ turns Quant into QuantizeLinear/Clip/DequantizeLinear and
  onnxruntime runs the graph in float32. Exact while every sum fits float32's 24-bit mantissa, which the
  caller checks from the accumulator widths.
- "qonnx-float64": for wider accumulators or Quant nodes QCDQ cannot express (> 8 bits): the graph in
  float64, convolutions lowered to Im2Col + MatMul by qonnx (onnxruntime has no float64 Conv), Quant to
  standard ops.
A whole vector set runs through one onnxruntime session, in batches (run_batch); qonnx's Im2Col becomes a Gather
with the indices qonnx's own Im2Col computes. Batching changes no value: every sum is exact in the chosen float
type (the reason it was chosen), so no order of summation can round differently. A graph onnxruntime cannot
run batched (a custom op, a Reshape that pins the batch) runs one vector at a time as before; the batched
result must equal the one-vector run on the first vector, or it is not used.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError
from jpq2hw.normalize.exact_rewrites import average_pools_as_sums, grouped_convs_as_dense
from jpq2hw.normalize.passes import lift_1d_to_2d
from jpq2hw.ops import OPS

FLOAT32_MANTISSA_BITS = 24
BATCH = 64  # vectors per onnxruntime call: bounds the memory of a large feature map times the batch


class Reference:
    def __init__(self, model: ModelWrapper, max_accum_bits: int, force_float64: bool = False):
        self.model = model
        self.kind = "onnxruntime-qcdq-float32"
        self._session = None
        if max_accum_bits + 1 <= FLOAT32_MANTISSA_BITS and not force_float64:
            self._qcdq = _lower_to_qcdq(model)
            if self._qcdq is not None:
                self._session = _session(self._qcdq.model)
        if self._session is None:
            self.kind = "qonnx-float64"
            self._f64 = _to_float64(model)
        self._batched = False  # None: cannot run batched; else the session, made on first use

    @property
    def input_name(self) -> str:
        return self.model.graph.input[0].name

    def run(self, x: np.ndarray, tensors: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run one sample x (with batch dim 1); return the output (key 'output') and any named tensors."""
        out_name = self.model.graph.output[0].name
        wanted = [out_name] + [t for t in (tensors or []) if t != out_name]
        if self._session is not None:
            if tensors:
                session = _session(_with_outputs(self._qcdq.model, wanted))
                values = session.run(wanted, {self.input_name: x.astype(np.float32)})
            else:
                values = self._session.run([out_name], {self.input_name: x.astype(np.float32)})
            result = dict(zip(wanted, values))
        else:
            from qonnx.core.onnx_exec import execute_onnx

            shape = self._f64.get_tensor_shape(self.input_name)  # a lifted 1-D model takes (N, C, 1, W)
            ctx = execute_onnx(self._f64, {self.input_name: x.astype(np.float64).reshape(shape)},
                               return_full_exec_context=True)
            result = {t: ctx[t] for t in wanted if t in ctx}
        result["output"] = np.asarray(result[out_name], dtype=np.float64)
        return result

    @property
    def runs_batched(self) -> bool:
        """Whether run_batch used one onnxruntime session for the whole set (else: one vector at a time)."""
        return self._batched not in (False, None)

    def run_batch(self, xs: np.ndarray) -> np.ndarray:
        if len(xs) > 1:
            batched = self._run_batched(xs)
            if batched is not None:
                return batched
        return np.stack([self.run(x[None])["output"][0] for x in xs])

    def _run_batched(self, xs: np.ndarray) -> np.ndarray | None:
        if self._batched is False:
            self._batched = _batch_session(self._qcdq.model if self._session is not None else self._f64.model)
        if self._batched is None:
            return None
        session, in_shape, dtype = self._batched
        out_name = session.get_outputs()[0].name
        chunks = []
        try:
            for i in range(0, len(xs), BATCH):
                chunk = np.ascontiguousarray(xs[i:i + BATCH], dtype=dtype).reshape(-1, *in_shape)
                chunks.append(np.asarray(session.run([out_name], {self.input_name: chunk})[0], dtype=np.float64))
        except Exception:  # e.g. a node that cannot take a batch: one vector at a time
            self._batched = None
            return None
        try:
            first = self.run(xs[:1])["output"]
        except Exception:  # qonnx's executor refuses the graph (its Im2Col on a 1-pixel map): a batch of one
            first = np.asarray(session.run([out_name], {self.input_name: np.ascontiguousarray(
                xs[:1], dtype=dtype).reshape(-1, *in_shape)})[0], dtype=np.float64)
        if any(len(c) != min(BATCH, len(xs) - i * BATCH) or c.shape[1:] != first.shape[1:]
               for i, c in enumerate(chunks)) or not np.array_equal(chunks[0][:1], first, equal_nan=True):
            self._batched = None
            return None
        return np.concatenate(chunks)


def _session(model: onnx.ModelProto):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # no fusions that reorder sums
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3  # errors only: its warnings (an unused initializer removed) are not the user's
    try:
        return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # NOT_IMPLEMENTED (no kernel for an op at the file's opset), INVALID_GRAPH...
        if not type(exc).__module__.startswith("onnxruntime"):
            raise
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), "?")
        raise JpqError(f"onnxruntime cannot run the reference model (ONNX opset {opset}): "
                       f"{str(exc).splitlines()[0]}") from None


def _batch_session(model: onnx.ModelProto):
    """(session, input shape without batch, numpy dtype) over a copy of `model` whose batch dimension is free,
    or None if onnxruntime cannot load it."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    graph = m.graph
    inp = graph.input[0]
    in_shape = [d.dim_value for d in inp.type.tensor_type.shape.dim][1:]
    dtype = np.float64 if inp.type.tensor_type.elem_type == TensorProto.DOUBLE else np.float32
    for vi in list(graph.input[:1]) + list(graph.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims):
            dims[0].dim_param = "batch"
    del graph.value_info[:]  # onnxruntime infers them again, with the free batch
    inits = {i.name: i for i in graph.initializer}
    batched = {inp.name}  # tensors that carry the batch: computed from the input
    for node in graph.node:
        if any(i in batched for i in node.input):
            batched.update(node.output)
    nodes = []
    for node in graph.node:
        if node.op_type == "Reshape" and node.input[0] in batched and node.input[1] in inits:
            shape = numpy_helper.to_array(inits[node.input[1]])
            if shape.size and shape[0] == 1:  # the batch of one, pinned: -1 (else 0, which copies the input's
                # batch unless allowzero, which torch's exporter sets) lets it follow the input
                batch = 0 if -1 in shape[1:] else -1
                name = f"{node.input[1]}__batch_{len(nodes)}"
                graph.initializer.append(numpy_helper.from_array(np.concatenate([[batch], shape[1:]]).astype(np.int64),
                                                                 name))
                node.input[1] = name
        if node.op_type == "Im2Col":
            nodes += _im2col_as_gather(node, m)
            continue
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    try:
        return _session(m), in_shape, dtype
    except Exception:
        return None


def _im2col_as_gather(node, m: onnx.ModelProto) -> list:
    """qonnx's Im2Col (NHWC in, (N, OH, OW, KH*KW*C) out, float64 here) as Flatten -> Pad one pad value in
    front -> Gather. The indices are qonnx's own im2col (the steps of Im2Col.execute_node) applied to the
    positions 1..H*W*C, padded with 0: the pad value's position."""
    from qonnx.custom_op.general.im2col import Im2Col, compute_conv_output_dim, im2col_indices_nchw

    op = Im2Col(node)
    _, h, w, c = [int(v) for v in op.get_nodeattr("input_shape").strip("()").split(",")]
    (k_h, k_w), (s_h, s_w) = op.get_nodeattr("kernel_size"), op.get_nodeattr("stride")
    (d_h, d_w), pad = op.get_nodeattr("dilations"), op.get_nodeattr("pad_amount")
    positions = (np.arange(h * w * c, dtype=np.int64) + 1).reshape(1, h, w, c).transpose(0, 3, 1, 2)
    cols = im2col_indices_nchw(positions, h, w, k_h, k_w, pad, s_h, s_w, pad_val=0, dilation_h=d_h, dilation_w=d_w)
    o_h = compute_conv_output_dim(h, k_h, s_h, pad[0] + pad[2], d_h)
    o_w = compute_conv_output_dim(w, k_w, s_w, pad[1] + pad[3], d_w)
    indices = cols.reshape(1, c, k_h, k_w, o_h, o_w).transpose(0, 4, 5, 2, 3, 1).reshape(o_h, o_w, k_h * k_w * c)
    p = f"{node.output[0]}__gather"
    m.graph.initializer.extend([
        numpy_helper.from_array(np.ascontiguousarray(indices, dtype=np.int64), f"{p}_idx"),
        numpy_helper.from_array(np.asarray([0, 1, 0, 0], dtype=np.int64), f"{p}_pads"),
        numpy_helper.from_array(np.asarray(op.get_nodeattr("pad_value"), dtype=np.float64), f"{p}_value"),
    ])
    return [
        helper.make_node("Flatten", [node.input[0]], [f"{p}_flat"], axis=1),
        helper.make_node("Pad", [f"{p}_flat", f"{p}_pads", f"{p}_value"], [f"{p}_padded"], mode="constant"),
        helper.make_node("Gather", [f"{p}_padded", f"{p}_idx"], [node.output[0]], axis=1),
    ]


def _lower_to_qcdq(model: ModelWrapper) -> ModelWrapper | None:
    from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ

    lowered = ModelWrapper(onnx.ModelProto.FromString(model.model.SerializeToString())).transform(QuantToQCDQ())
    if any(lowered.get_nodes_by_op_type(op) for op in ("Quant", "BipolarQuant", "Trunc")):
        return None  # a Quant QCDQ cannot express (e.g. > 8 bits), a Trunc: use the float64 path
    return lowered


def _with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    m = onnx.ModelProto.FromString(model.SerializeToString())
    existing = {o.name for o in m.graph.output}
    for n in names:
        if n not in existing:
            m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    return m


def _to_float64(model: ModelWrapper) -> ModelWrapper:
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    m = ModelWrapper(_at_least_opset(onnx.ModelProto.FromString(model.model.SerializeToString())))
    # value-preserving rewrites: onnxruntime has no float64 average pooling, qonnx lowers no grouped Conv
    m = grouped_convs_as_dense(average_pools_as_sums(m, "reference"), "reference").transform(InferShapes())
    if len(m.get_tensor_shape(m.graph.input[0].name) or []) == 3:
        lift_1d_to_2d(m)  # qonnx lowers only 2-D convolutions; height 1 is the same computation
        m = m.transform(InferShapes())
    _split_conv_bias(m)
    _fold_bipolar_weights(m)
    m = m.transform(InferShapes())
    m = m.transform(LowerConvsToMatMul())
    for init in m.graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name))
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    _lower_ops_float64(m)
    m = m.transform(InferShapes())
    return m


def _lower_ops_float64(m: ModelWrapper) -> None:
    """Each op whose rule has a float64 lowering (jpq2hw/ops/: Quant and BipolarQuant as standard ops, the ops
    onnxruntime has no float64 kernel for) replaced by the standard-ONNX nodes that compute it exactly."""
    nodes = []
    for node in m.graph.node:
        rule = OPS.get(node.op_type)
        lowered = rule.float64(m, node) if rule is not None and rule.float64 is not None else None
        nodes += [node] if lowered is None else lowered
    del m.graph.node[:]
    m.graph.node.extend(nodes)


LOWERING_OPSET = 13  # the float64 lowering writes Clip with min/max inputs, Round, GreaterOrEqual on doubles


def _at_least_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model at ONNX opset >= LOWERING_OPSET (onnx's version converter rewrites the ops whose form changed), so
    that the nodes the lowering adds mean what they say: in an opset-9 or -11 file, onnxruntime has no double Clip."""
    from onnx import version_converter

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), LOWERING_OPSET)
    if opset >= LOWERING_OPSET:
        return model
    try:
        return version_converter.convert_version(model, LOWERING_OPSET)
    except Exception as exc:
        raise JpqError(f"the model's ONNX opset {opset} could not be converted to opset {LOWERING_OPSET} for the "
                       f"float64 reference ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                       f"re-export the model with opset >= {LOWERING_OPSET}") from None


def _fold_bipolar_weights(m: ModelWrapper) -> None:
    """BipolarQuant on constant weights -> the constant +-scale it gives (sign(0) = +1, qonnx's definition):
    qonnx's LowerConvsToMatMul lowers a Conv whose weights are an initializer or behind a Quant, not behind a
    BipolarQuant. Exact: each weight is +-scale, a float32 value."""
    for node in list(m.get_nodes_by_op_type("BipolarQuant")):
        w, scale = m.get_initializer(node.input[0]), m.get_initializer(node.input[1])
        if w is None or scale is None:
            continue
        values = np.where(np.asarray(w) >= 0, 1.0, -1.0) * np.asarray(scale, dtype=np.float64)
        m.set_initializer(node.output[0], values.astype(np.float32))
        m.graph.node.remove(node)


def _split_conv_bias(m: ModelWrapper) -> None:
    """Conv(x, w, b) -> Conv(x, w) + b as (1, C, 1, 1). qonnx's LowerConvsToMatMul extracts biases itself but
    assumes an initializer; a bias behind its own Quant node (QKeras converters write that) breaks it."""
    nodes = []
    for node in m.graph.node:
        nodes.append(node)
        if node.op_type != "Conv" or len(node.input) < 3 or not node.input[2]:
            continue
        bias, out = node.input[2], node.output[0]
        del node.input[2]
        p = f"{out}__bias"
        rank = len(m.get_tensor_shape(out) or [1, 1, 1, 1])
        m.set_initializer(f"{p}_shape", np.asarray([1, -1] + [1] * (rank - 2), dtype=np.int64))
        node.output[0] = f"{p}_conv"
        nodes += [helper.make_node("Reshape", [bias, f"{p}_shape"], [f"{p}_b"]),
                  helper.make_node("Add", [f"{p}_conv", f"{p}_b"], [out])]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
