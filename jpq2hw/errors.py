"""User-facing errors: one line, a name for the culprit, an exit code."""

EXIT_OK = 0
EXIT_NOT_EXACT = 1
EXIT_BAD_INPUT = 2
EXIT_LATE_STEP_FAILED = 3  # built and bit-exact, but an optional late step (--rtl, a report page) failed


def printable(text: str) -> str:
    """`text` with every non-printable character escaped (a newline as \\n, ESC as \\x1b): names from a model file
    can hold line breaks and terminal escapes, which must not forge lines or colours in what we print."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


MAX_MESSAGE = 1000  # characters of one error line: a quoted value (a 400 KB config string) is cut in the middle


def shortened(text: str, limit: int = MAX_MESSAGE) -> str:
    if len(text) <= limit:
        return text
    head, tail = limit * 3 // 4, limit // 4 - 60
    return f"{text[:head]} ...[{len(text) - head - tail:,} characters cut]... {text[-tail:]}"


class JpqError(Exception):
    """A problem with the user's input or options. The CLI prints it on one line and exits 2."""

    exit_code = EXIT_BAD_INPUT

    def __str__(self) -> str:  # messages quote names from the file: one line, no terminal escapes, not endless
        return shortened(printable(super().__str__()))


class ToolMissing(JpqError):
    """An external tool (g++, yosys, docker...) is not available."""
