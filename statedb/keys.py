"""THE key schema: column families, state-key kinds, key encoders and value encodings.

Owns every byte layout statedb writes and the one vocabulary that names a piece of
state. The database (staging), the history index, the commitment and the executors'
read and write sets (``statedb.conflicts``) all name state with these kinds, so there
is exactly one definition of "the same key".

State-key kinds (a key's first byte wherever a key is encoded):

=================  ====  ===================  =========================================
kind               byte  key                  what it names
=================  ====  ===================  =========================================
account            0x01  address (20)         nonce, balance, code hash; existence
slot               0x02  address | slot (52)  one storage slot's value
has-storage        0x03  address (20)         whether the account has any non-zero slot
code               0x04  code hash (32)       code by hash (content-addressed)
=================  ====  ===================  =========================================

Encoded (``kind | key``: ``account_key``, ``slot_key``, ``has_storage_key``,
``code_key``) they are history keys without the block suffix, changeset entries and
the commitment's entry keys. On the EVM hot path they are not encoded: read and
write sets keep one set per kind of the bare key (an address, an ``(address, slot)``
tuple), which costs a tuple, not a bytes concatenation, per SLOAD; their ``keys()``
encodes them with these functions when bytes are needed.

The code kind never takes part in conflicts: code is stored under its own hash and
never overwritten, so which code an account runs is decided by its code hash, an
account read (see ``statedb.conflicts``). History uses it to record code a block
stored first.

State (resident in memory, persisted here):

====================  ==========================================  =============================
column family         key                                         value
====================  ==========================================  =============================
``accounts``          address (20)                                nonce (8) | balance (32) | code hash (32)
``storage``           address (20) | slot (32, big-endian)        value (32, big-endian), never 0
``code``              code hash (32)                              code
====================  ==========================================  =============================

Storage keys start with the address, so one range delete ``[address, address+ff..)``
wipes an account's storage.

History (see ``statedb.history``):

====================  ==========================================  =============================
``history``           kind (1) | state key | block (8)             value *before* ``block`` (b"" = absent)
``changesets``        block (8)                                   the keys ``block`` changed + chain pre-images
====================  ==========================================  =============================

Chain records (opaque bytes supplied by the sequencer, keyed as below):

====================  ==========================================  =============================
``blocks``            block number (8)                            encoded block
``block_hashes``      block hash (32)                             block number (8)
``receipts``          block number (8)                            encoded receipts of the block
``tx_index``          tx hash (32)                                block number (8) | index (4)
``log_index``         address or topic (20/32) | block (8) | log index (4)   b""
``chain_meta``        any                                         any (sequencer's own metadata)
====================  ==========================================  =============================

``meta`` holds statedb's own bookkeeping (schema version, head, history floor).
All integers are big-endian so byte order is numeric order and range scans work.
"""

from __future__ import annotations

from typing import Final

import rocksdict

from statedb.errors import InvalidStateInput
from statedb.types import EMPTY_CODE_HASH, Account, Address, Hash32

SCHEMA_VERSION: Final = b"hummingbird-statedb/1"

# --- column families -------------------------------------------------------------
CF_ACCOUNTS: Final = "accounts"
CF_STORAGE: Final = "storage"
CF_CODE: Final = "code"
CF_HISTORY: Final = "history"
CF_CHANGESETS: Final = "changesets"
CF_META: Final = "meta"
CF_BLOCKS: Final = "blocks"
CF_BLOCK_HASHES: Final = "block_hashes"
CF_RECEIPTS: Final = "receipts"
CF_TX_INDEX: Final = "tx_index"
CF_LOG_INDEX: Final = "log_index"
CF_CHAIN_META: Final = "chain_meta"
# address (20) + block number (8) + transaction index (4) -> b"": the transactions that
# touched an address (Otterscan's address history; sequencer.chain writes it).
CF_ADDRESS_INDEX: Final = "address_index"
# Fork mode: touched state key (statedb.fork) -> the first block (8) that wrote it.
CF_FORK_TOUCHED: Final = "fork_touched"
# Fork mode: values fetched from the upstream (sequencer.fork.source's layout); a cache,
# not versioned: reverts and pruning leave it alone.
CF_FORK_CACHE: Final = "fork_cache"

STATE_CFS: Final = (CF_ACCOUNTS, CF_STORAGE, CF_CODE)
HISTORY_CFS: Final = (CF_HISTORY, CF_CHANGESETS)
# The order is part of the on-disk format: a changeset names a chain record's
# column family by its index in this tuple. Append only.
CHAIN_CFS: Final = (
    CF_BLOCKS,
    CF_BLOCK_HASHES,
    CF_RECEIPTS,
    CF_TX_INDEX,
    CF_LOG_INDEX,
    CF_CHAIN_META,
    CF_ADDRESS_INDEX,
    CF_FORK_TOUCHED,
)
CHAIN_CF_ID: Final = {name: i for i, name in enumerate(CHAIN_CFS)}
ALL_CFS: Final = (*STATE_CFS, *HISTORY_CFS, CF_META, *CHAIN_CFS, CF_FORK_CACHE)

