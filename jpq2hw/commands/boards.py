"""`jpq2hw boards`: list the boards a project can be built for, with part, capacity, clock and PS."""

from jpq2hw.boards import Board, load_all_boards

COLUMNS = ["board", "part", "LUT", "FF", "DSP", "BRAM36", "clock MHz", "PS"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "boards",
        help="list the supported boards",
        description="List the boards in boards/: FPGA part, LUT/FF/DSP/BRAM36 capacity, default clock and "
        "processing system. Add a board by adding boards/<name>.yaml (see docs/boards.md).",
    )
    p.set_defaults(func=run)


def board_row(board: Board) -> list[str]:
    r = board.resources
    return [board.name, board.part, f"{r.lut:,}", f"{r.ff:,}", str(r.dsp), str(r.bram36),
            str(board.clock_mhz), board.processing_system]


def format_table(rows: list[list[str]]) -> str:
    table = [COLUMNS] + rows
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    numeric = {2, 3, 4, 5, 6}  # right-align counts so digits line up
    lines = []
    for row in table:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args) -> int:
    print(format_table([board_row(b) for b in load_all_boards()]))
    return 0
