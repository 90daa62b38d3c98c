"""report.json/.md/.html from an estimate (no build) and from a build-shaped report; `jpq2hw report`."""

from pathlib import Path
import json
import re
import shutil
import subprocess

import pytest

from jpq2hw.cli import main
from jpq2hw.report.build_report import render_markdown, write_reports
from jpq2hw.report.html_report import render_html

DATA = Path(__file__).parent / "data"  # not imported from conftest: several test folders have one

BUILD_KEYS = ["model", "board", "backend", "io_type", "bit_exact", "vectors", "mismatched_vectors", "max_abs_error",
              "first_divergent_layer", "layers", "totals", "timings_s"]


def as_build_report(estimate_report):
    """What jpq2hw build writes (issue 2 keys) plus the estimate."""
    return {**estimate_report, "backend": "Vitis", "reuse_factor": 1, "bit_exact": True, "vectors": 100,
            "mismatched_vectors": 0, "max_abs_error": 0.0, "first_divergent_layer": None,
            "reference": "onnxruntime-qcdq-float32", "axis_wrapper": "bit-exact", "host_ops": [],
            "host_tail_max_abs_error": None, "host_tail_within_tolerance": True,
            "hls_types": {"Conv_0": {"weight_t": "ap_fixed<4,1>"}}, "timings_s": {"load": 0.1, "compile": 9.0}}


def test_estimate_report_content(estimate_report):
    est = estimate_report["estimate"]
    assert [l["name"] for l in est["layers"]] == [l["name"] for l in estimate_report["layers"]]
    conv0 = est["layers"][0]
    assert conv0["op"] == "Conv" and conv0["params"] == 8 * 3 * 3 * 3
    assert conv0["bops"] == estimate_report["layers"][0]["bops"]
    assert est["board"]["fit"] == "fits" and est["io_type"] == "io_parallel"
    assert est["performance"]["ii_cycles"] == 64  # 8x8 output pixels, one per cycle
    assert est["reductions"]["dense_float32"]["weight_memory_bits"] > 8


def test_markdown_sections(estimate_report):
    md = render_markdown(estimate_report)
    for text in ("# jpq2hw estimate report", "## Layers", "## Hardware estimate (before synthesis)",
                 "| LUT |", "Reduction versus the same network dense", "not checked"):
        assert text in md
    assert "## Time per step" not in md
    built = render_markdown(as_build_report(estimate_report))
    assert "**Bit-exact** | **yes**" in built and "## Time per step" in built


def test_reports_say_what_runs_where(estimate_report):
    built = as_build_report(estimate_report)
    assert "Everything runs in hardware" in render_markdown(built)
    host = {**built, "host_ops": [{"name": "ReduceSum_0", "op": "ReduceSum", "where": "host (tail, onnxruntime float32)"}],
            "host_tail_max_abs_error": 2.5e-7, "host_tail_within_tolerance": False}
    md, html = render_markdown(host), render_html(host)
    assert "| ReduceSum_0 | - | ReduceSum | host (tail, onnxruntime float32) |" in md
    assert "2.5e-07, OUTSIDE the float tolerance" in md and "Everything runs in hardware" not in md
    assert 'id="where"' in html and "<td class=\"l\">ReduceSum_0</td>" in html and "OUTSIDE" in html
    named = {**host, "host_ops": [{**host["host_ops"][0], "source_name": "reduce_sum"}]}
    assert "| ReduceSum_0 | reduce_sum | ReduceSum |" in render_markdown(named)


def test_html_is_self_contained_and_has_the_sections(estimate_report):
    html = render_html(as_build_report(estimate_report))
    for section in ('id="resources"', 'id="reductions"', 'id="sparsity"', 'id="bits"', 'id="lut"', 'id="layers"'):
        assert section in html
    assert html.count("<svg") >= 5 and "Bit-exact vs onnxruntime" in html and ">yes<" in html
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert "Estimate vs synthesis" not in html


def test_write_reports_keeps_build_keys_and_adds_estimate_and_synthesis(tmp_path, estimate_report):
    report = as_build_report(estimate_report)
    rdir = tmp_path / "hls" / "myproject_prj" / "solution1" / "syn" / "report"
    rdir.mkdir(parents=True)
    shutil.copy(DATA / "vivado_hls_2019.2_conv2d" / "csynth.xml", rdir / "csynth.xml")
    write_reports(tmp_path, report)
    data = json.loads((tmp_path / "report.json").read_text())
    assert all(k in data for k in BUILD_KEYS) and "estimate" in data
    assert data["synthesis"]["hls"]["resources"]["lut"] == 8722
    html = (tmp_path / "report.html").read_text()
    md = (tmp_path / "report.md").read_text()
    assert "Estimate vs synthesis" in html and "8,722" in html
    assert "## Estimate vs synthesis (Vivado HLS 2019.2" in md
    assert "not the board's xc7z020clg400-1" in md and "not the board&#39;s" in html  # the test report is for a ZU9


def test_report_without_estimate_still_renders(estimate_report):
    report = {k: v for k, v in as_build_report(estimate_report).items() if k != "estimate"}
    assert "## Hardware estimate" not in render_markdown(report)
    assert 'id="layers"' in render_html(report)


