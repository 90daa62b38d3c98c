"""The model generator, the edge cases and the reference, checked without compiling anything (seconds).

The exact oracle (Fractions, no float anywhere) is the ground truth for both references: onnxruntime QCDQ in
float32 and the float64 path the build takes for accumulators wider than float32's 24-bit mantissa."""

import re

import numpy as np
import pytest

from jpq2hw.pipeline import analyze_file
from jpq2hw.verify.reference import Reference
from jpq2hw.verify.vectors import random_vectors
from testkit import exact_oracle
from testkit.front_half import front_half
from testkit.random_models import EDGE_CASES, random_case

ORACLE_SEEDS = list(range(8))


def _prepare(case, tmp_path):
    state = analyze_file(case.save(tmp_path))  # the build's own front half
    return state.normalized, state.analysis


def test_same_seed_same_model():
    for seed in (0, 7, 123):
        a, b = random_case(seed), random_case(seed)
        assert a.model.model.SerializeToString() == b.model.model.SerializeToString()
        assert a.description == b.description and a.io == b.io
    assert random_case(1).model.model.SerializeToString() != random_case(2).model.model.SerializeToString()


def test_generator_covers_the_space():
    """Over 200 seeds every knob of the brief is drawn: ops, bit widths, signedness, narrow, sparsity, stride,
    padding, kernel sizes, both io types."""
    descs = [random_case(s) for s in range(200)]
    text = " ".join(c.description for c in descs)
    for token in ("conv1x1", "conv2x2", "conv3x3", "/s2", "p1", "res", "pool", "bn", "dense", "+relu", "+b",
                  "sp0.99", "sp0 ", "mlp:", "conv:"):
        assert token in text, token
    wbits = {int(m) for m in re.findall(r"w(\d)sp", text)}
    abits = {int(m) for m in re.findall(r"\ba(\d)[su]", text)}
    assert wbits == set(range(2, 9)) and abits == set(range(2, 9))
    assert re.search(r"\ba\ds2", text) and re.search(r"\ba\du2", text) and re.search(r"\ba\dsn2", text)
    assert {c.io for c in descs} == {"parallel", "stream"}


@pytest.mark.parametrize("seed", range(0, 40, 6))
def test_front_half_accepts_generated_models(seed, tmp_path):
    case = random_case(seed)
    assert front_half(case.save(tmp_path), tmp_path / "out") == "accepted"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_case_front_half(name, tmp_path):
    case = EDGE_CASES[name]()
    assert front_half(case.save(tmp_path), tmp_path / "out") == "accepted"


def _pre_quant_values(case, x, quant_index):
    """The exact (Fraction) input of the quant_index-th Quant node after the input quantizer, and its scale."""
    ctx = exact_oracle.evaluate(case.model, x, all_tensors=True)
    quants = [n for n in case.model.graph.node if n.op_type == "Quant" and not n.input[0].startswith("w_")]
    node = quants[quant_index]
    scale = ctx[node.input[1]].ravel()[0]
    return ctx[node.input[0]].ravel(), scale, node


def test_ties_case_has_ties(tmp_path):
    """The ties model really puts quantizer inputs on .5 steps, rounding up to even and down to even."""
    case = EDGE_CASES["ties"]()
    n, a = _prepare(case, tmp_path)
    xs = random_vectors(a.input_quant, a.input_shape[1:], 20, 0)
    ties_up = ties_down = 0
    for x in xs:
        for qi in (1, 2):
            vals, scale, _ = _pre_quant_values(case, x[None], qi)
            for v in vals:
                steps = v / scale
                if steps.denominator == 2:
                    if round(steps) > steps:
                        ties_up += 1
                    else:
                        ties_down += 1
    assert ties_up > 5 and ties_down > 5, (ties_up, ties_down)


def test_saturation_case_saturates_both_ends(tmp_path):
    case = EDGE_CASES["saturation"]()
    n, a = _prepare(case, tmp_path)
    xs = random_vectors(a.input_quant, a.input_shape[1:], 20, 0)
    low = high = 0
    for x in xs:
        vals, scale, node = _pre_quant_values(case, x[None], 1)  # the signed narrow 3-bit quantizer
        limit = 3 * scale
        low += sum(v < -limit - scale / 2 for v in vals)
        high += sum(v > limit + scale / 2 for v in vals)
    assert low > 10 and high > 10, (low, high)


