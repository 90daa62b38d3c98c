"""Where the data files of jpq2hw live. The package is installed editable (pip install -e .), so
templates/ and boards/ are read from the checkout beside it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
BOARDS = ROOT / "boards"
EXAMPLES = ROOT / "examples"
