"""Folded-constant bombs (Range(0, 4e9), ConstantOfShape/Expand/Tile/broadcast/outer products of 5e4 x 5e4, an If
branch or a Loop of 1e12 trips, a sparse Constant, a contrib op) and a fuzz over the sizes in their constant
subgraphs: each is refused in one line naming the node, from its shapes, before normalization folds anything;
sane sizes are accepted. The worker runs in a child process whose address space is capped (MEMORY_CAP): a model
that made the front half allocate more would fail there (MemoryError) instead of taking the machine's memory."""

import json
import resource
import subprocess

import pytest

from testkit import child_command
from testkit.bombs import SMALL_ACCEPTED, bomb_files, mutated_bomb_files

MEMORY_CAP = 2 << 30  # the worker's address space: Python, numpy, onnxruntime and qonnx fit in 1.5 GB
CASE_SECONDS = 10
N_MUTATIONS = 30


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(files, out_dir):
    argv, env = child_command("hostile", str(out_dir), *map(str, files))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, preexec_fn=_cap_memory)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and len(rows) == len(files), f"worker died after {len(rows)}: {proc.stderr[-800:]}"
    return rows


def problems_of(rows, files):
    problems = []
    for row, path in zip(rows, files):
        if row["outcome"] == "error":
            msg = row["message"]
            if not msg.startswith(str(path)) or any(not ch.isprintable() for ch in msg):
                problems.append(f"{row['file']}: not one line naming the file: {msg!r}")
        elif row["outcome"] != "accepted":
            problems.append(f"{row['file']}: {row['outcome']}: {row['message']}")
        if row["seconds"] > CASE_SECONDS or row["left_behind"]:
            problems.append(f"{row['file']}: {row['seconds']} s, left {row['left_behind']}")
    return problems


def test_bombs_are_refused_by_name_before_folding(tmp_path):
    files = bomb_files(tmp_path / "in")
    rows = run_capped(files, tmp_path / "out")
    assert not problems_of(rows, files), "\n".join(problems_of(rows, files))
    by_name = {r["file"].removesuffix(".onnx"): r for r in rows}
    for name, row in by_name.items():
        assert row["outcome"] == ("accepted" if name in SMALL_ACCEPTED else "error"), row
    expect = {"bomb_range_4e9": "'Range_bomb' (Range): tensor 'bomb' would hold 4,000,000,000 values",
              "bomb_constant_of_shape": "'ConstantOfShape_bomb' (ConstantOfShape): tensor 'bomb' would hold 2,500,",
              "bomb_tile": "'Tile_bomb' (Tile)", "bomb_expand": "'Expand_bomb' (Expand)",
              "bomb_if_branch": "'If_bomb' (If) carries a subgraph", "bomb_loop_1e12": "'Loop_bomb' (Loop) carries",
              "bomb_shape_from_arithmetic": "shape cannot be known before computing it",
              "bomb_contrib_op": "domain 'com.microsoft'",
              "bomb_resize_8192": "'Resize_up' (Resize): tensor 'up' would hold 2,147,483,648 values"}
    for name, text in expect.items():
        assert text in by_name[name]["message"], by_name[name]


@pytest.mark.parametrize("seed", [0])
def test_fuzzed_constant_subgraph_sizes(tmp_path, seed):
    files = mutated_bomb_files(tmp_path / "in", N_MUTATIONS, seed)
    rows = run_capped(files, tmp_path / "out")
    assert not problems_of(rows, files), "\n".join(problems_of(rows, files))
