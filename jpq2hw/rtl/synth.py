"""Yosys synthesis of the written RTL for the board's family (synth_xilinx), read back from `stat -json`,
with Yosys's `sta` logic delay: cell delays only, before any placement or routing (there is no open
place-and-route for Xilinx parts), so it is a lower bound of the real critical path, not a timing sign-off."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from jpq2hw.errors import JpqError
from jpq2hw.rtl.sim import _first_line, require
from jpq2hw.templating import render



def yosys_version() -> str:
    out = subprocess.run([require("yosys"), "-V"], capture_output=True, text=True).stdout.strip()
    return out or "yosys"


def parse_stat(data: dict) -> dict:
    """`stat -json` of a flattened synth_xilinx netlist -> resource counts."""
    cells = data.get("design", {}).get("num_cells_by_type")
    if cells is None:  # one module only
        mods = list(data.get("modules", {}).values())
        cells = mods[0].get("num_cells_by_type", {}) if mods else {}
    lut = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c))
    ff = sum(n for c, n in cells.items() if re.fullmatch(r"FD[CPRSE]E?(_1)?|FD[CPRSE]", c))
    srl = sum(n for c, n in cells.items() if c.startswith("SRL"))
    lutram = sum(n for c, n in cells.items() if c.startswith("RAM") and ("X1" in c or c.startswith("RAM32M") or c.startswith("RAM64M")))
    carry = sum(n for c, n in cells.items() if c.startswith("CARRY"))
    dsp = sum(n for c, n in cells.items() if c.startswith("DSP"))
    bram = sum(n for c, n in cells.items() if c.startswith("RAMB"))
    return {"lut": lut, "ff": ff, "carry": carry, "dsp": dsp, "bram": bram, "srl": srl, "lutram": lutram,
            "muxf": sum(n for c, n in cells.items() if c.startswith("MUXF")), "cells": dict(sorted(cells.items()))}


def parse_sta(text: str) -> float | None:
    """Yosys `sta`: 'Latest arrival time in 'top' is 6932' (ps) -> ns."""
    m = re.search(r"Latest arrival time in '[^']*' is (\d+)", text)
    return round(int(m.group(1)) / 1000.0, 3) if m else None


def synthesize(folder: Path, files: list[str], top: str, family: str, name: str | None = None,
               sta: bool = True, timeout_s: float = 3600) -> dict:
    """Synthesize `files` (relative to `folder`) with top `top`; scripts and results go to folder/synth/."""
    require("yosys")
    name = name or top
    synth_dir = Path(folder) / "synth"
    synth_dir.mkdir(exist_ok=True)
    script = f"{name}.ys"
    (synth_dir / script).write_text(render(
        "rtl/synth.ys.j2", family=family, top=top, files=[f"../{f}" for f in files], script=script,
        stat_json=f"{name}_stat.json", sta=sta, sta_log=f"{name}_sta.txt"))
    t0 = time.perf_counter()
    run = subprocess.run(["yosys", "-q", "-l", f"{name}.log", "-s", script], cwd=synth_dir, capture_output=True,
                         text=True, timeout=timeout_s)
    seconds = time.perf_counter() - t0
    if run.returncode != 0:
        raise JpqError(f"rtl: yosys failed on {top}: {_first_line(run.stderr + run.stdout)} "
                       f"(see {synth_dir / (name + '.log')})")
    stats = parse_stat(json.loads((synth_dir / f"{name}_stat.json").read_text()))
    stats["logic_delay_ns"] = parse_sta((synth_dir / f"{name}_sta.txt").read_text()) if sta else None
    stats["synth_s"] = round(seconds, 2)
    stats["family"] = family
    return stats
