"""Custom layers beyond what hls4ml maps by itself. `register_all()` (idempotent; the build's first step calls
it, so every entry point has them) registers each one: its hls4ml layer and templates (hls4ml's extension API),
the pattern pass that puts it into the hardware graph (jpq2hw.normalize.passes.register_pattern_pass), the ops
it absorbs (jpq2hw.ops.register_pattern_ops), its exact-type rule
(jpq2hw.convert.exact_precision.register_rule) and its qonnx op (for qonnx's executor)."""

from jpq2hw.extensions import stereo, thresholds

EXTENSIONS = (thresholds, stereo)  # each has register(): idempotent, guarded by its module's _REGISTERED


def register_all() -> None:
    for extension in EXTENSIONS:
        extension.register()
