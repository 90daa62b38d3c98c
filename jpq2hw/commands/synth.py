"""`jpq2hw synth OUT [--docker IMAGE | --local] [--stage csynth|export|bitstream] [--dry-run]`: run Vitis HLS
(C-synthesis, IP export) and, for the bitstream stage, Vivado (block design, implementation, bitstream) on a
project made by `jpq2hw build`; put the synthesis numbers into its report."""

from __future__ import annotations

import os

from jpq2hw.synth.plan import DEFAULT_XILINX_ROOT, DEFAULT_XILINX_VERSION, STAGES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="synthesize a built project with your Xilinx tools (locally or in Docker)",
        description="Run the Xilinx tools on a folder made by `jpq2hw build`: Vitis HLS C-synthesis (csynth), "
        "+ IP export (export), + the board's Vivado block design, implementation and bitstream (bitstream, the "
        "default). Tool output goes to the terminal and OUT/synth/<step>.log; on success the parsed synthesis "
        "report goes into OUT/report.json/.md/.html. Exit 0 done, 1 a tool failed (the message names the log), "
        "2 bad folder or no tools / no Docker engine. See docs/synth.md.",
    )
    p.add_argument("out", help="the output folder of `jpq2hw build`")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--docker", metavar="IMAGE", help="run inside this image (built from the Dockerfile), with "
                      "the Xilinx install and license mounted")
    mode.add_argument("--local", action="store_true", help="run the tools installed here (the default)")
    p.add_argument("--stage", choices=STAGES, default="bitstream",
                   help="how far to go (default bitstream; csynth takes minutes, bitstream can take an hour)")
    p.add_argument("--dry-run", action="store_true", help="print the exact command lines, run nothing")
    p.add_argument("--xilinx-root", help=f"Xilinx install folder (default $XILINX_ROOT; in Docker {DEFAULT_XILINX_ROOT})")
    p.add_argument("--xilinx-version", help=f"tool version folder, e.g. {DEFAULT_XILINX_VERSION} (default "
                   f"$XILINX_VERSION; locally the newest found; in Docker {DEFAULT_XILINX_VERSION})")
    p.add_argument("--docker-arg", action="append", default=[], metavar="ARG",
                   help="extra `docker run` argument, repeatable (e.g. --docker-arg=--mac-address=... for a "
                   "node-locked license)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not echo the tool output (the logs still get it)")
    p.set_defaults(func=run)


def run(args) -> int:
    from jpq2hw.synth.project import load_project
    from jpq2hw.synth.runner import run_docker, run_local

    project = load_project(args.out)
    root = args.xilinx_root or os.environ.get("XILINX_ROOT")
    version = args.xilinx_version or os.environ.get("XILINX_VERSION")
    if args.docker:
        return run_docker(project, args.docker, args.stage, root or DEFAULT_XILINX_ROOT,
                          version or DEFAULT_XILINX_VERSION, args.docker_arg, dry_run=args.dry_run, quiet=args.quiet)
    return run_local(project, args.stage, root, version, dry_run=args.dry_run, quiet=args.quiet)
