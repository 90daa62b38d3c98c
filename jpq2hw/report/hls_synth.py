"""Read an HLS synthesis report (`csynth.xml`) so the build report can put synthesis next to the estimate.

Two layouts of the same file are accepted:
- Vivado HLS (tested on a real 2019.2 report, tests/report/data/vivado_hls_2019.2_conv2d/csynth.xml): flat
  elements, DSPs under `DSP48E`, no XML declaration.
- Vitis HLS (2020.1 and later): the same sections, DSPs under `DSP`, an XML declaration, `FlowTarget` in
  UserAssignments, latency fields that may read `undef` when HLS cannot bound them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jpq2hw.errors import JpqError

_RESOURCE_TAGS = {"lut": ("LUT",), "ff": ("FF",), "dsp": ("DSP", "DSP48E", "DSP48E2"), "bram18": ("BRAM_18K",),
                  "uram": ("URAM",)}


@dataclass
class SynthReport:
    tool: str  # "Vivado HLS" | "Vitis HLS"
    version: str
    part: str
    top: str
    target_clock_ns: float | None
    estimated_clock_ns: float | None
    latency_best_cycles: int | None
    latency_worst_cycles: int | None
    interval_min_cycles: int | None
    interval_max_cycles: int | None
    resources: dict = field(default_factory=dict)  # lut, ff, dsp, bram18, bram36, uram
    available: dict = field(default_factory=dict)
    path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _text(root, path: str) -> str | None:
    node = root.find(path)
    return node.text.strip() if node is not None and node.text is not None else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:  # 'undef', '?', ''
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _resources(node) -> dict:
    out = {}
    if node is None:
        return out
    for key, tags in _RESOURCE_TAGS.items():
        for tag in tags:
            value = _int(_text(node, tag))
            if value is not None:
                out[key] = value
                break
    if "bram18" in out:
        out["bram36"] = out["bram18"] / 2
    return out


def parse_csynth(path: str | Path) -> SynthReport:
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise JpqError(f"{path}: not a readable csynth.xml ({exc})") from None
    if root.tag != "profile" or root.find("AreaEstimates") is None:
        raise JpqError(f"{path}: not an HLS csynth.xml report (no <profile>/<AreaEstimates>)")
    version = _text(root, "ReportVersion/Version") or "?"
    area = root.find("AreaEstimates/Resources")
    is_vitis = (root.find("UserAssignments/FlowTarget") is not None
                or (area is not None and area.find("DSP") is not None)
                or _major(version) >= 2020)
    lat = "PerformanceEstimates/SummaryOfOverallLatency/"
    return SynthReport(
        tool="Vitis HLS" if is_vitis else "Vivado HLS",
        version=version,
        part=_text(root, "UserAssignments/Part") or "?",
        top=_text(root, "UserAssignments/TopModelName") or "?",
        target_clock_ns=_float(_text(root, "UserAssignments/TargetClockPeriod")),
        estimated_clock_ns=_float(_text(root, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        latency_best_cycles=_int(_text(root, lat + "Best-caseLatency")),
        latency_worst_cycles=_int(_text(root, lat + "Worst-caseLatency")),
        interval_min_cycles=_int(_text(root, lat + "Interval-min")),
        interval_max_cycles=_int(_text(root, lat + "Interval-max")),
        resources=_resources(area),
        available=_resources(root.find("AreaEstimates/AvailableResources")),
        path=str(path),
    )


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


def find_csynth(project_dir: str | Path, top: str = "myproject") -> Path | None:
    """The csynth.xml of an HLS project folder (OUT/hls): <prj>/solution*/syn/report/csynth.xml, else
    <top>_csynth.xml, else any csynth.xml below it. None when synthesis has not run."""
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        return None
    for pattern in ("*_prj/solution*/syn/report/csynth.xml", f"*_prj/solution*/syn/report/{top}_csynth.xml",
                    "**/csynth.xml", f"**/{top}_csynth.xml"):
        hits = sorted(project_dir.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        if hits:
            return hits[0]
    return None


def synthesis_for_report(out_dir: str | Path) -> dict | None:
    """report.json's `synthesis` entry when OUT/hls holds a synthesis report, else None."""
    found = find_csynth(Path(out_dir) / "hls")
    return parse_csynth(found).to_dict() if found is not None else None
