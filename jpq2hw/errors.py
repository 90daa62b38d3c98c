"""User-facing errors: one line, a name for the culprit, an exit code."""

import errno

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


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_TEXTS = ("No space left on device", "Disk quota exceeded")  # in a tool's log (g++, ld, hls4ml)


def disk_full(exc: BaseException | None) -> JpqError | None:
    """The one-line error for a full disk or quota anywhere in exc's chain (hls4ml and others wrap it), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return disk_full_error(exc.filename)
        exc = exc.__cause__ or exc.__context__
    return None


def disk_full_error(where=None) -> JpqError:
    place = f" (writing {where})" if where else ""
    return JpqError(f"no space left on the device{place}; free some space and rerun (an existing output was not "
                    f"changed)")


def check_utf8_path(path, what: str) -> None:
    """A file name that is not UTF-8 (Python keeps its bytes as surrogates) cannot be written into report.json,
    report.md or a generated script: refuse it before any work, naming the byte."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raw = text[exc.start].encode("utf-8", "surrogateescape")
        raise JpqError(f"{what} {text.encode('utf-8', 'surrogateescape')!r}: the name is not UTF-8 (byte "
                       f"{raw!r} at position {exc.start}); rename it") from None
