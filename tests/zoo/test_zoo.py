"""The model zoo (tests/testkit/zoo.py): the QONNX models people actually have (issue 9).

- Models jpq2hw builds today: exit 0 and bit_exact on the hardware part. CI runs a representative subset
  (a binary net with BatchNorm, a bipolar-output net, old-domain Quant nodes without rounding_mode,
  per-channel float weight scales); set
  JPQ2HW_ZOO_FULL=1 to build every one (each is a g++ compile, 40-80 s on 2 cores).
- What stays impossible (a host-only op inside the hardware part): one line on stderr, exit 2, naming the node.
"""

import contextlib
import io
import os

import pytest

from build.test_bad_input import assert_refused
from jpq2hw.build import BuildOptions, run_build
from testkit import zoo

FULL = bool(os.environ.get("JPQ2HW_ZOO_FULL"))
full_only = pytest.mark.skipif(not FULL, reason="set JPQ2HW_ZOO_FULL=1 to build the whole zoo")


@pytest.fixture(scope="session")
def zoo_model(tmp_path_factory):
    """zoo_model(name) -> path of that zoo model, made once per session."""
    folder = tmp_path_factory.mktemp("zoo")
    made = {}

    def make(name):
        if name not in made:
            with contextlib.redirect_stdout(io.StringIO()):  # the exporters talk
                made[name] = zoo.make(name, folder)
        return made[name]

    return make


def build(path, out, io_type="parallel"):
    return run_build(BuildOptions(model=path, out=out, io=io_type, quiet=True, vectors=40))


# --- builds today: exit 0, bit-exact ---------------------------------------------------------------------------

EXACT_CI = [
    ("brevitas_mlp_w1a1_bn", "parallel"),  # BipolarQuant weights/activations, BatchNorm1d, float scales
    ("brevitas_bipolar_out", "parallel"),  # bipolar (+1/-1) output quantizer
    ("old_domain_quant_finn", "parallel"),  # finn-domain Quant, no rounding_mode
    ("brevitas_mlp_perchannel", "parallel"),  # per-channel float weight scales, float biases
    ("qkeras_cnn_nhwc_sigmoid", "parallel"),  # NHWC input, no pads, quantized conv bias, sigmoid on the host
    ("finn_datatype_input", "parallel"),  # input typed by a finn_datatype annotation (UINT8), no input Quant
    ("squeeze_distance_head", "parallel"),  # Unsqueeze/Sub/Mul(d, d)/ReduceSum/Squeeze distance head on the host
]
EXACT_FULL = [
    ("wide_act_10bit", "parallel"),
    ("wide_act_16bit", "parallel"),
    # float logits after a folded affine map: compared in the hardware's integer units
    ("brevitas_mlp_w2a2_bn", "parallel"),
    ("old_domain_quant_empty", "parallel"),
    ("brevitas_cnn1d_bn_pool", "parallel"),
    ("brevitas_cnn1d_bn_pool", "stream"),
    ("unsqueeze_sub_squeeze_head", "parallel"),
    ("qkeras_cnn_nhwc_sigmoid", "stream"),
]


def _assert_exact(code, report, name):
    assert report["mismatched_vectors"] == 0, (name, report["max_abs_error"], report["first_divergent_layer"])
    assert code == 0 and report["bit_exact"], (name, report["axis_wrapper"])


@pytest.mark.slow
@pytest.mark.parametrize("name,io_type", EXACT_CI + [pytest.param(*p, marks=full_only) for p in EXACT_FULL])
def test_zoo_model_is_bit_exact(zoo_model, tmp_path, name, io_type):
    code, report = build(zoo_model(name), tmp_path / "o", io_type)
    _assert_exact(code, report, name)
    if name == "brevitas_bipolar_out":  # the output stays in the model's +1/-1 encoding
        import numpy as np

        out = np.load(tmp_path / "o" / "vectors" / "expected.npy")
        assert set(np.unique(out)) <= {-1.0, 1.0}


# --- what stays impossible: one line naming the node, exit 2 ----------------------------------------------------

def test_zoo_distance_head_inside_the_hardware_is_refused(zoo_model, tmp_path, capsys):
    """The same distance head, but its distances feed another quantized layer: the Unsqueeze is then inside the
    hardware part, which has no form for it."""
    import onnx
    from onnx import helper

    model = onnx.load(zoo_model("squeeze_distance_head"))
    graph = model.graph
    out = graph.output[0].name
    params = [helper.make_tensor(f"requant_{k}", onnx.TensorProto.FLOAT, [], [v])
              for k, v in (("scale", 0.25), ("zeropt", 0.0), ("bits", 8.0))]
    graph.initializer.extend(params)
    graph.node.append(helper.make_node("Quant", [out] + [p.name for p in params], ["requant"], name="requant",
                                       domain="qonnx.custom_op.general", signed=0, narrow=0, rounding_mode="ROUND"))
    graph.node.append(helper.make_node("Relu", ["requant"], ["again"], name="relu_again"))
    graph.output[0].name = "again"
    path = tmp_path / "inside.onnx"
    onnx.save(model, path)
    capsys.readouterr()
    assert_refused(tmp_path, capsys, path, "unsqueeze", "Unsqueeze", "not inside the hardware")
