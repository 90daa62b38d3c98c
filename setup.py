"""Packaging hook. templates/ and boards/ stay at the top of the repository (the design keeps them there); a
built package (wheel, `pip install .`) carries them as jpq2hw/share/templates and jpq2hw/share/boards (package
data; a subfolder because jpq2hw/boards.py is a module). An editable install reads them from the checkout
instead: jpq2hw/paths.py looks inside the package first, then beside it."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("templates", "boards")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the checkout's folders are used in place
        for name in DATA_DIRS:
            target = Path(self.build_lib) / "jpq2hw" / "share" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithData})
