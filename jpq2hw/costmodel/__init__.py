"""Hardware cost model: an ESTIMATE, before synthesis, of what a quantized, pruned network costs on an FPGA
(weight memory, BOPs, multipliers, LUT/FF/DSP/BRAM, latency and II) and whether it fits a board.

    layers = cost_layers(model, analysis)                 # geometry + LayerStats, per compute layer
    est = estimate(layers, board, io_type="io_parallel")  # per-layer and total cost, fit vs the board
    plan = fit_auto(layers, board)                        # per-layer strategy / reuse factor that fits
"""

from jpq2hw.costmodel.fit import FitPlan, apply_plan_to_hls_config, fit_auto
from jpq2hw.costmodel.model import (
    CALIBRATION,
    CostLayer,
    Estimate,
    LayerChoice,
    LayerCost,
    cost_layers,
    estimate,
    estimate_for_report,
    layer_cost,
)

__all__ = [
    "CALIBRATION", "CostLayer", "Estimate", "FitPlan", "LayerChoice", "LayerCost", "apply_plan_to_hls_config",
    "cost_layers", "estimate", "estimate_for_report", "fit_auto", "layer_cost",
]
