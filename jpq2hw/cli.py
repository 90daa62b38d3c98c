"""The `jpq2hw` command line. Each subcommand lives in jpq2hw/commands/<name>.py and exposes
`register(subparsers)`; this module only dispatches and turns errors into one-line messages."""

import argparse
import importlib
import os
import signal
import sys
import warnings

from jpq2hw import __version__
from jpq2hw.errors import EXIT_BAD_INPUT, JpqError, disk_full, printable
from jpq2hw.interrupts import Interrupted, signals_interrupt

COMMANDS = ["build", "boards", "compress", "report", "synth", "rtl", "sweep"]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jpq2hw",
        description="Joint pruning + quantization to bit-exact FPGA hardware: QONNX -> hls4ml HLS project "
        "for a board, checked bit for bit against onnxruntime.",
    )
    parser.add_argument("--version", action="version", version=f"jpq2hw {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"jpq2hw.commands.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a one-line usage error
        return EXIT_BAD_INPUT if exc.code else 0
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    if not os.environ.get("JPQ2HW_WARNINGS"):
        warnings.filterwarnings("ignore")  # the stack's deprecation chatter hides our progress lines
    try:
        with signals_interrupt():
            return int(args.func(args) or 0)
    except JpqError as exc:
        print(f"jpq2hw {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: the cleanup has run on the way out
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"jpq2hw {args.command}: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # `jpq2hw boards | head`: the reader left; not an error of ours or the user's
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except SystemExit as exc:  # code we ran (a compress entry...) called sys.exit: the command did not finish
        print(printable(f"jpq2hw {args.command}: error: stopped by sys.exit({exc.code!r}) in code it ran"),
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug of ours or of the stack: still one line (JPQ2HW_DEBUG=1 shows the traceback)
        full = disk_full(exc)  # a full disk is not a bug: say so, wherever it struck
        if full is not None:
            print(f"jpq2hw {args.command}: error: {full}", file=sys.stderr)
            return full.exit_code
        if os.environ.get("JPQ2HW_DEBUG"):
            raise
        where = exc.__traceback__
        while where.tb_next is not None:
            where = where.tb_next
        loc = f"{os.path.basename(where.tb_frame.f_code.co_filename)}:{where.tb_lineno}"
        print(printable(f"jpq2hw {args.command}: internal error: {type(exc).__name__}: {exc} (at {loc}; "
                        f"rerun with JPQ2HW_DEBUG=1 for the traceback, and please report it)"), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
