"""`jpq2hw compress CONFIG.yaml`: prune + quantize a model named by a Python entry, write QONNX.

The config file (YAML or JSON):
    entry: digits.py:make          # file (relative to the config) or module, ':' function
    output: out/model.onnx         # QONNX written at the end (relative to the config)
    checkpoint_dir: out/ckpt       # optional; a rerun resumes from here
    compress: {method: joint, target_sparsity: 0.95, weight_bits: 4, ...}   # CompressConfig fields
The entry function returns a dict (or a tuple in this order): model, train_loader, val_fn and,
optionally, example_input (default: the first training batch, one sample) and loss_fn.
"""

from __future__ import annotations

import json
from pathlib import Path

from jpq2hw.entry import load_entry, unpack_entry
from jpq2hw.errors import JpqError, printable
from jpq2hw.progress import Progress


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compress", help="prune + quantize a PyTorch model (Taylor pruning, fixed-point QAT) and export QONNX",
        description="Joint pruning & quantization of a PyTorch model named by a config file, with checkpoints "
        "after every step (a rerun resumes) and an exact QONNX export for `jpq2hw build`. Trust: the config's "
        "`entry` names Python code that is imported and run with your permissions, so running a config is "
        "running a script: use only configs whose entry you would run yourself (see docs/compress.md).")
    p.add_argument("config", help="YAML/JSON config: entry, output, checkpoint_dir, compress options")
    p.add_argument("-o", "--output", help="QONNX output path (overrides the config's output)")
    p.add_argument("--checkpoint-dir", help="checkpoint directory (overrides the config)")
    p.add_argument("--fresh", action="store_true", help="start over: delete the checkpoint files jpq2hw wrote in "
                   "checkpoint_dir (only where its marker file is; nothing else), after the config has validated")
    p.add_argument("--history", help="also write the per-step history as JSON to this path")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args) -> int:
    from jpq2hw.extras import require_extra

    require_extra("compress", "jpq2hw compress")  # before the config is read or anything trained
    from jpq2hw.compress.config import CompressConfig, load_config_file
    from jpq2hw.compress.pipeline import remove_checkpoints

    config_path = Path(args.config)
    data = load_config_file(config_path)
    base = config_path.resolve().parent
    unknown = sorted(set(data) - {"entry", "output", "checkpoint_dir", "compress"})
    if unknown:
        raise JpqError(f"{config_path}: unknown key(s): {', '.join(unknown)}")
    if "entry" not in data:
        raise JpqError(f"{config_path}: missing 'entry' (e.g. entry: model.py:make)")
    options = data.get("compress") or {}
    if not isinstance(options, dict):
        raise JpqError(f"{config_path}: compress: expected a mapping of options")
    options = dict(options)
    for key in ("entry", "output", "checkpoint_dir"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise JpqError(f"{config_path}: {key}: {data[key]!r} must be a string")
    ckpt = args.checkpoint_dir or data.get("checkpoint_dir") or options.get("checkpoint_dir")
    if ckpt:
        ckpt = str((base / ckpt) if not Path(ckpt).is_absolute() and not args.checkpoint_dir else Path(ckpt))
    options["checkpoint_dir"] = ckpt
    config = CompressConfig.from_dict(options, source=f"{config_path}: compress")
    output = Path(args.output) if args.output else base / data.get("output", "compressed.onnx")

    check_output(output, config_path, data["entry"], base)
    progress = Progress(quiet=args.quiet)
    if args.fresh and ckpt:  # only after the whole config is valid, and only our own files
        removed = remove_checkpoints(Path(ckpt))
        if removed:
            progress.info(f"--fresh: removed {', '.join(p.name for p in removed)} from {ckpt}")
    spec = data["entry"]
    try:
        return _run_user_code(args, spec, base, config, output, progress)
    except SystemExit as exc:  # the entry (or its model, loader, val_fn) ended the process: not a success
        raise JpqError(f"entry {spec}: the code it runs called sys.exit({exc.code!r}) before {output} was written"
                       ) from None


MAX_OWN_OUTPUT_BYTES = 2 << 30  # protobuf's limit: a larger file is no model jpq2hw wrote


def check_output(output: Path, config_path: Path, spec: str, base: Path) -> None:
    """Before anything runs: the output may replace only a model `jpq2hw compress` wrote (its metadata says so),
    never the config, the entry's source file, a folder or any other file."""
    from jpq2hw.compress.export import METADATA_KEY

    target = output.resolve()
    entry_file = spec.rsplit(":", 1)[0]
    own = [config_path.resolve()] + ([(base / entry_file).resolve()] if entry_file.endswith(".py") else [])
    if target in own:
        raise JpqError(f"output {output} is the {'config' if target == own[0] else 'entry'} file itself; nothing "
                       f"was run (name another output)")
    if not (target.exists() or output.is_symlink()):
        return
    if not target.is_file():
        raise JpqError(f"output {output} exists and is not a file; nothing was run")
    ours = False
    if target.stat().st_size < MAX_OWN_OUTPUT_BYTES:
        import onnx

        try:
            proto = onnx.load(str(target), load_external_data=False)
            ours = any(p.key == METADATA_KEY for p in proto.metadata_props)
        except Exception:  # not ONNX at all
            ours = False
    if not ours:
        raise JpqError(f"output {output} exists and is not a model jpq2hw compress wrote; nothing was run (delete it "
                       f"yourself or name another output)")


def _run_user_code(args, spec: str, base: Path, config, output: Path, progress: Progress) -> int:
    from jpq2hw.compress import compress, to_qonnx
    from jpq2hw.compress.metrics import model_metrics
    from jpq2hw.compress.summary import summary_lines

    with progress.step("entry", f"loading {spec}"):
        make = load_entry(spec, base)
        try:
            result = make()
        except Exception as exc:  # the user's code: say so, do not call it an internal error
            raise JpqError(f"entry: your entry {spec} raised: {type(exc).__name__}: {exc}") from None
        parts = unpack_entry(result, spec)
    model, train_loader, val_fn = parts["model"], parts["train_loader"], parts["val_fn"]
    example = parts.get("example_input")
    if example is None:
        example = next(iter(train_loader))[0][:1]

    float_val = val_fn(model) if val_fn else None  # the user's float model, before anything is folded or swapped
    float_m = model_metrics(model, example)
    with progress.step("compress", f"compressing ({config.method}, {config.finetune}, "
                       f"sparsity {config.target_sparsity}, {config.weight_bits}-bit weights)"):
        qmodel, history = compress(model, train_loader, val_fn, config, loss_fn=parts.get("loss_fn"),
                                   progress=progress)
    with progress.step("export", f"writing {output}"):
        to_qonnx(qmodel, example, output)
    m = model_metrics(qmodel, example)
    final = history[-1] if history else {}
    for line in summary_lines(float_val, final.get("val"), m, float_m, final.get("layers")):
        progress.info(line)
    if args.history:
        Path(args.history).write_text(json.dumps({"history": history, "float_val": float_val, "metrics": m,
                                                  "float_metrics": float_m}, indent=1, default=str))
    print(printable(output))
    return 0
