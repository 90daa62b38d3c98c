"""Stopping a run: Ctrl-C (SIGINT), SIGTERM (what `timeout`, CI cancellation and `kill` send) and SIGHUP (a closed
terminal) all become the same `Interrupted` exception in the main thread, so the same cleanup runs for each: the
output folder's temporary sibling is removed and an existing OUT is left as it was. Child processes (g++ started
by hls4ml through a shell) do not get a signal sent to our pid alone: they are killed first, so nothing we started
outlives the run. SIGKILL cannot be caught; output_folder.py covers what it leaves."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

HANDLED = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by a handled signal; exit status 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def descendants(pid: int | None = None) -> list[int]:
    """Every process below `pid` (default: this one), from /proc (empty where there is no /proc)."""
    pid = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])  # the command name may hold spaces and ')'
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants() -> None:
    for pid in descendants():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _raise(signum, frame):
    kill_descendants()
    raise Interrupted(signum)


@contextmanager
def signals_interrupt():
    """Within the block, SIGINT/SIGTERM/SIGHUP raise Interrupted (main thread only; elsewhere a no-op)."""
    try:
        previous = {s: signal.signal(s, _raise) for s in HANDLED}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def signals_blocked():
    """Hold the handled signals until the block ends (a rename into place or a cleanup is not cut in half);
    a signal that arrived meanwhile is delivered afterwards."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
