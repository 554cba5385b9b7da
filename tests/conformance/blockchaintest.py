"""Running one blockchain test: genesis pre state -> each block in turn -> compare
with the expected post state.

A block is applied as the execution specs do for Cancun, Prague and Osaka:
header checks against the parent (number, timestamp, gas limit bounds, EIP-1559
base fee, EIP-4844/7918 excess blob gas), the EIP-4788 and EIP-2935 system calls,
the transactions (decoded from the block's RLP, so the decoder and sender
recovery are exercised), the EIP-4895 withdrawals, the EIP-6110 deposit
requests and the EIP-7002 / EIP-7251 system calls (EIP-7685 requests hash), and
then the header's gas used, blob gas used, transactions / receipts /
withdrawals roots, logs bloom, requests hash and MPT state root are checked. From
Amsterdam (EIP-7928) the block's access list is built from what each block access
index did (``sequencer.builder.access_list_of``) and checked against the header's
``blockAccessListHash``, and the list the fixture gives with the block (its body's,
which the engine API would carry) must decode canonically and hash to the header's
field. A block the fixture marks ``expectException`` must be rejected by one of those
checks and leaves the state as it was; a block expected to fail on its access list
must fail on it, with the exception kind the fixture names. ``engine`` runs the contract code of the
transactions and the system calls (None interprets). The transactions run on the
node's executor interface (``sequencer.executor``) over the builder's ``OpenBlock``:
the serial executor by default, or the optimistic parallel one on trial
(``tests.conformance.parallel``), which must give every fixture's exact result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jit import rlp
from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, execute_system_call
from jit.forks import ForkRules
from rpc.namespaces.access_list import accounts_from_json, to_fixture_json
from sequencer.access_list import (
    AccountChanges,
    BlockAccessList,
    InvalidBlockAccessList,
    bal_hash,
    encode_accounts,
)
from sequencer.builder import OpenBlock, SystemAccess, access_list_of
from sequencer.executor.serial import Executor, SerialExecutor
from sequencer.genesis import (
    BEACON_ROOTS_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
)
from sequencer.producer import next_base_fee, next_excess_blob_gas, requests_hash
from sequencer.trie import ordered_trie_root
from sequencer.types.blocks import ChainLog, Header, MiniBlock, Receipt, logs_bloom
from sequencer.types.transactions import (
    InvalidTransactionEncoding,
    Transaction,
    decode_transaction,
)
from statedb.conflicts import ReadSet
from statedb.types import Account, DictState, StateDiff, keccak256
from statedb.views import OverlayView
from tests.conformance.engines import Observation, observe_system_call, observe_tx
from tests.conformance.statetest import (
    CaseResult,
    build_pre_state,
    compare_post_state,
    hex_bytes,
    hex_int,
    mpt_state_root,
)

GWEI = 10**9
GAS_LIMIT_BOUND_DIVISOR = 1024
MIN_GAS_LIMIT = 5000
# EIP-6110 (mainnet deposit contract and its DepositEvent)
DEPOSIT_CONTRACT_ADDRESS = bytes.fromhex("00000000219ab540356cbb839cbe05303d7705fa")
DEPOSIT_EVENT_TOPIC = bytes.fromhex(
    "649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5"
)
# (offset word position, expected offset, size) of each DepositEvent field
_DEPOSIT_FIELDS = ((0, 160, 48), (32, 256, 32), (64, 320, 8), (96, 384, 96), (128, 512, 8))
DEPOSIT_EVENT_LENGTH = 576


class BlockInvalid(Exception):
    """The block breaks a rule; the message says which. ``kind``, where the fixtures'
    ``BlockException`` names are checked (EIP-7928's), is the name it maps to."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


# The fixtures' exception names of a block whose access list is wrong (EIP-7928): a body
# list that does not decode to a canonical list, a header hash that is not the body's, a
# list that is not what the block did.
BAL_FORMAT = "INCORRECT_BLOCK_FORMAT"
BAL_HASH = "INVALID_BAL_HASH"
BAL_CONTENT = "INVALID_BLOCK_ACCESS_LIST"
_BAL_KINDS = frozenset({BAL_HASH, BAL_CONTENT})


def _expected_kinds(expected: str) -> frozenset[str]:
    """``BlockException.A|BlockException.B`` -> {A, B}."""
    return frozenset(name.strip().rpartition(".")[2] for name in expected.split("|"))


class HeaderView:
    """The header fields ``sequencer.producer``'s EIP-1559 / EIP-4844 formulas read."""

    __slots__ = ("base_fee_per_gas", "blob_gas_used", "excess_blob_gas", "gas_limit", "gas_used")

    def __init__(self, header: Mapping[str, Any]) -> None:
        self.gas_limit = hex_int(header["gasLimit"])
        self.gas_used = hex_int(header["gasUsed"])
        self.base_fee_per_gas = hex_int(header.get("baseFeePerGas"))
        self.blob_gas_used = hex_int(header.get("blobGasUsed"))
        self.excess_blob_gas = hex_int(header.get("excessBlobGas"))


def parent_block(header: Mapping[str, Any]) -> MiniBlock:
    """The fixture's header as the sealed parent a block is opened on (no body)."""
    sealed = Header(
        parent_hash=hex_bytes(header["parentHash"]),
        ommers_hash=hex_bytes(header.get("uncleHash")),
        coinbase=hex_bytes(header["coinbase"]),
        state_root=hex_bytes(header["stateRoot"]),
        transactions_root=hex_bytes(header.get("transactionsTrie")),
        receipts_root=hex_bytes(header.get("receiptTrie")),
        logs_bloom=hex_bytes(header.get("bloom")),
        difficulty=hex_int(header.get("difficulty")),
        number=hex_int(header["number"]),
        gas_limit=hex_int(header["gasLimit"]),
        gas_used=hex_int(header["gasUsed"]),
        timestamp=hex_int(header["timestamp"]),
        extra_data=hex_bytes(header.get("extraData")),
        prev_randao=hex_bytes(header.get("mixHash")),
        nonce=hex_bytes(header.get("nonce")),
        base_fee_per_gas=hex_int(header.get("baseFeePerGas")),
        withdrawals_root=hex_bytes(header.get("withdrawalsRoot")),
        blob_gas_used=hex_int(header.get("blobGasUsed")),
        excess_blob_gas=hex_int(header.get("excessBlobGas")),
        parent_beacon_block_root=hex_bytes(header.get("parentBeaconBlockRoot")),
        requests_hash=hex_bytes(header.get("requestsHash")),
    )
    return MiniBlock(sealed, hex_bytes(header["hash"]), (), (), 0, ())


def deposit_requests(receipts: list[Receipt]) -> bytes:
    """EIP-6110: the deposit requests in the block's logs; BlockInvalid on a bad layout."""
    out = b""
    for receipt in receipts:
        for log in receipt.logs:
            if log.address != DEPOSIT_CONTRACT_ADDRESS or not log.topics:
                continue
            if log.topics[0] != DEPOSIT_EVENT_TOPIC:
                continue
            data = log.data
            if len(data) != DEPOSIT_EVENT_LENGTH:
                raise BlockInvalid(f"deposit event of {len(data)} bytes")
            for word, offset, size in _DEPOSIT_FIELDS:
                if int.from_bytes(data[word : word + 32], "big") != offset:
                    raise BlockInvalid("deposit event field offset")
                if int.from_bytes(data[offset : offset + 32], "big") != size:
                    raise BlockInvalid("deposit event field size")
                out += data[offset + 32 : offset + 32 + size]
    return out


def _check_header(header: Mapping[str, Any], parent: Mapping[str, Any], rules: ForkRules) -> None:
    number = hex_int(header["number"])
    if number != hex_int(parent["number"]) + 1:
        raise BlockInvalid(f"number {number} does not follow {hex_int(parent['number'])}")
    if hex_bytes(header["parentHash"]) != hex_bytes(parent["hash"]):
        raise BlockInvalid("parent hash")
    if hex_int(header["timestamp"]) <= hex_int(parent["timestamp"]):
        raise BlockInvalid("timestamp not after the parent's")
    gas_limit, parent_limit = hex_int(header["gasLimit"]), hex_int(parent["gasLimit"])
    if (
        abs(gas_limit - parent_limit) >= parent_limit // GAS_LIMIT_BOUND_DIVISOR
        or gas_limit < MIN_GAS_LIMIT
    ):
        raise BlockInvalid(f"gas limit {gas_limit} out of bounds of the parent's {parent_limit}")
    if hex_int(header["gasUsed"]) > gas_limit:
        raise BlockInvalid("gas used above the gas limit")
    parent_view = HeaderView(parent)
    base_fee = next_base_fee(parent_view)  # type: ignore[arg-type]
    if hex_int(header.get("baseFeePerGas")) != base_fee:
        raise BlockInvalid(f"base fee {hex_int(header.get('baseFeePerGas'))} != {base_fee}")
    excess = next_excess_blob_gas(parent_view, rules)  # type: ignore[arg-type]
    if hex_int(header.get("excessBlobGas")) != excess:
        raise BlockInvalid(f"excess blob gas {hex_int(header.get('excessBlobGas'))} != {excess}")
    if hex_int(header.get("blobGasUsed")) > rules.max_blob_gas_per_block:
        raise BlockInvalid("blob gas used above the maximum")


def _decode_body(
    raw: bytes, header: Mapping[str, Any], rules: ForkRules
) -> tuple[list[bytes], list[Any]]:
    """(encoded transactions, withdrawals) from a block's RLP. From Amsterdam the
    header is decoded too (``sequencer.types.blocks.Header``, 23 fields) and must hash to
    the fixture's block hash."""
    try:
        block = rlp.decode(raw)
    except rlp.RLPDecodingError as error:
        raise BlockInvalid(f"block RLP: {error}") from None
    if not isinstance(block, list) or len(block) < 4:
        raise BlockInvalid("block RLP is not [header, transactions, uncles, withdrawals]")
    txs, uncles, withdrawals = block[1], block[2], block[3]
    if not isinstance(txs, list) or not isinstance(withdrawals, list):
        raise BlockInvalid("block body shape")
    if uncles:
        raise BlockInvalid("uncles after the merge")
    if rules.eip7928:
        fields = block[0]
        if not isinstance(fields, list):
            raise BlockInvalid("block header is not a list", BAL_FORMAT)
        try:
            decoded = Header.from_fields(fields)
        except (ValueError, rlp.RLPDecodingError) as error:
            raise BlockInvalid(f"block header: {error}", BAL_FORMAT) from None
        if decoded.hash() != hex_bytes(header["hash"]):
            raise BlockInvalid(
                f"block hash 0x{decoded.hash().hex()} != {header['hash']}", "INVALID_BLOCK_HASH"
            )
    encoded = [item if isinstance(item, bytes) else rlp.encode(item) for item in txs]
    return encoded, withdrawals


def _credit(view: OverlayView, address: bytes, amount: int) -> StateDiff:
    """The diff of an EIP-4895 withdrawal of ``amount`` wei to ``address``."""
    diff = StateDiff()
    account = view.get_account(address) or Account()
    credited = Account(account.nonce, account.balance + amount, account.code_hash)
    if credited.is_empty():
        if view.get_account(address) is not None:
            diff.accounts[address] = None
        return diff
    diff.accounts[address] = credited
    return diff


def _body_access_list(
    header: Mapping[str, Any], body: object, rules: ForkRules
) -> tuple[AccountChanges, ...] | None:
    """The accounts of the access list the block came with, in its order (None when the
    fixture gives none): each a canonical entry, all of them hashing to the header's
    field (their order and uniqueness are judged against what the block did)."""
    if not rules.eip7928:
        return None
    if "blockAccessListHash" not in header or "slotNumber" not in header:
        raise BlockInvalid("header without blockAccessListHash or slotNumber", BAL_FORMAT)
    if body is None:
        return None
    try:
        accounts = accounts_from_json(body)
    except InvalidBlockAccessList as error:
        raise BlockInvalid(f"block access list: {error}", BAL_CONTENT) from None
    if keccak256(encode_accounts(accounts)) != hex_bytes(header["blockAccessListHash"]):
        raise BlockInvalid("block access list does not hash to the header's field", BAL_HASH)
    return accounts


def _check_access_list(
    built: BlockAccessList, header: Mapping[str, Any], body: tuple[AccountChanges, ...] | None
) -> None:
    """The list the block's execution gives against the header's hash. When they differ
    and the block came with its list: the same account entries in another order or
    repeated is the block's format (INCORRECT_BLOCK_FORMAT), other entries its content
    (INVALID_BLOCK_ACCESS_LIST, the message naming the first account that differs)."""
    want = hex_bytes(header["blockAccessListHash"])
    have = bal_hash(built)
    if have == want:
        return
    message = f"block access list hash 0x{have.hex()} != header's 0x{want.hex()}"
    if body is None:
        raise BlockInvalid(message, BAL_CONTENT)
    if set(body) == set(built.accounts):
        raise BlockInvalid(f"{message}: the block's list is not in canonical order", BAL_FORMAT)
    theirs = {a.address: a for a in body}
    ours = {a.address: a for a in built.accounts}

    def shown(account: AccountChanges | None) -> object:
        return None if account is None else to_fixture_json(BlockAccessList((account,)))[0]

    for address in sorted(theirs.keys() | ours.keys()):
        if theirs.get(address) != ours.get(address):
            message += (
                f"; first difference at 0x{address.hex()}: built {shown(ours.get(address))}, "
                f"block's {shown(theirs.get(address))}"
            )
            break
    raise BlockInvalid(message, BAL_CONTENT)


def apply_block(
    state: DictState,
    header: Mapping[str, Any],
    parent: Mapping[str, Any],
    raw: bytes,
    rules: ForkRules,
    chain_id: int,
    block_hashes: dict[int, bytes],
    engine: CodeRunner | None,
    observations: list[Observation],
    executor: Executor | None = None,
    body_bal: object = None,
) -> StateDiff:
    """The block's state diff over ``state``; BlockInvalid if any rule is broken.
    ``executor`` runs the transactions (default: the serial one on ``engine``);
    ``body_bal``: the access list the fixture gives with the block (JSON), if any."""
    if executor is None:
        executor = SerialExecutor(engine)
    _check_header(header, parent, rules)
    encoded, withdrawals = _decode_body(raw, header, rules)
    excess = hex_int(header.get("excessBlobGas"))
    beacon_root = hex_bytes(header.get("parentBeaconBlockRoot"))
    env = BlockEnv(
        chain_id=chain_id,
        coinbase=hex_bytes(header["coinbase"]),
        number=hex_int(header["number"]),
        timestamp=hex_int(header["timestamp"]),
        gas_limit=hex_int(header["gasLimit"]),
        base_fee=hex_int(header.get("baseFeePerGas")),
        prev_randao=hex_bytes(header["mixHash"]),
        excess_blob_gas=excess,
        blob_base_fee=rules.blob_base_fee(excess),
        block_hashes=dict(block_hashes),
        parent_beacon_block_root=beacon_root,
        slot_number=hex_int(header.get("slotNumber")),
    )
    body_list = _body_access_list(header, body_bal, rules)
    diff = StateDiff()
    view = OverlayView(state, diff)
    pre_block = SystemAccess()  # EIP-7928 block access index 0
    pre_calls = [("EIP-4788", BEACON_ROOTS_ADDRESS, beacon_root)]
    if rules.eip2935:
        pre_calls.append(("EIP-2935", HISTORY_STORAGE_ADDRESS, hex_bytes(parent["hash"])))
    for name, target, data in pre_calls:
        call = execute_system_call(target, data, env, view, rules, engine=engine)
        observations.append(observe_system_call(name, call))
        if call is not None:
            diff.merge(call.diff)
            pre_block.add(call.diff, call.reads)

    txs: list[Transaction] = []
    for index, raw_tx in enumerate(encoded):
        try:
            txs.append(decode_transaction(raw_tx))
        except InvalidTransactionEncoding as error:
            raise BlockInvalid(f"transaction {index} does not decode: {error}") from None
    # The node's own executors fold the transactions (so the fixtures judge the
    # production path, and ``executor`` can put the parallel one on trial).
    block = OpenBlock(env, parent_block(parent), state, diff)
    results = executor.execute(block, rules, txs, float("inf")) if txs else []
    receipts: list[Receipt] = []
    outcomes: list[TxOutcome] = []
    gas_used = 0
    for index, (tx, outcome) in enumerate(zip(txs, results, strict=True)):
        observations.append(observe_tx(outcome))
        if isinstance(outcome, InvalidTransaction):
            raise BlockInvalid(
                f"transaction {index} invalid: {type(outcome).__name__}: {outcome}"
            ) from None
        gas_used += outcome.gas_used
        outcomes.append(outcome)
        logs = tuple(ChainLog(log.address, tuple(log.topics), log.data) for log in outcome.logs)
        receipts.append(
            Receipt(
                tx.tx_type,
                1 if outcome.success else 0,
                gas_used,
                outcome.gas_used,
                outcome.effective_gas_price,
                outcome.contract_address,
                outcome.blob_gas_used,
                logs,
                logs_bloom(logs),
            )
        )
    blob_gas_used = block.blob_gas_used

    post_block = SystemAccess()  # EIP-7928 block access index n + 1
    for withdrawal in withdrawals:
        if not isinstance(withdrawal, list) or len(withdrawal) != 4:
            raise BlockInvalid("withdrawal shape")
        address, amount = withdrawal[2], withdrawal[3]
        if not isinstance(address, bytes) or not isinstance(amount, bytes):
            raise BlockInvalid("withdrawal fields")
        credit = _credit(view, address, int.from_bytes(amount, "big") * GWEI)
        diff.merge(credit)
        post_block.add(credit, ReadSet(accounts=frozenset((address,))))

    requests = None
    if rules.system_requests:
        request_lists = [b"\x00" + deposit_requests(receipts)]
        for kind, name, target in (
            (1, "EIP-7002", WITHDRAWAL_REQUEST_ADDRESS),
            (2, "EIP-7251", CONSOLIDATION_REQUEST_ADDRESS),
        ):
            call = execute_system_call(target, b"", env, view, rules, engine=engine)
            observations.append(observe_system_call(name, call))
            if call is None:
                raise BlockInvalid(f"{name} system contract has no code")
            if not call.success:
                raise BlockInvalid(f"{name} system call failed")
            diff.merge(call.diff)
            post_block.add(call.diff, call.reads)
            request_lists.append(bytes((kind,)) + call.output)
        requests = requests_hash(request_lists)

    # The header holds the block's gas (EIP-8037: the larger of its two dimensions, EIP-7778:
    # before refunds), which the receipts' cumulative gas no longer has to equal.
    _check_results(
        header, encoded, withdrawals, receipts, block.header_gas_used, blob_gas_used, requests
    )
    if rules.eip7928:
        built = access_list_of(state, env.coinbase, pre_block, outcomes, post_block)
        _check_access_list(built, header, body_list)
    after = _copy(state)
    after.apply(diff)
    root = mpt_state_root(after)
    if root != hex_bytes(header["stateRoot"]):
        raise BlockInvalid(f"state root {root.hex()} != {header['stateRoot']}")
    return diff


def _check_results(
    header: Mapping[str, Any],
    encoded: list[bytes],
    withdrawals: list[Any],
    receipts: list[Receipt],
    gas_used: int,
    blob_gas_used: int,
    requests: bytes | None,
) -> None:
    def check(name: str, have: object, want: object) -> None:
        if have != want:
            shown = [v.hex() if isinstance(v, bytes) else v for v in (have, want)]
            raise BlockInvalid(f"{name} {shown[0]} != header's {shown[1]}")

    check("gas used", gas_used, hex_int(header["gasUsed"]))
    check("blob gas used", blob_gas_used, hex_int(header.get("blobGasUsed")))
    check("transactions root", ordered_trie_root(encoded), hex_bytes(header["transactionsTrie"]))
    check(
        "receipts root",
        ordered_trie_root([r.consensus_encoding() for r in receipts]),
        hex_bytes(header["receiptTrie"]),
    )
    bloom = 0
    for receipt in receipts:
        bloom |= int.from_bytes(receipt.logs_bloom, "big")
    check("logs bloom", bloom.to_bytes(256, "big"), hex_bytes(header["bloom"]))
    check(
        "withdrawals root",
        ordered_trie_root([rlp.encode(w) for w in withdrawals]),
        hex_bytes(header.get("withdrawalsRoot")),
    )
    if requests is not None:
        check("requests hash", requests, hex_bytes(header.get("requestsHash")))


def _copy(state: DictState) -> DictState:
    copy = DictState()
    copy.accounts = dict(state.accounts)
    copy.storage = {address: dict(slots) for address, slots in state.storage.items()}
    copy.codes = dict(state.codes)
    return copy


def run_blockchain_test(
    test: Mapping[str, Any],
    rules: ForkRules,
    engine: CodeRunner | None = None,
    executor: Executor | None = None,
) -> CaseResult:
    """Run every block of one blockchain test on ``engine`` (the transactions on
    ``executor``, default the serial one) and judge the result."""
    chain_id = hex_int((test.get("config") or {}).get("chainid"), 1)
    state = build_pre_state(test["pre"])
    parent = test["genesisBlockHeader"]
    block_hashes = {hex_int(parent["number"]): hex_bytes(parent["hash"])}
    observations: list[Observation] = []
    for position, block in enumerate(test["blocks"]):
        expected_error = block.get("expectException")
        decoded = block.get("rlp_decoded") or {}
        header = block.get("blockHeader") or decoded.get("blockHeader")
        body_bal = block.get("blockAccessList", decoded.get("blockAccessList"))
        raw = hex_bytes(block.get("rlp"))
        try:
            if header is None:
                raise BlockInvalid("no header")
            diff = apply_block(
                state,
                header,
                parent,
                raw,
                rules,
                chain_id,
                block_hashes,
                engine,
                observations,
                executor,
                body_bal,
            )
        except BlockInvalid as error:
            observations.append((("block", position), ("rejected", str(error))))
            if expected_error:
                kinds = _expected_kinds(expected_error)
                if (kinds & _BAL_KINDS or error.kind is not None) and error.kind not in kinds:
                    return CaseResult(
                        False,
                        f"block {position} rejected as {error.kind or 'not an access list'}"
                        f" ({error}), expected {expected_error}",
                        tuple(observations),
                    )
                continue
            return CaseResult(False, f"block {position} rejected: {error}", tuple(observations))
        observations.append((("block", position), ("accepted", True)))
        if expected_error:
            return CaseResult(
                False,
                f"block {position} accepted, expected {expected_error}",
                tuple(observations),
            )
        state.apply(diff)
        parent = header
        block_hashes[hex_int(header["number"])] = hex_bytes(header["hash"])
    problem = compare_post_state(state, test["postState"])
    if problem is None and hex_bytes(parent["hash"]) != hex_bytes(test.get("lastblockhash")):
        problem = f"last block {parent['hash']} != lastblockhash {test.get('lastblockhash')}"
    return CaseResult(problem is None, problem or "", tuple(observations))
