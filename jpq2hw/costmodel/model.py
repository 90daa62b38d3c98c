"""The cost model: per compute layer (Conv, MatMul) and in total. Everything here is an ESTIMATE made before
synthesis from the quantized weights alone; Vitis/Vivado HLS and place-and-route decide the real numbers.

Sparsity, weight memory and BOPs are jpq2hw/metrics.py's (the same figures as the build report and
`jpq2hw compress`). The hardware quantities, per layer (nz = nonzero weights of the tensor the hardware holds,
N = all its weights, b_w = weight bits, b_a = bits of the activation feeding the layer, 32 when unknown,
P = output pixels, 1 for a dense layer):

  multipliers         = Latency: nz (one constant multiplier per nonzero weight, shared over pixels);
                        Resource with reuse factor R: ceil(N / R) (hls4ml's Resource kernels read the whole
                        dense matrix from BRAM, so a zero is multiplied like any other weight)
  LUT                 = Latency: alpha * nz * b_w * b_a  (constants become shift-adds; see CALIBRATION)
                        Resource: per multiplier a fabric multiplier (or a DSP), its accumulator and an
                        R:1 input multiplexer
  DSP                 = multipliers whose operands are wide enough for Vivado/Vitis HLS to bind to a DSP48
  BRAM                = Resource, R > 1: hls4ml's ROM of N * b_w bits reshaped to ceil(N / R) words per cycle
  II / latency        = from the reuse factor and the io type, in clock cycles at the board clock

Not counted: activations, pooling, padding, stream FIFOs, the AXI wrapper and control logic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from jpq2hw import metrics
from jpq2hw.ops import WEIGHT_OPS, WIRING_OPS

FLOAT_BITS = metrics.FLOAT_BITS

# ---------------------------------------------------------------------------------------------------------
# Calibration of the hard-wired (Latency) LUT model: LUT = alpha * nz * b_w * b_a.
#
# Measured points (jpq2hw team, da4ml 0.6.0 CMVM -> Verilog -> yosys 0.23 `synth_xilinx -family xc7`,
# LUT count from `stat -json`): a 64x32 dense layer, 4-bit weights, 8-bit activations, random weights at
# four sparsities:  dense 16,372 LUT; 90% sparse 2,261; 95% 1,060; 99% 130.
# alpha_da is the least-squares fit through the origin on relative error over those points (~0.256 LUT per
# nonzero weight-bit x activation-bit; every point within +-27%).
#
# hls4ml documents that its distributed-arithmetic (da4ml) strategy "can usually reduce up to 30% of the
# LUTs and all DSPs" compared to the Latency strategy (https://fastmachinelearning.org/hls4ml/advanced/da.html;
# da4ml README, https://pypi.org/project/da4ml/: "up to 50% less LUT"). jpq2hw generates the Latency strategy,
# so alpha = alpha_da / (1 - 0.30): the upper end of that range, a deliberately conservative figure for fitting.
CALIBRATION_POINTS = [  # (weights, nonzero, weight bits, act bits, measured LUT)
    (2048, 2048, 4, 8, 16372),
    (2048, 205, 4, 8, 2261),
    (2048, 102, 4, 8, 1060),
    (2048, 20, 4, 8, 130),
]
LATENCY_OVER_DA = 1 / (1 - 0.30)

# FF per LUT: the ratio in the Vivado HLS 2019.2 synthesis report of an hls4ml conv2d project
# (tests/report/data/vivado_hls_2019.2_conv2d/csynth.xml: FF 4,187, LUT 8,722).
FF_PER_LUT = 4187 / 8722

# A product is bound to a DSP48 when its operands together are at least this wide; narrower products are
# built in the fabric (Vivado/Vitis HLS binding heuristic; hls4ml designs with <= 8-bit operands use few or
# no DSPs). A DSP48E1 multiplies 25 x 18 bits; wider products take several.
DSP_MIN_PRODUCT_BITS = 18
DSP_A_BITS, DSP_B_BITS = 25, 18

# A general (not constant) fabric multiplier of n x m bits: about n*m/2 LUT6 for the partial products plus
# an (n+m)-bit adder (rule of thumb for array multipliers in 6-input LUTs with carry chains; not calibrated).
GENERIC_MULT_LUT_PER_BITPRODUCT = 0.5

# Pipeline depth of one layer: 1 cycle for the products, then this many adder-tree levels per cycle.
ADDER_LEVELS_PER_CYCLE = 3

# BRAM18 aspect ratios (7-series / UltraScale RAMB18, simple dual port for the widest): depth -> width.
BRAM18_SHAPES = [(512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)]

DISCLAIMER = (
    "Estimate before synthesis, from the quantized weights only (cost model in jpq2hw/costmodel; LUTs "
    "calibrated on da4ml+yosys measurements, conservative for hls4ml's Latency strategy). Only the Conv/MatMul "
    "layers are counted: `not_counted` lists the rest of the hardware (activations, pooling, custom layers, "
    "stream FIFOs, control). Vitis/Vivado HLS and place-and-route give the real numbers."
)


def _alpha_da() -> float:
    r = [nz * bw * ba / lut for _, nz, bw, ba, lut in CALIBRATION_POINTS]
    return sum(r) / sum(x * x for x in r)


ALPHA_DA = _alpha_da()
ALPHA_LATENCY = ALPHA_DA * LATENCY_OVER_DA

CALIBRATION = {
    "lut_per_nonzero_bitproduct_da": round(ALPHA_DA, 4),
    "lut_per_nonzero_bitproduct_latency": round(ALPHA_LATENCY, 4),
    "ff_per_lut": round(FF_PER_LUT, 4),
    "dsp_min_product_bits": DSP_MIN_PRODUCT_BITS,
    "generic_mult_lut_per_bitproduct": GENERIC_MULT_LUT_PER_BITPRODUCT,
}

STRATEGIES = ("latency", "resource")
IO_TYPES = ("io_parallel", "io_stream")


# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostLayer:
    """What the cost model needs to know of one compute layer."""

    name: str
    op: str  # Conv | MatMul
    weight_bits: int
    act_bits: int | None
    params: int
    nonzero_params: int
    n_in: int  # fan-in of one output (k*k*c_in for a conv, inputs for a dense layer)
    n_out: int  # outputs per pixel (output channels / features)
    out_pixels: int = 1  # output pixels (1 for a dense layer): how often each weight is used per inference
    in_pixels: int = 1
    accum_bits: int | None = None
    # the layer's jpq2hw.metrics.layer_entry (memory, BOPs; shared kernels once): set from the build's LayerStats
    metrics: dict | None = field(default=None, compare=False, hash=False)

    @property
    def a_bits(self) -> int:
        return self.act_bits or FLOAT_BITS

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero_params / self.params if self.params else 0.0

    @property
    def acc_bits(self) -> int:
        if self.accum_bits:
            return self.accum_bits
        return self.weight_bits + self.a_bits + math.ceil(math.log2(max(self.n_in, 2)))

    def dense(self) -> "CostLayer":
        """The same layer without pruning."""
        return replace(self, nonzero_params=self.params, metrics=None)

    def figures(self) -> dict:
        """Memory and BOPs by jpq2hw/metrics.py: the build's own when known, else this tensor alone."""
        return self.metrics or metrics.layer_entry(self.name, self.params, self.nonzero_params, self.n_out,
                                                   self.out_pixels, self.weight_bits, self.act_bits)

    @classmethod
    def from_stats(cls, stats, n_in: int, n_out: int, in_pixels: int = 1) -> "CostLayer":
        """The hardware's tensor (a shared kernel as many times as it runs), with the build's metrics."""
        return cls(name=stats.name, op=stats.op, weight_bits=stats.weight_bits, act_bits=stats.act_bits,
                   params=stats.hw_params, nonzero_params=stats.hw_nonzero, n_in=n_in, n_out=n_out,
                   out_pixels=stats.macs_per_weight, in_pixels=in_pixels, accum_bits=stats.accum_bits,
                   metrics=stats.metrics())


