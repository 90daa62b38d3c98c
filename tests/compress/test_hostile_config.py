"""Hostile or careless compress configs: --fresh deletes only our own checkpoint files and only after the config
validated; the user's code failing (raising, sys.exit) is named as theirs; string-typed numbers are refused."""

import textwrap

import pytest

from jpq2hw.cli import main as cli_main
from jpq2hw.compress.pipeline import CHECKPOINT_NAME, MARKER_NAME

ENTRY = """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
def make():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 4, 4); y = (x.mean((1, 2, 3)) > 0.5).long()
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32, 2))
    return model, DataLoader(TensorDataset(x, y), batch_size=16), lambda m: 0.5
def boom():
    raise ValueError("no data here")
def leave():
    import sys
    sys.exit(0)
"""
FAST = "{target_sparsity: 0.5, prune_steps: 1, epochs_per_step: 1, qat_epochs: 1, score_batches: 1, calibration_batches: 1}"


def compress_cli(tmp_path, capsys, body, *extra):
    (tmp_path / "entry.py").write_text(ENTRY)
    (tmp_path / "c.yaml").write_text(textwrap.dedent(body))
    code = cli_main(["compress", str(tmp_path / "c.yaml"), "--quiet", *extra])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("ckpt", ["../victim", ".", "ABS"])
def test_fresh_with_an_invalid_config_deletes_nothing(tmp_path, capsys, ckpt):
    work = tmp_path / "work"
    work.mkdir()
    victim = tmp_path / "victim" if ckpt != "." else work
    victim.mkdir(exist_ok=True)
    (victim / "precious.txt").write_text("keep me")
    ckpt = str(victim) if ckpt == "ABS" else ckpt
    code, err = compress_cli(work, capsys, f"entry: entry.py:make\ncheckpoint_dir: '{ckpt}'\n"
                                           "compress: {weight_bits: 12}\n", "--fresh")
    assert code == 2 and "weight_bits" in err
    assert (victim / "precious.txt").read_text() == "keep me"


def test_fresh_deletes_only_its_own_files(tmp_path, capsys):
    ckpt = tmp_path / "shared"
    ckpt.mkdir()
    (ckpt / "precious.txt").write_text("keep me")
    body = f"entry: entry.py:make\noutput: m.onnx\ncheckpoint_dir: shared\ncompress: {FAST}\n"
    assert compress_cli(tmp_path, capsys, body)[0] == 0
    assert (ckpt / CHECKPOINT_NAME).is_file() and (ckpt / MARKER_NAME).is_file()
    assert compress_cli(tmp_path, capsys, body, "--fresh")[0] == 0  # started over (the run writes them again)
    assert (ckpt / "precious.txt").read_text() == "keep me" and (ckpt / CHECKPOINT_NAME).is_file()


def test_fresh_leaves_a_checkpoint_without_our_marker(tmp_path, capsys):
    ckpt = tmp_path / "theirs"
    ckpt.mkdir()
    (ckpt / CHECKPOINT_NAME).write_bytes(b"someone else's")
    code, err = compress_cli(tmp_path, capsys, f"entry: entry.py:make\ncheckpoint_dir: theirs\ncompress: {FAST}\n",
                             "--fresh")
    assert code == 2 and MARKER_NAME in err and len(err.splitlines()) == 1
    assert (ckpt / CHECKPOINT_NAME).read_bytes() == b"someone else's"


@pytest.mark.parametrize("option,value", [("weight_bits", '"4"'), ("target_sparsity", '"0.9"'),
                                          ("score_batches", '"8"'), ("lr", "true"), ("method", "[joint]")])
def test_string_typed_numbers_are_refused_in_one_line(tmp_path, capsys, option, value):
    code, err = compress_cli(tmp_path, capsys, f"entry: entry.py:make\ncompress: {{{option}: {value}}}\n")
    assert code == 2 and option in err and "internal error" not in err and len(err.splitlines()) == 1, err


def test_an_entry_that_raises_is_named(tmp_path, capsys):
    code, err = compress_cli(tmp_path, capsys, "entry: entry.py:boom\n")
    assert code == 2 and "your entry entry.py:boom raised: ValueError: no data here" in err, err
    assert "internal error" not in err


def test_an_entry_calling_sys_exit_0_is_a_failure(tmp_path, capsys):
    code, err = compress_cli(tmp_path, capsys, "entry: entry.py:leave\noutput: m.onnx\n")
    assert code == 2 and "sys.exit(0)" in err and "entry.py:leave" in err, err
    assert not (tmp_path / "m.onnx").exists()


def test_help_says_the_entry_is_run(capsys):
    assert cli_main(["compress", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "imported and run" in text and "running a script" in text
