import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/rtl/rtl_models.py

TOOLS = ("yosys", "iverilog", "vvp")


def pytest_collection_modifyitems(config, items):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:  # scripts/test.sh installs them; a bare checkout says what to install instead of failing
        skip = pytest.mark.skip(reason=f"needs {', '.join(missing)} (apt-get install -y yosys iverilog)")
        for item in items:
            if "tests/rtl/" in str(item.fspath) and "needs_tools" in item.keywords:
                item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_tools: needs yosys and iverilog (scripts/test.sh installs them)")