@dataclass(frozen=True)
class LayerChoice:
    strategy: str = "latency"  # latency (hard-wired constants) | resource (weights in BRAM, reuse factor R)
    reuse_factor: int = 1

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: one of {STRATEGIES}")
        if self.reuse_factor < 1:
            raise ValueError("reuse factor must be >= 1")

    @property
    def label(self) -> str:
        return "Latency" if self.strategy == "latency" else f"Resource R={self.reuse_factor}"


@dataclass
class LayerCost:
    name: str
    op: str
    strategy: str
    reuse_factor: int
    weight_bits: int
    act_bits: int | None
    params: int
    nonzero_params: int
    sparsity: float
    weight_memory_bits: int  # jpq2hw/metrics.py (the same whatever the strategy)
    bops: int
    multipliers: int
    lut: int
    ff: int
    dsp: int
    bram18: int
    ii_cycles: int
    latency_cycles: int

    @property
    def bram36(self) -> float:
        return self.bram18 / 2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sparsity"] = round(self.sparsity, 6)
        d["bram36"] = self.bram36
        return d


# ---------------------------------------------------------------------------------------------------------
def uses_dsp(w_bits: int, a_bits: int) -> bool:
    return w_bits + a_bits >= DSP_MIN_PRODUCT_BITS


def dsp_per_product(w_bits: int, a_bits: int) -> int:
    a, b = max(w_bits, a_bits), min(w_bits, a_bits)
    return math.ceil(a / DSP_A_BITS) * math.ceil(b / DSP_B_BITS)


