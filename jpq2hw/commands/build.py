"""`jpq2hw build`: a QONNX model to a board-ready HLS project, proven bit-exact against onnxruntime."""

from pathlib import Path

from jpq2hw.build import BACKENDS, IO_TYPES, BuildOptions, run_build


def register(sub) -> None:
    p = sub.add_parser(
        "build",
        help="QONNX model -> board-ready HLS project, checked bit-exact against onnxruntime",
        description="Convert a quantized (QONNX) model into an hls4ml HLS project with board files, compile it "
        "with g++, run test vectors through it and through onnxruntime, and compare bit for bit. "
        "Exit 0: built and bit-exact; 1: built but not bit-exact (report.md says where); 2: bad input; "
        "3: built and bit-exact, but an optional late step (--rtl, a report page) failed (report.json: failed_steps); "
        "130/143/129: stopped by Ctrl-C/SIGTERM/SIGHUP. OUT is written into a temporary sibling and renamed into "
        "place at the end, so it is never half-written (docs/security.md).",
    )
    p.add_argument("model", type=Path, help="the .onnx (QONNX) model; external data must sit beside it")
    p.add_argument("--board", default="pynq-z2", help="target board (see `jpq2hw boards`; default pynq-z2)")
    p.add_argument("-o", "--out", type=Path, help="output folder (default: <model stem>_<board>)")
    p.add_argument("--vectors", type=int, default=100, help="random test vectors over the input's range (default 100)")
    p.add_argument("--input-data", type=Path, help=".npy of real inputs to check as well (one sample or a batch)")
    p.add_argument("--input-type", metavar="TYPE",
                   help="grid of an unquantized float input, which the hardware then takes: fixed<W,I>, ufixed<W,I>, "
                        "intN, uintN or intN*SCALE (e.g. fixed<16,6>, uint8*1/256); the build is exact for inputs on it")
    p.add_argument("--backend", choices=sorted(BACKENDS), default="vitis", help="HLS backend (default vitis)")
    p.add_argument("--io", choices=sorted(IO_TYPES) + ["auto"], default="auto",
                   help="io_parallel (small nets, lowest latency), io_stream (large feature maps), or auto "
                        "(default: stream when a conv feature map exceeds 4096 values)")
    p.add_argument("--reuse-factor", type=int, default=1, help="multiplier reuse (1 = fully parallel)")
    p.add_argument("--clock-mhz", type=float, help="target clock (default: the board's)")
    p.add_argument("--fit", choices=["none", "auto"], default="none",
                   help="auto: choose strategy and reuse factor per layer so the estimated design fits the board")
    p.add_argument("--rtl", action="store_true",
                   help="also write Verilog through da4ml, simulate it bit-exact (iverilog) and synthesize it (Yosys)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test vectors")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--no-limits", action="store_true",
                   help="build past the resource limits (graph nodes, tensor size, weights, board storage, "
                        "C-simulation MACs, vector memory: docs/security.md); for people who mean it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args) -> int:
    opts = BuildOptions(
        model=args.model, board=args.board, out=args.out, vectors=args.vectors, input_data=args.input_data,
        backend=args.backend, io=args.io, reuse_factor=args.reuse_factor, clock_mhz=args.clock_mhz,
        force=args.force, quiet=args.quiet, seed=args.seed, fit=args.fit, rtl=args.rtl, input_type=args.input_type,
        no_limits=args.no_limits,
    )
    code, _ = run_build(opts)
    return code
