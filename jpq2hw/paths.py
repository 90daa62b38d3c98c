"""Where the data files of jpq2hw live: inside the package when it is installed from a wheel or
`pip install .` (setup.py copies them there), else in the checkout beside it (editable install, PYTHONPATH)."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = PACKAGE / "share" / name
    return installed if installed.is_dir() else PACKAGE.parent / name


TEMPLATES = _data_dir("templates")
BOARDS = _data_dir("boards")