# --- meta keys ---------------------------------------------------------------------
META_SCHEMA: Final = b"schema"
META_HEAD: Final = b"head"  # block number (8) | state root (32)
META_HISTORY_FIRST: Final = b"history_first"  # oldest block whose changeset is kept (8)
META_COMMITMENT: Final = b"commitment"  # head (8) | bucket sums; written only by a clean close

# --- state-key kinds (first byte of an encoded state key, history key, changeset entry)
KIND_ACCOUNT: Final = 1
KIND_SLOT: Final = 2
KIND_HAS_STORAGE: Final = 3  # in history: flips of "has any non-zero slot" (EIP-7610)
KIND_CODE: Final = 4  # in history: code first stored in this block (pre-image: absent)
KIND_CHAIN: Final = 5  # history only: a chain record, with its pre-image in the changeset
KEY_LENGTH: Final = {KIND_ACCOUNT: 20, KIND_SLOT: 52, KIND_HAS_STORAGE: 20, KIND_CODE: 32}
# One-byte prefixes: hot loops bind these locally instead of calling the encoders.
ACCOUNT_PREFIX: Final = bytes((KIND_ACCOUNT,))
SLOT_PREFIX: Final = bytes((KIND_SLOT,))
HAS_STORAGE_PREFIX: Final = bytes((KIND_HAS_STORAGE,))
CODE_PREFIX: Final = bytes((KIND_CODE,))

UINT256_MAX: Final = 2**256 - 1
UINT64_MAX: Final = 2**64 - 1
ADDRESS_LENGTH: Final = 20
ACCOUNT_VALUE_LENGTH: Final = 72


# --- validation ----------------------------------------------------------------------
def check_address(address: object) -> Address:
    if type(address) is not bytes or len(address) != ADDRESS_LENGTH:
        raise InvalidStateInput(f"address must be 20 bytes, got {address!r}")
    return address


def check_hash(value: object, what: str = "hash") -> Hash32:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidStateInput(f"{what} must be 32 bytes, got {value!r}")
    return value


