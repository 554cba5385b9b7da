"""Gas constants and the gas formulas shared by several instructions.

Constants follow ethereum/execution-specs names (``GAS_*``). EIPs: 150 (63/64
rule), 2200/3529 (SSTORE and refunds), 2929 (warm/cold access), 3860 (initcode
words), 4844 (blob gas), 1153 (transient storage).
"""

from __future__ import annotations

GAS_ZERO = 0
GAS_BASE = 2
GAS_VERY_LOW = 3
GAS_LOW = 5
GAS_MID = 8
GAS_HIGH = 10
GAS_JUMPDEST = 1
GAS_EXPONENTIATION = 10
GAS_EXPONENTIATION_PER_BYTE = 50
GAS_MEMORY = 3
GAS_KECCAK256 = 30
GAS_KECCAK256_WORD = 6
GAS_COPY = 3
GAS_BLOCK_HASH = 20
GAS_LOG = 375
GAS_LOG_DATA = 8
GAS_LOG_TOPIC = 375
GAS_CREATE = 32000
GAS_CODE_DEPOSIT = 200
GAS_NEW_ACCOUNT = 25000
GAS_CALL_VALUE = 9000
GAS_CALL_STIPEND = 2300
GAS_SELF_DESTRUCT = 5000
GAS_SELF_DESTRUCT_NEW_ACCOUNT = 25000
GAS_WARM_ACCESS = 100
GAS_COLD_SLOAD = 2100
GAS_COLD_ACCOUNT_ACCESS = 2600
GAS_STORAGE_SET = 20000
GAS_STORAGE_UPDATE = 5000
GAS_STORAGE_CLEAR_REFUND = 4800
GAS_CALL_STIPEND_SSTORE_GUARD = 2300  # EIP-2200: SSTORE fails with gas_left <= stipend
GAS_INIT_CODE_WORD = 2
GAS_BLOBHASH = 3
GAS_TLOAD = 100
GAS_TSTORE = 100
GAS_MCOPY = 3

# Transaction-level (intrinsic) gas.
TX_BASE = 21000
TX_CREATE = 32000
TX_DATA_ZERO = 4
TX_DATA_NON_ZERO = 16
TX_ACCESS_LIST_ADDRESS = 2400
TX_ACCESS_LIST_STORAGE_KEY = 1900
TX_TOTAL_COST_FLOOR_PER_TOKEN = 10  # EIP-7623
TX_STANDARD_TOKEN_COST = 4  # EIP-7623
# EIP-7976 (Amsterdam): the floor is 16 per token and every calldata byte, zero or not,
# is 4 floor tokens. EIP-7981 (Amsterdam): so is every access list byte (20 per address,
# 32 per storage key), charged in the intrinsic gas and counted in the floor.
TX_FLOOR_COST_PER_TOKEN_EIP7976 = 16
FLOOR_TOKENS_PER_BYTE = 4
PER_EMPTY_ACCOUNT_COST = 25000  # EIP-7702, per authorization
PER_AUTH_BASE_COST = 12500  # EIP-7702, refunded down to this for existing authorities
MAX_REFUND_QUOTIENT = 5  # EIP-3529

GAS_PER_BLOB = 1 << 17
MIN_BLOB_GASPRICE = 1
BLOB_BASE_COST = 1 << 13  # EIP-7918


def memory_cost(words: int) -> int:
    """Total gas for a memory of ``words`` 32-byte words."""
    return GAS_MEMORY * words + words * words // 512


def fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """EIP-4844's integer approximation of factor * e ** (numerator / denominator)."""
    i = 1
    output = 0
    numerator_accumulated = factor * denominator
    while numerator_accumulated > 0:
        output += numerator_accumulated
        numerator_accumulated = (numerator_accumulated * numerator) // (denominator * i)
        i += 1
    return output // denominator


def max_message_call_gas(gas: int) -> int:
    """EIP-150: a call may forward at most all but one 64th of the remaining gas."""
    return gas - gas // 64


# MegaETH Rex5 dual gas model with the SALT bucket multiplier m = 1 (a devnet has no
# SALT buckets, so every ``base * (m - 1)`` storage gas term is zero). Storage gas is
# charged on top of the Ethereum (compute) gas above, from the same gas limit.
# mega-evm v1.7.0: docs/spec/evm/dual-gas-model.md, docs/spec/evm/gas-forwarding.md,
# docs/spec/evm/contract-limits.md, crates/mega-evm/src/constants.rs.
MEGAETH_INTRINSIC_STORAGE_GAS = 39_000  # constants::rex::TX_INTRINSIC_STORAGE_GAS
# Per calldata token (a zero byte is 1 token, a non-zero byte 4): 40 / 160 per byte, and
# the EIP-7623 floor's storage part 100 / 400 per byte (10x TX_STANDARD_TOKEN_COST and
# TX_TOTAL_COST_FLOOR_PER_TOKEN; constants::mini_rex::CALLDATA_STANDARD_TOKEN_STORAGE_*).
MEGAETH_CALLDATA_STORAGE_GAS_PER_TOKEN = 40
MEGAETH_CALLDATA_FLOOR_STORAGE_GAS_PER_TOKEN = 100
MEGAETH_CODE_DEPOSIT_STORAGE_GAS = 10_000  # per deployed byte, on top of GAS_CODE_DEPOSIT
MEGAETH_LOG_TOPIC_STORAGE_GAS = 3_750  # 10x GAS_LOG_TOPIC
MEGAETH_LOG_DATA_STORAGE_GAS = 80  # 10x GAS_LOG_DATA
MEGAETH_STORAGE_CALL_STIPEND = 23_000  # constants::rex4::STORAGE_CALL_STIPEND
MEGAETH_FORWARD_GAS_WITHHELD = (2, 100)  # the 98/100 rule (Ethereum: (1, 64), EIP-150)
MEGAETH_MAX_CODE_SIZE = 512 * 1024  # constants::mini_rex::MAX_CONTRACT_SIZE
MEGAETH_MAX_INITCODE_SIZE = MEGAETH_MAX_CODE_SIZE + 24 * 1024  # MAX_INITCODE_SIZE, 536 KiB
