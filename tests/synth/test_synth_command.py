"""`jpq2hw synth`: exact command lines (--dry-run), one-line refusals without tools / engine / build folder, and a
whole run with stand-in Xilinx tools (tclsh running our scripts with stubbed commands): logs, report, failures."""

import json
import shlex
import shutil
import time

import pytest
from tclstubs import VITIS_CSYNTH, fake_tools, tool_path

from jpq2hw.cli import main

needs_tclsh = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")


def synth(capsys, *args):
    code = main(["synth", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_docker_dry_run_command_line(built, capsys, monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / ".Xilinx").mkdir(parents=True)
    license_file = tmp_path / "Xilinx.lic"
    license_file.write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XILINXD_LICENSE_FILE", f"2100@licserver:{license_file}")
    monkeypatch.delenv("XILINX_ROOT", raising=False)
    monkeypatch.delenv("XILINX_VERSION", raising=False)
    code, out, err = synth(capsys, built, "--docker", "jpq2hw-synth:1", "--stage", "export", "--dry-run",
                           "--xilinx-version", "2024.1", "--docker-arg=--mac-address=02:42:ac:11:00:02")
    assert code == 0 and err == ""
    argv = shlex.split(out.strip())
    b = str(built.resolve())
    assert argv[:4] == ["docker", "run", "--rm", "--init"]
    assert argv[argv.index("--user") + 1] == f"{__import__('os').getuid()}:{__import__('os').getgid()}"
    pairs = [(argv[i], argv[i + 1]) for i in range(len(argv) - 1)]
    assert ("-v", f"{b}:{b}") in pairs and ("-w", b) in pairs
    assert ("-v", "/tools/Xilinx:/tools/Xilinx:ro") in pairs
    assert ("-e", "XILINX_ROOT=/tools/Xilinx") in pairs and ("-e", "XILINX_VERSION=2024.1") in pairs
    assert ("-e", f"XILINXD_LICENSE_FILE=2100@licserver:{license_file}") in pairs
    assert ("-v", f"{license_file}:{license_file}:ro") in pairs  # the file is mounted, the server is not
    assert ("-v", f"{home}/.Xilinx:/home/jpq2hw/.Xilinx") in pairs
    assert "--mac-address=02:42:ac:11:00:02" in argv
    image = argv.index("jpq2hw-synth:1")
    assert argv[image + 1:] == [b, "--local", "--stage", "export", "--xilinx-root", "/tools/Xilinx",
                                "--xilinx-version", "2024.1"]
    assert argv.index("--mac-address=02:42:ac:11:00:02") < image


def test_docker_dry_run_takes_root_from_the_environment(built, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XILINX_ROOT", "/opt/Xilinx")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.Xilinx: not mounted
    monkeypatch.delenv("XILINXD_LICENSE_FILE", raising=False)
    code, out, _ = synth(capsys, built, "--docker", "img", "--dry-run")
    assert code == 0
    assert "-v /opt/Xilinx:/opt/Xilinx:ro" in out and ".Xilinx" not in out and "XILINXD" not in out
    assert out.strip().endswith("--stage bitstream --xilinx-root /opt/Xilinx --xilinx-version 2023.2")


def test_local_dry_run_lists_the_steps(built, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code, out, _ = synth(capsys, built, "--stage", "bitstream", "--dry-run")
    b = built.resolve() / "board"
    mk = f"mkdir -p {built.resolve()}/synth &&"  # the log folder may not exist yet
    assert code == 0
    assert out.splitlines() == [
        f"{mk} cd {b} && STAGE=ip vitis_hls -f build_ip.tcl > {built.resolve()}/synth/export.log",
        f"{mk} cd {b} && BD_STAGE=bitstream vivado -mode batch -notrace -nojournal -nolog -source build_bd.tcl "
        f"> {built.resolve()}/synth/bitstream.log"]
    code, out, _ = synth(capsys, built, "--stage", "csynth", "--dry-run")
    assert out.strip() == f"{mk} cd {b} && STAGE=csynth vitis_hls -f build_ip.tcl > {built.resolve()}/synth/csynth.log"


def test_one_line_refusals(built, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("XILINX_ROOT", raising=False)
    code, out, err = synth(capsys, built, "--stage", "csynth")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "vitis_hls not found on PATH" in err and "--docker" in err
    code, _, err = synth(capsys, built, "--xilinx-root", tmp_path)
    assert code == 2 and f"nor under {tmp_path}" in err and "vitis_hls, vivado" in err
    code, _, err = synth(capsys, tmp_path, "--stage", "csynth")
    assert code == 2 and "not a jpq2hw build folder" in err and len(err.strip().splitlines()) == 1
    code, _, err = synth(capsys, tmp_path / "nowhere")
    assert code == 2 and "no such folder" in err


def test_docker_without_engine_is_one_line(built, capsys, monkeypatch, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    docker = fake / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\n"
                      "exit 1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    code, out, err = synth(capsys, built, "--docker", "img", "--stage", "csynth")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "no Docker engine is reachable (Cannot connect to the Docker daemon" in err
    monkeypatch.setenv("PATH", "/usr/bin:/bin" if shutil.which("docker", path="/usr/bin:/bin") is None else str(fake))
    if shutil.which("docker", path="/usr/bin:/bin") is None:
        code, _, err = synth(capsys, built, "--docker", "img")
        assert code == 2 and "docker command is not installed" in err


def test_local_with_xilinx_root_layout(build_copy, capsys, monkeypatch, tmp_path):
    """Tools found under <root>/Vitis_HLS/<version>/bin and <root>/Vivado/<version>/bin when not on PATH."""
    out = build_copy()
    tools = fake_tools(tmp_path / "stubs", VITIS_CSYNTH)
    root = tmp_path / "Xilinx"
    for product, tool in [("Vitis_HLS", "vitis_hls"), ("Vivado", "vivado")]:
        (root / product / "2023.2" / "bin").mkdir(parents=True)
        shutil.copy(tools / tool, root / product / "2023.2" / "bin" / tool)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code, stdout, _ = synth(capsys, out, "--stage", "csynth", "--xilinx-root", root, "--dry-run")
    assert code == 0 and f"{root}/Vitis_HLS/2023.2/bin/vitis_hls -f build_ip.tcl" in stdout


@needs_tclsh
def test_full_run_with_stand_in_tools(build_copy, capsys, monkeypatch, tmp_path):
    out = build_copy()
    monkeypatch.setenv("PATH", tool_path(fake_tools(tmp_path / "bin", VITIS_CSYNTH)))
    code, stdout, err = synth(capsys, out, "--stage", "bitstream")
    assert code == 0, err
    # The tool output is streamed to the terminal and to OUT/synth/<step>.log.
    assert "CALL csynth_design" in stdout and "CALL launch_runs" in stdout
    assert "CALL export_design" in (out / "synth" / "export.log").read_text()
    assert "CALL launch_runs" in (out / "synth" / "bitstream.log").read_text()
    report = json.loads((out / "report.json").read_text())
    syn = report["synthesis"]["hls"]
    assert syn["tool"] == "Vitis HLS" and syn["resources"]["lut"] > 0 and syn["path"].endswith("csynth.xml")
    assert report["synth_run"]["bitstream"] == "board/overlay/myproject_axis.bit"
    assert report["synth_run"]["hwh"] == "board/overlay/myproject_axis.hwh"
    assert report["bit_exact"] and report["board"] == "pynq-z2"  # the build's keys survive
    md = (out / "report.md").read_text()
    assert str(syn["resources"]["lut"]) in md
    assert "bitstream board/overlay/myproject_axis.bit" in stdout.strip().splitlines()[-1]


@needs_tclsh
def test_stream_harness_run_writes_the_roms(build_copy, capsys, monkeypatch, tmp_path):
    out = build_copy("arty-a7-100t")
    monkeypatch.setenv("PATH", tool_path(fake_tools(tmp_path / "bin", VITIS_CSYNTH)))
    code, stdout, err = synth(capsys, out, "-q")
    assert code == 0, err
    assert "CALL" not in stdout  # -q: only the summary line
    rom = (out / "board" / "harness" / "jpq2hw_inputs.mem").read_text().split()
    assert len(rom) == 20 * 16
    assert "CALL set_property CONFIG.N_VECTORS 20 /harness" in (out / "synth" / "bitstream.log").read_text()


@needs_tclsh
@pytest.mark.parametrize("fail, stage, step", [("vitis_hls", "csynth", "csynth"), ("vivado", "bitstream", "bitstream")])
def test_tool_failure_points_at_the_log(build_copy, capsys, monkeypatch, tmp_path, fail, stage, step):
    out = build_copy()
    monkeypatch.setenv("PATH", tool_path(fake_tools(tmp_path / "bin", VITIS_CSYNTH, fail=fail)))
    code, stdout, err = synth(capsys, out, "--stage", stage)
    assert code == 1 and len(err.strip().splitlines()) == 1
    log = out.resolve() / "synth" / f"{step}.log"
    assert f"{step} failed: {fail} exited with 1; see {log}" in err
    assert "Compilation errors found" in log.read_text() and "Compilation errors found" in stdout
    report = json.loads((out / "report.json").read_text())
    if fail == "vivado":  # the HLS numbers of the step that did succeed are kept
        assert report["synthesis"]["hls"]["resources"]["lut"] > 0 and report["synth_run"]["steps_done"] == ["export"]
    else:
        assert "synthesis" not in report


@needs_tclsh
def test_missing_output_is_a_failure(build_copy, capsys, monkeypatch, tmp_path):
    """A tool that exits 0 without writing its result (csynth.xml) fails too."""
    out = build_copy()
    bin_dir = fake_tools(tmp_path / "bin", VITIS_CSYNTH)
    (bin_dir / "vitis_hls").write_text("#!/bin/sh\necho done\nexit 0\n")
    monkeypatch.setenv("PATH", tool_path(bin_dir))
    code, _, err = synth(capsys, out, "--stage", "csynth")
    assert code == 1 and "did not write board/myproject_axis_prj/solution1/syn/report/csynth.xml" in err


@needs_tclsh
def test_rerun_does_not_pass_on_stale_results(build_copy, capsys, monkeypatch, tmp_path):
    """The results of an earlier run are still on disk: a rerun whose tool exits 0 without writing fails, and a
    rerun of an earlier stage does not report the old bitstream as its own."""
    out = build_copy()
    bin_dir = fake_tools(tmp_path / "bin", VITIS_CSYNTH)
    monkeypatch.setenv("PATH", tool_path(bin_dir))
    code, _, err = synth(capsys, out, "--stage", "bitstream")
    assert code == 0, err
    assert (out / "board" / "overlay" / "myproject_axis.bit").is_file()
    time.sleep(0.05)  # past the file system clock's tick
    code, _, err = synth(capsys, out, "--stage", "csynth")  # real stand-ins: passes, but the .bit is not its own
    assert code == 0, err
    run = json.loads((out / "report.json").read_text())["synth_run"]
    assert run["steps_done"] == ["csynth"] and "bitstream" not in run and "hwh" not in run and "ip" not in run
    time.sleep(0.05)
    (bin_dir / "vivado").write_text("#!/bin/sh\necho done\nexit 0\n")
    code, _, err = synth(capsys, out, "--stage", "bitstream")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "bitstream failed: vivado did not write board/overlay/myproject_axis.bit" in err
    time.sleep(0.05)
    (bin_dir / "vitis_hls").write_text("#!/bin/sh\necho done\nexit 0\n")
    code, _, err = synth(capsys, out, "--stage", "csynth")
    assert code == 1 and "csynth failed: vitis_hls did not write board/myproject_axis_prj/solution1/syn/report/" \
                         "csynth.xml" in err


def fake_docker(bin_dir, run_exit=0, run_message=""):
    """A docker whose engine answers; `docker run` leaves bin_dir/ran and exits run_exit after printing a line."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\nif [ "$1" = info ]; then echo 24.0.7; exit 0; fi\ntouch {bin_dir}/ran\n'
                      f'echo {shlex.quote(run_message)} >&2\nexit {run_exit}\n')
    docker.chmod(0o755)
    return bin_dir


def test_docker_refuses_a_missing_xilinx_root(built, capsys, monkeypatch, tmp_path):
    fake = fake_docker(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    missing = tmp_path / "no" / "Xilinx"
    code, out, err = synth(capsys, built, "--docker", "img", "--stage", "csynth", "--xilinx-root", missing)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"--xilinx-root {missing}: no such folder" in err
    assert not (fake / "ran").exists() and not missing.exists()  # docker never ran, so it created nothing
    monkeypatch.setenv("XILINX_ROOT", str(missing))  # the same from the environment
    code, _, err = synth(capsys, built, "--docker", "img", "--stage", "csynth")
    assert code == 2 and f"--xilinx-root {missing}: no such folder" in err and not (fake / "ran").exists()


def test_docker_refusal_in_the_container_is_exit_2(build_copy, capsys, monkeypatch, tmp_path):
    """The entry point's exit 2 (no settings64.sh in the mounted install) is a one-line refusal, not a step failure."""
    out = build_copy()
    root = tmp_path / "Xilinx"
    root.mkdir()
    message = (f"jpq2hw synth: error: no settings64.sh under {root}/{{Vitis_HLS,Vitis,Vivado}}/2023.2: mount your "
               f"Xilinx install (-v {root}:{root}:ro) and set XILINX_VERSION")
    fake = fake_docker(tmp_path / "bin", run_exit=2, run_message=message)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    code, _, err = synth(capsys, out, "--docker", "img", "--stage", "csynth", "--xilinx-root", root, "-q")
    assert (fake / "ran").exists()
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"no settings64.sh under {root}/" in err and "exit 2" in err and "failed" not in err
    fake_docker(fake, run_exit=1, run_message="jpq2hw synth: error: csynth failed")  # other exits: still exit 1
    code, _, err = synth(capsys, out, "--docker", "img", "--stage", "csynth", "--xilinx-root", root, "-q")
    assert code == 1 and "csynth failed in the container (exit 1)" in err
