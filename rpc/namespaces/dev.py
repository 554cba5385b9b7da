"""The dev namespaces: ``anvil_``, ``hardhat_`` and ``evm_`` methods.

Owns the handlers of every dev method anvil 1.7.1 answers, under the names anvil and
Hardhat accept (aliases registered together), with anvil's parameter forms: numbers
may be hex quantities, decimal strings or JSON numbers (anvil's ``deserialize_number``).
Each handler decodes its params and calls one ``Node`` verb; the semantics live in
the sequencer (``sequencer.node``, ``clock``, ``edits``, ``mining``).

Where anvil and Hardhat differ, anvil wins under the ``anvil_`` name and where the
name is shared, except: ``hardhat_mine`` spaces its blocks as Hardhat does (the first
at the usual time, each later one ``interval`` seconds after, default 1), and
``evm_setIntervalMining`` reads a value of 1000 or more (or a ``[min, max]`` pair) as
Hardhat's milliseconds and a smaller one as anvil's seconds (viem's anvil client sends
seconds, Hardhat's helpers milliseconds).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from rpc.codecs import (
    Codec,
    data,
    invalid,
    json_type,
    parse_address,
    parse_data,
    parse_quantity,
    quantity,
)
from rpc.dispatch import Address, Bool, Hash, RequestContext, method
from rpc.namespaces.eth import node_of
from rpc.namespaces.web3 import VERSION, client_version_of
from rpc.requests import parse_call_request
from rpc.serialize import block_json
from sequencer.errors import InvalidInput
from sequencer.mining import MiningMode
from sequencer.state_dump import StateDumpError, decode_dump, encode_dump_rpc
from sequencer.types.call import CallRequest

MAX_NUMBER_DIGITS: Final = 80  # 2**256 has 78 decimal digits
MAX_SET_CODE_BYTES: Final = 1 << 20
MAX_REORG_TRANSACTIONS: Final = 10_000


def parse_number(value: object, arg: int | None = None, *, bits: int = 256) -> int:
    """anvil's ``deserialize_number``: a hex quantity, a decimal string or a JSON number."""
    if isinstance(value, bool):
        raise invalid(arg, f"cannot unmarshal {json_type(value)} into a number")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and value[:2] in ("0x", "0X"):
        digits = value[2:]
        if not digits or len(digits) > (bits + 3) // 4 + 1:
            raise invalid(arg, f"invalid hex number {value[:80]!r}")
        try:
            n = int(digits, 16)
        except ValueError:
            raise invalid(arg, f"invalid hex number {value[:80]!r}") from None
    elif isinstance(value, str):
        if not value or len(value) > MAX_NUMBER_DIGITS or not value.isdigit():
            raise invalid(arg, f"invalid number {value[:80]!r}")
        n = int(value)
    else:
        raise invalid(arg, f"cannot unmarshal {json_type(value)} into a number")
    if n < 0 or n.bit_length() > bits:
        raise invalid(arg, f"number out of range: must be in 0..2**{bits}-1")
    return n


def _parse_u64(value: object, arg: int | None = None) -> int:
    return parse_number(value, arg, bits=64)


def _parse_code(value: object, arg: int | None = None) -> bytes:
    return parse_data(value, arg, max_bytes=MAX_SET_CODE_BYTES)


Number = Annotated[int, Codec(parse_number)]
U64 = Annotated[int, Codec(_parse_u64)]
Code = Annotated[bytes, Codec(_parse_code)]


# ------------------------------------------------------------------ mining


@method("anvil_getAutomine", "hardhat_getAutomine")
async def get_automine(ctx: RequestContext) -> bool:
    return node_of(ctx).mining_mode.auto


@method("anvil_setAutomine", "evm_setAutomine")
async def set_automine(ctx: RequestContext, enabled: Bool) -> None:
    node = node_of(ctx)
    mode = node.mining_mode
    # anvil: automine on replaces interval mining; off leaves the interval as it is. In
    # two-tier mode automine makes mini-blocks and the interval seals EVM blocks: it stays.
    keep = mode.interval if node.two_tier or not enabled else None
    await node.set_mining_mode(MiningMode(auto=enabled, interval=keep))


async def _set_interval(ctx: RequestContext, seconds: float | None) -> None:
    node = node_of(ctx)
    try:
        mode = MiningMode(auto=False, interval=seconds) if seconds else MiningMode(auto=False)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    await node.set_mining_mode(mode)


