"""The output folder of a build: written in place, an old one kept aside until the build succeeds."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def output_folder(out: Path, force: bool):
    """Build straight into `out` (hls4ml writes absolute paths, so the folder cannot be moved afterwards);
    an old `out` is kept aside until the build succeeds, and a failed build removes every trace."""
    backup = None
    if out.exists():
        assert force
        backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(backup / out.name)
    out.mkdir(parents=True)
    try:
        yield out
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if backup is not None:
            (backup / out.name).rename(out)
            shutil.rmtree(backup, ignore_errors=True)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
