"""Optional parts check what they need before any work and name the exact install line."""

import sys

import pytest

from jpq2hw.cli import main
from testkit import EXAMPLES

DIGITS = EXAMPLES / "digits" / "digits_cnn.onnx"


def test_build_rtl_without_da4ml_refuses_before_building(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "da4ml", None)  # as if not installed: find_spec and import both fail
    code = main(["build", str(DIGITS), "--rtl", "-o", str(tmp_path / "out"), "-q"])  # time: benchmarks/refusal_times.py
    err = capsys.readouterr().err
    assert code == 2
    assert "da4ml" in err and "pip install 'jpq2hw[rtl]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_build_rtl_without_yosys_refuses_before_building(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no iverilog, no yosys
    code = main(["build", str(DIGITS), "--rtl", "-o", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "apt-get install -y yosys iverilog" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("module", ["torch", "sklearn"])
def test_compress_without_its_extra_names_the_install_line(tmp_path, monkeypatch, capsys, module):
    monkeypatch.setitem(sys.modules, module, None)
    code = main(["compress", str(EXAMPLES / "digits" / "compress.yaml"), "-o", str(tmp_path / "c.onnx"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and module in err and "pip install torch==2.13.0 'jpq2hw[compress]'" in err
    assert not (tmp_path / "c.onnx").exists()


@pytest.mark.parametrize("module", ["ray", "optuna"])
def test_sweep_without_its_extra_names_the_install_line(tmp_path, monkeypatch, capsys, module):
    monkeypatch.setitem(sys.modules, module, None)
    spec = tmp_path / "sweep.yaml"
    spec.write_text("entry: x.py:make\noutput: out\ngrid: {method: [joint]}\n")
    code = main(["sweep", str(spec), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and module in err and "pip install torch==2.13.0 'jpq2hw[sweep]'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