def test_cli_report(tmp_path, conv_model, capsys):
    assert main(["report", str(conv_model), "--board", "arty-a7-100t", "-o", str(tmp_path / "r"),
                 "--csynth", str(DATA / "vitis_hls_sample" / "csynth.xml")]) == 0
    out = capsys.readouterr().out
    assert "Hardware estimate" in out and "arty-a7-100t" in out and "Estimate vs synthesis (Vitis HLS" in out
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"report.json", "report.md", "report.html", ".jpq2hw-report"}
    assert main(["report", str(conv_model), "-o", str(tmp_path / "r")]) == 2  # not replaced without --force
    assert "pass --force" in capsys.readouterr().err
    assert main(["report", str(conv_model), "-o", str(tmp_path / "r"), "--force"]) == 0  # our own: replaced
    capsys.readouterr()
    assert main(["report", str(conv_model), "--fit", "auto", "--io", "stream"]) == 0
    assert "io_stream" in capsys.readouterr().out


def test_cli_report_errors(tmp_path, conv_model, capsys):
    assert main(["report", str(conv_model), "--board", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'nope'" in err and len(err.strip().splitlines()) == 1
    assert main(["report", str(tmp_path / "missing.onnx")]) == 2
    assert main(["report", str(conv_model), "--csynth", str(tmp_path / "none.xml")]) == 2


def test_sparser_model_gets_a_smaller_estimate(tmp_path):
    from report_models import conv_net

    from jpq2hw.commands.report import build_estimate_report

    dense = build_estimate_report(conv_net(tmp_path / "d.onnx", sparsity=0.0), "pynq-z2")["estimate"]["totals"]
    sparse = build_estimate_report(conv_net(tmp_path / "s.onnx", sparsity=0.75), "pynq-z2")["estimate"]["totals"]
    ratio = sparse["nonzero_params"] / dense["nonzero_params"]
    assert ratio == pytest.approx(0.25, abs=0.01)
    for key in ("lut", "multipliers", "weight_memory_bits", "bops"):
        assert sparse[key] < dense[key]
    assert sparse["multipliers"] / dense["multipliers"] == pytest.approx(ratio)
    assert sparse["lut"] / dense["lut"] == pytest.approx(ratio, rel=0.05)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_html_renders_in_headless_chromium(tmp_path, estimate_report):
    page = tmp_path / "report.html"
    page.write_text(render_html(as_build_report(estimate_report)))
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,1600",
                    page.as_uri()], capture_output=True, timeout=60, check=False)
    assert shot.exists() and shot.stat().st_size > 20000


def _with_yosys(report, delay_ns):
    layer = report["layers"][0]["name"]
    yosys = {"tool": "Yosys 0.23", "simulator": "Icarus Verilog 11", "family": "xc7", "bit_exact": True,
             "vectors": 8, "note": "pre-route", "layers": [{"name": layer, "sparsity": 0.5, "estimate_lut": 300, "lut": 321, "ff": 12,
                                                             "carry": 40, "dsp": 0, "bram": 0,
                                                             "logic_delay_ns": delay_ns - 1.0}],
             "top": {"lut": 987, "ff": 65, "carry": 90, "dsp": 0, "bram": 0, "logic_delay_ns": delay_ns}}
    return {**as_build_report(report), "synthesis": {"yosys": yosys}}


def test_yosys_numbers_beside_the_estimate_with_a_timing_warning(estimate_report):
    period = 1000 / estimate_report["clock_mhz"]
    slow = _with_yosys(estimate_report, period + 1.2)
    md, html = render_markdown(slow), render_html(slow)
    lut = estimate_report["estimate"]["totals"]["lut"]
    assert f"| LUT | {lut} | 987 |" in md and f"<td>{lut:,}</td><td>987</td>" in html
    for text in (md, html):
        assert f"{period + 1.2:g} ns, more than the {period:g} ns clock period" in text
    fast = _with_yosys(estimate_report, period - 2.0)
    assert "clock period at" not in render_markdown(fast) and "clock period at" not in render_html(fast)
    assert "| LUT |" in render_markdown(fast) and 'id="yosys"' in render_html(fast)


def test_ports_listed_with_shape_and_axi_word_width(estimate_report):
    ports = estimate_report["interface"]
    # 3 channels: the channels-last Transpose is a layer of the design, so the top takes the file's layout
    assert ports["input"]["shape"] == [3, 8, 8] and ports["input"]["words"] == 8 * 8 * 3
    assert ports["input"]["type"] == estimate_report["input_type"] and ports["input"]["axis_word_bits"] == 8
    assert ports["output"]["type"] is None  # exact only after conversion
    md, html = render_markdown(estimate_report), render_html(estimate_report)
    assert "| Input | shape [3, 8, 8]" in md and "192 AXI-Stream words of 8 bits" in md
    assert "192 AXI-Stream words of 8 bits" in html and "(width set by the build)" in md


def test_a_page_that_cannot_render_is_recorded_not_fatal(estimate_report, tmp_path, monkeypatch):
    """Rendering report.html fails: report.md and report.json are still written, and report.json says why."""
    import jpq2hw.report.html_report as html_report

    def broken(report):
        return None * 2  # the kind of TypeError a template hit on a weightless layer

    monkeypatch.setattr(html_report, "render_html", broken)
    failed = write_reports(tmp_path, as_build_report(estimate_report))
    assert [f["step"] for f in failed] == ["render report.html"] and "TypeError" in failed[0]["error"]
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["failed_steps"] == failed
    assert (tmp_path / "report.md").is_file() and not (tmp_path / "report.html").exists()
