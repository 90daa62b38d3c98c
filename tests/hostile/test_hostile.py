"""Hostile files through load -> validate -> normalize -> annotate (no compile): every one must end in a
one-line JpqError naming the file, or be accepted; never another exception, an interpreter crash or a hang,
and never leave anything on disk. Runs in a child process (testkit.hostile), each file time-boxed."""

import json
import subprocess
import sys

import pytest

from testkit import child_command
from testkit.hostile import (ACCEPTABLE, CASE_SECONDS, FORGED_NAME, cli_probes, hostile_files, mutated_files,
                             structural_files)

N_BYTE_MUTATIONS = 120
N_STRUCTURAL = 160


def run_worker(files, out_dir, timeout):
    argv, env = child_command("hostile", str(out_dir), *map(str, files))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, f"worker died (exit {proc.returncode}) after {len(rows)} files: {proc.stderr[-800:]}"
    assert len(rows) == len(files), f"worker stopped after {len(rows)} of {len(files)} files: {proc.stderr[-800:]}"
    return rows


def check_rows(rows, files, out_dir):
    problems = []
    for row, path in zip(rows, files):
        if row["outcome"] == "error":
            msg = row["message"]
            if any(not ch.isprintable() for ch in msg) or not msg.startswith(str(path)):
                problems.append(f"{row['file']}: message not one line naming the file: {msg!r}")
        elif row["outcome"] != "accepted":
            problems.append(f"{row['file']}: {row['outcome']}: {row['message']}")
        if row["left_behind"]:
            problems.append(f"{row['file']}: left behind {row['left_behind']}")
        if row["seconds"] > CASE_SECONDS:
            problems.append(f"{row['file']}: took {row['seconds']} s")
    assert not list(out_dir.iterdir()), f"output written: {list(out_dir.iterdir())}"
    assert not problems, "\n".join(problems)


def test_hand_made_hostile_files(tmp_path):
    files = hostile_files(tmp_path / "in")
    rows = run_worker(files, tmp_path / "out", timeout=300)
    check_rows(rows, files, tmp_path / "out")
    for row in rows:
        name = row["file"].removesuffix(".onnx")
        if name in ACCEPTABLE:
            assert row["outcome"] == "accepted", row
        elif not name.startswith("scale_") or "1e-45" not in name:  # a 2^-149 scale is a valid power of two
            assert row["outcome"] == "error", row


def test_bit_width_0_and_64_named(tmp_path):
    files = [f for f in hostile_files(tmp_path / "in") if f.stem in ("bits_qw_0", "bits_qy_64", "cycle",
                                                                      "quant_3_inputs", "missing_weight_initializer")]
    rows = {r["file"]: r["message"] for r in run_worker(files, tmp_path / "out", timeout=120)}
    assert "Quant_1" in rows["bits_qw_0.onnx"] and "bit width [0.0]" in rows["bits_qw_0.onnx"]
    assert "bit width [64.0]" in rows["bits_qy_64.onnx"]
    assert "cycle" in rows["cycle.onnx"]
    assert "Quant needs 4 inputs" in rows["quant_3_inputs.onnx"]
    assert "'w'" in rows["missing_weight_initializer.onnx"]


def test_external_data_and_forged_names(tmp_path):
    files = [f for f in hostile_files(tmp_path / "in") if f.stem.startswith(("external_data_", "forged_"))]
    rows = {r["file"]: r["message"] for r in run_worker(files, tmp_path / "out", timeout=120)}
    assert "is a FIFO" in rows["external_data_fifo.onnx"] and "is a folder" in rows["external_data_folder.onnx"]
    assert "is a character device" in rows["external_data_device.onnx"]
    assert "NUL byte" in rows["external_data_nul_byte.onnx"]
    assert FORGED_NAME.encode("unicode_escape").decode() in rows["forged_name_in_error.onnx"]


def test_cli_probes(tmp_path):
    """Configs, output folders and paths through whole commands, in one child process (see cli_probes)."""
    argv, env = child_command("hostile", "--cli-probes", str(tmp_path))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["probe"] for r in rows] == [p.name for p in cli_probes()], proc.stderr[-800:]
    problems = [p for r in rows for p in r["problems"]]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("seed", [0])
def test_random_byte_mutations(seed, tmp_path):
    files = mutated_files(tmp_path / "in", N_BYTE_MUTATIONS, seed)
    rows = run_worker(files, tmp_path / "out", timeout=600)
    check_rows(rows, files, tmp_path / "out")


@pytest.mark.parametrize("seed", [0, 1])
def test_structural_mutations(seed, tmp_path):
    files = structural_files(tmp_path / "in", N_STRUCTURAL // 2, seed)
    rows = run_worker(files, tmp_path / "out", timeout=600)
    check_rows(rows, files, tmp_path / "out")
    outcomes = {r["outcome"] for r in rows}
    assert outcomes <= {"error", "accepted"}
