"""Hostile model files, and a worker that feeds them to the front half of the build in a separate process.

`hostile_files(folder)` writes the hand-made hostile models (huge dimensions, cycles, missing initializers,
wrong Quant arity, bit width 0/64, ...) and `mutated_files(folder, n, seed)` random byte mutations of valid
models. `python -m testkit.hostile OUT_DIR FILE...` runs each file through load -> validate ->
normalize -> annotate (the build's own steps, stopped before hls4ml: see front_half.py), each case time-boxed
with SIGALRM, and prints one JSON line per file:
  {"file", "outcome": "error" | "accepted" | "bug" | "timeout", "message", "seconds", "left_behind"}
Running in a child process means a crash of the interpreter (a segfault in a C extension) shows up as the
worker's exit status instead of killing the test session; the parent also time-boxes the whole worker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from testkit.qonnx_builder import QUANT_DOMAIN, QonnxBuilder

CASE_SECONDS = 20


# --- valid seeds for mutation ------------------------------------------------------------------------


def seed_models() -> dict[str, onnx.ModelProto]:
    """Small valid models (an MLP and a conv net) the mutations start from."""
    b = QonnxBuilder([1, 6], in_bits=4, seed=1, name="mlp")
    x = b.dense(b.x, 4, wbits=4, sparsity=0.3, bias=True)
    x = b.quant(x, 6, True, -3)
    x = b.relu(x)
    mlp = b.build(b.quant(b.dense(x, 3, wbits=3), 8, True, -2)).model
    b = QonnxBuilder([1, 2, 4, 4], in_bits=5, in_signed=False, seed=2, name="conv")
    x = b.conv(b.x, 3, k=3, stride=1, pad=1, wbits=4)
    x = b.maxpool(b.relu(b.quant(x, 6, True, -3)), 2, 2)
    x = b.flatten(x)
    conv = b.build(b.quant(b.dense(x, 2, wbits=5), 8, True, -2)).model
    return {"mlp": mlp, "conv": conv}


def mutated_files(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """n files, each a valid seed model with 1..16 random bytes overwritten, inserted or deleted, or cut."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    seeds = {k: v.SerializeToString() for k, v in seed_models().items()}
    names = sorted(seeds)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        data = bytearray(seeds[name])
        how = ("flip", "flip", "overwrite", "insert", "delete", "truncate")[int(rng.integers(6))]
        count = int(rng.integers(1, 17))
        if how == "truncate":
            data = data[: int(rng.integers(1, len(data)))]
        for _ in range(count if how != "truncate" else 0):
            pos = int(rng.integers(len(data)))
            if how == "flip":
                data[pos] ^= 1 << int(rng.integers(8))
            elif how == "overwrite":
                data[pos] = int(rng.integers(256))
            elif how == "insert":
                data.insert(pos, int(rng.integers(256)))
            elif how == "delete" and len(data) > 1:
                del data[pos]
        path = folder / f"mut{i:04d}_{name}_{how}.onnx"
        path.write_bytes(bytes(data))
        out.append(path)
    return out


_ODD_INTS = (0, 1, -1, 2, 3, 7, 64, 1 << 20, 1 << 31, -(1 << 40))
_ODD_FLOATS = (0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 64.0, 1e-45, 1e30, float("inf"), float("-inf"), float("nan"))
_OPS = ("Quant", "Conv", "MatMul", "Gemm", "Relu", "MaxPool", "Add", "BatchNormalization", "Flatten", "Reshape",
        "Transpose", "Identity", "Concat", "Mul", "Sub")


