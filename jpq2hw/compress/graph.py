"""The dataflow of a model, via torch.fx: which layers compress and export support (one table), the
check that lists every unsupported layer before training, and the quantizers compress adds.

Every fx node is classified into one KIND (or refused with what to do). Export writes each kind as
the ONNX ops of the table; `jpq2hw build` maps those (its own registry: jpq2hw/ops/).
Quantizers compress inserts, so that every layer input is on a fixed-point grid (biases are quantized on
input_scale * weight_scale):
  - the inputs of an add or a concatenation that are not quantized yet get a signed quantizer, and all the
    inputs of one add/concatenation share one scale (the sum is then exact on that grid);
  - an average pool is followed by a quantizer (a mean by a size that is not a power of two is on no grid),
    and so is a BatchNorm that could not be folded into the layer before it (it stays a BatchNorm).
Functional activations (F.relu, torch.relu, F.relu6, F.hardtanh, F.leaky_relu) become quantized activation
modules like their nn.Module twins.
"""

from __future__ import annotations

import operator
import os
import sys

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from jpq2hw.compress.qmodules import WEIGHT_LAYERS, QuantAct, QuantBatchNorm2d, share_scale
from jpq2hw.compress.stereo import STEREO_MODULES, CostVolume, DisparityArgmax, Siamese
from jpq2hw.errors import JpqError

# kind -> (what PyTorch writes, what export writes): the table docs/compress.md shows
KINDS = {
    "weight": ("nn.Conv2d (any groups: depthwise too), nn.Linear, nn.ConvTranspose2d",
               "Conv / MatMul(+Add) / ConvTranspose with Quant weights and biases"),
    "act": ("nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, F.relu, torch.relu, F.relu6, F.hardtanh, F.leaky_relu",
            "Relu / Clip / LeakyRelu, then an activation Quant"),
    "batchnorm": ("nn.BatchNorm1d/2d right after a Conv2d/Linear: folded into its weights and bias; "
                  "nn.BatchNorm2d elsewhere: a quantized affine", "BatchNormalization (dyadic), then a Quant"),
    "maxpool": ("nn.MaxPool2d, F.max_pool2d", "MaxPool"),
    "avgpool": ("nn.AvgPool2d, nn.AdaptiveAvgPool2d (output 1 or a divisor), F.avg_pool2d, "
                "F.adaptive_avg_pool2d, x.mean((2, 3))", "AveragePool / GlobalAveragePool, then a Quant"),
    "add": ("x + y, torch.add, x.add(y) of two tensors", "Add (inputs quantized on one shared scale)"),
    "cat": ("torch.cat along channels", "Concat (inputs quantized on one shared scale)"),
    "flatten": ("nn.Flatten, torch.flatten(x, 1), x.flatten(1), x.view(n, -1), x.reshape(n, -1)", "Flatten"),
    "identity": ("nn.Dropout, F.dropout, nn.Identity, x.contiguous()", "nothing (identity at inference)"),
    "shape": ("x.size(0), x.shape (used by view/reshape)", "nothing"),
    "stereo": ("jpq2hw.compress.stereo: Siamese, CostVolume, DisparityArgmax", "see docs/stereo.md"),
}

FUNCTIONAL_ACTIVATIONS = {
    F.relu: lambda a, kw: QuantAct(signed=False, relu=True),
    torch.relu: lambda a, kw: QuantAct(signed=False, relu=True),
    F.relu6: lambda a, kw: QuantAct(signed=False, relu=False, clip=(0.0, 6.0)),
    F.hardtanh: lambda a, kw: QuantAct(signed=_arg(a, kw, 1, "min_val", -1.0) < 0, relu=False,
                                       clip=(float(_arg(a, kw, 1, "min_val", -1.0)),
                                             float(_arg(a, kw, 2, "max_val", 1.0)))),
    F.leaky_relu: lambda a, kw: QuantAct(signed=True, relu=False, slope=float(_arg(a, kw, 1, "negative_slope", 0.01))),
}
ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
AVG_FUNCTIONS = (F.avg_pool2d, F.adaptive_avg_pool2d, torch.mean)
GRID_KINDS = ("maxpool", "flatten", "identity")  # the value stays on its quantizer's grid


def _arg(args, kwargs, index, name, default):
    return args[index] if len(args) > index else kwargs.get(name, default)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # jpq2hw/


