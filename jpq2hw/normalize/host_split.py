"""Split off the float head and tail that cannot be exact fixed point, so the quantized core becomes hardware.

- tail: the float ops after the core's output (Softmax, Sigmoid, Tanh, ArgMax, TopK; distance heads such as
  Unsqueeze/Sub/Mul/ReduceSum/Squeeze, where an op may take the same tensor twice), with the layout ops around
  them. It is a subgraph fed by one core tensor and constants; it runs on the host, in onnxruntime, on the
  hardware's output.
- head: elementwise float ops on the graph input before its quantizer (input scaling, mean subtraction, a
  Relu), and the layout ops among them (Reshape, Flatten). They run on the host before the input is quantized.
The core keeps the Quant nodes, so its input and output types stay exact; the build checks the core bit for bit
and the host parts against onnxruntime with a float tolerance (report.json: host_ops).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import onnx
from onnx.utils import Extractor
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.core.node_names import source_name
from jpq2hw.ops import HOST_ARITH_OPS, HOST_OPS, HOST_TAIL_OPS, LAYOUT_OPS, QUANTIZER_OPS, RESHAPE_OPS

TAIL_FLOAT_OPS = set(HOST_TAIL_OPS)  # ops with no fixed-point form: after the core, they make a host tail
# reshapes, and the pixel shuffle (host layout ops), may follow them there
TAIL_LAYOUT_OPS = set(RESHAPE_OPS) | {name for name, where in HOST_OPS.items() if where == "layout"}
# elementwise ops the hardware folds when one input is a constant; with two data inputs (a square, a
# difference of two head tensors) they belong to the tail
TAIL_ARITH_OPS = set(HOST_ARITH_OPS)
HARDWARE_LAYOUT_OPS = set(RESHAPE_OPS) & set(LAYOUT_OPS)  # the layout ops the hardware graph can carry
HEAD_OPS = set(HOST_ARITH_OPS)
# one-input ops (and layout ops with a constant shape) a head may pass through on its way to the input
# quantizer: a Relu before an unsigned input Quant, a Reshape/Flatten of the input (PyTorch's x.view(...),
# whose Shape/Gather/Unsqueeze/Concat chain cleanup has folded into a constant)
HEAD_PASS_OPS = {"Relu"} | set(RESHAPE_OPS)
QUANTIZERS = set(QUANTIZER_OPS)


# The host parts run in float32 (onnxruntime); the whole model's reference may run in float64. An output agrees
# when |host - reference| <= HOST_ATOL + HOST_RTOL * |reference|: a few float32 roundings, nothing more.
HOST_RTOL = 1e-5
HOST_ATOL = 1e-6


def within_tolerance(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.all(np.abs(got.astype(np.float64) - want) <= HOST_ATOL + HOST_RTOL * np.abs(want)))


@dataclass
class HostPart:
    model: onnx.ModelProto
    where: str  # "head" | "tail"

    @property
    def ops(self) -> list[dict]:
        return [{"name": n.name, "op": n.op_type, "where": f"host ({self.where}, onnxruntime float32)",
                 "source_name": source_name(n)}
                for n in self.model.graph.node]

    @cached_property
    def _session(self):
        import onnxruntime as ort

        return ort.InferenceSession(self.model.SerializeToString(), providers=["CPUExecutionProvider"])

    def invert(self, ys: np.ndarray) -> np.ndarray:
        """Raw inputs (first axis: samples) that this head maps to `ys`, up to float32 rounding: each op undone
        from the last to the first. A Relu is undone as the identity (its output is never negative, so a
        negative target comes back as 0 and the vectors say so); a zero factor gives 0."""
        from onnx import numpy_helper

        consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in self.model.graph.initializer}
        shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
                  for vi in list(self.model.graph.input) + list(self.model.graph.value_info)}
        x = np.asarray(ys, dtype=np.float64)
        for node in reversed(self.model.graph.node):
            data = next(i for i in node.input if i and i not in consts)
            c = next((consts[i] for i in node.input if i in consts), None)
            if node.op_type == "Mul":
                x = np.divide(x, c, out=np.zeros_like(x), where=c != 0)
            elif node.op_type == "Div":
                x = x * c
            elif node.op_type == "Add":
                x = x - c
            elif node.op_type == "Sub":
                x = x + c if node.input[0] == data else c - x
            elif node.op_type in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
                x = x.reshape(len(x), *shapes[data][1:])
            elif node.op_type not in ("Relu", "Identity"):
                raise ValueError(f"head op {node.op_type} has no inverse")
        return x

    def run(self, xs: np.ndarray) -> np.ndarray:
        """Run each sample (first axis) through the host part (the exported graphs have batch size 1)."""
        name = self.model.graph.input[0].name
        outs = [self._session.run(None, {name: x[None].astype(np.float32)})[0][0] for x in xs]
        return np.stack(outs).astype(np.float64)


def _extract(model: ModelWrapper, inputs: list[str], outputs: list[str]) -> onnx.ModelProto:
    whole = onnx.ModelProto.FromString(model.model.SerializeToString())
    annotations = list(whole.graph.quantization_annotation)
    del whole.graph.quantization_annotation[:]  # onnx's Extractor refuses graphs that carry them
    part = Extractor(whole).extract_model(inputs, outputs)
    names = {t for n in part.graph.node for t in list(n.input) + list(n.output)}
    part.graph.quantization_annotation.extend(a for a in annotations if a.tensor_name in names)
    io = set(inputs) | set(outputs)
    for vi in [v for v in part.graph.value_info if v.name in io]:
        part.graph.value_info.remove(vi)  # declared as graph input/output now; a duplicate breaks qonnx's renaming
    return part


def _dynamic_inputs(model: ModelWrapper, node) -> list[str]:
    return [i for i in node.input if i and model.get_initializer(i) is None]


def _needs_host(model: ModelWrapper, node) -> bool:
    if node.op_type in TAIL_FLOAT_OPS:
        return True
    if node.op_type in TAIL_ARITH_OPS:
        return len(_dynamic_inputs(model, node)) > 1
    return node.op_type not in HARDWARE_LAYOUT_OPS  # Squeeze/Unsqueeze have no hardware form


def _tail_region(model: ModelWrapper) -> list:
    """The nodes that end the graph and could run on the host: walk back from the output through tail ops."""
    region, todo = {}, [model.graph.output[0].name]
    while todo:
        node = model.find_producer(todo.pop())
        if node is None or node.name in region or node.op_type not in TAIL_FLOAT_OPS | TAIL_LAYOUT_OPS | TAIL_ARITH_OPS:
            continue
        region[node.name] = node
        todo.extend(_dynamic_inputs(model, node))
    return [n for n in model.graph.node if n.name in region]  # graph (topological) order


def _fed_by(model: ModelWrapper, region: list, tensor: str) -> list:
    """The region's nodes computable from `tensor` and constants alone."""
    known, nodes = {tensor}, []
    for node in region:
        if all(i in known for i in _dynamic_inputs(model, node)):
            nodes.append(node)
            known.update(node.output)
    return nodes


