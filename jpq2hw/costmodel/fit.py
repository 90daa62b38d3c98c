"""Board fit: pick, per layer, the hls4ml strategy and reuse factor so that the estimate fits the board.

Greedy: start with every layer hard-wired (Latency, R=1: fastest, and with sparse weights usually the
smallest); while some resource is above `max_utilization` of the board, take the layer that uses most of
that resource and give it the smallest valid reuse factor (Resource strategy) that lowers its use of it.
When no layer can be lowered any more, raise a JpqError naming the resource, the layer and the excess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jpq2hw.costmodel.model import CostLayer, Estimate, LayerChoice, estimate, layer_cost
from jpq2hw.errors import JpqError

RESOURCE_NAMES = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram36": "BRAM36"}


@dataclass
class FitPlan:
    choices: dict[str, LayerChoice]
    estimate: Estimate

    def to_dict(self) -> dict:
        return {name: {"strategy": c.strategy, "reuse_factor": c.reuse_factor} for name, c in self.choices.items()}


def _divisors(n: int) -> list[int]:
    small, large = [], []
    for d in range(1, int(math.isqrt(n)) + 1):
        if n % d == 0:
            small.append(d)
            if d != n // d:
                large.append(n // d)
    return small + large[::-1]


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """The reuse factors hls4ml accepts for a layer (FPGABackend._validate_reuse_factor, hls4ml 1.3)."""
    out = []
    for rf in _divisors(n_in * n_out):  # (n_in * n_out) % rf == 0 is one of hls4ml's conditions
        mult_limit = math.ceil(n_in * n_out / min(n_in, rf))
        if (mult_limit % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in):
            out.append(rf)
    return out


def _use(cost, key: str) -> float:
    return cost.bram18 / 2 if key == "bram36" else getattr(cost, key)


def fit_auto(layers: list[CostLayer], board, io_type: str = "io_parallel", clock_mhz: float | None = None,
             max_utilization: float = 0.8, max_steps: int = 10000) -> FitPlan:
    """Per-layer strategy and reuse factor so the whole design stays within `max_utilization` of every
    resource of `board`. Raises JpqError when no choice fits."""
    cap = {"lut": board.resources.lut, "ff": board.resources.ff, "dsp": board.resources.dsp,
           "bram36": board.resources.bram36}
    limit = {k: v * max_utilization for k, v in cap.items()}
    choices = {l.name: LayerChoice() for l in layers}
    by_name = {l.name: l for l in layers}
    rfs = {l.name: [r for r in valid_reuse_factors(l.n_in, l.n_out) if r > 1] for l in layers}
    costs = {l.name: layer_cost(l, choices[l.name], io_type) for l in layers}
    stuck: dict[str, set] = {k: set() for k in cap}

    for _ in range(max_steps):
        used = {k: sum(_use(c, k) for c in costs.values()) for k in cap}
        over = {k: used[k] / limit[k] if limit[k] else (math.inf if used[k] else 0.0) for k in cap}
        key = max(over, key=over.get)
        if over[key] <= 1.0:
            break
        movable = [n for n in costs if n not in stuck[key] and _use(costs[n], key) > 0]
        if not movable:
            _raise_no_fit(key, used, cap, limit, costs, max_utilization, board)
        name = max(movable, key=lambda n: _use(costs[n], key))
        current, cur_cost = choices[name], costs[name]
        start = current.reuse_factor if current.strategy == "resource" else 1
        for r in (r for r in rfs[name] if r > start):
            c = LayerChoice("resource", r)
            cost = layer_cost(by_name[name], c, io_type)
            if _use(cost, key) < _use(cur_cost, key):
                choices[name], costs[name] = c, cost
                break
        else:
            stuck[key].add(name)
    est = estimate(layers, board, io_type=io_type, clock_mhz=clock_mhz, choices=choices,
                   max_utilization=max_utilization)
    return FitPlan(choices=choices, estimate=est)


def _raise_no_fit(key, used, cap, limit, costs, max_utilization, board):
    name = RESOURCE_NAMES[key]
    worst = max(costs.values(), key=lambda c: _use(c, key))
    share = _use(worst, key)
    excess = used[key] - limit[key]
    if share > limit[key]:
        raise JpqError(
            f"does not fit {board.name}: layer '{worst.name}' alone needs {share:,.0f} {name} even at "
            f"{_label(worst)}, over the {limit[key]:,.0f} allowed ({max_utilization:.0%} of {cap[key]:,}) by "
            f"{share - limit[key]:,.0f}; prune or quantize it further, or pick a larger board")
    raise JpqError(
        f"does not fit {board.name}: the design needs {used[key]:,.0f} {name}, over the {limit[key]:,.0f} allowed "
        f"({max_utilization:.0%} of {cap[key]:,}) by {excess:,.0f} with every layer at its largest useful reuse "
        f"factor; the largest is layer '{worst.name}' ({share:,.0f} {name} at {_label(worst)})")


def _label(cost) -> str:
    return "Latency (hard-wired)" if cost.strategy == "latency" else f"Resource, reuse factor {cost.reuse_factor}"


def hls_layer_name(onnx_name: str, hls_names) -> str:
    """The hls4ml layer of an ONNX compute node: hls4ml 1.3's ONNX frontend names them '<Class>_<node name>'
    (Conv2D_Conv_0, Dense_MatMul_0); fall back to the node name itself."""
    names = list(hls_names)
    if onnx_name in names:
        return onnx_name
    hits = [n for n in names if n.endswith("_" + onnx_name)]
    return hits[0] if len(hits) == 1 else onnx_name


def apply_plan_to_hls_config(config: dict, plan: FitPlan, layer_names: dict[str, str] | None = None) -> dict:
    """Write the plan into an hls4ml config made with granularity='name' (hls4ml.utils.config_from_onnx_model).
    `layer_names` maps ONNX node names to hls4ml layer names; by default they are looked up in the config."""
    layer_cfg = config.setdefault("LayerName", {})
    for onnx_name, choice in plan.choices.items():
        hls_name = (layer_names or {}).get(onnx_name) or hls_layer_name(onnx_name, layer_cfg)
        entry = layer_cfg.setdefault(hls_name, {})
        entry["Strategy"] = "Latency" if choice.strategy == "latency" else "Resource"
        entry["ReuseFactor"] = choice.reuse_factor
    return config
