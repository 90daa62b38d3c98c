#!/usr/bin/env bash
# Render a report in headless Chromium and save a PNG screenshot (default docs/report.png).
#   scripts/screenshot_report.sh                 # build the demo model (bit-exact check included), screenshot it
#   scripts/screenshot_report.sh MODEL.onnx      # build MODEL.onnx for pynq-z2, screenshot its report
#   scripts/screenshot_report.sh REPORT.html     # screenshot an existing report
#   second argument: the PNG to write; HEIGHT=... sets the window height (default 2000)
# A build here runs `jpq2hw build`, then (until build.py calls the cost model itself) adds the estimate to
# its report.json and re-renders report.md/.html, exactly as the build will. Needs Debian's chromium.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${2:-$root/docs/report.png}")
arg=${1:-}
work=$(mktemp -d)
if [[ $arg == *.html ]]; then
  page=$(realpath "$arg")
else
  if [[ -z $arg ]]; then
    arg=$work/sparse_convnet.onnx
    (cd "$root" && python -c "
import sys; sys.path.insert(0, 'tests/report')
from report_models import conv_net; conv_net(__import__('pathlib').Path('$arg'), sparsity=0.7)")
  fi
  jpq2hw build "$(realpath "$arg")" --board pynq-z2 -o "$work/build" --quiet || true
  python - "$work/build" <<'PY'
import json, sys
from pathlib import Path
from qonnx.core.modelwrapper import ModelWrapper
from jpq2hw.annotate.quant_types import analyze
from jpq2hw.boards import load_board
from jpq2hw.costmodel import estimate_for_report
from jpq2hw.report.build_report import write_reports
out = Path(sys.argv[1])
report = json.loads((out / "report.json").read_text())
model = ModelWrapper(str(out / "model_normalized.onnx"))
analysis = analyze(model, report["model"])
accum = {l["name"]: l["accum_bits"] for l in report["layers"]}
for layer in analysis.layers:
    layer.accum_bits = accum.get(layer.name)
report["estimate"] = estimate_for_report(model, analysis, load_board(report["board"]), io_type=report["io_type"],
                                         reuse_factor=report["reuse_factor"], clock_mhz=report["clock_mhz"])
report["model"] = Path(report["model"]).name
write_reports(out, report)
PY
  page=$work/build/report.html
fi
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n $chrome ]] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 2; }
"$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$work/profile" --screenshot="$out" \
  --window-size=1280,"${HEIGHT:-2000}" "file://$page" 2>/dev/null
rm -rf "$work/profile"
echo "$out (from $page)"
