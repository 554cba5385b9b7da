"""``MiningMode`` and ``Miner``: when the producer seals a block.

Owns the production loop. The modes are anvil's, as two independent settings
(Hardhat keeps them independent too):

- ``auto`` (the default): a block is sealed as soon as transactions are ready
  (the mini-block producer's own rule: when the ready queue drains or after
  ``--block-time``); senders wait for their block;
- ``interval``: a block every ``interval`` seconds, empty or not, holding whatever
  is ready (``evm_setIntervalMining``, ``--block-interval``);
- both (anvil's "mixed" mining): ready transactions seal at once and an empty block
  is still sealed every interval;
- neither (manual): nothing is sealed until ``evm_mine`` / ``anvil_mine``; sends
  answer with the hash at once.

Changing the mode restarts the loop (the old loop may be waiting on something the
new mode no longer watches). Production is synchronous between awaits, so a mode
change never interrupts a block being built.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sequencer.types.blocks import MiniBlock

log = logging.getLogger("hummingbird.miner")

MAX_INTERVAL: Final = 86_400.0 * 365  # a year between blocks is the longest interval taken
MIN_INTERVAL: Final = 0.001


@dataclass(frozen=True, slots=True)
class MiningMode:
    auto: bool = True
    interval: float | None = None  # seconds between blocks sealed whether or not any is ready

    def __post_init__(self) -> None:
        if self.interval is not None and not MIN_INTERVAL <= self.interval <= MAX_INTERVAL:
            raise ValueError(
                f"mining interval must be in {MIN_INTERVAL}..{MAX_INTERVAL:.0f} seconds, "
                f"got {self.interval}"
            )

    @property
    def name(self) -> str:
        if self.auto:
            return "mixed" if self.interval is not None else "auto"
        return "interval" if self.interval is not None else "manual"


class Miner:
    """Runs the production loop for the current ``MiningMode``."""

    def __init__(
        self,
        has_ready: asyncio.Event,
        produce: Callable[[], MiniBlock | None],
        produce_empty: Callable[[], MiniBlock],
        mode: MiningMode,
    ) -> None:
        self._has_ready = has_ready
        self._produce = produce
        self._produce_empty = produce_empty
        self.mode = mode
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def start(self) -> None:
        self._running = True
        self._spawn()

    async def stop(self) -> None:
        self._running = False
        await self._cancel()

    async def set_mode(self, mode: MiningMode) -> None:
        self.mode = mode
        if self._running:
            await self._cancel()
            self._spawn()

    def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        if self.mode.auto:
            self._tasks.append(loop.create_task(self._auto()))
        if self.mode.interval is not None:
            self._tasks.append(loop.create_task(self._every(self.mode.interval)))

    async def _cancel(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _auto(self) -> None:
        has_ready = self._has_ready
        produce = self._produce
        while True:
            await has_ready.wait()
            try:
                produce()
            except Exception:  # never let one bad block stop production
                log.exception("block production failed")
                await asyncio.sleep(0.1)
            # Let the requests that arrived while the block was built reach the pool.
            await asyncio.sleep(0)

    async def _every(self, interval: float) -> None:
        next_at = time.monotonic() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            now = time.monotonic()
            if next_at <= now:
                # A slow block (or a paused process) must not make the loop catch up with
                # a burst of empty blocks: the next one is a full interval from now.
                next_at = now + interval
            try:
                self._produce_empty()
            except Exception:
                log.exception("interval block production failed")
