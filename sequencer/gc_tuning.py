"""Process-wide garbage-collector tuning, for the node and its worker processes.

Owns the cyclic collector's thresholds and the freeze of start-up objects.
"""

from __future__ import annotations

import gc
from typing import Final

# The cyclic GC's thresholds (CPython's default is 700, 10, 10). Nearly everything the
# node allocates per request or block dies by reference counting, yet at the default the
# collector ran ~1,000 young and 8 full collections during a 32,000-transaction burst,
# the full ones pausing the loop up to ~68 ms each (more as the state grows). With these,
# and the start-up objects frozen: ~190 young collections (≤ 7 ms), no full one, and
# ~10% more burst throughput (docs/benchmarks.md). Cycles are still collected.
GC_YOUNG_THRESHOLD: Final = 10_000
GC_OLDER_THRESHOLDS: Final = (50, 20)


def tune_gc() -> None:
    """Once the process is up: move every object alive now (modules, the state, compiled
    code) to the permanent generation, so no collection scans them again, and enlarge
    the young generation. Process-wide, so only the command (and each worker process,
    once seeded) does it, not ``run``'s library callers.

    No ``gc.collect()`` first: it found ~60 unreachable objects at a node's start and
    took 35-65 ms before the first answer (issue 21); freezing them costs a few KB."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *GC_OLDER_THRESHOLDS)
