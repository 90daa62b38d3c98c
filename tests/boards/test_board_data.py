"""Board files against the schema, the Board objects, `jpq2hw boards` and the unknown-board error."""

import dataclasses

import pytest
import yaml

from jpq2hw import boards, paths
from jpq2hw.cli import main
from jpq2hw.errors import JpqError

REQUIRED_BOARDS = ["pynq-z2", "pynq-z1", "ultra96-v2", "zcu104", "kv260", "arty-a7-100t"]


@pytest.mark.parametrize("name", boards.list_boards())
def test_board_file_matches_schema(name):
    data = yaml.safe_load((paths.BOARDS / f"{name}.yaml").read_text())
    assert boards.schema_errors(data, boards.load_schema()) == []
    assert data["name"] == name


@pytest.mark.parametrize("name", boards.list_boards())
def test_board_file_cites_a_data_sheet(name):
    first_comment = (paths.BOARDS / f"{name}.yaml").read_text().split("\n\n")[0]
    assert "Source" in first_comment and "DS" in first_comment


def test_required_boards_present():
    assert set(REQUIRED_BOARDS) <= set(boards.list_boards())


def test_known_part_numbers_and_capacity():
    z2 = boards.load_board("pynq-z2")
    assert z2.part == "xc7z020clg400-1"
    assert (z2.resources.lut, z2.resources.ff, z2.resources.dsp, z2.resources.bram36) == (53200, 106400, 220, 140)
    assert z2.processing_system == "zynq7000" and z2.has_ps
    arty = boards.load_board("arty-a7-100t")
    assert arty.processing_system == "none" and not arty.has_ps and arty.yosys_family == "xc7"
    assert boards.load_board("kv260").yosys_family == "xcup"


def test_board_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        boards.load_board("pynq-z2").part = "xc7z010clg400-1"


def test_unknown_board_lists_known_ones():
    with pytest.raises(JpqError) as info:
        boards.load_board("pynq-z3")
    message = str(info.value)
    assert "\n" not in message and "pynq-z3" in message
    assert all(name in message for name in REQUIRED_BOARDS)


@pytest.mark.parametrize(
    "change, complaint",
    [
        (lambda d: d.pop("part"), "part: missing"),
        (lambda d: d["resources"].update(lut="53k"), "resources.lut: expected int"),
        (lambda d: d["resources"].update(dsp=True), "resources.dsp: expected int"),
        (lambda d: d.update(processing_system="arm"), "processing_system: 'arm' is not one of"),
        (lambda d: d.update(part="XC7Z020"), "part: 'XC7Z020' does not match"),
        (lambda d: d.update(colour="red"), "colour: unknown field"),
        (lambda d: d["templates"].pop("pynq_overlay"), "templates.pynq_overlay: missing"),
    ],
)
def test_schema_catches_bad_board(change, complaint):
    data = yaml.safe_load((paths.BOARDS / "pynq-z2.yaml").read_text())
    change(data)
    assert any(complaint in e for e in boards.schema_errors(data, boards.load_schema()))


def test_invalid_board_file_is_a_one_line_error(tmp_path):
    (tmp_path / "schema.yaml").write_text((paths.BOARDS / "schema.yaml").read_text())
    (tmp_path / "bad.yaml").write_text("name: bad\npart: 7\n")
    with pytest.raises(JpqError) as info:
        boards.load_board("bad", boards_dir=tmp_path)
    assert "\n" not in str(info.value) and "part: expected str" in str(info.value)


def test_boards_command_lists_every_board(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["board", "part", "LUT", "FF", "DSP", "BRAM36", "clock", "MHz", "PS"]
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert set(rows) == set(boards.list_boards())
    assert rows["pynq-z2"] == ["pynq-z2", "xc7z020clg400-1", "53,200", "106,400", "220", "140", "100", "zynq7000"]
    assert rows["arty-a7-100t"][-1] == "none"

