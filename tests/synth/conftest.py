"""One small build (tests/build/models.py's sparse_mlp for pynq-z2) per session, and copies of it re-rendered for
the other board families (the board files come from board/stream.json, so no second hls4ml conversion)."""

import json
import shutil
from pathlib import Path

import pytest

from build.models import sparse_mlp  # noqa: E402  (tests/ is on sys.path: tests/conftest.py)

from jpq2hw.boards import load_board  # noqa: E402
from jpq2hw.build import BuildOptions, run_build  # noqa: E402
from jpq2hw.synth.project import project_info  # noqa: E402
from jpq2hw.writer.board_files import render_board_files  # noqa: E402


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """A finished `jpq2hw build` folder (pynq-z2, io_parallel, 20 vectors)."""
    root = tmp_path_factory.mktemp("synth_build")
    model = sparse_mlp(root / "sparse_mlp.onnx")
    code, report = run_build(BuildOptions(model=model, out=root / "out", vectors=20, quiet=True))
    assert code == 0 and report["bit_exact"]
    return root / "out"


@pytest.fixture
def build_copy(built, tmp_path):
    """build_copy(board=None) -> a private copy of the build (re-rendered for `board`), safe to synthesize into."""

    def make(board_name=None):
        out = tmp_path / f"out_{board_name or 'pynq-z2'}"
        shutil.copytree(built, out, symlinks=True, ignore=shutil.ignore_patterns("*_tb", "*.so"))
        if board_name:
            board = load_board(board_name)
            shutil.rmtree(out / "board" / "driver")  # a fresh build for a non-PYNQ board would not have it
            stream = json.loads((out / "board" / "stream.json").read_text())
            stream.update(board=board.name, part=board.part)
            render_board_files(out, board, project_info(stream))
            report = json.loads((out / "report.json").read_text())
            report.update(board=board.name, part=board.part)
            (out / "report.json").write_text(json.dumps(report))
        return out

    return make
