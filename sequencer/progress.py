"""Progress lines for long work (issue 21): loading a state file, a replica's bootstrap,
the conformance runner's full tier.

Owns ``Progress``: ``advance(n)`` as work is done; a line ``<what>: 1,234 of 5,000
<unit> (24%), 812/s, about 5s left`` is emitted at most once per ``interval`` seconds
(nothing for work that ends sooner), and ``finish()`` emits the last line if any was
emitted before. Lines go to a logger (the node's log) or any callable (a script's
stderr).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("hummingbird.progress")


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str = "items",
        *,
        interval: float = 2.0,
        emit: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        extra: Callable[[], str] | None = None,
    ) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.interval = interval
        self.emit = emit if emit is not None else log.info
        self.clock = clock
        self.extra = extra
        self.done = 0
        self.started = clock()
        self.next_line = self.started + interval
        self.lines = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = self.clock()
        if now >= self.next_line:
            self._line(now)
            self.next_line = now + self.interval

    def finish(self) -> None:
        """The closing line, when the work was long enough to have shown progress."""
        if self.lines:
            self._line(self.clock(), final=True)

    def line(self, now: float, *, final: bool = False) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            text = f"{self.what}: {self.done:,} of {self.total:,} {self.unit}"
            text += f" ({100 * self.done // self.total}%)"
        else:
            text = f"{self.what}: {self.done:,} {self.unit}"
        if final:
            text += f", done in {_duration(elapsed)}"
        else:
            text += f", {rate:,.0f}/s" if rate >= 10 else f", {rate:.2g}/s"
            if self.total and rate > 0 and self.done < self.total:
                text += f", about {_duration((self.total - self.done) / rate)} left"
        if self.extra is not None:
            text += f", {self.extra()}"
        return text

    def _line(self, now: float, *, final: bool = False) -> None:
        self.lines += 1
        self.emit(self.line(now, final=final))
