"""Convert the normalized QONNX model with hls4ml, with exact types, into an HLS project folder."""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.annotate.quant_types import ModelAnalysis
from jpq2hw.convert import exact_precision
from jpq2hw.core.node_names import node_label
from jpq2hw.errors import JpqError, disk_full

PROJECT_NAME = "myproject"


@dataclass(frozen=True)
class ConvertOptions:
    backend: str = "Vitis"  # Vitis | Vivado
    io_type: str = "io_parallel"  # io_parallel | io_stream
    reuse_factor: int = 1
    clock_mhz: float = 100.0
    part: str = "xc7z020clg400-1"
    plan: object = None  # a costmodel FitPlan (--fit auto): per-layer strategy and reuse factor


def hls_config(model: ModelWrapper, analysis: ModelAnalysis, opts: ConvertOptions) -> dict:
    import hls4ml

    config = hls4ml.utils.config_from_onnx_model(
        model, granularity="name", backend=opts.backend, default_precision="fixed<32,16>",
        default_reuse_factor=opts.reuse_factor,
    )
    config["Model"][exact_precision.CONFIG_KEY] = True
    config["Model"]["Strategy"] = "Latency" if opts.reuse_factor == 1 else "Resource"
    if opts.plan is not None:
        from jpq2hw.costmodel.fit import apply_plan_to_hls_config

        apply_plan_to_hls_config(config, opts.plan)
    for layer in config["LayerName"].values():
        layer["Trace"] = True  # lets the check name the first layer that diverges
    config["LayerName"].setdefault(analysis.input_name, {})["Precision"] = {
        "result": analysis.input_quant.fixed_type().hls()
    }
    return config


def convert(model: ModelWrapper, analysis: ModelAnalysis, project_dir: Path, opts: ConvertOptions, quiet=True):
    """Returns the hls4ml ModelGraph with the project written to `project_dir`."""
    import hls4ml

    exact_precision.install()
    chatter = io.StringIO()  # hls4ml prints its topology on stdout; keep the user's terminal for progress
    try:
        with contextlib.redirect_stdout(chatter), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = hls_config(model, analysis, opts)
            hls_model = hls4ml.converters.convert_from_onnx_model(
                model.model,
                output_dir=str(project_dir),
                project_name=PROJECT_NAME,
                io_type=opts.io_type,
                backend=opts.backend,
                part=opts.part,
                clock_period=round(1000.0 / opts.clock_mhz, 3),
                hls_config=config,
            )
            hls_model.write()
    except exact_precision.NotExactError as exc:
        raise JpqError(f"cannot make the hardware exact: {exc}") from None
    except JpqError:
        raise
    except Exception as exc:
        full = disk_full(exc)
        if full is not None:
            raise full from None
        raise JpqError(f"hls4ml could not convert the model: {_conversion_error(model, exc)}") from None
    return hls_model


def _named_types(layer) -> dict:
    return {k: v for k, v in layer.attributes.items() if k.endswith("_t") and hasattr(v, "precision")}


def layer_types(hls_model) -> dict[str, dict[str, str]]:
    """Per hls4ml layer: the C++ types it was given (for the report)."""
    return {layer.name: {k: str(v.precision) for k, v in _named_types(layer).items()}
            for layer in hls_model.get_layers()}


def widest_type_bits(hls_model) -> int:
    """The width in bits of the widest type hls4ml gave any tensor, accumulator or constant."""
    return max((int(v.precision.width) for layer in hls_model.get_layers() for v in _named_types(layer).values()
                if getattr(v.precision, "width", None) is not None), default=0)


def accumulator_widths(hls_model) -> dict[str, int]:
    """Output tensor -> width of the accum_t hls4ml was given, per layer that has one (hls4ml keeps the ONNX
    tensor names)."""
    widths = {}
    for layer in hls_model.get_layers():
        acc = layer.get_attr("accum_t")
        if acc is not None and layer.outputs:
            widths[layer.outputs[0]] = int(acc.precision.width)
    return widths


def _conversion_error(model: ModelWrapper, exc: Exception) -> str:
    """hls4ml's exception in one line: its type, its text, and the node it names (a bare KeyError 'Reshape_0' is a
    name hls4ml looked up and did not find), with that node's name in the user's file."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    key = exc.args[0] if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str) else None
    node = next((n for n in model.graph.node if key is not None and (n.name == key or key in n.output)), None)
    where = f" at {node_label(node, model)}" if node is not None else ""
    if key is not None:
        return f"{type(exc).__name__}: no entry for '{key}' in hls4ml's tables{where}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
