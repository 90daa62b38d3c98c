"""QONNX export of a compressed model, built node by node with onnx.helper.

What the file holds (the build pipeline reads exactly this):
  - the graph input feeds a `Quant` node (the input quantizer), so the input type is known;
  - every weight is a float initializer already on its quantization grid, feeding a `Quant` node
    (signed=1, narrow=1), then Conv / ConvTranspose / MatMul (Linear: MatMul + Add);
  - a bias is a float initializer feeding a `Quant` node (signed=1, narrow=0, bias_bits <= 8) whose
    scale is input_scale * weight_scale or a coarser power of two, so it is an integer number of
    accumulator LSBs: exact in hardware and in float32;
  - activations: Relu then an unsigned `Quant` node;
  - all Quant nodes: domain qonnx.custom_op.general, inputs (x, scale, zeropt=0, bitwidth) as 0-d
    initializers, power-of-two scales, rounding_mode ROUND;
  - Conv nodes carry explicit kernel_shape, strides, pads, dilations and group;
  - stereo modules (jpq2hw/compress/stereo.py): a Siamese conv is one Conv with a block-diagonal weight
    (the shared kernel twice); a CostVolume is Slice/Pad/Mul/ReduceSum/Concat; DisparityArgmax is
    ArgMax(axis=1, keepdims=1) + Cast to float.
Masks are not stored as tensors (a dangling `<weight>_mask` initializer breaks tools): a pruned
weight is a zero in the weight initializer. Per-layer sparsity (of the masks), zero fraction (masks
plus weights that quantize to zero) and bit widths are in metadata_props under "jpq2hw.compress"
as JSON, for humans and tools.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from jpq2hw.compress.graph import _adaptive_window, _arg, _pair, classify, propagate_shapes, trace, user_name
from jpq2hw.compress.qmodules import (QuantAct, QuantBatchNorm2d, QuantConv2d, QuantConvTranspose2d, QuantLinear,
                                     WEIGHT_LAYERS)
from jpq2hw.compress.quantizers import quantize
from jpq2hw.compress.stereo import CostVolume, DisparityArgmax, Siamese
from jpq2hw.errors import JpqError

QUANT_DOMAIN = "qonnx.custom_op.general"
OPSET = 13
METADATA_KEY = "jpq2hw.compress"


class _Builder:
    def __init__(self):
        self.nodes, self.inits, self.layers = [], [], []
        self.names: set[str] = set()

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, domain: str = "", **attrs) -> str:
        out = self.fresh(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(f"{op}_{base}"), domain=domain, **attrs))
        return out

    def quant(self, x: str, base: str, scale: float, bits: int, signed: bool, narrow: bool) -> str:
        inputs = [x, self.const(f"{base}_scale", np.array(scale, dtype=np.float32)),
                  self.const(f"{base}_zeropt", np.array(0.0, dtype=np.float32)),
                  self.const(f"{base}_bitwidth", np.array(float(bits), dtype=np.float32))]
        return self.node("Quant", inputs, f"{base}_quant", domain=QUANT_DOMAIN, signed=int(signed),
                         narrow=int(narrow), rounding_mode="ROUND")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


@torch.no_grad()
def _weight_layer(b: _Builder, layer, name: str, x: str, siamese: bool = False) -> str:
    if not layer.quant_enabled:
        raise JpqError(f"layer {name}: quantization is off; run compress (or enable quantization) before export")
    s_w = layer.current_weight_scale()
    w_q = quantize(layer.weight * layer.weight_mask, s_w, layer.weight_bits, True, layer.weight_narrow)
    bias = None
    info = {"name": name, "type": type(layer).__name__, "weight_bits": layer.weight_bits, "weight_scale": s_w,
            "sparsity": 1.0 - layer.weight_mask.mean().item(), "zero_fraction": (w_q == 0).float().mean().item(),
            "input_scale": layer.input_scale()}
    if layer.bias is not None:
        s_in = layer.input_scale()
        if s_in is None:
            raise JpqError(f"layer {name}: has a bias but its input does not come from a quantizer "
                           "(put a ReLU/QuantAct before it, or drop the bias)")
        s_b = layer.bias_quant_scale(s_in, s_w)
        bias = quantize(layer.bias, s_b, layer.bias_bits, True, False)
        info.update(bias_bits=layer.bias_bits, bias_scale=s_b)
    if siamese:
        if not isinstance(layer, QuantConv2d) or layer.groups != 1:
            raise JpqError(f"layer {name}: Siamese exports a Conv2d with groups=1 only")
        # the shared kernel on both views: block-diagonal weight, bias repeated (the same function)
        co, ci = w_q.shape[:2]
        block = torch.zeros((2 * co, 2 * ci, *w_q.shape[2:]), dtype=w_q.dtype)
        block[:co, :ci], block[co:, ci:] = w_q, w_q
        w_q = block
        bias = None if bias is None else torch.cat([bias, bias])
        info["siamese"] = True
    safe = name.replace(".", "_")
    if isinstance(layer, QuantLinear):
        w_name = b.const(f"{safe}_weight", _np(w_q).T.copy())  # MatMul wants (in, out)
    else:
        w_name = b.const(f"{safe}_weight", _np(w_q))
    info["onnx_weight"] = w_name
    b.layers.append(info)
    w_in = b.quant(w_name, f"{safe}_weight", s_w, layer.weight_bits, True, layer.weight_narrow)
    b_in = None
    if bias is not None:
        b_in = b.quant(b.const(f"{safe}_bias", _np(bias)), f"{safe}_bias", info["bias_scale"], layer.bias_bits,
                       True, False)
    if isinstance(layer, QuantLinear):
        out = b.node("MatMul", [x, w_in], f"{safe}_matmul")
        return b.node("Add", [out, b_in], f"{safe}_out") if b_in else out
    if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise JpqError(f"layer {name}: only numeric zero padding is exported (got padding={layer.padding!r}, "
                       f"padding_mode={layer.padding_mode!r})")
    ph, pw = _pair(layer.padding)
    attrs = dict(kernel_shape=_pair(layer.kernel_size), strides=_pair(layer.stride), dilations=_pair(layer.dilation),
                 group=layer.groups)
    inputs = [x, w_in] + ([b_in] if b_in else [])
    if isinstance(layer, QuantConvTranspose2d):
        return b.node("ConvTranspose", inputs, f"{safe}_out", pads=[ph, pw, ph, pw],
                      output_padding=_pair(layer.output_padding), **attrs)
    return b.node("Conv", inputs, f"{safe}_out", pads=[ph, pw, ph, pw], **attrs)


def _act(b: _Builder, q: QuantAct, name: str, x: str) -> str:
    if not q.quant_enabled:
        raise JpqError(f"activation {name}: quantization is off; run compress before export")
    safe = name.replace(".", "_")
    if q.relu:
        x = b.node("Relu", [x], f"{safe}_relu")
    if q.clip is not None:
        lo, hi = (b.const(f"{safe}_{k}", np.array(v, dtype=np.float32)) for k, v in zip(("min", "max"), q.clip))
        x = b.node("Clip", [x, lo, hi], f"{safe}_clip")
    if q.slope is not None:
        x = b.node("LeakyRelu", [x], f"{safe}_leaky", alpha=float(q.slope))
    b.layers.append({"name": name, "type": "QuantAct", "act_bits": q.bits, "signed": q.signed, "scale": q.scale})
    return b.quant(x, safe, q.scale, q.bits, q.signed, q.narrow)


def _batchnorm(b: _Builder, m: nn.Module, name: str, x: str) -> str:
    """A BatchNorm not folded into a layer: BatchNormalization with its running statistics (inference)."""
    if not isinstance(m, QuantBatchNorm2d) or not m.quant_enabled:
        raise JpqError(f"layer {name}: quantization is off; run compress before export")
    safe = name.replace(".", "_")
    k_q, c_q = m.affine_q()
    c = m.num_features
    params = [b.const(f"{safe}_{k}", v) for k, v in (("gamma", _np(k_q)), ("beta", _np(c_q)),
                                                      ("mean", np.zeros(c, np.float32)),
                                                      ("var", np.ones(c, np.float32)))]
    b.layers.append({"name": name, "type": "BatchNorm (dyadic affine)", "folded": False})
    return b.node("BatchNormalization", [x, *params], f"{safe}_bn", epsilon=0.0)


def _pool_args(node: fx.Node, modules: dict) -> dict:
    """kernel_size, stride, padding, ceil_mode (+ count_include_pad) of a pooling module or function call."""
    if node.op == "call_module":
        m = modules[node.target]
        return {"kernel": m.kernel_size, "stride": m.stride, "padding": m.padding, "ceil_mode": m.ceil_mode,
                "count_include_pad": getattr(m, "count_include_pad", True)}
    a, kw = node.args, node.kwargs
    return {"kernel": _arg(a, kw, 1, "kernel_size", None), "stride": _arg(a, kw, 2, "stride", None),
            "padding": _arg(a, kw, 3, "padding", 0), "ceil_mode": _arg(a, kw, 4 if node.target is F.avg_pool2d else 5,
                                                                        "ceil_mode", False),
            "count_include_pad": _arg(a, kw, 5, "count_include_pad", True)}


def _maxpool(b: _Builder, node: fx.Node, modules: dict, name: str, x: str) -> str:
    p = _pool_args(node, modules)
    ph, pw = _pair(p["padding"])
    stride = _pair(p["stride"] if p["stride"] else p["kernel"])
    return b.node("MaxPool", [x], f"{name.replace('.', '_')}_pool", kernel_shape=_pair(p["kernel"]),
                  strides=stride, pads=[ph, pw, ph, pw], ceil_mode=int(p["ceil_mode"]))


def _avgpool(b: _Builder, node: fx.Node, modules: dict, name: str, x: str) -> str:
    safe = name.replace(".", "_")
    in_shape = list(node.args[0].meta["tensor_meta"].shape)
    m = modules.get(node.target) if node.op == "call_module" else None
    if isinstance(m, nn.AdaptiveAvgPool2d) or node.target is F.adaptive_avg_pool2d:
        size = m.output_size if m is not None else _arg(node.args, node.kwargs, 1, "output_size", None)
        window = _adaptive_window(size, in_shape)
        if window == in_shape[2:]:
            return b.node("GlobalAveragePool", [x], f"{safe}_gap")
        return b.node("AveragePool", [x], f"{safe}_avg", kernel_shape=window, strides=window, pads=[0, 0, 0, 0])
    if isinstance(m, nn.AvgPool2d) or node.target is F.avg_pool2d:
        p = _pool_args(node, modules)
        ph, pw = _pair(p["padding"])
        return b.node("AveragePool", [x], f"{safe}_avg", kernel_shape=_pair(p["kernel"]),
                      strides=_pair(p["stride"] if p["stride"] else p["kernel"]), pads=[ph, pw, ph, pw],
                      count_include_pad=int(bool(p["count_include_pad"])), ceil_mode=int(bool(p["ceil_mode"])))
    # mean over (2, 3)
    out = b.node("GlobalAveragePool", [x], f"{safe}_gap")
    keepdim = _arg(node.args, node.kwargs, 2, "keepdim", False)
    return out if keepdim else b.node("Flatten", [out], f"{safe}_flat", axis=1)


def _cost_volume(b: _Builder, m: CostVolume, name: str, x: str, shape) -> str:
    """The correlation cost volume as standard ONNX ops (opset 13): what onnxruntime runs as reference."""
    safe = name.replace(".", "_")
    c2, width = int(shape[1]), int(shape[-1])
    if c2 % 2 or m.max_disp < 1 or m.max_disp > width:
        raise JpqError(f"layer {name}: cost volume needs an even channel count and 1 <= max_disp <= width")
    c = c2 // 2

    def i64(base, values):
        return b.const(f"{safe}_{base}", np.asarray(values, dtype=np.int64))

    left = b.node("Slice", [x, i64("l_start", [0]), i64("l_end", [c]), i64("c_axis", [1])], f"{safe}_left")
    right = b.node("Slice", [x, i64("r_start", [c]), i64("r_end", [c2]), i64("c_axis", [1])], f"{safe}_right")
    axes = i64("sum_axis", [1])
    costs = []
    for d in range(m.max_disp):
        shifted = right
        if d:
            cut = b.node("Slice", [right, i64(f"s{d}_start", [0]), i64(f"s{d}_end", [width - d]), i64("w_axis", [3])],
                         f"{safe}_cut{d}")
            shifted = b.node("Pad", [cut, i64(f"pad{d}", [0, 0, 0, d, 0, 0, 0, 0])], f"{safe}_shift{d}",
                             mode="constant")
        prod = b.node("Mul", [left, shifted], f"{safe}_mul{d}")
        costs.append(b.node("ReduceSum", [prod, axes], f"{safe}_sum{d}", keepdims=1))
    b.layers.append({"name": name, "type": "CostVolume", "max_disp": m.max_disp})
    return b.node("Concat", costs, f"{safe}_cost", axis=1)


def _argmax(b: _Builder, name: str, x: str) -> str:
    safe = name.replace(".", "_")
    idx = b.node("ArgMax", [x], f"{safe}_argmax", axis=1, keepdims=1, select_last_index=0)
    return b.node("Cast", [idx], f"{safe}_disparity", to=TensorProto.FLOAT)


def build_onnx(model: nn.Module, example_input: torch.Tensor) -> onnx.ModelProto:
    model.eval()
    gm = trace(model)
    modules = dict(gm.named_modules())
    in_shapes = {}  # input shape of each stereo cost volume (its Slice/Pad constants depend on it)
    hooks = [m.register_forward_hook(lambda mod, inp, out: in_shapes.__setitem__(mod, tuple(inp[0].shape)))
             for m in model.modules() if isinstance(m, CostVolume)]
    with torch.no_grad():
        model(example_input)
    for h in hooks:
        h.remove()
    b = _Builder()
    value: dict[fx.Node, str] = {}
    graph_input = graph_output = None
    propagate_shapes(gm, example_input)
    for node in gm.graph.nodes:
        src = value.get(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
        kind, hint = classify(node, modules)
        name = user_name(str(node.target)) if node.op == "call_module" else node.name
        if kind is None:
            raise JpqError(f"export: layer {name}: {hint}")
        if node.op == "placeholder":
            if graph_input is not None:
                raise JpqError("export: the model must take exactly one input tensor")
            graph_input = b.fresh("input")
            value[node] = graph_input
        elif node.op == "output":
            graph_output = src
        elif kind == "weight":
            value[node] = _weight_layer(b, modules[node.target], name, src)
        elif kind == "act":
            value[node] = _act(b, modules[node.target], name, src)
        elif kind == "stereo":
            m = modules[node.target]
            if isinstance(m, Siamese) and isinstance(m.conv, WEIGHT_LAYERS):
                value[node] = _weight_layer(b, m.conv, f"{name}.conv", src, siamese=True)
            elif isinstance(m, CostVolume):
                value[node] = _cost_volume(b, m, name, src, in_shapes[m])
            elif isinstance(m, DisparityArgmax):
                value[node] = _argmax(b, name, src)
            else:
                raise JpqError(f"export: layer {name}: a Siamese needs a Conv2d inside")
        elif kind == "maxpool":
            value[node] = _maxpool(b, node, modules, name, src)
        elif kind == "avgpool":
            value[node] = _avgpool(b, node, modules, name, src)
        elif kind == "batchnorm":
            value[node] = _batchnorm(b, modules[node.target], name, src)
        elif kind == "add":
            a, c = (value[t] for t in node.args if isinstance(t, fx.Node))
            value[node] = b.node("Add", [a, c], f"{name}_add")
        elif kind == "cat":
            value[node] = b.node("Concat", [value[t] for t in node.args[0]], f"{name}_cat", axis=1)
        elif kind == "flatten":
            value[node] = b.node("Flatten", [src], "flatten", axis=1)
        elif kind == "identity":
            value[node] = src
        elif kind == "shape":
            value[node] = None  # sizes only feed view/reshape, which export writes as Flatten
    if graph_output is None or not isinstance(graph_output, str):
        raise JpqError("export: the model must return exactly one tensor")

    with torch.no_grad():
        out_shape = list(model(example_input).shape)
    # name the output tensor of the last node "output"
    last = next(n for n in reversed(b.nodes) if graph_output in n.output)
    last.output[list(last.output).index(graph_output)] = "output"
    graph = helper.make_graph(
        b.nodes, "jpq2hw_compressed",
        [helper.make_tensor_value_info(graph_input, TensorProto.FLOAT, list(example_input.shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        initializer=b.inits)
    proto = helper.make_model(graph, producer_name="jpq2hw.compress",
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(QUANT_DOMAIN, 1)])
    proto.ir_version = 8
    meta = {"masks": "implied: a pruned weight is a zero in its weight initializer", "layers": b.layers}
    helper.set_model_props(proto, {METADATA_KEY: json.dumps(meta)})
    return proto


def to_qonnx(model: nn.Module, example_input: torch.Tensor, path: str | Path, cleanup: bool = True):
    """Write `model` as QONNX to `path` and return the qonnx ModelWrapper (cleaned up, so the input
    is renamed `global_in`; always read the name from model.graph.input[0].name)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    wrapper = ModelWrapper(build_onnx(model, example_input))
    if cleanup:
        meta = read_metadata(wrapper)
        weights = {name: wrapper.get_initializer(name) for name in
                   (l["onnx_weight"] for l in meta["layers"] if "onnx_weight" in l)}
        wrapper = cleanup_model(wrapper)
        _rename_weights_in_metadata(wrapper, meta, weights)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper.save(str(path))
    return wrapper


def _rename_weights_in_metadata(wrapper, meta: dict, weights: dict) -> None:
    """cleanup_model gives tensors new names; find each weight again by its (unique) values."""
    fresh = {i.name: numpy_helper.to_array(i) for i in wrapper.graph.initializer}
    for layer in meta["layers"]:
        if "onnx_weight" in layer:
            old = weights[layer["onnx_weight"]]
            layer["onnx_weight"] = next((n for n, a in fresh.items() if a.shape == old.shape and np.array_equal(a, old)),
                                        layer["onnx_weight"])
    for prop in wrapper.model.metadata_props:
        if prop.key == METADATA_KEY:
            prop.value = json.dumps(meta)


def read_metadata(model) -> dict:
    """The JSON written under metadata_props["jpq2hw.compress"] (a ModelProto or ModelWrapper)."""
    proto = getattr(model, "model", model)
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    return {}