def rom_bram18(total_bits_words: int, word_bits: int, depth: int) -> int:
    """RAMB18 blocks for a ROM `depth` words deep and `word_bits` wide."""
    if total_bits_words <= 0 or word_bits <= 0:
        return 0
    for max_depth, width in BRAM18_SHAPES:
        if depth <= max_depth:
            return math.ceil(word_bits / width)
    return math.ceil(word_bits / 1) * math.ceil(depth / BRAM18_SHAPES[-1][0])


def pipeline_depth(layer: CostLayer) -> int:
    levels = math.ceil(math.log2(max(layer.n_in, 2)))
    return 1 + math.ceil(levels / ADDER_LEVELS_PER_CYCLE) + 1  # products, adder tree, output cast


def ii_cycles(layer: CostLayer, choice: LayerChoice, io_type: str) -> int:
    r = choice.reuse_factor if choice.strategy == "resource" else 1
    if layer.op == "Conv":
        if io_type == "io_stream":
            # the line buffer takes one input pixel per cycle; each output pixel holds the kernel R cycles
            return layer.in_pixels + layer.out_pixels * (r - 1)
        return layer.out_pixels * r  # io_parallel conv: one output pixel per R cycles
    return r


def layer_cost(layer: CostLayer, choice: LayerChoice = LayerChoice(), io_type: str = "io_parallel") -> LayerCost:
    bw, ba = layer.weight_bits, layer.a_bits
    nz, n = layer.nonzero_params, layer.params
    dsp_mult = uses_dsp(bw, ba)
    if choice.strategy == "latency":
        mults = nz
        if dsp_mult:
            dsp = mults * dsp_per_product(bw, ba)
            lut = mults * layer.acc_bits  # only the accumulating adders stay in the fabric
        else:
            dsp = 0
            lut = ALPHA_LATENCY * nz * bw * ba
        bram18 = 0
    else:
        r = choice.reuse_factor
        mults = math.ceil(n / r)
        # each multiplier picks its input among min(R, fan-in) activations: a b_a-bit mux, 4:1 per LUT6
        ways = min(r, layer.n_in)
        mux = ba * math.ceil((ways - 1) / 3) if ways > 1 else 0
        if dsp_mult:
            dsp = mults * dsp_per_product(bw, ba)
            lut = mults * (layer.acc_bits + mux)
        else:
            dsp = 0
            lut = mults * (GENERIC_MULT_LUT_PER_BITPRODUCT * bw * ba + bw + ba + layer.acc_bits + mux)
        # hls4ml puts the weights in a BRAM ROM only for R > 1 (`#pragma HLS RESOURCE ... ROM_nP_BRAM`)
        bram18 = rom_bram18(n, mults * bw, r) if r > 1 else 0
    fig = layer.figures()  # params, sparsity, memory, BOPs: the stored kernel (jpq2hw/metrics.py)
    registers = layer.n_out * layer.acc_bits  # accumulators / output registers
    ff = FF_PER_LUT * lut + registers
    ii = ii_cycles(layer, choice, io_type)
    return LayerCost(
        name=layer.name, op=layer.op, strategy=choice.strategy,
        reuse_factor=choice.reuse_factor if choice.strategy == "resource" else 1,
        weight_bits=bw, act_bits=layer.act_bits, params=fig["total"], nonzero_params=fig["nonzero"],
        sparsity=1.0 - fig["nonzero"] / fig["total"] if fig["total"] else 0.0,
        weight_memory_bits=fig["memory_bits"], bops=fig["bops"], multipliers=int(mults),
        lut=int(math.ceil(lut)), ff=int(math.ceil(ff)), dsp=int(dsp), bram18=int(bram18),
        ii_cycles=int(ii), latency_cycles=int(ii + pipeline_depth(layer)),
    )


