"""The hls4ml projects shared by the board-file tests, converted once per session."""

import pytest
from board_test_models import convert


@pytest.fixture(scope="session")
def hls_project(tmp_path_factory):
    """hls_project(kind, io_type) -> (build output folder, hls4ml ModelGraph written to <out>/hls)."""
    cache = {}

    def get(kind, io_type):
        if (kind, io_type) not in cache:
            out_dir = tmp_path_factory.mktemp(f"{kind}_{io_type}")
            cache[kind, io_type] = out_dir, convert(kind, io_type, out_dir / "hls")
        return cache[kind, io_type]

    return get
