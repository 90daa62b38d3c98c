"""The cost formulas on small layers computed by hand, calibration, pruning, board fit."""

import math

import pytest

from jpq2hw.boards import load_board
from jpq2hw.costmodel import CostLayer, LayerChoice, apply_plan_to_hls_config, estimate, fit_auto, layer_cost
from jpq2hw.costmodel import model as cm
from jpq2hw.costmodel.fit import valid_reuse_factors
from jpq2hw.errors import JpqError


def dense(nz, params=32, n_in=8, n_out=4, wb=4, ab=8, **kw):
    return CostLayer("fc", "MatMul", wb, ab, params, nz, n_in, n_out, **kw)


def test_latency_layer_by_hand():
    c = layer_cost(dense(16))  # 8x4 dense layer, half its weights zero, 4-bit weights, 8-bit inputs
    assert c.bops == 16 * 4 * 8  # nz * pixels(1) * b_w * b_a
    # half sparse: CSR 16 x (4 + 3 index bits) + 4 rows x 4 count bits = 128, no better than dense 32 x 4
    assert c.weight_memory_bits == 128 and layer_cost(dense(8)).weight_memory_bits == 72  # CSR wins
    assert c.multipliers == 16
    assert c.lut == math.ceil(cm.ALPHA_LATENCY * 16 * 4 * 8)
    assert c.dsp == 0 and c.bram18 == 0
    acc = 4 + 8 + 3  # b_w + b_a + ceil(log2 8)
    assert c.ff == math.ceil(cm.FF_PER_LUT * cm.ALPHA_LATENCY * 16 * 4 * 8 + 4 * acc)
    assert c.ii_cycles == 1
    assert c.latency_cycles == 1 + (1 + 1 + 1)  # II + products + one adder stage (3 levels) + cast


def test_resource_layer_by_hand():
    c = layer_cost(dense(8), LayerChoice("resource", 4))
    assert c.multipliers == 8  # 32 weights / R=4: zeros are multiplied too (weights sit in BRAM)
    assert c.weight_memory_bits == layer_cost(dense(8)).weight_memory_bits  # the model's figure, any strategy
    assert c.bram18 == 1  # ROM 4 deep x (8 mults x 4 bits = 32) wide: one RAMB18 (512 x 36)
    assert c.ii_cycles == 4
    mux = 8 * math.ceil((4 - 1) / 3)  # 4:1 mux of the 8-bit input
    per_mult = cm.GENERIC_MULT_LUT_PER_BITPRODUCT * 32 + 4 + 8 + 15 + mux
    assert c.lut == math.ceil(8 * per_mult)
    dense_store = layer_cost(dense(32), LayerChoice("resource", 4))
    assert dense_store.weight_memory_bits == 32 * 4  # no gain from indices when nothing is pruned
    # fan-in 8: CSR 8 x (4 + 3 index bits) + 4 rows x 4 count bits = 72 < dense 128
    assert c.weight_memory_bits == 72


def test_wide_products_use_dsps():
    c = layer_cost(dense(32, wb=10, ab=10), LayerChoice("resource", 2))
    assert c.multipliers == 16 and c.dsp == 16
    assert layer_cost(dense(32, wb=10, ab=10)).dsp == 32  # hard-wired but too wide for the fabric rule
    assert cm.dsp_per_product(30, 16) == 2


def test_bram_shapes():
    assert cm.rom_bram18(1024, 36, 512) == 1
    assert cm.rom_bram18(1024, 37, 512) == 2
    assert cm.rom_bram18(1024, 18, 1024) == 1
    assert cm.rom_bram18(1024, 4, 4096) == 1


def test_conv_ii_and_bops():
    conv = CostLayer("c", "Conv", 4, 8, params=3 * 3 * 2 * 4, nonzero_params=36, n_in=18, n_out=4,
                     out_pixels=16, in_pixels=64)
    assert layer_cost(conv).bops == 36 * 16 * 4 * 8
    assert layer_cost(conv).ii_cycles == 16
    assert layer_cost(conv, LayerChoice("resource", 2)).ii_cycles == 32
    assert layer_cost(conv, LayerChoice("resource", 2), "io_stream").ii_cycles == 64 + 16


def test_calibration_reproduces_the_measured_points():
    for params, nz, wb, ab, lut in cm.CALIBRATION_POINTS:
        assert abs(cm.ALPHA_DA * nz * wb * ab / lut - 1) < 0.3
    assert 0.2 < cm.ALPHA_DA < 0.3 and cm.ALPHA_LATENCY > cm.ALPHA_DA


