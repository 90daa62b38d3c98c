"""g++ for the C-simulation: each translation unit compiled once, in its own process (side by side when the
machine has free cores), with the ap_types headers precompiled once per compiler and flags (cached outside the
build folder), then linked into one program.

Optimization level, from measurements (benchmarks/opt_levels.py on the digits CNN, io_parallel, g++ 12, CPU
seconds on a loaded machine; benchmarks/build_speed_results.md):
    level   compile myproject.cpp   run 100 vectors (wrapper)
    -O0      4.6                    165
    -Og      7.0                      1.6
    -O1     12.1                      1.1
    -O3     18.4                      1.1
-O0 leaves ap_fixed's operators as calls (50-100x slower to run); past -O1 the compile grows and the run does not
shrink. -Og is cheaper on small nets; -O1 is kept until the full-frame stereo model, whose run dominates, is
measured at -Og. OPT_LEVEL is what both the build and the board Makefile use."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from jpq2hw.errors import ToolMissing

OPT_LEVEL = "-O1"
BASE_FLAGS = ["-std=c++17", "-Wno-unknown-pragmas"]
PCH_HEADER = "jpq2hw_ap_types.h"
PCH_INCLUDES = ["<iostream>", "<fstream>", "<sstream>", "<string>", "<vector>", '"ap_fixed.h"', '"ap_int.h"',
                '"hls_stream.h"']  # what every unit includes first; hls4ml's nnet headers differ per model


@dataclass
class Compiled:
    ok: bool
    log: str  # compiler errors (the last 4000 characters), or "" on success
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per unit, and "link"
    precompiled_header: bool = False  # the ap_types PCH was used


def gxx() -> str:
    path = shutil.which("g++")
    if path is None:
        raise ToolMissing("g++ is not installed: it is needed for the C-simulation (apt-get install g++)")
    return path


def workers() -> int:
    """Cores this process may use (a container's affinity, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def build_program(sources: list[Path], exe: Path, includes: list[Path], defines: list[str],
                  opt: str = OPT_LEVEL, timeout_s: float = 1200) -> Compiled:
    """Compile each source to an object (in a temporary folder, side by side on free cores) and link `exe`.
    The largest source starts first: it is the critical path (hls4ml's network)."""
    cxx = gxx()
    flags = [*BASE_FLAGS, opt, *(f"-I{p}" for p in includes), *(f"-D{d}" for d in defines)]
    pch = precompiled_header(cxx, [*BASE_FLAGS, opt], includes)
    if pch is not None:
        flags = [*flags, "-include", str(pch)]
    order = sorted(sources, key=lambda s: -Path(s).stat().st_size)
    with tempfile.TemporaryDirectory(prefix="jpq2hw-obj-") as tmp:
        objs = [Path(tmp) / f"{i}_{Path(s).stem}.o" for i, s in enumerate(order)]

        def one(src_obj):
            src, obj = src_obj
            start = time.perf_counter()
            run = subprocess.run([cxx, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True,
                                 timeout=timeout_s)
            return Path(src).name, run, time.perf_counter() - start

        with ThreadPoolExecutor(max_workers=min(workers(), len(order))) as pool:
            results = list(pool.map(one, zip(order, objs)))
        seconds = {name: round(s, 3) for name, _, s in results}
        failed = [run for _, run, _ in results if run.returncode != 0]
        if failed:
            return Compiled(False, "\n".join(r.stderr for r in failed)[-4000:], seconds, pch is not None)
        start = time.perf_counter()
        link = subprocess.run([cxx, *map(str, objs), "-o", str(exe)], capture_output=True, text=True,
                              timeout=timeout_s)
        seconds["link"] = round(time.perf_counter() - start, 3)
        return Compiled(link.returncode == 0, link.stderr[-4000:], seconds, pch is not None)


def cache_dir() -> Path:
    root = os.environ.get("JPQ2HW_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                          os.path.expanduser("~/.cache"), "jpq2hw")
    return Path(root)


def precompiled_header(cxx: str, flags: list[str], includes: list[Path]) -> Path | None:
    """The ap_types/standard headers every unit includes, precompiled once per compiler, flags and header
    contents (the key names all three), in the user's cache. None if it cannot be made: the units then parse
    the headers themselves, which gives the same program, only slower. g++ ignores a .gch that does not match
    its flags and reads the header instead, so a stale cache cannot change a result."""
    ap_types = next((Path(p) for p in includes if (Path(p) / "ap_fixed.h").is_file()), None)
    if ap_types is None or os.environ.get("JPQ2HW_NO_PCH"):
        return None
    key = hashlib.sha256()
    try:
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    key.update(f"{cxx}\n{version}\n{' '.join(flags)}\n{PCH_INCLUDES}".encode())
    for header in sorted(ap_types.rglob("*.h")):
        key.update(header.relative_to(ap_types).as_posix().encode() + b"\0" + header.read_bytes())
    folder = cache_dir() / f"pch-{key.hexdigest()[:20]}"
    header, gch = folder / PCH_HEADER, folder / f"{PCH_HEADER}.gch"
    if gch.is_file() and header.is_file():
        return header
    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = "".join(f"#include {h}\n" for h in PCH_INCLUDES)
        tmp_header = folder / f".{PCH_HEADER}.{os.getpid()}"
        tmp_header.write_text(text)
        tmp_gch = folder / f".{PCH_HEADER}.gch.{os.getpid()}"
        made = subprocess.run([cxx, *flags, f"-I{ap_types}", "-x", "c++-header", str(tmp_header), "-o", str(tmp_gch)],
                              capture_output=True, text=True, timeout=300)
        if made.returncode != 0:
            tmp_header.unlink(missing_ok=True)
            tmp_gch.unlink(missing_ok=True)
            return None
        tmp_header.replace(header)  # renames: a build running beside this one sees both files or neither
        tmp_gch.replace(gch)
        return header
    except OSError:  # a read-only or full cache: compile without
        return None
