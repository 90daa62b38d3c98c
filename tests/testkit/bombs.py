"""Folded-constant bombs: tiny models whose constant subgraphs (or control flow) would make normalization compute
gigabytes, and a fuzz that mutates the shapes in such subgraphs. Each model is the small MLP of hostile.py with a
constant subgraph hooked onto its weight: w' = w + 0 * ReduceMax(bomb), so that folding must compute the bomb.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from testkit.hostile import _mlp_parts, _model

BIG = 50_000  # 50,000 x 50,000 float32: 10 GB


def _i64(name, value):
    return numpy_helper.from_array(np.array(value, np.int64), name)


def _f32(name, value):
    return numpy_helper.from_array(np.array(value, np.float32), name)


def _hooked(bomb_nodes, bomb_inits, bomb: str = "bomb", opset: int = 13):
    """The MLP with `w` replaced by w + 0 * ReduceMax(bomb) (all constants: folded by normalization)."""
    nodes, inits = _mlp_parts()
    nodes[1].input[0] = "w_hooked"
    hook = [
        helper.make_node("Cast", [bomb], ["bomb_f"], to=TensorProto.FLOAT, name="Cast_bomb"),
        helper.make_node("ReduceMax", ["bomb_f"], ["bomb_max"], keepdims=0, name="ReduceMax_bomb"),
        helper.make_node("Mul", ["bomb_max", "zero_f"], ["bomb_zero"], name="Mul_bomb"),
        helper.make_node("Add", ["w", "bomb_zero"], ["w_hooked"], name="Add_bomb"),
    ]
    m = _model(bomb_nodes + hook + nodes, bomb_inits + [_f32("zero_f", 0.0)] + inits)
    m.opset_import[0].version = opset
    return m


def _branch(nodes, inits, out: str, name: str):
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)


def bomb_models() -> dict[str, onnx.ModelProto]:
    cases = {}
    cases["bomb_range_4e9"] = _hooked(
        [helper.make_node("Range", ["r0", "r1", "r2"], ["bomb"], name="Range_bomb")],
        [_f32("r0", 0.0), _f32("r1", 4e9), _f32("r2", 1.0)])
    cases["bomb_constant_of_shape"] = _hooked(
        [helper.make_node("ConstantOfShape", ["s"], ["bomb"], name="ConstantOfShape_bomb")], [_i64("s", [BIG, BIG])])
    cases["bomb_shape_from_arithmetic"] = _hooked(  # the shape itself computed: Concat(Mul(a, b), c)
        [helper.make_node("Mul", ["a", "b"], ["ab"], name="Mul_shape"),
         helper.make_node("Concat", ["ab", "c"], ["s"], axis=0, name="Concat_shape"),
         helper.make_node("ConstantOfShape", ["s"], ["bomb"], name="ConstantOfShape_bomb")],
        [_i64("a", [BIG]), _i64("b", [2]), _i64("c", [BIG])])
    cases["bomb_expand"] = _hooked(
        [helper.make_node("Expand", ["one", "s"], ["bomb"], name="Expand_bomb")],
        [_f32("one", [1.0]), _i64("s", [BIG, BIG])])
    cases["bomb_tile"] = _hooked(
        [helper.make_node("Tile", ["w", "reps"], ["bomb"], name="Tile_bomb")], [_i64("reps", [10_000, 10_000])])
    cases["bomb_broadcast_add"] = _hooked(
        [helper.make_node("Add", ["col", "row"], ["bomb"], name="Add_broadcast")],
        [_f32("col", np.zeros((BIG, 1))), _f32("row", np.zeros((1, BIG)))])
    cases["bomb_matmul_outer"] = _hooked(
        [helper.make_node("MatMul", ["col", "row"], ["bomb"], name="MatMul_outer")],
        [_f32("col", np.zeros((BIG, 1))), _f32("row", np.zeros((1, BIG)))])
    then = _branch([helper.make_node("ConstantOfShape", ["s_in"], ["big"], name="ConstantOfShape_then")],
                   [_i64("s_in", [BIG, BIG])], "big", "then")
    other = _branch([helper.make_node("Constant", [], ["small"], value=_f32("v", [1.0]), name="Constant_else")],
                    [], "small", "else")
    cases["bomb_if_branch"] = _hooked(
        [helper.make_node("If", ["cond"], ["bomb"], then_branch=then, else_branch=other, name="If_bomb")],
        [numpy_helper.from_array(np.array(True), "cond")])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])])
    cases["bomb_loop_1e12"] = _hooked(
        [helper.make_node("Loop", ["trips", "cond", "v0"], ["bomb"], body=body, name="Loop_bomb")],
        [_i64("trips", 10**12), numpy_helper.from_array(np.array(True), "cond"), _f32("v0", [1.0])])
    sparse = helper.make_sparse_tensor(_f32("sv", [1.0]), _i64("si", [0]), [BIG, BIG])
    cases["bomb_sparse_constant"] = _hooked(
        [helper.make_node("Constant", [], ["bomb"], sparse_value=sparse, name="Constant_sparse")], [])
    cases["bomb_range_computed_limit"] = _hooked(  # the limit comes from a Cast: not known without running it
        [helper.make_node("Cast", ["lim64"], ["lim"], to=TensorProto.FLOAT, name="Cast_limit"),
         helper.make_node("Range", ["r0", "lim", "r2"], ["bomb"], name="Range_bomb")],
        [_i64("lim64", 4_000_000_000), _f32("r0", 0.0), _f32("r2", 1.0)])
    cases["bomb_contrib_op"] = _hooked(  # an onnxruntime contrib op computing a constant: not folded blindly
        [helper.make_node("Range", ["r0", "r1", "r2"], ["bomb"], domain="com.microsoft", name="Range_contrib")],
        [_f32("r0", 0.0), _f32("r1", 4e9), _f32("r2", 1.0)])
    cases["bomb_resize_8192"] = _resize_model(8192)  # not a constant: an activation 8192 x 8192 times larger
    cases["small_constant_subgraph"] = _hooked(  # the control: a constant subgraph of sane size folds and builds
        [helper.make_node("ConstantOfShape", ["s"], ["bomb"], name="ConstantOfShape_small")], [_i64("s", [64, 64])])
    return cases


def _resize_model(factor: int) -> onnx.ModelProto:
    from testkit.qonnx_builder import QonnxBuilder

    b = QonnxBuilder([1, 2, 4, 4], in_bits=4, seed=3)
    x = b.quant(b.relu(b.conv(b.x, 2, k=3, pad=1)), 4, False, -2)
    roi, scales = b._const("roi", np.zeros((0,), np.float32)), b._const("scales", np.array([1, 1, factor, factor],
                                                                                           np.float32))
    b.nodes.append(helper.make_node("Resize", [x, roi, scales], ["up"], name="Resize_up", mode="nearest",
                                    coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    b.shapes["up"] = [1, 2, 4 * factor, 4 * factor]
    m = b.build(b.quant("up", 4, False, -2)).model
    del m.graph.value_info[:]  # the size must come from the scales, not from a declaration
    m.graph.output[0].type.tensor_type.ClearField("shape")
    return m


SMALL_ACCEPTED = {"small_constant_subgraph"}


def bomb_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, m in bomb_models().items():
        path = folder / f"{name}.onnx"
        path.write_bytes(m.SerializeToString())
        out.append(path)
    return out


_SIZES = (0, 1, 2, 3, 64, 1000, BIG, 1 << 20, 1 << 31, 10**12, -1, -(1 << 40))


def mutated_bomb_files(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """n files: a random bomb model with one integer or float of its constant subgraph (a shape, a repeat count,
    a Range bound, a trip count) replaced by a random size from tiny to absurd, or negative."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 26])
    models = bomb_models()
    names = sorted(models)
    out = []
    for i in range(n):
        name = names[int(rng.integers(len(names)))]
        m = onnx.ModelProto.FromString(models[name].SerializeToString())
        bomb_inits = [t for t in m.graph.initializer
                      if t.name not in ("w", "zero_f") and not t.name.startswith("q")]
        if bomb_inits:
            t = bomb_inits[int(rng.integers(len(bomb_inits)))]
            v = numpy_helper.to_array(t).copy()
            if v.size and v.dtype.kind in "iuf":
                size = int(rng.choice(_SIZES))
                flat = v.reshape(-1)
                flat[int(rng.integers(v.size))] = size if v.dtype.kind != "f" else float(size)
                t.CopyFrom(numpy_helper.from_array(v.astype(v.dtype), t.name))
        path = folder / f"bombmut{i:03d}_{name}.onnx"
        path.write_bytes(m.SerializeToString())
        out.append(path)
    return out
