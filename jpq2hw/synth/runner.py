"""Run the steps of a stage (locally, or `jpq2hw synth --local` inside a Docker image), stream the tool output to
the terminal and OUT/synth/<step>.log, and put the parsed synthesis report into OUT/report.json."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from jpq2hw.errors import EXIT_BAD_INPUT, EXIT_NOT_EXACT, JpqError, ToolMissing, printable
from jpq2hw.synth import plan as planning
from jpq2hw.synth.project import SynthProject
from jpq2hw.synth.words import write_harness_roms


class SynthFailed(JpqError):
    """A tool ran and failed (or did not produce what it should): exit 1, the message points at the log."""

    exit_code = EXIT_NOT_EXACT


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(printable(text), flush=True)


def stream_process(argv: list[str], log: Path, cwd: Path | None = None, env: dict | None = None,
                   quiet: bool = False) -> int:
    """Run argv, copying its output line by line to the terminal (unless quiet) and to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8", errors="replace") as sink:
        sink.write(f"# {shlex.join(argv)}\n")
        sink.flush()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1)
        try:
            for line in proc.stdout:
                sink.write(line)
                if not quiet:
                    sys.stdout.write(line)
                    sys.stdout.flush()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
        return proc.wait()


def prepare(project: SynthProject, steps: list[planning.Step]) -> None:
    """Files the tools read that the build could not write: the harness ROMs (from OUT/vectors) for a no-PS board."""
    if any(s.name == "bitstream" for s in steps) and project.stream["block_design"] == "stream_harness":
        vec = project.out / "vectors"
        if not (vec / "inputs.npy").is_file() or not (vec / "expected.npy").is_file():
            raise JpqError(f"{project.out}: vectors/inputs.npy and expected.npy are needed for the stream harness")
        # float scales: the core is integer, its own vectors are the codes (hw_*.npy)
        names = ("hw_inputs.npy", "hw_outputs.npy") if (vec / "hw_outputs.npy").is_file() \
            else ("inputs.npy", "expected.npy")
        write_harness_roms(project.board_dir / "harness", project.stream["ports"], np.load(vec / names[0]),
                           np.load(vec / names[1]))


