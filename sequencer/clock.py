"""``Clock``: the timestamp of the next block, under the dev methods' control.

Owns block time as anvil's ``TimeManager`` keeps it (and as Hardhat's
``evm_increaseTime`` / ``evm_setNextBlockTimestamp`` expect it):

- ``offset``: seconds added to the wall clock (``evm_increaseTime`` adds to it,
  ``evm_setTime`` sets it so that now is the given time);
- a next exact timestamp (``evm_setNextBlockTimestamp``), used by the next block
  only; sealing it moves the offset so later blocks continue from there;
- an interval (``anvil_setBlockTimestampInterval``): each block is the previous
  one's timestamp plus the interval, whatever the wall clock says.

A block's timestamp never goes below its parent's (equal is allowed: mini-blocks
seal several times a second and headers count whole seconds). ``state()`` /
``restore()`` let ``evm_snapshot`` / ``evm_revert`` keep the clock with the chain.

Also the devnet's EIP-7843 slot number (Amsterdam headers, ``SLOTNUM``): there is no
beacon chain, so a block's slot is the one a 12-second beacon chain started at the
genesis block's timestamp would be in (``slot_number``); blocks of one 12-second
window share it, as mini-blocks share their second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

MAX_TIMESTAMP: Final = 2**64 - 1
SECONDS_PER_SLOT: Final = 12  # the beacon chain's


def slot_number(timestamp: int, genesis_timestamp: int) -> int:
    """The devnet's EIP-7843 slot of a block at ``timestamp`` (0 up to the genesis)."""
    return max(0, timestamp - genesis_timestamp) // SECONDS_PER_SLOT


class ClockError(ValueError):
    """A requested time is out of range or behind the chain; the message says which."""


@dataclass(frozen=True, slots=True)
class ClockState:
    offset: int
    next_exact: int | None
    interval: int | None


class Clock:
    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.offset = 0
        self.next_exact: int | None = None
        self.interval: int | None = None

    def wall(self) -> int:
        return int(self._now())

    def now(self) -> int:
        """The node's current time: the wall clock plus the offset."""
        return self.wall() + self.offset

    def next_timestamp(self, parent_timestamp: int) -> int:
        """The next block's timestamp (nothing is consumed: ``sealed`` does that)."""
        if self.next_exact is not None:
            timestamp = self.next_exact
        elif self.interval is not None:
            timestamp = parent_timestamp + self.interval
        else:
            timestamp = self.now()
        return min(max(timestamp, parent_timestamp), MAX_TIMESTAMP)

    def sealed(self, timestamp: int) -> None:
        """A block with ``timestamp`` was sealed: an exact timestamp is used up, and the
        offset moves so the clock carries on from it (anvil)."""
        if self.next_exact is not None:
            self.next_exact = None
            self.offset = timestamp - self.wall()

    # ------------------------------------------------------------ dev verbs

    def increase(self, seconds: int) -> int:
        """``evm_increaseTime``: add ``seconds`` to the offset; return the total offset."""
        _check_seconds(seconds, "time increase")
        self.offset += seconds
        return self.offset

    def set_next(self, timestamp: int, parent_timestamp: int) -> None:
        """``evm_setNextBlockTimestamp``: the next block gets exactly ``timestamp``."""
        _check_seconds(timestamp, "timestamp")
        if timestamp < parent_timestamp:
            raise ClockError(
                f"Timestamp error: {timestamp} is lower than previous block's timestamp "
                f"{parent_timestamp}"
            )
        self.next_exact = timestamp

    def set_time(self, timestamp: int) -> int:
        """``evm_setTime``: now is ``timestamp``; return the seconds it moved forward."""
        _check_seconds(timestamp, "timestamp")
        before = self.now()
        self.offset = timestamp - self.wall()
        self.next_exact = None
        return max(timestamp - before, 0)

    def set_interval(self, seconds: int) -> None:
        _check_seconds(seconds, "block timestamp interval")
        self.interval = seconds

    def remove_interval(self) -> bool:
        had = self.interval is not None
        self.interval = None
        return had

    def reset(self, timestamp: int) -> None:
        """After a revert to a block with ``timestamp``: the clock continues from it."""
        self.offset = timestamp - self.wall()
        self.next_exact = None

    def state(self) -> ClockState:
        return ClockState(self.offset, self.next_exact, self.interval)

    def restore(self, state: ClockState) -> None:
        self.offset, self.next_exact, self.interval = state.offset, state.next_exact, state.interval


def _check_seconds(value: int, what: str) -> None:
    if type(value) is not int or not 0 <= value <= MAX_TIMESTAMP:
        raise ClockError(f"{what} must be an integer in 0..2**64-1, got {value!r}")
