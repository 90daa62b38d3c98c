import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def conv_model(tmp_path_factory):
    from report_models import conv_net

    return conv_net(tmp_path_factory.mktemp("models") / "conv.onnx")


@pytest.fixture(scope="session")
def estimate_report(conv_model):
    from jpq2hw.commands.report import build_estimate_report

    return build_estimate_report(conv_model, "pynq-z2")