def structural_mutation(model: onnx.ModelProto, rng: np.random.Generator, n_edits: int = 1) -> tuple[onnx.ModelProto, str]:
    """A copy of `model` with n_edits random edits that keep it valid protobuf (so they reach validation
    rather than the decoder): attribute values, initializer values and shapes, declared dims, node inputs,
    outputs and op types, deleted/duplicated nodes and attributes."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    g = m.graph
    log = []
    for _ in range(n_edits):
        what = int(rng.integers(10))
        node = g.node[int(rng.integers(len(g.node)))] if len(g.node) else None
        tensors = [t for n in g.node for t in list(n.input) + list(n.output)] + [g.input[0].name] if g.input else []
        if what == 0 and node is not None and node.attribute:
            a = node.attribute[int(rng.integers(len(node.attribute)))]
            if a.type == onnx.AttributeProto.INT:
                a.i = int(rng.choice(_ODD_INTS))
            elif a.type == onnx.AttributeProto.INTS and len(a.ints):
                a.ints[int(rng.integers(len(a.ints)))] = int(rng.choice(_ODD_INTS))
            elif a.type == onnx.AttributeProto.STRING:
                a.s = rng.choice([b"", b"FLOOR", b"CEIL", b"ROUND_TO_ZERO", b"\xff\xfe", b"SAME_UPPER"])
            log.append(f"attr {node.name}.{a.name}")
        elif what == 1 and g.initializer:
            t = g.initializer[int(rng.integers(len(g.initializer)))]
            v = numpy_helper.to_array(t).astype(np.float32).copy()
            if v.size:
                v.ravel()[int(rng.integers(v.size))] = float(rng.choice(_ODD_FLOATS))
            t.CopyFrom(numpy_helper.from_array(v, t.name))
            log.append(f"value {t.name}")
        elif what == 2 and g.initializer:
            t = g.initializer[int(rng.integers(len(g.initializer)))]
            v = numpy_helper.to_array(t).astype(np.float32)
            shape = [int(d) for d in rng.integers(0, 4, size=int(rng.integers(0, 4)))]
            new = np.resize(v, shape) if int(np.prod(shape)) else np.zeros(shape, np.float32)
            t.CopyFrom(numpy_helper.from_array(new.astype(np.float32), t.name))
            log.append(f"reshape {t.name} {shape}")
        elif what == 3:
            vis = list(g.input) + list(g.output) + list(g.value_info)
            vi = vis[int(rng.integers(len(vis)))]
            dims = vi.type.tensor_type.shape.dim
            if len(dims):
                dims[int(rng.integers(len(dims)))].dim_value = int(rng.choice(_ODD_INTS[:8]))
            log.append(f"dim {vi.name}")
        elif what == 4 and node is not None and node.input and tensors:
            node.input[int(rng.integers(len(node.input)))] = str(rng.choice(tensors + ["", "nowhere"]))
            log.append(f"rewire {node.name}")
        elif what == 5 and node is not None and tensors:
            node.output[0] = str(rng.choice(tensors))
            log.append(f"reoutput {node.name}")
        elif what == 6 and node is not None:
            node.op_type = str(rng.choice(_OPS))
            log.append(f"retype {node.name} -> {node.op_type}")
        elif what == 7 and node is not None:
            g.node.remove(node)
            log.append(f"delete {node.name}")
        elif what == 8 and node is not None:
            g.node.insert(int(rng.integers(len(g.node) + 1)), onnx.NodeProto.FromString(node.SerializeToString()))
            log.append(f"duplicate {node.name}")
        elif what == 9 and node is not None and node.attribute:
            del node.attribute[int(rng.integers(len(node.attribute)))]
            log.append(f"drop attr of {node.name}")
    return m, "; ".join(log)


def structural_files(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """n files, each a valid seed model with 1..3 structural edits (see structural_mutation)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 1])
    seeds = seed_models()
    names = sorted(seeds)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        m, _ = structural_mutation(seeds[name], rng, int(rng.integers(1, 4)))
        path = folder / f"edit{i:04d}_{name}.onnx"
        path.write_bytes(m.SerializeToString())
        out.append(path)
    return out


# --- hand-made hostile models ------------------------------------------------------------------------