@method("anvil_setIntervalMining")
async def anvil_set_interval_mining(ctx: RequestContext, seconds: U64) -> None:
    """Seconds between blocks; 0 turns interval mining off (and automine stays off)."""
    await _set_interval(ctx, float(seconds))


@method("evm_setIntervalMining")
async def evm_set_interval_mining(ctx: RequestContext, interval: object) -> None:
    if isinstance(interval, list):  # Hardhat: a [min, max] range of milliseconds
        if len(interval) != 2:
            raise invalid(0, "interval range must be [min, max] milliseconds")
        low, high = (parse_number(v, 0, bits=64) for v in interval)
        if low > high:
            raise invalid(0, "interval range must be [min, max] with min <= max")
        await _set_interval(ctx, (low + high) / 2000)
        return
    value = parse_number(interval, 0, bits=64)
    await _set_interval(ctx, value / 1000 if value >= 1000 else float(value))


@method("anvil_getIntervalMining")
async def get_interval_mining(ctx: RequestContext) -> int | None:
    interval = node_of(ctx).mining_mode.interval
    return None if interval is None else round(interval)


@method("anvil_mine")
async def anvil_mine(
    ctx: RequestContext, blocks: Number | None = None, interval: Number | None = None
) -> None:
    node_of(ctx).mine(1 if blocks is None else blocks, interval)


@method("hardhat_mine")
async def hardhat_mine(
    ctx: RequestContext, blocks: Number | None = None, interval: Number | None = None
) -> None:
    # Hardhat's spacing, anvil's answer (null: anvil serves this name as an alias).
    node_of(ctx).mine_spaced(1 if blocks is None else blocks, 1 if interval is None else interval)


def _mine_options(options: object) -> tuple[int | None, int]:
    """evm_mine's optional parameter: a timestamp, or ``{timestamp, blocks}``."""
    if options is None:
        return None, 1
    if isinstance(options, dict):
        unknown = set(options) - {"timestamp", "blocks"}
        if unknown:
            raise invalid(0, f"unknown mine option {sorted(unknown)[0]!r}")
        timestamp = options.get("timestamp")
        blocks = options.get("blocks")
        return (
            None if timestamp is None else parse_number(timestamp, 0, bits=64),
            1 if blocks is None else parse_number(blocks, 0, bits=64),
        )
    return parse_number(options, 0, bits=64), 1


@method("evm_mine")
async def evm_mine(ctx: RequestContext, options: object = None) -> str:
    timestamp, blocks = _mine_options(options)
    node_of(ctx).mine_at(timestamp, blocks)
    return "0x0"


@method("anvil_mine_detailed", "evm_mine_detailed")
async def mine_detailed(ctx: RequestContext, options: object = None) -> list[dict[str, Any]]:
    timestamp, blocks = _mine_options(options)
    return [block_json(b, True) for b in node_of(ctx).mine_at(timestamp, blocks)]


# ------------------------------------------------------------------ time


@method("anvil_increaseTime", "evm_increaseTime")
async def increase_time(ctx: RequestContext, seconds: Number) -> int:
    """The total offset in seconds, as a JSON number (anvil)."""
    return node_of(ctx).increase_time(min(seconds, 2**63 - 1))


@method("anvil_setNextBlockTimestamp", "evm_setNextBlockTimestamp")
async def set_next_block_timestamp(ctx: RequestContext, timestamp: Number) -> None:
    node_of(ctx).set_next_block_timestamp(timestamp)


@method("anvil_setTime", "evm_setTime")
async def set_time(ctx: RequestContext, timestamp: Number) -> int:
    return node_of(ctx).set_time(timestamp)


@method("anvil_setBlockTimestampInterval")
async def set_block_timestamp_interval(ctx: RequestContext, seconds: U64) -> None:
    node_of(ctx).set_block_timestamp_interval(seconds)


@method("anvil_removeBlockTimestampInterval")
async def remove_block_timestamp_interval(ctx: RequestContext) -> bool:
    return node_of(ctx).remove_block_timestamp_interval()


@method("anvil_getGenesisTime")
async def genesis_time(ctx: RequestContext) -> int:
    return node_of(ctx).genesis_timestamp()


# ------------------------------------------------------------------ state edits


@method("anvil_setBalance", "hardhat_setBalance", "tenderly_setBalance")
async def set_balance(ctx: RequestContext, address: Address, balance: Number) -> None:
    node_of(ctx).edit_state(address, balance=balance)


