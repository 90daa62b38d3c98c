from pathlib import Path

import pytest

from build import models


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def model_file(model_dir):
    """model_file(kind) -> path of that test model, made once per session."""
    made = {}

    def make(kind: str) -> Path:
        if kind not in made:
            made[kind] = getattr(models, kind)(model_dir / f"{kind}.onnx")
        return made[kind]

    return make