def _mlp_parts():
    """(nodes, initializers) of x -> Quant -> MatMul(Quant(W)) -> Quant -> y, all names fixed."""
    def q(x, y, prefix, bits=4.0, scale=0.25):
        inits = [numpy_helper.from_array(np.array(v, np.float32), f"{prefix}_{k}")
                 for k, v in (("scale", scale), ("zero", 0.0), ("bits", bits))]
        node = helper.make_node("Quant", [x, f"{prefix}_scale", f"{prefix}_zero", f"{prefix}_bits"], [y],
                                domain=QUANT_DOMAIN, name=f"Quant_{prefix}", signed=1, narrow=0,
                                rounding_mode="ROUND")
        return node, inits

    w = numpy_helper.from_array(np.arange(-12, 12, dtype=np.float32).reshape(6, 4) / 8, "w")
    n1, i1 = q("x", "xq", "qx")
    n2, i2 = q("w", "wq", "qw")
    mm = helper.make_node("MatMul", ["xq", "wq"], ["acc"], name="MatMul_0")
    n3, i3 = q("acc", "y", "qy", bits=8.0, scale=0.125)
    return [n1, n2, mm, n3], [w] + i1 + i2 + i3


def _model(nodes, inits, in_shape=(1, 6), out_shape=(1, 4), inputs=None, outputs=None):
    inputs = inputs if inputs is not None else [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))]
    outputs = outputs if outputs is not None else [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))]
    graph = helper.make_graph(nodes, "hostile", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QUANT_DOMAIN, 1)])
    m.ir_version = 8
    return m


def _with_bits(which: str, value: float):
    nodes, inits = _mlp_parts()
    for i, t in enumerate(inits):
        if t.name == f"{which}_bits":
            inits[i] = numpy_helper.from_array(np.array(value, np.float32), t.name)
    return _model(nodes, inits)


def _with_scale(which: str, value):
    nodes, inits = _mlp_parts()
    for i, t in enumerate(inits):
        if t.name == f"{which}_scale":
            inits[i] = numpy_helper.from_array(np.array(value, np.float32), t.name)
    return _model(nodes, inits)


