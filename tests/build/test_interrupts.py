"""The output folder under Ctrl-C, SIGTERM, SIGHUP and SIGKILL, and two builds of one OUT: OUT is always the old
folder or the whole new one. A build of a tiny model runs in a child process and is stopped while g++ compiles."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jpq2hw.output_folder import BUILD_MARKER, mark_build_folder
from testkit.qonnx_builder import QonnxBuilder


@pytest.fixture
def tiny(tmp_path):
    b = QonnxBuilder([1, 4], seed=0)
    b.save(b.dense(b.x, 3), tmp_path / "tiny.onnx")
    return tmp_path / "tiny.onnx"


def start_build(model, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "jpq2hw.cli", "build", str(model), "-o", str(out), "--vectors",
                             "3", *extra], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            cwd=out.parent)


def stop_while_compiling(proc, sig) -> str:
    """Send `sig` once g++ is running; return everything the build printed."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("- Compiling the C++"):
            time.sleep(1.0)  # g++ is running under hls4ml's shell
            proc.send_signal(sig)
            break
    rest = proc.communicate(timeout=120)[1]
    return "".join(seen) + rest


def processes_in(folder: Path) -> list[str]:
    """Live processes whose working directory is inside `folder` (g++ runs in OUT/hls)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cwd.startswith(str(folder)):
                found.append(f"{entry}: {cmd[:120]}")
    return found


def beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])  # Ctrl-C takes the same path
def test_a_stopped_build_leaves_nothing(tiny, tmp_path, sig):
    out = tmp_path / "out"
    proc = start_build(tiny, out)
    text = stop_while_compiling(proc, sig)
    assert proc.returncode == 128 + sig, text
    assert f"interrupted ({signal.Signals(sig).name})" in text.strip().splitlines()[-1]
    assert not out.exists() and beside(out) == [], beside(out)
    time.sleep(0.5)
    assert processes_in(tmp_path) == []  # g++ died with the build


@pytest.mark.slow
def test_sigterm_during_force_rebuild_keeps_the_old_folder(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("the previous build")
    mark_build_folder(out)
    proc = start_build(tiny, out, "--force")
    text = stop_while_compiling(proc, signal.SIGTERM)
    assert proc.returncode == 143, text
    assert sorted(p.name for p in out.iterdir()) == [BUILD_MARKER, "old.txt"] and beside(out) == []


@pytest.mark.slow
def test_sigkill_leaves_a_temporary_folder_and_the_next_build_says_so(tiny, tmp_path):
    out = tmp_path / "out"
    proc = start_build(tiny, out)
    stop_while_compiling(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # never a half-written OUT
    left = beside(out)
    assert any(n.startswith(".out.tmp-") for n in left) and ".out.lock" in left, left
    again = start_build(tiny, out)  # the next build of OUT points the leftover out (stopped before g++: enough)
    text = stop_while_converting(again)
    notes = [l for l in text.splitlines() if l.startswith("note:")]
    assert len(notes) == 1 and ".out.tmp-" in notes[0] and "killed" in notes[0] and "rm -r" in notes[0], text
    # the stale lock was taken over (and released); the leftover is pointed out, not deleted
    assert again.returncode == 143 and beside(out) == [n for n in left if ".tmp-" in n]


def stop_while_converting(proc) -> str:
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("- Converting"):
            proc.send_signal(signal.SIGTERM)
            break
    return "".join(seen) + proc.communicate(timeout=120)[1]


def test_a_second_build_of_the_same_folder_is_refused(tiny, tmp_path):
    out = tmp_path / "out"
    (tmp_path / ".out.lock").write_text(f"{os.getpid()}\n")  # a live process holds OUT
    proc = subprocess.run([sys.executable, "-m", "jpq2hw.cli", "build", str(tiny), "-o", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err == (f"jpq2hw build: error: {out} is being built by process {os.getpid()} "
                                            f"(lock file {tmp_path / '.out.lock'}; if no build is running, delete it)")
    assert not out.exists() and (tmp_path / ".out.lock").read_text() == f"{os.getpid()}\n"


@pytest.mark.slow
def test_two_builds_at_once(tiny, tmp_path):
    out = tmp_path / "out"
    first = start_build(tiny, out)
    for line in first.stderr:
        if line.startswith("- Converting"):  # the first holds the lock
            break
    second = subprocess.run([sys.executable, "-m", "jpq2hw.cli", "build", str(tiny), "-o", str(out), "-q",
                             "--force"], capture_output=True, text=True, timeout=300)
    first.communicate(timeout=300)
    assert second.returncode == 2 and f"is being built by process {first.pid}" in second.stderr, second.stderr
    assert first.returncode == 0 and (out / "report.json").is_file() and beside(out) == []
    config = (out / "hls" / "hls4ml_config.yml").read_text()
    assert f"OutputDir: {out}/hls" in config and ".tmp-" not in config  # the path hls4ml wrote moved with it


@pytest.mark.parametrize("how", ["parent_is_a_file", "read_only_parent"])
def test_an_output_folder_that_cannot_be_made_is_one_line(tiny, tmp_path, capsys, how):
    from jpq2hw.cli import main

    if how == "parent_is_a_file":
        (tmp_path / "afile").write_text("")
        out = tmp_path / "afile" / "out"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp_path / "ro").mkdir(mode=0o555)
        out = tmp_path / "ro" / "out"
    code = main(["build", str(tiny), "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "internal error" not in err, err
    assert err.startswith("jpq2hw build: error:") and str(out) in err
