"""`jpq2hw rtl OUT`: Verilog of an existing build's hard-wired layers (da4ml), simulated bit for bit with
Icarus Verilog against the build's reference outputs, synthesized by Yosys for the board's family."""

from pathlib import Path

from jpq2hw.rtl.run import SYNTH_CHOICES, run_rtl


def register(sub) -> None:
    p = sub.add_parser(
        "rtl",
        help="Verilog of a build through da4ml, simulated bit-exact (iverilog) and synthesized (Yosys)",
        description="Read a build folder (model_normalized.onnx, vectors/, report.json), write Verilog for every "
        "dense/conv layer through da4ml plus a top level into OUT/rtl, simulate it with Icarus Verilog on the "
        "build's vectors and compare bit for bit with the onnxruntime outputs, synthesize it with Yosys "
        "(synth_xilinx for the board's family) and add `synthesis.yosys` to report.json. Resource counts are "
        "Yosys's, the delay is a pre-route logic delay (no place-and-route). "
        "Exit 0: bit-exact; 1: the RTL differs; 2: bad input or yosys/iverilog missing.",
    )
    p.add_argument("out", type=Path, help="the build folder (made by `jpq2hw build`)")
    p.add_argument("--board", help="board whose FPGA family to synthesize for (default: the build's)")
    p.add_argument("--synth", choices=SYNTH_CHOICES, default="all",
                   help="what Yosys synthesizes: each layer and the whole design (all, default), only the layers, "
                   "only the whole design, or nothing (simulation only)")
    p.add_argument("--vectors", type=int, help="simulate only the first N of the build's vectors (default: all)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args) -> int:
    code, _ = run_rtl(args.out, board=args.board, synth=args.synth, vectors=args.vectors, quiet=args.quiet)
    return code
