"""Custom layers beyond what hls4ml maps by itself. Importing this package registers each one: its hls4ml layer
and templates (hls4ml's extension API), the pattern pass that puts it into the hardware graph
(jpq2hw.normalize.passes.register_pattern_pass), the ops it absorbs
(jpq2hw.frontend.supported_ops.register_pattern_ops) and its exact-type rule
(jpq2hw.convert.exact_precision.register_rule)."""

from jpq2hw.extensions import thresholds

thresholds.register()

from jpq2hw.extensions import stereo  # noqa: E402,F401  (stereo cost volume + disparity regression)
