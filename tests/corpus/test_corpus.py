"""Every file of the public QONNX corpus (../shared/corpus): built with the options its table row gives, exit 0 and
bit-exact on a few vectors, or refused in one line naming the true cause. Real exporters' files, not imitations."""

import json

import pytest

from jpq2hw.cli import main
from testkit.corpus import CASES, CORPUS_DIR, corpus_path

VECTORS = "8"  # few vectors: each case compiles and runs one C-simulation (with the AXI-Stream wrapper check)

pytestmark = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"the QONNX corpus is not at {CORPUS_DIR}")


def _build(case, tmp_path, capsys, *options):
    out = tmp_path / "out"
    code = main(["build", str(corpus_path(case)), "-o", str(out), "-q", "--vectors", str(min(int(VECTORS), case.vectors)),
                 *options])
    return code, capsys.readouterr().err.strip(), out


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_corpus_file_builds_exact_or_is_refused_in_one_line(case, tmp_path, capsys):
    if case.pending:
        pytest.xfail(f"not supported yet: {case.pending}")
    code, err, out = _build(case, tmp_path, capsys, *case.options)
    assert "internal error" not in err, err
    if case.expect == "exact":
        assert code == 0, err
        report = json.loads((out / "report.json").read_text())
        assert report["bit_exact"] is True
        assert report["vectors"] >= min(int(VECTORS), case.vectors)
        # the numpy emulator computed the C++'s bits on every simulated vector (jpq2hw/verify/emulator_check.py)
        assert report["emulator"]["status"] == "agrees", report["emulator"]
        if "--input-type" in case.options:  # the report says the input grid was declared, not read from the model
            declared = case.options[case.options.index("--input-type") + 1]
            assert report["input_type_declared"] == declared
            assert "declared with `--input-type`" in (out / "report.md").read_text()
    else:
        assert code == 2 and len(err.splitlines()) == 1, err
        assert case.expect in err, err
        assert not out.exists()


NEEDS_INPUT_TYPE = [c for c in CASES if c.needs_input_type]


@pytest.mark.parametrize("case", NEEDS_INPUT_TYPE, ids=[c.file for c in NEEDS_INPUT_TYPE])
def test_float_input_is_refused_first_with_an_input_type_suggestion(case, tmp_path, capsys):
    """Without --input-type a float input is the first thing named (not a layer refused on unquantized data),
    with a type to try that the option accepts."""
    from jpq2hw.frontend.input_type import parse_input_type

    code, err, out = _build(case, tmp_path, capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert case.file in err and "--input-type " in err, err
    assert "per-channel" not in err and "Softmax" not in err, err
    parse_input_type(err.split("--input-type ")[1].split()[0])  # the suggestion is a valid option value
    assert not out.exists()


HEAD_ONLY = [c for c in CASES if not c.needs_input_type and "--input-type" in c.options]


@pytest.mark.parametrize("case", HEAD_ONLY, ids=[c.file for c in HEAD_ONLY])
def test_float_input_through_a_relu_into_a_quant_needs_no_option(case, capsys):
    """input -> Relu -> Quant: the model quantizes its input itself (the Relu runs on the host, before it), so the
    front half accepts it without --input-type (`jpq2hw report`: no C++)."""
    code = main(["report", str(corpus_path(case))])
    err = capsys.readouterr().err.strip()
    assert code == 0, err