@method("anvil_addBalance", "hardhat_addBalance", "tenderly_addBalance")
async def add_balance(ctx: RequestContext, address: Address, amount: Number) -> None:
    node_of(ctx).edit_state(address, add_balance=amount)


@method("anvil_setNonce", "hardhat_setNonce", "evm_setAccountNonce")
async def set_nonce(ctx: RequestContext, address: Address, nonce: Number) -> None:
    if nonce >= 2**64:
        raise invalid(1, "nonce must be below 2**64")
    node_of(ctx).edit_state(address, nonce=nonce)


@method("anvil_setCode", "hardhat_setCode")
async def set_code(ctx: RequestContext, address: Address, code: Code) -> None:
    node_of(ctx).edit_state(address, code=code)


@method("anvil_setStorageAt", "hardhat_setStorageAt")
async def set_storage_at(ctx: RequestContext, address: Address, slot: Number, value: Hash) -> bool:
    node_of(ctx).edit_state(address, storage=(slot, int.from_bytes(value, "big")))
    return True


@method("anvil_dumpState", "hardhat_dumpState")
async def dump_state(ctx: RequestContext, preserve_history: object = None) -> str:
    """``0x`` + gzip of anvil's state JSON (``sequencer.state_dump``)."""
    return encode_dump_rpc(node_of(ctx).dump_state())


@method("anvil_loadState", "hardhat_loadState")
async def load_state(ctx: RequestContext, dump: object) -> bool:
    if not isinstance(dump, str):
        raise invalid(0, f"cannot unmarshal {json_type(dump)} into hex bytes")
    try:
        parsed = decode_dump(dump)
    except StateDumpError as error:
        raise invalid(0, str(error)) from None
    node_of(ctx).load_state(parsed)
    return True


BALANCE_OF: Final = bytes.fromhex("70a08231")  # balanceOf(address)
ALLOWANCE: Final = bytes.fromhex("dd62ed3e")  # allowance(address,address)


def _word(address: bytes) -> bytes:
    return b"\x00" * 12 + address


@method("anvil_dealERC20", "hardhat_dealERC20", "anvil_setERC20Balance")
async def deal_erc20(ctx: RequestContext, owner: Address, token: Address, amount: Number) -> None:
    await node_of(ctx).deal_erc20(token, BALANCE_OF + _word(owner), amount)


@method("anvil_setERC20Allowance")
async def set_erc20_allowance(
    ctx: RequestContext, owner: Address, spender: Address, token: Address, amount: Number
) -> None:
    await node_of(ctx).deal_erc20(
        token, ALLOWANCE + _word(owner) + _word(spender), amount, "allowance"
    )


@method("anvil_impersonateSignature")
async def impersonate_signature(ctx: RequestContext, first: object, second: object = None) -> None:
    """``[signature, address]``, or anvil 1.7.1's own form ``[[signature, address]]``."""
    if second is None:
        if not isinstance(first, list) or len(first) != 2:
            raise invalid(0, "expected [signature, address]")
        first, second = first
    signature = parse_data(first, 0, length=65, type_name="signature")
    node_of(ctx).impersonate_signature(signature, parse_address(second, 1))


# ------------------------------------------------------------------ snapshots


@method("anvil_snapshot", "evm_snapshot")
async def snapshot(ctx: RequestContext) -> str:
    return quantity(node_of(ctx).snapshot())


@method("anvil_revert", "evm_revert")
async def revert(ctx: RequestContext, snapshot_id: Number) -> bool:
    return node_of(ctx).revert(snapshot_id)


@method("anvil_reorg")
async def reorg(ctx: RequestContext, options: object, pairs: object = None) -> None:
    """``[{depth, txBlockPairs}]`` or ``[depth, txBlockPairs]``; each pair is
    ``[raw transaction hex or request object, block index]``."""
    if isinstance(options, dict):
        unknown = set(options) - {"depth", "txBlockPairs", "tx_block_pairs"}
        if unknown:
            raise invalid(0, f"unknown reorg option {sorted(unknown)[0]!r}")
        depth = options.get("depth")
        pairs = options.get("txBlockPairs", options.get("tx_block_pairs", []))
    else:
        depth = options
    if depth is None:
        raise invalid(0, "missing depth")
    parsed_depth = parse_number(depth, 0, bits=64)
    if pairs is None:
        pairs = []
    if not isinstance(pairs, list) or len(pairs) > MAX_REORG_TRANSACTIONS:
        raise invalid(0, f"txBlockPairs must be a list of at most {MAX_REORG_TRANSACTIONS} pairs")
    parsed: list[tuple[CallRequest | bytes, int]] = []
    for pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2:
            raise invalid(0, "each txBlockPair must be [transaction, block index]")
        tx, index = pair
        item: CallRequest | bytes = (
            parse_call_request(tx, 0) if isinstance(tx, dict) else parse_data(tx, 0)
        )
        parsed.append((item, parse_number(index, 0, bits=64)))
    node_of(ctx).reorg(parsed_depth, parsed)


