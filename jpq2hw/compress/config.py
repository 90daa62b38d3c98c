"""The compression config: one dataclass, loadable from YAML or JSON, validated with one-line errors.

`method` picks a preset (the paper-style joint pipeline or one of the baselines); every other field
can override the preset. Per-layer bit widths go in `layer_bits: {module_name: {weight: b, act: b}}`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from jpq2hw.errors import JpqError

METHODS = ("joint", "magnitude", "quantize_then_prune", "ptq")
SCORES = ("taylor", "magnitude", "random")
FINETUNE_MODES = ("masked", "regrow", "qat")
SCHEDULES = ("cubic", "stepwise")
CRITERIA = ("global", "lamp", "per_layer")
LR_SCHEDULES = ("constant", "cosine")
ORDERS = ("prune_then_quantize", "quantize_then_prune")

# What each method sets unless the config says otherwise.
METHOD_PRESETS = {
    "joint": {"score": "taylor", "order": "prune_then_quantize", "ptq": False},
    "magnitude": {"score": "magnitude", "order": "prune_then_quantize", "ptq": False},
    "quantize_then_prune": {"score": "taylor", "order": "quantize_then_prune", "ptq": False},
    "ptq": {"score": "taylor", "order": "prune_then_quantize", "ptq": True},
}


@dataclass
class CompressConfig:
    method: str = "joint"
    # pruning (stage 1)
    target_sparsity: float = 0.95
    score: str = "taylor"
    score_batches: int = 8            # mini-batches the Taylor score is accumulated over
    schedule: str = "cubic"
    prune_steps: int = 5
    epochs_per_step: int = 2          # fine-tuning epochs after each pruning step
    min_kept_per_layer: int = 4       # never empty a layer (layer collapse kills accuracy)
    min_kept_per_channel: int = 1     # never empty an output channel (a dead disparity bin or class)
    allow_dead_channels: list = field(default_factory=list)  # layer names whose output channels may be emptied
    prune_criterion: str = "global"   # global: L2-normalised scores compared across layers (the paper) | lamp
                                      # (layer-adaptive: LAMP normalisation, then global) | per_layer
    layer_sparsity: dict = field(default_factory=dict)  # {layer name: its own final sparsity}
    exclude: list = field(default_factory=list)         # layer names never pruned (e.g. the first conv)
    finetune: str = "regrow"          # masked | regrow | qat; regrow measured best (docs/compress.md)
    regrow_interval: int = 10         # batches between mask updates in regrow/qat modes
    regrow_fraction: float = 0.05     # at most this fraction of kept weights swapped per update
    # quantization (stage 2)
    weight_bits: int = 4
    act_bits: int = 8
    input_bits: int = 8
    input_signed: bool = False
    bias_bits: int = 8
    first_layer_weight_bits: int | None = None
    last_layer_weight_bits: int | None = None
    layer_bits: dict = field(default_factory=dict)
    qat_epochs: int = 6
    calibration_batches: int = 8
    order: str = "prune_then_quantize"
    ptq: bool = False
    # training
    lr: float = 1e-3
    lr_schedule: str = "constant"     # cosine: decays within each pruning step (rewound at every step) and over QAT
    distill: float = 0.0              # weight of the distillation term (KL to the float parent's outputs), 0 = off
    distill_temperature: float = 1.0
    qat_lr: float | None = None       # defaults to lr / 2
    pretrain_epochs: int = 0
    seed: int = 0
    checkpoint_dir: str | None = None

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        def bad(name, msg):
            raise JpqError(f"compress config: {name}: {msg}")

        for f in dataclasses.fields(self):  # types first: the range checks below compare numbers
            value = getattr(self, f.name)
            allowed = _FIELD_TYPES[f.name]
            if not _has_type(value, allowed):
                names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
                bad(f.name, f"{value!r} is a {type(value).__name__}, expected {names}")
        if self.method not in METHODS:
            bad("method", f"{self.method!r} is not one of {', '.join(METHODS)}")
        if not 0.0 <= self.regrow_fraction <= 1.0:
            bad("regrow_fraction", f"{self.regrow_fraction} must be in [0, 1]")
        if not 0.0 <= self.target_sparsity < 1.0:
            bad("target_sparsity", f"{self.target_sparsity} must be in [0, 1)")
        for name, allowed in (("score", SCORES), ("finetune", FINETUNE_MODES), ("schedule", SCHEDULES),
                              ("order", ORDERS), ("prune_criterion", CRITERIA),
                              ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, name) not in allowed:
                bad(name, f"{getattr(self, name)!r} is not one of {', '.join(allowed)}")
        # 2..8 bits: QuantToQCDQ (and so onnxruntime) only lowers Quant nodes of that width.
        for name in ("weight_bits", "act_bits", "input_bits", "bias_bits", "first_layer_weight_bits",
                     "last_layer_weight_bits"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 2 <= value <= 8):
                bad(name, f"{value!r} must be an integer from 2 to 8")
        if not isinstance(self.layer_sparsity, dict):
            bad("layer_sparsity", "must be a mapping {layer name: sparsity}")
        for layer, value in self.layer_sparsity.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                bad(f"layer_sparsity.{layer}", f"{value!r} must be a number in [0, 1)")
        for name in ("exclude", "allow_dead_channels"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
                bad(name, "must be a list of layer names")
        if not 0.0 <= self.distill <= 1.0:
            bad("distill", f"{self.distill} must be in [0, 1]")
        if not self.distill_temperature > 0:
            bad("distill_temperature", f"{self.distill_temperature} must be positive")
        if not isinstance(self.layer_bits, dict):
            bad("layer_bits", "must be a mapping {layer name: {weight: bits, act: bits}}")
        for layer, bits in self.layer_bits.items():
            if not isinstance(bits, dict) or set(bits) - {"weight", "act"}:
                bad(f"layer_bits.{layer}", "must be a mapping with keys 'weight' and/or 'act'")
            for kind, value in bits.items():
                if not (isinstance(value, int) and 2 <= value <= 8):
                    bad(f"layer_bits.{layer}.{kind}", f"{value!r} must be an integer from 2 to 8")
        for name in ("score_batches", "prune_steps", "regrow_interval", "calibration_batches"):
            if getattr(self, name) < 1:
                bad(name, "must be at least 1")
        for name in ("epochs_per_step", "qat_epochs", "pretrain_epochs", "min_kept_per_layer", "min_kept_per_channel"):
            if getattr(self, name) < 0:
                bad(name, "must not be negative")

    @classmethod
    def for_method(cls, method: str = "joint", **overrides) -> "CompressConfig":
        """A config with the method's preset applied, then `overrides`."""
        if not isinstance(method, str) or method not in METHOD_PRESETS:
            raise JpqError(f"compress config: method: {method!r} is not one of {', '.join(METHODS)}")
        values = {**METHOD_PRESETS[method], **overrides, "method": method}
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "CompressConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise JpqError(f"{source}: unknown compress option(s): {', '.join(unknown)}")
        data = dict(data)
        return cls.for_method(data.pop("method", "joint"), **data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def qat_learning_rate(self) -> float:
        return self.qat_lr if self.qat_lr is not None else self.lr / 2


_TYPE_NAMES = {"int": int, "float": float, "str": str, "bool": bool, "dict": dict, "list": list, "None": type(None)}
# the annotation of each field ("int | None", ...) as a tuple of types
_FIELD_TYPES = {f.name: tuple(_TYPE_NAMES[t.strip()] for t in str(f.type).split("|"))
                for f in dataclasses.fields(CompressConfig)}


def _has_type(value, allowed: tuple) -> bool:
    """YAML's `4` is an int where a float is wanted (fine), `"4"` a str and `true` a bool (not numbers)."""
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and float in allowed:
        return True
    return isinstance(value, allowed)


MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_ALIASES = 32  # anchors (&a) reused by aliases (*a) nest: 9 levels of 9 aliases are a billion values


def _load_yaml(text: str, path: Path):
    """yaml.safe_load, after counting aliases in the event stream (which expands nothing)."""
    import yaml

    aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))
    if aliases > MAX_YAML_ALIASES:
        raise JpqError(f"{path}: {aliases} YAML aliases (*name), more than the {MAX_YAML_ALIASES} a config may use "
                       f"(nested aliases expand exponentially)")
    return yaml.safe_load(text)


def load_config_file(path: str | Path) -> dict:
    """Read a YAML or JSON file into a dict (the CLI config holds more than CompressConfig)."""
    path = Path(path)
    if not path.is_file():
        raise JpqError(f"{path}: config file not found")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise JpqError(f"{path}: {path.stat().st_size:,} bytes, more than a config needs ({MAX_CONFIG_BYTES:,})")
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise JpqError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = _load_yaml(text, path)
    except JpqError:
        raise
    except Exception as exc:  # parser messages are multi-line; keep the first line
        lines = str(exc).splitlines() or [type(exc).__name__]
        raise JpqError(f"{path}: cannot parse: {lines[0]}") from None
    if not isinstance(data, dict):
        raise JpqError(f"{path}: expected a mapping at the top level")
    return data