@pytest.mark.parametrize("keep", [0.5, 0.25, 0.125, 0.0625])
def test_pruning_lowers_the_estimate_in_proportion(keep):
    full = CostLayer("fc", "MatMul", 4, 8, 2048, 2048, 64, 32)
    pruned = CostLayer("fc", "MatMul", 4, 8, 2048, int(2048 * keep), 64, 32)
    a, b = layer_cost(full), layer_cost(pruned)
    for key in ("bops", "multipliers"):
        assert getattr(b, key) == pytest.approx(keep * getattr(a, key))
    assert b.weight_memory_bits <= a.weight_memory_bits
    assert b.lut == pytest.approx(keep * a.lut, abs=1)
    # Resource strategy: memory and BOPs follow the nonzeros, the multipliers do not (zeros sit in BRAM)
    ra, rb = layer_cost(full, LayerChoice("resource", 8)), layer_cost(pruned, LayerChoice("resource", 8))
    assert rb.bops == pytest.approx(keep * ra.bops) and rb.multipliers == ra.multipliers
    assert rb.weight_memory_bits <= ra.weight_memory_bits


def test_same_definitions_as_layerstats_and_compress_metrics():
    from jpq2hw.annotate.quant_types import LayerStats

    from jpq2hw import metrics

    s = LayerStats("c", "Conv", "o", weight_bits=3, act_bits=5, params=72, nonzero_params=20, macs_per_weight=9,
                   rows=4, bias_count=4, bias_bits=8)
    c = CostLayer.from_stats(s, n_in=18, n_out=4)
    assert layer_cost(c).bops == s.bops == metrics.layer_bops(20, 9, 3, 5)
    assert layer_cost(c).weight_memory_bits == s.weight_memory_bits == metrics.sparse_bits(20, 72, 4, 3) + 4 * 8
    # a kernel shared by two views: the hardware holds it twice (multipliers), memory counts it once
    twin = LayerStats("c", "Conv", "o", weight_bits=3, act_bits=5, params=72, nonzero_params=20, macs_per_weight=9,
                      rows=4, copies=2, hw_params=4 * 72, hw_nonzero=40)
    t = layer_cost(CostLayer.from_stats(twin, n_in=36, n_out=8))
    assert t.multipliers == 40 and t.bops == 2 * metrics.layer_bops(20, 9, 3, 5)
    assert t.weight_memory_bits == metrics.sparse_bits(20, 72, 4, 3) and t.params == 72


def test_estimate_totals_baselines_and_fit():
    board = load_board("pynq-z2")
    layers = [dense(16), CostLayer("c", "Conv", 4, 8, 72, 18, 18, 4, out_pixels=16, in_pixels=16)]
    est = estimate(layers, board)
    d = est.to_dict()
    assert d["totals"]["lut"] == sum(l["lut"] for l in d["layers"])
    assert d["board"]["fit"] == "fits" and d["board"]["capacity"]["lut"] == 53200
    assert d["performance"]["ii_cycles"] == 16 and d["performance"]["latency_cycles"] == sum(
        l["latency_cycles"] for l in d["layers"])
    assert d["baselines"]["dense_float32"]["weight_memory_bits"] == (32 + 72) * 32
    ours = d["totals"]["weight_memory_bits"]
    assert ours == sum(l["weight_memory_bits"] for l in d["layers"])
    assert d["reductions"]["dense_float32"]["weight_memory_bits"] == pytest.approx((32 + 72) * 32 / ours, 1e-3)
    assert d["reductions"]["dense_same_bits"]["bops"] > 1
    assert d["performance"]["latency_us"] == pytest.approx(d["performance"]["latency_cycles"] / 100.0)


@pytest.mark.parametrize("n_in,n_out", [(8, 4), (18, 6), (64, 32), (7, 5)])
def test_valid_reuse_factors_match_hls4ml(n_in, n_out):
    from hls4ml.backends.fpga.fpga_backend import FPGABackend

    expected = [rf for rf in range(1, n_in * n_out + 1) if FPGABackend._validate_reuse_factor(None, n_in, n_out, rf)]
    assert valid_reuse_factors(n_in, n_out) == expected


def test_fit_auto_keeps_latency_when_it_fits_and_reuses_when_not():
    board = load_board("pynq-z2")
    small = fit_auto([dense(16)], board)
    assert small.choices["fc"] == LayerChoice() and small.estimate.fit_status() == "fits"
    big = CostLayer("big", "MatMul", 8, 8, 256 * 256, 256 * 256, 256, 256)
    assert estimate([big], board).fit_status() == "does not fit"
    plan = fit_auto([big, dense(16)], board)
    assert plan.choices["big"].strategy == "resource" and plan.choices["fc"].strategy == "latency"
    assert plan.estimate.fit_status() == "fits"
    cfg = apply_plan_to_hls_config({"Model": {"Strategy": "Latency"},
                                    "LayerName": {"Dense_big": {"Trace": True}, "Dense_fc": {}}}, plan)
    assert cfg["LayerName"]["Dense_big"] == {"Trace": True, "Strategy": "Resource",
                                             "ReuseFactor": plan.choices["big"].reuse_factor}
    assert cfg["LayerName"]["Dense_fc"] == {"Strategy": "Latency", "ReuseFactor": 1}


def test_fit_auto_says_which_layer_and_by_how_much():
    board = load_board("pynq-z2")
    huge = CostLayer("huge", "MatMul", 16, 16, 4096 * 4096, 4096 * 4096, 4096, 4096)
    with pytest.raises(JpqError, match=r"does not fit pynq-z2: .*'huge'.* by [\d,]+"):
        fit_auto([huge], board)