def split_tail(model: ModelWrapper) -> tuple[ModelWrapper, HostPart | None]:
    """Cut the graph at the core tensor closest to the output whose downstream nodes hold every op that needs
    the host, and that feeds nothing but them."""
    out = model.graph.output[0].name
    region = _tail_region(model)
    host_only = {n.name for n in region if _needs_host(model, n)}
    if not host_only:
        return model, None  # constant scales and reshapes: the hardware folds them
    cuts = {i for n in region for i in _dynamic_inputs(model, n)} | {o for n in region for o in n.output}
    best = None
    for tensor in sorted(cuts):
        if model.find_producer(tensor) is None:
            continue  # the graph input: there would be no core
        tail = _fed_by(model, region, tensor)
        names = {n.name for n in tail}
        produced = {o for n in tail for o in n.output}
        leaks = [c for t in produced | {tensor} for c in model.find_consumers(t) or [] if c.name not in names]
        if out in produced and host_only <= names and not leaks and (best is None or len(tail) < len(best[1])):
            best = (tensor, tail)
    if best is None:
        return model, None  # the host ops are tangled with the core: validation names them
    tensor = best[0]
    tail = HostPart(_extract(model, [tensor], [out]), "tail")
    core = ModelWrapper(_extract(model, [model.graph.input[0].name], [tensor]))
    return core, tail


def split_head(model: ModelWrapper) -> tuple[ModelWrapper, HostPart | None]:
    tensor, chain = model.graph.input[0].name, []
    while True:
        consumers = model.find_consumers(tensor) or []
        if len(consumers) != 1 or consumers[0].op_type not in HEAD_OPS | HEAD_PASS_OPS:
            break
        node = consumers[0]
        if sum(model.get_initializer(i) is None for i in node.input if i) != 1:
            break  # not "data op constant"
        chain.append(node)
        tensor = node.output[0]
    feeds = model.find_consumers(tensor) or []
    if any(n.op_type in HEAD_PASS_OPS for n in chain) and not (feeds and all(n.op_type in QUANTIZERS for n in feeds)):
        return model, None  # a Relu/Reshape that does not lead to the input quantizer is the hardware's
    if not chain:
        return model, None
    head = HostPart(_extract(model, [model.graph.input[0].name], [tensor]), "head")
    core = ModelWrapper(_extract(model, [tensor], [model.graph.output[0].name]))
    return core, head