def _hostile_models() -> dict[str, object]:
    """name -> ModelProto, or bytes for files that are not protobuf at all."""
    cases: dict[str, object] = {}
    nodes, inits = _mlp_parts()
    cases["valid_control"] = _model(nodes, inits)  # must be accepted: the harness itself works

    # not a model at all / damaged containers
    cases["garbage_bytes"] = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    cases["text_file"] = b"this is not an onnx model\n" * 10
    cases["truncated_half"] = _model(nodes, inits).SerializeToString()[:300]
    cases["zero_bytes_many"] = b"\x00" * 1000
    cases["empty_graph"] = _model([], [])

    # huge declared dimensions
    cases["huge_input_dims"] = _model(*_mlp_parts(), in_shape=(1, 1 << 40))
    cases["huge_input_4d"] = _model(*_mlp_parts(), in_shape=(1, 100000, 100000, 100000))
    nodes, inits = _mlp_parts()
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 31, 1 << 31])  # declared, no data
    cases["huge_initializer_no_data"] = _model(nodes, [big] + inits[1:])
    nodes, inits = _mlp_parts()
    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[6, 4], raw_data=b"\x00" * 12)
    cases["initializer_short_data"] = _model(nodes, [short] + inits[1:])
    cases["negative_input_dim"] = _model(*_mlp_parts(), in_shape=(1, -6))
    cases["zero_input_dim"] = _model(*_mlp_parts(), in_shape=(1, 0))
    cases["input_shape_mismatch"] = _model(*_mlp_parts(), in_shape=(1, 5))
    cases["output_shape_lies"] = _model(*_mlp_parts(), out_shape=(1, 1 << 40))

    # graph structure
    nodes, inits = _mlp_parts()
    nodes[0].input[0] = "y"  # x -> ... -> y feeds the first Quant: a cycle
    cases["cycle"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes.append(helper.make_node("Relu", ["r2"], ["r1"], name="Relu_a"))
    nodes.append(helper.make_node("Relu", ["r1"], ["r2"], name="Relu_b"))
    cases["detached_cycle"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes[2].input[0] = "acc"  # MatMul reads its own output
    cases["self_loop"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    cases["missing_weight_initializer"] = _model(nodes, [t for t in inits if t.name != "w"])
    nodes, inits = _mlp_parts()
    cases["missing_scale_initializer"] = _model(nodes, [t for t in inits if t.name != "qy_scale"])
    nodes, inits = _mlp_parts()
    cases["missing_bits_initializer"] = _model(nodes, [t for t in inits if t.name != "qx_bits"])
    nodes, inits = _mlp_parts()
    nodes[3].output[0] = "z"
    cases["output_never_produced"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes.append(helper.make_node("Relu", ["acc"], [], name="Relu_no_output"))
    cases["node_without_outputs"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes.append(helper.make_node("Relu", ["xq"], ["acc"], name="Relu_dup"))
    cases["tensor_produced_twice"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    cases["two_inputs"] = _model(nodes, inits, inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6]),
                                                        helper.make_tensor_value_info("x2", TensorProto.FLOAT, [1, 6])])
    nodes, inits = _mlp_parts()
    cases["no_outputs"] = _model(nodes, inits, outputs=[])
    nodes, inits = _mlp_parts()
    cases["no_input_shape"] = _model(nodes, inits, inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, None)])
    nodes, inits = _mlp_parts()
    cases["int_input"] = _model(nodes, inits, inputs=[helper.make_tensor_value_info("x", TensorProto.INT64, [1, 6])])

    # Quant arity and parameters
    nodes, inits = _mlp_parts()
    del nodes[3].input[3]
    cases["quant_3_inputs"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes[3].input.append("qy_bits")
    cases["quant_5_inputs"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    del nodes[1].input[1:]
    cases["weight_quant_1_input"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes[0].output.append("extra")
    cases["quant_2_outputs"] = _model(nodes, inits)
    for which in ("qx", "qw", "qy"):
        for bits in (0.0, 33.0, 64.0, -4.0, 2.5, float("nan"), float("inf"), 1e30):  # 1 bit is valid: bipolar
            cases[f"bits_{which}_{bits:g}"] = _with_bits(which, bits)
    for which in ("qx", "qw", "qy"):
        for scale in (0.0, -0.25, float("inf"), float("nan"), 1e-45, 3e38):
            cases[f"scale_{which}_{scale:g}"] = _with_scale(which, scale)
    nodes, inits = _mlp_parts()
    inits = [numpy_helper.from_array(np.array([4.0, 4.0], np.float32), t.name) if t.name == "qx_bits" else t
             for t in inits]
    cases["bits_vector"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    inits = [numpy_helper.from_array(np.array([], np.float32), t.name) if t.name == "qy_scale" else t
             for t in inits]
    cases["scale_empty"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    inits = [numpy_helper.from_array(np.array(1.0, np.float32), t.name) if t.name == "qy_zero" else t for t in inits]
    cases["zero_point_nonzero"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    for a in nodes[3].attribute:
        if a.name == "rounding_mode":
            a.s = b"STOCHASTIC"
    cases["rounding_mode_unknown"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    for a in nodes[3].attribute:
        if a.name == "signed":
            a.i = 7
    cases["signed_attr_7"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes[3].attribute.append(helper.make_attribute("narrow", "yes"))
    del nodes[3].attribute[1]  # the int 'narrow' (order: signed, narrow, rounding_mode)
    cases["narrow_attr_string"] = _model(nodes, inits)
    nodes, inits = _mlp_parts()
    nodes[1].domain = "evil.domain"
    cases["quant_unknown_domain"] = _model(nodes, inits)

    # layer attributes
    def conv_model(**attrs):
        b = QonnxBuilder([1, 2, 4, 4], in_bits=4, seed=3, name="convh")
        x = b.conv(b.x, 2, k=3, stride=1, pad=1, wbits=4)
        x = b.quant(x, 8, True, -3)
        m = b.build(x).model
        conv = next(n for n in m.graph.node if n.op_type == "Conv")
        for k, v in attrs.items():
            for a in list(conv.attribute):
                if a.name == k:
                    conv.attribute.remove(a)
            if v is not None:
                conv.attribute.append(helper.make_attribute(k, v))
        del m.graph.value_info[:]
        return m

    cases["conv_control"] = conv_model()
    cases["conv_stride_0"] = conv_model(strides=[0, 0])
    cases["conv_negative_pads"] = conv_model(pads=[-1, -1, -1, -1])
    cases["conv_huge_pads"] = conv_model(pads=[1 << 20] * 4)
    cases["conv_kernel_mismatch"] = conv_model(kernel_shape=[5, 5])
    cases["conv_group_2"] = conv_model(group=2)
    cases["conv_dilation_2"] = conv_model(dilations=[2, 2])
    cases["conv_pads_wrong_length"] = conv_model(pads=[1, 1])
    cases["conv_auto_pad_garbage"] = conv_model(auto_pad="EVIL")

    # external data that is missing or points outside the model's folder
    nodes, inits = _mlp_parts()
    w = inits[0]
    ext = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[6, 4], data_location=TensorProto.EXTERNAL)
    ext.external_data.add(key="location", value="does_not_exist.data")
    cases["external_data_missing"] = _model(nodes, [ext] + inits[1:])
    ext2 = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[6, 4], data_location=TensorProto.EXTERNAL)
    ext2.external_data.add(key="location", value="../../../../../../etc/hostname")
    cases["external_data_traversal"] = _model(nodes, [ext2] + inits[1:])
    ext3 = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[6, 4], data_location=TensorProto.EXTERNAL)
    ext3.external_data.add(key="location", value="/etc/hostname")
    cases["external_data_absolute"] = _model(nodes, [ext3] + inits[1:])
    for kind in SIDE_FILES:  # external data that is a FIFO, a device, a folder (made by hostile_files)
        ext4 = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[6, 4], data_location=TensorProto.EXTERNAL)
        ext4.external_data.add(key="location", value=f"side_{kind}.data")
        cases[f"external_data_{kind}"] = _model(nodes, [ext4] + inits[1:])
    ext5 = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[6, 4], data_location=TensorProto.EXTERNAL)
    ext5.external_data.add(key="location", value="w\0.data")
    cases["external_data_nul_byte"] = _model(nodes, [ext5] + inits[1:])
    del w

    # names that try to forge output: a line break and terminal escapes in a node named by an error
    nodes, inits = _mlp_parts()
    nodes.append(helper.make_node("Softplus", ["y"], ["z"], name=FORGED_NAME))  # refused, naming the node
    cases["forged_name_in_error"] = _model(nodes, inits, outputs=[
        helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])])

    # resource bombs: refused from their shapes before any heavy work (jpq2hw/limits.py)
    b = QonnxBuilder([1, 50_000_000], seed=0)
    cases["bomb_input_50M"] = b.build(b.quant(b.relu(b.x), 4, False, -2)).model
    nodes, inits = _mlp_parts()
    chain = [helper.make_node("Relu", [f"c{i}" if i else "y0"], [f"c{i + 1}" if i < 2499 else "y"], name=f"Relu_{i}")
             for i in range(2500)]
    nodes[3].output[0] = "y0"
    cases["bomb_chain_2500"] = _model(nodes + chain, inits)
    b = QonnxBuilder([1, 2048], seed=0)  # 2048 x 2048 x 16 bits: more than any listed board holds
    cases["bomb_dense_2048x2048"] = b.build(b.quant(b.dense(b.x, 2048, wbits=16, w_scale_exp=-12), 8, True, -2)).model
    return cases


FORGED_NAME = "evil\n\x1b[32mjpq2hw build: bit-exact\x1b[0m"
SIDE_FILES = ("fifo", "device", "folder")  # external-data targets that are not regular files


def _make_side_file(path: Path, kind: str) -> None:
    if path.exists() or path.is_symlink():
        return
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "device":
        path.symlink_to("/dev/zero")  # reading it never ends
    else:
        path.mkdir()


ACCEPTABLE = {"valid_control", "conv_control"}  # the only hand-made cases that must pass the front half


def hostile_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for kind in SIDE_FILES:
        _make_side_file(folder / f"side_{kind}.data", kind)
    for name, m in _hostile_models().items():
        path = folder / f"{name}.onnx"
        path.write_bytes(m if isinstance(m, bytes) else m.SerializeToString())
        out.append(path)
    return out


# --- whole-command probes: configs, output folders, paths ---------------------------------------------
#
# Each probe is a folder it sets up, a `jpq2hw` command line run in a child process, the exit code it must end
# with, and files that must survive it unchanged. run_cli_probe checks the rest: a refusal is one line starting
# "jpq2hw CMD: error:", never "internal error" or a traceback, no raw control characters, within the time box.

_ENTRY = """
import sys
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
def make():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 4, 4); y = (x.mean((1, 2, 3)) > 0.5).long()
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32, 2))
    return model, DataLoader(TensorDataset(x, y), batch_size=16), lambda m: 0.5
def boom():
    raise ValueError("no data here")
def leave():
    sys.exit(0)
def layernorm():
    model, loader, val = make()
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.LayerNorm(8), nn.Linear(8, 2)), loader, val
"""
PRECIOUS = "keep me\n"


@dataclass
class CliProbe:
    name: str
    argv: list            # after `jpq2hw`; "{dir}" is replaced by the probe's folder
    code: int = 2         # the exit code it must end with
    keep: tuple = ()      # files (relative to the folder) that must be unchanged afterwards
    absent: tuple = ()    # paths that must not exist afterwards
    setup: object = None  # setup(folder) makes the inputs
    not_said: tuple = ()  # text the output must not contain


# 9 levels of 9 aliases in an option whose wrong type gets quoted: a billion list items once printed (pyyaml
# shares them while loading)
YAML_ALIAS_BOMB = "compress:\n  weight_bits: [&a0 [x, x, x, x, x, x, x, x, x], " + ", ".join(
    f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)) + "]\n"


def _compress_setup(config: str, victim: str = "victim"):
    def setup(folder: Path) -> None:
        work = folder / "work"
        work.mkdir(parents=True, exist_ok=True)
        (work / "entry.py").write_text(_ENTRY)
        (work / "c.yaml").write_text(config)
        target = folder / victim
        target.mkdir(parents=True, exist_ok=True)
        (target / "precious.txt").write_text(PRECIOUS)
    return setup


def _input_data(folder: Path, kind: str) -> None:
    path = folder / "x.npy"
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "huge":  # 2^28 float64 values declared (2 GiB), a sparse file: nothing needs reading to refuse it
        np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(1 << 26, 4)).flush()
    else:
        np.save(path, {"strings": np.array([["a", "b", "c", "d"]]), "complex": np.ones((2, 4)) * 1j}[kind])