def check_word(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value <= UINT256_MAX:
        raise InvalidStateInput(f"{what} must be an int in [0, 2**256), got {value!r}")
    return value


def check_account(account: object) -> Account:
    if type(account) is not Account:
        raise InvalidStateInput(f"account must be an Account or None, got {account!r}")
    # EIP-2681 caps the nonce at 2**64 - 1, which is what lets it fit 8 bytes.
    if type(account.nonce) is not int or not 0 <= account.nonce <= UINT64_MAX:
        raise InvalidStateInput(f"nonce must be an int in [0, 2**64), got {account.nonce!r}")
    check_word(account.balance, "balance")
    check_hash(account.code_hash, "code_hash")
    return account


# --- key encoders --------------------------------------------------------------------
def account_key(address: Address) -> bytes:
    """The encoded account key: ``0x01 | address``."""
    return ACCOUNT_PREFIX + address


def slot_key(address: Address, slot: int) -> bytes:
    """The encoded slot key: ``0x02 | address | slot (32)``."""
    return SLOT_PREFIX + address + slot.to_bytes(32, "big")


def has_storage_key(address: Address) -> bytes:
    """The encoded has-storage key: ``0x03 | address``."""
    return HAS_STORAGE_PREFIX + address


def code_key(code_hash: Hash32) -> bytes:
    """The encoded code key: ``0x04 | code hash``."""
    return CODE_PREFIX + code_hash


def storage_key(address: Address, slot: int) -> bytes:
    """A key of the ``storage`` column family (the slot key without its kind byte)."""
    return address + slot.to_bytes(32, "big")


def storage_range(address: Address) -> tuple[bytes, bytes]:
    """[begin, end) covering every storage key of ``address`` (end sorts after slot 2**256-1)."""
    return address, address + b"\xff" * 33


def block_number_key(number: int) -> bytes:
    if type(number) is not int or not 0 <= number <= UINT64_MAX:
        raise InvalidStateInput(f"block number must be an int in [0, 2**64), got {number!r}")
    return number.to_bytes(8, "big")


def history_key(kind: int, key: bytes, block: int) -> bytes:
    return bytes((kind,)) + key + block.to_bytes(8, "big")


def tx_index_value(block: int, index: int) -> bytes:
    return block.to_bytes(8, "big") + index.to_bytes(4, "big")


def address_index_key(address: bytes, block: int, tx_index: int) -> bytes:
    """An address (20) followed by a transaction's place: scan an address's history."""
    if type(address) is not bytes or len(address) != 20:
        raise InvalidStateInput(f"address index term must be 20 bytes, got {address!r}")
    return address + block.to_bytes(8, "big") + tx_index.to_bytes(4, "big")


def log_index_key(term: bytes, block: int, log_index: int) -> bytes:
    """An address (20) or topic (32) followed by where the log is: scan a term over a range."""
    if type(term) is not bytes or len(term) not in (20, 32):
        raise InvalidStateInput(f"log index term must be 20 or 32 bytes, got {term!r}")
    return term + block.to_bytes(8, "big") + log_index.to_bytes(4, "big")


# --- value encodings -----------------------------------------------------------------
def encode_account(account: Account) -> bytes:
    return (
        account.nonce.to_bytes(8, "big") + account.balance.to_bytes(32, "big") + account.code_hash
    )


def decode_account(value: bytes) -> Account:
    if len(value) != ACCOUNT_VALUE_LENGTH:
        raise ValueError(f"account value must be {ACCOUNT_VALUE_LENGTH} bytes, got {len(value)}")
    code_hash = value[40:]
    # Share one bytes object for the common "no code" hash to keep resident memory down.
    if code_hash == EMPTY_CODE_HASH:
        code_hash = EMPTY_CODE_HASH
    return Account(int.from_bytes(value[:8], "big"), int.from_bytes(value[8:40], "big"), code_hash)


# --- RocksDB tuning ------------------------------------------------------------------
def rocks_options(
    block_cache_bytes: int = 64 << 20, write_buffer_bytes: int = 16 << 20
) -> tuple[rocksdict.Options, dict[str, rocksdict.Options]]:
    """DB-wide options and one ``Options`` per column family, tuned for this workload.

    The head state is resident in Python dicts, so RocksDB's read path matters only
    for history seeks, chain-record lookups and the sequential scan at open. Writes
    are one small batch every 10 ms: keep them in 16 MB memtables (few flushes,
    little write amplification), compress with LZ4 (cheap, and the 32-byte
    big-endian words we store are mostly zero bytes) and ZSTD at the bottom level
    where most data ends up. Code and encoded blocks/receipts compress well, so ZSTD.
    """
    cache = rocksdict.Cache(block_cache_bytes)

    def cf_options(
        *, compression: rocksdict.DBCompressionType, bloom: bool, buffer: int
    ) -> rocksdict.Options:
        o = rocksdict.Options(raw_mode=True)
        table = rocksdict.BlockBasedOptions()
        table.set_block_cache(cache)
        table.set_block_size(16 << 10)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        if bloom:
            # Point lookups (chain records by hash/number) mostly hit or miss whole files.
            table.set_bloom_filter(10, False)
        o.set_block_based_table_factory(table)
        o.set_write_buffer_size(buffer)
        o.set_max_write_buffer_number(3)
        o.set_level_compaction_dynamic_level_bytes(True)
        o.set_compression_type(compression)
        o.set_bottommost_compression_type(rocksdict.DBCompressionType.zstd())
        return o

    lz4 = rocksdict.DBCompressionType.lz4()
    zstd = rocksdict.DBCompressionType.zstd()
    small = 4 << 20
    cfs = {
        CF_ACCOUNTS: cf_options(compression=lz4, bloom=False, buffer=write_buffer_bytes),
        CF_STORAGE: cf_options(compression=lz4, bloom=False, buffer=write_buffer_bytes),
        CF_CODE: cf_options(compression=zstd, bloom=True, buffer=small),
        CF_HISTORY: cf_options(compression=lz4, bloom=False, buffer=write_buffer_bytes),
        CF_CHANGESETS: cf_options(compression=lz4, bloom=False, buffer=write_buffer_bytes),
        CF_META: cf_options(
            compression=rocksdict.DBCompressionType.none(), bloom=True, buffer=small
        ),
        CF_BLOCKS: cf_options(compression=zstd, bloom=True, buffer=small),
        CF_BLOCK_HASHES: cf_options(compression=lz4, bloom=True, buffer=small),
        CF_RECEIPTS: cf_options(compression=zstd, bloom=True, buffer=small),
        CF_TX_INDEX: cf_options(compression=lz4, bloom=True, buffer=small),
        CF_LOG_INDEX: cf_options(compression=lz4, bloom=False, buffer=small),
        CF_CHAIN_META: cf_options(compression=lz4, bloom=True, buffer=small),
        CF_ADDRESS_INDEX: cf_options(compression=lz4, bloom=False, buffer=small),
        CF_FORK_TOUCHED: cf_options(compression=lz4, bloom=True, buffer=small),
        CF_FORK_CACHE: cf_options(compression=lz4, bloom=True, buffer=small),
    }
    db = rocksdict.Options(raw_mode=True)
    db.create_if_missing(True)
    db.create_missing_column_families(True)
    db.set_max_background_jobs(2)  # the machine has 2 cores; the sequencer needs them too
    db.set_db_write_buffer_size(8 * write_buffer_bytes)
    db.set_max_total_wal_size(4 * write_buffer_bytes)
    db.set_keep_log_file_num(3)
    db.set_max_open_files(512)
    return db, cfs
