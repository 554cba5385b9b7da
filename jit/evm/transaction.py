"""Transaction processing in three phases: validate -> execute -> finalize.

- validate: static rules (type allowed, intrinsic gas with the EIP-7623 floor and,
  under MegaETH's rules, the intrinsic and calldata storage gas,
  EIP-2681 nonce cap, EIP-3860 initcode size, EIP-7825 gas cap) and the rules
  against the block and sender (EIP-1559 fee caps, EIP-4844 blob rules,
  EIP-7702 list rules, nonce, balance, EIP-3607 sender has no code). Any
  violation raises an ``InvalidTransaction`` subclass before any state change.
- execute: buy gas, warm the EIP-2929/2930/3651 sets, apply EIP-7702
  authorizations, run the message.
- finalize: refunds (EIP-3529 cap), the EIP-7623 floor, gas refund to the
  sender, EIP-6780 deletions; the coinbase fee is returned as ``fee_credit``
  for the caller to apply (``coinbase_credit_diff``) so that transactions of a
  block do not all conflict on the coinbase; what the block counts of the
  transaction (``TxOutcome.block_gas`` and ``block_state_gas``).

Amsterdam: EIP-8037 splits the intrinsic gas into regular and state gas
(``intrinsic_state_gas``), caps only the regular gas at EIP-7825's limit (the rest of
``tx.gas`` is the top frame's state gas reservoir, ``jit.evm.state_gas``), returns an
existing EIP-7702 authority's new-account state gas to the reservoir and the state gas
of accounts created and destroyed in the transaction at its end, and meters the block
in two dimensions (``block_gas_bounds`` for inclusion); EIP-7778 counts the block's
gas before refunds.

``execute_transaction`` is pure over the ``StateReader`` it is given.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from jit import rlp
from jit.evm.addresses import DELEGATION_PREFIX, compute_contract_address, delegation_target
from jit.evm.exceptions import (
    AddressCollision,
    AuthorizationListError,
    BlobError,
    ExceptionalHalt,
    FeeCapTooLow,
    GasLimitExceeded,
    HaltReason,
    InitcodeTooLarge,
    InsufficientFunds,
    IntrinsicGasTooLow,
    InvalidTransaction,
    NonceOverflow,
    NonceTooHigh,
    NonceTooLow,
    PriorityFeeTooHigh,
    Revert,
    SenderNotEOA,
    TransactionTypeNotSupported,
)
from jit.evm.frame import BlockEnv, Evm, Message, TxEnv
from jit.evm.gas import (
    FLOOR_TOKENS_PER_BYTE,
    GAS_PER_BLOB,
    PER_AUTH_BASE_COST,
    PER_EMPTY_ACCOUNT_COST,
    TX_ACCESS_LIST_ADDRESS,
    TX_ACCESS_LIST_STORAGE_KEY,
    TX_BASE,
    TX_CREATE,
    TX_DATA_NON_ZERO,
    TX_DATA_ZERO,
    TX_FLOOR_COST_PER_TOKEN_EIP7976,
    TX_STANDARD_TOKEN_COST,
    TX_TOTAL_COST_FLOOR_PER_TOKEN,
)
from jit.evm.message import process_create_message, process_message
from jit.evm.precompiles.ecrecover import SECP256K1N, recover_address
from jit.evm.state import CodeRunner, Log, TxState
from jit.evm.state_gas import (
    REGULAR_GAS_CREATE,
    REGULAR_GAS_PER_AUTH,
    STATE_BYTES_PER_AUTH_BASE,
    STATE_BYTES_PER_NEW_ACCOUNT,
    cost_per_state_byte,
    restore_failed_frame,
)
from jit.evm.tracing import Tracer, traced_runner
from jit.evm.transfer_logs import finalisation_burn_logs
from jit.forks import ForkRules
from statedb.conflicts import ReadSet, WriteSet, write_set
from statedb.types import (
    EMPTY_ACCOUNT,
    EMPTY_CODE_HASH,
    Account,
    Address,
    StateDiff,
    StateReader,
    keccak256,
)
from statedb.views import OverlayView

MAX_NONCE = (1 << 64) - 1
UINT256_LIMIT = 1 << 256
VERSIONED_HASH_VERSION_KZG = 0x01
SET_CODE_TX_MAGIC = b"\x05"


class Authorization(Protocol):
    """An EIP-7702 authorization tuple (read-only fields)."""

    @property
    def chain_id(self) -> int: ...
    @property
    def address(self) -> Address: ...
    @property
    def nonce(self) -> int: ...
    @property
    def y_parity(self) -> int: ...
    @property
    def r(self) -> int: ...
    @property
    def s(self) -> int: ...


class TransactionLike(Protocol):
    """The fields execution reads; ``sequencer.types`` transactions provide them."""

    @property
    def tx_type(self) -> int: ...
    @property
    def nonce(self) -> int: ...
    @property
    def gas_limit(self) -> int: ...
    @property
    def to(self) -> Address | None: ...
    @property
    def value(self) -> int: ...
    @property
    def data(self) -> bytes: ...
    @property
    def gas_price(self) -> int: ...  # legacy and EIP-2930
    @property
    def max_fee_per_gas(self) -> int: ...  # EIP-1559 and later
    @property
    def max_priority_fee_per_gas(self) -> int: ...
    @property
    def access_list(self) -> Sequence[tuple[Address, Sequence[int]]]: ...
    @property
    def max_fee_per_blob_gas(self) -> int: ...
    @property
    def blob_versioned_hashes(self) -> Sequence[bytes]: ...
    @property
    def authorization_list(self) -> Sequence[Authorization]: ...
    @property
    def sender(self) -> Address: ...


class ResultKind(enum.Enum):
    SUCCESS = "success"
    REVERT = "revert"
    HALT = "halt"


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """What executing one valid transaction did.

    ``reads`` is what it read from the state it ran on (``statedb.conflicts.ReadSet``:
    accounts, slots, has-storage); ``write_set`` is what it writes. The optimistic
    executor re-runs it when ``conflicts(outcome.reads, writes it did not see)``.
    """

    result: ResultKind
    output: bytes
    error: HaltReason | None  # why it failed (equal to the halt's class name); None: success
    diff: StateDiff
    reads: ReadSet
    gas_used: int  # after refunds and the EIP-7623 floor
    logs: tuple[Log, ...]
    fee_credit: int  # priority fee owed to the coinbase
    contract_address: Address | None
    blob_gas_used: int
    effective_gas_price: int
    out_of_gas_halts: int = 0  # frames (outer or inner) that ran out of gas
    console: tuple[bytes, ...] = ()  # calldata of its console.log calls, in order
    # Every address a frame of it ran as or was called by, the code a DELEGATECALL or
    # CALLCODE borrowed, every SELFDESTRUCT beneficiary (the address history's entries,
    # as the call traces show them).
    touched: frozenset[Address] = frozenset()
    # What the block counts (``block_gas``, ``block_state_gas``): before EIP-7778 the
    # refunded ``gas_used``; from it the gas before refunds (with the calldata floor);
    # under EIP-8037 split into the regular and the state dimension.
    block_gas: int = 0
    block_state_gas: int = 0

    @property
    def success(self) -> bool:
        return self.result is ResultKind.SUCCESS

    @property
    def account_reads(self) -> frozenset[Address]:
        return self.reads.accounts

    @property
    def storage_reads(self) -> frozenset[tuple[Address, int]]:
        return self.reads.slots

    def write_set(self, reader: StateReader, coinbase: Address | None = None) -> WriteSet:
        """What this outcome writes; ``reader`` must be the state it executed on.

        ``statedb.conflicts.write_set`` of the diff: a ``storage_cleared`` wipe (or a
        deletion) is expanded into the slots it removes on ``reader`` plus the address's
        has-storage key, and kept as an address-level wipe, which is what the conflict
        rule checks slot reads against (exact on any later state, where the expansion
        is exact only on ``reader``).

        With ``coinbase`` (the block's), the fee credit the builder applies after the
        diff counts too, as a write of the coinbase account when it changes it: a
        positive credit always does; a zero credit only deletes a coinbase that exists
        and is empty (EIP-161), so in that case the credit's own diff decides.
        """
        writes = write_set(self.diff, reader)
        if coinbase is None:
            return writes
        if self.fee_credit > 0:
            if coinbase in writes.accounts:
                return writes
            return writes | WriteSet(accounts=frozenset((coinbase,)))
        after = OverlayView(reader, self.diff)
        account = after.get_account(coinbase)
        if account is not None and not account.is_empty():
            return writes
        credit = coinbase_credit_diff(after, coinbase, self.fee_credit)
        return writes | write_set(credit, after)


# ------------------------------------------------------------------ validate


def intrinsic_gas(tx: TransactionLike, rules: ForkRules) -> tuple[int, int]:
    """(intrinsic gas, EIP-7623 calldata floor; 0 before Prague).

    MegaETH (``rules.megaeth``) adds storage gas: 39,000 per transaction and 40 per
    calldata token (a zero byte is one token, a non-zero byte four) to the intrinsic gas,
    and 100 per token to the floor, which stays 21,000 + tokens * (10 + 100) whatever
    the transaction (mega-evm v1.7.0 ``MegaHandler::validate``; the floor has neither the
    39,000 nor the creation costs).

    Amsterdam: EIP-7976 makes the floor 16 per token with every calldata byte 4 tokens;
    EIP-7981 makes every access list byte (20 per address, 32 per key) 4 floor tokens,
    charged at 16 each in the intrinsic gas and counted in the floor. EIP-8037 leaves
    9,000 for a creation and 7,500 per authorization here, the rest being state gas
    (``intrinsic_state_gas``)."""
    data = tx.data
    zero_bytes = data.count(0)
    non_zero_bytes = len(data) - zero_bytes
    tokens = zero_bytes + non_zero_bytes * (TX_DATA_NON_ZERO // TX_STANDARD_TOKEN_COST)
    gas = TX_BASE + zero_bytes * TX_DATA_ZERO + non_zero_bytes * TX_DATA_NON_ZERO
    eip8037 = rules.eip8037
    if tx.to is None:
        create = REGULAR_GAS_CREATE if eip8037 else TX_CREATE
        gas += create + 2 * ((len(data) + 31) // 32)  # EIP-3860 initcode words
    access_list_bytes = 0
    for _, slots in tx.access_list:
        gas += TX_ACCESS_LIST_ADDRESS + TX_ACCESS_LIST_STORAGE_KEY * len(slots)
        access_list_bytes += 20 + 32 * len(slots)
    per_auth = REGULAR_GAS_PER_AUTH if eip8037 else PER_EMPTY_ACCOUNT_COST
    gas += per_auth * len(tx.authorization_list)
    gas += rules.intrinsic_storage_gas + tokens * rules.calldata_storage_gas_per_token
    floor = 0
    if rules.eip7623:
        floor_tokens = tokens
        per_token = TX_TOTAL_COST_FLOOR_PER_TOKEN
        if rules.eip7976:
            floor_tokens = len(data) * FLOOR_TOKENS_PER_BYTE
            per_token = TX_FLOOR_COST_PER_TOKEN_EIP7976
        if rules.eip7981:
            access_list_tokens = access_list_bytes * FLOOR_TOKENS_PER_BYTE
            gas += access_list_tokens * per_token
            floor_tokens += access_list_tokens
        floor = TX_BASE + floor_tokens * (per_token + rules.calldata_floor_storage_gas_per_token)
    return gas, floor


def intrinsic_state_gas(tx: TransactionLike, rules: ForkRules, block_gas_limit: int) -> int:
    """EIP-8037's intrinsic state gas: a new account for a creation, and a new account
    plus a delegation designator per authorization (the worst case; an authority that
    exists gets its new account back in the reservoir). 0 before Amsterdam."""
    if not rules.eip8037:
        return 0
    state_bytes = len(tx.authorization_list) * (
        STATE_BYTES_PER_NEW_ACCOUNT + STATE_BYTES_PER_AUTH_BASE
    )
    if tx.to is None:
        state_bytes += STATE_BYTES_PER_NEW_ACCOUNT
    return state_bytes * cost_per_state_byte(block_gas_limit)


def block_gas_bounds(
    tx: TransactionLike, rules: ForkRules, block_gas_limit: int
) -> tuple[int, int]:
    """The most ``tx`` can add to its block's (regular, state) gas: its gas limit and 0
    before EIP-8037; from it, regular gas at most the EIP-7825 cap and never its
    intrinsic state gas, state gas all but its intrinsic regular gas. A block includes
    ``tx`` only if both fit what is left of its gas limit."""
    if not rules.eip8037:
        return tx.gas_limit, 0
    intrinsic_regular, _ = intrinsic_gas(tx, rules)
    intrinsic_state = intrinsic_state_gas(tx, rules, block_gas_limit)
    regular = tx.gas_limit - intrinsic_state
    cap = rules.tx_gas_limit_cap
    if cap is not None:
        regular = min(cap, regular)
    return regular, tx.gas_limit - intrinsic_regular


def validate_static(
    tx: TransactionLike, rules: ForkRules, block_gas_limit: int = 0
) -> tuple[int, int]:
    """Rules that need no state; returns (intrinsic gas, calldata floor). Under EIP-8037
    the intrinsic gas includes its state gas, priced at ``block_gas_limit``, and the
    EIP-7825 cap bounds only the regular part (the rest of ``tx.gas`` is the reservoir)."""
    if tx.tx_type not in rules.tx_types:
        raise TransactionTypeNotSupported(f"transaction type {tx.tx_type} not supported")
    for name in (
        "value",
        "gas_price",
        "max_fee_per_gas",
        "max_priority_fee_per_gas",
        "max_fee_per_blob_gas",
    ):
        if not 0 <= getattr(tx, name) < UINT256_LIMIT:
            raise InvalidTransaction(f"{name} out of range")
    regular, floor = intrinsic_gas(tx, rules)
    gas = regular + intrinsic_state_gas(tx, rules, block_gas_limit)
    if max(gas, floor) > tx.gas_limit:
        raise IntrinsicGasTooLow(
            f"intrinsic gas too low: have {tx.gas_limit}, want {max(gas, floor)}"
        )
    if tx.nonce >= MAX_NONCE:
        raise NonceOverflow("nonce has max value")
    if tx.to is None and len(tx.data) > rules.max_initcode_size:
        raise InitcodeTooLarge(
            f"max initcode size exceeded: code size {len(tx.data)} limit {rules.max_initcode_size}"
        )
    if rules.eip8037:
        if rules.tx_gas_limit_cap is not None and max(regular, floor) > rules.tx_gas_limit_cap:
            raise GasLimitExceeded(
                f"intrinsic regular gas above the transaction gas cap "
                f"(cap: {rules.tx_gas_limit_cap}, intrinsic: {max(regular, floor)})"
            )
    elif rules.tx_gas_limit_cap is not None and tx.gas_limit > rules.tx_gas_limit_cap:
        raise GasLimitExceeded(
            f"transaction gas limit too high (cap: {rules.tx_gas_limit_cap}, tx: {tx.gas_limit})"
        )
    if tx.tx_type >= 2 and tx.max_fee_per_gas < tx.max_priority_fee_per_gas:
        raise PriorityFeeTooHigh("max priority fee per gas higher than max fee per gas")
    if tx.tx_type == 3:
        _validate_blob_hashes(tx.blob_versioned_hashes, rules)
    if tx.tx_type in (3, 4) and tx.to is None:
        raise InvalidTransaction(f"transaction type {tx.tx_type} cannot create a contract")
    if tx.tx_type == 4 and not tx.authorization_list:
        raise AuthorizationListError("EIP-7702 transaction with empty auth list")
    return gas, floor


def _validate_blob_hashes(hashes: Sequence[bytes], rules: ForkRules) -> None:
    count = len(hashes)
    if count == 0:
        raise BlobError("blob transaction missing blob hashes")
    # The per-transaction limit (EIP-7594, Osaka) or, before it, what one block holds:
    # a transaction over either can never be included.
    limit = rules.max_blob_gas_per_block // GAS_PER_BLOB
    if rules.max_blobs_per_tx is not None:
        limit = min(limit, rules.max_blobs_per_tx)
    if count > limit:
        raise BlobError(f"too many blobs in transaction: have {count}, max {limit}")
    for versioned_hash in hashes:
        if len(versioned_hash) != 32 or versioned_hash[0] != VERSIONED_HASH_VERSION_KZG:
            raise BlobError("blob versioned hash has an invalid version")


def validate_stateless(
    tx: TransactionLike,
    rules: ForkRules,
    *,
    gas_limit: int,
    base_fee: int,
    blob_base_fee: int,
    check_base_fee: bool = True,
) -> tuple[int, int]:
    """Every rule that reads no state: ``validate_static``'s, then the block's gas limit,
    base fee and blob base fee. Returns (intrinsic gas, calldata floor).

    The one stateless check: execution starts with it (the block's values) and the pool
    admits with it (the next block's values), so a transaction the pool took fails it at
    execution only if those values moved in between. ``check_base_fee=False`` as in
    ``execute_transaction``; the blob fee is checked either way."""
    gas, floor = validate_static(tx, rules, gas_limit)
    if rules.eip8037:
        _check_block_room(tx, rules, gas_limit, gas_limit, gas_limit)
    elif tx.gas_limit > gas_limit:
        raise GasLimitExceeded(f"exceeds block gas limit: have {tx.gas_limit}, limit {gas_limit}")
    if check_base_fee:
        cap = tx.max_fee_per_gas if tx.tx_type >= 2 else tx.gas_price
        if cap < base_fee:
            raise FeeCapTooLow(
                f"max fee per gas less than block base fee: address {'0x' + tx.sender.hex()}, "
                f"maxFeePerGas: {cap}, baseFee: {base_fee}"
            )
    if tx.tx_type == 3 and tx.max_fee_per_blob_gas < blob_base_fee:
        raise BlobError(
            f"max fee per blob gas less than block blob gas fee: address "
            f"{'0x' + tx.sender.hex()} have {tx.max_fee_per_blob_gas}, want {blob_base_fee}"
        )
    return gas, floor


def _check_block_room(
    tx: TransactionLike, rules: ForkRules, block_gas_limit: int, regular_room: int, state_room: int
) -> None:
    """EIP-8037: ``tx`` must fit the block's gas left in both dimensions
    (``block_gas_bounds``)."""
    regular, state = block_gas_bounds(tx, rules, block_gas_limit)
    if regular > regular_room:
        raise GasLimitExceeded(f"regular gas limit reached: have {regular}, room {regular_room}")
    if state > state_room:
        raise GasLimitExceeded(f"state gas limit reached: have {state}, room {state_room}")


def _validate_against_block(
    tx: TransactionLike,
    block: BlockEnv,
    state: TxState,
    rules: ForkRules,
    block_gas_used: int,
    block_blob_gas_used: int,
    check_sender_code: bool = True,
    block_state_gas_used: int = 0,
) -> tuple[int, int]:
    """Rules against the block's running totals and the sender, after
    ``validate_stateless``; returns (effective gas price, blob gas).

    With ``check_base_fee=False`` there (simulation without fee fields, revm's
    ``disable_base_fee``) a fee cap below the base fee is allowed and the price paid
    is the cap, while BASEFEE still reads the block's base fee."""
    if rules.eip8037:
        _check_block_room(
            tx,
            rules,
            block.gas_limit,
            block.gas_limit - block_gas_used,
            block.gas_limit - block_state_gas_used,
        )
    elif tx.gas_limit > block.gas_limit - block_gas_used:
        raise GasLimitExceeded("gas limit reached")
    blob_gas = GAS_PER_BLOB * len(tx.blob_versioned_hashes)
    if blob_gas > rules.max_blob_gas_per_block - block_blob_gas_used:
        raise BlobError("blob gas limit exceeded")
    if tx.tx_type >= 2:
        effective_gas_price = min(tx.max_priority_fee_per_gas + block.base_fee, tx.max_fee_per_gas)
        max_gas_fee = tx.gas_limit * tx.max_fee_per_gas
    else:
        effective_gas_price = tx.gas_price
        max_gas_fee = tx.gas_limit * tx.gas_price
    if tx.tx_type == 3:
        max_gas_fee += blob_gas * tx.max_fee_per_blob_gas
    account = state.get_account(tx.sender)
    nonce = 0 if account is None else account.nonce
    if nonce > tx.nonce:
        raise NonceTooLow(f"nonce too low: next nonce {nonce}, tx nonce {tx.nonce}")
    if nonce < tx.nonce:
        raise NonceTooHigh(f"nonce too high: next nonce {nonce}, tx nonce {tx.nonce}")
    balance = 0 if account is None else account.balance
    if balance < max_gas_fee + tx.value:
        raise InsufficientFunds(
            f"insufficient funds for gas * price + value: address {'0x' + tx.sender.hex()} "
            f"have {balance} want {max_gas_fee + tx.value}"
        )
    if check_sender_code and account is not None and account.code_hash != EMPTY_CODE_HASH:
        code = state.code_by_hash(account.code_hash)
        if not (rules.eip7702 and delegation_target(code) is not None):
            raise SenderNotEOA(f"sender not an eoa: address {'0x' + tx.sender.hex()}")
    return effective_gas_price, blob_gas


def validate_transaction(
    tx: TransactionLike,
    block: BlockEnv,
    state: StateReader,
    rules: ForkRules,
    *,
    block_gas_used: int = 0,
    block_blob_gas_used: int = 0,
    block_state_gas_used: int = 0,
) -> None:
    """Raise ``InvalidTransaction`` if ``tx`` cannot be included; change nothing.
    ``block_gas_used`` is the block's gas so far (EIP-8037: its regular gas, and
    ``block_state_gas_used`` its state gas)."""
    _validate_stateless_for(tx, block, rules)
    _validate_against_block(
        tx,
        block,
        TxState(state),
        rules,
        block_gas_used,
        block_blob_gas_used,
        block_state_gas_used=block_state_gas_used,
    )


def _validate_stateless_for(
    tx: TransactionLike, block: BlockEnv, rules: ForkRules, check_base_fee: bool = True
) -> tuple[int, int]:
    return validate_stateless(
        tx,
        rules,
        gas_limit=block.gas_limit,
        base_fee=block.base_fee,
        blob_base_fee=block.blob_base_fee,
        check_base_fee=check_base_fee,
    )


# ------------------------------------------------------------------- execute


def authorization_signing_hash(chain_id: int, address: Address, nonce: int) -> bytes:
    """EIP-7702: keccak256(MAGIC || rlp([chain_id, address, nonce]))."""
    return keccak256(SET_CODE_TX_MAGIC + rlp.encode([chain_id, address, nonce]))


def recover_authority(auth: Authorization) -> Address | None:
    """EIP-7702: the signer of an authorization, or None if the signature is invalid."""
    if (
        auth.y_parity not in (0, 1)
        or not 0 < auth.r < SECP256K1N
        or not 0 < auth.s <= SECP256K1N // 2
    ):
        return None
    signing_hash = authorization_signing_hash(auth.chain_id, auth.address, auth.nonce)
    return recover_address(signing_hash, auth.y_parity, auth.r, auth.s)


def _apply_authorizations(
    tx: TransactionLike, block: BlockEnv, state: TxState, existing_refund: int
) -> int:
    """EIP-7702: set delegations; return the refund for authorities that existed
    (``existing_refund`` each: gas for the refund counter, or under EIP-8037 the new
    account's state gas, which goes back to the reservoir)."""
    refund = 0
    for auth in tx.authorization_list:
        if auth.chain_id not in (block.chain_id, 0) or auth.nonce >= MAX_NONCE:
            continue
        authority = recover_authority(auth)
        if authority is None:
            continue
        state.warm_addresses.add(authority)
        code = state.get_code(authority)
        if code and delegation_target(code) is None:
            continue
        if state.nonce(authority) != auth.nonce:
            continue
        if state.exists(authority):
            refund += existing_refund
        target = bytes(auth.address)
        state.set_code(authority, b"" if target == bytes(20) else DELEGATION_PREFIX + target)
        state.increment_nonce(authority)
    return refund


def execute_transaction(
    tx: TransactionLike,
    block: BlockEnv,
    reader: StateReader,
    rules: ForkRules,
    *,
    block_gas_used: int = 0,
    block_blob_gas_used: int = 0,
    block_state_gas_used: int = 0,
    check_sender_code: bool = True,
    check_base_fee: bool = True,
    engine: CodeRunner | None = None,
    tracer: Tracer | None = None,
) -> TxOutcome:
    """Execute ``tx`` against ``reader``; raise ``InvalidTransaction`` if it is invalid.

    ``block_gas_used`` is the gas the block used so far (``TxOutcome.block_gas``
    summed; under EIP-8037 its regular dimension, ``block_state_gas_used`` the state
    dimension), which ``tx`` must fit in beside.

    ``check_sender_code=False`` skips the EIP-3607 sender-is-EOA rule, as geth's
    eth_call does (calls "from" a contract are common in tests and simulations).
    ``engine`` runs contract code (``jit.compiler.Engine.run``); None interprets.
    ``tracer`` observes every frame and instruction (``jit.evm.tracing``; the code then
    runs on the interpreter, whatever ``engine`` is).
    """
    # 1. Validate (nothing changes if the transaction cannot be included).
    intrinsic, floor = _validate_stateless_for(tx, block, rules, check_base_fee)
    if tracer is None:
        state = TxState(reader, engine)
    else:
        state = TxState(reader, traced_runner(tracer), tracer)
    effective_gas_price, blob_gas = _validate_against_block(
        tx,
        block,
        state,
        rules,
        block_gas_used,
        block_blob_gas_used,
        check_sender_code,
        block_state_gas_used,
    )
    # 2. Buy gas (and blob gas) and bump the nonce.
    sender_nonce = _buy_gas(tx, block, state, effective_gas_price, blob_gas)
    # 3. EIP-2929 / 2930 / 3651 warm sets.
    _warm(tx, block, state, rules)
    # 4. Run the top frame.
    intrinsic_state = intrinsic_state_gas(tx, rules, block.gas_limit)
    top = _run(
        tx, block, state, rules, effective_gas_price, intrinsic, intrinsic_state, sender_nonce
    )
    # 5. Finalise: refunds, the EIP-7623 floor, fees, deletions, the outcome.
    return _finalise(
        tx, block, state, rules, tracer, effective_gas_price, blob_gas, floor, intrinsic_state, top
    )


def _buy_gas(
    tx: TransactionLike, block: BlockEnv, state: TxState, effective_gas_price: int, blob_gas: int
) -> int:
    """Take the gas limit's (and the blob gas's) price from the sender and bump its
    nonce; the nonce it had."""
    sender = tx.sender
    sender_nonce = state.nonce(sender)
    state.increment_nonce(sender)
    state.set_balance(
        sender,
        state.balance(sender) - tx.gas_limit * effective_gas_price - blob_gas * block.blob_base_fee,
    )
    return sender_nonce


def _warm(tx: TransactionLike, block: BlockEnv, state: TxState, rules: ForkRules) -> None:
    """EIP-2929 / 2930 / 3651: the coinbase, the sender, the precompiles and the access
    list start warm."""
    warm = state.warm_addresses
    warm.add(block.coinbase)
    warm.add(tx.sender)
    warm.update(rules.precompiles)
    for address, slots in tx.access_list:
        warm.add(address)
        for slot in slots:
            state.warm_slots.add((address, slot))


@dataclass(frozen=True, slots=True)
class _TopFrame:
    """What the top frame left: gas, EIP-8037's reservoir and net state gas, its result,
    and what authorities that already existed give back (``auth_refund`` to the refund
    counter; under EIP-8037 ``reservoir_credit`` went to the reservoir instead)."""

    gas_left: int
    output: bytes
    error: ExceptionalHalt | Revert | None
    contract_address: Address | None
    auth_refund: int = 0
    state_gas_left: int = 0
    state_gas_used: int = 0
    reservoir_credit: int = 0


def _run(
    tx: TransactionLike,
    block: BlockEnv,
    state: TxState,
    rules: ForkRules,
    effective_gas_price: int,
    intrinsic: int,
    intrinsic_state: int,
    sender_nonce: int,
) -> _TopFrame:
    """The top frame: a create or a call (EIP-7702 authorizations applied first).

    EIP-8037: the execution gas beyond what the EIP-7825 cap leaves for regular gas is
    the frame's state gas reservoir; a failed frame's state gas returns to it."""
    sender = tx.sender
    warm = state.warm_addresses
    tx_env = TxEnv(sender, effective_gas_price, tuple(tx.blob_versioned_hashes))
    gas = tx.gas_limit - intrinsic
    reservoir = 0
    cap = rules.tx_gas_limit_cap
    if rules.eip8037 and cap is not None:
        regular_budget = cap - (intrinsic - intrinsic_state)
        reservoir = max(gas - regular_budget, 0)
        gas -= reservoir
    if tx.to is None:
        contract_address = compute_contract_address(sender, sender_nonce)
        warm.add(contract_address)
        if state.has_code_or_nonce(contract_address) or state.has_storage(contract_address):
            # EIP-684/EIP-7610: a creation onto a used address consumes all gas.
            return _TopFrame(0, b"", AddressCollision(), contract_address, state_gas_left=reservoir)
        message = Message(
            sender,
            None,
            contract_address,
            None,
            tx.value,
            b"",
            tx.data,
            gas,
            0,
            False,
            state_gas=reservoir,
        )
        evm = process_create_message(message, state, rules, block, tx_env)
        return _top_frame(evm, rules, contract_address, 0, 0)
    to = tx.to
    warm.add(to)
    auth_refund = reservoir_credit = 0
    if tx.authorization_list:
        if rules.eip8037:
            reservoir_credit = _apply_authorizations(
                tx,
                block,
                state,
                STATE_BYTES_PER_NEW_ACCOUNT * cost_per_state_byte(block.gas_limit),
            )
            reservoir += reservoir_credit
        else:
            auth_refund = _apply_authorizations(
                tx, block, state, PER_EMPTY_ACCOUNT_COST - PER_AUTH_BASE_COST
            )
    code = state.get_code(to)
    code_address = to
    disable_precompiles = False
    if rules.eip7702:
        delegate = delegation_target(code)
        if delegate is not None:
            disable_precompiles = True
            warm.add(delegate)
            code = state.get_code(delegate)
            code_address = delegate
    message = Message(
        sender,
        to,
        to,
        code_address,
        tx.value,
        tx.data,
        code,
        gas,
        0,
        False,
        True,
        disable_precompiles,
        reservoir,
    )
    evm = process_message(message, state, rules, block, tx_env)
    return _top_frame(evm, rules, None, auth_refund, reservoir_credit)


def _top_frame(
    evm: Evm, rules: ForkRules, contract_address: Address | None, auth_refund: int, credit: int
) -> _TopFrame:
    if rules.eip8037 and evm.error is not None:
        restore_failed_frame(evm)
    return _TopFrame(
        evm.gas_left,
        evm.output,
        evm.error,  # type: ignore[arg-type]
        contract_address,
        auth_refund,
        evm.state_gas_left,
        evm.state_gas_used,
        credit,
    )


def _finalise(
    tx: TransactionLike,
    block: BlockEnv,
    state: TxState,
    rules: ForkRules,
    tracer: Tracer | None,
    effective_gas_price: int,
    blob_gas: int,
    floor: int,
    intrinsic_state: int,
    top: _TopFrame,
) -> TxOutcome:
    """Refunds (EIP-3529), the calldata floor (EIP-7623), the sender's change, the fee
    owed to the coinbase, self-destructed accounts deleted (EIP-8037: their new account
    and code state gas returned); the outcome and what the block counts of it."""
    sender = tx.sender
    error = top.error
    success = error is None
    deleted = state.to_delete if success else ()
    state_gas_left = top.state_gas_left
    state_gas_used = top.state_gas_used
    if rules.eip8037 and deleted:
        returned = _destroyed_state_gas(state, deleted, block.gas_limit)
        state_gas_left += returned
        state_gas_used -= returned
    refund_counter = top.auth_refund + (state.refund if success else 0)
    gas_before_refund = tx.gas_limit - top.gas_left - state_gas_left
    gas_used = gas_before_refund - min(gas_before_refund // 5, refund_counter)  # EIP-3529
    gas_used = max(gas_used, floor)  # EIP-7623
    if rules.eip8037:
        regular = (
            gas_before_refund
            + top.reservoir_credit
            - intrinsic_state
            - state_gas_used
            - state.state_gas_forfeited
        )
        block_gas = max(regular, floor)
        block_state_gas = intrinsic_state + state_gas_used
    elif rules.eip7778:
        block_gas, block_state_gas = max(gas_before_refund, floor), 0
    else:
        block_gas, block_state_gas = gas_used, 0
    state.add_balance(sender, (tx.gas_limit - gas_used) * effective_gas_price)
    fee_credit = gas_used * max(effective_gas_price - block.base_fee, 0)
    if rules.eip7708 and deleted:
        # EIP-7708: what a deleted account holds when removed is burned with a log,
        # the priority fee included when the coinbase is among them.
        def at_removal(address: Address) -> int:
            fee = fee_credit if address == block.coinbase else 0
            return state.balance(address) + fee

        state.logs.extend(finalisation_burn_logs(deleted, at_removal))
    for address in deleted:
        state.destroy_account(address)
    if block.coinbase in deleted:
        fee_credit = 0  # the fee was paid to an account destroyed in the same step

    if error is None:
        kind = ResultKind.SUCCESS
    elif isinstance(error, Revert):
        kind = ResultKind.REVERT
    else:
        kind = ResultKind.HALT
    diff = state.diff()  # before the reads: the diff can read has-storage
    if tracer is not None:
        tracer.done(state)
    return TxOutcome(
        result=kind,
        output=top.output,
        error=None if error is None else HaltReason.of(error),
        diff=diff,
        reads=state.read_set(),
        gas_used=gas_used,
        logs=tuple(state.logs) if success else (),
        fee_credit=fee_credit,
        contract_address=top.contract_address if success else None,
        blob_gas_used=blob_gas,
        effective_gas_price=effective_gas_price,
        out_of_gas_halts=state.out_of_gas_halts,
        console=tuple(state.console_calls),
        touched=_touched(state),
        block_gas=block_gas,
        block_state_gas=block_state_gas,
    )


def _destroyed_state_gas(state: TxState, deleted: set[Address], block_gas_limit: int) -> int:
    """EIP-8037: the state gas of accounts created and self-destructed in this
    transaction (their new account and their code), which never became state."""
    state_bytes = 0
    for address in deleted:
        if address in state.created:
            state_bytes += STATE_BYTES_PER_NEW_ACCOUNT + len(state.get_code(address))
    return state_bytes * cost_per_state_byte(block_gas_limit)


def _touched(state: TxState) -> frozenset[Address]:
    out: set[Address] = set()
    for item in state.touched:
        if isinstance(item, bytes):
            out.add(item)
        else:
            out.add(item.caller)
            out.add(item.current_target)
            code_address = item.code_address
            # DELEGATECALL / CALLCODE borrow code: the trace's "to" is the code's address.
            # An EIP-7702 delegation (which disables precompiles) runs as the account.
            if (
                code_address is not None
                and code_address != item.current_target
                and not item.disable_precompiles
            ):
                out.add(code_address)
    return frozenset(out)


def coinbase_credit_diff(reader: StateReader, coinbase: Address, amount: int) -> StateDiff:
    """The diff that pays ``amount`` to the coinbase. Like every balance change,
    a coinbase left empty (existing, zero balance) is deleted."""
    if amount > 0:  # the common case, once per transaction: the account cannot end empty
        account = reader.get_account(coinbase) or EMPTY_ACCOUNT
        diff = StateDiff()
        diff.accounts[coinbase] = Account(
            account.nonce, account.balance + amount, account.code_hash
        )
        return diff
    state = TxState(reader)
    state.add_balance(coinbase, amount)
    return state.diff()


# --------------------------------------------------------------- system calls

SYSTEM_ADDRESS = bytes.fromhex("fffffffffffffffffffffffffffffffffffffffe")
SYSTEM_CALL_GAS = 30_000_000


@dataclass(frozen=True, slots=True)
class SystemCallResult:
    success: bool
    output: bytes
    diff: StateDiff
    reads: ReadSet  # what the call read (an EIP-7928 access list lists it)


def execute_system_call(
    target: Address,
    data: bytes,
    block: BlockEnv,
    reader: StateReader,
    rules: ForkRules,
    engine: CodeRunner | None = None,
) -> SystemCallResult | None:
    """A block-level system call (EIP-4788, EIP-2935, EIP-7002, EIP-7251).

    From SYSTEM_ADDRESS with 30M gas outside the block's gas accounting, no value,
    no fee, no nonce change. Returns None when ``target`` has no code (EIP-4788 and
    EIP-2935 then skip the call; for the request contracts the caller decides).
    """
    state = TxState(reader, engine)
    code = state.get_code(target)
    if not code:
        return None
    message = Message(
        SYSTEM_ADDRESS, target, target, target, 0, data, code, SYSTEM_CALL_GAS, 0, False
    )
    evm = process_message(message, state, rules, block, TxEnv(SYSTEM_ADDRESS, 0))
    diff = state.diff()  # before the reads: the diff can read has-storage
    return SystemCallResult(evm.error is None, evm.output, diff, state.read_set())
