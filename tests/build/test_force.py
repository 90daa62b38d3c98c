"""`build --force` replaces only a build folder jpq2hw made (its `.jpq2hw-build` marker): `-o .`, `-o` the model's
own folder, any other existing folder, a file or a symbolic link are refused in one line before any work, and the
surrounding folder is byte for byte what it was. A real build writes nothing outside OUT, and its Makefile runs
nothing that OUT's name spells."""

import os
import subprocess
from pathlib import Path

import pytest

from jpq2hw.cli import main
from jpq2hw.errors import JpqError
from jpq2hw.output_folder import BUILD_MARKER, check_replaceable, mark_build_folder, output_folder
from testkit.qonnx_builder import QonnxBuilder


def snapshot(folder: Path) -> dict:
    """Every path under folder -> its bytes (files), its target (links) or None (folders)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None
    return out


@pytest.fixture
def work(tmp_path, monkeypatch):
    """tmp_path/work: a model in models/, someone's data/ folder, a notes file, a link; the current folder."""
    w = tmp_path / "work"
    (w / "models").mkdir(parents=True)
    (w / "data").mkdir()
    (w / "data" / "precious.txt").write_text("keep me\n")
    (w / "notes.txt").write_text("mine\n")
    (w / "link").symlink_to(w / "data")
    b = QonnxBuilder([1, 4], seed=0)
    b.save(b.dense(b.x, 3), w / "models" / "m.onnx")
    monkeypatch.chdir(w)
    return w


@pytest.mark.parametrize("out,words", [
    (".", "holds"), ("models", "holds"), ("data", f"no {BUILD_MARKER} marker"), ("notes.txt", "is a file"),
    ("link", "symbolic link"), ("..", "holds"),
])
def test_force_refuses_what_jpq2hw_did_not_build(work, capsys, out, words):
    before = snapshot(work.parent)
    code = main(["build", "models/m.onnx", "-o", out, "--force", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and words in err, err
    assert err.startswith("jpq2hw build: error: output folder") and "internal error" not in err
    assert snapshot(work.parent) == before  # nothing deleted, nothing written


def test_without_force_an_existing_folder_is_refused(work, capsys):
    before = snapshot(work.parent)
    assert main(["build", "models/m.onnx", "-o", "data", "-q"]) == 2
    assert "pass --force" in capsys.readouterr().err and snapshot(work.parent) == before


def test_force_replaces_a_marked_build_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mark_build_folder(out)
    (out / "old.txt").write_text("the previous build")
    check_replaceable(out, force=True)  # ours: accepted
    with output_folder(out, force=True) as tmp:
        assert (tmp / BUILD_MARKER).is_file()  # every new build folder is marked
        (tmp / "new.txt").write_text("the new build")
    assert sorted(p.name for p in out.iterdir()) == [BUILD_MARKER, "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no backup, lock or temporary left
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask  # not mkdtemp's 0700


def test_a_marked_folder_holding_the_model_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mark_build_folder(out)
    (out / "m.onnx").write_text("the model")
    with pytest.raises(JpqError, match="holds"):
        check_replaceable(out, force=True, keep=(out / "m.onnx",))
    assert (out / "m.onnx").read_text() == "the model"


def test_a_failed_rename_is_one_line_and_keeps_both(tmp_path, monkeypatch):
    """EBUSY (OUT is a mount point or in use) at the final rename: one line, OUT unchanged, nothing left beside."""
    out = tmp_path / "out"
    out.mkdir()
    mark_build_folder(out)
    real = Path.rename

    def busy(self, target):
        if self == out:
            raise OSError(16, "Device or resource busy")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", busy)
    with pytest.raises(JpqError, match="cannot replace the output folder .*Device or resource busy"):
        with output_folder(out, force=True) as tmp:
            (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [BUILD_MARKER]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


NASTY_OUT = "o '$(touch PWNED)' `touch PWNED` ;touch PWNED"  # quotes, command substitutions, spaces, a separator


def test_a_build_writes_nothing_outside_its_folder_and_make_runs_nothing_from_its_path(work, capsys):
    """A whole build (g++ C-simulation included) beside someone's files, into a folder whose name is shell code:
    only OUT appears, marked as ours; the documented `make -C OUT/board csim` passes and runs nothing from the
    path (the Makefile names no absolute path)."""
    before = snapshot(work.parent)
    assert main(["build", "models/m.onnx", "-o", NASTY_OUT, "-q", "--vectors", "5"]) == 0, capsys.readouterr().err
    after = snapshot(work.parent)
    assert {k: v for k, v in after.items() if not k.startswith(f"work/{NASTY_OUT}")} == before
    out = work / NASTY_OUT
    assert (out / BUILD_MARKER).is_file() and (out / "report.json").is_file()
    make = subprocess.run(["make", "-C", str(out / "board"), "csim", "CXXFLAGS=-std=c++17 -O0 -Wno-unknown-pragmas"],
                          capture_output=True, text=True, timeout=300)  # -O0: the quickest compile
    assert make.returncode == 0 and "0 mismatched" in make.stdout, make.stdout + make.stderr
    assert not list(work.parent.rglob("PWNED")), "a command in the output path ran"


@pytest.mark.parametrize("where", ["hls4ml", "g++", "write"])
def test_a_full_disk_is_one_line_and_leaves_nothing(work, capsys, monkeypatch, where):
    """ENOSPC inside hls4ml's writer, in g++'s log (ld), or in our own writing: one line that says so (not "hls4ml
    could not convert", not a g++ error, not an internal error), exit 2, the folder as it was."""
    import errno

    from jpq2hw.verify.gxx import Compiled

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "firmware/myproject.cpp")

    if where == "hls4ml":
        monkeypatch.setattr("hls4ml.model.graph.ModelGraph.write", full)
    elif where == "g++":
        log = "/usr/bin/ld: final link failed: No space left on device\ncollect2: error: ld returned 1 exit status"
        monkeypatch.setattr("jpq2hw.writer.axis_check.build_testbench", lambda *a, **k: Compiled(False, log, {}, False))
    else:
        monkeypatch.setattr("jpq2hw.writer.board_files.render_board_files", full)
    before = snapshot(work.parent)
    code = main(["build", "models/m.onnx", "-o", "out", "-q", "--vectors", "5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no space left on the device" in err, err
    assert "internal error" not in err and "hls4ml could not" not in err and "g++ failed" not in err
    assert snapshot(work.parent) == before