@method("anvil_rollback")
async def rollback(ctx: RequestContext, depth: U64 | None = None) -> None:
    node_of(ctx).rollback(1 if depth is None else depth)


# ------------------------------------------------------------------ accounts


@method("anvil_impersonateAccount", "hardhat_impersonateAccount")
async def impersonate(ctx: RequestContext, address: Address) -> None:
    node_of(ctx).impersonate(address)


@method("anvil_stopImpersonatingAccount", "hardhat_stopImpersonatingAccount")
async def stop_impersonating(ctx: RequestContext, address: Address) -> None:
    node_of(ctx).stop_impersonating(address)


@method("anvil_autoImpersonateAccount", "hardhat_autoImpersonateAccount")
async def auto_impersonate(ctx: RequestContext, enabled: Bool) -> None:
    node_of(ctx).set_auto_impersonate(enabled)


# ------------------------------------------------------------------ pool


@method("anvil_dropTransaction")
async def drop_transaction(ctx: RequestContext, tx_hash: Hash) -> str | None:
    """The dropped hash, or null if it was not waiting (anvil)."""
    return data(tx_hash) if node_of(ctx).drop_transaction(tx_hash) else None


@method("hardhat_dropTransaction")
async def hardhat_drop_transaction(ctx: RequestContext, tx_hash: Hash) -> bool:
    """Whether it was dropped: Hardhat's answer, which Hardhat 3's network helpers require
    (anvil serves this name as an alias of anvil_dropTransaction, answering the hash)."""
    return node_of(ctx).drop_transaction(tx_hash)


@method("anvil_reset", "hardhat_reset")
async def reset(ctx: RequestContext, options: object = None) -> None:
    """Without forking parameters: back to the chain the node was started as (its
    genesis, or the fork block it was started on: ``Node.reset_to_start``). With ``{"forking": {"jsonRpcUrl"?, "blockNumber"?}}``: start again
    as a fork of that URL (default: this fork's) at that block (default: the upstream's
    head), as Hardhat's and anvil's resets do (``Node.reset_to_fork``)."""
    node = node_of(ctx)
    if options is not None:
        if not isinstance(options, dict):
            raise invalid(0, f"cannot unmarshal {json_type(options)} into reset options")
        forking = options.get("forking")
        if forking is not None:
            if not isinstance(forking, dict):
                raise invalid(0, "forking must be an object")
            url = forking.get("jsonRpcUrl")
            if url is not None and (not isinstance(url, str) or not url or len(url) > 2048):
                raise invalid(0, "forking.jsonRpcUrl must be a non-empty string")
            number = forking.get("blockNumber")
            block_number = None if number is None else _fork_block_number(number)
            if url is not None or block_number is not None:
                await node.reset_to_fork(url, block_number)
                return
            # {"forking": {}} or null fields (Hardhat's network helpers send that on a
            # plain network): a plain reset.
    await node.reset_to_start()


