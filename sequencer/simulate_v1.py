"""``simulate_v1``: eth_simulateV1, a chain of simulated blocks on top of a real one.

Owns the engine behind eth_simulateV1 (the execution-apis method viem's
``simulateBlocks`` and web3.py's ``simulate_v1`` send), following geth: each simulated
block builds on the previous one (number + 1, timestamp + 12 s unless overridden,
parentHash chained to the previous simulated block's hash); its state overrides apply at
its start, after the pre-block system calls; its calls run in order, each on the state the
previous ones left. Nothing is committed: the simulated state is a ``StateDiff`` over an
``OverlayView`` of the base block's state.

Without ``validation`` the simulated blocks' base fee is 0 (unless overridden), calls skip
the nonce and fee checks and a missing nonce or gas is filled (gas: what is left of the
block's gas limit, capped per transaction). With ``validation`` a transaction the block
would reject (nonce, fees, intrinsic gas, funds, block gas) is a request error with geth's
code. A call that reverts gets status 0 and error code 3 with the revert data; one that
halts gets -32015. ``trace_transfers`` adds an ERC-7528 Transfer log from
0xeeee...eeee for the call's own ETH value transfer (top-level only: the EVM has no
per-frame hook for internal value transfers).

Not done: the state root of a simulated block (zero; hashes chain but are not geth's),
``movePrecompileToAddress`` (refused with -32004), withdrawals in block overrides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from jit.evm import exceptions as evm_errors
from jit.evm.block_hashes import BlockHashLog
from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.transaction import TxOutcome, execute_system_call, execute_transaction
from sequencer.chain import Chain
from sequencer.errors import NodeError, ResourceNotFound, Unsupported
from sequencer.genesis import BEACON_ROOTS_ADDRESS, HISTORY_STORAGE_ADDRESS
from sequencer.producer import next_base_fee, next_excess_blob_gas
from sequencer.revert import decode_revert_reason
from sequencer.simulation import Simulator, failure_message
from sequencer.trie import EMPTY_TRIE_ROOT, ordered_trie_root
from sequencer.types.blocks import (
    EMPTY_BLOOM,
    EMPTY_REQUESTS_HASH,
    ZERO_HASH,
    ChainLog,
    Header,
    MiniBlock,
    Receipt,
    block_size,
    encode_logs,
    logs_bloom,
)
from sequencer.types.call import AccountOverride, BlockOverride, CallRequest
from sequencer.types.transactions import Transaction
from statedb.types import Address, StateDiff, StateReader, keccak256
from statedb.views import OverlayView

MAX_SIMULATED_BLOCKS: Final = 256
MAX_CALLS_PER_REQUEST: Final = 1_000
BLOCK_TIME: Final = 12
ETH_TRANSFER_ADDRESS: Final = b"\xee" * 20  # ERC-7528
TRANSFER_TOPIC: Final = keccak256(b"Transfer(address,address,uint256)")

# geth's internal/ethapi error codes.
CODE_REVERTED: Final = 3
CODE_VM_ERROR: Final = -32015
CODE_NONCE_TOO_LOW: Final = -38010
CODE_NONCE_TOO_HIGH: Final = -38011
CODE_FEE_CAP_TOO_LOW: Final = -38012
CODE_INTRINSIC_GAS: Final = -38013
CODE_INSUFFICIENT_FUNDS: Final = -38014
CODE_BLOCK_GAS_LIMIT: Final = -38015
CODE_BLOCK_NUMBER: Final = -38020
CODE_BLOCK_TIMESTAMP: Final = -38021
CODE_SENDER_NOT_EOA: Final = -38024
CODE_INITCODE_TOO_LARGE: Final = -38025
CODE_CLIENT_LIMIT: Final = -38026


@dataclass(frozen=True, slots=True)
class SimulatedBlockSpec:
    """One entry of ``blockStateCalls``."""

    block_override: BlockOverride | None = None
    state_overrides: dict[Address, AccountOverride] | None = None
    calls: tuple[CallRequest, ...] = ()


@dataclass(frozen=True, slots=True)
class CallError:
    code: int
    message: str
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    status: int  # 1 success, 0 failure
    return_data: bytes
    gas_used: int
    logs: tuple[ChainLog, ...]
    error: CallError | None = None


@dataclass(frozen=True, slots=True)
class SimulatedBlock:
    block: MiniBlock  # transactions are the (unsigned) simulated calls
    calls: tuple[SimulatedCall, ...]


def _rejection(error: InvalidTransaction) -> NodeError:
    codes: tuple[tuple[type[InvalidTransaction], int], ...] = (
        (evm_errors.NonceTooLow, CODE_NONCE_TOO_LOW),
        (evm_errors.NonceTooHigh, CODE_NONCE_TOO_HIGH),
        (evm_errors.FeeCapTooLow, CODE_FEE_CAP_TOO_LOW),
        (evm_errors.IntrinsicGasTooLow, CODE_INTRINSIC_GAS),
        (evm_errors.InsufficientFunds, CODE_INSUFFICIENT_FUNDS),
        (evm_errors.GasLimitExceeded, CODE_BLOCK_GAS_LIMIT),
        (evm_errors.SenderNotEOA, CODE_SENDER_NOT_EOA),
        (evm_errors.InitcodeTooLarge, CODE_INITCODE_TOO_LARGE),
    )
    for kind, code in codes:
        if isinstance(error, kind):
            return NodeError(str(error), code=code)
    return NodeError(str(error))


def _transfer_log(sender: Address, to: Address, value: int) -> ChainLog:
    return ChainLog(
        ETH_TRANSFER_ADDRESS,
        (TRANSFER_TOPIC, sender.rjust(32, b"\x00"), to.rjust(32, b"\x00")),
        value.to_bytes(32, "big"),
    )


class SimulateV1:
    """One eth_simulateV1 request on ``chain`` with ``simulator``; holds the request's
    state."""

    def __init__(
        self,
        simulator: Simulator,
        chain: Chain,
        base_number: int,
        specs: Sequence[SimulatedBlockSpec],
        *,
        validation: bool = False,
        trace_transfers: bool = False,
    ) -> None:
        if len(specs) > MAX_SIMULATED_BLOCKS:
            raise NodeError(
                f"too many blocks ({len(specs)}, limit {MAX_SIMULATED_BLOCKS})",
                code=CODE_CLIENT_LIMIT,
            )
        if sum(len(s.calls) for s in specs) > MAX_CALLS_PER_REQUEST:
            raise NodeError(
                f"too many calls (limit {MAX_CALLS_PER_REQUEST})", code=CODE_CLIENT_LIMIT
            )
        self.sim = simulator
        base_number = min(base_number, chain.head_number)  # pending: build on the head
        base = chain.block_by_number(base_number)
        if base is None:
            raise ResourceNotFound("header not found")
        self.base = base
        self.reader: StateReader = simulator.state_at(base_number)
        self.specs = specs
        self.validation = validation
        self.trace_transfers = trace_transfers
        self.diff = StateDiff()
        self.view = OverlayView(self.reader, self.diff)
        # The simulated chain's hashes: the base's (pinned, immutable) below its blocks.
        self.block_hashes = BlockHashLog(
            base.number + 1, chain.block_hashes_at(base.number + 1).get
        )

    # ------------------------------------------------------------ plan

    def _planned(self) -> list[tuple[SimulatedBlockSpec, int, int]]:
        """(spec, number, timestamp) per simulated block, gaps in numbers filled with
        empty blocks as geth does."""
        out: list[tuple[SimulatedBlockSpec, int, int]] = []
        number = self.base.number
        timestamp = self.base.header.timestamp
        for spec in self.specs:
            o = spec.block_override
            wanted = number + 1 if o is None or o.number is None else o.number
            if wanted <= number:
                raise NodeError(
                    f"block numbers must be in order: {wanted} <= {number}",
                    code=CODE_BLOCK_NUMBER,
                )
            if wanted - self.base.number > MAX_SIMULATED_BLOCKS:
                raise NodeError(
                    f"too many blocks (up to {wanted}, limit {MAX_SIMULATED_BLOCKS})",
                    code=CODE_CLIENT_LIMIT,
                )
            while number + 1 < wanted:  # a gap: empty blocks
                number += 1
                timestamp += BLOCK_TIME
                out.append((SimulatedBlockSpec(), number, timestamp))
            number = wanted
            wanted_time = timestamp + BLOCK_TIME if o is None or o.time is None else o.time
            if wanted_time <= timestamp:
                raise NodeError(
                    f"block timestamps must be in order: {wanted_time} <= {timestamp}",
                    code=CODE_BLOCK_TIMESTAMP,
                )
            timestamp = wanted_time
            out.append((spec, number, timestamp))
        return out

    # ------------------------------------------------------------ run

    def run(self) -> list[SimulatedBlock]:
        parent = self.base.header
        parent_hash = self.base.hash
        out: list[SimulatedBlock] = []
        for spec, number, timestamp in self._planned():
            env = self._env(spec.block_override, parent, parent_hash, number, timestamp)
            self._pre_block(env, parent_hash)
            self._apply_overrides(spec.state_overrides)
            simulated = self._block(env, parent_hash, spec.calls)
            out.append(simulated)
            parent = simulated.block.header
            parent_hash = simulated.block.hash
            self.block_hashes.append(number, parent_hash)
        return out

    def _env(
        self,
        o: BlockOverride | None,
        parent: Header,
        parent_hash: bytes,
        number: int,
        timestamp: int,
    ) -> BlockEnv:
        rules = self.sim.rules
        excess = next_excess_blob_gas(parent, rules)
        if o is not None and o.base_fee is not None:
            base_fee = o.base_fee
        else:
            base_fee = next_base_fee(parent) if self.validation else 0
        blob_base_fee = rules.blob_base_fee(excess)
        if o is not None and o.blob_base_fee is not None:
            blob_base_fee = o.blob_base_fee
        return BlockEnv(
            chain_id=self.sim.chain_id(),
            coinbase=parent.coinbase if o is None or o.coinbase is None else o.coinbase,
            number=number,
            timestamp=timestamp,
            gas_limit=parent.gas_limit if o is None or o.gas_limit is None else o.gas_limit,
            base_fee=base_fee,
            prev_randao=ZERO_HASH if o is None or o.prev_randao is None else o.prev_randao,
            excess_blob_gas=excess,
            blob_base_fee=blob_base_fee,
            block_hashes=self.block_hashes.view(number),
            parent_beacon_block_root=ZERO_HASH,
        )

    def _pre_block(self, env: BlockEnv, parent_hash: bytes) -> None:
        calls = [(BEACON_ROOTS_ADDRESS, env.parent_beacon_block_root or ZERO_HASH)]
        if self.sim.rules.eip2935:
            calls.append((HISTORY_STORAGE_ADDRESS, parent_hash))
        for target, data in calls:
            result = execute_system_call(
                target, data, env, self.view, self.sim.rules, engine=self.sim.runner
            )
            if result is not None:
                self.diff.merge(result.diff)

    def _apply_overrides(self, overrides: dict[Address, AccountOverride] | None) -> None:
        if not overrides:
            return
        for address, o in overrides.items():
            if o.move_precompile_to is not None:
                raise Unsupported(
                    f"movePrecompileToAddress (account 0x{address.hex()}) is not supported"
                )
        # ``_reader_with`` builds the override diff on top of the current simulated state.
        overlay = self.sim._reader_with(self.view, overrides)
        assert isinstance(overlay, OverlayView)
        self.diff.merge(overlay.diff)

    def _transaction(self, request: CallRequest, env: BlockEnv, gas_left: int) -> Transaction:
        gas = request.gas
        if gas is None:
            gas = gas_left
            cap = self.sim.rules.max_tx_gas_limit
            if cap is not None:
                gas = min(gas, cap)
        tx = self.sim._call_transaction(request, env, self.view, gas)
        if self.validation and request.nonce is not None:
            tx = replace(tx, nonce=request.nonce)
        return replace(tx, hash=keccak256(tx.encode()))

    def _block(
        self, env: BlockEnv, parent_hash: bytes, requests: tuple[CallRequest, ...]
    ) -> SimulatedBlock:
        gas_used = 0  # the receipts' cumulative gas
        # What the block counts: EIP-7778's gas before refunds, EIP-8037's two dimensions
        # (the header holds the larger); before them the receipts' figure.
        block_gas = block_state_gas = 0
        transactions: list[Transaction] = []
        receipts: list[Receipt] = []
        calls: list[SimulatedCall] = []
        for request in requests:
            room = max(env.gas_limit - max(block_gas, block_state_gas), 0)
            tx = self._transaction(request, env, room)
            if tx.gas_limit > room:
                raise NodeError(
                    f"block gas limit reached: {tx.gas_limit} > {room}",
                    code=CODE_BLOCK_GAS_LIMIT,
                )
            try:
                outcome = execute_transaction(
                    tx,
                    env,
                    self.view,
                    self.sim.rules,
                    block_gas_used=block_gas,
                    block_state_gas_used=block_state_gas,
                    check_sender_code=self.validation,
                    check_base_fee=self.validation,
                    engine=self.sim.runner,
                )
            except InvalidTransaction as error:
                raise _rejection(error) from None
            self.diff.merge(outcome.diff)
            gas_used += outcome.gas_used
            block_gas += outcome.block_gas
            block_state_gas += outcome.block_state_gas
            logs = tuple(ChainLog(log.address, tuple(log.topics), log.data) for log in outcome.logs)
            if self.trace_transfers and outcome.success and tx.value > 0:
                to = tx.to if tx.to is not None else outcome.contract_address
                if to is not None:
                    logs = (_transfer_log(tx.sender, to, tx.value), *logs)
            transactions.append(tx)
            receipts.append(
                Receipt(
                    tx_type=tx.tx_type,
                    status=1 if outcome.success else 0,
                    cumulative_gas_used=gas_used,
                    gas_used=outcome.gas_used,
                    effective_gas_price=outcome.effective_gas_price,
                    contract_address=outcome.contract_address,
                    blob_gas_used=outcome.blob_gas_used,
                    logs=logs,
                    logs_bloom=logs_bloom(logs) if logs else EMPTY_BLOOM,
                    logs_rlp=encode_logs(logs),
                )
            )
            calls.append(self._call_result(outcome, logs))
        encoded = tuple(tx.encode() for tx in transactions)
        bloom = 0
        for receipt in receipts:
            if receipt.logs:
                bloom |= int.from_bytes(receipt.logs_bloom, "big")
        header = Header(
            parent_hash=parent_hash,
            coinbase=env.coinbase,
            state_root=ZERO_HASH,  # not computed for simulated blocks
            transactions_root=ordered_trie_root(encoded),
            receipts_root=ordered_trie_root([r.consensus_encoding() for r in receipts]),
            logs_bloom=bloom.to_bytes(256, "big"),
            number=env.number,
            gas_limit=env.gas_limit,
            gas_used=max(block_gas, block_state_gas),
            timestamp=env.timestamp,
            base_fee_per_gas=env.base_fee,
            withdrawals_root=EMPTY_TRIE_ROOT,
            blob_gas_used=sum(r.blob_gas_used for r in receipts),
            excess_blob_gas=env.excess_blob_gas,
            parent_beacon_block_root=env.parent_beacon_block_root or ZERO_HASH,
            requests_hash=EMPTY_REQUESTS_HASH,
            prev_randao=env.prev_randao,
        )
        block = MiniBlock(
            header,
            header.hash(),
            tuple(transactions),
            tuple(receipts),
            block_size(header, encoded),
            encoded,
        )
        return SimulatedBlock(block, tuple(calls))

    @staticmethod
    def _call_result(outcome: TxOutcome, logs: tuple[ChainLog, ...]) -> SimulatedCall:
        if outcome.success:
            return SimulatedCall(1, outcome.output, outcome.gas_used, logs)
        if outcome.result.name == "REVERT":
            reason = decode_revert_reason(outcome.output)
            message = "execution reverted" if reason is None else f"execution reverted: {reason}"
            error = CallError(CODE_REVERTED, message, outcome.output)
        else:
            error = CallError(CODE_VM_ERROR, failure_message(outcome))
        return SimulatedCall(0, outcome.output, outcome.gas_used, (), error)


def simulate_v1(
    simulator: Simulator,
    chain: Chain,
    base_number: int,
    specs: Sequence[SimulatedBlockSpec],
    *,
    validation: bool = False,
    trace_transfers: bool = False,
) -> list[SimulatedBlock]:
    """Run ``specs`` as simulated blocks on top of block ``base_number``; commit nothing."""
    return SimulateV1(
        simulator, chain, base_number, specs, validation=validation, trace_transfers=trace_transfers
    ).run()
