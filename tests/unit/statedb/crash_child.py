"""Crash-test child: commit the crash chain's blocks forever, reporting each one.

Usage: crash_child.py DB_DIR SEED. Prints ``<block number>`` on stdout (flushed)
after each ``commit`` returns; the parent SIGKILLs it at a random moment.
"""

from __future__ import annotations

import sys

from statedb import StateDB
from tests.unit.statedb.support import crash_block


def main() -> None:
    path, seed = sys.argv[1], int(sys.argv[2])
    db = StateDB.open(path, history_window=50)
    print("ready", db.head_number, flush=True)
    while True:
        number = db.head_number + 1
        diff, records = crash_block(seed, number)
        db.commit(number, diff, records)
        print(number, flush=True)


if __name__ == "__main__":
    main()