# ---------------------------------------------------------------------------------------------------------
@dataclass
class Estimate:
    io_type: str
    clock_mhz: float
    layers: list[LayerCost]
    board: object | None = None  # jpq2hw.boards.Board
    max_utilization: float = 0.8
    baselines: dict = field(default_factory=dict)

    def total(self, key: str):
        return sum(getattr(l, key) for l in self.layers)

    @property
    def ii_cycles(self) -> int:
        return max((l.ii_cycles for l in self.layers), default=1)

    @property
    def latency_cycles(self) -> int:
        if self.io_type == "io_stream":  # layers overlap as pixels stream through
            return self.ii_cycles + sum(l.latency_cycles - l.ii_cycles for l in self.layers)
        return sum(l.latency_cycles for l in self.layers)

    def resources(self) -> dict:
        return {"lut": self.total("lut"), "ff": self.total("ff"), "dsp": self.total("dsp"),
                "bram36": self.total("bram18") / 2}

    def capacity(self) -> dict | None:
        if self.board is None:
            return None
        r = self.board.resources
        return {"lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram36": r.bram36}

    def utilization(self) -> dict | None:
        cap = self.capacity()
        if cap is None:
            return None
        used = self.resources()
        return {k: (used[k] / cap[k] if cap[k] else (math.inf if used[k] else 0.0)) for k in used}

    def fit_status(self) -> str | None:
        util = self.utilization()
        if util is None:
            return None
        worst = max(util.values())
        if worst <= self.max_utilization:
            return "fits"
        return "tight" if worst <= 1.0 else "does not fit"

    def totals(self) -> dict:
        t = {k: self.total(k) for k in ("params", "nonzero_params", "weight_memory_bits", "bops", "multipliers",
                                        "lut", "ff", "dsp", "bram18")}
        t["bram36"] = t["bram18"] / 2
        t["sparsity"] = round(1 - t["nonzero_params"] / t["params"], 6) if t["params"] else 0.0
        return t

    def to_dict(self) -> dict:
        clock = self.clock_mhz
        util = self.utilization()
        d = {
            "note": DISCLAIMER,
            "io_type": self.io_type,
            "clock_mhz": clock,
            "calibration": CALIBRATION,
            "layers": [l.to_dict() for l in self.layers],
            "totals": self.totals(),
            "performance": {
                "ii_cycles": self.ii_cycles,
                "latency_cycles": self.latency_cycles,
                "latency_us": round(self.latency_cycles / clock, 4),
                "throughput_per_s": round(clock * 1e6 / self.ii_cycles, 1),
            },
            "baselines": self.baselines,
            "reductions": reductions(self.totals(), self.baselines),
        }
        if self.board is not None:
            d["board"] = {"name": self.board.name, "part": self.board.part, "capacity": self.capacity(),
                          "utilization": {k: round(v, 5) for k, v in util.items()},
                          "max_utilization": self.max_utilization, "fit": self.fit_status()}
        return d


def reductions(totals: dict, baselines: dict) -> dict:
    """Factor by which the design is smaller than each baseline (baseline / ours)."""
    out = {}
    for name, base in baselines.items():
        out[name] = {k: (round(base[k] / totals[k], 3) if totals.get(k) else None)
                     for k in ("weight_memory_bits", "bops", "lut", "dsp", "multipliers") if k in base}
    return out


def baselines(layers: list[CostLayer], choices: dict[str, LayerChoice], io_type: str) -> dict:
    """The same network dense at float32 (memory, BOPs, multipliers) and dense at the same bit widths (all);
    memory and BOPs by jpq2hw/metrics.py."""
    figures = [l.figures() for l in layers]
    f32 = {"weight_memory_bits": sum(f["float_memory_bits"] for f in figures),
           "bops": sum(f["float_bops"] for f in figures),
           "multipliers": sum(l.params for l in layers)}
    same = [layer_cost(l.dense(), choices.get(l.name, LayerChoice()), io_type) for l in layers]
    same_bits = {k: sum(getattr(c, k) for c in same) for k in ("multipliers", "lut", "ff", "dsp", "bram18")}
    same_bits.update(weight_memory_bits=sum(f["dense_memory_bits"] for f in figures),
                     bops=sum(f["dense_bops"] for f in figures))
    return {"dense_float32": f32, "dense_same_bits": same_bits}


