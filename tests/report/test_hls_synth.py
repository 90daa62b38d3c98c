"""csynth.xml parser: the real Vivado HLS 2019.2 report and a hand-written sample of the Vitis HLS layout."""

from pathlib import Path
import shutil

import pytest

from jpq2hw.errors import JpqError
from jpq2hw.report.hls_synth import find_csynth, parse_csynth, synthesis_for_report

DATA = Path(__file__).parent / "data"  # not imported from conftest: several test folders have one

VIVADO = DATA / "vivado_hls_2019.2_conv2d" / "csynth.xml"
VITIS = DATA / "vitis_hls_sample" / "csynth.xml"


def test_vivado_hls_2019_2_report():
    s = parse_csynth(VIVADO)
    assert (s.tool, s.version, s.part, s.top) == ("Vivado HLS", "2019.2", "xczu9eg-ffvb1156-2-e", "myproject")
    assert s.target_clock_ns == 5.0 and s.estimated_clock_ns == 3.77
    assert (s.latency_best_cycles, s.latency_worst_cycles) == (243, 2293)
    assert (s.interval_min_cycles, s.interval_max_cycles) == (227, 2277)
    assert s.resources == {"lut": 8722, "ff": 4187, "dsp": 8, "bram18": 4, "bram36": 2.0, "uram": 0}
    assert s.available["lut"] == 274080 and s.available["dsp"] == 2520 and s.available["bram36"] == 912


def test_vitis_hls_layout():
    s = parse_csynth(VITIS)
    assert s.tool == "Vitis HLS" and s.version == "2023.2" and s.part == "xc7z020-clg400-1"
    assert s.resources["dsp"] == 2 and s.resources["lut"] == 5120 and s.resources["bram36"] == 0
    assert s.interval_min_cycles == 1 and s.interval_max_cycles is None  # 'undef' in the file
    assert s.latency_worst_cycles == 4 and s.target_clock_ns == 10.0


def test_find_in_a_project_tree(tmp_path):
    assert find_csynth(tmp_path / "hls") is None and synthesis_for_report(tmp_path) is None
    report_dir = tmp_path / "hls" / "myproject_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    shutil.copy(VIVADO, report_dir / "csynth.xml")
    assert find_csynth(tmp_path / "hls") == report_dir / "csynth.xml"
    assert synthesis_for_report(tmp_path)["resources"]["lut"] == 8722


def test_not_a_report(tmp_path):
    bad = tmp_path / "csynth.xml"
    bad.write_text("<profile><nothing/></profile>")
    with pytest.raises(JpqError, match="not an HLS csynth.xml"):
        parse_csynth(bad)
    bad.write_text("not xml")
    with pytest.raises(JpqError, match="not a readable"):
        parse_csynth(bad)