class _Tracer(fx.Tracer):
    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        # errors name the user's source line (fx's own record_stack_traces imports for many seconds)
        frame = sys._getframe(1)
        while frame is not None and f"{os.sep}torch{os.sep}" in frame.f_code.co_filename:
            frame = frame.f_back
        # the first frame past torch's is the user's forward, or jpq2hw's own call to trace (nn.Sequential has no
        # forward of the user's): a line of ours would send the user to the wrong file
        if frame is not None and not frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            node.meta["source_line"] = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        return node

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, (QuantAct, QuantBatchNorm2d, *WEIGHT_LAYERS, *STEREO_MODULES)) \
            or super().is_leaf_module(m, qualname)


def trace(model: nn.Module) -> fx.GraphModule:
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:
        raise JpqError(f"cannot trace the model with torch.fx (use nn.Modules, no data-dependent control flow): "
                       f"{str(exc).splitlines()[0]}") from None
    return fx.GraphModule(model, graph)


def user_name(name: str) -> str:
    """A module's name as the user wrote it (compress wraps the model as `net` after an input quantizer)."""
    return name[4:] if name.startswith("net.") else name


def source_line(node: fx.Node) -> str:
    """'file.py:12' of the user's code that made this node, where fx recorded it."""
    return node.meta.get("source_line", "")


def _shape(node) -> list[int] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return list(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _mean_dims_ok(node) -> bool:
    dims = _arg(node.args, node.kwargs, 1, "dim", None)
    shape = _shape(node.args[0])
    if dims is None or (shape is not None and len(shape) != 4):
        return False
    dims = [dims] if isinstance(dims, int) else list(dims)
    return sorted(d % 4 for d in dims) == [2, 3]


def _is_flatten_1(node) -> bool:
    """view/reshape whose result is (N, everything else): the same as flatten(x, 1)."""
    src, out = _shape(node.args[0]), _shape(node)
    if src is None and out is None:
        return True  # shapes unknown (no example input): export checks again
    return src is not None and out is not None and len(out) == 2 and out[0] == src[0] \
        and out[1] == int(torch.tensor(src[1:]).prod().item())


def classify(node: fx.Node, modules: dict) -> tuple[str | None, str]:
    """(kind, '') for a supported node, (None, what to do) otherwise. Shapes (ShapeProp) sharpen some checks."""
    if node.op in ("placeholder", "output", "get_attr"):
        return node.op, ""
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, WEIGHT_LAYERS):
            if isinstance(m, nn.Conv2d) and (m.padding_mode != "zeros" or isinstance(m.padding, str)):
                return None, "use numeric zero padding (padding=1, padding_mode='zeros')"
            return "weight", ""
        if isinstance(m, QuantAct):
            return "act", ""
        if isinstance(m, (Siamese, CostVolume, DisparityArgmax)):
            return "stereo", ""
        if isinstance(m, nn.MaxPool2d):
            if m.return_indices or any(d != 1 for d in _pair(m.dilation)):
                return None, "MaxPool2d without return_indices or dilation"
            return "maxpool", ""
        if isinstance(m, nn.AvgPool2d):
            if m.divisor_override is not None or m.ceil_mode:
                return None, "AvgPool2d without divisor_override or ceil_mode"
            return "avgpool", ""
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return ("avgpool", "") if _adaptive_window(m.output_size, _shape(node.args[0])) else \
                (None, "AdaptiveAvgPool2d(1), or an output size that divides the input size")
        if isinstance(m, nn.Flatten):
            return ("flatten", "") if (m.start_dim, m.end_dim) == (1, -1) else (None, "flatten(x, 1) only")
        if isinstance(m, (nn.Identity, nn.Dropout)):
            return "identity", ""
        if isinstance(m, QuantBatchNorm2d):  # one that could not be folded
            return "batchnorm", ""
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            return None, ("a BatchNorm1d is folded only right after a Linear; a BatchNorm needs running statistics "
                          "(track_running_stats=True)")
        return None, f"{type(m).__name__} is not supported; supported layers: see docs/compress.md"
    if node.op == "call_function":
        fn = node.target
        if fn in ADD_FUNCTIONS:
            tensors = [a for a in node.args if isinstance(a, fx.Node)]
            if len(tensors) != 2 or "alpha" in node.kwargs:
                return None, "add two tensors (x + y); adding a constant has no quantized form here"
            return "add", ""
        if fn is torch.cat:
            dim = _arg(node.args, node.kwargs, 1, "dim", 0)
            shape = _shape(node)
            if (dim % len(shape) if shape is not None else dim) != 1:
                return None, "concatenate along the channel axis (dim=1)"
            return "cat", ""
        if fn is torch.flatten:
            start = _arg(node.args, node.kwargs, 1, "start_dim", 0)
            end = _arg(node.args, node.kwargs, 2, "end_dim", -1)
            return ("flatten", "") if (start, end) == (1, -1) else (None, "torch.flatten(x, 1) only")
        if fn is F.max_pool2d:
            return "maxpool", ""
        if fn is F.avg_pool2d:
            return "avgpool", ""
        if fn is F.adaptive_avg_pool2d:
            return ("avgpool", "") if _adaptive_window(_arg(node.args, node.kwargs, 1, "output_size", None),
                                                        _shape(node.args[0])) else \
                (None, "adaptive_avg_pool2d to 1 or to a divisor of the input size")
        if fn is torch.mean:
            return ("avgpool", "") if _mean_dims_ok(node) else (None, "mean over the spatial axes (2, 3) only")
        if fn is F.dropout:
            return "identity", ""
        if fn is getattr and node.args[1] == "shape":
            return "shape", ""
        if fn is operator.getitem and isinstance(node.args[0], fx.Node) and classify(node.args[0], modules)[0] == "shape":
            return "shape", ""
        if fn in FUNCTIONAL_ACTIVATIONS:
            return "act", ""
        name = getattr(fn, "__name__", str(fn))
        return None, f"the function {name} is not supported; supported operations: see docs/compress.md"
    if node.op == "call_method":
        method = node.target
        if method == "size":
            return "shape", ""
        if method == "contiguous":
            return "identity", ""
        if method == "flatten":
            start = _arg(node.args, node.kwargs, 1, "start_dim", 0)
            end = _arg(node.args, node.kwargs, 2, "end_dim", -1)
            return ("flatten", "") if (start, end) == (1, -1) else (None, "x.flatten(1) only")
        if method in ("view", "reshape"):
            return ("flatten", "") if _is_flatten_1(node) else (None, f"{method} to (batch, -1) only")
        if method == "mean":
            return ("avgpool", "") if _mean_dims_ok(node) else (None, "x.mean((2, 3)) over the spatial axes only")
        if method == "add":
            return ("add", "") if len([a for a in node.args if isinstance(a, fx.Node)]) == 2 else \
                (None, "add two tensors")
        if method in ("relu", "relu_"):
            return "act", ""
        return None, f"the method .{method}() is not supported; supported operations: see docs/compress.md"
    return None, f"{node.op} is not supported"


