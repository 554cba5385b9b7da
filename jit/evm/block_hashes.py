"""What BLOCKHASH reads: immutable per-block readers over an append-only log of hashes.

Owns ``BlockHashes`` (the reader a ``BlockEnv`` carries: pinned at a block number, it
answers for numbers below it and its answers never change) and ``BlockHashLog`` (the
append-only record of a chain's hashes that hands out those readers).

A reader shares the log's list instead of copying 256 hashes per block: the log only
ever appends to its list, and anything that would change an entry a reader can see
(a revert, trimming old entries) moves the log to a new list, leaving the old one to
the readers that hold it. So creating a reader is O(1) and it stays exact however the
chain moves on afterwards. The EVM itself bounds BLOCKHASH to the 256 blocks before
the executing block (``jit.evm.instructions.block``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from statedb.types import Hash32

WINDOW: Final = 256  # BLOCKHASH sees the 256 blocks before the current one
# The log keeps up to this many hashes before it moves its newest WINDOW to a new list,
# so trimming copies WINDOW references once every (RETAIN - WINDOW) blocks.
RETAIN: Final = 4 * WINDOW

# Answers the hash of a block older than the log's first entry (the chain's stored
# blocks); None when unknown.
OlderHashes = Callable[[int], Hash32 | None]


class BlockHashes:
    """The hashes of blocks ``< number`` as seen by a block at ``number``; immutable.

    ``get(n)`` is the hash of block ``n``, or None when ``n >= number`` or unknown.
    Equal readers pin the same number and agree on the 256 hashes before it (what
    BLOCKHASH can read there). Pickles as those 256 hashes (a worker process gets a
    copy, not the chain's log).
    """

    __slots__ = ("_first", "_hashes", "_older", "_stop", "number")

    def __init__(
        self,
        number: int,
        hashes: Sequence[Hash32 | None] = (),
        first: int = 0,
        older: OlderHashes | None = None,
    ) -> None:
        # hashes[i] is block first + i; only the entries below ``number`` are ever read,
        # and the owner never changes those (BlockHashLog's invariant).
        self.number = number
        self._hashes = hashes
        self._first = first
        self._stop = min(number, first + len(hashes))
        self._older = older

    @classmethod
    def of(cls, hashes: Mapping[int, Hash32], number: int) -> BlockHashes:
        """A frozen copy of ``hashes``' entries for the 256 blocks before ``number``."""
        start = max(0, number - WINDOW)
        return cls(number, [hashes.get(n) for n in range(start, number)], start)

    def get(self, number: int) -> Hash32 | None:
        i = number - self._first
        if i >= 0:
            return self._hashes[i] if number < self._stop else None
        older = self._older
        return None if older is None or number < 0 else older(number)

    def window(self) -> tuple[Hash32 | None, ...]:
        """The hashes of blocks number-256 .. number-1 (None where unknown)."""
        start, first, stop = max(0, self.number - WINDOW), self._first, self._stop
        if start < first:
            return tuple(self.get(n) for n in range(start, self.number))
        # The common case, all in the list: one slice (this runs on every pickle).
        known = tuple(self._hashes[start - first : stop - first]) if stop > start else ()
        return known + (None,) * (self.number - start - len(known))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BlockHashes):
            return NotImplemented
        if self.number != other.number:
            return False
        if (
            self._hashes is other._hashes
            and self._first == other._first
            and self._stop == other._stop
            and self._older is other._older
        ):
            return True
        return self.window() == other.window()

    def __hash__(self) -> int:
        return hash((self.number, self.get(self.number - 1)))

    def __reduce__(self) -> tuple[object, ...]:
        return (BlockHashes, (self.number, self.window(), max(0, self.number - WINDOW)))

    def __repr__(self) -> str:
        return f"BlockHashes(number={self.number})"


EMPTY_BLOCK_HASHES: Final = BlockHashes(0)


class BlockHashLog:
    """A chain's block hashes in number order; append-only for the readers it made.

    Single writer. ``view(n)`` may be called from other threads: the log's list and its
    first number are read together from one tuple, and a list a reader holds is only
    ever appended to.
    """

    __slots__ = ("_older", "_state")

    def __init__(self, first: int = 0, older: OlderHashes | None = None) -> None:
        self._state: tuple[int, list[Hash32 | None]] = (first, [])
        self._older = older

    @property
    def next_number(self) -> int:
        first, hashes = self._state
        return first + len(hashes)

    def append(self, number: int, block_hash: Hash32 | None) -> None:
        """Record block ``number``, normally ``next_number``. An earlier number replaces
        the blocks from it on (as a revert would); a later one starts a new list (the
        blocks in between are then unknown, or the ``older`` source's)."""
        first, hashes = self._state
        if number != first + len(hashes):
            if number < first + len(hashes):
                self.truncate(number - 1)
                first, hashes = self._state
            if number != first + len(hashes):
                self._state = (number, [block_hash])
                return
        if len(hashes) < RETAIN:
            hashes.append(block_hash)
        else:
            # A new list, so readers of the old one keep every entry they can see.
            kept = hashes[len(hashes) - WINDOW :]
            kept.append(block_hash)
            self._state = (number - WINDOW, kept)

    def truncate(self, number: int) -> None:
        """Forget the blocks after ``number`` (a revert); readers made before keep theirs."""
        first, hashes = self._state
        keep = max(0, number + 1 - first)
        if keep < len(hashes):
            self._state = (first, hashes[:keep]) if keep else (number + 1, [])

    def view(self, number: int) -> BlockHashes:
        """The reader for a block at ``number``: hashes of the blocks before it. Blocks
        not yet appended stay unknown to it, even once they are."""
        first, hashes = self._state
        return BlockHashes(number, hashes, first, self._older)
