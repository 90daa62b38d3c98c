"""The built network as an emulator program: each hls4ml layer's kind, wiring, types and weights (as the integer
codes the generated C++ holds), read from the same hls4ml model the writer wrote, and saved beside the build
(OUT/emulator/) so that the emulator runs without hls4ml."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jpq2hw.emulate.fixed import Fix, Unsupported, fix_of, from_float

FORMAT = 1


@dataclass
class Op:
    kind: str  # hls4ml class name
    name: str
    inputs: list[str]
    output: str
    shape: list[int]  # output shape without the batch axis (hls4ml's, channels-last for images)
    types: dict[str, Fix] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Program:
    ops: list[Op]
    outputs: list[str]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"{i}/{k}": v for i, op in enumerate(self.ops) for k, v in op.arrays.items()}
        np.savez_compressed(folder / "weights.npz", **arrays)
        doc = {"format": FORMAT, "outputs": self.outputs, "ops": [
            {"kind": op.kind, "name": op.name, "inputs": op.inputs, "output": op.output, "shape": op.shape,
             "types": {k: t.to_json() for k, t in op.types.items()}, "params": op.params,
             "arrays": sorted(op.arrays)} for op in self.ops]}
        (folder / "program.json").write_text(json.dumps(doc, indent=1) + "\n")

    @staticmethod
    def load(folder: Path) -> "Program":
        doc = json.loads((folder / "program.json").read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{folder}: emulator program format {doc.get('format')}, expected {FORMAT}")
        with np.load(folder / "weights.npz", allow_pickle=False) as data:
            ops = [Op(d["kind"], d["name"], d["inputs"], d["output"], d["shape"],
                      {k: Fix(**t) for k, t in d["types"].items()}, d["params"],
                      {k: data[f"{i}/{k}"] for k in d["arrays"]}) for i, d in enumerate(doc["ops"])]
        return Program(ops, doc["outputs"])


# hls4ml layer class -> the attributes its emulation needs
_CONV = ("filt_height", "filt_width", "stride_height", "stride_width", "pad_top", "pad_bottom", "pad_left",
         "pad_right", "dilation_height", "dilation_width")
_PARAMS = {
    "Conv2D": _CONV,
    "PointwiseConv2D": _CONV,
    "DepthwiseConv2D": _CONV,
    "Resize": ("in_height", "in_width", "out_height", "out_width", "algorithm"),
    "ZeroPadding2D": ("pad_top", "pad_bottom", "pad_left", "pad_right"),
    "Pooling2D": ("pool_height", "pool_width", "stride_height", "stride_width", "pad_top", "pad_bottom",
                  "pad_left", "pad_right", "pool_op"),
    "Transpose": ("perm",),
    "Activation": ("activation",),
    "Merge": ("op",),
    "Concatenate": ("axis",),
    "Jpq2hwThreshold": ("out_lo", "out_step", "n_chan", "n_levels"),
    "StereoCostVolume": ("n_feat", "max_disp"),
    "StereoArgmax": ("max_disp",),
}
_LAYOUT = ("Reshape",)
_MULTIPLYING = ("Dense", "Conv2D", "PointwiseConv2D", "DepthwiseConv2D")
SUPPORTED = ("Input", "Dense", *_PARAMS, *_LAYOUT)


def _attr(layer, name):
    value = layer.get_attr(name)
    if hasattr(value, "item"):
        value = value.item()
    return list(value) if isinstance(value, tuple) else value


def from_hls_model(hls_model) -> Program:
    """Read every layer of the converted (and exactly typed) hls4ml model; Unsupported names the first layer the
    emulator cannot reproduce."""
    ops = []
    for layer in hls_model.get_layers():
        kind = layer.class_name
        if kind not in SUPPORTED:
            raise Unsupported(f"layer {layer.name} ({kind})")
        types = {}
        for key, value in layer.attributes.items():
            if key.endswith("_t") and hasattr(value, "precision") and key != "table_t":
                try:
                    types[key] = fix_of(value.precision)
                except Unsupported as exc:
                    raise Unsupported(f"layer {layer.name} ({kind}): {exc}") from None
        params = {p: _attr(layer, p) for p in _PARAMS.get(kind, ())}
        if kind == "Activation":
            params["activation"] = str(params["activation"]).lower()
            if params["activation"] not in ("linear", "relu"):
                raise Unsupported(f"layer {layer.name} ({kind} {params['activation']})")
        if kind == "Resize" and str(params["algorithm"]).lower() != "nearest":
            raise Unsupported(f"layer {layer.name} ({kind} {params['algorithm']})")
        if kind == "Pooling2D" and str(params["pool_op"]).lower() != "max":
            raise Unsupported(f"layer {layer.name} ({kind} {params['pool_op']})")
        if kind in _MULTIPLYING:
            strategy = str(layer.get_attr("strategy", "latency") or "latency").lower()
            if strategy not in ("latency", "resource", "resource_unrolled"):
                raise Unsupported(f"layer {layer.name} ({kind}, strategy {strategy})")
        arrays = {}
        for key, var in layer.weights.items():
            fix = types.get(f"{key}_t") or fix_of(var.type.precision)
            types[f"{key}_t"] = fix
            data = np.asarray(var.data, dtype=np.float64)
            if key == "weight" and layer.get_attr("_weights_transposed", False):
                # hls4ml's resource strategy stored them transposed for its kernel: back to (in..., out)
                data = data.T if data.ndim == 2 else np.moveaxis(data, 0, -1)
            arrays[key] = from_float(data, fix)
        out = layer.get_output_variable()
        ops.append(Op(kind, layer.name, list(layer.inputs), layer.outputs[0], [int(d) for d in out.shape],
                      types, params, arrays))
    outputs = [v.name if hasattr(v, "name") else str(v) for v in hls_model.get_output_variables()]
    names = {op.output for op in ops}
    # hls4ml names the output variables after the layers' outputs
    outputs = [o for o in (hls_model.outputs or outputs) if o in names] or [ops[-1].output]
    return Program(ops, outputs)
