"""The eth_ namespace: chain, state, simulation and transaction methods.

Owns the handlers of every eth_ method except filters/subscriptions
(``rpc.namespaces.filters``) and signing (``rpc.namespaces.sign``). Handlers
decode parameters (``rpc.dispatch``), ask the ``Node`` and shape the answer
(``rpc.serialize``); no chain logic lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Final, cast

from rpc.codecs import BlockId, data, parse_quantity, quantity
from rpc.dispatch import (
    Address,
    BlockIdParam,
    BlockNumberParam,
    Bool,
    Data,
    Hash,
    Quantity,
    RequestContext,
    StorageSlot,
    method,
)
from rpc.errors import InvalidParams
from rpc.requests import parse_block_overrides, parse_call_request, parse_state_overrides
from rpc.serialize import block_json, receipt_json, transaction_json
from sequencer.errors import NodeError, ResourceNotFound
from sequencer.megaeth import L1_RECEIPT_FIELDS, REALTIME_EXPIRED_CODE, REALTIME_EXPIRED_MESSAGE
from sequencer.node import Node
from sequencer.trie import EMPTY_TRIE_ROOT, secure_trie_root
from sequencer.types.blocks import MiniBlock
from sequencer.types.call import AccountOverride, BlockOverride, CallRequest
from statedb.types import EMPTY_CODE_HASH

MAX_FEE_HISTORY_BLOCKS: Final = 1024

LATEST = BlockId(tag="latest")
PENDING = BlockId(tag="pending")


def node_of(ctx: RequestContext) -> Node:
    node = ctx.node
    assert isinstance(node, Node)
    return node


def block_number(node: Node, block: BlockId) -> int:
    """The block a state read targets (``pending``: head + 1, the pending block; in
    two-tier mode ``latest`` too: the newest mini-block's state)."""
    return node.resolve(block.number, block.hash, block.tag, for_state=True)


def sealed_block_number(node: Node, block: BlockId) -> int:
    """The block a block read targets (``latest``: the newest sealed block)."""
    return node.resolve(block.number, block.hash, block.tag)


def receipts_of(node: Node, block: MiniBlock, indices: Iterable[int]) -> list[dict[str, Any]]:
    """The receipts of ``block``'s transactions ``indices`` as this node answers them:
    with the block's blob base fee (as anvil), and MegaETH's L1 fee fields (zero) in
    MegaETH mode."""
    fee = node.rules.blob_base_fee(block.header.excess_blob_gas)
    out = [receipt_json(block, index, fee) for index in indices]
    if node.config.megaeth:
        zero = quantity(0)
        for receipt in out:
            receipt.update(dict.fromkeys(L1_RECEIPT_FIELDS, zero))
    return out


def receipt_of(node: Node, block: MiniBlock, index: int) -> dict[str, Any]:
    (receipt,) = receipts_of(node, block, (index,))
    return receipt


def _block_or_none(node: Node, block: BlockId) -> MiniBlock | None:
    if block.hash is not None:
        return node.block_by_hash(block.hash)
    if block.number is not None:
        return node.block(block.number) if block.number <= node.head_number else None
    if block.tag == "pending":
        # MegaETH mode: null, as MegaETH answers it (its pending state is the mini-blocks').
        return None if node.config.megaeth else node.pending_block()
    return node.block(0 if block.tag == "earliest" else node.head_number)


# A fork's blocks up to the fork block are the upstream's: reads of them go there.
LOCAL: Final = object()


async def upstream_block(node: Node, method: str, block: BlockId, rest: list[Any]) -> Any:
    """Fork mode: the upstream's answer to ``method`` for ``block`` when it is the fork
    block or older (by number, ``earliest``, or a hash this chain did not seal);
    ``LOCAL`` when this chain answers."""
    fork = node.fork_number
    if fork is None:
        return LOCAL
    if block.hash is not None:
        local = node.block_by_hash(block.hash)
        if local is not None and local.number > fork:
            return LOCAL
        return await node.upstream_history(method, [data(block.hash), *rest])
    if block.number is not None:
        if block.number > fork:
            return LOCAL
        return await node.upstream_history(method, [quantity(block.number), *rest])
    if block.tag == "earliest":
        return await node.upstream_history(method, ["0x0", *rest])
    return LOCAL


# ------------------------------------------------------------------ chain info


@method("eth_chainId")
async def chain_id(ctx: RequestContext) -> str:
    return quantity(node_of(ctx).config.chain.chain_id)


@method("eth_blockNumber")
async def block_number_(ctx: RequestContext) -> str:
    return quantity(node_of(ctx).head_number)


@method("eth_syncing")
async def syncing(ctx: RequestContext) -> bool:
    return False


@method("eth_mining")
async def mining(ctx: RequestContext) -> bool:
    return node_of(ctx).automine


@method("eth_hashrate")
async def hashrate(ctx: RequestContext) -> str:
    return "0x0"


@method("eth_coinbase")
async def coinbase(ctx: RequestContext) -> str:
    return data(node_of(ctx).config.chain.coinbase)


@method("eth_accounts", "eth_requestAccounts")
async def accounts(ctx: RequestContext) -> list[str]:
    return [data(a.address) for a in node_of(ctx).accounts]


@method("eth_gasPrice")
async def gas_price(ctx: RequestContext) -> str:
    return quantity(node_of(ctx).gas_price())


@method("eth_maxPriorityFeePerGas")
async def max_priority_fee(ctx: RequestContext) -> str:
    return quantity(node_of(ctx).priority_fee)


@method("eth_blobBaseFee")
async def blob_base_fee(ctx: RequestContext) -> str:
    return quantity(node_of(ctx).pending_env().blob_base_fee)


def _parse_block_count(value: object) -> int:
    # geth takes a hex quantity or a decimal number (math.HexOrDecimal64).
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and value.isdecimal() and len(value) < 20:
        count = int(value)
    else:
        count = parse_quantity(value, 0, bits=64)
    if count < 0:
        raise InvalidParams("invalid argument 0: block count must not be negative")
    return count


@method("eth_feeHistory")
async def fee_history(
    ctx: RequestContext,
    block_count: object,
    newest: BlockNumberParam,
    percentiles: list[Any] | None = None,
) -> dict[str, Any]:
    node = node_of(ctx)
    count = min(_parse_block_count(block_count), MAX_FEE_HISTORY_BLOCKS)
    rewards: list[float] = []
    for p in percentiles or []:
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100:
            raise InvalidParams(f"invalid argument 2: invalid reward percentile {p!r}")
        if rewards and p < rewards[-1]:
            raise InvalidParams("invalid argument 2: reward percentiles must be ascending")
        rewards.append(float(p))
    head = node.head_number
    last = head if newest.number is None else min(newest.number, head)
    if newest.tag == "earliest":
        last = 0
    if count == 0:
        return {"oldestBlock": quantity(0), "baseFeePerGas": [], "gasUsedRatio": []}
    # A fork's history starts at its fork block: fewer blocks than asked, as geth answers
    # a range reaching past genesis.
    first = max(node.genesis_number, last - count + 1)
    last = max(last, first)
    base_fees, ratios, blob_fees, blob_ratios, reward_rows = [], [], [], [], []
    rules = node.rules
    for number in range(first, last + 1):
        block = node.block(number)
        if block is None:
            raise ResourceNotFound(f"block {number} not found")
        h = block.header
        base_fees.append(quantity(h.base_fee_per_gas))
        ratios.append(h.gas_used / h.gas_limit if h.gas_limit else 0.0)
        blob_fees.append(quantity(rules.blob_base_fee(h.excess_blob_gas)))
        max_blob = rules.max_blob_gas_per_block
        blob_ratios.append(h.blob_gas_used / max_blob if max_blob else 0.0)
        if rewards:
            reward_rows.append([quantity(r) for r in _rewards(block, rewards)])
    env = node.pending_env()
    base_fees.append(quantity(env.base_fee))
    blob_fees.append(quantity(env.blob_base_fee))
    out: dict[str, Any] = {
        "oldestBlock": quantity(first),
        "baseFeePerGas": base_fees,
        "gasUsedRatio": ratios,
        "baseFeePerBlobGas": blob_fees,
        "blobGasUsedRatio": blob_ratios,
    }
    if rewards:
        out["reward"] = reward_rows
    return out


def _rewards(block: MiniBlock, percentiles: list[float]) -> list[int]:
    """geth's effective-tip percentiles weighted by gas used."""
    base = block.header.base_fee_per_gas
    if not block.transactions:
        return [0] * len(percentiles)
    tips = sorted((r.effective_gas_price - base, r.gas_used) for r in block.receipts)
    total = sum(gas for _, gas in tips)
    out = []
    index, cumulative = 0, tips[0][1]
    for p in percentiles:
        threshold = total * p / 100
        while cumulative < threshold and index < len(tips) - 1:
            index += 1
            cumulative += tips[index][1]
        out.append(tips[index][0])
    return out


# ------------------------------------------------------------------ state


@method("eth_getAccountInfo")
async def get_account_info(
    ctx: RequestContext, address: Address, block: BlockIdParam = LATEST
) -> dict[str, str]:
    node = node_of(ctx)
    number = block_number(node, block)
    account = node.account(address, number)
    return {
        "balance": quantity(account.balance if account else 0),
        "nonce": quantity(account.nonce if account else 0),
        "code": data(node.code(address, number)),
    }


@method("eth_getBalance")
async def get_balance(ctx: RequestContext, address: Address, block: BlockIdParam = LATEST) -> str:
    node = node_of(ctx)
    account = node.account(address, block_number(node, block))
    return quantity(account.balance if account else 0)


@method("eth_getTransactionCount")
async def get_transaction_count(
    ctx: RequestContext, address: Address, block: BlockIdParam = LATEST
) -> str:
    node = node_of(ctx)
    if block.tag == "pending":
        return quantity(node.pending_nonce(address))
    account = node.account(address, block_number(node, block))
    return quantity(account.nonce if account else 0)


@method("eth_getCode")
async def get_code(ctx: RequestContext, address: Address, block: BlockIdParam = LATEST) -> str:
    node = node_of(ctx)
    return data(node.code(address, block_number(node, block)))


@method("eth_getStorageAt")
async def get_storage_at(
    ctx: RequestContext, address: Address, slot: StorageSlot, block: BlockIdParam = LATEST
) -> str:
    node = node_of(ctx)
    return data(node.storage(address, slot, block_number(node, block)).to_bytes(32, "big"))


@method("eth_getAccount")
async def get_account(
    ctx: RequestContext, address: Address, block: BlockIdParam = LATEST
) -> dict[str, str]:
    node = node_of(ctx)
    number = block_number(node, block)
    state = node.state_at(number)
    account = state.get_account(address)
    storage_root = EMPTY_TRIE_ROOT
    if account is not None and state.account_has_storage(address):
        storage_root = secure_trie_root(
            {slot: state.get_storage(address, slot) for slot in state.storage_slots(address)}
        )
    return {
        "balance": quantity(account.balance if account else 0),
        "nonce": quantity(account.nonce if account else 0),
        "codeHash": data(account.code_hash if account else EMPTY_CODE_HASH),
        "storageRoot": data(storage_root),
    }


# ------------------------------------------------------------------ simulation


def simulation_args(
    node: Node, request: object, block: BlockId, state_overrides: object, block_overrides: object
) -> tuple[CallRequest, int, dict[bytes, AccountOverride] | None, BlockOverride | None]:
    """The four arguments eth_call, eth_estimateGas and eth_createAccessList share."""
    return (
        parse_call_request(request, 0),
        block_number(node, block),
        parse_state_overrides(state_overrides, 2),
        parse_block_overrides(block_overrides, 3),
    )


@method("eth_call")
async def call(
    ctx: RequestContext,
    request: object,
    block: BlockIdParam = LATEST,
    state_overrides: object = None,
    block_overrides: object = None,
) -> str:
    node = node_of(ctx)
    return data(
        await node.call(*simulation_args(node, request, block, state_overrides, block_overrides))
    )


@method("eth_estimateGas")
async def estimate_gas(
    ctx: RequestContext,
    request: object,
    # anvil's default: the block the transaction will land in (its coinbase, gas limit,
    # base fee and timestamp, which the dev methods may have set), not the head.
    block: BlockIdParam = PENDING,
    state_overrides: object = None,
    block_overrides: object = None,
) -> str:
    node = node_of(ctx)
    args = simulation_args(node, request, block, state_overrides, block_overrides)
    return quantity(await node.estimate_gas(*args))


@method("eth_createAccessList")
async def create_access_list(
    ctx: RequestContext,
    request: object,
    block: BlockIdParam = LATEST,
    state_overrides: object = None,
    block_overrides: object = None,
) -> dict[str, Any]:
    node = node_of(ctx)
    access_list, gas_used, error = await node.create_access_list(
        *simulation_args(node, request, block, state_overrides, block_overrides)
    )
    out: dict[str, Any] = {
        "accessList": [
            {"address": data(a), "storageKeys": [data(s.to_bytes(32, "big")) for s in slots]}
            for a, slots in access_list
        ],
        "gasUsed": quantity(gas_used),
    }
    if error is not None:
        out["error"] = error
    return out


# ------------------------------------------------------------------ sending


@method("eth_sendRawTransaction")
async def send_raw_transaction(ctx: RequestContext, raw: Data) -> str:
    return data(await node_of(ctx).send_raw_transaction(raw))


@method("eth_sendTransaction")
async def send_transaction(ctx: RequestContext, request: object) -> str:
    return data(await node_of(ctx).send_transaction(parse_call_request(request, 0)))


@method("eth_fillTransaction")
async def fill_transaction(ctx: RequestContext, request: object) -> dict[str, Any]:
    """anvil's answer: ``raw`` (the filled transaction's encoding with a placeholder
    signature; sign the ``tx`` fields to send it) and ``tx``. ``from`` defaults to the
    first dev account, as anvil's does."""
    node = node_of(ctx)
    parsed = parse_call_request(request, 0)
    if parsed.sender is None:
        if not node.accounts:
            raise NodeError("no signer available: pass from")
        parsed = replace(parsed, sender=node.accounts[0].address)
    tx = await node.fill_unsigned(parsed)
    return {"raw": data(tx.encode()), "tx": transaction_json(tx, None, None)}


def _sync_timeout(node: Node, value: object) -> float:
    """EIP-7966's timeout in milliseconds: a hex quantity or a decimal number (viem sends
    hex, others decimal); absent, the node's ``--txsync-timeout``; at most
    ``--txsync-max``."""
    config = node.config
    if value is None:
        return config.txsync_timeout
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    elif isinstance(value, str) and value.isdecimal() and len(value) <= 12:
        ms = int(value)
    else:
        ms = parse_quantity(value, 1, bits=64)
    most = round(config.txsync_max * 1000)
    if not 0 < ms <= most:
        raise InvalidParams(f"invalid argument 1: timeout must be in 1..{most} milliseconds")
    return ms / 1000


async def _receipt_after(node: Node, tx_hash: bytes, timeout: float) -> dict[str, Any]:
    """The receipt once mined (EIP-7966); code 5 with the expected nonce at once for a
    transaction that waits behind a nonce gap; code 4 with the hash on timeout."""
    waiting = node.pool_transaction(tx_hash)
    if waiting is not None:
        expected = node.pending_nonce(waiting.sender)
        if waiting.nonce > expected:
            raise NodeError(
                f"transaction 0x{tx_hash.hex()} cannot run yet: nonce {waiting.nonce}, "
                f"expected {expected}",
                code=5,
                data=quantity(expected),
            )
    if not await node.wait_for_receipt(tx_hash, timeout):
        if node.config.megaeth:
            raise NodeError(REALTIME_EXPIRED_MESSAGE, code=REALTIME_EXPIRED_CODE)
        raise NodeError(
            f"transaction 0x{tx_hash.hex()} was not included within {timeout * 1000:.0f} ms",
            code=4,
            data=data(tx_hash),
        )
    found = node.locate_transaction(tx_hash)
    assert found is not None
    block, index = found
    return receipt_of(node, block, index)


@method("eth_sendRawTransactionSync", "realtime_sendRawTransaction")
async def send_raw_transaction_sync(
    ctx: RequestContext, raw: Data, timeout: object = None
) -> dict[str, Any]:
    """EIP-7966, and MegaETH's realtime_sendRawTransaction (the same handler)."""
    node = node_of(ctx)
    seconds = _sync_timeout(node, timeout)
    tx_hash = await node.send_raw_transaction(raw)
    return await _receipt_after(node, tx_hash, seconds)


@method("eth_sendTransactionSync")
async def send_transaction_sync(
    ctx: RequestContext, request: object, timeout: object = None
) -> dict[str, Any]:
    node = node_of(ctx)
    seconds = _sync_timeout(node, timeout)
    tx_hash = await node.send_transaction(parse_call_request(request, 0))
    return await _receipt_after(node, tx_hash, seconds)


# ------------------------------------------------------------------ blocks


@method("eth_getBlockByNumber")
async def get_block_by_number(
    ctx: RequestContext, block: BlockNumberParam, full: Bool = False
) -> dict[str, Any] | None:
    node = node_of(ctx)
    upstream = await upstream_block(node, "eth_getBlockByNumber", block, [full])
    if upstream is not LOCAL:
        return cast("dict[str, Any] | None", upstream)
    found = _block_or_none(node, block)
    if found is None:
        return None
    out = block_json(found, full)
    if block.tag == "pending":
        # geth: a pending block has no hash, nonce or miner yet.
        out.update(hash=None, nonce=None, miner=None)
    return out


@method("eth_getBlockByHash")
async def get_block_by_hash(
    ctx: RequestContext, block_hash: Hash, full: Bool = False
) -> dict[str, Any] | None:
    node = node_of(ctx)
    upstream = await upstream_block(node, "eth_getBlockByHash", BlockId(hash=block_hash), [full])
    if upstream is not LOCAL:
        return cast("dict[str, Any] | None", upstream)
    found = node.block_by_hash(block_hash)
    return None if found is None else block_json(found, full)


@method("eth_getBlockReceipts")
async def get_block_receipts(
    ctx: RequestContext, block: BlockIdParam
) -> list[dict[str, Any]] | None:
    node = node_of(ctx)
    upstream = await upstream_block(node, "eth_getBlockReceipts", block, [])
    if upstream is not LOCAL:
        return cast("list[dict[str, Any]] | None", upstream)
    found = _block_or_none(node, block)
    if found is None:
        return None
    return receipts_of(node, found, range(len(found.transactions)))


@method("eth_getBlockTransactionCountByHash")
async def tx_count_by_hash(ctx: RequestContext, block_hash: Hash) -> str | None:
    node = node_of(ctx)
    method = "eth_getBlockTransactionCountByHash"
    upstream = await upstream_block(node, method, BlockId(hash=block_hash), [])
    if upstream is not LOCAL:
        return cast("str | None", upstream)
    found = node.block_by_hash(block_hash)
    return None if found is None else quantity(len(found.transactions))


@method("eth_getBlockTransactionCountByNumber")
async def tx_count_by_number(ctx: RequestContext, block: BlockNumberParam) -> str | None:
    node = node_of(ctx)
    upstream = await upstream_block(node, "eth_getBlockTransactionCountByNumber", block, [])
    if upstream is not LOCAL:
        return cast("str | None", upstream)
    found = _block_or_none(node, block)
    return None if found is None else quantity(len(found.transactions))


@method("eth_getUncleCountByBlockHash")
async def uncle_count_by_hash(ctx: RequestContext, block_hash: Hash) -> str | None:
    return None if node_of(ctx).block_by_hash(block_hash) is None else "0x0"


@method("eth_getUncleCountByBlockNumber")
async def uncle_count_by_number(ctx: RequestContext, block: BlockNumberParam) -> str | None:
    return None if _block_or_none(node_of(ctx), block) is None else "0x0"


@method("eth_getUncleByBlockHashAndIndex")
async def uncle_by_hash(ctx: RequestContext, block_hash: Hash, index: Quantity) -> None:
    return None


@method("eth_getUncleByBlockNumberAndIndex")
async def uncle_by_number(ctx: RequestContext, block: BlockNumberParam, index: Quantity) -> None:
    return None


# ------------------------------------------------------------------ transactions


@method("eth_getTransactionByHash")
async def get_transaction_by_hash(ctx: RequestContext, tx_hash: Hash) -> dict[str, Any] | None:
    node = node_of(ctx)
    found = node.locate_transaction(tx_hash)
    if found is not None:
        block, index = found
        return transaction_json(block.transactions[index], block, index)
    pending = node.pool_transaction(tx_hash)
    if pending is None:
        return await node.upstream_transaction("eth_getTransactionByHash", tx_hash)
    return transaction_json(pending, None, None)


@method("eth_getRawTransactionByHash")
async def get_raw_transaction_by_hash(ctx: RequestContext, tx_hash: Hash) -> str | None:
    node = node_of(ctx)
    found = node.locate_transaction(tx_hash)
    tx = found[0].transactions[found[1]] if found is not None else node.pool_transaction(tx_hash)
    return None if tx is None else data(tx.encode())


def _tx_at(block: MiniBlock | None, index: int) -> dict[str, Any] | None:
    if block is None or not 0 <= index < len(block.transactions):
        return None
    return transaction_json(block.transactions[index], block, index)


@method("eth_getTransactionByBlockHashAndIndex")
async def tx_by_hash_and_index(
    ctx: RequestContext, block_hash: Hash, index: Quantity
) -> dict[str, Any] | None:
    node = node_of(ctx)
    method = "eth_getTransactionByBlockHashAndIndex"
    upstream = await upstream_block(node, method, BlockId(hash=block_hash), [quantity(index)])
    if upstream is not LOCAL:
        return cast("dict[str, Any] | None", upstream)
    return _tx_at(node.block_by_hash(block_hash), index)


@method("eth_getTransactionByBlockNumberAndIndex")
async def tx_by_number_and_index(
    ctx: RequestContext, block: BlockNumberParam, index: Quantity
) -> dict[str, Any] | None:
    node = node_of(ctx)
    method = "eth_getTransactionByBlockNumberAndIndex"
    upstream = await upstream_block(node, method, block, [quantity(index)])
    if upstream is not LOCAL:
        return cast("dict[str, Any] | None", upstream)
    return _tx_at(_block_or_none(node, block), index)


@method("eth_getTransactionReceipt")
async def get_transaction_receipt(ctx: RequestContext, tx_hash: Hash) -> dict[str, Any] | None:
    node = node_of(ctx)
    found = node.locate_transaction(tx_hash)
    if found is None:
        return await node.upstream_transaction("eth_getTransactionReceipt", tx_hash)
    block, index = found
    return receipt_of(node, block, index)


@method("eth_pendingTransactions")
async def pending_transactions(ctx: RequestContext) -> list[dict[str, Any]]:
    return [transaction_json(tx, None, None) for tx in node_of(ctx).pool]
