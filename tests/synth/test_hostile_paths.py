"""`jpq2hw synth --dry-run` prints commands that are safe to paste, whatever the build folder is called: every path is
shell-quoted, and a path docker -v would misread (it holds ':') is refused. Uses a hand-made build folder (no build)."""

import json
import subprocess

from jpq2hw.cli import main


def fake_build(folder):
    (folder / "board").mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps({"model": "m.onnx"}))
    (folder / "board" / "stream.json").write_text(json.dumps({"wrapper_name": "w", "hls_tool": "vitis_hls"}))
    return folder


def test_local_dry_run_is_safe_to_paste(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    out = fake_build(tmp_path / "x;touch PWNED;#")
    assert main(["synth", str(out), "--local", "--stage", "csynth", "--dry-run"]) == 0
    line = capsys.readouterr().out.strip()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "vitis_hls").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "vitis_hls").chmod(0o755)
    subprocess.run(["sh", "-c", line], cwd=tmp_path, env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}, check=True)
    assert not (tmp_path / "PWNED").exists() and not (out / "board" / "PWNED").exists(), line
    assert (out / "synth" / "csynth.log").is_file()  # the redirection went where it says


def test_docker_refuses_a_colon_in_a_mounted_path(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("XILINXD_LICENSE_FILE", raising=False)
    out = fake_build(tmp_path / "a:b")
    code = main(["synth", str(out), "--docker", "img", "--xilinx-root", "/opt/x", "--dry-run"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "a:b" in err and "':'" in err and len(err.splitlines()) == 1, err
    ok = fake_build(tmp_path / "ok")
    assert main(["synth", str(ok), "--docker", "img", "--xilinx-root", "/opt/x:y", "--dry-run"]) == 2


def test_synth_runs_only_listed_tools_whatever_stream_json_says(tmp_path, capsys, monkeypatch):
    """A build folder from someone else names `sh` (or a path, or ../ in a name): refused in one line naming the
    field, before anything runs, even when that program exists on PATH."""
    (tmp_path / "bin").mkdir()
    for name in ("sh", "vitis_hls", "vivado"):
        (tmp_path / "bin" / name).write_text("#!/bin/sh\ntouch \"$0.RAN\"\n")
        (tmp_path / "bin" / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    cases = {"hls_tool": ("sh", "field hls_tool 'sh'"), "vivado_tool": ("/bin/sh", "vivado_tool '/bin/sh'"),
             "wrapper_name": ("../../x", "wrapper_name '../../x' is not a plain name")}
    for key, (value, words) in cases.items():
        out = fake_build(tmp_path / key)
        stream = json.loads((out / "board" / "stream.json").read_text())
        stream.update(vivado_tool="vivado", overlay_name="w", project_name="p", pynq_overlay=False)
        stream[key] = value
        (out / "board" / "stream.json").write_text(json.dumps(stream))
        code = main(["synth", str(out), "--local", "--stage", "csynth"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and words.split("field ")[-1] in err, err
        assert "one of" in err or "plain name" in err
    assert not list(tmp_path.rglob("*.RAN")), "a program named by stream.json ran"
