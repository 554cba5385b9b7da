"""``Simulator``: running a request against a chosen state without committing it.

Owns eth_call, eth_estimateGas (exact binary search; the success test also requires
that no frame ran out of gas, so a wallet that adds no buffer never under-estimates),
eth_createAccessList (from the execution's read set, iterated until stable as geth
does), state overrides (``balance``, ``nonce``, ``code``, ``state``, ``stateDiff``) and
block overrides (number, time, gas limit, coinbase, prevRandao, base fee, blob base
fee), against the state after any block in the history window or the pending block.
No execution gets more gas than ``gas_cap`` (``--rpc-gas-cap``), whatever the request
or the overrides ask for.

A call without fee fields pays no fee and skips the EIP-3607 sender check, as geth's
does, but BASEFEE reads the block's base fee, as anvil's does. Failures map to ``ExecutionReverted`` (code 3 with the revert data) and
``ExecutionHalted`` with geth's wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.state import CodeRunner
from jit.evm.tracing import Tracer
from jit.evm.transaction import TxOutcome, execute_transaction
from jit.forks import ForkRules
from sequencer.accounts import build_transaction, infer_tx_type
from sequencer.builder import sealed_env
from sequencer.chain import Chain
from sequencer.config import DEFAULT_RPC_GAS_CAP
from sequencer.errors import (
    ExecutionHalted,
    ExecutionReverted,
    NodeError,
    ResourceNotFound,
    TransactionRejected,
)
from sequencer.revert import decode_revert_reason
from sequencer.tracing.errors import halt_message
from sequencer.types.call import (
    AccountOverride,
    BlockOverride,
    CallRequest,
    SimulationCall,
    SimulationVerb,
)
from sequencer.types.transactions import Transaction
from statedb.types import EMPTY_CODE_HASH, Account, Address, StateDiff, StateReader, keccak256
from statedb.views import OverlayView


def chain_env(chain: Chain, number: int, chain_id: int, rules: ForkRules) -> BlockEnv:
    """The environment sealed block ``number`` of ``chain`` ran in."""
    block = chain.block_by_number(number)
    if block is None:
        raise ResourceNotFound("header not found")
    return sealed_env(block.header, chain_id, rules, chain.block_hashes_at(block.header.number))


def pinned_simulator(
    number: int,
    reader: StateReader,
    env: BlockEnv,
    rules: ForkRules,
    runner: CodeRunner | None,
    chain_id: int,
    gas_cap: int,
) -> Simulator:
    """A ``Simulator`` that knows only block ``number``: the state ``reader`` and the
    environment ``env``, fixed by the caller (for a job on a worker thread or process,
    which must read nothing the loop mutates in place)."""

    def state_at(wanted: int) -> StateReader:
        if wanted != number:
            raise NodeError(f"state of block {wanted} was not pinned for this request")
        return reader

    def env_at(wanted: int) -> BlockEnv:
        if wanted != number:
            raise NodeError(f"block {wanted} was not pinned for this request")
        return env

    return Simulator(rules, runner, lambda: chain_id, state_at, env_at, gas_cap)


@dataclass(frozen=True, slots=True)
class SimulationResult:
    outcome: TxOutcome
    tx: Transaction


class Simulator:
    """Simulation verbs over the node's chain; holds no state of its own."""

    def __init__(
        self,
        rules: ForkRules,
        runner: CodeRunner | None,
        chain_id: Callable[[], int],
        state_at: Callable[[int], StateReader],
        env_at: Callable[[int], BlockEnv],
        gas_cap: int = DEFAULT_RPC_GAS_CAP,
    ) -> None:
        """``state_at(n)`` / ``env_at(n)``: the state after block ``n`` and the
        environment of block ``n`` (for ``n`` above the head, the pending block's);
        both raise ``NodeError`` for a block they cannot give."""
        self.rules = rules
        self.runner = runner
        self.chain_id = chain_id
        self.state_at = state_at
        self.env_at = env_at
        self.gas_cap = gas_cap
        # The console.log calls of the last eth_call, or of an eth_estimateGas's first
        # run (for the node log).
        self.console: tuple[bytes, ...] = ()

    def env_for(self, number: int, block_override: BlockOverride | None) -> BlockEnv:
        env = self.env_at(number)
        if block_override is not None:
            o = block_override
            env = replace(
                env,
                number=env.number if o.number is None else o.number,
                timestamp=env.timestamp if o.time is None else o.time,
                gas_limit=env.gas_limit if o.gas_limit is None else o.gas_limit,
                coinbase=env.coinbase if o.coinbase is None else o.coinbase,
                prev_randao=env.prev_randao if o.prev_randao is None else o.prev_randao,
                base_fee=env.base_fee if o.base_fee is None else o.base_fee,
                blob_base_fee=env.blob_base_fee if o.blob_base_fee is None else o.blob_base_fee,
            )
        return env

    def run(self, call: SimulationCall) -> object:
        """One verb (what a worker thread or process runs for the node)."""
        if call.verb is SimulationVerb.CALL:
            outcome = self.simulate(
                call.request, call.number, call.overrides, call.block_override
            ).outcome
            self.console = outcome.console  # printed even when the call reverts
            raise_for_failure(outcome)
            return outcome.output
        if call.verb is SimulationVerb.ESTIMATE_GAS:
            return self.estimate_gas(call.request, call.number, call.overrides, call.block_override)
        return self.create_access_list(
            call.request, call.number, call.overrides, call.block_override
        )

    def _reader_with(
        self, reader: StateReader, overrides: dict[Address, AccountOverride] | None
    ) -> StateReader:
        if not overrides:
            return reader
        diff = StateDiff()
        for address, o in overrides.items():
            if o.state is not None and o.state_diff is not None:
                raise NodeError(f"account 0x{address.hex()} has both 'state' and 'stateDiff'")
            current = reader.get_account(address) or Account()
            code_hash = current.code_hash
            if o.code is not None:
                code_hash = keccak256(o.code) if o.code else EMPTY_CODE_HASH
                diff.codes[code_hash] = o.code
            diff.accounts[address] = Account(
                current.nonce if o.nonce is None else o.nonce,
                current.balance if o.balance is None else o.balance,
                code_hash,
            )
            if o.state is not None:
                diff.storage_cleared.add(address)
                diff.storage[address] = dict(o.state)
            elif o.state_diff is not None:
                diff.storage[address] = dict(o.state_diff)
        return OverlayView(reader, diff)

    def simulate(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None = None,
        block_override: BlockOverride | None = None,
        gas: int | None = None,
        tracer: Tracer | None = None,
    ) -> SimulationResult:
        """Run ``request`` on the state after block ``number``; raise on invalid.
        ``tracer`` observes the execution (debug_traceCall)."""
        env = self.env_for(number, block_override)
        reader = self._reader_with(self.state_at(number), overrides)
        tx = self._call_transaction(request, env, reader, gas)
        if tx.gas_limit > env.gas_limit:
            env = replace(env, gas_limit=tx.gas_limit)
        try:
            outcome = execute_transaction(
                tx,
                env,
                reader,
                self.rules,
                check_sender_code=False,
                # A call without fees pays none, but BASEFEE reads the block's base fee
                # (anvil; geth zeroes it, which makes a contract that stores BASEFEE
                # estimate 19,900 gas short of what its mined transaction needs).
                check_base_fee=request.has_fees,
                engine=self.runner,
                tracer=tracer,
            )
        except InvalidTransaction as error:
            raise TransactionRejected(str(error)) from None
        return SimulationResult(outcome, tx)

    def _call_gas_cap(self, env: BlockEnv) -> int:
        """The gas of a call that names none: the block's gas limit, within the fork's
        per-transaction cap (EIP-7825; from EIP-8037 on it bounds regular gas only, so a
        call may carry more, for state gas) and the node's RPC gas cap."""
        cap = min(env.gas_limit, self.gas_cap)
        if self.rules.max_tx_gas_limit is not None:
            cap = min(cap, self.rules.max_tx_gas_limit)
        return cap

    def _capped(self, gas: int) -> int:
        # geth's --rpc.gascap: a request (or a block override's gas limit) asking for
        # more is lowered to the cap, so no simulated execution runs longer than it.
        return min(gas, self.gas_cap)

    def _call_transaction(
        self, request: CallRequest, env: BlockEnv, reader: StateReader, gas: int | None
    ) -> Transaction:
        sender = request.sender or b"\x00" * 20
        account = reader.get_account(sender)
        nonce = account.nonce if account else 0
        if gas is None:
            gas = request.gas if request.gas is not None else self._call_gas_cap(env)
        gas = self._capped(gas)
        tx_type = infer_tx_type(request)
        chain_id = self.chain_id()
        if tx_type in (0, 1):
            return build_transaction(
                request,
                tx_type,
                chain_id,
                nonce,
                gas,
                gas_price=request.gas_price or 0,
                sender=sender,
            )
        max_fee = request.max_fee_per_gas
        tip = request.max_priority_fee_per_gas
        if max_fee is None:
            max_fee = 0 if tip is None else tip + env.base_fee
        return build_transaction(
            request, tx_type, chain_id, nonce, gas, max_fee=max_fee, tip=tip or 0, sender=sender
        )

    def call(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None = None,
        block_override: BlockOverride | None = None,
    ) -> bytes:
        outcome = self.simulate(request, number, overrides, block_override).outcome
        raise_for_failure(outcome)
        return outcome.output

    def estimate_gas(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None,
        block_override: BlockOverride | None,
    ) -> int:
        """The smallest gas limit with which ``request`` succeeds and no frame runs out
        of gas (so a wallet that adds no buffer never under-estimates)."""
        env = self.env_for(number, block_override)
        cap = self._capped(request.gas) if request.gas is not None else self._call_gas_cap(env)
        first = self.simulate(request, number, overrides, block_override, gas=cap).outcome
        # console.log lines are printed once, from this first run at the cap (anvil
        # prints them for every run of its search).
        self.console = first.console
        if not first.success:
            if first.result.name == "HALT" and first.error == "OutOfGasError":
                raise ExecutionHalted(f"gas required exceeds allowance ({cap})")
            raise_for_failure(first)
        strict = first.out_of_gas_halts == 0

        def succeeds(gas: int) -> bool:
            try:
                outcome = self.simulate(request, number, overrides, block_override, gas=gas).outcome
            except TransactionRejected:
                return False  # e.g. below intrinsic gas
            return outcome.success and (not strict or outcome.out_of_gas_halts == 0)

        if succeeds(first.gas_used):
            return first.gas_used
        lo, hi = first.gas_used, cap  # lo fails, hi succeeds
        guess = min(cap, first.gas_used * 2)
        if guess < hi:
            if succeeds(guess):
                hi = guess
            else:
                lo = guess
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if succeeds(mid):
                hi = mid
            else:
                lo = mid
        return hi

    def create_access_list(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None,
        block_override: BlockOverride | None,
    ) -> tuple[tuple[tuple[Address, tuple[int, ...]], ...], int, str | None]:
        """(access list, gas used with it, error) like geth's eth_createAccessList."""
        access_list: tuple[tuple[Address, tuple[int, ...]], ...] = request.access_list or ()
        result = None
        for _ in range(8):  # geth iterates until the list is stable
            result = self.simulate(
                replace(request, access_list=access_list), number, overrides, block_override
            )
            found = self._access_list_of(result, request)
            if found == access_list:
                break
            access_list = found
        assert result is not None
        outcome = result.outcome
        error = None
        if not outcome.success:
            error = failure_message(outcome)
        return access_list, outcome.gas_used, error

    def _access_list_of(
        self, result: SimulationResult, request: CallRequest
    ) -> tuple[tuple[Address, tuple[int, ...]], ...]:
        outcome = result.outcome
        excluded = {result.tx.sender, *self.rules.precompiles}
        if request.to is not None:
            excluded.add(request.to)
        if outcome.contract_address is not None:
            excluded.add(outcome.contract_address)
        slots: dict[Address, set[int]] = {}
        for address, slot in outcome.storage_reads:
            slots.setdefault(address, set()).add(slot)
        for address in outcome.account_reads:
            if address not in excluded:
                slots.setdefault(address, set())
        return tuple(
            (address, tuple(sorted(slots[address])))
            for address in sorted(slots)
            if address not in excluded or slots[address]
        )


def failure_message(outcome: TxOutcome) -> str:
    if outcome.result.name == "REVERT":
        reason = decode_revert_reason(outcome.output)
        return "execution reverted" if reason is None else f"execution reverted: {reason}"
    return halt_message(outcome.error)


def raise_for_failure(outcome: TxOutcome) -> None:
    if outcome.success:
        return
    if outcome.result.name == "REVERT":
        raise ExecutionReverted(outcome.output, decode_revert_reason(outcome.output))
    raise ExecutionHalted(failure_message(outcome))