def estimate(layers: list[CostLayer], board=None, io_type: str = "io_parallel", clock_mhz: float | None = None,
             choices: dict[str, LayerChoice] | None = None, reuse_factor: int = 1,
             max_utilization: float = 0.8) -> Estimate:
    """Per-layer and total cost. `choices` maps layer name -> LayerChoice; layers not in it use the build's
    global setting: Latency when reuse_factor == 1, else Resource with that reuse factor (what jpq2hw build
    gives hls4ml today)."""
    if io_type not in IO_TYPES:
        raise ValueError(f"io_type {io_type!r}: one of {IO_TYPES}")
    default = LayerChoice() if reuse_factor == 1 else LayerChoice("resource", reuse_factor)
    choices = {l.name: (choices or {}).get(l.name, default) for l in layers}
    clock = float(clock_mhz or (board.clock_mhz if board is not None else 100.0))
    costs = [layer_cost(l, choices[l.name], io_type) for l in layers]
    return Estimate(io_type=io_type, clock_mhz=clock, layers=costs, board=board, max_utilization=max_utilization,
                    baselines=baselines(layers, choices, io_type))


# ---------------------------------------------------------------------------------------------------------
def cost_layers(model, analysis) -> list[CostLayer]:
    """CostLayers of a normalized (channels-last) QONNX ModelWrapper and its `analyze()` result."""
    nodes = {n.name: n for n in model.graph.node}
    out = []
    for stats in analysis.layers:
        node = nodes[stats.name]
        w_shape = list(model.get_tensor_shape(node.input[1]))
        if stats.op == "Conv":  # channels-last weights: [c_out, k_h, k_w, c_in] (or OIHW before conversion)
            n_out, n_in = w_shape[0], int(np.prod(w_shape[1:]))
            in_shape = model.get_tensor_shape(node.input[0])
            in_pixels = int(np.prod(in_shape[1:-1])) if in_shape else stats.macs_per_weight
        else:  # MatMul weights: [in, out]
            n_in, n_out, in_pixels = w_shape[0], w_shape[-1], 1
        out.append(CostLayer.from_stats(stats, n_in=int(n_in), n_out=int(n_out), in_pixels=in_pixels))
    return out


STREAM_BUFFERS = "io_stream FIFOs between layers and convolution line buffers"


def not_counted(model, io_type: str) -> list[dict]:
    """What becomes hardware but is not in the estimate (the model counts the Conv/MatMul layers only): one
    entry per op type of the hardware graph, plus the stream buffers in io_stream."""
    def constant(tensor: str) -> bool:
        producer = model.find_producer(tensor)
        if producer is None:
            return model.get_initializer(tensor) is not None
        return producer.op_type == "Quant" and model.get_initializer(producer.input[0]) is not None

    def on_graph_input(node) -> bool:  # the input quantizer only sets the input's type
        while node is not None and node.input[0] != model.graph.input[0].name:
            node = model.find_producer(node.input[0])
            if node is not None and node.op_type not in WIRING_OPS:
                return False
        return node is not None

    counts: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.op_type in WEIGHT_OPS or node.op_type in WIRING_OPS:  # estimated, or free
            continue
        if node.op_type == "Quant" and on_graph_input(node):
            continue
        if all(constant(i) for i in node.input if i):  # a weight/bias quantizer: part of its layer
            continue
        if node.op_type == "Add" and any(constant(i) for i in node.input):  # a bias: part of the layer before
            continue
        counts.setdefault(node.op_type, []).append(node.name)
    missing = [{"op": op, "count": len(names), "nodes": names} for op, names in counts.items()]
    if io_type == "io_stream":
        missing.append({"op": STREAM_BUFFERS, "count": None, "nodes": []})
    return missing


def verdict(fit: str | None, missing: list[dict]) -> str | None:
    """The fit, saying what the estimate leaves out."""
    if fit is None:
        return None
    if not missing:
        return fit
    parts = [m["op"] if m["count"] is None else f"{m['count']} {m['op']}" for m in missing]
    return f"{fit} (compute layers only; not counted: {', '.join(parts)})"


def estimate_for_report(model, analysis, board, io_type: str = "io_parallel", reuse_factor: int = 1,
                        clock_mhz: float | None = None, choices: dict[str, LayerChoice] | None = None,
                        est: Estimate | None = None) -> dict:
    """The `estimate` entry of report.json (`est`: an estimate already made, e.g. by --fit auto), with what
    it does not count and a verdict that says so."""
    if est is None:
        est = estimate(cost_layers(model, analysis), board, io_type=io_type, clock_mhz=clock_mhz, choices=choices,
                       reuse_factor=reuse_factor)
    d = est.to_dict()
    d["not_counted"] = not_counted(model, est.io_type)
    if "board" in d:
        d["board"]["verdict"] = verdict(d["board"]["fit"], d["not_counted"])
    return d
