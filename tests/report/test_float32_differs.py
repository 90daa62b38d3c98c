"""The verdict of a float-scale model is against the float64 evaluation; where onnxruntime's float32 alone lands a
quantizer step elsewhere, report.md and report.html say on how many vectors and by how much (and say nothing when
none differ)."""

from jpq2hw.report.build_report import render_markdown
from jpq2hw.report.html_report import render_html

from test_report_escaping import hostile_report


def _report(estimate_report, differs, largest):
    return {**hostile_report(estimate_report), "bit_exact": True, "vectors": 50, "mismatched_vectors": 0,
            "reference": "qonnx-float64", "float32_reference_differs": differs, "float32_max_abs_difference": largest}


def test_float32_differences_are_shown_with_count_and_largest(estimate_report):
    r = _report(estimate_report, [3, 8, 11, 20, 31, 40, 47], 0.078125)
    md = render_markdown(r)
    row = next(l for l in md.splitlines() if l.startswith("| float32 differs"))
    assert "7 of 50 vectors" in row and "0.0781" in row and "qonnx-float64" in row
    html = render_html(r)
    assert "7 differ from float32 onnxruntime by up to 0.0781" in html


def test_nothing_is_said_when_float32_agrees(estimate_report):
    for differs in (None, []):
        r = _report(estimate_report, differs, 0.0 if differs == [] else None)
        assert "float32 differs" not in render_markdown(r)
        assert "differ from float32" not in render_html(r)