def _fork_block_number(value: object) -> int:
    """``forking.blockNumber``: a JSON number (Hardhat) or a hex quantity (anvil)."""
    if isinstance(value, bool):
        raise invalid(0, "forking.blockNumber must be a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        number = parse_quantity(value, 0, bits=64)
    else:
        raise invalid(0, f"forking.blockNumber must be a number, got {json_type(value)}")
    if not 0 <= number < 1 << 63:
        raise invalid(0, "forking.blockNumber must be in 0..2^63-1")
    return number


@method("eth_sendUnsignedTransaction")
async def send_unsigned_transaction(ctx: RequestContext, request: object) -> str:
    parsed = parse_call_request(request, 0)
    if parsed.sender is None:
        raise invalid(0, "missing from address")
    return data(await node_of(ctx).send_unsigned_transaction(parsed))


@method("anvil_dropAllTransactions", "hardhat_dropAllTransactions")
async def drop_all_transactions(ctx: RequestContext) -> None:
    node_of(ctx).drop_all_transactions()


@method("anvil_removePoolTransactions")
async def remove_pool_transactions(ctx: RequestContext, address: Address) -> None:
    node_of(ctx).remove_pool_transactions(address)


# ------------------------------------------------------------------ block parameters


@method("anvil_setCoinbase", "hardhat_setCoinbase")
async def set_coinbase(ctx: RequestContext, address: Address) -> None:
    node_of(ctx).set_coinbase(address)


@method("anvil_setBlockGasLimit", "evm_setBlockGasLimit")
async def set_block_gas_limit(ctx: RequestContext, gas_limit: Number) -> bool:
    node_of(ctx).set_block_gas_limit(gas_limit)
    return True


@method("anvil_setNextBlockBaseFeePerGas", "hardhat_setNextBlockBaseFeePerGas")
async def set_next_block_base_fee(ctx: RequestContext, base_fee: Number) -> None:
    node_of(ctx).set_next_block_base_fee(base_fee)


@method("anvil_setNextBlockPrevRandao", "hardhat_setPrevRandao")
async def set_prev_randao(ctx: RequestContext, value: Hash) -> None:
    node_of(ctx).set_next_prev_randao(value)


@method("anvil_setMinGasPrice", "hardhat_setMinGasPrice")
async def set_min_gas_price(ctx: RequestContext, price: Number) -> None:
    # anvil and Hardhat both refuse it once EIP-1559 is active, which it always is here.
    raise InvalidInput("anvil_setMinGasPrice is not supported when EIP-1559 is active")


@method("anvil_setChainId")
async def set_chain_id(ctx: RequestContext, chain_id: U64) -> None:
    node_of(ctx).set_chain_id(chain_id)


@method("anvil_setLoggingEnabled", "hardhat_setLoggingEnabled")
async def set_logging_enabled(ctx: RequestContext, enabled: Bool) -> None:
    node_of(ctx).logging_enabled = enabled


@method("anvil_setRpcUrl")
async def set_rpc_url(ctx: RequestContext, url: object) -> None:
    """Fork mode: the upstream's URL from now on (same chain, same fork block)."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise invalid(0, "the RPC URL must be a non-empty string of at most 2048 characters")
    await node_of(ctx).set_fork_url(url)


# ------------------------------------------------------------------ information


@method("anvil_nodeInfo")
async def node_info(ctx: RequestContext) -> dict[str, Any]:
    node = node_of(ctx)
    head = node.block(node.head_number)
    assert head is not None
    env = node.pending_env()
    return {
        "currentBlockNumber": quantity(node.head_number),
        "currentBlockTimestamp": head.header.timestamp,
        "currentBlockHash": data(head.hash),
        "hardFork": node.config.chain.fork.name.lower(),
        "transactionOrder": "fifo",
        "environment": {
            "baseFee": quantity(env.base_fee),
            "chainId": node.config.chain.chain_id,
            "gasLimit": quantity(env.gas_limit),
            "gasPrice": quantity(node.gas_price()),
        },
        "forkConfig": (
            {"forkUrl": None, "forkBlockNumber": None, "forkRetryBackoff": None}
            if node.fork is None
            else {
                # Without its path and query, where API keys live.
                "forkUrl": node.fork.config.upstream.redacted_url,
                "forkBlockNumber": node.fork.point.number,
                "forkRetryBackoff": node.fork.config.upstream.retries,
            }
        ),
    }


@method("anvil_metadata", "hardhat_metadata")
async def metadata(ctx: RequestContext) -> dict[str, Any]:
    """anvil's shape, which Hardhat's ``hardhat_metadata`` readers (Ignition) accept."""
    node = node_of(ctx)
    head = node.block(node.head_number)
    assert head is not None
    return {
        "clientVersion": client_version_of(node),
        "clientSemver": VERSION,
        "clientCommitSha": f"hummingbird-v{VERSION}",
        "chainId": node.config.chain.chain_id,
        "instanceId": data(node.instance_id),
        "latestBlockNumber": node.head_number,
        "latestBlockHash": data(head.hash),
        "forkedNetwork": (
            None
            if node.fork is None
            else {
                "chainId": node.fork.point.chain_id,
                "forkBlockNumber": node.fork.point.number,
                "forkBlockHash": data(node.fork.point.hash),
            }
        ),
        "snapshots": {
            str(sid): [number, data(block_hash)]
            for sid, (number, block_hash) in node.snapshot_ids().items()
        },
    }
