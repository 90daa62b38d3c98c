"""The result of `jpq2hw compress` as a person reads it: the metric before and after, one row per weight layer
(names as the user wrote them), and memory / BOPs with the definitions of jpq2hw/compress/metrics.py."""

from __future__ import annotations

from jpq2hw.compress.graph import user_name


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def summary_lines(float_val, final_val, metrics: dict, float_metrics: dict, survivors: dict | None = None) -> list[str]:
    """`survivors`: the last step's per-layer survivors from compress's history (adds the output channels that
    still have a weight, and the fewest nonzero weights any output channel kept)."""
    lines = []
    if isinstance(float_val, float) and isinstance(final_val, float):
        lines.append(f"val {float_val:.4f} float -> {final_val:.4f} compressed ({final_val - float_val:+.4f})")
    else:
        lines.append(f"val {_num(float_val)} float -> {_num(final_val)} compressed")
    survivors = survivors or {}
    rows = [("layer", "weights", "sparsity", "w bits", "in bits", "kbit", "MBOPs")
            + (("out ch alive", "min w/ch") if survivors else ())]
    for l in metrics["layers"]:
        name = user_name(l["name"])
        row = (name, str(l["total"]), f"{1 - l['nonzero'] / l['total']:.3f}", str(l["weight_bits"]),
               str(l["act_bits"]), f"{l['memory_bits'] / 1000:.2f}", f"{l['bops'] / 1e6:.3f}")
        if survivors:
            info = survivors.get(name)
            row += ((f"{info['out_channels'] - len(info['dead_channels'])}/{info['out_channels']}",
                     str(min(info["nonzero_per_channel"], default=0))) if info else ("-", "-"))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        lines.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    fm, m = float_metrics, metrics
    lines.append(f"sparsity {m['sparsity']:.3f} ({m['nonzero']}/{m['weights']} weights kept); weight memory "
                 f"{fm['memory_bits'] / 1000:.1f} -> {m['memory_bits'] / 1000:.1f} kbit; "
                 f"BOPs {fm['bops'] / 1e6:.2f} -> {m['bops'] / 1e6:.3f} M")
    return lines