def _oracle_batch(case, xs):
    return np.stack([exact_oracle.evaluate(case.model, x[None])[0] for x in xs])


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_reference_exact_on_edge_cases(name, tmp_path):
    """Whichever reference the build would pick, and the float64 one forced, equal the exact oracle."""
    case = EDGE_CASES[name]()
    n, a = _prepare(case, tmp_path)
    xs = random_vectors(a.input_quant, a.input_shape[1:], 12, 3)
    want = _oracle_batch(case, xs)
    for accum_bits in (8, 40):
        ref = Reference(n.reference, accum_bits)
        got = ref.run_batch(xs)
        assert np.array_equal(got, want), f"{ref.kind}: max error {np.abs(got - want).max()}"


@pytest.mark.parametrize("seed", ORACLE_SEEDS)
def test_reference_exact_on_random_models(seed, tmp_path):
    case = random_case(seed)
    n, a = _prepare(case, tmp_path)
    xs = random_vectors(a.input_quant, a.input_shape[1:], 6, seed)
    want = _oracle_batch(case, xs)
    got = Reference(n.reference, 8).run_batch(xs)
    assert np.array_equal(got, want)


def test_float64_reference_on_wide_accumulator_regression(tmp_path):
    """Regression: the float64 reference crashed on every model ("Unexpected input data type ... expected
    tensor(double)") because qonnx's Quant executor returns float32; it now lowers Quant to float64 ONNX ops."""
    case = EDGE_CASES["wide_accum"]()
    n, a = _prepare(case, tmp_path)
    ref = Reference(n.reference, 31)
    assert ref.kind == "qonnx-float64"
    xs = random_vectors(a.input_quant, a.input_shape[1:], 6, 0)
    assert np.array_equal(ref.run_batch(xs), _oracle_batch(case, xs))


def test_float64_reference_keeps_27_bits(tmp_path):
    """A sum of 27 significant bits (more than float32's 24) through 16- and 30-bit quantizers: the reference
    takes the float64 path and keeps every bit."""
    from testkit.qonnx_builder import QonnxBuilder
    from testkit.random_models import Case

    b = QonnxBuilder([1, 2], in_bits=8, in_signed=True, in_scale_exp=0, seed=0, name="f32_rounds")
    y = b.dense(b.x, 1, wbits=8, w_scale_exp=0, weights=np.array([[64.0], [1.0]]))
    y = b.dense(b.quant(y, 16, True, 0), 1, wbits=8, w_scale_exp=0, weights=np.array([[1.0]]), bias=True,
                bias_scale_exp=0, bias_values=[2.0**26])
    y = b.quant(y, 30, True, 0)
    case = Case("f32_rounds", "parallel", b.build(y), "")
    n, a = _prepare(case, tmp_path)
    x = np.array([[127.0, 1.0]])
    want = exact_oracle.evaluate(case.model, x)
    assert want.ravel()[0] == 2.0**26 + 127 * 64 + 1
    assert Reference(n.reference, 40).kind == "qonnx-float64"
    assert np.array_equal(Reference(n.reference, 40).run(x)["output"], want)


def test_float64_reference_conv_on_one_pixel_map(tmp_path):
    """qonnx's Im2Col asserts on a padded kernel > 1 over a 1-pixel-wide feature map; the batched reference
    gathers with qonnx's im2col indices instead and equals the exact oracle."""
    from testkit.qonnx_builder import QonnxBuilder
    from testkit.random_models import Case

    b = QonnxBuilder([1, 2, 1, 1], in_bits=4, seed=0, name="conv_1px")
    y = b.quant(b.conv(b.x, 2, k=3, stride=1, pad=1, wbits=4), 8, True, -4)
    case = Case("conv_1px", "parallel", b.build(y), "")
    n, a = _prepare(case, tmp_path)
    xs = random_vectors(a.input_quant, a.input_shape[1:], 4, 0)
    assert np.array_equal(Reference(n.reference, 40).run_batch(xs), _oracle_batch(case, xs))


@pytest.mark.parametrize("seed", [1, 8])
@pytest.mark.parametrize("accum_bits", [8, 40])
def test_batched_reference_is_the_one_vector_reference(seed, accum_bits, tmp_path):
    """One onnxruntime session over the whole set (float32 QCDQ, or float64 with Im2Col as a Gather) gives
    exactly what running one vector at a time gives, and is the path taken."""
    case = random_case(seed)
    n, a = _prepare(case, tmp_path)
    assert any(node.op_type == "Conv" for node in n.reference.graph.node)
    xs = random_vectors(a.input_quant, a.input_shape[1:], 70, seed)  # more than one batch of 64
    ref = Reference(n.reference, accum_bits)
    got = ref.run_batch(xs)
    assert ref.runs_batched, ref.kind
    assert np.array_equal(got, np.stack([ref.run(x[None])["output"][0] for x in xs]))
    assert np.array_equal(got[:6], _oracle_batch(case, xs[:6]))
