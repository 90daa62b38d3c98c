"""Progress for long steps: one line when a step starts, one when it ends (with its time), and a
heartbeat every few seconds on a terminal so a long g++ compile does not look like a hang."""

import sys
import threading
import time
from contextlib import contextmanager

from jpq2hw.errors import printable


class Progress:
    def __init__(self, quiet: bool = False, stream=None, heartbeat_s: float = 5.0):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.heartbeat_s = heartbeat_s
        self.timings: dict[str, float] = {}

    def info(self, message: str) -> None:
        if not self.quiet:  # messages quote names and paths from the user's files: no raw control characters
            print(printable(message), file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        """Shown even when quiet (a note the user should act on)."""
        print(printable(message), file=self.stream, flush=True)

    @contextmanager
    def step(self, key: str, label: str):
        """Time a step under `key` (recorded in self.timings) and show `label` while it runs."""
        start = time.perf_counter()
        self.info(f"- {label} ...")
        stop = threading.Event()
        beat = None
        if not self.quiet and getattr(self.stream, "isatty", lambda: False)():
            def _beat():
                while not stop.wait(self.heartbeat_s):
                    self.info(f"    ... {label}: {time.perf_counter() - start:.0f} s")
            beat = threading.Thread(target=_beat, daemon=True)
            beat.start()
        try:
            yield
        finally:
            stop.set()
            if beat:
                beat.join()
            elapsed = time.perf_counter() - start
            self.timings[key] = self.timings.get(key, 0.0) + elapsed
        self.info(f"  {label}: done in {elapsed:.1f} s")
