"""User-facing errors: one line, a name for the culprit, an exit code."""

EXIT_OK = 0
EXIT_NOT_EXACT = 1
EXIT_BAD_INPUT = 2


class JpqError(Exception):
    """A problem with the user's input or options. The CLI prints it on one line and exits 2."""

    exit_code = EXIT_BAD_INPUT


class ToolMissing(JpqError):
    """An external tool (g++, yosys, docker...) is not available."""
