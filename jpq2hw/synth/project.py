"""What `jpq2hw synth` needs from a build folder: report.json, board/stream.json and vectors/."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from jpq2hw.errors import JpqError

STREAM_JSON = "stream.json"
# stream.json comes from the build folder, which may come from someone else: the programs synth runs are chosen
# from these fixed names (never a path or a program the file names), and names it joins into paths are identifiers.
TOOLS = {"hls_tool": ("vitis_hls", "vivado_hls"), "vivado_tool": ("vivado",)}
IDENTIFIER_FIELDS = ("wrapper_name", "overlay_name", "project_name")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class SynthProject:
    out: Path  # the build folder (absolute)
    report: dict  # report.json
    stream: dict  # board/stream.json

    @property
    def board_dir(self) -> Path:
        return self.out / "board"

    @property
    def synth_dir(self) -> Path:
        return self.out / "synth"

    @property
    def wrapper(self) -> str:
        return self.stream["wrapper_name"]

    @property
    def hls_tool(self) -> str:
        return self.stream["hls_tool"]

    @property
    def csynth_xml(self) -> Path:
        return self.board_dir / f"{self.wrapper}_prj" / "solution1" / "syn" / "report" / "csynth.xml"

    @property
    def ip_component(self) -> Path:
        return self.board_dir / f"{self.wrapper}_prj" / "solution1" / "impl" / "ip" / "component.xml"

    @property
    def bitstream(self) -> Path:
        return self.board_dir / "overlay" / f"{self.stream['overlay_name']}.bit"

    @property
    def hwh(self) -> Path:
        return self.board_dir / "overlay" / f"{self.stream['overlay_name']}.hwh"


def load_project(out: str | Path) -> SynthProject:
    """The build folder `out`, or a one-line JpqError saying why it is not one."""
    out = Path(out).resolve()
    if not out.is_dir():
        raise JpqError(f"{out}: no such folder (give the output folder of `jpq2hw build`)")
    report_path, stream_path = out / "report.json", out / "board" / STREAM_JSON
    if not report_path.is_file() or not (out / "board").is_dir():
        raise JpqError(f"{out}: not a jpq2hw build folder (no report.json and board/); run `jpq2hw build` first")
    if not stream_path.is_file():
        raise JpqError(f"{out}: board/{STREAM_JSON} is missing (built by an older jpq2hw?); rebuild with `jpq2hw build`")
    try:
        report = json.loads(report_path.read_text())
        stream = json.loads(stream_path.read_text())
    except (OSError, ValueError) as exc:
        raise JpqError(f"{out}: cannot read report.json / board/{STREAM_JSON} ({exc})") from None
    check_stream(stream, out / "board" / STREAM_JSON)
    return SynthProject(out=out, report=report, stream=stream)


def check_stream(stream, path: Path) -> None:
    """One line naming the field when stream.json names a program outside TOOLS or a name that is not an
    identifier (a path like ../../x, a shell word)."""
    from jpq2hw.errors import printable

    if not isinstance(stream, dict):
        raise JpqError(f"{path}: not a JSON object")
    for key, allowed in TOOLS.items():
        if (key in stream or key == "hls_tool") and stream.get(key) not in allowed:
            raise JpqError(printable(f"{path}: {key} {str(stream.get(key))[:80]!r} is not one of "
                                     f"{', '.join(allowed)}; jpq2hw synth runs only those"))
    for key in IDENTIFIER_FIELDS:
        value = stream.get(key, "absent")
        if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
            raise JpqError(printable(f"{path}: {key} {str(value)[:80]!r} is not a plain name "
                                     f"(letters, digits, _)"))


def project_info(stream: dict):
    """The writer's ProjectInfo back from stream.json (to re-render board files for a build without hls4ml)."""
    from jpq2hw.writer.project_info import PortInfo, ProjectInfo

    def port(p: dict) -> PortInfo:
        return PortInfo(name=p["name"], type_name=p["type_name"], element_type=p["element_type"], width=p["width"],
                        integer=p["integer"], signed=p["signed"], shape=tuple(p["shape"]), size=p["size"],
                        elements_per_beat=p["elements_per_beat"], declaration=p["declaration"])

    inp, outp = port(stream["ports"]["input"]), port(stream["ports"]["output"])
    return ProjectInfo(project_name=stream["project_name"], backend=stream["backend"], io_type=stream["io_type"],
                       namespace=stream.get("namespace"), input=inp, output=outp,
                       top_declaration=f"void {stream['project_name']}({inp.declaration}, {outp.declaration})",
                       board_name=stream["board"], part=stream["part"], clock_mhz=float(stream["clock_mhz"]),
                       hls_subdir=stream["hls_subdir"])
