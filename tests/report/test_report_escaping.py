"""Names from the model file are text, never markup: report.html is autoescaped (a node named <script>, a file named
<img onerror=...>.onnx, and type strings like ufixed<8,1,...> come out as text), report.md escapes table cells."""

import re
from html.parser import HTMLParser

from jpq2hw.report.build_report import render_markdown
from jpq2hw.report.html_report import render_html

SCRIPT = "<script>alert(1)</script>"
IMG = "/tmp/<img src=x onerror=alert(2)>.onnx"
PIPE = "a|b`c`<i>\n\x1b[32mbit-exact"


def hostile_report(estimate_report):
    layers = [{**l, "name": PIPE if i == 0 else l["name"]} for i, l in enumerate(estimate_report["layers"])]
    est = dict(estimate_report["estimate"])
    est["layers"] = [{**l, "name": PIPE if i == 0 else l["name"]} for i, l in enumerate(est["layers"])]
    return {**estimate_report, "model": IMG, "layers": layers, "estimate": est, "backend": "Vitis", "reuse_factor": 1,
            "bit_exact": False, "vectors": 10, "mismatched_vectors": 1, "max_abs_error": 1.0,
            "first_divergent_layer": SCRIPT, "reference": "onnxruntime-qcdq-float32", "axis_wrapper": "bit-exact",
            "host_ops": [{"name": SCRIPT, "source_name": PIPE, "op": "ReduceSum", "where": "host"}],
            "host_tail_max_abs_error": None, "host_tail_within_tolerance": True, "float32_reference_differs": None,
            "hls_types": {SCRIPT: {"result_t": "ufixed<8,1,RND_CONV,SAT>"}}, "timings_s": {"load": 0.1}}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)


def test_html_shows_hostile_names_as_text(estimate_report):
    html = render_html(hostile_report(estimate_report))
    parser = Tags()
    parser.feed(html)
    assert not parser.tags & {"script", "img", "ufixed"}, parser.tags
    assert "a|b`c`&lt;i&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;.onnx" in html
    assert "ufixed&lt;8,1,RND_CONV,SAT&gt;" in html and "ufixed<8" not in html


def cells(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_markdown_escapes_table_cells(estimate_report):
    md = render_markdown(hostile_report(estimate_report))
    assert "<script" not in md and "<img" not in md and "<i>" not in md and "\x1b" not in md
    assert md.startswith("# jpq2hw build report: /tmp/&lt;img src=x onerror=alert(2)&gt;.onnx\n")
    host_row = next(l for l in md.splitlines() if "ReduceSum" in l)
    assert cells(host_row) == [" &lt;script&gt;alert(1)&lt;/script&gt; ", " a\\|b\\`c\\`&lt;i&gt;\\n\\x1b[32mbit-exact ",
                               " ReduceSum ", " host "]
    header = next(l for l in md.splitlines() if l.startswith("| Layer | Op |"))
    first_layer = next(l for l in md.splitlines() if l.startswith("| a\\|b"))
    assert len(cells(first_layer)) == len(cells(header))
    assert "ufixed&lt;8,1,RND_CONV,SAT&gt;" in md
