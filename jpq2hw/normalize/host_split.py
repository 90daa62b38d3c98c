"""Split off the float head and tail that cannot be exact fixed point, so the quantized core becomes hardware.

- tail: the chain of float ops after the core's output (Softmax, Sigmoid, Tanh, ArgMax, TopK, with the
  Reshape/Squeeze/Flatten around them). It runs on the host, in onnxruntime, on the hardware's output.
- head: elementwise float ops on the graph input before its quantizer (input scaling, mean subtraction).
  They run on the host before the input is quantized.
The core keeps the Quant nodes, so its input and output types stay exact; the build checks the core bit for bit
and the host parts against onnxruntime with a float tolerance (report.json: host_ops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx.utils import Extractor
from qonnx.core.modelwrapper import ModelWrapper

TAIL_FLOAT_OPS = {"Softmax", "LogSoftmax", "Sigmoid", "Tanh", "ArgMax", "TopK", "Exp"}
TAIL_LAYOUT_OPS = {"Squeeze", "Unsqueeze", "Reshape", "Flatten", "Identity"}
HEAD_OPS = {"Mul", "Div", "Add", "Sub"}


@dataclass
class HostPart:
    model: onnx.ModelProto
    where: str  # "head" | "tail"

    @property
    def ops(self) -> list[dict]:
        return [{"name": n.name, "op": n.op_type, "where": f"host ({self.where}, onnxruntime float32)"}
                for n in self.model.graph.node]

    def run(self, xs: np.ndarray) -> np.ndarray:
        """Run each sample (first axis) through the host part."""
        import onnxruntime as ort

        session = ort.InferenceSession(self.model.SerializeToString(), providers=["CPUExecutionProvider"])
        name = self.model.graph.input[0].name
        outs = [session.run(None, {name: x[None].astype(np.float32)})[0][0] for x in xs]
        return np.stack(outs).astype(np.float64)


def _extract(model: ModelWrapper, inputs: list[str], outputs: list[str]) -> onnx.ModelProto:
    part = Extractor(model.model).extract_model(inputs, outputs)
    io = set(inputs) | set(outputs)
    for vi in [v for v in part.graph.value_info if v.name in io]:
        part.graph.value_info.remove(vi)  # declared as graph input/output now; a duplicate breaks qonnx's renaming
    return part


def split_tail(model: ModelWrapper) -> tuple[ModelWrapper, HostPart | None]:
    out = model.graph.output[0].name
    tensor, chain = out, []
    while True:
        node = model.find_producer(tensor)
        if node is None or node.op_type not in TAIL_FLOAT_OPS | TAIL_LAYOUT_OPS:
            break
        if len(model.find_consumers(node.input[0]) or []) > 1:
            break  # the core's tensor feeds something else too
        chain.append(node)
        tensor = node.input[0]
    if not any(n.op_type in TAIL_FLOAT_OPS for n in chain):
        return model, None
    tail = HostPart(_extract(model, [tensor], [out]), "tail")
    core = ModelWrapper(_extract(model, [model.graph.input[0].name], [tensor]))
    return core, tail


def split_head(model: ModelWrapper) -> tuple[ModelWrapper, HostPart | None]:
    tensor, chain = model.graph.input[0].name, []
    while True:
        consumers = model.find_consumers(tensor) or []
        if len(consumers) != 1 or consumers[0].op_type not in HEAD_OPS:
            break
        node = consumers[0]
        if sum(model.get_initializer(i) is None for i in node.input) != 1:
            break  # not "data op constant"
        chain.append(node)
        tensor = node.output[0]
    if not chain:
        return model, None
    head = HostPart(_extract(model, [model.graph.input[0].name], [tensor]), "head")
    core = ModelWrapper(_extract(model, [tensor], [model.graph.output[0].name]))
    return core, head
