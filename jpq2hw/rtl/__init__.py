"""Hardware truth without Vivado: the hard-wired (constant-weight) layers of a normalized model as Verilog
through da4ml, simulated bit for bit with Icarus Verilog against the reference outputs, synthesized by Yosys
for the board's family. Entry points: `run_rtl` (an existing build folder) and `rtl_for_build` (inside a build).
"""

from jpq2hw.rtl.run import rtl_for_build, run_rtl

__all__ = ["rtl_for_build", "run_rtl"]
