"""Progress on stderr: a redrawn bar on a terminal, one line per step otherwise."""

import sys
import time

_BAR_WIDTH = 24


class Progress:
    """Reports the steps of one benchmark (``total`` repetitions) on stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._started = time.perf_counter()
        self._tty = sys.stderr.isatty()
        self._draw()

    def step(self) -> None:
        self.done += 1
        self._draw()

    def finish(self, summary: str) -> None:
        elapsed = time.perf_counter() - self._started
        line = f"{self.label}  {summary}  ({elapsed:.1f} s)"
        if self._tty:
            sys.stderr.write("\r\033[K" + line + "\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def _draw(self) -> None:
        if not self._tty:
            if self.done == 0:
                sys.stderr.write(f"{self.label}  running {self.total} repetitions...\n")
                sys.stderr.flush()
            return
        filled = _BAR_WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        sys.stderr.write(f"\r\033[K{self.label}  [{bar}] {self.done}/{self.total}")
        sys.stderr.flush()


def status(message: str) -> None:
    """A one-off status line (set-up and tear-down steps)."""
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()
