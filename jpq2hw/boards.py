"""Board data: load boards/<name>.yaml, check it against boards/schema.yaml, hand out a frozen Board.

The schema is data (boards/schema.yaml) checked by the small validator below, so adding a board needs no
code and no extra dependency (no jsonschema)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from jpq2hw import paths
from jpq2hw.errors import JpqError

SCHEMA_FILE = "schema.yaml"
_PY_TYPES = {"str": str, "int": int, "bool": bool, "map": dict}


@dataclass(frozen=True)
class Resources:
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int = 0


@dataclass(frozen=True)
class TemplateChoices:
    block_design: str
    pynq_overlay: bool


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    vendor: str
    part: str
    family: str
    yosys_family: str
    clock_mhz: int
    resources: Resources
    processing_system: str
    templates: TemplateChoices

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    @property
    def has_ps(self) -> bool:
        return self.processing_system != "none"


def load_schema(boards_dir: Path | None = None) -> dict:
    return yaml.safe_load(((boards_dir or paths.BOARDS) / SCHEMA_FILE).read_text())


def schema_errors(data, schema: dict, where: str = "") -> list[str]:
    """Every way `data` breaks `schema`, as readable strings; empty when it conforms."""
    if not isinstance(data, dict):
        return [f"{where or 'board file'}: expected a mapping, got {type(data).__name__}"]
    errors = []
    for key in sorted(set(data) - set(schema)):
        errors.append(f"{where}{key}: unknown field")
    for key, rule in schema.items():
        path = f"{where}{key}"
        if key not in data:
            if rule.get("required", True):
                errors.append(f"{path}: missing")
            continue
        errors += _value_errors(data[key], rule, path)
    return errors


def _value_errors(value, rule: dict, path: str) -> list[str]:
    want = _PY_TYPES[rule["type"]]
    # bool is a subclass of int in Python: a YAML `true` must not pass as a resource count.
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        return [f"{path}: expected {rule['type']}, got {type(value).__name__} {value!r}"]
    if "enum" in rule and value not in rule["enum"]:
        return [f"{path}: {value!r} is not one of {', '.join(map(str, rule['enum']))}"]
    if "pattern" in rule and not re.fullmatch(rule["pattern"], value):
        return [f"{path}: {value!r} does not match {rule['pattern']}"]
    if "min" in rule and value < rule["min"]:
        return [f"{path}: {value} is below {rule['min']}"]
    if want is dict:
        return schema_errors(value, rule["fields"], path + ".")
    return []


def board_files(boards_dir: Path | None = None) -> dict[str, Path]:
    """Board name -> file, for every boards/*.yaml except the schema."""
    folder = boards_dir or paths.BOARDS
    return {p.stem: p for p in sorted(folder.glob("*.yaml")) if p.name != SCHEMA_FILE}


def list_boards(boards_dir: Path | None = None) -> list[str]:
    return list(board_files(boards_dir))


def load_board(name: str, boards_dir: Path | None = None) -> Board:
    files = board_files(boards_dir)
    if name not in files:
        raise JpqError(f"unknown board '{name}'; known boards: {', '.join(files)}")
    return board_from_file(files[name], boards_dir)


def board_from_file(path: Path, boards_dir: Path | None = None) -> Board:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise JpqError(f"board file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    errors = schema_errors(data, load_schema(boards_dir))
    if not errors and data["name"] != path.stem:
        errors.append(f"name: {data['name']!r} differs from the file name {path.stem!r}")
    if errors:
        raise JpqError(f"board file {path.name} is invalid: {'; '.join(errors)}")
    return Board(
        **{k: v for k, v in data.items() if k not in ("resources", "templates")},
        resources=Resources(**data["resources"]),
        templates=TemplateChoices(**data["templates"]),
    )


def load_all_boards(boards_dir: Path | None = None) -> list[Board]:
    return [load_board(name, boards_dir) for name in list_boards(boards_dir)]