def _model_setup(name: str = "m.onnx", out_parent_is_file: bool = False, user_report: str | None = None,
                 input_data: str | None = None):
    def setup(folder: Path) -> None:
        from testkit.qonnx_builder import QonnxBuilder

        b = QonnxBuilder([1, 4], seed=0)
        b.save(b.dense(b.x, 3), folder / name)
        if input_data:
            _input_data(folder, input_data)
        if out_parent_is_file:
            (folder / "afile").write_text(PRECIOUS)
        if user_report:
            (folder / user_report).mkdir()
            (folder / user_report / "report.md").write_text(PRECIOUS)
    return setup


def _synth_setup(name: str):
    def setup(folder: Path) -> None:
        out = folder / name
        (out / "board").mkdir(parents=True)
        (out / "report.json").write_text(json.dumps({"model": "m.onnx"}))
        (out / "board" / "stream.json").write_text(json.dumps({"wrapper_name": "w", "hls_tool": "vitis_hls"}))
    return setup


def cli_probes() -> list[CliProbe]:
    bad_option = "compress: {weight_bits: 12}\n"
    return [
        CliProbe("compress_fresh_parent_folder", ["compress", "{dir}/work/c.yaml", "--fresh", "-q"],
                 keep=("victim/precious.txt",),
                 setup=_compress_setup("entry: entry.py:make\ncheckpoint_dir: ../victim\n" + bad_option)),
        CliProbe("compress_fresh_dot", ["compress", "{dir}/work/c.yaml", "--fresh", "-q"], keep=("work/precious.txt",),
                 setup=_compress_setup("entry: entry.py:make\ncheckpoint_dir: .\n" + bad_option, victim="work")),
        CliProbe("compress_string_number", ["compress", "{dir}/work/c.yaml", "-q"],
                 setup=_compress_setup("entry: entry.py:make\ncompress: {target_sparsity: '0.9'}\n")),
        CliProbe("compress_entry_raises", ["compress", "{dir}/work/c.yaml", "-q"],
                 setup=_compress_setup("entry: entry.py:boom\n")),
        CliProbe("compress_entry_exits_0", ["compress", "{dir}/work/c.yaml", "-q"], absent=("work/m.onnx",),
                 setup=_compress_setup("entry: entry.py:leave\noutput: m.onnx\n")),
        CliProbe("compress_layernorm_in_sequential", ["compress", "{dir}/work/c.yaml", "-q"],
                 not_said=("qmodules.py", "graph.py", "runpy"),
                 setup=_compress_setup("entry: entry.py:layernorm\ncompress: {prune_steps: 1, qat_epochs: 0}\n")),
        CliProbe("compress_output_is_the_entry", ["compress", "{dir}/work/c.yaml", "-q"], keep=("work/entry.py",),
                 setup=_compress_setup("entry: entry.py:make\noutput: entry.py\n")),
        CliProbe("compress_output_is_the_config", ["compress", "{dir}/work/c.yaml", "-q"],
                 setup=_compress_setup("entry: entry.py:make\noutput: c.yaml\n")),
        CliProbe("compress_output_is_someones_file", ["compress", "{dir}/work/c.yaml", "-q"],
                 keep=("victim/precious.txt",),
                 setup=_compress_setup("entry: entry.py:make\noutput: ../victim/precious.txt\n")),
        CliProbe("compress_yaml_alias_bomb", ["compress", "{dir}/work/c.yaml", "-q"],
                 setup=_compress_setup("entry: entry.py:make\n" + YAML_ALIAS_BOMB)),
        CliProbe("compress_huge_value_echoed", ["compress", "{dir}/work/c.yaml", "-q"],
                 setup=_compress_setup("entry: entry.py:make\ncompress: {method: '" + "x" * 400_000 + "'}\n")),
        CliProbe("report_keeps_a_users_report", ["report", "{dir}/m.onnx", "-o", "{dir}/docs"],
                 keep=("docs/report.md",), setup=_model_setup(user_report="docs")),
        CliProbe("report_force_keeps_a_users_report", ["report", "{dir}/m.onnx", "-o", "{dir}/docs", "--force"],
                 keep=("docs/report.md",), setup=_model_setup(user_report="docs")),
        CliProbe("build_non_utf8_file_name", ["build", "{dir}/bad\udcffname.onnx", "-q"],
                 setup=_model_setup("bad\udcffname.onnx")),
        CliProbe("report_non_utf8_file_name", ["report", "{dir}/bad\udcffname.onnx"],
                 setup=_model_setup("bad\udcffname.onnx")),
        *[CliProbe(f"build_input_data_{kind}", ["build", "{dir}/m.onnx", "-o", "{dir}/out", "-q", "--input-data",
                                                "{dir}/x.npy"], absent=("out",), setup=_model_setup(input_data=kind))
          for kind in ("strings", "complex", "fifo", "huge")],
        CliProbe("build_output_parent_is_a_file", ["build", "{dir}/m.onnx", "-o", "{dir}/afile/out", "-q"],
                 keep=("afile",), setup=_model_setup(out_parent_is_file=True)),
        CliProbe("build_forged_file_name", ["build", "{dir}/" + FORGED_NAME + ".onnx", "-o", "{dir}/out", "--board",
                                            "nope"], absent=("out",), setup=_model_setup(FORGED_NAME + ".onnx")),
        CliProbe("synth_docker_colon", ["synth", "{dir}/a:b", "--docker", "img", "--xilinx-root", "/opt/x",
                                        "--dry-run"], setup=_synth_setup("a:b")),
        CliProbe("synth_dry_run_injection", ["synth", "{dir}/x;touch PWNED;#", "--local", "--stage", "csynth",
                                             "--dry-run"], code=0, setup=_synth_setup("x;touch PWNED;#")),
    ]


