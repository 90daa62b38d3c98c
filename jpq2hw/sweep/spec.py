"""SWEEP.yaml as a typed SweepSpec. Every error is one line naming the file and the key; every trial's compress
config is built and validated here, before Ray starts or anything is trained.

    entry: digits.py:make            # as in `jpq2hw compress` (file relative to SWEEP.yaml, or module:function)
    output: out/sweep                # the sweep's folder (relative to SWEEP.yaml); a rerun resumes it
    compress: {pretrain_epochs: 30, ...}   # CompressConfig options shared by every trial
    grid:                            # CompressConfig options, each a list of values: one trial per combination
      target_sparsity: [0.9, 0.95, 0.98]
      weight_bits: [8, 4, 3]
      method: [joint, quantize_then_prune]
    search: {sampler: grid}          # or {sampler: nsga2, trials: 12, seed: 0}: Optuna's NSGA-II over the lists
    metric: {name: accuracy, mode: max}    # what the entry's val_fn returns (EPE: mode min)
    objectives: [metric, weight_memory_bits, bops, lut]   # the front's axes (yosys_lut needs build.rtl)
    build: {board: pynq-z2, vectors: 20, io: auto, fit: none, rtl: false}
    max_concurrent: 1                # trials at a time (default: as many as Ray has CPUs for)
    cpus_per_trial: 1
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from jpq2hw.errors import JpqError

OBJECTIVES = ("metric", "weight_memory_bits", "bops", "lut", "yosys_lut")
SAMPLERS = ("grid", "nsga2")
BUILD_KEYS = {"board": str, "vectors": int, "io": str, "fit": str, "rtl": bool, "reuse_factor": int,
              "input_type": str, "seed": int}
TOP_KEYS = ("entry", "output", "compress", "grid", "search", "metric", "objectives", "build", "max_concurrent",
            "cpus_per_trial")


@dataclass
class SweepSpec:
    source: Path                      # the YAML file
    entry: str
    output: Path                      # absolute
    compress: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)  # option -> list of values
    sampler: str = "grid"
    trials: int | None = None         # nsga2 only
    seed: int = 0
    metric_name: str = "accuracy"
    metric_mode: str = "max"
    objectives: tuple = ("metric", "weight_memory_bits", "bops", "lut")
    build: dict = field(default_factory=lambda: {"board": "pynq-z2", "vectors": 20})
    max_concurrent: int | None = None
    cpus_per_trial: float = 1.0

    @property
    def base_dir(self) -> Path:
        return self.source.resolve().parent

    def combinations(self) -> list[dict]:
        """Every point of the grid, in a stable order."""
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]

    def fingerprint(self) -> str:
        """What makes two runs the same sweep (a rerun resumes only then); not the concurrency or the output."""
        what = {"entry": self.entry, "compress": self.compress, "grid": self.grid, "sampler": self.sampler,
                "trials": self.trials, "seed": self.seed, "metric": [self.metric_name, self.metric_mode],
                "objectives": list(self.objectives), "build": self.build}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["source"], d["output"] = str(self.source), str(self.output)
        d["objectives"] = list(self.objectives)
        return d


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_spec(data: dict, source: Path) -> SweepSpec:
    def bad(key, msg):
        raise JpqError(f"{source}: {key}: {msg}")

    if not isinstance(data, dict):
        raise JpqError(f"{source}: expected a mapping at the top level")
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise JpqError(f"{source}: unknown key(s): {', '.join(unknown)} (known: {', '.join(TOP_KEYS)})")
    if not isinstance(data.get("entry"), str):
        bad("entry", "missing or not a string (e.g. entry: model.py:make)")
    output = data.get("output", "sweep_out")
    if not isinstance(output, str) or not output:
        bad("output", f"{output!r} must be a folder name")
    base = source.resolve().parent
    compress = data.get("compress") or {}
    if not isinstance(compress, dict):
        bad("compress", "expected a mapping of compress options")
    if "checkpoint_dir" in compress:
        bad("compress.checkpoint_dir", "each trial keeps its own checkpoints in its folder; remove this option")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict) or not grid:
        bad("grid", "expected a mapping {compress option: [values, ...]} with at least one option")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            bad(f"grid.{key}", f"{values!r} must be a non-empty list of values")
        if key in compress:
            bad(f"grid.{key}", "is also set under compress; set it in one place")
        if key == "checkpoint_dir":
            bad("grid.checkpoint_dir", "each trial keeps its own checkpoints in its folder")

    search = data.get("search") or {}
    if not isinstance(search, dict) or set(search) - {"sampler", "trials", "seed"}:
        bad("search", "expected {sampler: grid|nsga2, trials: N, seed: S}")
    sampler = search.get("sampler", "grid")
    if sampler not in SAMPLERS:
        bad("search.sampler", f"{sampler!r} is not one of {', '.join(SAMPLERS)}")
    trials = search.get("trials")
    if sampler == "nsga2" and not (_is_int(trials) and trials >= 1):
        bad("search.trials", f"{trials!r}: nsga2 needs the number of trials, an integer >= 1")
    if sampler == "grid" and trials is not None:
        bad("search.trials", "a grid runs every combination; trials is for sampler nsga2")
    if sampler == "nsga2":  # Optuna's categorical choices are plain values
        for key, values in grid.items():
            for v in values:
                if v is not None and not isinstance(v, (bool, int, float, str)):
                    bad(f"grid.{key}", f"{v!r}: the nsga2 sampler chooses among plain values (numbers, strings, "
                        f"booleans); use sampler grid for mappings and lists")
    seed = search.get("seed", 0)
    if not _is_int(seed):
        bad("search.seed", f"{seed!r} must be an integer")

    metric = data.get("metric") or {}
    if not isinstance(metric, dict) or set(metric) - {"name", "mode"}:
        bad("metric", "expected {name: accuracy, mode: max|min}")
    metric_name, metric_mode = metric.get("name", "accuracy"), metric.get("mode", "max")
    if not isinstance(metric_name, str) or not metric_name:
        bad("metric.name", f"{metric_name!r} must be a name")
    if metric_mode not in ("max", "min"):
        bad("metric.mode", f"{metric_mode!r} must be max or min")

    objectives = data.get("objectives", ["metric", "weight_memory_bits", "bops", "lut"])
    if not isinstance(objectives, list) or len(objectives) < 2:
        bad("objectives", "expected a list of at least two of " + ", ".join(OBJECTIVES))
    for o in objectives:
        if o not in OBJECTIVES:
            bad("objectives", f"{o!r} is not one of {', '.join(OBJECTIVES)}")
    if len(set(objectives)) != len(objectives):
        bad("objectives", "an objective is listed twice")

    build = {"board": "pynq-z2", "vectors": 20, **(data.get("build") or {})}
    if not isinstance(data.get("build") or {}, dict):
        bad("build", "expected a mapping of build options")
    for key, value in build.items():
        if key not in BUILD_KEYS:
            bad(f"build.{key}", f"unknown build option (known: {', '.join(BUILD_KEYS)})")
        want = BUILD_KEYS[key]
        if not (isinstance(value, want) and (want is bool or not isinstance(value, bool))):
            bad(f"build.{key}", f"{value!r} must be a {want.__name__}")
    if "yosys_lut" in objectives and not build.get("rtl"):
        bad("objectives", "yosys_lut needs build.rtl: true (Yosys runs only with --rtl)")
    _check_build_options(build, source)

    max_concurrent = data.get("max_concurrent")
    if max_concurrent is not None and not (_is_int(max_concurrent) and max_concurrent >= 1):
        bad("max_concurrent", f"{max_concurrent!r} must be an integer >= 1")
    cpus = data.get("cpus_per_trial", 1)
    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0:
        bad("cpus_per_trial", f"{cpus!r} must be a number > 0")

    spec = SweepSpec(source=source, entry=data["entry"], output=(base / output).resolve(), compress=dict(compress),
                     grid={k: list(v) for k, v in grid.items()}, sampler=sampler, trials=trials, seed=seed,
                     metric_name=metric_name, metric_mode=metric_mode, objectives=tuple(objectives), build=build,
                     max_concurrent=max_concurrent, cpus_per_trial=float(cpus))
    for point in spec.combinations():  # every trial's config, valid before the first one runs
        compress_config(spec, point)
    return spec


def _check_build_options(build: dict, source: Path) -> None:
    from jpq2hw.pipeline import BuildOptions, check_options

    opts = BuildOptions(model=Path("model.onnx"), out=Path("/nonexistent/jpq2hw-sweep-check"),
                        **{k: v for k, v in build.items()})
    try:
        check_options(opts)
    except JpqError as exc:
        raise JpqError(f"{source}: build: {exc}") from None


def compress_config(spec: SweepSpec, point: dict, checkpoint_dir: str | None = None):
    """The CompressConfig of one trial: the shared options, then the trial's point of the grid."""
    from jpq2hw.compress.config import CompressConfig

    where = ", ".join(f"{k}={v!r}" for k, v in point.items())
    options = {**spec.compress, **point, "checkpoint_dir": checkpoint_dir}
    try:
        return CompressConfig.from_dict(options, source="compress config")
    except JpqError as exc:
        raise JpqError(f"{spec.source}: grid point {where}: {exc}") from None


def spec_from_dict(data: dict) -> SweepSpec:
    """The inverse of SweepSpec.to_dict (how a Ray worker gets the spec: plain data, already validated)."""
    data = dict(data)
    data["source"], data["output"] = Path(data["source"]), Path(data["output"])
    data["objectives"] = tuple(data["objectives"])
    return SweepSpec(**data)


def load_spec(path: str | Path) -> SweepSpec:
    from jpq2hw.compress.config import load_config_file

    path = Path(path)
    # absolute: trials run elsewhere (a Ray worker's own working folder, another node)
    return parse_spec(load_config_file(path), path.resolve())