def _pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def _adaptive_window(output_size, in_shape) -> list[int] | None:
    """The (kernel = stride) window of an adaptive average pool, when it has one."""
    if output_size is None:
        return None
    if in_shape is None:  # shapes unknown (no example input): only the global pool is sure
        return [0, 0] if _pair(output_size) == [1, 1] else None
    if len(in_shape) != 4:
        return None
    out = [in_shape[2 + i] if o is None else int(o) for i, o in enumerate(_pair(output_size))]
    if any(o < 1 or s % o for o, s in zip(out, in_shape[2:])):
        return None
    return [s // o for o, s in zip(out, in_shape[2:])]


def describe(node: fx.Node) -> str:
    if node.op == "call_module":
        return user_name(str(node.target))
    return node.name


def propagate_shapes(gm: fx.GraphModule, example: torch.Tensor) -> None:
    from torch.fx.passes.shape_prop import ShapeProp

    was_training = gm.training
    gm.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(example[:1])
    except Exception as exc:
        raise JpqError(f"the model fails on the example input of shape {list(example.shape)}: "
                       f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    finally:
        gm.train(was_training)


def unsupported(gm: fx.GraphModule) -> list[str]:
    """One line per layer export or build cannot take: the user's name, source line, what to do."""
    modules = dict(gm.named_modules())
    problems = []
    for node in gm.graph.nodes:
        kind, hint = classify(node, modules)
        if kind is None:
            where = source_line(node)
            kind_name = f" ({type(modules[node.target]).__name__})" if node.op == "call_module" else ""
            problems.append(f"{describe(node)}{kind_name}{' at ' + where if where else ''}: {hint}")
    return problems


# --- preparing the graph: quantizers where compress needs them ------------------------------------------------

def _grid_source(node, modules, made: dict) -> QuantAct | None:
    """The quantizer whose grid `node`'s value is on, looking back through grid-preserving nodes."""
    while isinstance(node, fx.Node):
        kind, _ = classify(node, modules)
        if kind == "act":
            return modules[node.target] if node.op == "call_module" else None
        if kind in ("add", "cat") and node in made:
            return made[node]
        if kind not in GRID_KINDS:
            return None
        node = node.args[0]
    return None


def _insert_after(gm: fx.GraphModule, node: fx.Node, name: str, module: nn.Module) -> fx.Node:
    gm.add_submodule(name, module)
    with gm.graph.inserting_after(node):
        new = gm.graph.call_module(name, (node,))
    node.replace_all_uses_with(new, delete_user_cb=lambda user: user is not new)
    return new


def _insert_before(gm: fx.GraphModule, user: fx.Node, arg: fx.Node, name: str, module: nn.Module) -> fx.Node:
    gm.add_submodule(name, module)
    with gm.graph.inserting_before(user):
        new = gm.graph.call_module(name, (arg,))
    user.replace_input_with(arg, new)
    return new


def add_quantizers(gm: fx.GraphModule, act_bits: int) -> fx.GraphModule:
    """Functional activations -> QuantAct modules; quantizers at add/concatenation inputs (one shared scale)
    and after average pools (see the module doc). Names of added modules start with `q_` + the fx node."""
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target in FUNCTIONAL_ACTIVATIONS \
                or node.op == "call_method" and node.target in ("relu", "relu_"):
            make = FUNCTIONAL_ACTIVATIONS.get(node.target, FUNCTIONAL_ACTIVATIONS[F.relu])
            q = make(node.args, node.kwargs)
            q.bits = act_bits
            name = f"q_{node.name}"
            gm.add_submodule(name, q)
            with gm.graph.inserting_before(node):
                new = gm.graph.call_module(name, (node.args[0],))
            node.replace_all_uses_with(new)
            gm.graph.erase_node(node)
    gm.recompile()
    modules = dict(gm.named_modules())
    made: dict[fx.Node, QuantAct] = {}  # add/cat node -> a quantizer of its (shared) grid
    for node in list(gm.graph.nodes):
        kind, _ = classify(node, modules)
        if kind in ("add", "cat"):
            inputs = [a for a in node.args if isinstance(a, fx.Node)] if kind == "add" else list(node.args[0])
            group = []
            for i, arg in enumerate(inputs):
                q = _grid_source(arg, modules, made)
                if q is None:
                    q = QuantAct(act_bits, signed=True, relu=False)
                    _insert_before(gm, node, arg, f"q_{node.name}_in{i}", q)
                group.append(q)
            share_scale(group)
            made[node] = group[0]
        elif kind in ("avgpool", "batchnorm"):
            users = list(node.users)
            if len(users) == 1 and users[0].op == "call_module" and isinstance(modules[users[0].target], QuantAct):
                continue  # quantized already (a model prepared before)
            src = _grid_source(node.args[0], modules, made)
            signed = True if src is None or kind == "batchnorm" else src.signed  # a BatchNorm shifts below 0
            q = QuantAct(act_bits, signed=signed, relu=False)
            _insert_after(gm, node, f"q_{node.name}", q)
        modules = dict(gm.named_modules())
    gm.graph.lint()
    gm.recompile()
    return gm


def bind_input_quantizers(model: nn.Module) -> None:
    """Record in every weight layer the QuantAct whose grid its input is on (or None)."""
    gm = trace(model)
    modules = dict(gm.named_modules())
    made: dict[fx.Node, QuantAct] = {}
    for node in gm.graph.nodes:
        kind, _ = classify(node, modules)
        if kind in ("add", "cat"):
            inputs = [a for a in node.args if isinstance(a, fx.Node)] if kind == "add" else list(node.args[0])
            sources = [_grid_source(a, modules, made) for a in inputs]
            if all(s is not None for s in sources) and len({s.scale for s in sources}) == 1:
                made[node] = sources[0]
        feeding = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        if node.op == "call_module" and isinstance(modules[node.target], WEIGHT_LAYERS):
            # gm shares its submodules with `model`
            modules[node.target]._input_quant[0] = _grid_source(feeding, modules, made)
        if node.op == "call_module" and isinstance(modules[node.target], Siamese) \
                and isinstance(modules[node.target].conv, WEIGHT_LAYERS):
            modules[node.target].conv._input_quant[0] = _grid_source(feeding, modules, made)