def run_cli_probe(probe: CliProbe, folder: Path) -> list[str]:
    """Run one probe through jpq2hw's CLI entry (in this process, output captured, PATH without Xilinx tools);
    the list of what went wrong (empty: it held). A whole run of them goes through the child worker below."""
    import contextlib
    import io
    import subprocess

    from jpq2hw.cli import main as cli_main

    folder.mkdir(parents=True, exist_ok=True)
    if probe.setup:
        probe.setup(folder)
    kept = {rel: (folder / rel).read_bytes() for rel in probe.keep if (folder / rel).is_file()}
    argv = [a.replace("{dir}", str(folder)) for a in probe.argv]
    out, err_stream, path = io.StringIO(), io.StringIO(), os.environ.get("PATH", "")
    os.environ["PATH"] = "/usr/bin:/bin"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err_stream):
            code = cli_main(argv)
    finally:
        os.environ["PATH"] = path
    proc = subprocess.CompletedProcess(argv, code, out.getvalue(), err_stream.getvalue())
    problems = []
    err = proc.stderr.strip()
    last = err.splitlines()[-1] if err else ""
    if proc.returncode != probe.code:
        problems.append(f"exit {proc.returncode}, expected {probe.code}: {last[:300]}")
    if probe.code == 2 and not last.startswith(f"jpq2hw {argv[0]}: error:"):
        problems.append(f"refusal is not one 'jpq2hw {argv[0]}: error:' line: {err[-300:]!r}")
    problems += [f"says {text!r}: {last[:300]}" for text in probe.not_said if text in err]
    if len(last) > 1100:
        problems.append(f"an error line of {len(last):,} characters")
    if "internal error" in err or "Traceback" in err:
        problems.append(f"internal error or traceback: {err[-300:]!r}")
    if any(not ch.isprintable() and ch != "\n" for ch in proc.stdout + proc.stderr):
        problems.append("raw control characters in the output")
    for rel in probe.keep:
        target = folder / rel
        if not target.is_file() or target.read_bytes() != kept.get(rel):
            problems.append(f"{rel} was deleted or changed")
    for rel in probe.absent:
        if (folder / rel).exists():
            problems.append(f"{rel} was written")
    if probe.name == "synth_dry_run_injection":  # the printed command, pasted into a shell, runs no injected command
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        (bin_dir / "vitis_hls").write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / "vitis_hls").chmod(0o755)
        subprocess.run(["sh", "-c", proc.stdout.strip()], cwd=folder, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
        if list(folder.rglob("PWNED")):
            problems.append(f"pasting the dry-run command ran an injected command: {proc.stdout.strip()!r}")
    return [f"{probe.name}: {p}" for p in problems]


# --- the worker -------------------------------------------------------------------------------------


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def check_file(path: Path, out_root: Path) -> dict:
    from jpq2hw.errors import JpqError
    from testkit.front_half import front_half

    out = out_root / (path.stem + "_out")
    before = set(os.listdir(path.parent))
    row = {"file": path.name}
    t0 = time.time()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        front_half(path, out)
        row.update(outcome="accepted", message="")
    except JpqError as exc:
        row.update(outcome="error", message=str(exc))
    except _Timeout:
        row.update(outcome="timeout", message=f"no answer after {CASE_SECONDS} s")
    except BaseException as exc:  # noqa: BLE001  anything else is a bug in jpq2hw's validation
        import traceback

        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb) if "jpq2hw" in f.filename), "?")
        row.update(outcome="bug", message=f"{type(exc).__name__}: {str(exc)[:300]} (last jpq2hw frame {where})")
    finally:
        signal.alarm(0)
    row["seconds"] = round(time.time() - t0, 3)
    left = sorted(set(os.listdir(path.parent)) - before) + ([out.name] if out.exists() else [])
    row["left_behind"] = left
    return row


def main(argv: list[str]) -> int:
    if argv[:1] == ["--cli-probes"]:  # one JSON line per probe: {"probe", "problems"}
        root = Path(argv[1])
        for probe in cli_probes():
            problems = run_cli_probe(probe, root / probe.name)
            print(json.dumps({"probe": probe.name, "problems": problems}), flush=True)
        return 0
    out_root = Path(argv[0])
    out_root.mkdir(parents=True, exist_ok=True)
    import warnings

    warnings.simplefilter("ignore")
    for name in argv[1:]:
        print(json.dumps(check_file(Path(name), out_root)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
