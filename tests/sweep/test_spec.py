"""SWEEP.yaml: every mistake is one line naming the file and the key, before Ray starts or anything is trained."""

from pathlib import Path

import pytest
import yaml

from jpq2hw.cli import main
from jpq2hw.errors import JpqError
from jpq2hw.sweep.spec import load_spec, parse_spec

ENTRY = str(Path(__file__).with_name("tiny_entry.py")) + ":make"
GOOD = {"entry": ENTRY, "output": "out", "compress": {"pretrain_epochs": 1}, "grid": {"method": ["joint", "ptq"]}}


def spec_file(tmp_path, data) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_good_spec_is_typed_and_absolute(tmp_path):
    spec = load_spec(spec_file(tmp_path, {**GOOD, "grid": {"method": ["joint", "ptq"], "weight_bits": [4, 3]}}))
    assert spec.output == (tmp_path / "out").resolve() and spec.source.is_absolute()
    assert len(spec.combinations()) == 4 and spec.sampler == "grid"
    assert spec.objectives == ("metric", "weight_memory_bits", "bops", "lut")
    assert spec.build == {"board": "pynq-z2", "vectors": 20}


@pytest.mark.parametrize("change, names", [
    ({"gird": {}}, "gird"),
    ({"grid": {"weight_bits": 4}}, "grid.weight_bits"),
    ({"grid": {}}, "grid"),
    ({"grid": {"weight_bits": [4, 9]}}, "weight_bits=9"),            # one point of the grid is invalid
    ({"grid": {"no_such_option": [1]}}, "no_such_option"),
    ({"grid": {"pretrain_epochs": [1]}}, "grid.pretrain_epochs"),     # also set under compress
    ({"search": {"sampler": "random"}}, "search.sampler"),
    ({"search": {"sampler": "nsga2"}}, "search.trials"),
    ({"search": {"trials": 3}}, "search.trials"),
    ({"search": {"sampler": "nsga2", "trials": 2}, "grid": {"layer_bits": [{}]}}, "grid.layer_bits"),
    ({"objectives": ["metric", "area"]}, "objectives"),
    ({"objectives": ["metric", "yosys_lut"]}, "build.rtl"),
    ({"metric": {"name": "epe", "mode": "lowest"}}, "metric.mode"),
    ({"build": {"board": "no-such-board"}}, "no-such-board"),
    ({"build": {"vectors": "many"}}, "build.vectors"),
    ({"build": {"optimize": True}}, "build.optimize"),
    ({"max_concurrent": 0}, "max_concurrent"),
    ({"compress": {"checkpoint_dir": "x"}}, "compress.checkpoint_dir"),
])
def test_bad_spec_is_one_line_naming_the_key(tmp_path, change, names):
    path = spec_file(tmp_path, {**GOOD, **change})
    with pytest.raises(JpqError) as err:
        load_spec(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and names in message


def test_nsga2_spec(tmp_path):
    spec = parse_spec({**GOOD, "search": {"sampler": "nsga2", "trials": 5, "seed": 3}}, tmp_path / "s.yaml")
    assert (spec.sampler, spec.trials, spec.seed) == ("nsga2", 5, 3)


def test_cli_bad_spec_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys):
    path = spec_file(tmp_path, {**GOOD, "grid": {"weight_bits": [4, 9]}})
    code = main(["sweep", str(path), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "weight_bits" in err and "9" in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_folder_of_another_spec(tmp_path, capsys):
    """An existing output that is not this sweep's is never written into (nor is Ray started)."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    code = main(["sweep", str(spec_file(tmp_path, GOOD)), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "not a sweep's folder" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.txt"]


def test_cli_address_nobody_answers_is_one_line_and_writes_nothing(tmp_path, capsys):
    code = main(["sweep", str(spec_file(tmp_path, GOOD)), "--address", "127.0.0.1:1", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--address 127.0.0.1:1" in err and "no Ray head" in err
    assert not (tmp_path / "out").exists()
