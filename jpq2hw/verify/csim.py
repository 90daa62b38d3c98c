"""C-simulation verdict: compare the C++'s outputs (jpq2hw/writer/axis_check.py runs them) bit for bit with the
reference and, on a mismatch, trace the layers to name the first one that diverges."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from qonnx.core.modelwrapper import ModelWrapper


@dataclass
class Comparison:
    vectors: int
    mismatched_vectors: int
    max_abs_error: float
    first_mismatch: int | None  # index of the first vector that differs

    @property
    def bit_exact(self) -> bool:
        return self.mismatched_vectors == 0


def compare(hw: np.ndarray, ref: np.ndarray) -> Comparison:
    diff = np.abs(hw - ref).reshape(len(hw), -1)
    bad = np.nonzero(np.any(hw.reshape(len(hw), -1) != ref.reshape(len(ref), -1), axis=1))[0]
    return Comparison(
        vectors=len(hw),
        mismatched_vectors=int(len(bad)),
        # a reference value that maps to no hardware code is NaN (streamline.HostIO.reference_codes): it counts
        # as a mismatch above; the error is the largest among the values that do map (inf if none does)
        max_abs_error=(float(np.nanmax(diff)) if np.isfinite(diff).any() else float("inf")) if diff.size else 0.0,
        first_mismatch=int(bad[0]) if len(bad) else None,
    )


def first_divergent_layer(hls_model, hw_model: ModelWrapper, x: np.ndarray) -> str | None:
    """Trace the C++ on one sample and return the first hls4ml layer whose output differs from the tensor
    it stands for in the channels-last graph hls4ml converted (run by qonnx's executor, which knows its
    channels-last ops; a layer that absorbed a quantizer stands for the Quant's output)."""
    from qonnx.core.onnx_exec import execute_onnx

    layers = [l for l in hls_model.get_layers() if l.class_name != "Input"]
    tensor_of = {l.name: _reference_tensor(hw_model, l) for l in layers}
    with contextlib.redirect_stdout(io.StringIO()):
        _, trace = hls_model.trace(np.ascontiguousarray(x.reshape(1, -1), dtype=np.float64))
    try:
        ref = execute_onnx(hw_model, {hw_model.graph.input[0].name: x.astype(np.float32)},
                           return_full_exec_context=True)
    except Exception:  # a graph qonnx cannot execute: no trace, the verdict stands
        return None
    for layer in layers:
        name = tensor_of[layer.name]
        if layer.name not in trace or not name or name not in ref:
            continue
        got = np.asarray(trace[layer.name], dtype=np.float64).ravel()
        want = np.asarray(ref[name], dtype=np.float64).ravel()
        if got.size == want.size and np.any(got != want):
            return layer.name
    return None


def _reference_tensor(model: ModelWrapper, layer) -> str | None:
    tensor = layer.outputs[0]
    absorbed = layer.get_attr("quantizer") is not None and layer.get_attr("activation") != "linear"
    if tensor not in {o for n in model.graph.node for o in n.output} and tensor != model.graph.output[0].name:
        return None
    consumers = model.find_consumers(tensor) or []
    if _has_bias(layer) and len(consumers) == 1 and consumers[0].op_type == "Add" and any(
            model.get_initializer(i) is not None for i in consumers[0].input):
        # hls4ml merged the bias Add into the layer: its output stands for the Add's
        tensor = consumers[0].output[0]
        consumers = model.find_consumers(tensor) or []
    if absorbed and len(consumers) == 1 and consumers[0].op_type == "Quant":
        return consumers[0].output[0]  # hls4ml merged this quantizer into the layer
    return tensor


def _has_bias(layer) -> bool:
    bias = layer.weights.get("bias") if hasattr(layer, "weights") else None
    return bias is not None and bias.data is not None and bool(np.any(np.asarray(bias.data) != 0))
