"""The output folder of a build. OUT is either what it was before the build or the whole new build, never half
of either:

- a lock file `.OUT.lock` beside OUT (created exclusively, holding the builder's pid) refuses a second build of the
  same OUT while one runs;
- the build writes into a temporary sibling `.OUT.tmp-XXXX`; at the end the paths hls4ml wrote into its files
  (hls/hls4ml_config.yml holds the absolute OutputDir) are rewritten to OUT, an old OUT is set aside in
  `.OUT.old-XXXX`, the new folder is renamed to OUT and the old one deleted (signals held meanwhile);
- a failed or interrupted build (an error, Ctrl-C, SIGTERM, SIGHUP: see interrupts.py) deletes its temporary
  folder; OUT is untouched;
- SIGKILL (or a power cut) cannot be caught: it leaves `.OUT.tmp-XXXX` (and, only if it struck between the two
  renames, the old OUT in `.OUT.old-XXXX`). The next build of OUT says what it finds and how to recover;
- every build folder holds a marker file `.jpq2hw-build`; `--force` replaces OUT only when it finds it there, so
  it never deletes a folder or file jpq2hw did not make (`-o .`, `-o` the model's own folder, a typo naming
  someone's data), nor OUT when it holds the model or the current folder, nor a mount point (which cannot be
  renamed). Each refusal is one line, before any work, and deletes nothing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from jpq2hw.errors import JpqError, printable
from jpq2hw.interrupts import signals_blocked

# files that may quote the folder's own path (hls4ml's config, scripts, reports); compiled files are not rewritten
TEXT_SUFFIXES = {".yml", ".yaml", ".json", ".tcl", ".sh", ".md", ".txt", ".py", ".cfg", ".mk", ""}
REWRITE_MAX_BYTES = 4 << 20
BUILD_MARKER = ".jpq2hw-build"


def mark_build_folder(folder: Path) -> None:
    (folder / BUILD_MARKER).write_text("a folder written by `jpq2hw build`: `jpq2hw build --force` may replace it "
                                       "whole\n")


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_replaceable(out: Path, force: bool, keep: tuple[Path, ...] = ()) -> None:
    """Refuse (one line, nothing deleted) an existing OUT that a build must not replace: any without --force;
    with --force, anything but a folder holding our marker, and a folder holding one of `keep` (the model) or
    the current folder, or a mount point."""
    out = Path(os.path.abspath(out))
    if not (out.exists() or out.is_symlink()):
        return
    if not force:
        raise JpqError(f"output folder {out} exists; pass --force to replace it")
    refuse = "--force replaces only a build folder jpq2hw made; nothing was deleted"
    if out.is_symlink():
        raise JpqError(f"output folder {out} is a symbolic link; {refuse}")
    if not out.is_dir():
        raise JpqError(f"output folder {out} is a file, not a build folder; {refuse}")
    if os.path.ismount(out):
        raise JpqError(f"output folder {out} is a mount point, which a build cannot replace (it renames folders); "
                       f"build into a folder inside it")
    for path in (Path.cwd(), *keep):
        if _inside(Path(os.path.abspath(path)), out):
            raise JpqError(f"output folder {out} holds {path}; {refuse}")
    if not (out / BUILD_MARKER).is_file():
        raise JpqError(f"output folder {out} has no {BUILD_MARKER} marker, so jpq2hw did not build it (or an older "
                       f"version did: delete it yourself); {refuse}")


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


@contextmanager
def build_lock(out: Path):
    """Hold `.OUT.lock` for the block. A lock left by a process that no longer exists is taken over."""
    lock = lock_path(out)
    for attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid) or attempt:
                raise JpqError(f"{out} is being built by process {pid or '?'} (lock file {lock}; if no build is "
                               f"running, delete it)") from None
            lock.unlink(missing_ok=True)  # stale: its builder is gone (killed)
        except OSError as exc:
            raise JpqError(f"cannot create the output folder {out}: {exc.strerror} ({exc.filename})") from None
    with os.fdopen(fd, "w") as f:
        f.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        try:
            if lock.read_text().strip() == str(os.getpid()):
                lock.unlink()
        except OSError:
            pass


def leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.tmp-*")) + sorted(out.parent.glob(f".{out.name}.old-*"))


def leftover_notes(out: Path) -> list[str]:
    """What killed builds of OUT left behind, and what to do with it (called under the lock: none is in use)."""
    notes = []
    for path in leftovers(out):
        if ".tmp-" in path.name or not (path / out.name).exists():
            notes.append(f"note: {path} is left from a build of {out} that was killed (SIGKILL or a crash); it is "
                         f"incomplete and not used: delete it (rm -r {shlex.quote(str(path))})")
        else:
            q = shlex.quote
            what = (f"{out} is the newer build, so it is not needed: rm -r {q(str(path))}" if out.exists()
                    else f"to recover it: mv {q(str(path / out.name))} {q(str(out))} && rm -r {q(str(path))}")
            notes.append(f"note: {path / out.name} is the previous {out} that a killed --force build had set "
                         f"aside; {what}")
    return notes


def _rewrite_paths(folder: Path, old: str, new: str) -> None:
    """Replace the temporary folder's absolute path by OUT's in the text files that quote it."""
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.suffix not in TEXT_SUFFIXES:
            continue
        if path.stat().st_size > REWRITE_MAX_BYTES:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if old in text:
            path.write_text(text.replace(old, new))


def _commit(tmp: Path, out: Path) -> None:
    """Put the finished build in place of OUT (the old one, if any, set aside first and deleted after)."""
    _rewrite_paths(tmp, str(tmp), str(out))
    if out.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        try:
            out.rename(backup / out.name)
        except OSError as exc:  # EBUSY (a mount point, a folder in use), EACCES...
            backup.rmdir()
            raise JpqError(f"cannot replace the output folder {out}: {exc.strerror}; the new build is not kept and "
                           f"{out} is unchanged") from None
        try:
            tmp.rename(out)
        except OSError:
            (backup / out.name).rename(out)
            raise
        shutil.rmtree(backup, ignore_errors=True)
    else:
        tmp.rename(out)


@contextmanager
def output_folder(out: Path, force: bool, announce=None, keep: tuple[Path, ...] = ()):
    """Yield the temporary folder to build in (marked as a build); on success it becomes OUT. `announce(text)`
    shows notes about leftovers of killed builds (default: stderr); `keep`: paths OUT must not hold (the model)."""
    out = Path(os.path.abspath(out))
    existing = next(p for p in out.parents if p.exists() or p.is_symlink())
    if not existing.is_dir():
        raise JpqError(f"cannot create the output folder {out}: {existing} is not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JpqError(f"cannot create the output folder {out}: {exc.strerror} ({exc.filename})") from None
    with build_lock(out):
        for note in leftover_notes(out):
            (announce or (lambda t: print(printable(t), file=sys.stderr, flush=True)))(note)
        check_replaceable(out, force, keep)  # again, under the lock: OUT may have changed since the options
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        except OSError as exc:
            raise JpqError(f"cannot write the output folder {out}: {exc.strerror} ({out.parent})") from None
        try:
            os.chmod(tmp, _umask_mode())  # mkdtemp makes it 0700; OUT gets the mode any new folder would
            mark_build_folder(tmp)
            yield tmp
            with signals_blocked():
                _commit(tmp, out)
        except BaseException:
            with signals_blocked():
                shutil.rmtree(tmp, ignore_errors=True)
            raise