def disk_now(folder: Path) -> int:
    """The file system's clock now (ns), read from the mtime of a scratch file in `folder`: the clock that stamps
    the tools' results (time.time_ns() can run a few ms ahead of it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".start-") as marker:
        return os.fstat(marker.fileno()).st_mtime_ns


def is_fresh(path: Path, since: int | None) -> bool:
    """`path` is a file written (or replaced, or copied into place) at or after `since` (any file when None).
    The ctime counts too: a copy that keeps the source's mtime (Tcl's `file copy`) is still new."""
    try:
        st = path.stat()
    except OSError:
        return False
    return path.is_file() and (since is None or max(st.st_mtime_ns, st.st_ctime_ns) >= since)


def record(project: SynthProject, stage: str, done: list[str], since: int | None = None) -> dict:
    """Parse the synthesis report into report.json (and re-render report.md/.html); returns the report. With
    `since` (the run's start, disk_now()), result files older than the run (left by an earlier one) are ignored."""
    from jpq2hw.report.build_report import write_reports
    from jpq2hw.report.hls_synth import parse_csynth

    report = json.loads((project.out / "report.json").read_text())
    if is_fresh(project.csynth_xml, since):
        report.setdefault("synthesis", {})["hls"] = parse_csynth(project.csynth_xml).to_dict()
    rel = lambda p: str(p.relative_to(project.out))  # noqa: E731
    run = {"stage": stage, "steps_done": done, "logs": [rel(project.synth_dir / f"{s}.log") for s in done]}
    if is_fresh(project.ip_component, since):
        run["ip"] = rel(project.ip_component.parent)
    if is_fresh(project.bitstream, since):
        run["bitstream"] = rel(project.bitstream)
    if is_fresh(project.hwh, since):
        run["hwh"] = rel(project.hwh)
    report["synth_run"] = run
    write_reports(project.out, report)
    return report


def run_local(project: SynthProject, stage: str, xilinx_root: str | None, xilinx_version: str | None,
              dry_run: bool = False, quiet: bool = False) -> int:
    steps = planning.steps(project, stage)
    found = {s.tool: planning.find_tool(s.tool, xilinx_root, xilinx_version) for s in steps}
    if dry_run:  # each line pastes on its own: it makes the log folder its redirection writes into
        for s in steps:
            log = s.log(project)
            print(f"mkdir -p {shlex.quote(str(log.parent))} && {s.shell(found[s.tool])} > {shlex.quote(str(log))}")
        return 0
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        where = f" nor under {xilinx_root}" if xilinx_root else ""
        raise ToolMissing(f"{', '.join(missing)} not found on PATH{where}: source your Xilinx settings64.sh, "
                          f"pass --xilinx-root, or run in Docker with --docker IMAGE")
    prepare(project, steps)
    done: list[str] = []
    run_start: int | None = None
    for s in steps:
        log = s.log(project)
        _say(quiet, f"- {s.name}: {s.shell(found[s.tool])}  (log: {log})")
        env = os.environ | s.env
        step_start = disk_now(project.synth_dir)
        run_start = step_start if run_start is None else run_start
        rc = stream_process([found[s.tool], *s.args], log, cwd=s.cwd, env=env, quiet=quiet)
        # A result left by an earlier run does not count: each must be written by this step.
        missing_outputs = [p for p in s.produces if not is_fresh(p, step_start)]
        if rc != 0 or missing_outputs:
            if done or is_fresh(project.csynth_xml, run_start):
                record(project, stage, done, since=run_start)
            why = f"exited with {rc}" if rc != 0 else f"did not write {missing_outputs[0].relative_to(project.out)}"
            raise SynthFailed(f"{s.name} failed: {s.tool} {why}; see {log}")
        done.append(s.name)
    report = record(project, stage, done, since=run_start)
    summary = _summary(report)
    _say(quiet, f"{project.out}: {stage} done{summary}; report in {project.out / 'report.md'}")
    return 0


def _summary(report: dict) -> str:
    syn = (report.get("synthesis") or {}).get("hls") or {}
    res = syn.get("resources") or {}
    parts = [f"{k.upper()} {res[k]:g}" for k in ("lut", "ff", "dsp", "bram36") if res.get(k) is not None]
    if syn.get("latency_worst_cycles") is not None:
        parts.append(f"latency {syn['latency_worst_cycles']} cycles")
    if syn.get("estimated_clock_ns") is not None:
        parts.append(f"clock {syn['estimated_clock_ns']} ns")
    run = report.get("synth_run") or {}
    if run.get("bitstream"):
        parts.append(f"bitstream {run['bitstream']}")
    return (" (" + ", ".join(parts) + ")") if parts else ""


def docker_engine_problem(timeout: float = 20) -> str | None:
    """None when a Docker engine answers, else why not (one line)."""
    import shutil

    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer"
    if probe.returncode != 0 or not probe.stdout.strip():
        lines = (probe.stderr or probe.stdout).strip().splitlines()
        return f"no Docker engine is reachable ({lines[-1] if lines else 'docker info failed'})"
    return None


def run_docker(project: SynthProject, image: str, stage: str, xilinx_root: str, xilinx_version: str,
               extra: list[str], dry_run: bool = False, quiet: bool = False) -> int:
    cmd = planning.docker_command(project, image, stage, xilinx_root, xilinx_version, extra,
                                  tty=sys.stdout.isatty() and not dry_run)
    if dry_run:
        print(shlex.join(cmd))
        return 0
    problem = docker_engine_problem()
    if problem:
        raise ToolMissing(f"--docker {image}: {problem}; start Docker, or run with --local where Vitis HLS is installed")
    if not Path(xilinx_root).is_dir():  # `docker run -v` would create it (as root) on the host
        raise JpqError(f"--xilinx-root {xilinx_root}: no such folder; pass the folder that holds your Xilinx "
                       f"install (Vitis_HLS/, Vivado/), or set XILINX_ROOT")
    log = project.synth_dir / "docker.log"
    _say(quiet, f"- docker: {shlex.join(cmd)}  (log: {log})")
    rc = stream_process(cmd, log, quiet=quiet)
    if rc == EXIT_BAD_INPUT:
        # The entry point (or `jpq2hw synth` in the image) refused: bad input or no tools there, not a tool failure.
        raise JpqError(f"{stage} refused in the container (exit {rc}): {_last_line(log)}; see {log}")
    if rc != 0:
        # The container printed its own one-line error; 125-127 are docker's (no image, cannot start).
        hint = "docker could not start the image" if rc in (125, 126, 127) else f"{stage} failed in the container"
        raise SynthFailed(f"{hint} (exit {rc}); see {log} and {project.synth_dir}/")
    return 0


def _last_line(log: Path) -> str:
    """The last non-empty line the container printed (its one-line error), without the `# docker run` header."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()[1:] if ln.strip()]
    return re.sub(r"^jpq2hw \w+: error: ", "", lines[-1]) if lines else "no message"
