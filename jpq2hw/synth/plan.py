"""The tool steps of a synthesis stage, where the tools are, and the `docker run` command line."""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from jpq2hw.errors import JpqError
from jpq2hw.synth.project import SynthProject

STAGES = ("csynth", "export", "bitstream")
DEFAULT_XILINX_ROOT = "/tools/Xilinx"
DEFAULT_XILINX_VERSION = "2023.2"
CONTAINER_HOME = "/home/jpq2hw"  # HOME inside the image (world-writable); ~/.Xilinx is mounted below it
# Where each tool lives in a Xilinx install, relative to <root>/<product>/<version>/bin.
TOOL_PRODUCTS = {"vitis_hls": ("Vitis_HLS", "Vitis"), "vivado_hls": ("Vivado",), "vivado": ("Vivado",)}


@dataclass(frozen=True)
class Step:
    name: str  # csynth | export | bitstream: also the log's name, OUT/synth/<name>.log
    tool: str  # vitis_hls | vivado_hls | vivado
    args: list[str]
    env: dict[str, str]
    cwd: Path
    produces: list[Path] = field(default_factory=list)  # what must exist afterwards, else the step failed

    def log(self, project: SynthProject) -> Path:
        return project.synth_dir / f"{self.name}.log"

    def shell(self, tool_path: str | None = None) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return f"cd {shlex.quote(str(self.cwd))} && {env} {shlex.join([tool_path or self.tool, *self.args])}"


def steps(project: SynthProject, stage: str) -> list[Step]:
    """csynth: C-synthesis. export: C-synthesis + IP catalog export (one HLS run). bitstream: export, then the
    board's block design, implementation and bitstream in Vivado."""
    if stage not in STAGES:
        raise ValueError(stage)
    board = project.board_dir
    hls_args = ["-f", "build_ip.tcl"]
    if stage == "csynth":
        return [Step("csynth", project.hls_tool, hls_args, {"STAGE": "csynth"}, board, [project.csynth_xml])]
    plan = [Step("export", project.hls_tool, hls_args, {"STAGE": "ip"}, board, [project.csynth_xml, project.ip_component])]
    if stage == "bitstream":
        produces = [project.bitstream] + ([project.hwh] if project.stream["pynq_overlay"] else [])
        plan.append(Step("bitstream", project.stream["vivado_tool"],
                         ["-mode", "batch", "-notrace", "-nojournal", "-nolog", "-source", "build_bd.tcl"],
                         {"BD_STAGE": "bitstream"}, board, produces))
    return plan


def find_tool(tool: str, xilinx_root: str | None, version: str | None, path: str | None = None) -> str | None:
    """The tool on PATH, else under <root>/<product>/<version>/bin (newest version when none is given)."""
    found = shutil.which(tool, path=path if path is not None else os.environ.get("PATH", ""))
    if found or not xilinx_root:
        return found
    for product in TOOL_PRODUCTS.get(tool, ()):
        base = Path(xilinx_root) / product
        versions = [base / version] if version else sorted(base.glob("*"), reverse=True)
        for v in versions:
            candidate = v / "bin" / tool
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def docker_command(project: SynthProject, image: str, stage: str, xilinx_root: str, xilinx_version: str,
                   extra: list[str] | None = None, environ: dict | None = None, home: str | None = None,
                   uid_gid: tuple[int, int] | None = None, tty: bool = False) -> list[str]:
    """`docker run` for `jpq2hw synth OUT --local` inside IMAGE: the build folder mounted at the same path (so
    absolute paths written by hls4ml stay valid), the Xilinx install read-only at the same path, the license
    (XILINXD_LICENSE_FILE: a port@server passes as is, a file is mounted read-only; ~/.Xilinx when it exists),
    and the caller's uid:gid so the results belong to the caller."""
    environ = dict(os.environ if environ is None else environ)
    home = home if home is not None else os.path.expanduser("~")
    if uid_gid is None and hasattr(os, "getuid"):
        uid_gid = (os.getuid(), os.getgid())
    out = str(project.out)
    cmd = ["docker", "run", "--rm", "--init"]

    def mount(source, target, read_only=False) -> list[str]:
        # `-v` splits on ':' (source:target:options): a path holding one would mount something else
        for path in (str(source), str(target)):
            if ":" in path:
                raise JpqError(f"{path}: docker -v cannot mount a path that contains ':'; move or rename it")
        return ["-v", f"{source}:{target}" + (":ro" if read_only else "")]

    if tty:
        cmd.append("-t")
    if uid_gid is not None:
        cmd += ["--user", f"{uid_gid[0]}:{uid_gid[1]}"]
    cmd += [*mount(out, out), "-w", out, *mount(xilinx_root, xilinx_root, read_only=True),
            "-e", f"XILINX_ROOT={xilinx_root}", "-e", f"XILINX_VERSION={xilinx_version}"]
    license_spec = environ.get("XILINXD_LICENSE_FILE")
    if license_spec:
        for entry in license_spec.split(os.pathsep):
            if entry and "@" not in entry and Path(entry).exists():
                cmd += mount(entry, entry, read_only=True)
        cmd += ["-e", f"XILINXD_LICENSE_FILE={license_spec}"]
    xilinx_home = Path(home) / ".Xilinx"
    if xilinx_home.is_dir():
        cmd += mount(xilinx_home, f"{CONTAINER_HOME}/.Xilinx")
    cmd += list(extra or [])
    cmd += [image, out, "--local", "--stage", stage, "--xilinx-root", xilinx_root, "--xilinx-version", xilinx_version]
    return cmd
