"""The op registry (jpq2hw/ops/, one module per op) is the one description of the ops: the README lists what it
lists, and the views the passes read agree with it (seconds, no hls4ml or g++)."""

import re
from pathlib import Path

import jpq2hw.ops as t

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_ops() -> set[str]:
    text = README.read_text()
    section = text[text.index("## Supported ops"):]
    section = section[:section.index("\n## ", 5)]
    names = set()
    for row in section.splitlines():
        if not row.startswith("| ") or row.startswith("| ONNX op"):
            continue
        first = row.split("|")[1]
        first = re.sub(r"\([^)]*\)", "", first)  # drop "(domains...)" notes
        for group in re.findall(r"[A-Z][A-Za-z0-9]*(?:/[A-Z0-9][A-Za-z0-9]*)*", first):
            head, *rest = group.split("/")
            names.add(head)
            prefix = re.match(r"[A-Z][a-z]+", head).group(0)  # ReduceSum/Mean -> ReduceMean
            names.update(r if r in t.OPS else prefix + r for r in rest)
    return names


def test_readme_lists_every_op_of_the_table():
    listed = _readme_ops()
    documented = set(t.SUPPORTED_OPS) | set(t.HOST_OPS)
    assert documented - listed == set(), "ops missing in README's Supported ops"
    assert {op for op in listed if op not in t.OPS} == set()  # nothing listed that the table does not know


def test_every_op_has_a_role_and_consistent_views():
    for name, op in t.OPS.items():
        assert op.becomes or op.host or op.constant, name
        assert t.accepted(name)
        if op.weights or op.type_preserving or op.layout:
            assert op.becomes and op.inputs, name  # hardware ops are checked for their input count
    assert set(t.WEIGHT_OPS) == {"Conv", "MatMul", "Gemm"}
    assert set(t.LAYOUT_OPS) <= set(t.TYPE_PRESERVING_OPS)
    assert "Quant" not in t.ARITY and t.OPS["Quant"].inputs == (4, 4)  # Quant has its own message
    assert set(t.HOST_TAIL_OPS) & set(t.SUPPORTED_OPS) == set()
    assert not t.accepted("LSTM")


def test_validation_reads_the_input_counts_from_the_table(tmp_path):
    import pytest
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.errors import JpqError
    from jpq2hw.frontend.validate import validate_structure

    nodes = [helper.make_node("Relu", ["x", "x"], ["y"], name="two_input_relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = ModelWrapper(helper.make_model(graph))
    with pytest.raises(JpqError, match=r"two_input_relu.*Relu takes 1 inputs, has 2"):
        validate_structure(model, "m.onnx")
